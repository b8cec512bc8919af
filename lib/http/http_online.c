/*
 * http_online.c - online accuracy per model version for the web app: a
 * follower of satisfy.metrics (kafka_follow.h: outside any group, every
 * partition from the beginning) feeding bounded series of (event_time, rmse,
 * auc, n) points, served as GET /v1/online.
 *
 * The retrainer publishes one message per model version each time new pairs
 * of that version arrive (online.h, key = version), so a version's series is
 * its rolling-window RMSE over event time. A series keeps at most
 * SF_HTTP_ONLINE_POINTS points: when full, every other point is dropped, so
 * the whole history stays visible at a coarser step. At most
 * SF_HTTP_ONLINE_VERSIONS versions are kept, the lowest dropped first. A
 * message that is not that JSON is counted and its reason kept; it never
 * touches a series.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "http_impl.h"
#include "satisfy/json_field.h"
#include "satisfy/kafka.h"
#include "satisfy/kafka_follow.h"
#include "satisfy/clock.h"

/* ----------------------------------------------------------- the series */

void sf_http_online_init(sf_http *h)
{
    pthread_mutex_init(&h->online.mu, NULL);
    snprintf(h->online.topic, sizeof h->online.topic, "%s",
             h->o.metrics_topic ? h->o.metrics_topic : SF_TOPIC_METRICS);
}

