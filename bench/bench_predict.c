/*
 * bench_predict.c - batched prediction with reasons, rows/s on one core.
 *
 * Trains a GBDT on rows as wide as the "full" spec (OLIST_DIR's real sample
 * when set, else a synthetic nonlinear signal), then scores the same rows with
 * (a) XGBoosterPredictFromDMatrix, nthread=1, no reasons: the baseline;
 * (b) our trees, score + probability + top-3 reasons (sf_model_explain);
 * (c) our trees, score only; (d) optionally XGBoost pred_contribs (exact
 * TreeSHAP) on a small slice. Prints one markdown table.
 * Usage: bench_predict [rows]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xgboost/c_api.h>

#include "satisfy/cli.h"
#include "satisfy/model.h"
#include "satisfy/train.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static double ur(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static void synth(sf_examples *ex, size_t n)
{
    size_t d = (size_t)sf_spec_full()->n;
    memset(ex, 0, sizeof *ex);
    ex->spec = sf_spec_full();
    ex->d = d;
    ex->n = n;
    ex->x = malloc(n * d * sizeof *ex->x);
    ex->label = malloc(n * sizeof *ex->label);
    ex->stage = calloc(n, sizeof *ex->stage);
    ex->purchase = malloc(n * sizeof *ex->purchase);
    ex->event_time = malloc(n * sizeof *ex->event_time);
    ex->order = malloc(n * sizeof *ex->order);
    for (size_t i = 0; i < n; i++) {
        float *r = ex->x + i * d;
        for (size_t j = 0; j < d; j++)
            r[j] = ur() < 0.1 ? NAN : (float)(ur() * 10);
        double y = 4 + 0.3 * sin(r[1]) - (r[2] > 7 ? 1.2 : 0) + 0.1 * r[3] * (r[4] > 5) -
                   0.05 * r[5] + (ur() - 0.5) * 2;
        ex->label[i] = (float)fmin(5, fmax(1, floor(y + 0.5)));
        ex->purchase[i] = ex->event_time[i] = (int64_t)i;
        ex->order[i] = i;
    }
}

int main(int argc, char **argv)
{
    sf_err err;
    long rows = 200000;
    if (argc > 1 && sf_cli_long("ROWS", argv[1], 1, 100000000, &rows, &err) < 0) {
        fprintf(stderr, "bench_predict: %s\n", err.msg);
        return 2;
    }
    size_t n = (size_t)rows;
    sf_examples ex;
    const char *dir = getenv("OLIST_DIR");
    const char *source = "synthetic";
    if (dir && *dir) {
        sf_dataset ds;
        sf_load_opts o = {0};
        o.report = fopen("/dev/null", "w");
        if (sf_dataset_load(&ds, dir, &o, &err) < 0 ||
            sf_train_rows_of_dataset(&ex, &ds, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, NULL,
                                     &err) < 0) {
            fprintf(stderr, "bench_predict: %s\n", err.msg);
            return 1;
        }
        sf_dataset_free(&ds);
        fclose(o.report);
        source = "olist sample";
    } else {
        synth(&ex, 40000);
    }
    sf_model *m;
    if (sf_model_train(SF_ALGO_GBDT, &ex, NULL, NULL, &m, &err) < 0) {
        fprintf(stderr, "bench_predict: %s\n", err.msg);
        return 1;
    }
    size_t d = ex.d;
    /* n rows to score: the examples repeated */
    float *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * d, ex.x + (i % ex.n) * d, d * sizeof *x);
    double *s = malloc(n * sizeof *s), *p = malloc(n * sizeof *p);
    sf_reason *r = malloc(n * SF_REASONS * sizeof *r);
    int *nr = malloc(n * sizeof *nr);

    /* baseline: XGBoost, one thread, no reasons */
    size_t ulen;
    const uint8_t *ubj = sf_model_xgb_payload(m, &ulen);
    BoosterHandle b;
    DMatrixHandle dm;
    XGBoosterCreate(NULL, 0, &b);
    XGBoosterLoadModelFromBuffer(b, ubj, ulen);
    XGBoosterSetParam(b, "nthread", "1");
    XGDMatrixCreateFromMat_omp(x, n, d, NAN, &dm, 1);
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    const char *cfg = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                      "\"iteration_end\": 0, \"strict_shape\": false}";
    XGBoosterPredictFromDMatrix(b, dm, cfg, &shape, &dim, &res); /* warm-up */
    double best_x = 1e30, best_e = 1e30, best_p = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        /* a fresh matrix each time: XGBoost caches predictions per matrix */
        DMatrixHandle fresh;
        XGDMatrixCreateFromMat_omp(x, n, d, NAN, &fresh, 1);
        double t0 = now();
        XGBoosterPredictFromDMatrix(b, fresh, cfg, &shape, &dim, &res);
        double t1 = now();
        XGDMatrixFree(fresh);
        sf_model_explain(m, x, n, s, p, r, nr);
        double t2 = now();
        sf_model_predict(m, x, n, s, p);
        double t3 = now();
        best_x = fmin(best_x, t1 - t0);
        best_e = fmin(best_e, t2 - t1);
        best_p = fmin(best_p, t3 - t2);
    }
    /* exact TreeSHAP through XGBoost on a slice */
    size_t ns = n < 5000 ? n : 5000;
    DMatrixHandle ds5;
    XGDMatrixCreateFromMat_omp(x, ns, d, NAN, &ds5, 1);
    const char *ccfg = "{\"type\": 2, \"training\": false, \"iteration_begin\": 0, "
                       "\"iteration_end\": 0, \"strict_shape\": false}";
    double t0 = now();
    XGBoosterPredictFromDMatrix(b, ds5, ccfg, &shape, &dim, &res);
    double t_shap = now() - t0;

    const sf_model_info *in = sf_model_get_info(m);
    double rx = (double)n / best_x, re = (double)n / best_e, rp = (double)n / best_p;
    printf("## Batched predict with reasons (one core)\n\n");
    printf("Model: GBDT trained on %s rows (%zu), %d trees, depth <= %d, %zu features; "
           "%zu rows scored, best of 3.\n\n",
           source, ex.n, in->rounds, sf_model_get_params(m)->max_depth, d, n);
    printf("| method | rows/s | ratio vs XGBoost predict |\n|---|---:|---:|\n");
    printf("| XGBoosterPredictFromDMatrix, nthread=1, no reasons (baseline) | %.0f | 1.00 |\n", rx);
    printf("| satisfy trees: score + p + top-3 reasons | %.0f | %.2f |\n", re, re / rx);
    printf("| satisfy trees: score + p | %.0f | %.2f |\n", rp, rp / rx);
    printf("| XGBoost pred_contribs (exact TreeSHAP), %zu rows | %.0f | %.3f |\n\n", ns,
           (double)ns / t_shap, (double)ns / t_shap / rx);
    printf("Goal: >= 200000 rows/s with reasons: %s.\n\n", re >= 200000 ? "met" : "NOT met");
    XGDMatrixFree(ds5);
    XGDMatrixFree(dm);
    XGBoosterFree(b);
    free(x), free(s), free(p), free(r), free(nr);
    sf_model_free(m);
    sf_examples_free(&ex);
    return 0;
}
