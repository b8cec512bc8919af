/*
 * drift_detect.h - outcome drift: a Page-Hinkley change detector on a
 * stream of values (the retrainer feeds it the champion's absolute error,
 * |review score - predicted score|, of every delivered-stage prediction
 * joined with its review, in arrival order).
 *
 * One-sided, for an increase of the mean (the model getting worse; a model
 * getting better needs no alarm):
 *   mean_t = mean of x_1..x_t since the last reset
 *   m_t    = sum_{i<=t} (x_i - mean_i - delta)
 *   PH_t   = m_t - min_{i<=t} m_i
 * Alarm when PH_t > lambda after at least min_samples values; the detector
 * then resets (a new mean is learnt from the next values) and counts the
 * alarm. delta is the increase of the mean error that is tolerated, lambda
 * how much accumulated excess error makes an alarm: an increase d > delta
 * of the mean is found after about lambda / (d - delta) values, and a
 * stationary stream drifts down (PH stays near 0) by delta per value.
 * Why Page-Hinkley and not ADWIN: docs/model.md ("Drift").
 */
#ifndef SATISFY_DRIFT_DETECT_H
#define SATISFY_DRIFT_DETECT_H

#include <stdint.h>

#include "satisfy/error.h"

#define SF_PH_DELTA       0.1 /* tolerated increase of the mean absolute error, stars */
#define SF_PH_LAMBDA      30  /* accumulated excess error that raises an alarm, stars */
#define SF_PH_MIN_SAMPLES 200 /* values after a reset before an alarm can fire */

/* The retrainer's detector state on satisfy.metrics (one compacted key). */
#define SF_OUTCOME_DRIFT_SCHEMA "satisfy.v1.OutcomeDrift+json"
#define SF_OUTCOME_DRIFT_KEY    "outcome-drift"

typedef struct sf_ph_opts {
    double delta, lambda;
    long min_samples;
} sf_ph_opts;

typedef struct sf_ph {
    sf_ph_opts o;
    uint64_t n;             /* values since the last reset */
    double mean;            /* their mean */
    double m, m_min;        /* the cumulative sum and its minimum */
    uint64_t total;         /* values ever */
    uint64_t alarms;        /* alarms ever */
    uint64_t last_alarm_at; /* total at the last alarm, 0 = none */
    double mean_before;     /* the mean when the last alarm fired */
} sf_ph;

/* The defaults above. */
void sf_ph_opts_default(sf_ph_opts *o);

/* Checks the options (delta >= 0, lambda > 0, min_samples >= 1). */
int sf_ph_init(sf_ph *ph, const sf_ph_opts *o, sf_err *err);

/* Adds one value (a non-finite one is ignored). 1 when it raised an alarm
 * (the detector has reset), else 0. */
int sf_ph_add(sf_ph *ph, double x);

/* The statistic PH_t (0 right after a reset). */
double sf_ph_stat(const sf_ph *ph);

/* The state as a JSON object: {"detector":"page-hinkley","delta","lambda",
 * "min_samples","n","mean","stat","total","alarms","last_alarm_at",
 * "mean_before"}, malloc'd (NULL when out of memory). */
char *sf_ph_json(const sf_ph *ph);

/* ---- input drift alarms (the retrainer's side of the scorers' PSI) ----
 *
 * Every scorer publishes the PSI of each feature over its last scored
 * events to satisfy.metrics (drift.h: key "drift/<scorer>"). An input drift
 * alarm is a message whose largest PSI over the WATCHED features reaches a
 * threshold (default 0.25, the usual "act on it" level). Not watched:
 * the calendar features (purchase_weekday, purchase_hour, purchase_month)
 * and the history features (seller_review_mean, seller_review_count,
 * seller_late_rate, seller_delivered, customer_orders,
 * customer_review_mean): they drift by construction as time goes on, so a
 * retrain triggered by them would fire on every stream. */

#define SF_INPUT_DRIFT_PSI 0.25

typedef struct sf_input_alarm {
    char scorer[64];
    int64_t model_version;
    int64_t at;       /* the message's time, ms */
    char feature[64]; /* the watched feature with the largest PSI */
    double psi;       /* its PSI */
    char ignored[64]; /* the largest PSI overall when it is not watched, "" else */
    double ignored_psi;
} sf_input_alarm;

/* 1 when feature is watched (see above). */
int sf_input_drift_watched(const char *feature);

/* Reads one scorer PSI message (its JSON text). 1: an alarm (*out filled),
 * 0: none (*out filled as far as read), -1 with err: not such a message. */
int sf_input_drift_check(const char *json, double threshold, sf_input_alarm *out, sf_err *err);

#endif
