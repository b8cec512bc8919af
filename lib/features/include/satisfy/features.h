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
 * Training rows (many events at once, with the history replayed) are built
 * in training_rows.h.
 */
#ifndef SATISFY_FEATURES_H
#define SATISFY_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/event.h"
#include "satisfy/history.h"

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

/* Great-circle distance in km between two points in degrees (NaN in, NaN out). */
double sf_haversine_km(double lat1, double lng1, double lat2, double lng2);

#endif
