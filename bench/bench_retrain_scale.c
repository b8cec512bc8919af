/*
 * bench_retrain_scale.c - one streaming retrain on a store of a given size,
 * through the library, without Kafka (scale/retrain.sh drives it).
 *
 *   bench_retrain_scale fill DATA_DIR STORE
 *       the lifecycle events of the Olist tables in DATA_DIR, in event-time
 *       order, upserted into STORE (sf_store_put_*) in transactions of 5,000:
 *       what `satisfy-retrainer run` stores from the topics, minus Kafka.
 *   bench_retrain_scale retrain STORE REGISTRY DAYS LAG_DAYS
 *       DAYS = 0: the retrain as before windows: every stored event
 *       (sf_store_events) through sf_train_run.
 *       DAYS > 0: the checkpoint is first built at the window start minus
 *       LAG_DAYS (where the previous retrain left it; timed apart, as the
 *       start-up cost), then one retrain is timed: the checkpoint moves
 *       LAG_DAYS forward, the window is read and trained on.
 *     Prints one line of key=value: retrain_s, peak_rss_mb (the process's
 *     peak during the timed retrain alone: VmHWM is reset just before it
 *     through /proc/self/clear_refs), startup_s, rows, events read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/clock.h"
#include "satisfy/lifecycle.h"
#include "satisfy/olist.h"
#include "satisfy/registry.h"
#include "satisfy/store.h"
#include "satisfy/train.h"
#include "satisfy/window.h"

#define DAY_MS (86400LL * 1000)

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int fill(const char *dir, const char *path)
{
    sf_err err;
    sf_dataset ds;
    sf_load_opts lo = {.strict = false, .report = NULL};
    if (sf_dataset_load(&ds, dir, &lo, &err) != 0) {
        fprintf(stderr, "bench_retrain_scale: %s\n", err.msg);
        return 1;
    }
    sf_event_ref *refs;
    size_t n = sf_lifecycle_build(&ds, SF_TIME_NONE, SF_TIME_NONE, &refs, &err);
    sf_store *s;
    if (n == (size_t)-1 || sf_store_open(&s, path, &err) != 0) {
        fprintf(stderr, "bench_retrain_scale: %s\n", err.msg);
        sf_dataset_free(&ds);
        return 1;
    }
    double t0 = sf_mono_s();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i += 5000) {
        rc = sf_store_begin(s, &err);
        for (size_t j = i; rc == 0 && j < n && j < i + 5000; j++) {
            const sf_event_ref *r = &refs[j];
            if (r->kind == SF_EV_ORDER) {
                sf_order_event ev;
                rc = sf_lifecycle_event(r->order, r->stage, &ev) != 0 ||
                     sf_store_put_order(s, &ev, &err) < 0;
            } else {
                sf_review_event ev;
                sf_lifecycle_review(r->order, r->review, &ev);
                rc = sf_store_put_review(s, &ev, NULL, NULL, &err) < 0;
            }
        }
        if (rc == 0)
            rc = sf_store_commit(s, &err);
    }
    if (rc != 0)
        fprintf(stderr, "bench_retrain_scale: fill: %s\n", err.msg);
    else
        printf("events=%zu fill_s=%.1f\n", n, sf_mono_s() - t0);
    sf_store_close(s);
    free(refs);
    sf_dataset_free(&ds);
    return rc ? 1 : 0;
}

static int retrain(const char *store, const char *registry, double days, double lag)
{
    sf_err err;
    sf_store *s;
    sf_registry *reg;
    if (sf_store_open(&s, store, &err) != 0 || sf_registry_open(&reg, registry, NULL, &err) != 0) {
        fprintf(stderr, "bench_retrain_scale: %s\n", err.msg);
        return 1;
    }
    sf_train_opts o;
    sf_train_opts_default(&o);
    o.experiment = "bench";
    o.source = store;
    sf_window *w = days > 0 ? sf_window_new() : NULL;
    double startup = 0;
    size_t startup_events = 0;
    if (w) {
        sf_store_counts c;
        if (sf_store_progress(s, &c, &err) != 0)
            goto fail;
        int64_t prev = sf_window_start(c.max_event_time, days) - (int64_t)(lag * DAY_MS);
        sf_window_info wi;
        double t = sf_mono_s();
        if (sf_window_advance(w, s, prev, &wi, &err) != 0)
            goto fail;
        startup = sf_mono_s() - t;
        startup_events = wi.advance_orders + wi.advance_reviews;
    }
    long rss_before = status_kb("VmRSS");
    if (reset_peak() != 0)
        fprintf(stderr, "bench_retrain_scale: cannot reset the peak RSS (/proc/self/clear_refs)\n");
    sf_train_report rep;
    sf_window_info info;
    double t0 = sf_mono_s();
    if (sf_window_retrain(w, s, days, reg, &o, &rep, &info, &err) != 0)
        goto fail;
    double secs = sf_mono_s() - t0;
    printf("days=%g retrain_s=%.1f peak_rss_mb=%.0f rss_before_mb=%.0f startup_s=%.1f "
           "startup_events=%zu advance_events=%zu read_events=%zu read_s=%.1f rows=%zu "
           "labeled=%zu features_s=%.1f train_s=%.1f rmse=%.4f\n",
           days, secs, status_kb("VmHWM") / 1024.0, rss_before / 1024.0, startup, startup_events,
           info.advance_orders + info.advance_reviews, info.n_orders + info.n_reviews,
           info.read_seconds, rep.n_rows, rep.n_labeled, rep.seconds[SF_STEP_FEATURES],
           rep.seconds[SF_STEP_TRAIN], rep.gate.rmse_candidate);
    sf_window_free(w);
    sf_registry_close(reg);
    sf_store_close(s);
    return 0;
fail:
    fprintf(stderr, "bench_retrain_scale: %s\n", err.msg);
    sf_window_free(w);
    sf_registry_close(reg);
    sf_store_close(s);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "fill") == 0)
        return fill(argv[2], argv[3]);
    if (argc == 6 && strcmp(argv[1], "retrain") == 0)
        return retrain(argv[2], argv[3], atof(argv[4]), atof(argv[5]));
    fprintf(stderr, "usage: bench_retrain_scale fill DATA_DIR STORE\n"
                    "       bench_retrain_scale retrain STORE REGISTRY DAYS LAG_DAYS\n");
    return 2;
}
