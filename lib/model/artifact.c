/*
 * artifact.c - a trained model as bytes, and back (see sf_model_save /
 * sf_model_load in satisfy/model.h, docs/model.md "Artifact").
 *
 * Layout: a 96-byte header, then the body.
 *   0  "SFMODEL\0"            magic
 *   8  u32 format version (2; 1 = trees as XGBoost UBJSON, read only trusted)
 *   12 u32 flags (bit 0: body is zlib-compressed)
 *   16 char[8] algorithm ("gbdt", "ridge"; NUL-padded)
 *   24 char[8] feature spec name
 *   32 char[16] feature spec hash (hex)
 *   48 u64 body length (uncompressed)
 *   56 u64 stored body length
 *   64 sha256 over bytes [0, 64) and the stored body
 * All integers little-endian. The body is a list of sections, each a 4-byte
 * tag, a u32 length and the bytes: INFO (JSON: what training chose and
 * measured, calibration, window), PARM (params JSON), METR (metrics JSON),
 * TRES / TREP (our forest sections of the score and probability models,
 * trees.c), LINS / LINP (ridge and logistic coefficients with
 * standardisation), HIST (history snapshot); format 1 had XGBS / XGBP
 * (XGBoost UBJSON) instead of TRES / TREP. The body is compressed when it is
 * over 16 KiB; a release must fit Kafka's 1 MB message limit.
 *
 * An artifact is untrusted input (a release from Kafka, checksummed but not
 * authenticated): loading bounds inflation before allocating, checks every
 * section and number, never hands a byte to XGBoost (a format 1 gbdt
 * artifact is refused, or converted by sf_model_load_trusted for the
 * retrainer's own registry), and probes the model before returning it.
 */
#include "model_impl.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HDR_LEN      96
#define SUM_OFF      64
#define FORMAT       2
#define COMPRESS_MIN (16 * 1024)

static const char magic[8] = "SFMODEL";

void sf_sha256_hex(const uint8_t *buf, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void sha256_two(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                       unsigned char md[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, a, alen);
    EVP_DigestUpdate(c, b, blen);
    EVP_DigestFinal_ex(c, md, &n);
    EVP_MD_CTX_free(c);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

typedef struct body {
    uint8_t *p;
    size_t n, cap;
    int failed;
} body;

static void add_section(body *b, const char tag[4], const void *data, size_t len)
{
    if (b->failed)
        return;
    if (len > UINT32_MAX) {
        b->failed = 1;
        return;
    }
    size_t need = b->n + 8 + len;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, tag, 4);
    put_u32(b->p + b->n + 4, (uint32_t)len);
    if (len)
        memcpy(b->p + b->n + 8, data, len);
    b->n = need;
}

static void add_json(body *b, const char tag[4], cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (!s)
        b->failed = 1;
    else
        add_section(b, tag, s, strlen(s));
    free(s);
    cJSON_Delete(o);
}

/* A double as JSON text that reads back to the same bits (cJSON prints 15
 * digits when they come within an epsilon, which changes the last bit of
 * some values, and so a loaded model's p); null when not finite. */
static void add_exact(cJSON *o, const char *k, double v)
{
    char t[32];
    if (!isfinite(v)) {
        cJSON_AddNullToObject(o, k);
        return;
    }
    snprintf(t, sizeof t, "%.17g", v);
    cJSON_AddRawToObject(o, k, t);
}

static cJSON *info_json(const sf_model *m)
{
    const sf_model_info *in = &m->info;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "rounds", in->rounds);
    if (!isnan(in->lambda))
        add_exact(o, "lambda", in->lambda);
    cJSON_AddStringToObject(o, "prob", in->prob == SF_PROB_OBJECTIVE ? "objective" : "calibration");
    if (!isnan(in->auc_objective))
        add_exact(o, "auc_objective", in->auc_objective);
    if (!isnan(in->auc_calibration))
        add_exact(o, "auc_calibration", in->auc_calibration);
    if (!isnan(in->valid_rmse))
        add_exact(o, "valid_rmse", in->valid_rmse);
    cJSON_AddNumberToObject(o, "n_train", (double)in->n_train);
    cJSON_AddNumberToObject(o, "n_valid", (double)in->n_valid);
    cJSON_AddNumberToObject(o, "train_from", (double)in->train_from);
    cJSON_AddNumberToObject(o, "train_to", (double)in->train_to);
    add_exact(o, "train_seconds", in->train_seconds);
    add_exact(o, "cal_a", m->cal_a);
    add_exact(o, "cal_b", m->cal_b);
    return o;
}