static int parse(const void *key, size_t key_len, const void *value, size_t len, int64_t *version,
                 sf_http_point *pt, sf_err *err)
{
    cJSON *j = sf_json_object(value, len, err);
    if (!j)
        return -1;
    int rc = -1;
    if (sf_json_int(j, "", "model_version", 1, false, version, err) ||
        sf_json_int(j, "", "n", 0, false, &pt->n, err) ||
        sf_json_num(j, "", "rmse", 0, 4, true, &pt->rmse, err) ||
        sf_json_num(j, "", "auc", 0, 1, true, &pt->auc, err) ||
        sf_json_int(j, "", "event_time", 1, false, &pt->t, err))
        goto out;
    if (key) {
        char k[32];
        int64_t kv = 0;
        char *end = NULL;
        if (key_len < sizeof k) {
            memcpy(k, key, key_len);
            k[key_len] = '\0';
            kv = strtoll(k, &end, 10);
        }
        if (key_len >= sizeof k || key_len == 0 || *end || kv != *version) {
            sf_errf(err, "key '%.*s' is not model_version %" PRId64,
                    (int)(key_len < 31 ? key_len : 31), (const char *)key, *version);
            goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}

/* The series of version v, creating it (dropping the lowest version when all
 * slots are used); NULL when v is lower than every version kept. */
static sf_http_series *series_for(sf_http_online *o, int64_t v)
{
    sf_http_series *free_slot = NULL, *lowest = NULL;
    for (int i = 0; i < SF_HTTP_ONLINE_VERSIONS; i++) {
        sf_http_series *s = &o->s[i];
        if (s->version == v)
            return s;
        if (!s->version) {
            if (!free_slot)
                free_slot = s;
        } else if (!lowest || s->version < lowest->version) {
            lowest = s;
        }
    }
    sf_http_series *s = free_slot;
    if (!s) {
        if (lowest->version > v)
            return NULL;
        s = lowest;
        s->n = 0;
        s->thinned = 0;
    }
    if (!s->p) {
        s->p = malloc(SF_HTTP_ONLINE_POINTS * sizeof *s->p);
        if (!s->p)
            return NULL;
    }
    s->version = v;
    return s;
}

/* The first point with t' >= t (usually none: messages come in order). */
static size_t lower_bound(const sf_http_series *s, int64_t t)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->p[mid].t < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void series_add(sf_http_series *s, const sf_http_point *pt)
{
    size_t lo = lower_bound(s, pt->t);
    if (lo < s->n && s->p[lo].t == pt->t) {
        s->p[lo] = *pt; /* a newer window with the same newest pair */
        return;
    }
    if (s->n == SF_HTTP_ONLINE_POINTS) {
        /* keep points 0, 2, 4, ...: the whole span at half the step */
        size_t k = 0;
        for (size_t i = 0; i < s->n; i += 2)
            s->p[k++] = s->p[i];
        s->n = k;
        s->thinned++;
        lo = lower_bound(s, pt->t);
        if (lo < s->n && s->p[lo].t == pt->t) {
            s->p[lo] = *pt;
            return;
        }
    }
    memmove(&s->p[lo + 1], &s->p[lo], (s->n - lo) * sizeof *s->p);
    s->p[lo] = *pt;
    s->n++;
}

int sf_http_online_feed(sf_http *h, const void *key, size_t key_len, const void *value, size_t len,
                        const char *where, sf_err *err)
{
    sf_http_online *o = &h->online;
    int64_t v = 0;
    sf_http_point pt = {0};
    int rc = parse(key, key_len, value, len, &v, &pt, err);
    pthread_mutex_lock(&o->mu);
    o->messages++;
    if (rc == 0) {
        sf_http_series *s = series_for(o, v);
        if (s)
            series_add(s, &pt);
    } else {
        o->bad++;
        snprintf(o->last_bad, sizeof o->last_bad, "%s%s%s", where ? where : "", where ? ": " : "",
                 err->msg);
    }
    pthread_mutex_unlock(&o->mu);
    if (rc && where)
        sf_err_wrap(err, "%s", where);
    return rc;
}

/* ------------------------------------------------------------ decisions */

/* Keeps d (sorted by version): replaces the same version, else inserts,
 * dropping the lowest version when full (d itself when it is the lowest). */
static void decision_add(sf_http_online *o, const sf_decision *d)
{
    size_t lo = 0, hi = o->n_dec;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (o->dec[mid].version < d->version)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < o->n_dec && o->dec[lo].version == d->version) {
        o->dec[lo] = *d;
        return;
    }
    if (o->n_dec == SF_HTTP_DECISIONS) {
        if (lo == 0)
            return; /* older than everything kept */
        memmove(&o->dec[0], &o->dec[1], (lo - 1) * sizeof *o->dec);
        o->dec[lo - 1] = *d;
        return;
    }
    memmove(&o->dec[lo + 1], &o->dec[lo], (o->n_dec - lo) * sizeof *o->dec);
    o->dec[lo] = *d;
    o->n_dec++;
}

int sf_http_decision_feed(sf_http *h, const void *key, size_t key_len, const void *value,
                          size_t len, const char *where, sf_err *err)
{
    sf_http_online *o = &h->online;
    sf_decision *d = malloc(sizeof *d);
    int rc = d ? sf_decision_parse(key, key_len, value, len, d, err)
               : sf_errf(err, "out of memory for a decision");
    if (rc != 0)
        sf_err_wrap(err, "decision");
    pthread_mutex_lock(&o->mu);
    o->messages++;
    if (rc == 0) {
        o->decisions++;
        decision_add(o, d);
    } else {
        o->bad++;
        snprintf(o->last_bad, sizeof o->last_bad, "%s%s%s", where ? where : "", where ? ": " : "",
                 err->msg);
    }
    pthread_mutex_unlock(&o->mu);
    free(d);
    if (rc && where)
        sf_err_wrap(err, "%s", where);
    return rc;
}

int sf_http_metrics_feed(sf_http *h, const char *schema, const void *key, size_t key_len,
                         const void *value, size_t len, const char *where, sf_err *err)
{
    if (sf_http_drift_feed(h, schema, key, key_len, value, len)) /* http_drift.c */
        return 0;
    int rc = sf_http_challenge_feed(h, schema, key, key_len, value, len, where, err);
    if (rc <= 0) /* a challenge message (http_challenge.c), kept or counted as bad */
        return rc;
    size_t np = strlen(SF_DECISION_KEY_PREFIX);
    bool decision = schema ? strcmp(schema, SF_DECISION_SCHEMA) == 0
                           : key && key_len >= np && memcmp(key, SF_DECISION_KEY_PREFIX, np) == 0;
    return decision ? sf_http_decision_feed(h, key, key_len, value, len, where, err)
                    : sf_http_online_feed(h, key, key_len, value, len, where, err);
}

cJSON *sf_http_decisions_json(sf_http *h)
{
    sf_http_online *o = &h->online;
    cJSON *a = cJSON_CreateArray();
    if (!a)
        return NULL;
    pthread_mutex_lock(&o->mu);
    for (size_t i = 0; i < o->n_dec; i++) {
        cJSON *d = sf_decision_to_cjson(&o->dec[i]);
        if (!d)
            break;
        cJSON_AddItemToArray(a, d);
    }
    pthread_mutex_unlock(&o->mu);
    return a;
}

/* ------------------------------------------------------------- /metrics */

/* v as Prometheus text: %.15g when it reads back as the same double, else
 * %.17g (cJSON's rule), so a scraped value equals the message's. */
static void prom_double(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, cap, "%.17g", v);
}

