/*
 * bench_codec.c - codec throughput: the codec's direct Avro encoder and
 * decoder (sf_encode_* / sf_decode_*) against Avro-C's generic writer and
 * reader (tests/unit/codec_avroc_ref.h, how the codec worked before) on the
 * same events in the same run: the order and review events a replay of DIR
 * publishes, and one prediction per order event as the scorer emits them.
 *
 * The baseline does what the former codec did minus its validating walk: the
 * encoder checks the event (sf_check_*) and sets and writes generic values;
 * the decoder reads generic values, copies them into the struct and checks
 * it. So the ratios understate the former decoder's cost a little.
 *
 * usage: bench_codec --data DIR [--rounds N]
 * Prints one line per measure: "NAME fast F avroc A ratio R" (events/s, best
 * of N rounds each, alternating).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/unit/codec_avroc_ref.h"
#include "satisfy/cli.h"
#include "satisfy/codec.h"
#include "satisfy/lifecycle.h"
#include "satisfy/olist.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct events {
    sf_order_event *orders;
    size_t n_orders;
    sf_review_event *reviews;
    size_t n_reviews;
    sf_prediction *preds;
    /* each kind pre-encoded, back to back, for the decoders */
    sf_buf wire[3];
    size_t *off[3];
} events;

enum { K_ORDER, K_REVIEW, K_PRED };
static const char *const kind_name[3] = {"OrderEvent", "ReviewEvent", "Prediction"};

static sf_prediction prediction_for(const sf_order_event *o, size_t i)
{
    static const char *const feats[] = {"delivery_delay_days", "freight_ratio",
                                        "seller_dissatisfied_rate", "estimated_days", "n_items"};
    sf_prediction p;
    memset(&p, 0, sizeof p);
    memcpy(p.order_id, o->order_id, sizeof p.order_id);
    sf_event_id(o, p.event_id, sizeof p.event_id);
    p.stage = o->stage;
    p.score = 1.0 + (double)(i % 400) / 100.0;
    p.p_dissatisfied = (double)(i % 1000) / 1000.0;
    p.n_reasons = SF_REASONS;
    for (int k = 0; k < SF_REASONS; k++) {
        snprintf(p.reasons[k].feature, sizeof p.reasons[k].feature, "%s", feats[(i + k) % 5]);
        p.reasons[k].value = (i + k) % 7 ? (double)(i % 97) / 3.0 : NAN;
        p.reasons[k].contribution = -0.25 + (double)k * 0.125;
    }
    p.model_version = 3;
    p.event_time = o->event_time;
    p.scored_at = o->event_time + 1000;
    return p;
}

/* Runs one measure: kind k, fast or Avro-C, encode or decode; events/s. */
static double run(ref_codec *ref, events *e, int k, int fast, int decode)
{
    sf_err err;
    sf_buf b = {0};
    size_t n = k == K_REVIEW ? e->n_reviews : e->n_orders;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (!decode) {
            if (k == K_ORDER)
                rc = fast ? sf_encode_order(&e->orders[i], &b, &err)
                          : sf_check_order(&e->orders[i], &err) ||
                                ref_encode_order(ref, &e->orders[i], &b);
            else if (k == K_REVIEW)
                rc = fast ? sf_encode_review(&e->reviews[i], &b, &err)
                          : sf_check_review(&e->reviews[i], &err) ||
                                ref_encode_review(ref, &e->reviews[i], &b);
            else
                rc = fast ? sf_encode_prediction(&e->preds[i], &b, &err)
                          : sf_check_prediction(&e->preds[i], &err) ||
                                ref_encode_prediction(ref, &e->preds[i], &b);
        } else {
            const uint8_t *m = e->wire[k].data + e->off[k][i];
            size_t len = e->off[k][i + 1] - e->off[k][i];
            if (k == K_ORDER) {
                sf_order_event ev;
                rc = fast ? sf_decode_order(m, len, &ev, &err)
                          : ref_decode_order(ref, m, len, &ev) || sf_check_order(&ev, &err);
                sf_order_event_clear(&ev);
            } else if (k == K_REVIEW) {
                sf_review_event ev;
                rc = fast ? sf_decode_review(m, len, &ev, &err)
                          : ref_decode_review(ref, m, len, &ev) || sf_check_review(&ev, &err);
                sf_review_event_clear(&ev);
            } else {
                sf_prediction p;
                rc = fast ? sf_decode_prediction(m, len, &p, &err)
                          : ref_decode_prediction(ref, m, len, &p) || sf_check_prediction(&p, &err);
            }
        }
        if (rc) {
            fprintf(stderr, "bench_codec: %s %zu failed\n", kind_name[k], i);
            exit(1);
        }
    }
    double s = now_s() - t0;
    sf_buf_free(&b);
    return s > 0 ? (double)n / s : 0;
}

