/*
 * alert_threshold.h - the at-risk alert threshold a release carries: chosen
 * at training on the holdout for a target precision of the 1-2 star risk.
 *
 * The scorer alerts an order once, when the risk of any of its predictions
 * first reaches the threshold (alerts.h). The choice judges exactly that:
 * per holdout order, its largest risk over every stage it has in the
 * holdout (purchased ... delivered, canceled); an order is alerted when
 * that maximum is >= the threshold, and a true alert when its review is 1
 * or 2 stars. The threshold is the lowest risk value t (one of the orders'
 * maxima) whose precision TP(>= t) / alerted(>= t) reaches the target: the
 * most recall the target allows. Precision is not monotone in t, so every
 * candidate is scanned. None reaches it: found = 0 (the release then makes
 * no alerts, unless a scorer overrides).
 */
#ifndef SATISFY_ALERT_THRESHOLD_H
#define SATISFY_ALERT_THRESHOLD_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "satisfy/error.h"

/* The default target precision (docs/model.md says why). */
#define SF_ALERT_PRECISION_DEFAULT 0.5

typedef struct sf_alert_choice {
    double target;     /* the precision asked for */
    int found;         /* a threshold reaches it */
    double threshold;  /* found: the lowest such risk */
    double precision;  /* found: on the holdout orders at that threshold */
    double recall;     /* found: share of the 1-2 star orders alerted */
    size_t n_orders;   /* holdout orders judged */
    size_t n_positive; /* of them with a 1-2 star review */
    size_t n_alerted;  /* found: of them alerted */
} sf_alert_choice;

/* Rows i < n of the holdout: risk[i] (probability of 1-2 stars), label[i]
 * (the review score), order[i] < n_orders (the row's order). 0 with *out
 * filled (found or not), -1 with err (out of memory, a risk outside 0..1). */
int sf_alert_choose(const double *risk, const double *label, const size_t *order, size_t n,
                    size_t n_orders, double target, sf_alert_choice *out, sf_err *err);

/* The choice as the release's metrics_json and the training report carry
 * it ("alert"): {"target", "threshold" (null when none reaches the target),
 * "precision", "recall", "orders", "positives", "alerted", "stages": "max"}
 * ("max": each order's largest risk over its holdout stages). */
cJSON *sf_alert_choice_json(const sf_alert_choice *c);

#endif
