/*
 * scorer.h - the consume-score-produce loop of satisfy-scorer, as one library
 * call so that the worker's main() only parses options and handles signals.
 *
 * Life of a run:
 *   1. a producer is created and the brokers are checked (bounded time);
 *   1b. the history follower (livehistory.h) starts reading satisfy.history
 *      from the beginning; the run waits until it has read up to the high
 *      watermarks of that moment, at most history_wait_s, then goes on
 *      (a warning says how much it has); the follower keeps applying new
 *      records while the loop runs, and the features of every event read
 *      that live history (a read lock per block of 16 events). A release
 *      with a history snapshot (made before the live history) seeds it
 *      while no record has been applied;
 *   2. the model watcher (modelwatch.h) starts following satisfy.models;
 *      until it has a valid model the loop waits, says so through the log
 *      callback, and does not subscribe (so it consumes and commits nothing);
 *   3. the consumer joins the group on satisfy.orders (read_committed, no
 *      auto commit) and the loop runs batch after batch: up to batch_max
 *      messages or batch_ms after the first one; each message is decoded
 *      (sf_decode_order, or its JSON view when it starts with '{'), checked
 *      (key = order_id), turned into a feature row
 *      (sf_model_prepare_event) and scored 16 rows at a time
 *      (sf_model_score_rows) into a Prediction on satisfy.predictions,
 *      key = order_id, header event_id = "<order_id>:<STAGE>" (also in the
 *      value) and header model_version; a message that fails goes to
 *      satisfy.dlq (dlq.h) and the loop goes on;
 *   4. exactly-once (default): each batch is one transaction - begin,
 *      produce, send_offsets_to_transaction with the consumer's group
 *      metadata, commit. An abortable error aborts and rewinds the consumer
 *      to the committed offsets, then the batch is consumed again; a fatal
 *      error (e.g. fenced by a newer instance with the same transactional.id)
 *      ends the run with -1 and the reason.
 *      At-least-once: an idempotent producer; offsets are committed after
 *      every message of the batch is confirmed delivered.
 *   4b. with opts.alerts, a prediction whose risk first reaches the alert
 *      threshold also makes an Alert on satisfy.alerts in the same batch
 *      (transaction), once per order (alerts.h);
 *   5. models are swapped between batches; every prediction carries the
 *      version of the model that made it;
 *   6. when *stop becomes non-zero the current batch is finished and
 *      committed, the consumer closes (leaves the group) and the call
 *      returns 0; before the first batch (waiting for a model or in
 *      init_transactions) it returns 0 at once. Every wait on the
 *      transaction coordinator is retried in 1 s slices for at most
 *      SF_SCORER_TXN_WAIT_S, and a second stop (*stop > 1) ends it at once
 *      (-1: the batch in hand is left uncommitted, scored again later).
 *
 * transactional.id = "satisfy-scorer.<group>.<instance_id>". It must be
 * stable across restarts of the same instance (so init_transactions fences
 * the zombie of a killed instance and aborts its open transaction at once)
 * and distinct between instances running at the same time (else they fence
 * each other). satisfy-scorer defaults instance_id to the host name.
 */
#ifndef SATISFY_SCORER_H
#define SATISFY_SCORER_H

#include <signal.h>
#include <stddef.h>

#include "satisfy/drift.h"
#include "satisfy/alerts.h"
#include "satisfy/error.h"
#include "satisfy/livehistory.h"
#include "satisfy/modelwatch.h"
#include "satisfy/stats.h"

#define SF_SCORER_GROUP      "satisfy-scorer"
#define SF_SCORER_BATCH      10000
#define SF_SCORER_BATCH_MS   20
#define SF_SCORER_TXN_ID_MAX 512
/* The longest a transactional call (init, send offsets, commit, abort) is
 * retried while the coordinator answers with retriable errors: the default
 * transaction.timeout.ms, after which the coordinator aborts it anyway. */
#define SF_SCORER_TXN_WAIT_S 60
/* The longest a starting scorer waits for its history to be rebuilt from
 * satisfy.history (a million customers take a few seconds; see
 * docs/benchmarks.md). */
#define SF_SCORER_HISTORY_WAIT_S 60

typedef struct sf_scorer_opts {
    const char *brokers;
    const char *const *props; /* -X key=value for every client (applied last, they win) */
    int n_props;
    const char *group;       /* default SF_SCORER_GROUP */
    const char *instance_id; /* required in exactly-once mode */
    int at_least_once;
    int batch_max;          /* default SF_SCORER_BATCH */
    int batch_ms;           /* default SF_SCORER_BATCH_MS */
    int connect_timeout_ms; /* default 10000 */
    sf_stats *stats;        /* optional */
    sf_log_fn log;          /* optional, called from the scoring and watcher threads */
    void *log_arg;
    /* Required. Non-zero (a first SIGTERM/SIGINT): finish and commit the
     * batch in hand, then return 0. Above 1 (a second): give up waiting at
     * once - the batch's transaction is left uncommitted and the call
     * returns -1 saying so (cli.h's sf_cli_stop_signal counts them). */
    const volatile sig_atomic_t *stop;
    /* The cluster: SF_SCORER_CLUSTER_DETECT (0: satisfy-broker's mock is
     * recognised by its cluster id, sf_kafka_is_embedded), or said outright
     * (tests: the mock taken for real Kafka) */
    int cluster;
    /* Optional public key: the model watcher loads only releases it signed
     * (modelwatch.h, release_sign.h); NULL = unsigned mode, warned about at
     * start. Must outlive the run. */
    const sf_release_key *verify_key;
    /* The history wait at start, seconds (0: SF_SCORER_HISTORY_WAIT_S;
     * negative: do not wait) */
    double history_wait_s;
    /* Diagnostic (--history-features): appends "event_id" then the history
     * features of the row each scored event got, one line per event scored
     * (an event scored again after an abort appears again). NULL = off. */
    const char *history_features;
    /* Optional: called with the run's live history once it is started, and
     * with NULL before it stops (satisfy-scorer hands it to its HTTP API:
     * sf_http_set_history), from the run's thread. */
    void (*on_history)(void *arg, sf_livehist *lh);
    void *on_history_arg;
    /* Optional input drift (drift.h): the rows scored go into its window and
     * its PSI goes to satisfy.metrics every interval, in the batch's
     * transaction. NULL = off. Must outlive the run. */
    sf_drift *drift;
    /* Optional: at-risk order alerts (alerts.h) to satisfy.alerts, in the
     * batch's transaction, to the partition of the order's message; the
     * alerted set is rebuilt from satisfy.alerts for every assignment.
     * NULL = no alerts (satisfy-scorer always gives one). Must outlive the
     * run; the HTTP API may read it meanwhile. */
    sf_alerts *alerts;
} sf_scorer_opts;

#define SF_SCORER_CLUSTER_DETECT   0
#define SF_SCORER_CLUSTER_KAFKA    1
#define SF_SCORER_CLUSTER_EMBEDDED 2

/* "satisfy-scorer.<group>.<instance_id>" into buf; -1 with err if it does not
 * fit or instance_id is empty. */
int sf_scorer_transactional_id(const char *group, const char *instance_id, char *buf, size_t len,
                               sf_err *err);

/* Runs until *stop (returns 0 after a clean shutdown) or a fatal error
 * (returns -1 with err set: configuration, unreachable brokers, fenced
 * producer, fatal Kafka error). */
int sf_scorer_run(const sf_scorer_opts *opts, sf_err *err);

#endif