/* A bad option value: its message (cli.h) and the usage exit status. */
static int usage_error(const sf_err *err)
{
    fprintf(stderr, "bench_codec: %s\n", err->msg);
    return 2;
}

int main(int argc, char **argv)
{
    const char *data = NULL;
    int rounds = 3, c;
    static const struct option lopts[] = {{"data", required_argument, NULL, 'd'},
                                          {"rounds", required_argument, NULL, 'r'},
                                          {NULL, 0, NULL, 0}};
    sf_err err = {{0}};
    while ((c = getopt_long(argc, argv, "d:r:", lopts, NULL)) != -1) {
        if (c == 'd') {
            data = optarg;
        } else if (c == 'r') {
            if (sf_cli_int("--rounds", optarg, 1, 1000000, &rounds, &err) < 0)
                return usage_error(&err);
        } else {
            return 2;
        }
    }
    if (!data) {
        fprintf(stderr, "usage: bench_codec --data DIR [--rounds N]\n");
        return 2;
    }
    sf_dataset ds;
    sf_load_opts lo = {.report = stderr};
    if (sf_dataset_load(&ds, data, &lo, &err) != 0) {
        fprintf(stderr, "bench_codec: %s\n", err.msg);
        return 1;
    }
    sf_event_ref *ev = NULL;
    size_t n = sf_lifecycle_build(&ds, SF_TIME_NONE, SF_TIME_NONE, &ev, &err);
    ref_codec *ref = ref_new();
    if (n == (size_t)-1 || !ref) {
        fprintf(stderr, "bench_codec: %s\n",
                n == (size_t)-1 ? err.msg : "cannot set up the Avro-C reference codec");
        return 1;
    }
    events e = {0};
    e.orders = calloc(n + 1, sizeof *e.orders);
    e.reviews = calloc(n + 1, sizeof *e.reviews);
    e.preds = calloc(n + 1, sizeof *e.preds);
    for (size_t i = 0; i < n; i++) {
        if (ev[i].kind == SF_EV_ORDER) {
            sf_lifecycle_event(ev[i].order, ev[i].stage, &e.orders[e.n_orders]);
            e.preds[e.n_orders] = prediction_for(&e.orders[e.n_orders], e.n_orders);
            e.n_orders++;
        } else {
            sf_lifecycle_review(ev[i].order, ev[i].review, &e.reviews[e.n_reviews++]);
        }
    }
    for (int k = 0; k < 3; k++) {
        size_t m = k == K_REVIEW ? e.n_reviews : e.n_orders;
        sf_buf one = {0};
        e.off[k] = calloc(m + 1, sizeof(size_t));
        for (size_t i = 0; i < m; i++) {
            int rc = k == K_ORDER    ? sf_encode_order(&e.orders[i], &one, &err)
                     : k == K_REVIEW ? sf_encode_review(&e.reviews[i], &one, &err)
                                     : sf_encode_prediction(&e.preds[i], &one, &err);
            if (rc || sf_buf_reserve(&e.wire[k], e.wire[k].len + one.len, &err)) {
                fprintf(stderr, "bench_codec: %s\n", err.msg);
                return 1;
            }
            memcpy(e.wire[k].data + e.wire[k].len, one.data, one.len);
            e.wire[k].len += one.len;
            e.off[k][i + 1] = e.wire[k].len;
        }
        sf_buf_free(&one);
    }
    printf("events orders %zu reviews %zu predictions %zu\n", e.n_orders, e.n_reviews, e.n_orders);
    for (int k = 0; k < 3; k++)
        for (int decode = 0; decode < 2; decode++) {
            double best_fast = 0, best_ref = 0;
            for (int r = 0; r < rounds; r++) {
                double f = run(ref, &e, k, 1, decode);
                double a = run(ref, &e, k, 0, decode);
                if (f > best_fast)
                    best_fast = f;
                if (a > best_ref)
                    best_ref = a;
            }
            printf("%s_%s fast %.0f avroc %.0f ratio %.2f\n", kind_name[k],
                   decode ? "decode" : "encode", best_fast, best_ref,
                   best_ref > 0 ? best_fast / best_ref : 0);
        }
    for (int k = 0; k < 3; k++) {
        sf_buf_free(&e.wire[k]);
        free(e.off[k]);
    }
    free(e.orders);
    free(e.reviews);
    free(e.preds);
    ref_free(ref);
    free(ev);
    sf_dataset_free(&ds);
    return 0;
}
