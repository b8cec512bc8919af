/*
 * training_rows.h - the rows a model learns from, built from events: the
 * order events and reviews that are the contract between the producer, the
 * scorer and training.
 *
 * `satisfy-retrainer train` turns its CSV tables into events first (the
 * lifecycle builder, lifecycle.h, which the producer shares); the streaming
 * retrainer reads the events it has consumed from its store (store.h). Both
 * hand the events to sf_training_rows_build, so a model is trained on what the
 * scorer is shown, and this layer never sees the CSV loader's types.
 *
 * A row is one order event of a labeled order, featurised (features.h)
 * against the history of everything strictly earlier. The label of an order
 * is the score of its most recent review (by creation time, then answer time,
 * then review_id), as sf_order_label says for a loaded order.
 */
#ifndef SATISFY_TRAINING_ROWS_H
#define SATISFY_TRAINING_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/event.h"
#include "satisfy/features.h"
#include "satisfy/history.h"

/* The events training learns from, in any order. Each (order_id, stage) at
 * most once; every event of one order carries the same identity (ids,
 * purchase and estimated times, customer, items, payments), as the lifecycle
 * builder makes them. A review whose order has no order event is left out
 * (counted in sf_examples.n_orphan_reviews). */
typedef struct sf_training_events {
    sf_order_event *orders;
    size_t n_orders;
    sf_review_event *reviews;
    size_t n_reviews;
    /* The compact form, when stages is not NULL (batch training at scale,
     * sf_lifecycle_events_compact): orders holds one event per order, at the
     * last stage it reached, and the order events are the n_stages stages,
     * each its order's event rebuilt by sf_order_event_at. */
    sf_stage_at *stages;
    size_t n_stages;
    /* memory, not the rows: the caller reads these events (and the items
     * and payments they point to) no more once their rows are built, only
     * frees them. A replay of the compact form then hands the pages of the
     * orders, items and payments it is done with back to the OS as
     * it goes (they read as zeros afterwards; 0.5 GB at 1M orders). */
    int drop_as_read;
} sf_training_events;

/* Clears every event (freeing what an event owns, nothing when it borrows)
 * and frees the two arrays. */
void sf_training_events_free(sf_training_events *ev);

/* Training rows: one per order event of a labeled order, in event time order.
 * Owned arrays, n rows of d = spec->n features. */
typedef struct sf_examples {
    const sf_feature_spec *spec;
    size_t n, d;
    float *x;     /* n*d, row-major */
    float *label; /* review score 1..5 */
    sf_stage *stage;
    int64_t *purchase; /* the order's purchase time (for time-ordered splits) */
    int64_t *event_time;
    size_t *order;           /* the order's rank by (purchase time, order_id), < n_orders */
    size_t n_orders;         /* distinct orders in the events the rows came from */
    size_t n_orphan_reviews; /* reviews of orders without an order event, left out */
    int view;                /* the arrays belong to another sf_examples (sf_examples_view) */
} sf_examples;

/* Replays the events in time order, updating a history (purchases,
 * deliveries, reviews) and emitting a row for every order event of an order
 * with a label (>= 1) whose purchase time is in [from, to) (SF_TIME_NONE =
 * open end). Events at the same time all see the history as it was before
 * that time; at one time, order events come before reviews, orders by
 * (purchase time, order_id), then stage or review order. An event without a
 * time (SF_TIME_NONE) is no event of the replay (a review still counts for
 * its order's label). If hist_out is not NULL it receives the history at the
 * end of the replay (caller frees with sf_history_free): that is what a model
 * trained on these rows ships as its snapshot. Returns 0, or -1 with err set
 * (an (order_id, stage) given twice, out of memory). */
int sf_training_rows_build(sf_examples *ex, const sf_training_events *in,
                           const sf_feature_spec *spec, int64_t from, int64_t to,
                           sf_history **hist_out, sf_err *err);