int sf_model_save(const sf_model *m, uint8_t **buf, size_t *len, sf_err *err)
{
    body b = {0};
    add_json(&b, "INFO", info_json(m));
    char *pj = sf_model_params_json(&m->params);
    if (!pj)
        b.failed = 1;
    else
        add_section(&b, "PARM", pj, strlen(pj));
    free(pj);
    if (m->metrics_json)
        add_section(&b, "METR", m->metrics_json, strlen(m->metrics_json));
    if (m->tres)
        add_section(&b, "TRES", m->tres, m->tres_len);
    if (m->tres_p)
        add_section(&b, "TREP", m->tres_p, m->tres_p_len);
    uint8_t *lb;
    size_t ll;
    if (m->lin) {
        if (sf_linear_save(m->lin, &lb, &ll) < 0)
            b.failed = 1;
        else {
            add_section(&b, "LINS", lb, ll);
            free(lb);
        }
    }
    if (m->lin_p) {
        if (sf_linear_save(m->lin_p, &lb, &ll) < 0)
            b.failed = 1;
        else {
            add_section(&b, "LINP", lb, ll);
            free(lb);
        }
    }
    if (m->hist) {
        sf_err herr;
        if (sf_history_save(m->hist, &lb, &ll, &herr) < 0)
            b.failed = 1;
        else {
            add_section(&b, "HIST", lb, ll);
            free(lb);
        }
    }
    if (b.failed) {
        free(b.p);
        return sf_errf(err, "saving model: out of memory");
    }
    uint32_t flags = 0;
    uint8_t *stored = b.p;
    size_t stored_len = b.n;
    uint8_t *z = NULL;
    if (b.n > COMPRESS_MIN) {
        uLongf zl = compressBound(b.n);
        z = malloc(zl);
        if (z && compress2(z, &zl, b.p, b.n, 9) == Z_OK && zl < b.n) {
            stored = z;
            stored_len = zl;
            flags |= 1;
        }
    }
    uint8_t *out = malloc(HDR_LEN + stored_len);
    if (!out) {
        free(b.p);
        free(z);
        return sf_errf(err, "saving model: out of memory");
    }
    memset(out, 0, HDR_LEN);
    memcpy(out, magic, 8);
    put_u32(out + 8, FORMAT);
    put_u32(out + 12, flags);
    strncpy((char *)out + 16, sf_algo_name(m->info.algo), 8);
    strncpy((char *)out + 24, m->info.spec->name, 8);
    memcpy(out + 32, m->info.spec_hash, 16);
    put_u64(out + 48, b.n);
    put_u64(out + 56, stored_len);
    memcpy(out + HDR_LEN, stored, stored_len);
    sha256_two(out, SUM_OFF, out + HDR_LEN, stored_len, out + SUM_OFF);
    free(b.p);
    free(z);
    *buf = out;
    *len = HDR_LEN + stored_len;
    return 0;
}

/* A copy of a fixed-width header text field as a C string. */
static void field(const uint8_t *p, size_t w, char *out)
{
    memcpy(out, p, w);
    out[w] = 0;
}

/* Member k of the JSON object o (section sec) as a number in [lo, hi]:
 * dflt when absent or null (older writers left out unknown values); an
 * error for anything else (not a number, not finite, out of range), so no
 * NaN, infinity or unrepresentable integer gets into the model. */
static int jnum(const cJSON *o, const char *sec, const char *k, double dflt, double lo, double hi,
                double *out, sf_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!j || cJSON_IsNull(j)) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(j))
        return sf_errf(err, "model artifact: %s %s is not a number", sec, k);
    if (!(j->valuedouble >= lo && j->valuedouble <= hi))
        return sf_errf(err, "model artifact: %s %s = %g is out of range [%g, %g]", sec, k,
                       j->valuedouble, lo, hi);
    *out = j->valuedouble;
    return 0;
}

