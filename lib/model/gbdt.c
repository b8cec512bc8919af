/*
 * gbdt.c - gradient-boosted trees trained with the XGBoost C API (1.7).
 *
 * Dense float rows with NaN as missing (the training rows handed to XGBoost
 * as a quantile matrix: its bins, no copy of the rows; one matrix for both
 * objectives, fed in batches whose pages are handed back while it is built
 * when the caller allows it, rows_iter), tree_method=hist, an explicit
 * nthread (the machine has 2 cores; OpenMP's busy-waiting is turned off by
 * OMP_WAIT_POLICY=passive in the environment at process start, omp.h), and
 * early stopping on the time-ordered validation rows: boosting stops after
 * `early_stopping` rounds without a better validation metric and the booster
 * is sliced to the best round. The result is the booster's UBJSON; the
 * artifact ships our own forest section instead (trees.c), written here
 * from XGBoost's JSON model: per tree the child arrays, split feature and
 * threshold, default direction for missing values, leaf values and the
 * cover (sum_hessian) of each node. Prediction and reasons at scoring run
 * on that forest; XGBoost parses only boosters this process trained (or a
 * format 1 artifact from the retrainer's own registry, sf_model_load_trusted).
 */
#include "model_impl.h"

#include <cjson/cJSON.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xgboost/c_api.h>

static int xgb_fail(sf_err *err, const char *what)
{
    return sf_errf(err, "xgboost: %s: %s", what, XGBGetLastError());
}

/* Rows per batch handed to XGBoost's quantile matrix (21 MB of 41 floats);
 * sf_model_params.quantile_batch_rows overrides it (tests). */
#define QUANTILE_BATCH_ROWS ((size_t)1 << 17)

/* The training rows handed to XGBoost's quantile matrix, batch by batch.
 * XGBoost 1.7 reads them in four passes, each ended by a next() that returns
 * 0: (1) counts, (2) the quantile sketch, (3) the histogram index (the bins),
 * (4) the column matrix, which takes each cell's bin from the index and reads
 * the rows only for which cells are present. With release set, each batch of
 * the third pass hands its pages back to the OS once the index holds it
 * (after noting which of its cells are present), and the fourth pass gets
 * batches rebuilt from those notes (0 for a present cell, NaN for a missing
 * one) in a small buffer: the rows are gone before XGBoost allocates the
 * column matrix, instead of after (0.55 GB at 1M orders). The sketch is a
 * stream per column and the index is built batch by batch, so the bins (and
 * the trees) are those of one batch; a test checks the models equal. */
typedef struct rows_iter {
    DMatrixHandle proxy;
    const sf_examples *ex;
    size_t batch; /* rows per batch */
    size_t next;  /* the first row of the next batch in this pass */
    size_t cur;   /* the first row of the batch XGBoost holds (pass 3) */
    int passes;   /* passes XGBoost has finished */
    int release;
    uintptr_t released; /* the rows' pages below this address went */
    uint8_t *present;   /* a bit per cell, noted in pass 3 when releasing */
    float *buf;         /* a pass 4 batch when releasing */
} rows_iter;

/* Notes the present cells of rows [from, to) and hands back the whole pages
 * of the rows below row `to` not handed back yet. */
static void iter_release(rows_iter *it, size_t from, size_t to)
{
    const sf_examples *ex = it->ex;
    for (size_t c = from * ex->d; c < to * ex->d; c++)
        if (!isnan(ex->x[c]))
            it->present[c >> 3] |= (uint8_t)(1u << (c & 7));
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0)
        return;
    uintptr_t b = (uintptr_t)(ex->x + to * ex->d) & ~((uintptr_t)pg - 1);
    if (b > it->released) {
        madvise((void *)it->released, b - it->released, MADV_DONTNEED);
        it->released = b;
    }
}

