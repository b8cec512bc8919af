/*
 * livehistory.h - the scorer's seller and customer history as live state:
 * a follower thread (kafka_follow.h) reads satisfy.history (SF_TOPIC_HISTORY,
 * compacted, written by satisfy-retrainer) from the beginning on every
 * partition, outside any consumer group, and applies each record
 * (sf_history_apply: the entity's full state, empty = tombstone) into one
 * sf_history, which the scoring loop reads through the same feature code as
 * training (features.c). A read lock is taken per block of events, the
 * write lock per record.
 *
 * Start-up: sf_livehist_wait blocks until the follower has read up to the
 * high watermarks asked at that time (the state as published when the
 * scorer started), bounded: a scorer then scores with what it has and says
 * so. A malformed record is logged with its partition and offset, counted
 * (satisfy_scorer_history_bad_records_total) and skipped; the follower goes
 * on.
 *
 * Older releases carry a history snapshot (artifact section HIST): while
 * the follower has applied no record, the newest such snapshot seeds the
 * state (sf_livehist_seed), so a scorer on a cluster without a publishing
 * retrainer scores as it did before; records applied later override the
 * seeded entities one by one. A snapshot of the former format 1 (32-bit
 * customer keys) cannot take records: it is dropped at the first record.
 */
#ifndef SATISFY_LIVEHISTORY_H
#define SATISFY_LIVEHISTORY_H

#include <signal.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/history.h"
#include "satisfy/kafka.h"
#include "satisfy/log.h"
#include "satisfy/stats.h"

typedef struct sf_livehist sf_livehist;

typedef struct sf_livehist_opts {
    const char *topic; /* default SF_TOPIC_HISTORY */
    sf_stats *stats;   /* optional: the satisfy_scorer_history_* metrics */
    /* the cluster is satisfy-broker, whose fetches are held for the whole
     * fetch.wait.max.ms even when data arrives: the follower then waits 20
     * ms, not librdkafka's 500, so a record is applied about 0.5 s sooner */
    int embedded;
    sf_log_fn log; /* optional, called from the follower's thread too */
    void *log_arg;
} sf_livehist_opts;

typedef struct sf_livehist_counts {
    uint64_t records; /* records applied */
    uint64_t bad;     /* malformed records skipped */
    uint64_t sellers; /* entities held now */
    uint64_t customers;
    int64_t newest_ts_ms; /* timestamp of the newest record applied, -1 none */
    int64_t behind;       /* messages behind the high watermarks, -1 unknown */
    int seeded;           /* the state was seeded from a release's snapshot */
} sf_livehist_counts;

/* Starts the follower. NULL with err set. */
sf_livehist *sf_livehist_start(const sf_kafka_conn *conn, const sf_livehist_opts *opts,
                               sf_err *err);
void sf_livehist_stop(sf_livehist *lh); /* NULL is fine */

/* Waits until the follower has read every partition up to the high
 * watermarks asked now, at most `seconds` (or until *stop). Logs the
 * rebuild: records, entities and time, or a warning when the bound ends
 * the wait. Returns 1 caught up, 0 not (timed out, stopped). */
int sf_livehist_wait(sf_livehist *lh, double seconds, const volatile sig_atomic_t *stop);

/* The history under the read lock, until sf_livehist_unlock. */
const sf_history *sf_livehist_lock(sf_livehist *lh);
void sf_livehist_unlock(sf_livehist *lh);

/* Seeds the state with a copy of snapshot (an older release's, of model
 * `version`) when no record has been applied yet; returns 1 seeded, 0 not
 * (records came first: said in the log), -1 out of memory (err set). */
int sf_livehist_seed(sf_livehist *lh, const sf_history *snapshot, int64_t version, sf_err *err);

/* The counters now; `behind` asks the follower's position (cheap). */
void sf_livehist_get(sf_livehist *lh, sf_livehist_counts *out);

/* Pushes the counters to the stats given at start (no-op without). */
void sf_livehist_publish(sf_livehist *lh);

#endif
