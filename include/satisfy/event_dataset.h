/*
 * event_dataset.h - an in-memory sf_dataset rebuilt from events instead of
 * CSV tables, so the streaming retrainer runs the very same pipeline as
 * `satisfy-retrainer train` (train.h) on what it has consumed.
 *
 * Each order is given as its latest known order event (the highest stage
 * seen): that event carries every timestamp reached so far, the customer,
 * the items and the payments, and its stage gives the order status
 * (PURCHASED -> created, ..., CANCELED -> canceled). sf_lifecycle_build on
 * the rebuilt order therefore yields exactly the stages already seen, with
 * the same times. Reviews are attached to their order (sorted by creation,
 * then answer time, then review_id); a review whose order is unknown is left
 * out and counted.
 *
 * The dataset's own `arena` is NULL: everything lives in `mem`, freed with
 * sf_event_dataset_free (sf_dataset_free on .ds frees nothing and is safe).
 */
#ifndef SATISFY_EVENT_DATASET_H
#define SATISFY_EVENT_DATASET_H

#include <stddef.h>

#include "satisfy/error.h"
#include "satisfy/event.h"
#include "satisfy/olist.h"

typedef struct sf_event_dataset {
    sf_dataset ds;           /* orders sorted by purchase time, then order_id */
    size_t n_orphan_reviews; /* reviews of orders not given, left out */
    void *mem;
} sf_event_dataset;

/* Builds out from n_orders latest order events (one per order_id) and
 * n_reviews reviews. Copies everything (the inputs may be freed after).
 * Every event is checked (sf_check_order / sf_check_review); an invalid one
 * or an order_id given twice fails with its index and id in err. */
int sf_event_dataset_build(sf_event_dataset *out, const sf_order_event *orders, size_t n_orders,
                           const sf_review_event *reviews, size_t n_reviews, sf_err *err);

void sf_event_dataset_free(sf_event_dataset *d);

/* The order status an order event's stage implies. */
sf_order_status sf_status_of_stage(sf_stage s);

#endif
