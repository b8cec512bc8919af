/*
 * http_api.c - the JSON API of the scorer's HTTP server and its probes:
 *   POST /v1/predict              an order event (the JSON shape of codec.h)
 *                                 -> its prediction with reasons
 *   GET  /v1/models               the server's model, the release timeline and the
 *                                 retrainer's gate decisions (http_online.c)
 *   GET  /v1/serving              the served release and how it got there (read-only;
 *                                 http_serving.c); also under "serving" in /v1/models
 *   GET  /v1/stats                the scorer's live counters and latencies
 *   GET  /v1/predictions/recent   the newest predictions of the stream (?n=)
 *   GET  /v1/version              {"satisfy": ..., "mlflow": ...} (GET /version is
 *                                 MLflow's, http_mlflow.c)
 *   GET  /healthz                 alive
 *   GET  /readyz                  a model is loaded and the group is joined
 * Errors are {"error": "...", "field": "items[0].price"} with a 4xx status;
 * the field is named whenever the problem is in one (unknown fields too: a
 * misspelt field would otherwise silently become "missing"; a number too
 * large for a double, which cJSON reads as infinity). /v1/predict takes
 * application/json only (415).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "http_impl.h"
#include "satisfy/codec.h"
#include "satisfy/json_field.h"
#include "satisfy/clock.h"

/* ------------------------------------------------------------ validation */

static const char *const TOP_FIELDS[] = {"order_id",           "customer_id",
                                         "customer_unique_id", "stage",
                                         "event_time",         "purchase_time",
                                         "estimated_delivery", "approved_time",
                                         "carrier_time",       "delivered_time",
                                         "customer",           "items",
                                         "payments",           NULL};
static const char *const PLACE_FIELDS[] = {"zip", "city", "state", "lat", "lng", NULL};
static const char *const ITEM_FIELDS[] = {"seq",       "product_id",     "seller_id", "price",
                                          "freight",   "shipping_limit", "category",  "name_len",
                                          "desc_len",  "photos",         "weight_g",  "length_cm",
                                          "height_cm", "width_cm",       "seller",    NULL};
static const char *const PAY_FIELDS[] = {"seq", "type", "installments", "value", NULL};

static int known(const char *const *names, const char *k)
{
    for (; *names; names++)
        if (strcmp(*names, k) == 0)
            return 1;
    return 0;
}

/* The first unknown field of obj (checked against names) into field, with
 * prefix "where."; 0 if none. */
static int unknown_field(const cJSON *obj, const char *const *names, const char *where, char *field,
                         size_t cap)
{
    if (!cJSON_IsObject(obj))
        return 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, obj)
    {
        if (!e->string || !known(names, e->string)) {
            snprintf(field, cap, "%s%s%s", where, *where ? "." : "", e->string ? e->string : "");
            return 1;
        }
    }
    return 0;
}

static int find_unknown(const cJSON *root, char *field, size_t cap)
{
    if (unknown_field(root, TOP_FIELDS, "", field, cap) ||
        unknown_field(cJSON_GetObjectItemCaseSensitive(root, "customer"), PLACE_FIELDS, "customer",
                      field, cap))
        return 1;
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, "items"))
    {
        char where[48];
        snprintf(where, sizeof where, "items[%d]", i);
        if (unknown_field(e, ITEM_FIELDS, where, field, cap))
            return 1;
        snprintf(where, sizeof where, "items[%d].seller", i);
        if (cJSON_IsObject(e) && unknown_field(cJSON_GetObjectItemCaseSensitive(e, "seller"),
                                               PLACE_FIELDS, where, field, cap))
            return 1;
        i++;
    }
    i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, "payments"))
    {
        char where[48];
        snprintf(where, sizeof where, "payments[%d]", i++);
        if (unknown_field(e, PAY_FIELDS, where, field, cap))
            return 1;
    }
    return 0;
}

