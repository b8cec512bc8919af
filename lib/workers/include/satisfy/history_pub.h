/*
 * history_pub.h - the retrainer's side of satisfy.history: the live seller,
 * customer and order-review state (history.h), kept from every new order
 * event and review the retrainer stores, persisted in its store (store.h,
 * table history) in the batch's transaction and published after the commit.
 *
 * What is applied mirrors the training replay (training_rows.c): a new
 * PURCHASED event counts a purchase, a new DELIVERED event a delivery, a new
 * review a review of its order (sellers and customer from the order's
 * stored event of the highest stage); a review stored before any event of
 * its order waits and is applied when the order's first event arrives. When
 * an order's last stage (DELIVERED, CANCELED, UNAVAILABLE) arrives, or a
 * review arrives after it, the order's own-review record is forgotten: a
 * tombstone, published only when the topic has had a value for it.
 *
 * Exactly-once: the changed records go into the store in the batch's
 * transaction (sf_history_pub_persist), each with a new sequence number;
 * after sf_store_commit they are produced (sf_history_pub_publish) by an
 * idempotent producer, and the published-through mark is raised in the
 * store once every record up to it is confirmed delivered
 * (sf_history_pub_tick). At start-up the state is loaded from the store and
 * the rows above the mark are produced again; records are full states, so a
 * repeat changes nothing. A failed delivery makes the rows above the mark
 * be produced again (their current values) once nothing is in flight.
 * A batch that rolls back reloads the state from the store. A store that
 * has events but has never had a history record (written before the table:
 * an upgrade) gets its records built at start-up from its events by the
 * training replay (training_rows.h), stored, then published.
 */
#ifndef SATISFY_HISTORY_PUB_H
#define SATISFY_HISTORY_PUB_H

#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/event.h"
#include "satisfy/history.h"
#include "satisfy/kafka.h"
#include "satisfy/log.h"
#include "satisfy/store.h"

typedef struct sf_history_pub sf_history_pub;

typedef struct sf_history_pub_counts {
    uint64_t published;     /* records whose delivery was confirmed (this run) */
    uint64_t in_flight;     /* produced, delivery not yet confirmed */
    uint64_t failed;        /* deliveries that failed (their rows are produced again) */
    uint64_t republished;   /* rows produced again from the store (start-up, failures) */
    uint64_t skipped;       /* tombstones not published: the topic never had the order */
    uint64_t reviews_early; /* reviews stored before any event of their order */
    uint64_t reviews_late;  /* of those, applied when the order's first event came */
    int64_t last_seq;       /* the store's newest record sequence number */
    int64_t published_mark; /* every record up to this sequence number is on the topic */
    uint64_t loaded;        /* records loaded from the store at start-up */
    double load_seconds;    /* and how long that took */
} sf_history_pub_counts;

/* Loads the state from store, creates the producer (the release producer's
 * settings, its own delivery reports) and produces the rows above the
 * published mark. NULL with err set. */
sf_history_pub *sf_history_pub_open(sf_store *store, const sf_kafka_conn *conn, sf_log_fn log,
                                    void *log_arg, sf_err *err);

/* After sf_store_put_order / sf_store_put_review returned 1 (a new event),
 * inside the batch's transaction. 0 or -1. */
int sf_history_pub_order(sf_history_pub *p, const sf_order_event *ev, sf_err *err);
int sf_history_pub_review(sf_history_pub *p, const sf_review_event *ev, sf_err *err);

/* Before sf_store_commit: upserts the records the batch changed. 0 or -1. */
int sf_history_pub_persist(sf_history_pub *p, sf_err *err);

/* After sf_store_commit: produces them (asynchronous). */
void sf_history_pub_publish(sf_history_pub *p);

/* After a rollback: the state is read again from the store. 0 or -1. */
int sf_history_pub_abort(sf_history_pub *p, sf_err *err);

/* Serves delivery reports, raises the published mark in the store, and
 * produces the rows above it again after a failure. Call outside a batch. */
void sf_history_pub_tick(sf_history_pub *p);

/* The live state (for tests and the retrainer's own use). */
const sf_history *sf_history_pub_state(const sf_history_pub *p);

void sf_history_pub_counts_get(const sf_history_pub *p, sf_history_pub_counts *c);

/* Waits up to timeout_ms for the deliveries in flight, stores the mark,
 * frees. */
void sf_history_pub_close(sf_history_pub *p, int timeout_ms);

#endif
