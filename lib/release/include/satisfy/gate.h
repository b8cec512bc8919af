/*
 * gate.h - the time-ordered holdout and the release rule.
 *
 * Holdout: the most recent fraction F (default 0.20) of labeled orders by
 * purchase time, never a random split. The split is a cutoff time: an order
 * is in the holdout when its purchase time is >= the cutoff, so every stage
 * of one order lands on the same side and no training order is purchased at
 * or after any holdout order.
 *
 * Release rule: the candidate is released only if, on the same holdout rows,
 *   (1) RMSE(champion) - RMSE(candidate) >= margin, and
 *   (2) a seeded paired bootstrap (gsl_rng_mt19937, `resamples` draws) of the
 *       mean per-row squared-error difference (champion - candidate) has its
 *       2.5% quantile > 0 (the lower end of a 95% interval; `confidence`
 *       sets another level).
 * The bootstrap resamples ORDERS (clusters), not rows: the stage rows of one
 * order share its label and most features, so resampling rows would treat
 * correlated rows as independent and make the interval too narrow. Each
 * resample draws n_clusters orders with replacement; its statistic is the sum
 * of the drawn orders' row differences over the number of drawn rows (the
 * mean per-row difference, the same quantity RMSE squares are averaged over).
 * With no champion the reference is the constant-mean row, same test.
 */
#ifndef SATISFY_GATE_H
#define SATISFY_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"

#define SF_HOLDOUT_DEFAULT 0.20
#define SF_GATE_MARGIN     0.005 /* RMSE units (stars) */
#define SF_GATE_RESAMPLES  1000
#define SF_GATE_SEED       42UL
#define SF_GATE_CONFIDENCE 0.95 /* two-sided interval of the bootstrap */
#define SF_GATE_REASON_MAX 512

typedef struct sf_split {
    int64_t cutoff;               /* holdout = purchase >= cutoff */
    size_t n_train;               /* orders before the cutoff */
    size_t n_test;                /* orders at or after it */
    int64_t train_from, train_to; /* purchase range of the training orders */
    int64_t test_from, test_to;   /* purchase range of the holdout orders */
} sf_split;

/* Computes the cutoff for the n labeled orders' purchase times (any order):
 * the purchase time of the order at rank n - ceil(frac * n) in time order.
 * Orders tied with it go to the holdout too, so the holdout can be slightly
 * larger than frac * n. Fails (err set) when frac is not in (0, 1), n < 2, a
 * time is SF_TIME_NONE, or the split leaves either side empty. */
int sf_holdout_split(const int64_t *purchase, size_t n, double frac, sf_split *out, sf_err *err);

static inline bool sf_holdout_is_test(const sf_split *s, int64_t purchase)
{
    return purchase >= s->cutoff;
}

typedef struct sf_gate_opts {
    double margin;      /* minimum RMSE gain; default SF_GATE_MARGIN */
    int resamples;      /* default SF_GATE_RESAMPLES */
    unsigned long seed; /* default SF_GATE_SEED */
    double confidence;  /* interval level in (0.5, 1); default SF_GATE_CONFIDENCE; 0 = default */
} sf_gate_opts;

void sf_gate_opts_default(sf_gate_opts *o);

typedef struct sf_gate_decision {
    bool released;
    bool has_champion;  /* false: the reference was the mean row */
    char reference[32]; /* "champion v3" or "mean" */
    double rmse_champion, rmse_candidate;
    double gain; /* rmse_champion - rmse_candidate */
    double margin;
    double diff_mean;  /* observed mean per-row squared-error difference */
    double boot_mean;  /* mean of the resampled statistics */
    double boot_lower; /* (1 - confidence) / 2 quantile: 2.5% by default */
    double boot_upper; /* (1 + confidence) / 2 quantile: 97.5% by default */
    double confidence;
    size_t n_rows, n_clusters;
    int resamples;
    unsigned long seed;
    char reason[SF_GATE_REASON_MAX];
} sf_gate_decision;

/* Decides on n holdout rows. ref_pred is the champion's prediction (or the
 * training mean when there is none: set has_champion false); cluster[i] in
 * [0, n_clusters) names the order of row i, or cluster == NULL to resample
 * rows. ref_name labels the reference in the reason ("champion v3", "mean").
 * Returns 0 with *d filled (released or not), or -1 with err set on bad input
 * (n == 0, non-finite value, cluster id out of range). */
int sf_gate_decide(const double *label, const double *ref_pred, const double *cand_pred,
                   const size_t *cluster, size_t n_clusters, size_t n, bool has_champion,
                   const char *ref_name, const sf_gate_opts *opts, sf_gate_decision *d,
                   sf_err *err);

/* The challenger rule: a candidate the gate did not release may be shadowed
 * as a challenger (challenge.h) when it is not clearly worse than a champion:
 * there is a champion, the RMSE gain is above -margin (it loses less than
 * the margin), and the bootstrap's upper bound is above 0 (the champion is
 * not better with the gate's confidence). A release or a comparison with the
 * training mean is never a challenger. */
bool sf_gate_challenger_ok(const sf_gate_decision *d);

#endif
