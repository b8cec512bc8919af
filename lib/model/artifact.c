/*
 * artifact.c - a trained model as bytes, and back (see sf_model_save /
 * sf_model_load in include/satisfy/model.h).
 *
 * Layout: a 96-byte header, then the body.
 *   0  "SFMODEL\0"            magic
 *   8  u32 format version (1)
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
 * XGBS / XGBP (XGBoost UBJSON of the score and probability boosters), LINS /
 * LINP (ridge and logistic coefficients with standardisation), HIST (history
 * snapshot). The body is compressed when it is over 16 KiB; a release must
 * fit Kafka's 1 MB message limit.
 */
#include "model_impl.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HDR_LEN      96
#define SUM_OFF      64
#define FORMAT       1
#define COMPRESS_MIN (16 * 1024)
#define MAX_BODY     (256u * 1024 * 1024)

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

static cJSON *info_json(const sf_model *m)
{
    const sf_model_info *in = &m->info;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "rounds", in->rounds);
    if (!isnan(in->lambda))
        cJSON_AddNumberToObject(o, "lambda", in->lambda);
    cJSON_AddStringToObject(o, "prob", in->prob == SF_PROB_OBJECTIVE ? "objective" : "calibration");
    if (!isnan(in->auc_objective))
        cJSON_AddNumberToObject(o, "auc_objective", in->auc_objective);
    if (!isnan(in->auc_calibration))
        cJSON_AddNumberToObject(o, "auc_calibration", in->auc_calibration);
    if (!isnan(in->valid_rmse))
        cJSON_AddNumberToObject(o, "valid_rmse", in->valid_rmse);
    cJSON_AddNumberToObject(o, "n_train", (double)in->n_train);
    cJSON_AddNumberToObject(o, "n_valid", (double)in->n_valid);
    cJSON_AddNumberToObject(o, "train_from", (double)in->train_from);
    cJSON_AddNumberToObject(o, "train_to", (double)in->train_to);
    cJSON_AddNumberToObject(o, "train_seconds", in->train_seconds);
    cJSON_AddNumberToObject(o, "cal_a", m->cal_a);
    cJSON_AddNumberToObject(o, "cal_b", m->cal_b);
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
    if (m->ubj)
        add_section(&b, "XGBS", m->ubj, m->ubj_len);
    if (m->ubj_p)
        add_section(&b, "XGBP", m->ubj_p, m->ubj_p_len);
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

static double jnum(const cJSON *o, const char *k, double dflt)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(j) ? j->valuedouble : dflt;
}

static int read_info(sf_model *m, const uint8_t *p, size_t n, sf_err *err)
{
    cJSON *o = cJSON_ParseWithLength((const char *)p, n);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return sf_errf(err, "model artifact: corrupt INFO section");
    }
    sf_model_info *in = &m->info;
    in->rounds = (int)jnum(o, "rounds", 0);
    in->lambda = jnum(o, "lambda", NAN);
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "prob");
    in->prob = cJSON_IsString(pr) && strcmp(pr->valuestring, "objective") == 0
                   ? SF_PROB_OBJECTIVE
                   : SF_PROB_CALIBRATION;
    in->auc_objective = jnum(o, "auc_objective", NAN);
    in->auc_calibration = jnum(o, "auc_calibration", NAN);
    in->valid_rmse = jnum(o, "valid_rmse", NAN);
    in->n_train = (size_t)jnum(o, "n_train", 0);
    in->n_valid = (size_t)jnum(o, "n_valid", 0);
    in->train_from = (int64_t)jnum(o, "train_from", (double)SF_TIME_NONE);
    in->train_to = (int64_t)jnum(o, "train_to", (double)SF_TIME_NONE);
    in->train_seconds = jnum(o, "train_seconds", 0);
    m->cal_a = jnum(o, "cal_a", 0);
    m->cal_b = jnum(o, "cal_b", 0);
    cJSON_Delete(o);
    return 0;
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
    q->nthread = (int)jnum(o, "nthread", q->nthread);
    q->max_depth = (int)jnum(o, "max_depth", q->max_depth);
    q->eta = jnum(o, "eta", q->eta);
    q->rounds = (int)jnum(o, "rounds", q->rounds);
    q->early_stopping = (int)jnum(o, "early_stopping", q->early_stopping);
    q->min_child_weight = jnum(o, "min_child_weight", q->min_child_weight);
    q->subsample = jnum(o, "subsample", q->subsample);
    q->colsample = jnum(o, "colsample_bytree", q->colsample);
    q->reg_lambda = jnum(o, "reg_lambda", q->reg_lambda);
    q->max_bin = (int)jnum(o, "max_bin", q->max_bin);
    q->seed = (uint64_t)jnum(o, "seed", (double)q->seed);
    q->valid_frac = jnum(o, "valid_frac", q->valid_frac);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "lambdas");
    q->n_lambdas = 0;
    for (const cJSON *e = g ? g->child : NULL; e && q->n_lambdas < 16; e = e->next)
        if (cJSON_IsNumber(e))
            q->lambdas[q->n_lambdas++] = e->valuedouble;
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "prob");
    if (cJSON_IsString(pr))
        q->prob = strcmp(pr->valuestring, "objective") == 0     ? SF_PROB_OBJECTIVE
                  : strcmp(pr->valuestring, "calibration") == 0 ? SF_PROB_CALIBRATION
                                                                : SF_PROB_AUTO;
    cJSON_Delete(o);
    return 0;
}

