/*
 * http_metrics.c - the older minimal endpoint API (http_metrics.h), kept for
 * bench/bench_scorer.c: now a thin wrapper over the full server (http.h),
 * serving the same /healthz and /metrics (and the rest of the API).
 */
#include "satisfy/http_metrics.h"

#include "satisfy/http.h"

sf_http_metrics *sf_http_metrics_start(const char *addr, sf_stats *stats, sf_err *err)
{
    sf_http_opts o = {.addr = addr, .stats = stats};
    sf_http *h = sf_http_start(&o, err);
    return (sf_http_metrics *)h;
}

int sf_http_metrics_port(const sf_http_metrics *h)
{
    return sf_http_port((const sf_http *)h);
}

void sf_http_metrics_stop(sf_http_metrics *h)
{
    sf_http_stop((sf_http *)h);
}
