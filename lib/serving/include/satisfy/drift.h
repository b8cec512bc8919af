/*
 * drift.h - a scorer's input drift: the live distribution of each feature
 * over the last `window` scored events, against the training distribution
 * its release carries (drift_profile.h), as the PSI per feature.
 *
 * The scorer hands over the very feature rows it scores (no second feature
 * computation): each row's bin per feature goes into a ring of `window`
 * rows (one byte per feature and row) and the per-bin counts are kept up to
 * date as rows enter and leave, so adding a row costs a binary search over
 * at most 9 edges per feature, and a PSI a pass over at most 11 bins. A new
 * model empties the window (its reference may differ); a release without
 * "drift" in its metrics leaves the scorer without PSI, as before.
 *
 * Every `interval` seconds the scorer publishes sf_drift_json to
 * satisfy.metrics (key "drift/<instance id>", header schema
 * SF_DRIFT_SCHEMA); /metrics shows the largest PSI with its feature as a
 * label, and the SF_DRIFT_TOP largest per feature (sf_drift_prometheus).
 * One mutex: the scoring thread adds, the HTTP threads read.
 */
#ifndef SATISFY_DRIFT_H
#define SATISFY_DRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/drift_profile.h"
#include "satisfy/error.h"
#include "satisfy/features.h"

#define SF_DRIFT_WINDOW   5000 /* events in the live window; docs/model.md says why */
#define SF_DRIFT_INTERVAL 30   /* seconds between two publications */
#define SF_DRIFT_TOP      10   /* features with their own gauge / in the page's panel */
#define SF_DRIFT_SCHEMA   "satisfy.v1.InputDrift+json"
#define SF_DRIFT_KEY      "drift/" /* + the scorer's instance id */

typedef struct sf_drift sf_drift;

/* window 0 = SF_DRIFT_WINDOW; interval <= 0 = SF_DRIFT_INTERVAL. NULL when
 * out of memory. */
sf_drift *sf_drift_new(size_t window, double interval_s, const char *scorer_id);
void sf_drift_free(sf_drift *d);

/* The model that scores from now on: its spec and its release's metrics.
 * Empties the window. 1 with a reference (every profiled feature found in
 * the spec), 0 without one (no "drift": an older release), -1 with err when
 * the profile is malformed or names a feature the spec lacks (no PSI then). */
int sf_drift_set_model(sf_drift *d, const sf_feature_spec *spec, const char *metrics_json,
                       int64_t version, sf_err *err);

/* n rows scored with the current model (row i at rows + i * stride). */
void sf_drift_add(sf_drift *d, const float *rows, size_t n, size_t stride);

/* 1 when a reference is loaded, the window holds a row and `interval` has
 * passed since the last call that returned 1 (the first one: since the model). */
int sf_drift_due(sf_drift *d);

/* {"scorer","model_version","window","n","events","at","psi_max",
 * "feature_max","features":[{"name","psi"}...]} (largest PSI first),
 * malloc'd; NULL when there is no reference or no row yet. */
char *sf_drift_json(sf_drift *d);

/* The Prometheus lines (HELP/TYPE included) of satisfy_scorer_drift_psi_max
 * {feature}, satisfy_scorer_drift_psi{feature} (the SF_DRIFT_TOP largest) and
 * satisfy_scorer_drift_window_events; "" without a reference or a row.
 * malloc'd, NULL when out of memory. d may be NULL (""). */
char *sf_drift_prometheus(sf_drift *d);

#endif