static int read_body(sf_model *m, const uint8_t *p, size_t n, sf_err *err)
{
    int d = m->info.n_inputs, have_info = 0;
    for (size_t off = 0; off < n;) {
        if (n - off < 8)
            return sf_errf(err, "model artifact: corrupt section table at byte %zu", off);
        char tag[5];
        field(p + off, 4, tag);
        size_t len = get_u32(p + off + 4);
        const uint8_t *s = p + off + 8;
        if (len > n - off - 8)
            return sf_errf(err, "model artifact: section %s overruns the body (byte %zu)", tag,
                           off);
        if (strcmp(tag, "INFO") == 0) {
            if (read_info(m, s, len, err) < 0)
                return -1;
            have_info = 1;
        } else if (strcmp(tag, "PARM") == 0) {
            if (read_params(m, s, len, err) < 0)
                return -1;
        } else if (strcmp(tag, "METR") == 0) {
            free(m->metrics_json);
            if (!(m->metrics_json = strndup((const char *)s, len)))
                return sf_errf(err, "model artifact: out of memory");
        } else if (strcmp(tag, "XGBS") == 0 || strcmp(tag, "XGBP") == 0) {
            uint8_t **dst = tag[3] == 'S' ? &m->ubj : &m->ubj_p;
            size_t *dl = tag[3] == 'S' ? &m->ubj_len : &m->ubj_p_len;
            free(*dst);
            if (!(*dst = malloc(len ? len : 1)))
                return sf_errf(err, "model artifact: out of memory");
            memcpy(*dst, s, len);
            *dl = len;
            sf_forest **fp = tag[3] == 'S' ? &m->forest : &m->forest_p;
            sf_forest_free(*fp);
            if (!(*fp = sf_gbdt_forest(s, len, d, err)))
                return sf_err_wrap(err, "model artifact: section %s", tag);
        } else if (strcmp(tag, "LINS") == 0 || strcmp(tag, "LINP") == 0) {
            sf_linear **lp = tag[3] == 'S' ? &m->lin : &m->lin_p;
            sf_linear_free(*lp);
            if (!(*lp = sf_linear_load(s, len, d, err)))
                return sf_err_wrap(err, "model artifact: section %s", tag);
        } else if (strcmp(tag, "HIST") == 0) {
            sf_history_free(m->hist);
            if (!(m->hist = sf_history_load(s, len, err)))
                return sf_err_wrap(err, "model artifact: section HIST");
        }
        /* unknown sections are skipped: newer writers may add some */
        off += 8 + len;
    }
    if (!have_info)
        return sf_errf(err, "model artifact: corrupt (no INFO section)");
    if (m->info.algo == SF_ALGO_GBDT && !m->forest)
        return sf_errf(err, "model artifact: corrupt (gbdt without its trees)");
    if (m->info.algo == SF_ALGO_RIDGE && !m->lin)
        return sf_errf(err, "model artifact: corrupt (ridge without coefficients)");
    if (m->info.prob == SF_PROB_OBJECTIVE && !m->forest_p && !m->lin_p)
        return sf_errf(err, "model artifact: corrupt (probability model missing)");
    return 0;
}