typedef struct prom_row {
    int64_t version;
    double v[3]; /* rmse, auc, pairs of the newest point; or the holdout RMSE in v[0] */
} prom_row;

static int cmp_row(const void *a, const void *b)
{
    const prom_row *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* One gauge family: HELP, TYPE, then the rows' value col, NaN skipped.
 * Label values are version numbers (digits and a sign), nothing to escape. */
static size_t prom_family(char *out, size_t cap, const char *name, const char *help,
                          const prom_row *rows, size_t n, int col)
{
    size_t k = (size_t)snprintf(out, cap, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (size_t i = 0; i < n && k < cap; i++) {
        if (isnan(rows[i].v[col]))
            continue;
        char num[32];
        prom_double(num, sizeof num, rows[i].v[col]);
        k += (size_t)snprintf(out + k, cap - k, "%s{model_version=\"%" PRId64 "\"} %s\n", name,
                              rows[i].version, num);
    }
    return k < cap ? k : cap - 1;
}

char *sf_http_online_prometheus(sf_http *h)
{
    sf_http_online *o = &h->online;
    prom_row on[SF_HTTP_ONLINE_VERSIONS], *hold = malloc(SF_HTTP_DECISIONS * sizeof *hold);
    if (!hold)
        return NULL;
    size_t n_on = 0, n_hold = 0;
    pthread_mutex_lock(&o->mu);
    for (int i = 0; i < SF_HTTP_ONLINE_VERSIONS; i++) {
        const sf_http_series *s = &o->s[i];
        if (!s->version || !s->n)
            continue;
        const sf_http_point *p = &s->p[s->n - 1]; /* the newest event time */
        on[n_on++] = (prom_row){s->version, {p->rmse, p->auc, (double)p->n}};
    }
    for (size_t i = 0; i < o->n_dec; i++) /* sorted by version */
        if (o->dec[i].released)
            hold[n_hold++] = (prom_row){o->dec[i].version, {o->dec[i].candidate.rmse, 0, 0}};
    pthread_mutex_unlock(&o->mu);
    qsort(on, n_on, sizeof *on, cmp_row);

    /* a line is < 100 bytes: 64-bit version, 17 digits, the longest name */
    size_t cap = 2048 + (3 * n_on + n_hold) * 100;
    char *out = malloc(cap);
    if (out) {
        size_t k = 0;
        k += prom_family(out + k, cap - k, "satisfy_online_rmse",
                         "Online RMSE of the review score per model version: the retrainer's "
                         "rolling window of delivered-stage predictions and their reviews "
                         "(satisfy.metrics), newest point.",
                         on, n_on, 0);
        k += prom_family(out + k, cap - k, "satisfy_online_auc",
                         "Online AUC of p(dissatisfied) for a review score <= 2 per model "
                         "version, same window (absent while it holds one class).",
                         on, n_on, 1);
        k += prom_family(out + k, cap - k, "satisfy_online_pairs",
                         "Prediction and review pairs in that window per model version.", on, n_on,
                         2);
        prom_family(out + k, cap - k, "satisfy_model_holdout_rmse",
                    "Holdout RMSE of each released model version, as its gate decision "
                    "recorded it (satisfy.metrics).",
                    hold, n_hold, 0);
    }
    free(hold);
    return out;
}

/* ------------------------------------------------------------- follower */

static void set_consumer_error(void *arg, const char *why)
{
    sf_http_online *o = &((sf_http *)arg)->online;
    pthread_mutex_lock(&o->mu);
    snprintf(o->consumer_error, sizeof o->consumer_error, "%s: %s", o->topic, why);
    pthread_mutex_unlock(&o->mu);
}

/* One satisfy.metrics message, on the follower's thread. */
static void on_message(void *arg, const rd_kafka_message_t *m)
{
    sf_http *h = arg;
    char where[192];
    snprintf(where, sizeof where, "%s [%d] @%" PRId64, h->online.topic, (int)m->partition,
             m->offset);
    /* the schema header, NUL-terminated (NULL when absent) */
    char schema[64];
    const char *sp = NULL;
    rd_kafka_headers_t *hdrs = NULL;
    const void *hv = NULL;
    size_t hl = 0;
    if (!rd_kafka_message_headers(m, &hdrs) &&
        !rd_kafka_header_get_last(hdrs, "schema", &hv, &hl) && hv) {
        snprintf(schema, sizeof schema, "%.*s", (int)(hl < 63 ? hl : 63), (const char *)hv);
        sp = schema;
    }
    sf_err err = {{0}};
    sf_http_metrics_feed(h, sp, m->key, m->key_len, m->payload, m->len, where, &err);
}

int sf_http_online_start(sf_http *h, const sf_kafka_conn *conn, sf_err *err)
{
    sf_follow_opts fo = {.role = SF_KAFKA_METRICS_FOLLOWER,
                         .conn = *conn,
                         .topic = h->online.topic,
                         .on_message = on_message,
                         .on_error = set_consumer_error,
                         .arg = h};
    h->online.follow = sf_follow_start(&fo, err);
    return h->online.follow ? 0 : -1;
}

void sf_http_online_stop(sf_http *h)
{
    sf_http_online *o = &h->online;
    sf_follow_stop(o->follow);
    o->follow = NULL;
    for (int i = 0; i < SF_HTTP_ONLINE_VERSIONS; i++)
        free(o->s[i].p);
    pthread_mutex_destroy(&o->mu);
}

/* ---------------------------------------------------------------- route */

static int cmp_version(const void *a, const void *b)
{
    const sf_http_series *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static char *online_json(sf_http *h)
{
    sf_http_online *o = &h->online;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "topic", o->topic);
    cJSON_AddNumberToObject(j, "max_points", SF_HTTP_ONLINE_POINTS);
    cJSON *cols = cJSON_AddArrayToObject(j, "columns");
    const char *names[] = {"event_time", "rmse", "auc", "n"};
    for (int i = 0; cols && i < 4; i++)
        cJSON_AddItemToArray(cols, cJSON_CreateString(names[i]));
    cJSON_AddNumberToObject(j, "partitions", o->follow ? sf_follow_partitions(o->follow) : 0);
    pthread_mutex_lock(&o->mu);
    cJSON_AddNumberToObject(j, "messages", (double)o->messages);
    cJSON_AddNumberToObject(j, "bad_messages", (double)o->bad);
    cJSON_AddNumberToObject(j, "decision_messages", (double)o->decisions);
    cJSON_AddNumberToObject(j, "max_decisions", SF_HTTP_DECISIONS);
    if (o->last_bad[0])
        cJSON_AddStringToObject(j, "last_bad", o->last_bad);
    else
        cJSON_AddNullToObject(j, "last_bad");
    if (o->consumer_error[0])
        cJSON_AddStringToObject(j, "consumer_error", o->consumer_error);
    else
        cJSON_AddNullToObject(j, "consumer_error");
    sf_http_series order[SF_HTTP_ONLINE_VERSIONS];
    int k = 0;
    for (int i = 0; i < SF_HTTP_ONLINE_VERSIONS; i++)
        if (o->s[i].version)
            order[k++] = o->s[i];
    /* cppcheck-suppress uninitvar ; only the k entries set above are sorted */
    qsort(order, (size_t)k, sizeof *order, cmp_version);
    cJSON *vs = cJSON_AddArrayToObject(j, "versions");
    for (int i = 0; vs && i < k; i++) {
        const sf_http_series *s = &order[i];
        cJSON *v = cJSON_CreateObject();
        if (!v)
            break;
        cJSON_AddItemToArray(vs, v);
        cJSON_AddNumberToObject(v, "model_version", (double)s->version);
        cJSON_AddNumberToObject(v, "thinned", (double)s->thinned);
        cJSON *pts = cJSON_AddArrayToObject(v, "points");
        for (size_t p = 0; pts && p < s->n; p++) {
            cJSON *row = cJSON_CreateArray();
            if (!row)
                break;
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)s->p[p].t));
            cJSON_AddItemToArray(row, sf_json_number(s->p[p].rmse));
            cJSON_AddItemToArray(row, sf_json_number(s->p[p].auc));
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)s->p[p].n));
            cJSON_AddItemToArray(pts, row);
        }
    }
    pthread_mutex_unlock(&o->mu);
    cJSON *ds = sf_http_decisions_json(h);
    if (ds)
        cJSON_AddItemToObject(j, "decisions", ds);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

int sf_http_online_route(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    if (strcmp(q->path, "/v1/online") != 0)
        return 0;
    if (strcmp(q->method, "GET") != 0)
        sf_http_error(r, 405, "use GET", NULL);
    else
        sf_http_json(r, 200, online_json(h));
    return 1;
}
