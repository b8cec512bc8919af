/*
 * http_metrics.h - the older minimal endpoint API (GET /healthz, GET
 * /metrics over the live counters of stats.h), kept for bench/bench_scorer.c.
 * It starts the full server of http.h without a model or web app; new code
 * uses http.h directly.
 */
#ifndef SATISFY_HTTP_METRICS_H
#define SATISFY_HTTP_METRICS_H

#include "satisfy/error.h"
#include "satisfy/stats.h"

typedef struct sf_http_metrics sf_http_metrics;

/* Listens on addr ("host:port", or ":port" / "port" for 127.0.0.1). stats
 * must outlive the server. NULL with err set. */
sf_http_metrics *sf_http_metrics_start(const char *addr, sf_stats *stats, sf_err *err);

/* The port actually bound (useful with port 0). */
int sf_http_metrics_port(const sf_http_metrics *h);

void sf_http_metrics_stop(sf_http_metrics *h); /* NULL is fine */

#endif
