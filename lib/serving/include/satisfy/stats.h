/*
 * stats.h - the scorer's live counters, read by the HTTP endpoints (/metrics)
 * while the scoring loop writes them: events scored, their rate, two latency
 * histograms with fixed buckets, DLQ count, transaction aborts, the active
 * model version and the challenger's (shadow scoring) with its predictions,
 * consumer lag, and a ring of the most recent (champion) predictions.
 *
 * Latencies end when the prediction is committed (transaction committed, or
 * offsets committed in at-least-once mode):
 *   e2e      from the order message's timestamp (the time it was appended
 *            when the topic uses LogAppendTime or the producer stamps wall
 *            clock time; satisfy-producer stamps the historical event time,
 *            so during a replay these land in the +Inf bucket)
 *   process  from the moment the scorer received the message.
 * All calls are thread-safe (one mutex; the writer takes it once per batch).
 */
#ifndef SATISFY_STATS_H
#define SATISFY_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/event.h"

/* Upper bounds (ms) of the latency buckets; one more bucket is +Inf. */
#define SF_STATS_BUCKETS 21
extern const double sf_stats_bucket_ms[SF_STATS_BUCKETS];

#define SF_STATS_RECENT 64 /* predictions kept in the ring */

typedef struct sf_stats sf_stats;

typedef struct sf_latency_hist {
    uint64_t count[SF_STATS_BUCKETS + 1]; /* per bucket (not cumulative), last = +Inf */
    uint64_t n;
    double sum_ms;
} sf_latency_hist;

/* The live history (livehistory.h): records applied and skipped, entities
 * held, messages behind the topic's high watermarks (-1 unknown), and the
 * timestamp of the newest record applied (-1 none; sf_stats_get fills its
 * age, -1 none). */
typedef struct sf_stats_history {
    uint64_t records, bad;
    uint64_t sellers, customers;
    int64_t behind;
    int64_t newest_ts_ms;
    double newest_age_s;
} sf_stats_history;

typedef struct sf_stats_snapshot {
    uint64_t events;        /* order events consumed and committed (scored + DLQ) */
    uint64_t predictions;   /* predictions committed */
    uint64_t dlq;           /* messages sent to satisfy.dlq and committed */
    uint64_t batches;       /* committed batches */
    uint64_t aborts;        /* aborted transactions / retried batches */
    uint64_t aborts_in_row; /* of those, since the last committed batch (0 = progressing) */
    uint64_t backoff_ms;    /* waits asked by the back-off after aborted batches, ms */
    uint64_t models_loaded, models_rejected;
    int64_t model_version; /* 0 = none yet */
    int64_t lag;           /* consumer lag summed over assigned partitions, -1 unknown */
    double rate;           /* events per second over the last few seconds */
    double uptime;         /* seconds since sf_stats_new */
    sf_latency_hist e2e, process;
    /* of models_rejected: unsigned or wrongly signed releases */
    uint64_t rejected_signature;
    sf_stats_history history;
    /* the ServingState obeyed (modelwatch.h): its epoch and champion, 0 = none */
    int64_t serving_epoch, serving_champion;
    /* shadow scoring: the challenger scored with as well (0 = none), its
     * predictions committed to satisfy.shadow, and those skipped because
     * they did not encode */
    int64_t challenger_version;
    uint64_t shadow_predictions, shadow_skipped;
} sf_stats_snapshot;

/* NULL when out of memory. */
sf_stats *sf_stats_new(void);
void sf_stats_free(sf_stats *s);

/* One committed batch: n_events consumed, of which n_dlq went to the DLQ,
 * and n_pred predictions, laid out in ring as the scorer keeps them: the
 * i-th (from 0, in production order) is ring[i % SF_STATS_RECENT], so a
 * batch needs no more than SF_STATS_RECENT of room (fewer predictions are
 * simply contiguous; ring may be NULL when n_pred is 0). The newest go to
 * the recent ring; the latencies (n_lat values each, may be NULL) into the
 * histograms. */
void sf_stats_batch(sf_stats *s, uint64_t n_events, uint64_t n_dlq, const sf_prediction *ring,
                    uint64_t n_pred, const double *e2e_ms, const double *process_ms, size_t n_lat);
void sf_stats_abort(sf_stats *s);
/* The scorer waits ms before its next try after aborted batches in a row. */
void sf_stats_backoff(sf_stats *s, uint64_t ms);
void sf_stats_model(sf_stats *s, int64_t version); /* a model became active */
void sf_stats_model_rejected(sf_stats *s);
/* A release refused for its signature: counts in models_rejected too. */
void sf_stats_release_rejected_signature(sf_stats *s);
void sf_stats_lag(sf_stats *s, int64_t lag);
void sf_stats_serving(sf_stats *s, int64_t epoch, int64_t champion);
/* The challenger the scorer scores with as well (0 = none any more). */
void sf_stats_challenger(sf_stats *s, int64_t version);
/* A committed batch's challenger predictions: n produced to satisfy.shadow,
 * skipped that did not encode. */
void sf_stats_shadow(sf_stats *s, uint64_t n, uint64_t skipped);
void sf_stats_set_history(sf_stats *s, const sf_stats_history *h);

void sf_stats_get(sf_stats *s, sf_stats_snapshot *out);

/* Copies up to max of the most recent predictions, newest first; returns the
 * number copied. */
size_t sf_stats_recent(sf_stats *s, sf_prediction *out, size_t max);

/* The q-quantile (0..1) of a histogram in ms, interpolated inside its bucket
 * (the +Inf bucket reports its lower bound); NaN when empty. */
double sf_latency_quantile(const sf_latency_hist *h, double q);

/* Prometheus text exposition of a snapshot (malloc'd), or NULL. */
char *sf_stats_prometheus(const sf_stats_snapshot *snap);

/* Replaces the file path with text, atomically: writes "path.tmp", then
 * renames it over path, so a reader sees the old text or the new, never
 * part of one. On any failure (a full disk, a read-only directory) path is
 * left as it was and no temporary file is left behind: -1 with err naming
 * the file and the reason. For the workers' --stats-file. */
int sf_stats_write_file(const char *path, const char *text, sf_err *err);

#endif
