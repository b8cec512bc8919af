/*
 * stats.c - the scorer's live counters (see satisfy/stats.h), and
 * the atomic writer of the workers' --stats-file.
 *
 * One mutex guards everything: the scoring loop takes it once per committed
 * batch and the HTTP thread once per request, so contention is negligible.
 * The rate is computed from a ring of one-second slots over the last
 * SF_RATE_WINDOW seconds.
 */
#include "satisfy/stats.h"
#include "satisfy/clock.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* fine below 100 ms, where the latency goals are, so that a p99 is not
 * interpolated across a 20-50 ms bucket */
const double sf_stats_bucket_ms[SF_STATS_BUCKETS] = {
    1, 2, 3, 5, 7.5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 200, 500, 1000, 2000, 5000, 10000, 60000};

#define SF_RATE_SLOTS  16
#define SF_RATE_WINDOW 10

struct sf_stats {
    pthread_mutex_t mu;
    sf_stats_snapshot s;
    double start;
    int64_t slot_sec[SF_RATE_SLOTS];
    uint64_t slot_n[SF_RATE_SLOTS];
    sf_prediction ring[SF_STATS_RECENT];
    size_t ring_next, ring_n;
};

sf_stats *sf_stats_new(void)
{
    sf_stats *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->start = sf_mono_s();
    s->s.lag = -1;
    s->s.history.behind = -1;
    s->s.history.newest_ts_ms = -1;
    for (int i = 0; i < SF_RATE_SLOTS; i++)
        s->slot_sec[i] = -1;
    return s;
}

