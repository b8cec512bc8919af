/*
 * store.h - the streaming retrainer's example store: one SQLite file holding
 * every order event, review and delivered-stage prediction it has consumed,
 * so that a replay, a redelivery or a restart never counts anything twice.
 *
 * Tables (all writes are idempotent upserts):
 *   order_events  (order_id, stage) -> event time and the Avro body
 *   reviews       (review_id, order_id) -> score, times, Avro body, and a
 *                 sequence number given on first insert (never changed by an
 *                 upsert), which is how "new reviews since the last retrain"
 *                 is counted. Olist reuses a few review_ids across orders,
 *                 hence the pair as the key.
 *   predictions   order_id -> the delivered-stage prediction (model version,
 *                 score, p) and whether it has been paired with a review for
 *                 online accuracy (each order is paired at most once)
 *   meta          retrain bookkeeping (sequence mark, event time of the last
 *                 retrain, newest event time seen), and the history's
 *                 published-through mark
 *   history       the live history's records as carried on satisfy.history
 *                 (history.h): 9-byte key -> the entity's full state (NULL
 *                 for a tombstone), and a sequence number given at every
 *                 upsert, so that the rows not yet confirmed published are
 *                 those above the published-through mark
 *
 * The caller groups one batch of upserts in begin/commit and commits its
 * Kafka offsets only after sf_store_commit returns: a crash in between
 * replays the batch into the same keys. WAL mode, busy timeout; bodies are
 * re-encoded by the store (sf_encode_*), which checks every event first, so
 * a bad event is refused with its id and reason and nothing is written.
 *
 * sf_store_events reads back every stored order event and review, decoded
 * from the stored bodies: what the pipeline trains on (training_rows.h).
 * With a training window the retrainer reads ranges instead (below), so one
 * retrain reads what its window needs, not everything stored.
 */
#ifndef SATISFY_STORE_H
#define SATISFY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/event.h"
#include "satisfy/training_rows.h"

typedef struct sf_store sf_store;

/* Opens (creating if needed) the store at path. */
int sf_store_open(sf_store **out, const char *path, sf_err *err);
void sf_store_close(sf_store *s);

/* One transaction around a batch of upserts. rollback never fails. */
int sf_store_begin(sf_store *s, sf_err *err);
int sf_store_commit(sf_store *s, sf_err *err);
void sf_store_rollback(sf_store *s);

/* A delivered-stage prediction paired with the review of its order. */
typedef struct sf_store_pair {
    sf_id order_id;
    int64_t model_version;
    double label; /* review score */
    double score, p;
    int64_t event_time; /* the review's creation time */
} sf_store_pair;

/* The put functions return this (with err saying why, nothing written) for
 * an event that breaks the wire contract (sf_check_*), and -1 for a database
 * failure. */
#define SF_STORE_INVALID (-2)

/* Upserts an order event. Returns 1 when (order_id, stage) is new, 0 when it
 * was already stored (the body is replaced), -1 with err set. */
int sf_store_put_order(sf_store *s, const sf_order_event *ev, sf_err *err);

/* Upserts a review: 1 new, 0 already stored, -1 error. When the order has a
 * delivered-stage prediction not yet paired, *pair is filled, the prediction
 * is marked paired and *paired = 1 (else 0). pair/paired may be NULL (then
 * nothing is paired). */
int sf_store_put_review(sf_store *s, const sf_review_event *ev, sf_store_pair *pair, int *paired,
                        sf_err *err);

/* Keeps a DELIVERED-stage prediction (others are ignored: returns 0). An
 * unpaired stored prediction of the order is replaced; a paired one is kept.
 * When the order already has a review, pairs them as above. Returns 1 when
 * stored, 0 ignored, -1 error. */
int sf_store_put_prediction(sf_store *s, const sf_prediction *p, sf_store_pair *pair, int *paired,
                            sf_err *err);

/* ---- shadow challengers (challenge.h) ----
 *
 * The challenger's delivered-stage predictions (satisfy.shadow) are kept per
 * order like the champion's; once an order has both and a review, the three
 * are joined exactly once ("judged") and kept, so that a restarted
 * retrainer reads the live test's orders back. */

typedef struct sf_store_shadow_pair {
    sf_id order_id;
    int64_t challenger_version, champion_version;
    double label; /* the order's latest review score */
    double champion_score, challenger_score;
    int64_t event_time; /* the review's creation time */
} sf_store_shadow_pair;

/* Keeps a DELIVERED-stage shadow prediction (others: 0, ignored); replaces
 * one not judged yet. 1 stored, SF_STORE_INVALID, -1. */
int sf_store_put_shadow(sf_store *s, const sf_prediction *p, sf_err *err);

/* When order_id has a shadow prediction not judged yet, the champion's
 * prediction and a review: marks it judged and fills *out, returns 1.
 * 0 when something is still missing, -1 error. Call after storing any of
 * the three. */
int sf_store_shadow_join(sf_store *s, const char *order_id, sf_store_shadow_pair *out, sf_err *err);

/* Calls fn on every judged order of challenger against champion, by review
 * time; stops (returns -1) when fn returns non-zero. The count, or -1. */
typedef int (*sf_store_shadow_fn)(void *arg, const sf_store_shadow_pair *p, sf_err *err);
int64_t sf_store_shadow_judged(sf_store *s, int64_t challenger, int64_t champion,
                               sf_store_shadow_fn fn, void *arg, sf_err *err);