/* The same for an int member (stored into *out only when valid). */
static int jint(const cJSON *o, const char *sec, const char *k, int *out, int hi, sf_err *err)
{
    double v = 0;
    if (jnum(o, sec, k, *out, 0, hi, &v, err) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

#define I64_LO (-9223372036854775808.0) /* INT64_MIN, exactly */
#define I64_HI (9223372036854774784.0)  /* the largest double below 2^63 */
#define EXACT  (9007199254740992.0)     /* 2^53 */

static int read_info(sf_model *m, const uint8_t *p, size_t n, sf_err *err)
{
    cJSON *o = cJSON_ParseWithLength((const char *)p, n);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return sf_errf(err, "model artifact: corrupt INFO section");
    }
    sf_model_info *in = &m->info;
    double nt = 0, nv = 0, from = 0, to = 0;
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "prob");
    int rc = -1;
    if (pr && !(cJSON_IsString(pr) && (strcmp(pr->valuestring, "objective") == 0 ||
                                       strcmp(pr->valuestring, "calibration") == 0))) {
        sf_errf(err, "model artifact: INFO prob is not \"objective\" or \"calibration\"");
        goto out;
    }
    in->prob =
        pr && strcmp(pr->valuestring, "objective") == 0 ? SF_PROB_OBJECTIVE : SF_PROB_CALIBRATION;
    if (in->prob == SF_PROB_CALIBRATION && (!cJSON_IsNumber(cJSON_GetObjectItem(o, "cal_a")) ||
                                            !cJSON_IsNumber(cJSON_GetObjectItem(o, "cal_b")))) {
        sf_errf(err, "model artifact: INFO has no calibration (cal_a, cal_b) for its p");
        goto out;
    }
    if (jint(o, "INFO", "rounds", &in->rounds, SF_FOREST_MAX_TREES, err) < 0 ||
        jnum(o, "INFO", "lambda", NAN, 0, DBL_MAX, &in->lambda, err) < 0 ||
        jnum(o, "INFO", "auc_objective", NAN, 0, 1, &in->auc_objective, err) < 0 ||
        jnum(o, "INFO", "auc_calibration", NAN, 0, 1, &in->auc_calibration, err) < 0 ||
        jnum(o, "INFO", "valid_rmse", NAN, 0, DBL_MAX, &in->valid_rmse, err) < 0 ||
        jnum(o, "INFO", "n_train", 0, 0, EXACT, &nt, err) < 0 ||
        jnum(o, "INFO", "n_valid", 0, 0, EXACT, &nv, err) < 0 ||
        jnum(o, "INFO", "train_from", I64_LO, I64_LO, I64_HI, &from, err) < 0 ||
        jnum(o, "INFO", "train_to", I64_LO, I64_LO, I64_HI, &to, err) < 0 ||
        jnum(o, "INFO", "train_seconds", 0, 0, DBL_MAX, &in->train_seconds, err) < 0 ||
        jnum(o, "INFO", "cal_a", 0, -DBL_MAX, DBL_MAX, &m->cal_a, err) < 0 ||
        jnum(o, "INFO", "cal_b", 0, -DBL_MAX, DBL_MAX, &m->cal_b, err) < 0)
        goto out;
    in->n_train = (size_t)nt;
    in->n_valid = (size_t)nv;
    in->train_from = (int64_t)from;
    in->train_to = (int64_t)to;
    rc = 0;
out:
    cJSON_Delete(o);
    return rc;
}

