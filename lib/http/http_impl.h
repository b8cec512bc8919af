/*
 * http_impl.h - what the parts of the HTTP server share (lib/http/http.c, the
 * routes in lib/http/http_api.c, lib/http/http_mlflow.c, lib/http/http_prom.c, and
 * lib/http/http_online.c, which also renders its part of /metrics). Not a
 * public header.
 *
 * A route gets a complete request (method, path, query, body already within
 * the limits) and fills a response; http.c sends it. Handlers run on the
 * server's threads and only read shared state through snapshots and the
 * reference-counted model.
 */
#ifndef SATISFY_HTTP_IMPL_H
#define SATISFY_HTTP_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <microhttpd.h>

#include "satisfy/decision.h"
#include "satisfy/http.h"
#include "satisfy/kafka_follow.h"

typedef struct sf_http_req {
    const char *method;
    const char *path;
    const char *content_type; /* may be NULL */
    const char *query_n;      /* value of ?n=, may be NULL */
    const char *body;         /* NUL-terminated, len bytes */
    size_t len;
} sf_http_req;

typedef struct sf_http_resp {
    unsigned status;
    const char *type;
    char *body; /* malloc'd, or static when is_static */
    size_t len;
    int is_static;
    int close; /* close the connection after it */
} sf_http_resp;

/* The model shared by requests: freed when the last holder lets go. */
typedef struct sf_http_model {
    sf_model *m;
    int64_t version;
    int64_t loaded_at; /* ms since the epoch */
    int refs;
} sf_http_model;

#define SF_HTTP_TIMELINE 64

typedef struct sf_http_event {
    int64_t at;         /* ms since the epoch */
    int64_t version;    /* 0 when unknown (a release that could not be read) */
    int loaded;         /* 1 loaded, 0 rejected */
    char text[384];     /* algorithm/spec when loaded, the reason when rejected */
    char metrics[1536]; /* metrics JSON of a loaded model ("" if none or too long) */
} sf_http_event;

/* One point of a version's online accuracy series. */
typedef struct sf_http_point {
    int64_t t;        /* event_time of the newest pair in the window, ms */
    double rmse, auc; /* NaN when the message had null */
    int64_t n;        /* pairs in the window */
} sf_http_point;

typedef struct sf_http_series {
    int64_t version;  /* 0 = unused slot */
    sf_http_point *p; /* SF_HTTP_ONLINE_POINTS, sorted by t */
    size_t n;
    uint64_t thinned; /* times the series was halved */
} sf_http_series;

/* The satisfy.metrics follower, the series and the gate decisions it feeds
 * (own mutex: a message never waits for a request's model). */
typedef struct sf_http_online {
    pthread_mutex_t mu;
    sf_http_series s[SF_HTTP_ONLINE_VERSIONS];
    sf_decision dec[SF_HTTP_DECISIONS]; /* sorted by version, the lowest dropped first */
    size_t n_dec;
    uint64_t messages, bad, decisions; /* decisions: decision messages accepted */
    char last_bad[SF_ERR_MAX + 128];
    char consumer_error[400];
    sf_follow *follow; /* the follower thread, NULL when not started */
    char topic[128];
} sf_http_online;

/* The connection guard (http_guard.c): head, body and keep-alive deadlines
 * counted from accept, and room made for new clients near the limits. */
/* 1 when a message key (key_len bytes, not terminated; may be NULL) starts
 * with the string p: how satisfy.metrics messages without a schema header
 * are told apart. */
static inline int sf_http_key_has_prefix(const void *key, size_t key_len, const char *p)
{
    size_t n = strlen(p);
    return key && key_len >= n && memcmp(key, p, n) == 0;
}

/* The drift messages on satisfy.metrics (http_drift.c): the newest of each
 * scorer's input drift and the retrainer's outcome detector. */
#define SF_HTTP_DRIFT_SCORERS 16

typedef struct sf_http_drift {
    pthread_mutex_t mu;
    struct {
        char id[128];
        char *json;
    } scorer[SF_HTTP_DRIFT_SCORERS];
    char *outcome; /* the newest outcome drift message, NULL = none yet */
    uint64_t messages;
} sf_http_drift;