/* sf_training_rows_build from a given history instead of an empty one: the
 * streaming retrainer's window (window.h). start holds the updates of every
 * event strictly before start_time (as a full replay would have applied
 * them); the replay skips the events before start_time and updates start in
 * place with the rest, so that at the end start is the history of everything
 * in `in`, and hist_out is not used. The rows equal those of
 * sf_training_rows_build on all the events restricted to purchases in
 * [from, to) when from >= start_time and `in` holds, for every event at or
 * after start_time, every event of its order (identity, label), except for
 * sf_examples.order, which ranks among the orders in `in` only (the same
 * relative order). With start NULL it is sf_training_rows_build. */
int sf_training_rows_build_from(sf_examples *ex, const sf_training_events *in,
                                const sf_feature_spec *spec, int64_t from, int64_t to,
                                sf_history *start, int64_t start_time, sf_history **hist_out,
                                sf_err *err);

/* Applies to h the updates of the events of `in` whose time is in [t0, t1)
 * (SF_TIME_NONE = open end), in the replay's order, and nothing else: a
 * history checkpoint moved forward. Each such event's order must be in `in`
 * (a review whose order is missing is skipped, as in a build). */
int sf_training_history_advance(sf_history *h, const sf_training_events *in, int64_t t0, int64_t t1,
                                sf_err *err);

/* sf_training_rows_build for two specs in one replay of the same events
 * (batch training's "full" and "seed" rows): ex[k] gets the rows of spec[k],
 * the same rows two calls would give, with the events indexed and the history
 * built once. */
int sf_training_rows_build2(sf_examples ex[2], const sf_feature_spec *const spec[2],
                            const sf_training_events *in, int64_t from, int64_t to,
                            sf_history **hist_out, sf_err *err);

/* Both: two specs in one replay from a given history (the retrainer's
 * window with batch training's memory savings). */
int sf_training_rows_build2_from(sf_examples ex[2], const sf_feature_spec *const spec[2],
                                 const sf_training_events *in, int64_t from, int64_t to,
                                 sf_history *start, int64_t start_time, sf_err *err);

/* Copies the rows idx[0..n) of src into dst (which must be freed). */
int sf_examples_select(const sf_examples *src, const size_t *idx, size_t n, sf_examples *dst,
                       sf_err *err);

/* Splits by order purchase time: the orders in the most recent `frac` (0..1)
 * of distinct labeled orders by purchase time go to `newer` (all their stages),
 * the rest to `older`. Either output may be NULL. Returns the cut time (the
 * first purchase time in `newer`), or SF_TIME_NONE with err set. */
int64_t sf_examples_time_split(const sf_examples *src, double frac, sf_examples *older,
                               sf_examples *newer, sf_err *err);

/* Reorders the rows of ex in place (a view reorders its part of the rows it
 * borrows): the rows with side[i] == 0 first, then the others, each group in
 * its original order. Returns the number of rows with side 0, or (size_t)-1
 * with err set (out of memory). Selecting the two groups with
 * sf_examples_select gives the same rows in the same order, without a copy. */
size_t sf_examples_partition(sf_examples *ex, const unsigned char *side, sf_err *err);

/* A view of rows [from, from + n) of src: dst borrows src's arrays (src must
 * outlive it); sf_examples_free on a view frees nothing. */
void sf_examples_view(const sf_examples *src, size_t from, size_t n, sf_examples *dst);

/* sf_examples_time_split without copies: reorders ex in place (older rows
 * first, then newer, each in their original order) and sets older and newer
 * (either may be NULL) as views of ex. Same rows, order and cut time as
 * sf_examples_time_split. */
int64_t sf_examples_time_partition(sf_examples *ex, double frac, sf_examples *older,
                                   sf_examples *newer, sf_err *err);

/* Indices of rows with the given stage into a malloc'd array; returns count. */
size_t sf_examples_stage_rows(const sf_examples *ex, sf_stage stage, size_t **idx);

void sf_examples_free(sf_examples *ex);

#endif