/* Checks the codec does not make (values a person can get wrong in a form). */
static int check_values(const sf_order_event *ev, char *field, size_t cap, char *msg, size_t mcap)
{
#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(field, cap, __VA_ARGS__);                                                         \
        return -1;                                                                                 \
    } while (0)
    if (ev->n_items == 0) {
        snprintf(msg, mcap, "an order has at least one item");
        BAD("items");
    }
    if (ev->estimated < ev->purchase) {
        snprintf(msg, mcap, "the estimated delivery is before the purchase");
        BAD("estimated_delivery");
    }
    if (ev->delivered != SF_TIME_NONE && ev->delivered < ev->purchase) {
        snprintf(msg, mcap, "delivered before the purchase");
        BAD("delivered_time");
    }
    for (int i = 0; i < ev->n_items; i++) {
        const sf_item *it = &ev->items[i];
        snprintf(msg, mcap, "must be a number >= 0");
        if (!(it->price >= 0) && !isnan(it->price))
            BAD("items[%d].price", i);
        if (!(it->freight >= 0) && !isnan(it->freight))
            BAD("items[%d].freight", i);
        if (!(it->weight_g >= 0) && !isnan(it->weight_g))
            BAD("items[%d].weight_g", i);
    }
    for (int i = 0; i < ev->n_payments; i++) {
        snprintf(msg, mcap, "must be a number >= 0");
        if (!(ev->payments[i].value >= 0) && !isnan(ev->payments[i].value))
            BAD("payments[%d].value", i);
        if (ev->payments[i].installments < 0 || ev->payments[i].installments > 48) {
            snprintf(msg, mcap, "installments must be 0..48");
            BAD("payments[%d].installments", i);
        }
    }
#undef BAD
    return 0;
}

/* "OrderEvent JSON: items[0].price: expected a number" -> "items[0].price" */
static void field_of(const char *msg, char *field, size_t cap)
{
    field[0] = '\0';
    const char *p = msg;
    if (strncmp(p, "OrderEvent JSON: ", 17) == 0)
        p += 17;
    const char *colon = strstr(p, ": ");
    if (!colon || (size_t)(colon - p) >= cap || memchr(p, ' ', (size_t)(colon - p)))
        return;
    memcpy(field, p, (size_t)(colon - p));
    field[colon - p] = '\0';
}

/* --------------------------------------------------------------- JSON out */

static cJSON *pred_json(const sf_prediction *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "order_id", p->order_id);
    cJSON_AddStringToObject(o, "event_id", p->event_id);
    cJSON_AddStringToObject(o, "stage", sf_stage_name(p->stage));
    sf_json_add_number(o, "score", p->score);
    cJSON_AddNumberToObject(o, "stars", round(p->score));
    sf_json_add_number(o, "p_dissatisfied", p->p_dissatisfied);
    cJSON *rs = cJSON_AddArrayToObject(o, "reasons");
    for (int i = 0; rs && i < p->n_reasons; i++) {
        cJSON *r = cJSON_CreateObject();
        if (!r)
            break;
        cJSON_AddStringToObject(r, "feature", p->reasons[i].feature);
        sf_json_add_number(r, "value", p->reasons[i].value);
        sf_json_add_number(r, "contribution", p->reasons[i].contribution);
        cJSON_AddItemToArray(rs, r);
    }
    cJSON_AddNumberToObject(o, "model_version", (double)p->model_version);
    if (p->event_time != SF_TIME_NONE)
        cJSON_AddNumberToObject(o, "event_time", (double)p->event_time);
    else
        cJSON_AddNullToObject(o, "event_time");
    cJSON_AddNumberToObject(o, "scored_at", (double)p->scored_at);
    return o;
}

