/*
 * http.c - the scorer's HTTP server (see satisfy/http.h): the
 * libmicrohttpd daemon, request limits, static files of the web app, the
 * reference-counted model shared by requests, and the model timeline.
 *
 * A request is collected in full before a route sees it: its body is held to
 * max_body (413 as soon as Content-Length says so, or when the bytes exceed
 * it) and JSON bodies to max_depth (400). Time is bounded by the connection
 * guard (http_guard.c: head within header_ms of accept, body within
 * request_ms of the head, room made for new clients near the connection
 * limits) and by libmicrohttpd's idle timeout (idle_s). Routes live in
 * http_api.c, http_mlflow.c, http_prom.c, http_online.c (which also
 * follows satisfy.metrics), http_drift.c, http_serving.c, http_alerts.c and
 * http_challenge.c; this file only dispatches, answers HEAD as GET
 * and refuses an ambiguous body length. Every answer carries
 * X-Satisfy-Version.
 */
#include "http_impl.h"
#include "satisfy/clock.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

typedef struct conn {
    char *body;
    size_t len, cap;
    int too_big;
} conn;

/* ------------------------------------------------------------------ model */

static void model_unref_locked(sf_http_model *m, sf_model **to_free)
{
    *to_free = NULL;
    if (m && --m->refs == 0) {
        *to_free = m->m;
        free(m);
    }
}

sf_http_model *sf_http_model_get(sf_http *h)
{
    sf_model *nm = NULL;
    int64_t nv = 0;
    /* a newer release from our own watcher, if any (never waits) */
    int fresh = h->mw && sf_modelwatch_take(h->mw, 0, &nm, &nv);
    if (fresh)
        sf_http_set_model(h, nm, nv);
    pthread_mutex_lock(&h->mu);
    sf_http_model *m = h->model;
    if (m)
        m->refs++;
    pthread_mutex_unlock(&h->mu);
    return m;
}

void sf_http_model_put(sf_http *h, sf_http_model *m)
{
    if (!m)
        return;
    sf_model *f;
    pthread_mutex_lock(&h->mu);
    model_unref_locked(m, &f);
    pthread_mutex_unlock(&h->mu);
    sf_model_free(f);
}

static void timeline_push(sf_http *h, int64_t version, int loaded, const char *text,
                          const char *metrics)
{
    sf_http_event *e = &h->timeline[h->n_timeline % SF_HTTP_TIMELINE];
    memset(e, 0, sizeof *e);
    e->at = sf_wall_ms();
    e->version = version;
    e->loaded = loaded;
    snprintf(e->text, sizeof e->text, "%s", text);
    if (metrics && strlen(metrics) < sizeof e->metrics)
        snprintf(e->metrics, sizeof e->metrics, "%s", metrics);
    h->n_timeline++;
}

void sf_http_set_history(sf_http *h, sf_livehist *lh)
{
    pthread_mutex_lock(&h->mu);
    h->history = lh;
    pthread_mutex_unlock(&h->mu);
}

void sf_http_set_model(sf_http *h, sf_model *m, int64_t version)
{
    sf_http_model *n = calloc(1, sizeof *n);
    if (!n) {
        sf_model_free(m);
        return;
    }
    n->m = m;
    n->version = version;
    n->loaded_at = sf_wall_ms();
    n->refs = 1;
    const sf_model_info *in = sf_model_get_info(m);
    char text[128];
    snprintf(text, sizeof text, "%s, spec %s %s", sf_algo_name(in->algo), in->spec->name,
             in->spec_hash);
    sf_model *f;
    pthread_mutex_lock(&h->mu);
    sf_http_model *old = h->model;
    h->model = n;
    timeline_push(h, version, 1, text, sf_model_metrics(m));
    model_unref_locked(old, &f);
    pthread_mutex_unlock(&h->mu);
    sf_model_free(f);
}

/* The watcher's log lines: rejections go to the timeline (loads are
 * recorded when the model is taken, with its metrics). */
