/*
 * history.h - what the marketplace knew about sellers and customers before an
 * event: a seller's earlier review mean and count and its late-delivery rate,
 * a repeat customer's earlier orders and review mean.
 *
 * The history is updated in event-time order (reviews at their creation time,
 * deliveries at the delivered time, purchases at the purchase time) and read
 * by the feature code. Training replays the whole dataset through it
 * (sf_examples_build applies the updates of time t only after every event at
 * time t has been featurised, so an event never sees an update at or after its
 * own time). The scorer sees only events, so the history at the end of the
 * training window travels inside the model artifact as a snapshot
 * (sf_history_save / sf_history_load) and the scorer reads the same numbers.
 *
 * Keys: sellers and customers by a 64-bit hash (FNV-1a) of seller_id and
 * customer_unique_id: among a million customers the chance that two share a
 * key is about 3e-8 (a 32-bit key, used before snapshot format 2, merged
 * about 116 pairs there). An order's own
 * review never counts in its own history features (the history remembers
 * which orders' reviews it has applied and subtracts them).
 */
#ifndef SATISFY_HISTORY_H
#define SATISFY_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "satisfy/buf.h"

#include "satisfy/error.h"
#include "satisfy/event.h"

typedef struct sf_history sf_history;

/* History features of one order event (NaN when there is nothing earlier). */
typedef struct sf_history_view {
    double seller_review_mean;  /* pooled over the order's distinct sellers */
    double seller_review_count; /* earlier reviews of those sellers (0 if none) */
    double seller_late_rate;    /* late share of their earlier delivered orders */
    double seller_delivered;    /* their earlier delivered orders (0 if none) */
    double customer_orders;     /* the customer's orders purchased strictly earlier */
    double customer_review_mean;
} sf_history_view;

/* An empty history; NULL when out of memory. */
sf_history *sf_history_new(void);
void sf_history_free(sf_history *h);

/* A purchase (PURCHASED event): counts one order for its customer at
 * ev->purchase. Returns 0 or -1 (out of memory). */
int sf_history_add_purchase(sf_history *h, const sf_order_event *ev, sf_err *err);

/* A delivery: for each distinct seller of ev's items, one delivered order,
 * late when ev->delivered > ev->estimated. Ignored if ev->delivered is unknown. */
int sf_history_add_delivery(sf_history *h, const sf_order_event *ev, sf_err *err);

/* A review with score 1..5 of the order described by ev (any stage of it: only
 * its ids and items are read): one review for each distinct seller and for the
 * customer, remembered per order so the order's own features exclude it. */
int sf_history_add_review(sf_history *h, const sf_order_event *ev, int score, sf_err *err);

/* The history features of ev as of now (the caller applies updates in time
 * order). Excludes ev's own order's reviews; counts only the customer's
 * purchases strictly before ev->purchase. */
void sf_history_view_of(const sf_history *h, const sf_order_event *ev, sf_history_view *out);

/* A deep copy of h (all its state, the per-order review memory and purchase
 * times included); NULL when out of memory. The streaming retrainer trains
 * from a copy of its history checkpoint (window.h). */
sf_history *sf_history_clone(const sf_history *h);

/* 1 when two views hold the same numbers (NaN equal to NaN), else 0: how
 * the parity checks compare a scorer's history with training's. */
int sf_history_view_same(const sf_history_view *a, const sf_history_view *b);

/* Numbers of sellers and customers held. */
size_t sf_history_sellers(const sf_history *h);
size_t sf_history_customers(const sf_history *h);

/* Makes room for that many sellers and customers in all (no-op for the
 * part already there), so a rebuild that knows its size ahead (the
 * scorer's, from the topic's message count) does not double its tables on
 * the way: a doubling briefly holds both arrays. Returns 0, or -1 when out
 * of memory (the history is unchanged and usable). */
int sf_history_reserve(sf_history *h, size_t sellers, size_t customers);

/* Serializes the seller and customer tables (not the per-order review memory
 * nor purchase times: a snapshot stands for "everything before now") into a
 * malloc'd buffer. Returns 0 or -1 with err set. */
int sf_history_save(const sf_history *h, uint8_t **buf, size_t *len, sf_err *err);

/* Reads a snapshot written by sf_history_save. Rejects a truncated or
 * malformed buffer with an error naming the offset. A snapshot of the former
 * format 1 (32-bit customer keys) is read with that key, which the history
 * then keeps (lookups, updates, and its own snapshots). */
sf_history *sf_history_load(const uint8_t *buf, size_t len, sf_err *err);

/* ---- live state: one record per entity, as carried on satisfy.history ----
 *
 * Key: SF_HISTORY_KEY_LEN bytes, the kind ('s' seller, 'c' customer, 'o' an
 * order's own reviews) then the entity's 64-bit key big-endian. Value: the
 * entity's whole current state (not a delta), so a record can be published
 * again or applied twice with the same result: a version byte (1), then
 * LEB128 varints - seller: review sum, review count, delivered, late;
 * customer: orders of unknown time, review sum, review count, the number of
 * purchase times, then those times as zigzag deltas in the order added (at
 * most 4096, older ones count as orders of unknown time); order: review sum
 * and count. An empty value is a tombstone (an order whose events are over:
 * sf_history_forget_order). */
#define SF_HISTORY_KEY_LEN  9
#define SF_HISTORY_SELLER   's'
#define SF_HISTORY_CUSTOMER 'c'
#define SF_HISTORY_ORDER    'o'

typedef struct sf_history_ref {
    uint8_t kind; /* SF_HISTORY_SELLER, _CUSTOMER or _ORDER */
    uint64_t key;
} sf_history_ref;

/* With tracking on, every record an add_*, forget or apply call changes is
 * listed once (sf_history_changes) until sf_history_clear_changes. */
void sf_history_track_changes(sf_history *h, bool on);
size_t sf_history_changes(const sf_history *h, const sf_history_ref **refs);
void sf_history_clear_changes(sf_history *h);

/* Turns tracking on and lists every record held as changed (to publish a
 * whole history built without tracking, e.g. by the training replay).
 * Returns 0, or -1 (out of memory; a format-1 history has no records). */
int sf_history_note_all(sf_history *h, sf_err *err);

/* An order's events are over (its last stage was seen): its own-review
 * memory is dropped, so its record becomes a tombstone. Returns 0 or -1. */
int sf_history_forget_order(sf_history *h, const char *order_id, sf_err *err);

/* The record key of ref, and its value (val is reset; left empty for a
 * tombstone or an entity not held). Returns 0 or -1 with err set. */
void sf_history_record_key(sf_history_ref ref, uint8_t key[SF_HISTORY_KEY_LEN]);
int sf_history_record(const sf_history *h, sf_history_ref ref, sf_buf *val, sf_err *err);

/* Applies one record read from satisfy.history: the entity's state becomes
 * the record's (val NULL or vlen 0: a tombstone, the counts become zero).
 * Rejects a malformed key or value with an error naming the kind, the key
 * and the byte, leaving the history unchanged. Returns 0 or -1. */
int sf_history_apply(sf_history *h, const void *key, size_t klen, const void *val, size_t vlen,
                     sf_err *err);

/* The keys used above, exposed for tests. */
uint64_t sf_history_seller_key(const char *seller_id);
uint64_t sf_history_customer_key(const char *customer_unique_id);

#endif