void sf_http_drift_init(sf_http *h);
void sf_http_drift_free(sf_http *h);
/* 1 when the message was a drift message (kept), 0 when it is not one. */
int sf_http_drift_feed(sf_http *h, const char *schema, const void *key, size_t key_len,
                       const void *value, size_t len);
int sf_http_drift_route(sf_http *h, const sf_http_req *q, sf_http_resp *r);

/* The shadow challengers' live judge on satisfy.metrics (http_challenge.c;
 * the message is challenge.h's sf_challenge_json, key SF_CHALLENGE_KEY_PREFIX
 * + the challenger's version, header schema SF_CHALLENGE_SCHEMA): the newest
 * message of each challenger, for GET /v1/challenge. */
#define SF_HTTP_CHALLENGES        32 /* challengers kept (the first started dropped first) */
#define SF_HTTP_CHALLENGE_HISTORY 10 /* older challenges listed besides the current one */

typedef struct sf_http_challenge {
    int64_t challenger; /* its version */
    int64_t started_at; /* ms since the epoch: the order of the challenges */
    char *json;         /* the newest message, NULL = unused slot */
} sf_http_challenge;

typedef struct sf_http_challenges {
    pthread_mutex_t mu;
    sf_http_challenge c[SF_HTTP_CHALLENGES];
    uint64_t messages, bad;
    char last_bad[SF_ERR_MAX + 128];
} sf_http_challenges;

void sf_http_challenge_init(sf_http *h);
void sf_http_challenge_free(sf_http *h);
/* One satisfy.metrics message: 1 when it is not a challenge message (by its
 * header schema, or without one by its "challenge-" key); 0 when kept; -1
 * (counted, err set and prefixed with where, which may be NULL) when it is
 * one but bad. */
int sf_http_challenge_feed(sf_http *h, const char *schema, const void *key, size_t key_len,
                           const void *value, size_t len, const char *where, sf_err *err);
int sf_http_challenge_route(sf_http *h, const sf_http_req *q, sf_http_resp *r);

typedef struct sf_http_sock sf_http_sock;

typedef struct sf_http_guard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    sf_http_sock *head, *tail; /* every open connection, oldest first */
    size_t live;               /* open and not cut */
    double header_s, idle_s, request_s;
    size_t soft_total, soft_per_ip; /* evict above these */
    long tick_ms;
    uint64_t head_timeouts, body_timeouts, idle_timeouts, evicted;
} sf_http_guard;

typedef struct sf_http_guard_stats {
    size_t open;
    uint64_t head_timeouts, body_timeouts, idle_timeouts, evicted;
} sf_http_guard_stats;

/* Starts the guard's thread (opts with their defaults filled in). */
int sf_http_guard_init(sf_http_guard *g, const sf_http_opts *o, sf_err *err);
/* Stops the thread; call before MHD_stop_daemon, and free after it. */
void sf_http_guard_stop(sf_http_guard *g);
void sf_http_guard_free(sf_http_guard *g);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the guard). */
void sf_http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code);
/* A request's progress on connection c. */
enum { SF_HTTP_GUARD_HEAD, SF_HTTP_GUARD_ANSWER, SF_HTTP_GUARD_DONE };
void sf_http_guard_request(sf_http_guard *g, struct MHD_Connection *c, int event);
void sf_http_guard_counts(sf_http_guard *g, sf_http_guard_stats *out);

struct sf_http {
    struct MHD_Daemon *d;
    sf_http_opts o;
    int port;
    pthread_mutex_t mu; /* model, timeline, counters */
    sf_http_model *model;
    sf_modelwatch *mw;
    sf_livehist *history; /* sf_http_set_history; read under mu */
    sf_http_event timeline[SF_HTTP_TIMELINE];
    size_t n_timeline;        /* total pushed; ring index = n % SF_HTTP_TIMELINE */
    uint64_t requests[6];     /* by status class: [1]=1xx .. [5]=5xx */
    uint64_t rejected_limits; /* 413/408/400-depth */
    uint64_t predictions;     /* rows scored over HTTP */
    sf_http_online online;
    sf_http_drift drift;
    sf_http_challenges challenge;
    sf_http_guard guard;
};

