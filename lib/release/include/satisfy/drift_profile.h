/*
 * drift_profile.h - the training distribution of each feature of a model's
 * spec (its input-drift reference), and the population stability index
 * (PSI) that compares a live distribution with it.
 *
 * At training, sf_drift_profile_build bins every feature of the training
 * rows at its deciles (at most SF_DRIFT_BINS value bins: equal edges are
 * merged, so a 0/1 feature has two) plus one bin for missing values (NaN),
 * and keeps the share of rows in each bin. The release carries it in its
 * metrics_json as a top-level object (the ModelRelease schema is unchanged;
 * a release without it has no reference and its scorers compute no PSI):
 *   "drift": {"bins": 10, "eps": 0.0001, "rows": N,
 *             "features": [{"name": "...", "edges": [e1, ..., ek],
 *                           "shares": [s0, ..., sk, s_missing]}, ...]}
 * A value v goes to the bin i with e_i < v <= e_(i+1) (bin 0 at or below e1,
 * bin k above ek: a 0/1 feature mostly 0 gets the edge 0 and two bins), NaN
 * to the last bin. About 200 bytes per feature (12 KB
 * for the full spec), whatever the number of training rows.
 *
 * PSI = sum over bins of (a - e) * ln(a / e), a the live share, e the
 * training share, each floored at SF_DRIFT_EPS first: an empty bin on
 * either side then adds a large but finite term instead of infinity. The
 * usual reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 a shift to act on.
 */
#ifndef SATISFY_DRIFT_PROFILE_H
#define SATISFY_DRIFT_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/features.h"

#define SF_DRIFT_BINS      10     /* value bins at most (deciles) */
#define SF_DRIFT_EPS       1e-4   /* floor of a share in the PSI */
#define SF_DRIFT_SAMPLE    200000 /* training rows binned at most (evenly strided) */
#define SF_DRIFT_NAME      48     /* feature name bytes, NUL included */
#define SF_DRIFT_PSI_ALARM 0.25   /* the conventional "act on it" level */

typedef struct sf_drift_feature {
    char name[SF_DRIFT_NAME];
    int n_edges;                      /* 0 .. SF_DRIFT_BINS - 1 */
    float edges[SF_DRIFT_BINS - 1];   /* strictly increasing */
    double shares[SF_DRIFT_BINS + 1]; /* n_edges + 1 value bins, then missing at n_edges + 1 */
} sf_drift_feature;

typedef struct sf_drift_profile {
    int n; /* features */
    size_t rows;
    sf_drift_feature f[SF_SPEC_MAX_FEATURES];
} sf_drift_profile;

/* Bins of a feature: its value bins and the missing bin. */
static inline int sf_drift_n_bins(const sf_drift_feature *f)
{
    return f->n_edges + 2;
}

/* The bin of v (NaN: the missing bin, sf_drift_n_bins - 1). */
int sf_drift_bin(const sf_drift_feature *f, float v);

/* The profile of n rows of spec->n features (row-major, x[i * stride + j]).
 * At most SF_DRIFT_SAMPLE rows are read, evenly strided. -1 with err when
 * out of memory. */
int sf_drift_profile_build(const sf_feature_spec *spec, const float *x, size_t n, size_t stride,
                           sf_drift_profile *out, sf_err *err);

/* The "drift" object above, malloc'd compact JSON; NULL when out of memory. */
char *sf_drift_profile_json(const sf_drift_profile *p);

/* Adds "drift" (the profile) to a JSON object text: a new malloc'd text,
 * or NULL with err set (not an object, out of memory). */
char *sf_drift_metrics_with(const char *metrics_json, const sf_drift_profile *p, sf_err *err);

/* The "drift" object of a release's metrics_json: 1 read, 0 absent (no
 * metrics or no "drift": an older release), -1 malformed (err says where). */
int sf_drift_profile_parse(const char *metrics_json, sf_drift_profile *out, sf_err *err);

/* PSI of live counts (n_bins of them, total > 0) against training shares,
 * both floored at eps. NaN when total is 0. */
double sf_drift_psi_counts(const double *expected, const uint32_t *counts, int n_bins, double eps);
double sf_drift_psi(const double *expected, const double *actual, int n_bins, double eps);

#endif
