/*
 * bench_train.c - GBDT training time through our C path, and the exact matrix
 * it trained on exported for the same training in python3-xgboost.
 *
 * Loads an Olist directory (a generated 100k-order dataset in the benchmark),
 * builds the "full" feature rows of every stage with the training code
 * (sf_train_rows_of_dataset), splits them by purchase time like training does
 * (sf_examples_time_split, most recent 15% of orders = validation), exports
 *   train.f32 valid.f32          rows, float32 row-major, NaN = missing
 *   train.label.f32 valid.label.f32   review scores 1..5, float32
 *   params.json                  n, d, rounds, nthread, and the XGBoost
 *                                params of both objectives (score and 1-2 star)
 * into OUT_DIR, then times sf_model_train(SF_ALGO_GBDT) on those rows with a
 * fixed number of boosting rounds (early stopping off: every run boosts
 * exactly `rounds` trees per objective). sf_model_train fits the score model
 * (reg:squarederror) and the 1-2 star model (binary:logistic), each evaluated
 * on the validation rows every round, plus our tree copies and the
 * calibration; bench/train_xgb.py does the same two trainings (with the
 * evaluation every round) on the exported files. The XGBoost params written
 * to params.json mirror lib/model/gbdt.c's set_params for the params used here;
 * the validation RMSE and AUC printed by both sides check that the two
 * trainings are the same.
 *
 * Prints one line of key=value pairs (seconds of each run, validation
 * metrics) for bench_train.sh. Usage:
 *   bench_train DATA_DIR OUT_DIR [rounds] [runs] [nthread]
 * OMP_WAIT_POLICY must be set before the process starts (libgomp reads it at
 * load time); when unset, the program sets it to passive and re-executes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "satisfy/cli.h"
#include "satisfy/features.h"
#include "satisfy/model.h"
#include "satisfy/olist.h"
#include "satisfy/train.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_file(const char *dir, const char *name, const void *p, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes || fclose(f) != 0) {
        fprintf(stderr, "bench_train: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static int export_rows(const char *dir, const char *name, const sf_examples *ex)
{
    char lab[256];
    snprintf(lab, sizeof lab, "%s.label.f32", name);
    char x[256];
    snprintf(x, sizeof x, "%s.f32", name);
    if (write_file(dir, x, ex->x, ex->n * ex->d * sizeof *ex->x) < 0)
        return -1;
    return write_file(dir, lab, ex->label, ex->n * sizeof *ex->label);
}

/* base_score as lib/model/gbdt.c sets it: the training mean of the label (score),
 * or of label <= 2 clipped to [1e-3, 1-1e-3] (binary). */
static double base_score(const sf_examples *tr, int binary)
{
    double b = 0;
    for (size_t i = 0; i < tr->n; i++)
        b += binary ? (tr->label[i] <= 2) : tr->label[i];
    b /= (double)tr->n;
    return binary ? fmin(fmax(b, 1e-3), 1 - 1e-3) : b;
}

static void params_obj(FILE *f, const sf_model_params *p, const sf_examples *tr, int binary)
{
    fprintf(f,
            "{\"tree_method\": \"hist\", \"nthread\": %d, \"objective\": \"%s\", "
            "\"eval_metric\": \"%s\", \"max_depth\": %d, \"eta\": %.17g, "
            "\"min_child_weight\": %.17g, \"subsample\": %.17g, \"colsample_bytree\": %.17g, "
            "\"lambda\": %.17g, \"max_bin\": %d, \"seed\": %llu, \"base_score\": %.17g, "
            "\"verbosity\": 0}",
            p->nthread, binary ? "binary:logistic" : "reg:squarederror",
            binary ? "logloss" : "rmse", p->max_depth, p->eta, p->min_child_weight, p->subsample,
            p->colsample, p->reg_lambda, p->max_bin, (unsigned long long)(p->seed & 0x7fffffff),
            base_score(tr, binary));
}

