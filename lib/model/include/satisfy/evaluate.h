/*
 * evaluate.h - evaluation metrics for the review-score model, computed in C.
 *
 * Regression view (the score 1..5): RMSE (the primary metric), MAE, R2.
 * Binary view "dissatisfied" (label <= 2), ranked by a score where higher
 * means "more likely dissatisfied": ROC AUC and PR-AUC (average precision).
 *
 * Ties: AUC is the Mann-Whitney statistic with average ranks, so a tied
 * (positive, negative) pair counts one half. Average precision walks the
 * distinct score thresholds from the highest down and adds, for each group
 * of tied scores taken as a whole, (recall gain) x (precision after the
 * group); the result does not depend on the order of rows inside a tie (the
 * step-wise definition sklearn's average_precision_score uses).
 *
 * Degenerate cases never fail: with a single class AUC and PR-AUC are NaN and
 * `binary_ok` is 0; with a constant label R2 is NaN and `r2_ok` is 0.
 */
#ifndef SATISFY_EVALUATE_H
#define SATISFY_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>

#include "satisfy/error.h"

/* The label threshold of the binary view: dissatisfied when label <= 2. */
#define SF_DISSATISFIED_MAX 2.0

typedef struct sf_metrics {
    size_t n;     /* rows */
    size_t n_pos; /* dissatisfied rows (label <= 2) */
    double rmse, mae, r2;
    double auc, pr_auc;
    bool r2_ok;     /* false when every label is equal (R2 undefined, NaN) */
    bool binary_ok; /* false when all rows are one class (AUC, PR-AUC NaN) */
} sf_metrics;

/* Computes every metric for n rows. pred is the predicted score; dis is the
 * dissatisfaction score used for ranking (higher = more likely 1-2 stars), or
 * NULL to rank by -pred. Returns 0, or -1 with err set when n == 0 or a
 * value is not finite (the message names the row). */
int sf_metrics_compute(const double *label, const double *pred, const double *dis, size_t n,
                       sf_metrics *out, sf_err *err);

/* ROC AUC of score for the positives pos[i] != 0, ties counted half.
 * O(n log n). Sets *out to NaN when one class is absent. Returns 0, or -1
 * with err set (n == 0, non-finite score, allocation). */
int sf_auc(const double *score, const unsigned char *pos, size_t n, double *out, sf_err *err);

/* Average precision (PR-AUC) with tie groups taken whole (see above).
 * Sets *out to NaN when there is no positive or no negative. */
int sf_pr_auc(const double *score, const unsigned char *pos, size_t n, double *out, sf_err *err);

#endif
