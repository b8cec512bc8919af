/*
 * features.h - an order event (plus the history before it) to a feature row,
 * one code path for training and for scoring.
 *
 * A feature spec is a named, versioned, ordered list of features, each with
 * the first stage at which it can be known and where it comes from. Its hash
 * (FNV-1a 64 over the version, the ordered names and their stage rules,
 * printed as 16 hex digits) goes into every model release
 * (sf_model_release.spec_hash), so a scorer never feeds a model rows laid out
 * by another spec. Two specs exist:
 *   "full" - composition, payment, geography, promise, progress, outcome at
 *            delivery, seller/customer history, calendar, stage code;
 *   "seed" - the originating project's 12 numeric features, taken from the
 *            order's first item and first payment.
 * Features use only what the event carries (sf_lifecycle_event leaves
 * unknown times as SF_TIME_NONE) and the history view, so a feature at stage s
 * cannot depend on anything later. Missing values are NaN. Rows are float
 * (what XGBoost consumes; trees compare the very same values at scoring).
 */
#ifndef SATISFY_FEATURES_H
#define SATISFY_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/event.h"
#include "satisfy/history.h"
#include "satisfy/olist.h"

#define SF_SPEC_MAX_FEATURES 64

typedef struct sf_feature_def {
    const char *name;     /* snake_case, < SF_FEATURE_NAME bytes */
    sf_stage first_stage; /* earliest stage where it can be non-NaN */
    const char *source;   /* human description: tables and columns it reads */
} sf_feature_def;

typedef struct sf_feature_spec {
    const char *name; /* "full" or "seed" */
    int version;
    int n; /* number of features */
    const sf_feature_def *defs;
    int uses_history; /* 1 when rows read the history view */
} sf_feature_spec;

/* The built-in specs. */
const sf_feature_spec *sf_spec_full(void);
const sf_feature_spec *sf_spec_seed(void);
/* A spec by name ("full", "seed"); NULL with err set when unknown. */
const sf_feature_spec *sf_spec_by_name(const char *name, sf_err *err);

/* FNV-1a 64 of the spec (version, ordered names, first stages), as 16
 * lowercase hex digits plus NUL. Stable across builds and machines. */
void sf_spec_hash(const sf_feature_spec *spec, char out[17]);

/* Index of a feature by name, or -1. */
int sf_spec_index(const sf_feature_spec *spec, const char *name);

/* Computes the row (spec->n floats) of one order event. hist may be NULL
 * (history features are then NaN). Never fails: absent data gives NaN. */
void sf_features_compute(const sf_feature_spec *spec, const sf_order_event *ev,
                         const sf_history *hist, float *row);

/* Training examples: one row per order event of a labeled order, in event
 * time order. Owned arrays, n rows of d = spec->n features. */
typedef struct sf_examples {
    const sf_feature_spec *spec;
    size_t n, d;
    float *x;     /* n*d, row-major */
    float *label; /* review score 1..5 */
    sf_stage *stage;
    int64_t *purchase; /* the order's purchase time (for time-ordered splits) */
    int64_t *event_time;
    size_t *order; /* index into ds->orders */
} sf_examples;

/* Replays every event of sf_lifecycle_build(ds) in time order, updating a
 * history (purchases, deliveries, reviews) and emitting a row for every order
 * event of an order with a label (sf_order_label >= 1) whose purchase time is
 * in [from, to) (SF_TIME_NONE = open end). Events at the same time all see the
 * history as it was before that time. If hist_out is not NULL it receives the
 * history at the end of the replay (caller frees with sf_history_free): that
 * is what a model trained on these rows ships as its snapshot.
 * Returns 0, or -1 with err set. */
int sf_examples_build(sf_examples *ex, const sf_dataset *ds, const sf_feature_spec *spec,
                      int64_t from, int64_t to, sf_history **hist_out, sf_err *err);

/* Copies the rows idx[0..n) of src into dst (which must be freed). */
int sf_examples_select(const sf_examples *src, const size_t *idx, size_t n, sf_examples *dst,
                       sf_err *err);

/* Splits by order purchase time: the orders in the most recent `frac` (0..1)
 * of distinct labeled orders by purchase time go to `newer` (all their stages),
 * the rest to `older`. Either output may be NULL. Returns the cut time (the
 * first purchase time in `newer`), or SF_TIME_NONE with err set. */
int64_t sf_examples_time_split(const sf_examples *src, double frac, sf_examples *older,
                               sf_examples *newer, sf_err *err);

/* Indices of rows with the given stage into a malloc'd array; returns count. */
size_t sf_examples_stage_rows(const sf_examples *ex, sf_stage stage, size_t **idx);

void sf_examples_free(sf_examples *ex);

/* Great-circle distance in km between two points in degrees (NaN in, NaN out). */
double sf_haversine_km(double lat1, double lng1, double lat2, double lng2);

#endif