static char *print_del(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* ---------------------------------------------------------------- routes */

/* The first number under j that is not finite (cJSON reads 1e999 as
 * infinity): its path, as find_unknown names fields, into field; 0 if none. */
static int non_finite(const cJSON *j, const char *where, char *field, size_t cap)
{
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble)) {
        snprintf(field, cap, "%s", where);
        return 1;
    }
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, j)
    {
        char path[96];
        if (cJSON_IsArray(j))
            snprintf(path, sizeof path, "%s[%d]", where, i++);
        else
            snprintf(path, sizeof path, "%s%s%s", where, *where ? "." : "",
                     e->string ? e->string : "");
        if (non_finite(e, path, field, cap))
            return 1;
    }
    return 0;
}

int sf_http_predict_parse(const char *body, size_t len, sf_order_event *ev, char *field,
                          size_t fcap, char *msg, size_t mcap)
{
    field[0] = '\0';
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        snprintf(msg, mcap, "malformed JSON: expected an order event object");
        return -1;
    }
    int bad = 1;
    if (!cJSON_IsObject(root))
        snprintf(msg, mcap, "expected an order event object");
    else if (find_unknown(root, field, fcap))
        snprintf(msg, mcap, "unknown field '%s'", field);
    else if (non_finite(root, "", field, fcap))
        snprintf(msg, mcap, "%s: expected a finite number", field);
    else
        bad = 0;
    cJSON_Delete(root);
    if (bad)
        return -1;
    sf_err err = {{0}};
    if (sf_order_from_json(body, ev, &err) != 0) {
        field_of(err.msg, field, fcap);
        snprintf(msg, mcap, "%s", err.msg);
        return -1;
    }
    char why[128];
    if (check_values(ev, field, fcap, why, sizeof why)) {
        snprintf(msg, mcap, "%s: %s", field, why);
        sf_order_event_clear(ev);
        return -1;
    }
    return 0;
}

static void predict(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    if (!sf_http_is_json(q->content_type)) {
        sf_http_error(r, 415, "Content-Type must be application/json", NULL);
        return;
    }
    sf_order_event ev;
    char field[96], msg[SF_ERR_MAX + 64];
    if (sf_http_predict_parse(q->body, q->len, &ev, field, sizeof field, msg, sizeof msg)) {
        sf_http_error(r, 400, msg, field[0] ? field : NULL);
        return;
    }
    sf_http_model *m = sf_http_model_get(h);
    if (!m) {
        sf_order_event_clear(&ev);
        sf_http_error(r, 503, "no model has been released yet", NULL);
        return;
    }
    sf_prediction p;
    float row[SF_SPEC_MAX_FEATURES];
    pthread_mutex_lock(&h->mu); /* the live history stays while it is read */
    sf_livehist *lh = h->history;
    const sf_history *hist = lh ? sf_livehist_lock(lh) : sf_model_history(m->m);
    sf_model_prepare_event_with(m->m, hist, &ev, &p, row);
    if (lh)
        sf_livehist_unlock(lh);
    pthread_mutex_unlock(&h->mu);
    sf_model_score_rows(m->m, row, 1, &p);
    p.model_version = m->version;
    p.scored_at = sf_wall_ms();
    sf_http_model_put(h, m);
    sf_order_event_clear(&ev);
    pthread_mutex_lock(&h->mu);
    h->predictions++;
    pthread_mutex_unlock(&h->mu);
    sf_http_json(r, 200, print_del(pred_json(&p)));
}

static cJSON *parse_or_null(const char *s)
{
    cJSON *j = s && *s ? cJSON_Parse(s) : NULL;
    return j ? j : cJSON_CreateNull();
}

