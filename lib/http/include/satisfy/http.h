/*
 * http.h - the scorer's HTTP server: the web app (/), the JSON API (/v1/...),
 * the MLflow scoring protocol (/invocations, /ping, /version), Prometheus
 * metrics (/metrics) and the probes (/healthz, /readyz).
 *
 * libmicrohttpd with a small internal thread pool, bound to 127.0.0.1 unless
 * the address names another host. Every request is bounded: body size, JSON
 * nesting depth, the time to send its head (from accept) and its body, idle
 * time; and the connections, per client address and in all, with the
 * connection idle longest closed to make room for a new one (docs/web.md,
 * "Limits"). A request over a limit gets a 4xx with the reason. The server never touches the
 * scoring loop's model: it keeps its own copy, fed by its own model watcher
 * (sf_http_watch) or set directly (sf_http_set_model, for tests), shared
 * between requests by reference count, so a prediction over HTTP never waits
 * for a batch and a batch never waits for HTTP. Counters come from sf_stats
 * snapshots (one mutex, held for a copy).
 *
 * The same watcher call also follows satisfy.metrics (the online accuracy
 * the retrainer publishes, online.h) with a consumer of its own, outside any
 * group, from the beginning of every partition: per model version a bounded
 * series of (event_time, rmse, auc, n) points, served by GET /v1/online and
 * drawn by the page. The retrainer's gate decisions on the same topic
 * (decision.h: header schema satisfy.v1.ModelDecision+json, key
 * "decision-<version>") are kept too, the newest SF_HTTP_DECISIONS versions,
 * and listed by /v1/online and /v1/models for the page's model timeline. A
 * message that is neither is counted and ignored.
 */
#ifndef SATISFY_HTTP_H
#define SATISFY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/drift.h"
#include "satisfy/embed.h"
#include "satisfy/alerts.h"
#include "satisfy/error.h"
#include "satisfy/livehistory.h"
#include "satisfy/model.h"
#include "satisfy/modelwatch.h"
#include "satisfy/stats.h"

#define SF_HTTP_MAX_BODY         (1024 * 1024) /* bytes */
#define SF_HTTP_MAX_DEPTH        16            /* JSON nesting */
#define SF_HTTP_IDLE_S           10   /* idle connection, and kept alive between requests */
#define SF_HTTP_HEADER_MS        5000 /* request head complete, from accept */
#define SF_HTTP_REQUEST_MS       5000 /* request body complete, from the end of the head */
#define SF_HTTP_MAX_CONNS        512  /* open connections (idle ones closed above 3/4) */
#define SF_HTTP_MAX_CONNS_PER_IP 64   /* open connections of one client address (idem) */
#define SF_HTTP_THREADS          4
#define SF_HTTP_MAX_ROWS         10000 /* rows of one /invocations request */

#define SF_HTTP_ONLINE_POINTS   500 /* points kept per model version (older ones thinned) */
#define SF_HTTP_ONLINE_VERSIONS 32  /* model versions kept (the lowest dropped first) */
#define SF_HTTP_DECISIONS       200 /* gate decisions kept (the lowest version dropped first) */

/* The MLflow release whose scoring protocol the server speaks: GET /version
 * answers it, as `mlflow models serve` answers its own version. The satisfy
 * version is in the X-Satisfy-Version header and GET /v1/version. */
#define SF_HTTP_MLFLOW_VERSION "2.14.1"

typedef struct sf_http sf_http;