void sf_stats_free(sf_stats *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void hist_add(sf_latency_hist *h, double ms)
{
    int b = 0;
    while (b < SF_STATS_BUCKETS && !(ms <= sf_stats_bucket_ms[b]))
        b++;
    h->count[b]++;
    h->n++;
    if (isfinite(ms))
        h->sum_ms += ms;
}

void sf_stats_batch(sf_stats *s, uint64_t n_events, uint64_t n_dlq, const sf_prediction *ring,
                    uint64_t n_pred, const double *e2e_ms, const double *process_ms, size_t n_lat)
{
    int64_t sec = (int64_t)(sf_mono_s() - s->start);
    pthread_mutex_lock(&s->mu);
    s->s.events += n_events;
    s->s.dlq += n_dlq;
    s->s.predictions += n_pred;
    s->s.batches++;
    s->s.aborts_in_row = 0;
    int k = (int)(sec % SF_RATE_SLOTS);
    if (s->slot_sec[k] != sec) {
        s->slot_sec[k] = sec;
        s->slot_n[k] = 0;
    }
    s->slot_n[k] += n_events;
    /* only the newest SF_STATS_RECENT can stay (and are all the caller's
     * ring holds): readers go back from ring_next, so where the kept ones
     * start does not matter */
    uint64_t first = n_pred > SF_STATS_RECENT ? n_pred - SF_STATS_RECENT : 0;
    for (uint64_t i = first; ring && i < n_pred; i++) {
        s->ring[s->ring_next] = ring[i % SF_STATS_RECENT];
        s->ring_next = (s->ring_next + 1) % SF_STATS_RECENT;
        if (s->ring_n < SF_STATS_RECENT)
            s->ring_n++;
    }
    for (size_t i = 0; i < n_lat; i++) {
        if (e2e_ms)
            hist_add(&s->s.e2e, e2e_ms[i]);
        if (process_ms)
            hist_add(&s->s.process, process_ms[i]);
    }
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_abort(sf_stats *s)
{
    pthread_mutex_lock(&s->mu);
    s->s.aborts++;
    s->s.aborts_in_row++;
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_backoff(sf_stats *s, uint64_t ms)
{
    pthread_mutex_lock(&s->mu);
    s->s.backoff_ms += ms;
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_model(sf_stats *s, int64_t version)
{
    pthread_mutex_lock(&s->mu);
    s->s.model_version = version;
    s->s.models_loaded++;
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_serving(sf_stats *s, int64_t epoch, int64_t champion)
{
    pthread_mutex_lock(&s->mu);
    s->s.serving_epoch = epoch;
    s->s.serving_champion = champion;
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_challenger(sf_stats *s, int64_t version)
{
    pthread_mutex_lock(&s->mu);
    s->s.challenger_version = version;
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_shadow(sf_stats *s, uint64_t n, uint64_t skipped)
{
    pthread_mutex_lock(&s->mu);
    s->s.shadow_predictions += n;
    s->s.shadow_skipped += skipped;
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_model_rejected(sf_stats *s)
{
    pthread_mutex_lock(&s->mu);
    s->s.models_rejected++;
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_release_rejected_signature(sf_stats *s)
{
    pthread_mutex_lock(&s->mu);
    s->s.models_rejected++;
    s->s.rejected_signature++;
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_lag(sf_stats *s, int64_t lag)
{
    pthread_mutex_lock(&s->mu);
    s->s.lag = lag;
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_set_history(sf_stats *s, const sf_stats_history *h)
{
    pthread_mutex_lock(&s->mu);
    s->s.history = *h;
    pthread_mutex_unlock(&s->mu);
}

void sf_stats_get(sf_stats *s, sf_stats_snapshot *out)
{
    double now = sf_mono_s() - s->start;
    int64_t sec = (int64_t)now;
    pthread_mutex_lock(&s->mu);
    *out = s->s;
    /* the last SF_RATE_WINDOW complete seconds (fewer right after start) */
    uint64_t n = 0;
    for (int i = 0; i < SF_RATE_SLOTS; i++)
        if (s->slot_sec[i] >= 0 && s->slot_sec[i] < sec && s->slot_sec[i] >= sec - SF_RATE_WINDOW)
            n += s->slot_n[i];
    pthread_mutex_unlock(&s->mu);
    int64_t window = sec < SF_RATE_WINDOW ? sec : SF_RATE_WINDOW;
    out->rate = window > 0 ? (double)n / (double)window : 0;
    out->uptime = now;
    out->history.newest_age_s = out->history.newest_ts_ms >= 0
                                    ? (double)(sf_wall_ms() - out->history.newest_ts_ms) / 1000.0
                                    : -1;
}

size_t sf_stats_recent(sf_stats *s, sf_prediction *out, size_t max)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->ring_n < max ? s->ring_n : max;
    for (size_t i = 0; i < n; i++)
        out[i] = s->ring[(s->ring_next + SF_STATS_RECENT - 1 - i) % SF_STATS_RECENT];
    pthread_mutex_unlock(&s->mu);
    return n;
}

double sf_latency_quantile(const sf_latency_hist *h, double q)
{
    if (h->n == 0)
        return NAN;
    double target = q * (double)h->n;
    uint64_t cum = 0;
    for (int b = 0; b <= SF_STATS_BUCKETS; b++) {
        uint64_t next = cum + h->count[b];
        if ((double)next >= target && h->count[b] > 0) {
            double lo = b == 0 ? 0 : sf_stats_bucket_ms[b - 1];
            if (b == SF_STATS_BUCKETS)
                return lo;
            double hi = sf_stats_bucket_ms[b];
            double f = (target - (double)cum) / (double)h->count[b];
            if (f < 0)
                f = 0;
            return lo + f * (hi - lo);
        }
        cum = next;
    }
    return sf_stats_bucket_ms[SF_STATS_BUCKETS - 1];
}

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(strbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n + 256;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static void prom_hist(strbuf *b, const char *name, const char *help, const sf_latency_hist *h)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < SF_STATS_BUCKETS; i++) {
        cum += h->count[i];
        sb_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, sf_stats_bucket_ms[i] / 1000.0,
                  (unsigned long long)cum);
    }
    sb_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->n);
    sb_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, h->sum_ms / 1000.0, name,
              (unsigned long long)h->n);
}

char *sf_stats_prometheus(const sf_stats_snapshot *s)
{
    strbuf b = {malloc(4096), 0, 4096, 0};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
#define COUNTER(n, h, v)                                                                           \
    sb_printf(&b, "# HELP " n " " h "\n# TYPE " n " counter\n" n " %llu\n", (unsigned long long)(v))
#define GAUGE(n, h, fmt, v)                                                                        \
    sb_printf(&b, "# HELP " n " " h "\n# TYPE " n " gauge\n" n " " fmt "\n", v)
    COUNTER("satisfy_scorer_events_total", "Order events consumed and committed.", s->events);
    COUNTER("satisfy_scorer_predictions_total", "Predictions committed.", s->predictions);
    COUNTER("satisfy_scorer_dlq_total", "Messages sent to satisfy.dlq.", s->dlq);
    COUNTER("satisfy_scorer_batches_total", "Committed batches.", s->batches);
    COUNTER("satisfy_scorer_aborts_total", "Aborted or retried batches.", s->aborts);
    COUNTER("satisfy_scorer_models_loaded_total", "Model releases activated.", s->models_loaded);
    COUNTER("satisfy_scorer_models_rejected_total", "Model releases rejected.", s->models_rejected);
    sb_printf(&b,
              "# HELP satisfy_scorer_releases_rejected_total Releases refused before parsing, "
              "by reason.\n# TYPE satisfy_scorer_releases_rejected_total counter\n"
              "satisfy_scorer_releases_rejected_total{reason=\"signature\"} %llu\n",
              (unsigned long long)s->rejected_signature);
    GAUGE("satisfy_scorer_model_version", "Version of the active model (0 = none).", "%lld",
          (long long)s->model_version);
    GAUGE("satisfy_scorer_serving_epoch",
          "Epoch of the ServingState obeyed (0 = none: the newest release is served).", "%lld",
          (long long)s->serving_epoch);
    GAUGE("satisfy_scorer_serving_champion",
          "Champion version named by the ServingState obeyed (0 = none).", "%lld",
          (long long)s->serving_champion);
    GAUGE("satisfy_scorer_challenger_version",
          "Version of the challenger scored as well, to satisfy.shadow (0 = none).", "%lld",
          (long long)s->challenger_version);
    COUNTER("satisfy_scorer_shadow_predictions_total",
            "Challenger predictions committed to satisfy.shadow.", s->shadow_predictions);
    COUNTER("satisfy_scorer_shadow_skipped_total",
            "Challenger predictions that did not encode, skipped (the input is not touched).",
            s->shadow_skipped);
    GAUGE("satisfy_scorer_consumer_lag", "Messages behind the high watermark (-1 unknown).", "%lld",
          (long long)s->lag);
    GAUGE("satisfy_scorer_events_per_second", "Events per second, last 10 s.", "%.3f", s->rate);
    GAUGE("satisfy_scorer_aborts_in_row",
          "Batches aborted and rewound since the last committed one (0 = progressing).", "%llu",
          (unsigned long long)s->aborts_in_row);
    GAUGE("satisfy_scorer_uptime_seconds", "Seconds since start.", "%.3f", s->uptime);
    const sf_stats_history *h = &s->history;
    GAUGE("satisfy_scorer_history_customers", "Customers in the live history.", "%llu",
          (unsigned long long)h->customers);
    GAUGE("satisfy_scorer_history_sellers", "Sellers in the live history.", "%llu",
          (unsigned long long)h->sellers);
    COUNTER("satisfy_scorer_history_records_total", "satisfy.history records applied.", h->records);
    COUNTER("satisfy_scorer_history_bad_records_total",
            "Malformed satisfy.history records skipped.", h->bad);
    GAUGE("satisfy_scorer_history_lag", "satisfy.history messages not yet applied (-1 unknown).",
          "%lld", (long long)h->behind);
    GAUGE("satisfy_scorer_history_newest_age_seconds",
          "Age of the newest satisfy.history record applied (-1 none).", "%.3f", h->newest_age_s);
#undef COUNTER
#undef GAUGE
    prom_hist(&b, "satisfy_scorer_e2e_latency_seconds",
              "Message timestamp to committed prediction.", &s->e2e);
    prom_hist(&b, "satisfy_scorer_process_latency_seconds",
              "Message received to committed prediction.", &s->process);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int sf_stats_write_file(const char *path, const char *text, sf_err *err)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return sf_errf(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sf_errf(err, "cannot write %s: %s", tmp, strerror(errno));
    int e = 0;
    if (fputs(text, f) < 0 || fflush(f) != 0)
        e = errno;
    if (fclose(f) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) == 0)
        return 0;
    if (!e)
        e = errno;
    unlink(tmp); /* a full disk leaves no empty or partial file behind */
    return sf_errf(err, "cannot write %s: %s", path, strerror(e));
}
