/*
 * alerts.h - at-risk order alerts: what a scorer keeps to emit one Alert
 * (codec_alert.h) to satisfy.alerts per order, the first time one of the
 * order's predictions has a risk of a 1-2 star review (p_dissatisfied) at
 * or above the alert threshold.
 *
 * The threshold is the active release's (its metrics_json "alert":
 * {"threshold": T}, chosen at training for a target precision,
 * alert_threshold.h) unless the scorer overrides it (--alert-threshold); a
 * release without one and no override means no alerts.
 *
 * Once per order: the set of alerted orders. The scoring loop asks
 * sf_alerts_check for each prediction inside the batch's transaction; an
 * order that crosses becomes *pending*; when the batch commits its pending
 * orders join the set (sf_alerts_commit), when it aborts and rewinds they
 * are dropped (sf_alerts_abort) so the batch's second try alerts them again
 * (the aborted alerts were never committed). The set is rebuilt from the
 * topic: alerts are produced to the partition of their order's message, so
 * when partitions of satisfy.orders are assigned (rebalance, restart),
 * sf_alerts_rebuild reads the same partitions of satisfy.alerts
 * (read_committed) to their end and adds every order found. A restarted or
 * new owner of a partition therefore never alerts an order again whose alert
 * was committed; on satisfy-broker (no isolation) it also sees the alerts of
 * a killed transaction, so a kill -9 there duplicates none either.
 *
 * Thread use: check/commit/abort/rebuild/use_release on the scoring thread;
 * threshold, recent and prometheus from any thread (one mutex).
 */
#ifndef SATISFY_ALERTS_H
#define SATISFY_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/codec_alert.h"
#include "satisfy/error.h"
#include "satisfy/kafka.h"
#include "satisfy/log.h"

#define SF_ALERTS_RECENT    50 /* alerts kept for the web page (/v1/alerts) */
#define SF_ALERTS_REBUILD_S 30 /* the longest a rebuild reads before giving up */

typedef struct sf_alerts sf_alerts;

/* override: the threshold in [0,1] that wins over every release's; NaN =
 * the release's. log may be NULL. NULL when out of memory. */
sf_alerts *sf_alerts_new(double override, sf_log_fn log, void *log_arg);
void sf_alerts_free(sf_alerts *a);

/* The threshold a release carries: 1 and *t when its metrics_json has
 * "alert": {"threshold": T} with T in [0,1]; 0 when it has none (absent,
 * null: no threshold reached the target; an old release). */
int sf_alerts_release_threshold(const char *metrics_json, double *t);

/* A release became the active model: its threshold is used from the next
 * prediction, unless overridden. Logs the threshold in use. */
void sf_alerts_use_release(sf_alerts *a, int64_t version, const char *metrics_json);

/* Checks at start, with the scorer's producer, that satisfy.alerts exists
 * with at least the partitions of satisfy.orders (an alert goes to its
 * order's partition): 0 when it does; otherwise alerts are off for the run
 * (logged: the deployment predates satisfy.alerts) and 1. */
int sf_alerts_check_topics(sf_alerts *a, rd_kafka_t *rk, int timeout_ms);

/* Turns alerts off for the run with a reason (the topic cannot take them). */
void sf_alerts_disable(sf_alerts *a, const char *why);

/* The threshold in use; NaN when no alerts are made. */
double sf_alerts_threshold(sf_alerts *a);

/* 1 when prediction p crosses the threshold for the first time: *out is
 * its Alert and the order is pending; 0 otherwise. -1 out of memory. */
int sf_alerts_check(sf_alerts *a, const sf_prediction *p, sf_alert *out);

/* The batch's alerts were committed (n of them, for the page and the
 * counter) / aborted. */
void sf_alerts_commit(sf_alerts *a);
void sf_alerts_abort(sf_alerts *a);

/* Reads the given partitions of satisfy.alerts (read_committed) from the
 * start to their end (at most SF_ALERTS_REBUILD_S) and adds every order
 * found to the set (and the newest to the page). A partition or topic that
 * does not exist counts as empty. 0, or -1 with err (the set may then lack
 * some orders: they could be alerted again, deduplicable by event id). */
int sf_alerts_rebuild(sf_alerts *a, const sf_kafka_conn *conn, const int32_t *partitions, int n,
                      sf_err *err);

/* Up to max of the newest alerts (committed or read back), newest first. */
size_t sf_alerts_recent(sf_alerts *a, sf_alert *out, size_t max);

/* Counters (any thread): alerts committed by this scorer, orders known as
 * alerted (the set). */
typedef struct sf_alerts_counts {
    uint64_t emitted, known, rebuilt, bad;
} sf_alerts_counts;
void sf_alerts_get(sf_alerts *a, sf_alerts_counts *c);

/* Prometheus text: satisfy_scorer_alerts_total (counter),
 * satisfy_scorer_alert_threshold (gauge, -1 = no alerts),
 * satisfy_scorer_alerted_orders (gauge: the set). malloc'd or NULL. */
char *sf_alerts_prometheus(sf_alerts *a);

/* The JSON of GET /v1/alerts: {"threshold": T|null, "emitted": N,
 * "alerts": [Alert JSON, newest first]} (malloc'd, NULL when out of
 * memory). */
char *sf_alerts_json(sf_alerts *a, size_t max);

#endif
