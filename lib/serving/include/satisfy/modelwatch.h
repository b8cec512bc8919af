/*
 * modelwatch.h - follows satisfy.models and hands the model to serve to the
 * scorer: the champion of the highest-epoch ServingState (serving_state.h),
 * or, with no ServingState on the topic, the newest valid release.
 *
 * A topic follower (kafka_follow.h) reads satisfy.models from the beginning
 * (its one partition, or every one) with its own consumer outside any group
 * (assign, not subscribe; nothing is committed), so every scorer instance
 * sees every release. Each release is
 * decoded and its model loaded (checksum, spec hash, algorithm); a release
 * that fails is reported through the log callback and ignored. Every valid
 * release is kept by version (its message bytes, 30-80 KB; loaded again
 * when it is to be served), older ones too: a rollback may name them. With
 * a verify key (release_sign.h) each message must first carry a valid
 * signature over its key-version and value, and that version must not be
 * kept already, before any byte of the value is parsed; unsigned or wrongly
 * signed releases are logged ("ignoring unsigned or wrongly signed release
 * ..."), counted (sf_stats_release_rejected_signature) and ignored.
 *
 * Messages under the key "serving" are ServingStates: checked the same way
 * (signature first, with a key: "ignoring unsigned or wrongly signed
 * serving state ..."), and obeyed when their epoch is above the highest
 * seen. The model to serve is the champion of that state, whatever its
 * version; a champion not seen yet is waited for (logged once) while the
 * current model goes on. With no ServingState the newest version is served,
 * as before ServingStates existed. Reading from the beginning, a restarted
 * or new scorer ends on the same model as the others; and it hands out no
 * model before it has read what was on the topic when it started (partition
 * 0 up to its high watermark then, at most 10 s), so it does not score with
 * a release that a later ServingState rolled back.
 *
 * The model to serve is parked in a one-slot mailbox; the scoring loop
 * takes it between batches (sf_modelwatch_take) and from then on owns it, so
 * a swap never happens in the middle of a batch and needs no restart.
 *
 * Shadow challengers: the highest-epoch state may also name a challenger
 * (serving_state.h). When it is non-zero, not the champion and its release
 * is kept, it is loaded (again, from its kept bytes) and parked in a second
 * one-slot mailbox (sf_modelwatch_take_challenger), which the scorer takes
 * between batches too: it then scores every event with it as well, to
 * satisfy.shadow. A challenger not seen yet is waited for (logged once)
 * with no challenger meanwhile; a state naming none (cause "retire", or
 * "live": the challenger became the champion, or any other) parks "none".
 * Log lines: "model N is the challenger: scored as well, to satisfy.shadow
 * (serving state epoch E)", "no challenger now (was model N): serving
 * state epoch E".
 */
#ifndef SATISFY_MODELWATCH_H
#define SATISFY_MODELWATCH_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/error.h"
#include "satisfy/kafka.h"
#include "satisfy/log.h"
#include "satisfy/model.h"
#include "satisfy/release_sign.h"
#include "satisfy/serving_state.h"
#include "satisfy/stats.h"

typedef struct sf_modelwatch sf_modelwatch;

typedef struct sf_modelwatch_opts {
    /* optional; called from the watcher thread with one line, e.g. "model 3
     * (gbdt, spec 0123...) loaded" or "ignoring release at offset 4: ..." */
    sf_log_fn log;
    void *log_arg;
    sf_stats *stats;   /* optional: rejected releases are counted there */
    const char *topic; /* default SF_TOPIC_MODELS */
    /* optional public key: only releases it signed are loaded (NULL =
     * unsigned mode, the demo). Borrowed: must outlive the watcher. */
    const sf_release_key *verify_key;
} sf_modelwatch_opts;

/* Creates the consumer (kafka.h's model watcher role, on conn's brokers
 * with its -X) and starts the thread. NULL with err set. */
sf_modelwatch *sf_modelwatch_start(const sf_kafka_conn *conn, const sf_modelwatch_opts *opts,
                                   sf_err *err);

/* Stops the thread, closes the consumer, frees a model not taken. */
void sf_modelwatch_stop(sf_modelwatch *mw);

#define SF_MODELWATCH_HISTORY 32 /* ServingStates remembered for the timeline */

/* If a model other than the last one taken is waiting, moves it to *model
 * (the caller frees it with sf_model_free) and its version to *version and
 * returns 1; otherwise returns 0 and leaves both alone. Waits up to
 * timeout_ms (0 = do not wait) for one to arrive. */
int sf_modelwatch_take(sf_modelwatch *mw, int timeout_ms, sf_model **model, int64_t *version);

/* The challenger to score with as well (shadow scoring, without waiting):
 * 1 when it changed since the last take, then *model is the loaded
 * challenger (the caller frees it) and *version its version, or *model NULL
 * and *version 0 when there is no challenger any more; else 0, both left
 * alone. A challenger equal to the champion is never handed out. */
int sf_modelwatch_take_challenger(sf_modelwatch *mw, sf_model **model, int64_t *version);

/* Messages seen so far: loaded (valid releases, kept) and ignored (any
 * reason, signature rejections included; ServingStates not above the epoch
 * obeyed too). */
void sf_modelwatch_counts(sf_modelwatch *mw, uint64_t *loaded, uint64_t *ignored);
/* Of the ignored, those refused for their signature (unsigned, wrong key,
 * altered bytes) before anything was parsed. */
uint64_t sf_modelwatch_rejected_signature(sf_modelwatch *mw);

/* Loads the model of one encoded release message (for the watcher and for
 * tests): decode, then sf_model_from_release. Returns 0 with *model and
 * *version, or -1 with err set. */
int sf_modelwatch_load(const void *buf, size_t len, sf_model **model, int64_t *version,
                       sf_err *err);

/* The ServingState obeyed (epoch 0 = none seen) into *cur, and up to max of
 * the last SF_MODELWATCH_HISTORY accepted, oldest first, into hist; returns
 * how many. */
size_t sf_modelwatch_serving(sf_modelwatch *mw, sf_serving_state *cur, sf_serving_state *hist,
                             size_t max);

/* Up to max of the kept release versions, ascending (the newest max);
 * returns how many. */
size_t sf_modelwatch_kept(sf_modelwatch *mw, int64_t *versions, size_t max);

#endif