typedef struct sf_http_opts {
    const char *addr; /* "host:port", ":port" or "port" (host 127.0.0.1); port 0 = any */
    sf_stats *stats;  /* required; must outlive the server */
    /* files served under / (index.html at /), NULL-name terminated; may be NULL */
    const struct sf_embedded_file *web;
    size_t max_body;      /* 0 = SF_HTTP_MAX_BODY */
    int max_depth;        /* 0 = SF_HTTP_MAX_DEPTH */
    int idle_s;           /* 0 = SF_HTTP_IDLE_S */
    int request_ms;       /* 0 = SF_HTTP_REQUEST_MS */
    int header_ms;        /* 0 = SF_HTTP_HEADER_MS */
    int max_conns;        /* 0 = SF_HTTP_MAX_CONNS */
    int max_conns_per_ip; /* 0 = SF_HTTP_MAX_CONNS_PER_IP */
    int threads;          /* 0 = SF_HTTP_THREADS */
    const char *version;  /* satisfy version (X-Satisfy-Version, /v1/version); NULL = "unknown" */
    const char *mlflow_version; /* GET /version; NULL = SF_HTTP_MLFLOW_VERSION */
    const char *metrics_topic;  /* followed by sf_http_watch; NULL = satisfy.metrics */
    /* public key the watcher of sf_http_watch checks releases with
     * (modelwatch.h); NULL = unsigned mode. Must outlive the server. */
    const sf_release_key *verify_key;
    /* the scorer's input drift (drift.h): /metrics and GET /v1/drift show
     * its PSI; NULL = none. Must outlive the server. */
    sf_drift *drift;
    /* the scorer's at-risk alerts (alerts.h) for GET /v1/alerts and
     * /metrics; NULL = none. Must outlive the server. */
    sf_alerts *alerts;
} sf_http_opts;

/* Starts listening. NULL with err set (bad address, port in use). */
sf_http *sf_http_start(const sf_http_opts *opts, sf_err *err);

/* The port actually bound (useful with port 0). */
int sf_http_port(const sf_http *h);

/* Stops the server (waits for requests in flight) and its watcher, frees the
 * model. NULL is fine. */
void sf_http_stop(sf_http *h);

/* Makes m (owned from now on) the model of /v1/predict and /invocations;
 * requests still using the previous one finish with it. */
void sf_http_set_model(sf_http *h, sf_model *m, int64_t version);

/* The live seller and customer history POST /v1/predict computes features
 * with (the scorer's, livehistory.h; NULL = the model's own snapshot, if its
 * release has one). Set by satisfy-scorer when its run starts the history
 * and cleared before the history stops: it waits for requests using it. */
void sf_http_set_history(sf_http *h, sf_livehist *lh);

/* Follows satisfy.models with an own watcher (sf_modelwatch_start on conn):
 * every newer valid release becomes the server's model, and loads and
 * rejections go to the model timeline (/v1/models).
 * Also follows satisfy.metrics (on conn too) for /v1/online: a thread of
 * its own assigns every partition of the topic from the beginning (waiting
 * for the topic to exist, and picking up partitions added later) and feeds
 * each message to sf_http_online_feed. 0, or -1 with err set. */
int sf_http_watch(sf_http *h, const sf_kafka_conn *conn, sf_err *err);

/* Adds one online accuracy message (the JSON of sf_online_json: model_version,
 * n, rmse, auc, event_time, ...; key = the version in decimal, or NULL) to the
 * series of GET /v1/online. A point with the event_time of a point already
 * kept replaces it; a version over SF_HTTP_ONLINE_POINTS points is thinned
 * (every other older point dropped). A bad message leaves the series alone,
 * is counted, and its reason (prefixed with where, which may be NULL) is
 * kept for /v1/online: -1 with err set. */
int sf_http_online_feed(sf_http *h, const void *key, size_t key_len, const void *value, size_t len,
                        const char *where, sf_err *err);

/* Adds one gate decision message (decision.h; key "decision-<version>" or
 * NULL), validated by sf_decision_parse. A decision for a version already
 * kept replaces it; beyond SF_HTTP_DECISIONS versions the lowest is dropped
 * (a decision lower than every one kept is not stored). A bad message is
 * counted and its reason kept as for sf_http_online_feed: -1 with err set. */
int sf_http_decision_feed(sf_http *h, const void *key, size_t key_len, const void *value,
                          size_t len, const char *where, sf_err *err);

/* One satisfy.metrics message as the follower sees it: input or outcome
 * drift (http_drift.c) and a shadow challenger's live judge (schema
 * satisfy.v1.Challenge+json or key "challenge-<version>", GET /v1/challenge,
 * http_challenge.c) are told apart first; then a decision when its header
 * schema (may be NULL) is SF_DECISION_SCHEMA, or when it has no schema and
 * its key starts with "decision-"; else online accuracy. */
int sf_http_metrics_feed(sf_http *h, const char *schema, const void *key, size_t key_len,
                         const void *value, size_t len, const char *where, sf_err *err);

#endif