static void models(sf_http *h, sf_http_resp *r)
{
    cJSON *o = cJSON_CreateObject();
    sf_http_model *m = sf_http_model_get(h);
    if (m) {
        const sf_model_info *in = sf_model_get_info(m->m);
        cJSON *a = cJSON_AddObjectToObject(o, "active");
        cJSON_AddNumberToObject(a, "version", (double)m->version);
        cJSON_AddStringToObject(a, "algorithm", sf_algo_name(in->algo));
        cJSON_AddStringToObject(a, "spec", in->spec->name);
        cJSON_AddStringToObject(a, "spec_hash", in->spec_hash);
        cJSON_AddNumberToObject(a, "n_features", in->n_inputs);
        sf_json_add_number(a, "valid_rmse", in->valid_rmse);
        cJSON_AddNumberToObject(a, "loaded_at", (double)m->loaded_at);
        cJSON *f = cJSON_AddArrayToObject(a, "features");
        for (int i = 0; f && i < in->spec->n; i++)
            cJSON_AddItemToArray(f, cJSON_CreateString(in->spec->defs[i].name));
        cJSON_AddItemToObject(a, "metrics", parse_or_null(sf_model_metrics(m->m)));
        sf_http_model_put(h, m);
    } else {
        cJSON_AddNullToObject(o, "active");
    }
    sf_stats_snapshot s;
    sf_stats_get(h->o.stats, &s);
    cJSON_AddNumberToObject(o, "scorer_model_version", (double)s.model_version);
    cJSON *tl = cJSON_AddArrayToObject(o, "timeline");
    pthread_mutex_lock(&h->mu);
    size_t n = h->n_timeline, first = n > SF_HTTP_TIMELINE ? n - SF_HTTP_TIMELINE : 0;
    sf_http_event ev[SF_HTTP_TIMELINE];
    size_t k = 0;
    for (size_t i = first; i < n; i++)
        ev[k++] = h->timeline[i % SF_HTTP_TIMELINE];
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; tl && i < k; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "at", (double)ev[i].at);
        cJSON_AddNumberToObject(e, "version", (double)ev[i].version);
        cJSON_AddStringToObject(e, "event", ev[i].loaded ? "loaded" : "rejected");
        cJSON_AddStringToObject(e, ev[i].loaded ? "model" : "reason", ev[i].text);
        if (ev[i].loaded)
            cJSON_AddItemToObject(e, "metrics", parse_or_null(ev[i].metrics));
        cJSON_AddItemToArray(tl, e);
    }
    /* which release is served and why (http_serving.c) */
    cJSON *sv = sf_http_serving_json(h);
    if (sv)
        cJSON_AddItemToObject(o, "serving", sv);
    /* the retrainer's gate decisions from satisfy.metrics (http_online.c) */
    cJSON *ds = sf_http_decisions_json(h);
    if (ds)
        cJSON_AddItemToObject(o, "decisions", ds);
    sf_http_json(r, 200, print_del(o));
}

static void stats(sf_http *h, sf_http_resp *r)
{
    sf_stats_snapshot s;
    sf_stats_get(h->o.stats, &s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "now", (double)sf_wall_ms());
    cJSON_AddNumberToObject(o, "events", (double)s.events);
    cJSON_AddNumberToObject(o, "predictions", (double)s.predictions);
    cJSON_AddNumberToObject(o, "dlq", (double)s.dlq);
    cJSON_AddNumberToObject(o, "batches", (double)s.batches);
    cJSON_AddNumberToObject(o, "aborts", (double)s.aborts);
    cJSON_AddNumberToObject(o, "models_loaded", (double)s.models_loaded);
    cJSON_AddNumberToObject(o, "models_rejected", (double)s.models_rejected);
    cJSON_AddNumberToObject(o, "model_version", (double)s.model_version);
    if (s.lag >= 0)
        cJSON_AddNumberToObject(o, "lag", (double)s.lag);
    else
        cJSON_AddNullToObject(o, "lag");
    sf_json_add_number(o, "events_per_second", s.rate);
    sf_json_add_number(o, "uptime_seconds", s.uptime);
    cJSON *l = cJSON_AddObjectToObject(o, "latency_ms");
    const sf_latency_hist *hs[2] = {&s.process, &s.e2e};
    const char *names[2] = {"process", "e2e"};
    for (int i = 0; l && i < 2; i++) {
        cJSON *x = cJSON_AddObjectToObject(l, names[i]);
        sf_json_add_number(x, "p50", sf_latency_quantile(hs[i], 0.5));
        sf_json_add_number(x, "p99", sf_latency_quantile(hs[i], 0.99));
        cJSON_AddNumberToObject(x, "count", (double)hs[i]->n);
    }
    pthread_mutex_lock(&h->mu);
    cJSON *x = cJSON_AddObjectToObject(o, "http");
    cJSON_AddNumberToObject(x, "predictions", (double)h->predictions);
    cJSON_AddNumberToObject(x, "requests_4xx", (double)h->requests[4]);
    cJSON_AddNumberToObject(x, "requests_5xx", (double)h->requests[5]);
    pthread_mutex_unlock(&h->mu);
    sf_http_json(r, 200, print_del(o));
}