static void watch_log(void *arg, const char *line)
{
    sf_http *h = arg;
    if (strncmp(line, "ignoring", 8) != 0)
        return;
    int64_t v = 0;
    const char *p = strstr(line, "release ");
    if (p)
        v = strtoll(p + 8, NULL, 10);
    pthread_mutex_lock(&h->mu);
    timeline_push(h, v, 0, line, NULL);
    pthread_mutex_unlock(&h->mu);
}

int sf_http_watch(sf_http *h, const sf_kafka_conn *conn, sf_err *err)
{
    if (h->mw)
        return sf_errf(err, "the HTTP server already follows a models topic");
    sf_modelwatch_opts wo = {.log = watch_log, .log_arg = h, .verify_key = h->o.verify_key};
    h->mw = sf_modelwatch_start(conn, &wo, err);
    if (!h->mw)
        return sf_err_wrap(err, "HTTP model watcher");
    return h->online.follow ? 0 : sf_http_online_start(h, conn, err);
}

/* -------------------------------------------------------------- responses */

void sf_http_text(sf_http_resp *r, unsigned status, const char *static_text)
{
    r->status = status;
    r->type = "text/plain; charset=utf-8";
    r->body = (char *)static_text;
    r->len = strlen(static_text);
    r->is_static = 1;
}

void sf_http_json(sf_http_resp *r, unsigned status, char *json)
{
    if (!json) {
        sf_http_text(r, 500, "out of memory\n");
        return;
    }
    r->status = status;
    r->type = "application/json";
    r->body = json;
    r->len = strlen(json);
    r->is_static = 0;
}

void sf_http_error(sf_http_resp *r, unsigned status, const char *msg, const char *field)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (o && cJSON_AddStringToObject(o, "error", msg) &&
        (!field || cJSON_AddStringToObject(o, "field", field)))
        s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    sf_http_json(r, status, s);
}

int sf_http_is_json(const char *content_type)
{
    const char *p = content_type;
    if (!p)
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "application/json", 16) != 0)
        return 0;
    p += 16;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0' || *p == ';';
}

