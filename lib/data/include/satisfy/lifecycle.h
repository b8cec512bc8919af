/*
 * lifecycle.h - from order records to the events the producer publishes.
 *
 * Shared by satisfy-producer (which replays them) and by batch training
 * (which computes features from exactly these events), so a model is trained
 * on what the scorer will be shown.
 *
 * Stages of an order, each at its own time: PURCHASED (purchase timestamp),
 * APPROVED (approved_at), SHIPPED (delivered_carrier_date), DELIVERED
 * (delivered_customer_date), then CANCELED or UNAVAILABLE for orders with that
 * status (at the last known timestamp of the order). A stage whose timestamp is
 * empty is skipped. Olist has some timestamps out of order (a carrier date
 * before approval); a stage's event time is clamped to be no earlier than the
 * previous stage's, so per order the events are in time order. Each review is
 * an event at its creation date.
 */
#ifndef SATISFY_LIFECYCLE_H
#define SATISFY_LIFECYCLE_H

#include <stddef.h>

#include "satisfy/event.h"
#include "satisfy/olist.h"

typedef enum sf_event_kind { SF_EV_ORDER = 0, SF_EV_REVIEW = 1 } sf_event_kind;

/* A reference to one event of the replay: the order it belongs to, and the
 * stage (order events) or the review index (review events). */
typedef struct sf_event_ref {
    int64_t time;
    const sf_order *order;
    sf_event_kind kind;
    sf_stage stage; /* SF_EV_ORDER */
    int review;     /* SF_EV_REVIEW: index in order->reviews */
} sf_event_ref;

/* The stages of one order with their event times; returns how many (<= SF_STAGE_COUNT). */
int sf_lifecycle_stages(const sf_order *o, sf_stage stages[SF_STAGE_COUNT],
                        int64_t times[SF_STAGE_COUNT]);

/* Fills ev as the order is known at that stage (borrowing the order's arrays).
 * Returns -1 if the order has no such stage. */
int sf_lifecycle_event(const sf_order *o, sf_stage stage, sf_order_event *ev);

/* Fills ev with review i of the order (borrowing its strings). */
void sf_lifecycle_review(const sf_order *o, int i, sf_review_event *ev);

/* Every order and review event of the dataset in event-time order (stable:
 * ties keep order stages before reviews, then dataset order). Optional window
 * [from, to) on event time; pass SF_TIME_NONE for open ends. The caller frees
 * *out. Returns the count, or (size_t)-1 with err set. */
size_t sf_lifecycle_build(const sf_dataset *ds, int64_t from, int64_t to, sf_event_ref **out,
                          sf_err *err);

/* The events of sf_lifecycle_build over all time as two arrays, order events
 * and reviews, each in that order (what batch training hands to
 * sf_training_rows_build). The events borrow the dataset's arrays; the caller
 * frees the two arrays (not the events). Returns 0, or -1 with err set. */
int sf_lifecycle_events(const sf_dataset *ds, sf_order_event **orders, size_t *n_orders,
                        sf_review_event **reviews, size_t *n_reviews, sf_err *err);

/* sf_lifecycle_events in compact form: one event per order, at the last stage
 * it reached (*last), and its stages (order index into *last, stage, event
 * time; sf_order_event_at rebuilds each stage's event), in the order of
 * sf_lifecycle_events; reviews as there. About 350 bytes an order instead of
 * 1,200. The caller frees the three arrays. Returns 0, or -1 with err set. */
int sf_lifecycle_events_compact(const sf_dataset *ds, sf_order_event **last, size_t *n_orders,
                                sf_stage_at **stages, size_t *n_stages, sf_review_event **reviews,
                                size_t *n_reviews, sf_err *err);

#endif