typedef struct sf_store_counts {
    int64_t orders;         /* distinct order_ids */
    int64_t order_events;   /* (order_id, stage) rows */
    int64_t reviews;        /* (review_id, order_id) rows */
    int64_t labeled_orders; /* orders with an order event and a review */
    int64_t predictions, paired;
    int64_t new_reviews;       /* reviews stored since the last retrain mark */
    int64_t min_event_time;    /* of order events; SF_TIME_NONE when empty */
    int64_t max_event_time;    /* of order and review events; SF_TIME_NONE when empty */
    int64_t last_retrain_time; /* event time of the last mark; SF_TIME_NONE if never */
    int64_t retrains;          /* marks so far */
} sf_store_counts;

int sf_store_counts_get(sf_store *s, sf_store_counts *c, sf_err *err);

/* The cheap subset the retrain schedule reads after every batch: reviews,
 * new_reviews, min/max_event_time, last_retrain_time, retrains (the other
 * fields are left 0). */
int sf_store_progress(sf_store *s, sf_store_counts *c, sf_err *err);

/* Records a retrain: new_reviews restarts from zero, last_retrain_time =
 * event_time, retrains + 1. One transaction (call outside begin/commit). */
int sf_store_mark_retrain(sf_store *s, int64_t event_time, sf_err *err);

/* ---- the live history (satisfy.history) ----
 *
 * The retrainer upserts each batch's changed records in the batch's
 * transaction, publishes them after the commit, and raises the
 * published-through mark once their delivery is confirmed; at start-up it
 * loads every record and republishes those above the mark. */

/* Upserts one record (vlen 0: a tombstone, stored as NULL) with the next
 * sequence number, returned in *seq. Call inside begin/commit. */
int sf_store_put_history(sf_store *s, const void *key, size_t klen, const void *val, size_t vlen,
                         int64_t *seq, sf_err *err);

/* 1 when key has a stored record that is not a tombstone, 0 when not, -1. */
int sf_store_history_has(sf_store *s, const void *key, size_t klen, sf_err *err);

/* The last sequence number given and the published-through mark (0 when none). */
int sf_store_history_marks(sf_store *s, int64_t *last_seq, int64_t *published, sf_err *err);

/* Raises the published-through mark from from to seq (never lowers it) and
 * drops the tombstones in (from, seq] (the topic has them). */
int sf_store_set_history_published(sf_store *s, int64_t from, int64_t seq, sf_err *err);

/* Calls fn for each record: after < 0, every record that is not a tombstone
 * (loading); else every row above seq after, tombstones included, in
 * sequence order (republishing). Stops at the first fn that returns
 * non-zero. Returns the number of rows, or -1. */
typedef int (*sf_store_history_fn)(void *arg, const void *key, size_t klen, const void *val,
                                   size_t vlen, int64_t seq, sf_err *err);
int64_t sf_store_history_each(sf_store *s, int64_t after, sf_store_history_fn fn, void *arg,
                              sf_err *err);

/* The stored event of order_id's highest stage, decoded into ev (the caller
 * clears it; ev NULL: not decoded), and whether a last stage (DELIVERED, CANCELED, UNAVAILABLE) is
 * stored. Returns how many stages are stored (0: none, ev untouched), -1. */
int sf_store_order_latest(sf_store *s, const char *order_id, sf_order_event *ev, int *ended,
                          sf_err *err);

/* The scores of order_id's stored reviews, by creation time (at most max
 * kept). Returns how many there are, or -1. */
int sf_store_order_reviews(sf_store *s, const char *order_id, int *scores, int max, sf_err *err);

/* Every stored order event and review, decoded, each owning its memory
 * (free with sf_training_events_free). A body that does not decode fails
 * with its table and key. */
int sf_store_events(sf_store *s, sf_training_events *out, sf_err *err);

/* Range reads for a retrain bounded by a training window (window.h), on the
 * event-time indexes order_events(event_time) and reviews(created). Times
 * are [from, to) with SF_TIME_NONE for an open end (from = SF_TIME_NONE is
 * INT64_MIN: no lower bound).
 *
 * sf_store_events_range: exactly the order events with event_time in the
 * range and the reviews created in it.
 * sf_store_events_touching: every order event and review of each order that
 * has an order event or a review in the range, whatever their times - so
 * that each event in the range comes with its order's identity and every
 * label of its order (reviews that arrive after the range included). What
 * sf_training_rows_build_from and sf_training_history_advance need. */
int sf_store_events_range(sf_store *s, int64_t from, int64_t to, sf_training_events *out,
                          sf_err *err);
int sf_store_events_touching(sf_store *s, int64_t from, int64_t to, sf_training_events *out,
                             sf_err *err);

/* The earliest order event or review time >= from into *next (SF_TIME_NONE
 * when there is none). 0 or -1. */
int sf_store_next_time(sf_store *s, int64_t from, int64_t *next, sf_err *err);

/* The oldest event time of an order event or review inserted or changed
 * since the previous call (SF_TIME_NONE when none), and starts over. A
 * window checkpoint whose time is after it has missed that event. */
int sf_store_take_changed_from(sf_store *s, int64_t *t, sf_err *err);

/* PRAGMA integrity_check: 0 when "ok", else -1 with the first problem. */
int sf_store_integrity_check(sf_store *s, sf_err *err);

#endif