static int read_params(sf_model *m, const uint8_t *p, size_t n, sf_err *err)
{
    cJSON *o = cJSON_ParseWithLength((const char *)p, n);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return sf_errf(err, "model artifact: corrupt PARM section");
    }
    sf_model_params *q = &m->params;
    sf_model_params_default(q);
    double seed = 0, num[6] = {q->eta,       q->min_child_weight, q->subsample,
                               q->colsample, q->reg_lambda,       q->valid_frac};
    static const char *const names[6] = {
        "eta", "min_child_weight", "subsample", "colsample_bytree", "reg_lambda", "valid_frac"};
    int rc = -1;
    if (jint(o, "PARM", "nthread", &q->nthread, 65536, err) < 0 ||
        jint(o, "PARM", "max_depth", &q->max_depth, 1024, err) < 0 ||
        jint(o, "PARM", "rounds", &q->rounds, SF_FOREST_MAX_TREES, err) < 0 ||
        jint(o, "PARM", "early_stopping", &q->early_stopping, SF_FOREST_MAX_TREES, err) < 0 ||
        jint(o, "PARM", "max_bin", &q->max_bin, 1 << 24, err) < 0 ||
        jnum(o, "PARM", "seed", (double)q->seed, 0, EXACT, &seed, err) < 0)
        goto out;
    for (int i = 0; i < 6; i++)
        if (jnum(o, "PARM", names[i], num[i], 0, DBL_MAX, &num[i], err) < 0)
            goto out;
    q->seed = (uint64_t)seed;
    q->eta = num[0], q->min_child_weight = num[1], q->subsample = num[2];
    q->colsample = num[3], q->reg_lambda = num[4], q->valid_frac = num[5];
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "lambdas");
    q->n_lambdas = 0;
    for (const cJSON *e = cJSON_IsArray(g) ? g->child : NULL; e && q->n_lambdas < 16; e = e->next) {
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0 && e->valuedouble <= DBL_MAX)) {
            sf_errf(err, "model artifact: PARM lambdas holds a value that is not a number >= 0");
            goto out;
        }
        q->lambdas[q->n_lambdas++] = e->valuedouble;
    }
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "prob");
    if (cJSON_IsString(pr))
        q->prob = strcmp(pr->valuestring, "objective") == 0     ? SF_PROB_OBJECTIVE
                  : strcmp(pr->valuestring, "calibration") == 0 ? SF_PROB_CALIBRATION
                                                                : SF_PROB_AUTO;
    rc = 0;
out:
    cJSON_Delete(o);
    return rc;
}

/* The sections this build reads; any other tag is skipped (newer writers
 * may add some). Each may appear once. */
static const char *const known[] = {"INFO", "PARM", "METR", "TRES", "TREP",
                                    "LINS", "LINP", "HIST", "XGBS", "XGBP"};
enum { S_INFO, S_PARM, S_METR, S_TRES, S_TREP, S_LINS, S_LINP, S_HIST, S_XGBS, S_XGBP, S_N };

typedef struct body_view {
    const uint8_t *s[S_N]; /* each known section, NULL when absent */
    size_t len[S_N];
} body_view;

/* The section table of a body: bounds, duplicates. */
static int index_body(const uint8_t *p, size_t n, body_view *v, sf_err *err)
{
    memset(v, 0, sizeof *v);
    for (size_t off = 0; off < n;) {
        if (n - off < 8)
            return sf_errf(err, "model artifact: corrupt section table at byte %zu", off);
        char tag[5];
        field(p + off, 4, tag);
        size_t len = get_u32(p + off + 4);
        if (len > n - off - 8)
            return sf_errf(err, "model artifact: section %s overruns the body (byte %zu)", tag,
                           off);
        for (int k = 0; k < S_N; k++)
            if (strcmp(tag, known[k]) == 0) {
                if (v->s[k])
                    return sf_errf(err, "model artifact: corrupt (section %s twice)", tag);
                v->s[k] = p + off + 8;
                v->len[k] = len;
            }
        off += 8 + len;
    }
    return 0;
}

/* The forest of section k (TRES or TREP). A gbdt artifact of format 1 has
 * only the XGBoost booster (XGBS / XGBP): that is converted with XGBoost
 * when trusted (the retrainer's own registry), and refused otherwise, so no
 * byte of a release ever reaches XGBoost's parser. */