static int export_params(const char *dir, const sf_model_params *p, const sf_examples *tr,
                         const sf_examples *va)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/params.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_train: cannot write %s\n", path);
        return -1;
    }
    fprintf(f,
            "{\"n_train\": %zu, \"n_valid\": %zu, \"d\": %zu, \"rounds\": %d, \"nthread\": %d,\n",
            tr->n, va->n, tr->d, p->rounds, p->nthread);
    fprintf(f, " \"score\": ");
    params_obj(f, p, tr, 0);
    fprintf(f, ",\n \"binary\": ");
    params_obj(f, p, tr, 1);
    fprintf(f, "}\n");
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_train DATA_DIR OUT_DIR [rounds] [runs] [nthread]\n");
        return 2;
    }
    const char *ow = getenv("OMP_WAIT_POLICY");
    if (!ow || !*ow) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "bench_train: re-exec with OMP_WAIT_POLICY=passive failed\n");
        return 1;
    }
    const char *data = argv[1], *out = argv[2];
    int rounds = 200, runs = 1, nthread = 2;
    sf_err err;
    if ((argc > 3 && sf_cli_int("rounds", argv[3], 1, 100000, &rounds, &err) < 0) ||
        (argc > 4 && sf_cli_int("runs", argv[4], 1, 1000, &runs, &err) < 0) ||
        (argc > 5 && sf_cli_int("nthread", argv[5], 1, 256, &nthread, &err) < 0)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 2;
    }
    sf_dataset ds;
    sf_load_opts o = {0};
    o.report = fopen("/dev/null", "w");
    double t0 = now();
    if (sf_dataset_load(&ds, data, &o, &err) < 0) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    double t_load = now() - t0;
    sf_examples all, tr, va;
    t0 = now();
    if (sf_train_rows_of_dataset(&all, &ds, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, NULL,
                                 &err) < 0 ||
        sf_examples_time_split(&all, 0.15, &tr, &va, &err) == SF_TIME_NONE) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    double t_feat = now() - t0;
    size_t n_orders = ds.n_orders;
    sf_dataset_free(&ds);
    fclose(o.report);

    sf_model_params p;
    sf_model_params_default(&p);
    p.rounds = rounds;
    p.early_stopping = 0; /* boost exactly `rounds` trees per objective */
    p.nthread = nthread;
    p.prob = SF_PROB_AUTO; /* both objectives are fitted, as in production */
    if (export_rows(out, "train", &tr) < 0 || export_rows(out, "valid", &va) < 0 ||
        export_params(out, &p, &tr, &va) < 0)
        return 1;

    printf("orders=%zu rows=%zu train=%zu valid=%zu d=%zu rounds=%d nthread=%d load_s=%.3f "
           "features_s=%.3f",
           n_orders, all.n, tr.n, va.n, tr.d, rounds, nthread, t_load, t_feat);
    for (int r = 0; r < runs; r++) {
        sf_model *m;
        t0 = now();
        if (sf_model_train(SF_ALGO_GBDT, &tr, &va, &p, &m, &err) < 0) {
            fprintf(stderr, "\nbench_train: %s\n", err.msg);
            return 1;
        }
        double t = now() - t0;
        printf(" train_s=%.3f", t);
        if (r == runs - 1) {
            /* validation metrics of the raw (unclipped) XGBoost prediction,
             * the same quantity train_xgb.py computes */
            float *raw = malloc(va.n * sizeof *raw);
            if (sf_model_predict_xgboost(m, va.x, va.n, raw, &err) < 0) {
                fprintf(stderr, "\nbench_train: %s\n", err.msg);
                return 1;
            }
            double se = 0;
            for (size_t i = 0; i < va.n; i++)
                se += ((double)raw[i] - va.label[i]) * ((double)raw[i] - va.label[i]);
            const sf_model_info *in = sf_model_get_info(m);
            /* trees kept = best validation round + 1 (all `rounds` are
             * boosted); auc_objective is the 1-2 star model's AUC */
            printf(" trees=%d valid_rmse=%.6f valid_auc_binary=%.6f prob_kept=%s", in->rounds,
                   sqrt(se / (double)va.n), in->auc_objective,
                   in->prob == SF_PROB_OBJECTIVE ? "objective" : "calibration");
            free(raw);
        }
        sf_model_free(m);
    }
    printf("\n");
    sf_examples_free(&all);
    sf_examples_free(&tr);
    sf_examples_free(&va);
    return 0;
}