int sf_model_load(const uint8_t *buf, size_t len, const char *expect_spec_hash, sf_model **out,
                  sf_err *err)
{
    if (len < 8 || memcmp(buf, magic, 8) != 0)
        return sf_errf(err, "not a satisfy model artifact (bad magic)");
    if (len < HDR_LEN)
        return sf_errf(err, "model artifact truncated: %zu bytes, header needs %d", len, HDR_LEN);
    uint32_t version = get_u32(buf + 8), flags = get_u32(buf + 12);
    uint64_t body_len = get_u64(buf + 48), stored_len = get_u64(buf + 56);
    if (stored_len != len - HDR_LEN)
        return sf_errf(err, "model artifact truncated: body has %zu of %llu bytes", len - HDR_LEN,
                       (unsigned long long)stored_len);
    unsigned char md[32];
    sha256_two(buf, SUM_OFF, buf + HDR_LEN, stored_len, md);
    if (memcmp(md, buf + SUM_OFF, 32) != 0)
        return sf_errf(err, "model artifact checksum mismatch (sha256 of %zu bytes)", len);
    if (version != FORMAT)
        return sf_errf(err, "model artifact format %u is not supported (expected %d)", version,
                       FORMAT);
    char algo_s[9], spec_s[9], hash_s[17];
    field(buf + 16, 8, algo_s);
    field(buf + 24, 8, spec_s);
    field(buf + 32, 16, hash_s);
    sf_algo algo;
    if (sf_algo_parse(algo_s, &algo, err) < 0)
        return sf_err_wrap(err, "model artifact");
    const sf_feature_spec *spec = sf_spec_by_name(spec_s, err);
    if (!spec)
        return sf_err_wrap(err, "model artifact: feature spec hash mismatch");
    char ours[17];
    sf_spec_hash(spec, ours);
    if (strcmp(ours, hash_s) != 0)
        return sf_errf(err,
                       "model artifact: feature spec hash mismatch: artifact has '%s' %s, this "
                       "build's '%s' spec is %s",
                       spec_s, hash_s, spec_s, ours);
    if (expect_spec_hash && strcmp(expect_spec_hash, hash_s) != 0)
        return sf_errf(err, "model artifact: feature spec hash mismatch: artifact %s, expected %s",
                       hash_s, expect_spec_hash);
    if (body_len > MAX_BODY)
        return sf_errf(err, "model artifact: corrupt (body length %llu)",
                       (unsigned long long)body_len);
    const uint8_t *b = buf + HDR_LEN;
    uint8_t *plain = NULL;
    if (flags & 1) {
        plain = malloc(body_len ? body_len : 1);
        if (!plain)
            return sf_errf(err, "model artifact: out of memory");
        uLongf pl = body_len;
        if (uncompress(plain, &pl, b, stored_len) != Z_OK || pl != body_len) {
            free(plain);
            return sf_errf(err, "model artifact: corrupt compressed body");
        }
        b = plain;
    } else if (body_len != stored_len) {
        return sf_errf(err, "model artifact: corrupt (lengths %llu and %llu)",
                       (unsigned long long)body_len, (unsigned long long)stored_len);
    }
    sf_model *m = sf_model_alloc();
    if (!m) {
        free(plain);
        return sf_errf(err, "model artifact: out of memory");
    }
    m->info.algo = algo;
    m->info.spec = spec;
    memcpy(m->info.spec_hash, ours, sizeof ours);
    m->info.n_inputs = spec->n;
    sf_model_params_default(&m->params);
    int rc = read_body(m, b, body_len, err);
    free(plain);
    if (rc < 0) {
        sf_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
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
        sf_model_free(m);
        return sf_errf(err, "model release %lld: release says algorithm '%s', artifact is '%s'",
                       (long long)r->version, r->algorithm, sf_algo_name(m->info.algo));
    }
    *out = m;
    return 0;
}