/* The satisfy.metrics follower (http_online.c). */
void sf_http_online_init(sf_http *h);
int sf_http_online_start(sf_http *h, const sf_kafka_conn *conn, sf_err *err);
void sf_http_online_stop(sf_http *h); /* stops the thread and frees the series */
int sf_http_online_route(sf_http *h, const sf_http_req *q, sf_http_resp *r);
/* The gate decisions kept, in increasing version order, as a JSON array
 * (the message shape of decision.h); NULL when out of memory. */
cJSON *sf_http_decisions_json(sf_http *h);
/* The /metrics families of the online accuracy and the decisions, as
 * malloc'd Prometheus text (NULL when out of memory): per model version the
 * newest point's satisfy_online_rmse, satisfy_online_auc (NaN skipped) and
 * satisfy_online_pairs, and satisfy_model_holdout_rmse of each released
 * decision kept. */
char *sf_http_online_prometheus(sf_http *h);

/* Takes a reference to the current model (NULL when none); give it back. */
sf_http_model *sf_http_model_get(sf_http *h);
void sf_http_model_put(sf_http *h, sf_http_model *m);

/* Responses. */
void sf_http_text(sf_http_resp *r, unsigned status, const char *static_text);
void sf_http_json(sf_http_resp *r, unsigned status, char *malloced_json);
/* {"error": msg, "field": field (omitted when NULL)} */
void sf_http_error(sf_http_resp *r, unsigned status, const char *msg, const char *field);

/* 1 when a Content-Type header (may be NULL) is application/json, in any
 * case, with or without parameters ("; charset=utf-8"). */
int sf_http_is_json(const char *content_type);

/* Max nesting depth of a JSON text (brackets outside strings). */
int sf_http_json_depth(const char *s, size_t len);

/* The body parsers, exposed for the fuzzers (tests/fuzz/fuzz_http_*.c). */
/* An order event from a /v1/predict body (NUL-terminated, len bytes): 0, or
 * -1 with msg and, when the error is in one field, its path in field
 * ("items[0].price"; else empty). Clear ev after a 0. */
int sf_http_predict_parse(const char *body, size_t len, sf_order_event *ev, char *field,
                          size_t fcap, char *msg, size_t mcap);

/* The rows of an /invocations body (NUL-terminated, len bytes; one of the
 * four MLflow input formats) against spec: 0 with *x (*n rows of spec->n
 * floats, NaN = missing; free it), or -1 with the MLflow error code
 * ("MALFORMED_REQUEST", "BAD_REQUEST") and message (an HTTP 400). */
int sf_http_mlflow_rows(const sf_feature_spec *spec, const char *body, size_t len, float **x,
                        size_t *n, const char **code, char *msg, size_t cap);

/* Routes: each returns 1 when it handled the path. */
int sf_http_api_route(sf_http *h, const sf_http_req *q, sf_http_resp *r);
int sf_http_mlflow_route(sf_http *h, const sf_http_req *q, sf_http_resp *r);
int sf_http_prom_route(sf_http *h, const sf_http_req *q, sf_http_resp *r);
/* GET /v1/alerts, and the alert counters' part of /metrics (malloc'd, ""
 * without alerts; NULL out of memory): lib/http/http_alerts.c */
/* ?n= of a list: *n = max without one; 0, or -1 with a 400 answer in r
 * ("n must be an integer in 1..max") (http_api.c). */
int sf_http_query_n(const sf_http_req *q, long max, long *n, sf_http_resp *r);
int sf_http_alerts_route(sf_http *h, const sf_http_req *q, sf_http_resp *r);
char *sf_http_alerts_prometheus(sf_http *h);
/* GET /v1/serving (http_serving.c), and the same object for /v1/models. */
int sf_http_serving_route(sf_http *h, const sf_http_req *q, sf_http_resp *r);
cJSON *sf_http_serving_json(sf_http *h);

#endif