static int read_forest(sf_model *m, const body_view *v, int k, int trusted, sf_err *err)
{
    int p = k == S_TREP, d = m->info.n_inputs, xk = p ? S_XGBP : S_XGBS;
    uint8_t **dst = p ? &m->tres_p : &m->tres;
    size_t *dl = p ? &m->tres_p_len : &m->tres_len;
    if (v->s[k]) {
        if (!(*dst = malloc(v->len[k] ? v->len[k] : 1)))
            return sf_errf(err, "model artifact: out of memory");
        memcpy(*dst, v->s[k], v->len[k]);
        *dl = v->len[k];
    } else if (!v->s[xk]) {
        return 0;
    } else if (!trusted) {
        return sf_errf(err,
                       "model artifact: its trees are only an XGBoost booster (section %s, "
                       "format 1), which is not parsed outside the retrainer; publish a format "
                       "%d release from the retrainer",
                       known[xk], FORMAT);
    } else if (sf_gbdt_trees(v->s[xk], v->len[xk], d, dst, dl, err) < 0) {
        return sf_err_wrap(err, "model artifact: converting section %s", known[xk]);
    }
    sf_forest **fp = p ? &m->forest_p : &m->forest;
    if (!(*fp = sf_forest_read(*dst, *dl, d, p, err)))
        return sf_err_wrap(err, "model artifact: section %s", known[k]);
    return 0;
}

static int read_body(sf_model *m, const uint8_t *p, size_t n, int trusted, sf_err *err)
{
    body_view v;
    int d = m->info.n_inputs, gbdt = m->info.algo == SF_ALGO_GBDT;
    if (index_body(p, n, &v, err) < 0)
        return -1;
    if (!v.s[S_INFO])
        return sf_errf(err, "model artifact: corrupt (no INFO section)");
    static const int gbdt_only[] = {S_TRES, S_TREP, S_XGBS, S_XGBP},
                     ridge_only[] = {S_LINS, S_LINP};
    const int *other = gbdt ? ridge_only : gbdt_only;
    for (int i = 0; i < (gbdt ? 2 : 4); i++)
        if (v.s[other[i]])
            return sf_errf(err, "model artifact: corrupt (%s model with a %s section)",
                           sf_algo_name(m->info.algo), known[other[i]]);
    if (read_info(m, v.s[S_INFO], v.len[S_INFO], err) < 0 ||
        (v.s[S_PARM] && read_params(m, v.s[S_PARM], v.len[S_PARM], err) < 0))
        return -1;
    if (v.s[S_METR]) {
        cJSON *j = cJSON_ParseWithLength((const char *)v.s[S_METR], v.len[S_METR]);
        int ok = j != NULL && memchr(v.s[S_METR], 0, v.len[S_METR]) == NULL;
        cJSON_Delete(j);
        if (!ok)
            return sf_errf(err, "model artifact: METR section is not JSON");
        if (!(m->metrics_json = strndup((const char *)v.s[S_METR], v.len[S_METR])))
            return sf_errf(err, "model artifact: out of memory");
    }
    if (gbdt &&
        (read_forest(m, &v, S_TRES, trusted, err) < 0 ||
         (m->info.prob == SF_PROB_OBJECTIVE && read_forest(m, &v, S_TREP, trusted, err) < 0)))
        return -1;
    for (int k = S_LINS; !gbdt && k <= S_LINP; k++) {
        sf_linear **lp = k == S_LINS ? &m->lin : &m->lin_p;
        if (v.s[k] && !(*lp = sf_linear_load(v.s[k], v.len[k], d, err)))
            return sf_err_wrap(err, "model artifact: section %s", known[k]);
    }
    if (v.s[S_HIST] && !(m->hist = sf_history_load(v.s[S_HIST], v.len[S_HIST], err)))
        return sf_err_wrap(err, "model artifact: section HIST");
    if (gbdt && !m->forest)
        return sf_errf(err, "model artifact: corrupt (gbdt without its trees)");
    if (!gbdt && !m->lin)
        return sf_errf(err, "model artifact: corrupt (ridge without coefficients)");
    if (m->info.prob == SF_PROB_OBJECTIVE && !m->forest_p && !m->lin_p)
        return sf_errf(err, "model artifact: corrupt (probability model missing)");
    return 0;
}

