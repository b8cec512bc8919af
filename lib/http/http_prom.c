/*
 * http_prom.c - GET /metrics: Prometheus text exposition (format 0.0.4) of
 * the scorer's live counters (stats.h: events, predictions, DLQ, batches,
 * aborts, model loads and rejections as counters; model version, consumer
 * lag, rate and uptime as gauges; the challenger's version, its shadow
 * predictions and skips (docs/operations.md); the e2e and process latency
 * histograms with their buckets), followed by what the HTTP server itself knows: the
 * model it serves as an info metric (labels version, algorithm, spec,
 * spec_hash, value 1), its requests by status class, the rows it scored,
 * the requests refused by a limit, its open connections and the connections
 * its guard closed (http_guard.c), by reason; then the online accuracy per
 * model version and the released versions' holdout RMSE from satisfy.metrics
 * (rendered by http_online.c), the scorer's input drift (drift.h: the
 * largest PSI with its feature as a label, the top ones per feature) and the
 * alert counters (http_alerts.c). Checked by `promtool check
 * metrics` in tests/unit/test_http.c when promtool is installed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_impl.h"

static void metrics(sf_http *h, sf_http_resp *r)
{
    sf_stats_snapshot s;
    sf_stats_get(h->o.stats, &s);
    char *base = sf_stats_prometheus(&s);
    if (!base) {
        sf_http_text(r, 500, "out of memory\n");
        return;
    }
    sf_http_model *m = sf_http_model_get(h);
    char info[512] = "";
    if (m) {
        const sf_model_info *in = sf_model_get_info(m->m);
        snprintf(info, sizeof info,
                 "satisfy_http_model_info{version=\"%" PRId64
                 "\",algorithm=\"%s\",spec=\"%s\",spec_hash=\"%s\"} 1\n",
                 m->version, sf_algo_name(in->algo), in->spec->name, in->spec_hash);
    }
    sf_http_model_put(h, m);
    uint64_t req[6], pred, lim;
    pthread_mutex_lock(&h->mu);
    memcpy(req, h->requests, sizeof req);
    pred = h->predictions;
    lim = h->rejected_limits;
    pthread_mutex_unlock(&h->mu);
    sf_http_guard_stats gs;
    sf_http_guard_counts(&h->guard, &gs);
    lim += gs.head_timeouts + gs.body_timeouts;
    uint64_t omsg, obad;
    pthread_mutex_lock(&h->online.mu);
    omsg = h->online.messages;
    obad = h->online.bad;
    pthread_mutex_unlock(&h->online.mu);
    char *online = sf_http_online_prometheus(h);
    char *drift = sf_drift_prometheus(h->o.drift); /* drift.h: "" without PSI */
    char *alerts = sf_http_alerts_prometheus(h);
    size_t cap = strlen(base) + 4096 + (online ? strlen(online) : 0) + (drift ? strlen(drift) : 0) +
                 (alerts ? strlen(alerts) : 0);
    char *out = online && drift && alerts ? malloc(cap) : NULL;
    if (!out) {
        free(base);
        free(online);
        free(drift);
        free(alerts);
        sf_http_text(r, 500, "out of memory\n");
        return;
    }
    int n = snprintf(out, cap,
                     "%s"
                     "# HELP satisfy_http_model_info The model the HTTP API scores with.\n"
                     "# TYPE satisfy_http_model_info gauge\n"
                     "%s"
                     "# HELP satisfy_http_requests_total HTTP requests answered, by status "
                     "class.\n"
                     "# TYPE satisfy_http_requests_total counter\n",
                     base, info);
    for (int c = 2; c <= 5; c++)
        n += snprintf(out + n, cap - (size_t)n,
                      "satisfy_http_requests_total{class=\"%dxx\"} %" PRIu64 "\n", c, req[c]);
    n += snprintf(out + n, cap - (size_t)n,
                  "# HELP satisfy_http_connections Open HTTP connections.\n"
                  "# TYPE satisfy_http_connections gauge\n"
                  "satisfy_http_connections %zu\n"
                  "# HELP satisfy_http_connections_closed_total Connections the server closed: "
                  "request head or body past its deadline, kept alive too long, or made room "
                  "for a new client.\n"
                  "# TYPE satisfy_http_connections_closed_total counter\n"
                  "satisfy_http_connections_closed_total{reason=\"head_timeout\"} %" PRIu64 "\n"
                  "satisfy_http_connections_closed_total{reason=\"body_timeout\"} %" PRIu64 "\n"
                  "satisfy_http_connections_closed_total{reason=\"idle_timeout\"} %" PRIu64 "\n"
                  "satisfy_http_connections_closed_total{reason=\"evicted\"} %" PRIu64 "\n",
                  gs.open, gs.head_timeouts, gs.body_timeouts, gs.idle_timeouts, gs.evicted);
    n += snprintf(out + n, cap - (size_t)n,
                  "# HELP satisfy_http_predictions_total Rows scored by /v1/predict and "
                  "/invocations.\n"
                  "# TYPE satisfy_http_predictions_total counter\n"
                  "satisfy_http_predictions_total %" PRIu64 "\n"
                  "# HELP satisfy_http_rejected_total Requests refused by a size or time limit.\n"
                  "# TYPE satisfy_http_rejected_total counter\n"
                  "satisfy_http_rejected_total %" PRIu64 "\n"
                  "# HELP satisfy_http_online_messages_total Online accuracy messages read from "
                  "satisfy.metrics.\n"
                  "# TYPE satisfy_http_online_messages_total counter\n"
                  "satisfy_http_online_messages_total %" PRIu64 "\n"
                  "# HELP satisfy_http_online_bad_messages_total Online accuracy messages ignored "
                  "as malformed.\n"
                  "# TYPE satisfy_http_online_bad_messages_total counter\n"
                  "satisfy_http_online_bad_messages_total %" PRIu64 "\n",
                  pred, lim, omsg, obad);
    snprintf(out + n, cap - (size_t)n, "%s%s%s", online, drift, alerts);
    free(base);
    free(online);
    free(drift);
    free(alerts);
    sf_http_json(r, 200, out);
    r->type = "text/plain; version=0.0.4; charset=utf-8";
}

int sf_http_prom_route(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    if (strcmp(q->path, "/metrics") != 0)
        return 0;
    if (strcmp(q->method, "GET") != 0)
        sf_http_error(r, 405, "use GET", NULL);
    else
        metrics(h, r);
    return 1;
}
