/*
 * online.h - online accuracy of released models: a rolling window per model
 * version of (review score, delivered-stage prediction) pairs, with its RMSE
 * and AUC, as the JSON the retrainer publishes to satisfy.metrics.
 *
 * The pairs come from the example store (store.h), which joins each order's
 * delivered-stage prediction with its review exactly once; this file only
 * keeps the last `window` pairs of each version and computes the metrics.
 * AUC ranks by p(dissatisfied) against "review score <= 2" (evaluate.h);
 * it is null while the window holds one class only.
 */
#ifndef SATISFY_ONLINE_H
#define SATISFY_ONLINE_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"

#define SF_ONLINE_WINDOW 1000 /* default pairs per version */

typedef struct sf_online sf_online;

typedef struct sf_online_stats {
    int64_t model_version;
    size_t n;           /* pairs in the window (<= window) */
    size_t total;       /* pairs ever added for this version */
    size_t window;      /* window size */
    double rmse;        /* NaN when n == 0 */
    double auc;         /* NaN with one class */
    int64_t event_time; /* of the newest pair */
} sf_online_stats;

/* window 0 = SF_ONLINE_WINDOW. NULL with err set when out of memory. */
sf_online *sf_online_new(size_t window, sf_err *err);
void sf_online_free(sf_online *o);

/* Adds one pair. label 1..5, score 1..5, p in [0,1]; anything else is
 * refused with the value named. */
int sf_online_add(sf_online *o, int64_t version, double label, double score, double p,
                  int64_t event_time, sf_err *err);

/* Stats of one version: 1 found, 0 unknown version, -1 error. */
int sf_online_stats_get(const sf_online *o, int64_t version, sf_online_stats *out, sf_err *err);

/* {"model_version", "n", "rmse", "auc", "window", "event_time"} (NaN as
 * null), malloc'd; NULL with err set for an unknown version. */
char *sf_online_json(const sf_online *o, int64_t version, sf_err *err);

#endif