/* The body of an artifact whose header was checked: *plain is the inflated
 * copy (caller frees) when it was compressed. Inflation is bounded before
 * any allocation: the declared size must be within SF_MODEL_MAX_INFLATED
 * and SF_MODEL_MAX_RATIO times the stored size, and the stream must end
 * exactly there. */
static int body_bytes(const uint8_t *buf, uint32_t flags, uint64_t body_len, uint64_t stored_len,
                      uint8_t **plain, sf_err *err)
{
    *plain = NULL;
    if (!(flags & 1)) {
        if (body_len != stored_len)
            return sf_errf(err, "model artifact: corrupt (lengths %llu and %llu)",
                           (unsigned long long)body_len, (unsigned long long)stored_len);
        return 0;
    }
    if (body_len > SF_MODEL_MAX_INFLATED || body_len / SF_MODEL_MAX_RATIO > stored_len)
        return sf_errf(err,
                       "model artifact: body of %llu bytes would inflate to %llu, over the limit "
                       "(%u bytes and %dx the stored size)",
                       (unsigned long long)stored_len, (unsigned long long)body_len,
                       SF_MODEL_MAX_INFLATED, SF_MODEL_MAX_RATIO);
    if (!(*plain = malloc(body_len ? body_len : 1)))
        return sf_errf(err, "model artifact: out of memory");
    uLongf pl = body_len;
    uLong sl = stored_len;
    if (uncompress2(*plain, &pl, buf + HDR_LEN, &sl) != Z_OK || pl != body_len ||
        sl != stored_len) {
        free(*plain);
        *plain = NULL;
        return sf_errf(err,
                       "model artifact: corrupt compressed body (not a zlib stream of %llu "
                       "bytes)",
                       (unsigned long long)body_len);
    }
    return 0;
}

/* The header checks of sf_model_load; sets *spec and *algo. */
static int read_header(const uint8_t *buf, size_t len, const char *expect_spec_hash, sf_algo *algo,
                       const sf_feature_spec **spec, sf_err *err)
{
    if (len < 8 || memcmp(buf, magic, 8) != 0)
        return sf_errf(err, "not a satisfy model artifact (bad magic)");
    if (len < HDR_LEN)
        return sf_errf(err, "model artifact truncated: %zu bytes, header needs %d", len, HDR_LEN);
    uint32_t version = get_u32(buf + 8);
    uint64_t stored_len = get_u64(buf + 56);
    if (stored_len != len - HDR_LEN)
        return sf_errf(err, "model artifact truncated: body has %zu of %llu bytes", len - HDR_LEN,
                       (unsigned long long)stored_len);
    unsigned char md[32];
    sha256_two(buf, SUM_OFF, buf + HDR_LEN, stored_len, md);
    if (memcmp(md, buf + SUM_OFF, 32) != 0)
        return sf_errf(err, "model artifact checksum mismatch (sha256 of %zu bytes)", len);
    if (version < 1 || version > FORMAT)
        return sf_errf(err, "model artifact format %u is not supported (expected 1 to %d)", version,
                       FORMAT);
    char algo_s[9], spec_s[9], hash_s[17];
    field(buf + 16, 8, algo_s);
    field(buf + 24, 8, spec_s);
    field(buf + 32, 16, hash_s);
    if (sf_algo_parse(algo_s, algo, err) < 0)
        return sf_err_wrap(err, "model artifact");
    if (!(*spec = sf_spec_by_name(spec_s, err)))
        return sf_err_wrap(err, "model artifact: feature spec hash mismatch");
    char ours[17];
    sf_spec_hash(*spec, ours);
    if (strcmp(ours, hash_s) != 0)
        return sf_errf(err,
                       "model artifact: feature spec hash mismatch: artifact has '%s' %s, this "
                       "build's '%s' spec is %s",
                       spec_s, hash_s, spec_s, ours);
    if (expect_spec_hash && strcmp(expect_spec_hash, hash_s) != 0)
        return sf_errf(err, "model artifact: feature spec hash mismatch: artifact %s, expected %s",
                       hash_s, expect_spec_hash);
    return 0;
}

