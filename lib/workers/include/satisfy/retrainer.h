/*
 * retrainer.h - the streaming retrainer of `satisfy-retrainer run`, as
 * library calls so that the worker only parses options and handles signals.
 *
 * One consumer group on satisfy.orders, satisfy.reviews and
 * satisfy.predictions (read_committed). Per batch: decode, upsert into the
 * example store (store.h) in one SQLite transaction, commit the store, then
 * commit the Kafka offsets - so a crash replays at most the batch in flight
 * into idempotent upserts (no loss, no double count). Reviews that meet the
 * champion's delivered-stage prediction feed the online accuracy windows
 * (online.h), published to satisfy.metrics after the batch. Each new order
 * event and review also updates the live history (history_pub.h), whose
 * changed records are stored in the batch's transaction and published to
 * satisfy.history after the commit.
 *
 * Every N new reviews and/or every D days of event time, it reads the stored
 * events back and runs the batch pipeline (train.h) on them (with a training
 * window, window.h, the orders of the last train_window days, read by event
 * time, from a history checkpoint at the window start; with none, every
 * stored event, sf_store_events): train, gate against the registry's champion, register the run,
 * store its decision message in the registry, then publish it, released or
 * rejected, to satisfy.metrics (decision.h: key "decision-<version>",
 * asynchronous; close() drains it). A released version is published to
 * satisfy.models (key = version, value = the encoded release)
 * by an idempotent producer, waiting for the delivery report. Consumption
 * pauses while training (the loop simply does not poll; max.poll.interval.ms
 * is raised so the group keeps us). A due retrain waits while the consumer
 * is catching up (catchup.h): until it has been assigned partitions of
 * satisfy.orders and satisfy.reviews and has read each up to the high
 * watermark it had when the retrain fell due, so that it never trains on
 * part of a backlog (after a start or a restart, reviews ahead of their
 * orders); the deferred retrain runs as soon as that holds. On startup a
 * champion newer than the last release on satisfy.models is published, so a
 * retrainer killed between promotion and publication leaves no scorer
 * without its model; then every decision stored in the registry is
 * published again (same key and text; waiting at most 30 s for delivery),
 * so none is lost to a kill before delivery or to a broker that lost the
 * topic. Versions registered before registry schema 3 have none stored.
 *
 * Three calls, so that a worker can install its signal handlers once the
 * retrainer is subscribed and report a fatal error before the shutdown:
 *   sf_retrainer_open   opens the store and registry, checks the brokers,
 *                       publishes a missing champion, republishes the
 *                       stored decisions, subscribes;
 *   sf_retrainer_run    consumes batch after batch until *stop (the batch in
 *                       hand is finished and committed) or a fatal error;
 *   sf_retrainer_close  leaves the group, publishes a release still pending,
 *                       flushes the producer, logs the final counters, frees.
 * Progress goes to the log callback, one line per call (no newline); the
 * library prints nothing.
 */
#ifndef SATISFY_RETRAINER_H
#define SATISFY_RETRAINER_H

#include <signal.h>

#include "satisfy/challenge.h"
#include "satisfy/drift_detect.h"
#include "satisfy/error.h"
#include "satisfy/modelwatch.h"
#include "satisfy/train.h"

#define SF_RETRAINER_GROUP       "satisfy-retrainer"
#define SF_RETRAINER_EVERY       2000
#define SF_RETRAINER_MIN_REVIEWS 500
#define SF_RETRAINER_BATCH_MAX   5000 /* messages per store transaction */
#define SF_RETRAINER_BATCH_WAIT  500  /* ms to fill a batch */
/* s without any message after which a retrain waiting to catch up runs on
 * the store anyway (what is left cannot be read, e.g. an open transaction) */
#define SF_RETRAINER_CATCHUP_MAX  60
#define SF_RETRAINER_MAX_BAD_LOGS 20 /* bad messages logged; further ones counted */
/* days of data a retrain learns from by default; docs/model.md says why */
#define SF_RETRAINER_TRAIN_WINDOW 365

