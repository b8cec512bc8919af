/*
 * gbdt.c - gradient-boosted trees trained with the XGBoost C API (1.7).
 *
 * Dense float matrices with NaN as missing, tree_method=hist, an explicit
 * nthread (the machine has 2 cores; OpenMP's busy-waiting is turned off by
 * OMP_WAIT_POLICY=passive in the environment at process start, omp.h), and
 * early stopping on the time-ordered validation rows: boosting stops after
 * `early_stopping` rounds without a better validation metric and the booster
 * is sliced to the best round. The result is the booster's UBJSON, which is
 * what the artifact ships; prediction and reasons at scoring run on our own
 * copy of the trees (trees.c), built here from XGBoost's JSON model.
 */
#include "model_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

static int xgb_fail(sf_err *err, const char *what)
{
    return sf_errf(err, "xgboost: %s: %s", what, XGBGetLastError());
}

static int make_dmatrix(const sf_examples *ex, int binary, int nthread, DMatrixHandle *out,
                        sf_err *err)
{
    if (XGDMatrixCreateFromMat_omp(ex->x, ex->n, ex->d, NAN, out, nthread) != 0)
        return xgb_fail(err, "creating a matrix");
    float *y = malloc((ex->n ? ex->n : 1) * sizeof *y);
    if (!y) {
        XGDMatrixFree(*out);
        return sf_errf(err, "gbdt: out of memory");
    }
    for (size_t i = 0; i < ex->n; i++)
        y[i] = binary ? (ex->label[i] <= 2 ? 1.0f : 0.0f) : ex->label[i];
    int rc = XGDMatrixSetFloatInfo(*out, "label", y, ex->n);
    free(y);
    if (rc != 0) {
        XGDMatrixFree(*out);
        return xgb_fail(err, "setting labels");
    }
    return 0;
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

int sf_gbdt_fit(const sf_examples *train, const sf_examples *valid, const sf_model_params *p,
                int binary, uint8_t **ubj, size_t *ubj_len, int *rounds, sf_err *err)
{
    if (train->n == 0)
        return sf_errf(err, "gbdt: no training rows");
    int nthread = p->nthread > 0 ? p->nthread : 2;
    DMatrixHandle dtrain = NULL, dvalid = NULL;
    BoosterHandle b = NULL, best = NULL;
    int rc = -1;
    if (make_dmatrix(train, binary, nthread, &dtrain, err) < 0)
        return -1;
    int have_valid = valid && valid->n > 0;
    if (have_valid && make_dmatrix(valid, binary, nthread, &dvalid, err) < 0)
        goto out;
    DMatrixHandle cache[2] = {dtrain, dvalid};
    if (XGBoosterCreate(cache, have_valid ? 2 : 1, &b) != 0) {
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
        if (!have_valid) {
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

sf_forest *sf_gbdt_forest(const uint8_t *ubj, size_t len, int n_features, sf_err *err)
{
    BoosterHandle b;
    if (load_booster(ubj, len, 1, &b, err) < 0)
        return NULL;
    bst_ulong jlen = 0;
    const char *json = NULL;
    sf_forest *f = NULL;
    if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &jlen, &json) != 0)
        xgb_fail(err, "reading the model as JSON");
    else
        f = sf_forest_from_json(json, jlen, n_features, err);
    XGBoosterFree(b);
    return f;
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
