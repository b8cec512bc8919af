/*
 * seed_artifacts.c - writes the seed corpus of fuzz_release: small valid
 * model artifacts of every kind the loader reads (gbdt with calibration or a
 * second forest for p, ridge with calibration or logistic coefficients, the
 * seed and the full spec, a compressed body), each with a history snapshot
 * of a few synthetic sellers and customers. Synthetic rows only: no Olist
 * data goes into the corpus. The same seed gives the same trees (INFO's
 * train_seconds differs from run to run).
 *
 * usage: seed_artifacts DIR   (tests/fuzz/corpus/fuzz_release)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/history.h"
#include "satisfy/model.h"

static uint64_t rs = 0x2545f4914f6cdd1dULL;

static double urand(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

/* n rows of spec: the label follows the first two inputs; 10% missing. */
static void synth(sf_examples *ex, const sf_feature_spec *spec, size_t n)
{
    size_t d = (size_t)spec->n;
    memset(ex, 0, sizeof *ex);
    ex->spec = spec;
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
            r[j] = urand() < 0.1 ? NAN : (float)(urand() * 4 - 2);
        double y = 3.5 + (isnan(r[0]) ? 0 : r[0]) - 0.5 * (isnan(r[1]) ? 0 : r[1]) + urand() - 0.5;
        ex->label[i] = (float)fmin(5, fmax(1, floor(y + 0.5)));
        ex->purchase[i] = ex->event_time[i] = (int64_t)i;
        ex->order[i] = i;
    }
}

/* A few customers and sellers with purchases, deliveries (some late) and
 * reviews. */
static sf_history *synth_history(void)
{
    sf_history *h = sf_history_new();
    sf_err err;
    for (int i = 0; h && i < 8; i++) {
        sf_item it;
        memset(&it, 0, sizeof it);
        snprintf(it.seller_id, sizeof it.seller_id, "%032d", i % 3);
        sf_order_event ev;
        memset(&ev, 0, sizeof ev);
        snprintf(ev.order_id, sizeof ev.order_id, "%032d", 100 + i);
        snprintf(ev.customer_unique_id, sizeof ev.customer_unique_id, "%032d", i % 5);
        ev.items = &it;
        ev.n_items = 1;
        ev.stage = SF_STAGE_DELIVERED;
        ev.purchase = 1500000000000LL + i * 86400000LL;
        ev.estimated = ev.purchase + 10 * 86400000LL;
        ev.delivered = ev.purchase + (i % 2 ? 12 : 5) * 86400000LL;
        ev.event_time = ev.delivered;
        if (sf_history_add_purchase(h, &ev, &err) < 0 ||
            sf_history_add_delivery(h, &ev, &err) < 0 ||
            sf_history_add_review(h, &ev, 1 + i % 5, &err) < 0) {
            fprintf(stderr, "seed_artifacts: %s\n", err.msg);
            exit(1);
        }
    }
    return h;
}

static void write_seed(const char *dir, const char *name, sf_algo algo, const sf_feature_spec *spec,
                       sf_prob_method prob, int rounds, size_t rows, const sf_history *h)
{
    sf_examples ex;
    synth(&ex, spec, rows);
    sf_model_params p;
    sf_model_params_default(&p);
    p.prob = prob;
    p.rounds = rounds;
    p.max_depth = 2;
    p.nthread = 1;
    sf_model *m;
    sf_err err;
    uint8_t *buf;
    size_t len;
    if (sf_model_train(algo, &ex, NULL, &p, &m, &err) < 0) {
        fprintf(stderr, "seed_artifacts: %s: %s\n", name, err.msg);
        exit(1);
    }
    sf_model_set_window(m, 1500000000000LL, 1500000000000LL + 86400000LL);
    if (sf_model_set_history(m, h, &err) < 0 ||
        sf_model_set_metrics(m, "{\"rmse\":1.1,\"auc\":0.7}", &err) < 0 ||
        sf_model_save(m, &buf, &len, &err) < 0) {
        fprintf(stderr, "seed_artifacts: %s: %s\n", name, err.msg);
        exit(1);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "seed_artifacts: cannot write %s\n", path);
        exit(1);
    }
    printf("%s: %zu bytes\n", path, len);
    free(buf);
    sf_model_free(m);
    sf_examples_free(&ex);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seed_artifacts DIR\n");
        return 2;
    }
    sf_history *h = synth_history();
    if (!h)
        return 1;
    const char *d = argv[1];
    write_seed(d, "gbdt_calibration", SF_ALGO_GBDT, sf_spec_seed(), SF_PROB_CALIBRATION, 3, 300, h);
    write_seed(d, "gbdt_objective", SF_ALGO_GBDT, sf_spec_seed(), SF_PROB_OBJECTIVE, 2, 300, h);
    write_seed(d, "gbdt_full_spec", SF_ALGO_GBDT, sf_spec_full(), SF_PROB_CALIBRATION, 2, 300, h);
    write_seed(d, "gbdt_compressed", SF_ALGO_GBDT, sf_spec_seed(), SF_PROB_OBJECTIVE, 60, 1500, h);
    write_seed(d, "ridge_calibration", SF_ALGO_RIDGE, sf_spec_seed(), SF_PROB_CALIBRATION, 0, 300,
               h);
    write_seed(d, "ridge_objective", SF_ALGO_RIDGE, sf_spec_full(), SF_PROB_OBJECTIVE, 0, 300, h);
    sf_history_free(h);
    return 0;
}
