/*
 * http_alerts.c - GET /v1/alerts: the newest at-risk order alerts of this
 * scorer (alerts.h: those it committed and those it read back from
 * satisfy.alerts for its partitions), newest first, with their reasons and
 * the threshold in use (?n= at most SF_ALERTS_RECENT); and the alert
 * counters' part of /metrics. Without alerts (sf_http_opts.alerts NULL)
 * the list is empty and the threshold null.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_impl.h"

static void alerts(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    long n;
    if (sf_http_query_n(q, SF_ALERTS_RECENT, &n, r) < 0)
        return;
    char *js = h->o.alerts ? sf_alerts_json(h->o.alerts, (size_t)n)
                           : strdup("{\"threshold\":null,\"emitted\":0,\"known\":0,\"alerts\":[]}");
    if (!js) {
        sf_http_text(r, 500, "out of memory\n");
        return;
    }
    sf_http_json(r, 200, js);
}

int sf_http_alerts_route(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    if (strcmp(q->path, "/v1/alerts") != 0)
        return 0;
    if (strcmp(q->method, "GET") != 0)
        sf_http_error(r, 405, "use GET", NULL);
    else
        alerts(h, q, r);
    return 1;
}

char *sf_http_alerts_prometheus(sf_http *h)
{
    return h->o.alerts ? sf_alerts_prometheus(h->o.alerts) : strdup("");
}