static int rows_next(DataIterHandle h)
{
    rows_iter *it = h;
    const sf_examples *ex = it->ex;
    if (it->release && it->passes == 2 && it->cur < it->next)
        iter_release(it, it->cur, it->next); /* the index holds that batch */
    if (it->next >= ex->n) {
        it->passes++;
        return 0;
    }
    size_t n = ex->n - it->next < it->batch ? ex->n - it->next : it->batch;
    const float *x = ex->x + it->next * ex->d;
    if (it->release && it->passes >= 3) {
        for (size_t c = 0; c < n * ex->d; c++) {
            size_t k = it->next * ex->d + c;
            it->buf[c] = it->present[k >> 3] & (1u << (k & 7)) ? 0.0f : NAN;
        }
        x = it->buf;
    }
    char iface[160];
    snprintf(iface, sizeof iface,
             "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)x, n, ex->d);
    it->cur = it->next;
    it->next += n;
    return XGProxyDMatrixSetDataDense(it->proxy, iface) == 0 ? 1 : -1;
}

static void rows_reset(DataIterHandle h)
{
    rows_iter *it = h;
    it->next = it->cur = 0;
}

/* The matrix XGBoost learns from. The training rows go in as a quantile
 * matrix (XGBoost's QuantileDMatrix, max_bin > 0): their histogram bins (one
 * byte per cell) straight from our dense floats, without the CSR copy (8 bytes
 * per cell) a plain DMatrix keeps beside its bins; at a million orders that
 * copy was 2 GB. The validation rows (max_bin 0) stay a plain DMatrix: they
 * are 15% of the rows, and XGBoost 1.7 evaluates a quantile matrix every round
 * several times slower. Same bins, same trees either way. With release, the
 * rows' pages go while the matrix is built (rows_iter). */
static int make_dmatrix(const sf_examples *ex, int nthread, int max_bin, size_t batch, int release,
                        DMatrixHandle *out, sf_err *err)
{
    if (max_bin > 0) {
        rows_iter it = {.ex = ex, .batch = batch ? batch : QUANTILE_BATCH_ROWS};
        long pg = sysconf(_SC_PAGESIZE);
        if (release && pg > 0 && ex->n > 0) {
            size_t cells = ex->n * ex->d;
            it.present = calloc(cells / 8 + 1, 1);
            it.buf = malloc((it.batch < ex->n ? it.batch : ex->n) * ex->d * sizeof *it.buf);
            if (!it.present || !it.buf) {
                free(it.present);
                free(it.buf);
                return sf_errf(err, "gbdt: out of memory");
            }
            it.released = ((uintptr_t)ex->x + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
            it.release = 1;
        }
        if (XGProxyDMatrixCreate(&it.proxy) != 0) {
            free(it.present);
            free(it.buf);
            return xgb_fail(err, "creating a matrix proxy");
        }
        char cfg[96];
        snprintf(cfg, sizeof cfg, "{\"missing\": NaN, \"nthread\": %d, \"max_bin\": %d}", nthread,
                 max_bin);
        int qrc = XGQuantileDMatrixCreateFromCallback(&it, it.proxy, NULL, rows_reset, rows_next,
                                                      cfg, out);
        XGDMatrixFree(it.proxy);
        free(it.present);
        free(it.buf);
        if (qrc != 0)
            return xgb_fail(err, "creating a matrix");
        /* the four passes of XGBoost 1.7 (rows_iter): another count means
         * the notes stood in for rows a pass still read the values of */
        if (it.release && it.passes != 4) {
            XGDMatrixFree(*out);
            *out = NULL;
            return sf_errf(err, "gbdt: the quantile matrix read the rows in %d passes, not 4",
                           it.passes);
        }
    } else if (XGDMatrixCreateFromMat_omp(ex->x, ex->n, ex->d, NAN, out, nthread) != 0) {
        return xgb_fail(err, "creating a matrix");
    }
    return 0;
}

/* The label of one objective on a matrix: the review score, or 1 for a 1-2
 * star review. Both objectives learn from the same matrices, relabelled. */
static int set_labels(DMatrixHandle m, const sf_examples *ex, int binary, sf_err *err)
{
    float *y = malloc((ex->n ? ex->n : 1) * sizeof *y);
    if (!y)
        return sf_errf(err, "gbdt: out of memory");
    for (size_t i = 0; i < ex->n; i++)
        y[i] = binary ? (ex->label[i] <= 2 ? 1.0f : 0.0f) : ex->label[i];
    int rc = XGDMatrixSetFloatInfo(m, "label", y, ex->n);
    free(y);
    return rc != 0 ? xgb_fail(err, "setting labels") : 0;
}

static int set_param(BoosterHandle b, const char *k, const char *v, sf_err *err)
{
    if (XGBoosterSetParam(b, k, v) != 0)
        return sf_errf(err, "xgboost: parameter %s=%s: %s", k, v, XGBGetLastError());
    return 0;
}

static int set_params(BoosterHandle b, const sf_model_params *p, int binary, double base,
                      sf_err *err)
{
    struct {
        const char *k;
        char v[32];
    } kv[14];
    int n = 0;
#define KV(key, ...)                                                                               \
    do {                                                                                           \
        kv[n].k = key;                                                                             \
        snprintf(kv[n].v, sizeof kv[n].v, __VA_ARGS__);                                            \
        n++;                                                                                       \
    } while (0)
    KV("tree_method", "hist");
    KV("nthread", "%d", p->nthread > 0 ? p->nthread : 2);
    KV("objective", "%s", binary ? "binary:logistic" : "reg:squarederror");
    KV("eval_metric", "%s", binary ? "logloss" : "rmse");
    KV("max_depth", "%d", p->max_depth);
    KV("eta", "%.17g", p->eta);
    KV("min_child_weight", "%.17g", p->min_child_weight);
    KV("subsample", "%.17g", p->subsample);
    KV("colsample_bytree", "%.17g", p->colsample);
    KV("lambda", "%.17g", p->reg_lambda);
    KV("max_bin", "%d", p->max_bin);
    KV("seed", "%llu", (unsigned long long)(p->seed & 0x7fffffff));
    KV("base_score", "%.17g", base);
    KV("verbosity", "0");
#undef KV
    for (int i = 0; i < n; i++)
        if (set_param(b, kv[i].k, kv[i].v, err) < 0)
            return -1;
    return 0;
}

/* The metric value at the end of an eval string "[3]\tvalid-rmse:1.23". */
static double eval_value(const char *s)
{
    const char *c = strrchr(s, ':');
    return c ? strtod(c + 1, NULL) : NAN;
}

/* One objective on the built matrices: boosting with early stopping, the
 * booster sliced to its best round, its UBJSON. */
static int fit_one(DMatrixHandle dtrain, DMatrixHandle dvalid, const sf_examples *train,
                   const sf_examples *valid, const sf_model_params *p, int binary, uint8_t **ubj,
                   size_t *ubj_len, int *rounds, sf_err *err)
{
    BoosterHandle b = NULL, best = NULL;
    int rc = -1;
    if (set_labels(dtrain, train, binary, err) < 0 ||
        (dvalid && set_labels(dvalid, valid, binary, err) < 0))
        return -1;
    DMatrixHandle cache[2] = {dtrain, dvalid};
    if (XGBoosterCreate(cache, dvalid ? 2 : 1, &b) != 0) {
        xgb_fail(err, "creating a booster");
        goto out;
    }
    double base = 0;
    for (size_t i = 0; i < train->n; i++)
        base += binary ? (train->label[i] <= 2) : train->label[i];
    base /= (double)train->n;
    if (binary)
        base = fmin(fmax(base, 1e-3), 1 - 1e-3);
    if (set_params(b, p, binary, base, err) < 0)
        goto out;
    int best_round = -1, max_rounds = p->rounds > 0 ? p->rounds : 1;
    double best_val = INFINITY;
    for (int it = 0; it < max_rounds; it++) {
        if (XGBoosterUpdateOneIter(b, it, dtrain) != 0) {
            xgb_fail(err, "boosting");
            goto out;
        }
        if (!dvalid) {
            best_round = it;
            continue;
        }
        const char *names[1] = {"valid"};
        const char *res = NULL;
        if (XGBoosterEvalOneIter(b, it, &dvalid, names, 1, &res) != 0) {
            xgb_fail(err, "evaluating");
            goto out;
        }
        double v = eval_value(res);
        if (v < best_val) {
            best_val = v;
            best_round = it;
        } else if (p->early_stopping > 0 && it - best_round >= p->early_stopping) {
            break;
        }
    }
    BoosterHandle keep = b;
    int boosted = 0;
    XGBoosterBoostedRounds(b, &boosted);
    if (best_round + 1 < boosted) {
        if (XGBoosterSlice(b, 0, best_round + 1, 1, &best) != 0) {
            xgb_fail(err, "slicing to the best round");
            goto out;
        }
        keep = best;
    }
    bst_ulong len = 0;
    const char *data = NULL;
    if (XGBoosterSaveModelToBuffer(keep, "{\"format\": \"ubj\"}", &len, &data) != 0) {
        xgb_fail(err, "saving the model");
        goto out;
    }
    *ubj = malloc(len ? len : 1);
    if (!*ubj) {
        sf_errf(err, "gbdt: out of memory");
        goto out;
    }
    memcpy(*ubj, data, len);
    *ubj_len = len;
    *rounds = best_round + 1;
    rc = 0;
out:
    if (best)
        XGBoosterFree(best);
    if (b)
        XGBoosterFree(b);
    return rc;
}

int sf_gbdt_fit(const sf_examples *train, const sf_examples *valid, const sf_model_params *p,
                int n_obj, uint8_t **ubj, size_t *ubj_len, int *rounds, sf_err *err)
{
    if (train->n == 0)
        return sf_errf(err, "gbdt: no training rows");
    int nthread = p->nthread > 0 ? p->nthread : 2;
    DMatrixHandle dtrain = NULL, dvalid = NULL;
    int rc = -1;
    /* one quantile matrix for every objective: its bins do not depend on
     * the labels (no weights), so the trees are those of a matrix apiece */
    if (make_dmatrix(train, nthread, p->max_bin > 0 ? p->max_bin : 256, p->quantile_batch_rows,
                     p->release_train_rows, &dtrain, err) < 0)
        return -1;
    if (valid && valid->n > 0 && make_dmatrix(valid, nthread, 0, 0, 0, &dvalid, err) < 0)
        goto out;
#ifdef __GLIBC__
    malloc_trim(0); /* what building the matrices freed (glibc keeps it in its arenas) */
#endif
    for (int k = 0; k < n_obj; k++) {
        ubj[k] = NULL;
        if (fit_one(dtrain, dvalid, train, valid, p, k, &ubj[k], &ubj_len[k], &rounds[k], err) < 0)
            goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        for (int k = 0; k < n_obj; k++) {
            free(ubj[k]);
            ubj[k] = NULL;
        }
    if (dvalid)
        XGDMatrixFree(dvalid);
    if (dtrain)
        XGDMatrixFree(dtrain);
    return rc;
}

static int load_booster(const uint8_t *ubj, size_t len, int nthread, BoosterHandle *b, sf_err *err)
{
    if (XGBoosterCreate(NULL, 0, b) != 0)
        return xgb_fail(err, "creating a booster");
    if (XGBoosterLoadModelFromBuffer(*b, ubj, len) != 0) {
        sf_errf(err, "xgboost: corrupt model payload: %s", XGBGetLastError());
        XGBoosterFree(*b);
        return -1;
    }
    char v[16];
    snprintf(v, sizeof v, "%d", nthread > 0 ? nthread : 2);
    if (XGBoosterSetParam(*b, "nthread", v) != 0) {
        xgb_fail(err, "setting nthread");
        XGBoosterFree(*b);
        return -1;
    }
    return 0;
}

static const cJSON *path(const cJSON *j, const char *const *keys)
{
    for (; *keys && j; keys++)
        j = cJSON_GetObjectItemCaseSensitive(j, *keys);
    return j;
}

static double num(const cJSON *j)
{
    if (cJSON_IsNumber(j))
        return j->valuedouble;
    if (cJSON_IsString(j))
        return strtod(j->valuestring, NULL);
    if (cJSON_IsBool(j))
        return cJSON_IsTrue(j) ? 1 : 0;
    return NAN;
}

/* An int node id or feature of XGBoost's JSON (-1 when it is none). */
static int32_t num_id(const cJSON *j)
{
    double v = num(j);
    return v >= -1 && v < INT32_MAX ? (int32_t)v : -1;
}

/* Appends tree ti of XGBoost's JSON to nodes (grown as needed); sets *n. */
static int json_tree(const cJSON *t, sf_rawnode **nodes, size_t *used, size_t *cap, int *n,
                     sf_err *err, int ti)
{
    static const char *const keys[6] = {"left_children",    "right_children", "split_indices",
                                        "split_conditions", "default_left",   "sum_hessian"};
    const cJSON *a[6];
    for (int k = 0; k < 6; k++) {
        a[k] = cJSON_GetObjectItemCaseSensitive(t, keys[k]);
        if (!cJSON_IsArray(a[k]))
            return sf_errf(err, "gbdt model: tree %d lacks its node arrays", ti);
    }
    *n = cJSON_GetArraySize(a[0]);
    for (int k = 1; k < 6; k++)
        if (*n <= 0 || cJSON_GetArraySize(a[k]) != *n)
            return sf_errf(err, "gbdt model: tree %d has node arrays of different lengths", ti);
    if (*used + (size_t)*n > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (nc < *used + (size_t)*n)
            nc *= 2;
        sf_rawnode *p = realloc(*nodes, nc * sizeof *p);
        if (!p)
            return sf_errf(err, "gbdt model: out of memory");
        *nodes = p;
        *cap = nc;
    }
    const cJSON *e[6];
    for (int k = 0; k < 6; k++)
        e[k] = a[k]->child;
    for (int i = 0; i < *n; i++) {
        (*nodes)[(*used)++] = (sf_rawnode){.left = num_id(e[0]),
                                           .right = num_id(e[1]),
                                           .feature = (uint32_t)num_id(e[2]),
                                           .default_left = num(e[4]) != 0,
                                           .value = (float)num(e[3]),
                                           .cover = num(e[5])};
        for (int k = 0; k < 6; k++)
            e[k] = e[k]->next;
    }
    return 0;
}

/* Our forest section of XGBoost's JSON model. */
static int json_forest(const char *json, size_t len, int n_features, uint8_t **out, size_t *out_len,
                       sf_err *err)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return sf_errf(err, "gbdt model: JSON does not parse");
    static const char *const k_trees[] = {"learner", "gradient_booster", "model", "trees", NULL};
    static const char *const k_base[] = {"learner", "learner_model_param", "base_score", NULL};
    static const char *const k_obj[] = {"learner", "objective", "name", NULL};
    static const char *const k_nf[] = {"learner", "learner_model_param", "num_feature", NULL};
    const cJSON *trees = path(root, k_trees);
    const cJSON *obj = path(root, k_obj);
    double base = num(path(root, k_base)), nf = num(path(root, k_nf));
    sf_rawnode *nodes = NULL;
    int *sizes = NULL, rc = -1, logistic = 0, nt = 0;
    size_t used = 0, cap = 0;
    if (!cJSON_IsArray(trees) || !cJSON_IsString(obj) || isnan(base)) {
        sf_errf(err, "gbdt model: JSON lacks trees, objective or base_score");
        goto out;
    }
    if (!isnan(nf) && nf > n_features) {
        sf_errf(err, "gbdt model: model has %g features, spec has %d", nf, n_features);
        goto out;
    }
    if (strcmp(obj->valuestring, "binary:logistic") == 0) {
        logistic = 1;
    } else if (strcmp(obj->valuestring, "reg:squarederror") != 0) {
        sf_errf(err, "gbdt model: unsupported objective '%s'", obj->valuestring);
        goto out;
    }
    nt = cJSON_GetArraySize(trees);
    if (!(sizes = malloc((size_t)(nt ? nt : 1) * sizeof *sizes))) {
        sf_errf(err, "gbdt model: out of memory");
        goto out;
    }
    int ti = 0;
    for (const cJSON *t = trees->child; t; t = t->next, ti++)
        if (json_tree(t, &nodes, &used, &cap, &sizes[ti], err, ti) < 0)
            goto out;
    rc = sf_forest_write(n_features, logistic, base, nt, sizes, nodes, out, out_len, err);
out:
    cJSON_Delete(root);
    free(nodes);
    free(sizes);
    return rc;
}

int sf_gbdt_trees(const uint8_t *ubj, size_t len, int n_features, uint8_t **out, size_t *out_len,
                  sf_err *err)
{
    BoosterHandle b;
    if (load_booster(ubj, len, 1, &b, err) < 0)
        return -1;
    bst_ulong jlen = 0;
    const char *json = NULL;
    int rc = -1;
    if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &jlen, &json) != 0)
        xgb_fail(err, "reading the model as JSON");
    else
        rc = json_forest(json, jlen, n_features, out, out_len, err);
    XGBoosterFree(b);
    return rc;
}

int sf_gbdt_xgb_predict(const uint8_t *ubj, size_t len, const float *x, size_t n, size_t d,
                        int nthread, float *out, sf_err *err)
{
    BoosterHandle b;
    if (load_booster(ubj, len, nthread, &b, err) < 0)
        return -1;
    DMatrixHandle m;
    int rc = -1;
    if (XGDMatrixCreateFromMat_omp(x, n, d, NAN, &m, nthread) != 0) {
        xgb_fail(err, "creating a matrix");
        XGBoosterFree(b);
        return -1;
    }
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    if (XGBoosterPredictFromDMatrix(b, m,
                                    "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                    "\"iteration_end\": 0, \"strict_shape\": false}",
                                    &shape, &dim, &res) != 0) {
        xgb_fail(err, "predicting");
    } else {
        memcpy(out, res, n * sizeof *out);
        rc = 0;
    }
    XGDMatrixFree(m);
    XGBoosterFree(b);
    return rc;
}