typedef struct sf_retrainer_opts {
    const char *brokers;      /* required */
    const char *const *props; /* -X key=value for consumer and producer (applied last) */
    int n_props;
    const char *registry;   /* registry.db, required (created if missing) */
    const char *store;      /* example store; NULL = registry path + ".store" */
    const char *group;      /* consumer group; default SF_RETRAINER_GROUP */
    const char *stats_file; /* optional: counters as one JSON line after every batch */
    long every;             /* retrain every N new reviews (0 = off) */
    double days;            /* retrain every D days of event time (0 = off) */
    long min_reviews;       /* reviews stored before the first retrain */
    long window;            /* online accuracy window per version */
    sf_train_opts train;    /* experiment "stream"; threads <= 0 means 2 */
    double train_window;    /* days of data a retrain learns from (window.h); 0 = all */
    int quiet;              /* no progress line every 30 s */
    sf_log_fn log;          /* optional */
    void *log_arg;
    const volatile sig_atomic_t *stop; /* required */
    /* optional: PEM Ed25519 private key; every release is signed with it
     * (release_sign.h). NULL = unsigned releases, warned about at start. */
    const char *signing_key;
    /* Outcome drift (drift_detect.h): Page-Hinkley on the absolute error of
     * every prediction joined with its review; its state goes to
     * satisfy.metrics (key "outcome-drift") and the stats file. With
     * retrain_on_drift an alarm makes a retrain due at once (after
     * min_reviews), its decision carrying "trigger": "outcome-drift". */
    sf_ph_opts drift;
    int retrain_on_drift;
    /* Input drift: with retrain_on_drift the retrainer also reads the
     * scorers' PSI messages on satisfy.metrics (drift.h); a watched feature
     * at or above input_drift_psi (default SF_INPUT_DRIFT_PSI) makes a
     * retrain due, once per model version (drift_detect.h), its decision
     * carrying "trigger": "input-drift" with the feature and its PSI. */
    double input_drift_psi;
    /* Shadow challengers (challenge.h). With challengers, a retrain the
     * gate rejects but that is not clearly worse (sf_gate_challenger_ok)
     * starts a challenge when none is open: its release and a ServingState
     * naming it the challenger are published. Whoever started it (the gate
     * or `registry challenge N`), the open challenge is judged here on the
     * live orders (satisfy.shadow joined with the champion's predictions
     * and the reviews), with these options; margin, resamples and seed are
     * the gate's (train.gate), confidence is challenge.gate.confidence. */
    int challengers;
    sf_challenge_opts challenge;
} sf_retrainer_opts;

/* The defaults: group, every, min_reviews, window (SF_ONLINE_WINDOW),
 * train_window (SF_RETRAINER_TRAIN_WINDOW), days 0,
 * sf_train_opts_default with experiment "stream"; everything else 0/NULL. */
void sf_retrainer_opts_default(sf_retrainer_opts *o);

typedef struct sf_retrainer sf_retrainer;

/* Everything up to the subscription. opts (and the strings it points to)
 * must outlive the retrainer. -1 with
 * err (and nothing left open) on a bad configuration, a store or registry
 * that does not open, unreachable brokers, a failed startup publication
 * ("startup publication: ...") or subscription ("subscribe: ..."). */
int sf_retrainer_open(sf_retrainer **out, const sf_retrainer_opts *opts, sf_err *err);

/* Runs until *stop (returns 0) or a fatal error: a fatal consumer error, a
 * store failure (the batch in hand is not committed), a failed retrain mark
 * (returns -1 with err). A failed training is logged and counted, not fatal;
 * a release that cannot be published is logged and retried after the next
 * batch. */
int sf_retrainer_run(sf_retrainer *rt, sf_err *err);

/* Shuts down and frees rt (NULL is a no-op). Returns 0, or -1 when a
 * released version could still not be published (logged; the next start
 * publishes it). */
int sf_retrainer_close(sf_retrainer *rt);

#endif