int sf_http_query_n(const sf_http_req *q, long max, long *n, sf_http_resp *r)
{
    *n = max;
    if (!q->query_n)
        return 0;
    char *end;
    *n = strtol(q->query_n, &end, 10);
    if (end == q->query_n || *end || *n < 1 || *n > max) {
        char msg[64];
        snprintf(msg, sizeof msg, "n must be an integer in 1..%ld", max);
        sf_http_error(r, 400, msg, "n");
        return -1;
    }
    return 0;
}

static void recent(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    long n;
    if (sf_http_query_n(q, SF_STATS_RECENT, &n, r) < 0)
        return;
    sf_prediction p[SF_STATS_RECENT];
    size_t k = sf_stats_recent(h->o.stats, p, (size_t)n);
    cJSON *o = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(o, "predictions");
    for (size_t i = 0; a && i < k; i++)
        cJSON_AddItemToArray(a, pred_json(&p[i]));
    sf_http_json(r, 200, print_del(o));
}

static void readyz(sf_http *h, sf_http_resp *r)
{
    sf_http_model *m = sf_http_model_get(h);
    int64_t http_version = m ? m->version : 0;
    sf_http_model_put(h, m);
    sf_stats_snapshot s;
    sf_stats_get(h->o.stats, &s);
    const char *why = NULL;
    if (s.model_version <= 0)
        why = "the scorer has no model yet";
    else if (!http_version)
        why = "the HTTP server has no model yet";
    else if (s.lag < 0)
        why = "the scorer has not joined its consumer group yet";
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ready", why == NULL);
    if (why)
        cJSON_AddStringToObject(o, "reason", why);
    cJSON_AddNumberToObject(o, "model_version", (double)s.model_version);
    sf_http_json(r, why ? 503 : 200, print_del(o));
}

int sf_http_api_route(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    int get = strcmp(q->method, "GET") == 0, post = strcmp(q->method, "POST") == 0;
    const char *p = q->path;
    if (!strcmp(p, "/healthz")) {
        if (get)
            sf_http_text(r, 200, "ok\n");
        else
            sf_http_error(r, 405, "use GET", NULL);
    } else if (!strcmp(p, "/readyz")) {
        if (get)
            readyz(h, r);
        else
            sf_http_error(r, 405, "use GET", NULL);
    } else if (!strcmp(p, "/v1/predict")) {
        if (post)
            predict(h, q, r);
        else
            sf_http_error(r, 405, "use POST with an order event as JSON", NULL);
    } else if (!strcmp(p, "/v1/version")) {
        if (get) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "satisfy", h->o.version);
            cJSON_AddStringToObject(o, "mlflow", h->o.mlflow_version);
            sf_http_json(r, 200, print_del(o));
        } else {
            sf_http_error(r, 405, "use GET", NULL);
        }
    } else if (!strcmp(p, "/v1/models") || !strcmp(p, "/v1/stats") ||
               !strcmp(p, "/v1/predictions/recent")) {
        if (!get)
            sf_http_error(r, 405, "use GET", NULL);
        else if (p[4] == 'm')
            models(h, r);
        else if (p[4] == 's')
            stats(h, r);
        else
            recent(h, q, r);
    } else {
        return 0;
    }
    return 1;
}