static int load(const uint8_t *buf, size_t len, const char *expect_spec_hash, int trusted,
                sf_model **out, sf_err *err)
{
    sf_algo algo = SF_ALGO_RIDGE;
    const sf_feature_spec *spec = NULL;
    uint8_t *plain = NULL;
    if (read_header(buf, len, expect_spec_hash, &algo, &spec, err) < 0)
        return -1;
    uint64_t body_len = get_u64(buf + 48);
    if (body_bytes(buf, get_u32(buf + 12), body_len, len - HDR_LEN, &plain, err) < 0)
        return -1;
    sf_model *m = sf_model_alloc();
    if (!m) {
        free(plain);
        return sf_errf(err, "model artifact: out of memory");
    }
    m->info.algo = algo;
    m->info.spec = spec;
    sf_spec_hash(spec, m->info.spec_hash);
    m->info.n_inputs = spec->n;
    sf_model_params_default(&m->params);
    int rc = read_body(m, plain ? plain : buf + HDR_LEN, body_len, trusted, err);
    free(plain);
    if (rc < 0 || sf_model_probe(m, err) < 0) {
        sf_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int sf_model_load(const uint8_t *buf, size_t len, const char *expect_spec_hash, sf_model **out,
                  sf_err *err)
{
    return load(buf, len, expect_spec_hash, 0, out, err);
}

int sf_model_load_trusted(const uint8_t *buf, size_t len, const char *expect_spec_hash,
                          sf_model **out, sf_err *err)
{
    return load(buf, len, expect_spec_hash, 1, out, err);
}

int sf_model_release_make(const sf_model *m, int64_t version, int64_t released_at,
                          sf_model_release *out, sf_err *err)
{
    uint8_t *art;
    size_t alen;
    memset(out, 0, sizeof *out);
    if (sf_model_save(m, &art, &alen, err) < 0)
        return -1;
    if (alen > UINT32_MAX) {
        free(art);
        return sf_errf(err, "model release: artifact of %zu bytes is too large", alen);
    }
    char *pj = sf_model_params_json(&m->params);
    const char *mj = m->metrics_json ? m->metrics_json : "{}";
    size_t pl = pj ? strlen(pj) + 1 : 1, ml = strlen(mj) + 1;
    char *block = malloc(pl + ml + alen);
    if (!block || !pj) {
        free(block);
        free(pj);
        free(art);
        return sf_errf(err, "model release: out of memory");
    }
    memcpy(block, pj, pl);
    memcpy(block + pl, mj, ml);
    memcpy(block + pl + ml, art, alen);
    free(pj);
    free(art);
    out->version = version;
    snprintf(out->algorithm, sizeof out->algorithm, "%s", sf_algo_name(m->info.algo));
    memcpy(out->spec_hash, m->info.spec_hash, sizeof out->spec_hash);
    out->train_from = m->info.train_from;
    out->train_to = m->info.train_to;
    out->params_json = block;
    out->metrics_json = block + pl;
    out->payload = (const uint8_t *)block + pl + ml;
    out->payload_len = (uint32_t)alen;
    sf_sha256_hex(out->payload, alen, out->sha256);
    out->released_at = released_at;
    out->alloc = block;
    return 0;
}

int sf_model_from_release(const sf_model_release *r, sf_model **out, sf_err *err)
{
    char sum[65];
    sf_sha256_hex(r->payload, r->payload_len, sum);
    if (strcmp(sum, r->sha256) != 0)
        return sf_errf(err,
                       "model release %lld: payload checksum mismatch (sha256 %s, release "
                       "says %s)",
                       (long long)r->version, sum, r->sha256);
    sf_model *m;
    if (sf_model_load(r->payload, r->payload_len, r->spec_hash, &m, err) < 0)
        return sf_err_wrap(err, "model release %lld", (long long)r->version);
    if (strcmp(r->algorithm, sf_algo_name(m->info.algo)) != 0) {
        sf_errf(err, "model release %lld: release says algorithm '%s', artifact is '%s'",
                (long long)r->version, r->algorithm, sf_algo_name(m->info.algo));
        sf_model_free(m); /* after the message, which reads it */
        return -1;
    }
    *out = m;
    return 0;
}