int sf_http_json_depth(const char *s, size_t len)
{
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

/* ------------------------------------------------------------ static files */

static const char *mime(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (!strcmp(dot, ".png"))
        return "image/png";
    return "application/octet-stream";
}

static int static_route(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    if (!h->o.web || strcmp(q->method, "GET") != 0)
        return 0;
    const char *name = strcmp(q->path, "/") == 0 ? "index.html" : q->path + 1;
    if (strchr(name, '/'))
        return 0;
    for (const struct sf_embedded_file *f = h->o.web; f->name; f++) {
        if (strcmp(f->name, name) == 0) {
            r->status = 200;
            r->type = mime(name);
            r->body = (char *)f->data;
            r->len = f->len;
            r->is_static = 1;
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- daemon */

static enum MHD_Result send_resp(sf_http *h, struct MHD_Connection *c, sf_http_resp *r)
{
    struct MHD_Response *mr = MHD_create_response_from_buffer(
        r->len, r->body, r->is_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
    if (!mr) {
        if (!r->is_static)
            free(r->body);
        return MHD_NO;
    }
    MHD_add_response_header(mr, "Content-Type", r->type);
    MHD_add_response_header(mr, "Cache-Control", "no-store");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(mr, "X-Satisfy-Version", h->o.version);
    if (r->close)
        MHD_add_response_header(mr, "Connection", "close");
    MHD_add_response_header(mr, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    sf_http_guard_request(&h->guard, c, SF_HTTP_GUARD_ANSWER);
    enum MHD_Result ret = MHD_queue_response(c, r->status, mr);
    MHD_destroy_response(mr);
    unsigned cls = r->status / 100;
    pthread_mutex_lock(&h->mu);
    if (cls >= 1 && cls <= 5)
        h->requests[cls]++;
    if (r->status == 413 || r->status == 408)
        h->rejected_limits++;
    pthread_mutex_unlock(&h->mu);
    return ret;
}

static void dispatch(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    if (sf_http_api_route(h, q, r) || sf_http_online_route(h, q, r) ||
        sf_http_drift_route(h, q, r) || sf_http_serving_route(h, q, r) ||
        sf_http_challenge_route(h, q, r) || sf_http_mlflow_route(h, q, r) ||
        sf_http_prom_route(h, q, r) || sf_http_alerts_route(h, q, r) || static_route(h, q, r))
        return;
    sf_http_error(r, 404, "no such resource", NULL);
}

static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    (void)value;
    int *n = cls;
    if (strcasecmp(key, "Content-Length") == 0)
        n[0]++;
    else if (strcasecmp(key, "Transfer-Encoding") == 0)
        n[1]++;
    return MHD_YES;
}

/* What the head alone decides: 400 when the body's length is ambiguous (two
 * Content-Length headers, or one beside Transfer-Encoding: a proxy in front
 * may frame the body the other way, and the rest would be read as another
 * request), 413 when it declares a body over the limit; 0 when the request
 * goes on. */
static int head_check(sf_http *h, struct MHD_Connection *c, sf_http_resp *r)
{
    int n[2] = {0, 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_length, n);
    if (n[0] > 1 || (n[0] && n[1])) {
        sf_http_error(r, 400,
                      n[1] ? "ambiguous body length: Content-Length beside Transfer-Encoding"
                           : "ambiguous body length: more than one Content-Length header",
                      NULL);
        r->close = 1;
        return 1;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > h->o.max_body) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body of %s bytes is over the limit of %zu", cl,
                 h->o.max_body);
        sf_http_error(r, 413, msg, NULL);
        r->close = 1;
        return 1;
    }
    return 0;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    sf_http *h = cls;
    conn *k = *con_cls;
    sf_http_resp r = {0};
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return MHD_NO;
        *con_cls = k;
        sf_http_guard_request(&h->guard, c, SF_HTTP_GUARD_HEAD);
        return head_check(h, c, &r) ? send_resp(h, c, &r) : MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (k->too_big || k->len + n > h->o.max_body) {
            k->too_big = 1;
            return MHD_YES; /* discard, answer 413 at the end */
        }
        if (k->len + n + 1 > k->cap) {
            size_t cap = k->cap ? k->cap : 4096;
            while (cap < k->len + n + 1)
                cap *= 2;
            char *b = realloc(k->body, cap);
            if (!b)
                return MHD_NO;
            k->body = b;
            k->cap = cap;
        }
        memcpy(k->body + k->len, upload, n);
        k->len += n;
        k->body[k->len] = '\0';
        return MHD_YES;
    }
    if (k->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body is over the limit of %zu bytes", h->o.max_body);
        sf_http_error(&r, 413, msg, NULL);
        return send_resp(h, c, &r);
    }
    if (k->len > 0 && memchr(k->body, '\0', k->len)) {
        sf_http_error(&r, 400, "request body contains a NUL byte", NULL);
        return send_resp(h, c, &r);
    }
    if (k->len > 0 && sf_http_json_depth(k->body, k->len) > h->o.max_depth) {
        char msg[96];
        snprintf(msg, sizeof msg, "JSON nested deeper than %d levels", h->o.max_depth);
        sf_http_error(&r, 400, msg, NULL);
        return send_resp(h, c, &r);
    }
    sf_http_req q = {
        .method = strcmp(method, "HEAD") == 0 ? "GET" : method, /* libmicrohttpd drops the body */
        .path = url,
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
        .query_n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n"),
        .body = k->body ? k->body : "",
        .len = k->len,
    };
    dispatch(h, &q, &r);
    return send_resp(h, c, &r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    sf_http *h = cls;
    sf_http_guard_request(&h->guard, c, SF_HTTP_GUARD_DONE);
    conn *k = *con_cls;
    if (k) {
        free(k->body);
        free(k);
        *con_cls = NULL;
    }
}

static int parse_addr(const char *addr, struct sockaddr_in *sin, sf_err *err)
{
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(addr, ':');
    const char *port_s = colon ? colon + 1 : addr;
    if (colon && colon != addr) {
        size_t n = (size_t)(colon - addr);
        if (n >= sizeof host)
            return sf_errf(err, "host part of '%s' is too long", addr);
        memcpy(host, addr, n);
        host[n] = '\0';
        if (strcmp(host, "localhost") == 0)
            snprintf(host, sizeof host, "127.0.0.1");
    }
    char *end;
    long port = strtol(port_s, &end, 10);
    if (end == port_s || *end || port < 0 || port > 65535)
        return sf_errf(err, "expected host:port, got '%s'", addr);
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return sf_errf(err, "'%s' is not an IPv4 address", host);
    return 0;
}

sf_http *sf_http_start(const sf_http_opts *opts, sf_err *err)
{
    if (!opts || !opts->stats) {
        sf_errf(err, "HTTP server: stats are required");
        return NULL;
    }
    struct sockaddr_in sin;
    if (parse_addr(opts->addr ? opts->addr : "127.0.0.1:0", &sin, err))
        return NULL;
    sf_http *h = calloc(1, sizeof *h);
    if (!h) {
        sf_errf(err, "out of memory");
        return NULL;
    }
    h->o = *opts;
    if (!h->o.max_body)
        h->o.max_body = SF_HTTP_MAX_BODY;
    if (h->o.max_depth <= 0)
        h->o.max_depth = SF_HTTP_MAX_DEPTH;
    if (h->o.idle_s <= 0)
        h->o.idle_s = SF_HTTP_IDLE_S;
    if (h->o.request_ms <= 0)
        h->o.request_ms = SF_HTTP_REQUEST_MS;
    if (h->o.header_ms <= 0)
        h->o.header_ms = SF_HTTP_HEADER_MS;
    if (h->o.max_conns <= 0)
        h->o.max_conns = SF_HTTP_MAX_CONNS;
    if (h->o.max_conns_per_ip <= 0)
        h->o.max_conns_per_ip = SF_HTTP_MAX_CONNS_PER_IP;
    if (h->o.threads <= 0)
        h->o.threads = SF_HTTP_THREADS;
    if (!h->o.version)
        h->o.version = "unknown";
    if (!h->o.mlflow_version)
        h->o.mlflow_version = SF_HTTP_MLFLOW_VERSION;
    if (sf_http_guard_init(&h->guard, &h->o, err)) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    sf_http_drift_init(h);
    sf_http_challenge_init(h);
    sf_http_online_init(h);
    h->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, handler, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)h->o.threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)h->o.idle_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->o.max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)h->o.max_conns_per_ip, MHD_OPTION_NOTIFY_COMPLETED, completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, sf_http_guard_notify, &h->guard, MHD_OPTION_END);
    if (!h->d) {
        sf_http_guard_stop(&h->guard);
        sf_http_guard_free(&h->guard);
        sf_http_online_stop(h);
        sf_http_drift_free(h);
        sf_http_challenge_free(h);
        pthread_mutex_destroy(&h->mu);
        free(h);
        sf_errf(err, "cannot listen on %s", opts->addr ? opts->addr : "127.0.0.1:0");
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : (int)ntohs(sin.sin_port);
    return h;
}

int sf_http_port(const sf_http *h)
{
    return h->port;
}

void sf_http_stop(sf_http *h)
{
    if (!h)
        return;
    sf_http_guard_stop(&h->guard); /* no more shutdowns: the daemon closes what is open */
    MHD_stop_daemon(h->d);
    sf_http_guard_free(&h->guard);
    sf_modelwatch_stop(h->mw);
    sf_http_online_stop(h);
    sf_http_drift_free(h); /* after the follower that feeds it */
    sf_http_challenge_free(h);
    if (h->model) {
        sf_model_free(h->model->m);
        free(h->model);
    }
    pthread_mutex_destroy(&h->mu);
    free(h);
}
