/*
 * http_challenge.c - GET /v1/challenge for the web page's "Champion and
 * challenger" panel: the retrainer's live judge of each shadow challenger,
 * read from satisfy.metrics (key "challenge-<challenger version>", header
 * schema satisfy.v1.Challenge+json; lib/release/challenge.c publishes one
 * after every batch that added pairs and at each decision). It answers
 *   {"current": <the challenge with the newest started_at, or null>,
 *    "history": [up to 10 older ones, newest first],
 *    "messages": N, "bad_messages": B, "last_bad": "why" | null}
 * keeping the newest message of each challenger (as the compacted topic
 * does). A message that is not a JSON object with an integer "challenger"
 * equal to its key's, an integer "champion" and "started_at", a "status" of
 * running, promoted or retired, and numbers or null in the numeric fields is
 * counted and ignored: the page only ever draws what the judge said.
 * Read-only, like /v1/serving: a decision on a challenger is the judge's
 * (or `satisfy-retrainer registry challenge N`'s), never the page's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http_impl.h"
#include "satisfy/challenge.h"
#include "satisfy/json_field.h"

void sf_http_challenge_init(sf_http *h)
{
    pthread_mutex_init(&h->challenge.mu, NULL);
}

void sf_http_challenge_free(sf_http *h)
{
    sf_http_challenges *c = &h->challenge;
    for (int i = 0; i < SF_HTTP_CHALLENGES; i++)
        free(c->c[i].json);
    pthread_mutex_destroy(&c->mu);
}

/* Member k, when present, is a number or null (or, for an interval, an
 * array of two of them): missing means not computable yet, as null. */
static int num_or_null(const cJSON *j, const char *k, int interval, sf_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!v || cJSON_IsNull(v) || (!interval && cJSON_IsNumber(v)))
        return 0;
    if (interval && cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2) {
        const cJSON *a = cJSON_GetArrayItem(v, 0), *b = cJSON_GetArrayItem(v, 1);
        if ((cJSON_IsNumber(a) || cJSON_IsNull(a)) && (cJSON_IsNumber(b) || cJSON_IsNull(b)))
            return 0;
    }
    return sf_errf(err, "%s: expected %s", k,
                   interval ? "[lower, upper] of numbers or null" : "a number or null");
}

static const char *const NUMERIC[] = {
    "orders",          "min_orders", "max_orders", "confidence", "rmse_champion",
    "rmse_challenger", "gain",       "diff_mean",  "lower",      "upper",
    "resamples",       "decided_at", "event_time", "at"};

/* Checks one challenge message; 0 with its challenger version, start and
 * the object (free it), or -1 with err set. */
static int parse(const void *key, size_t key_len, const void *value, size_t len, int64_t *version,
                 int64_t *started, cJSON **out, sf_err *err)
{
    cJSON *j = len < 65536 ? sf_json_object(value, len, err)
                           : (sf_errf(err, "message of %zu bytes", len), NULL);
    if (!j)
        return -1;
    int64_t champion;
    if (sf_json_int(j, "", "challenger", 1, false, version, err) ||
        sf_json_int(j, "", "champion", 0, false, &champion, err) ||
        sf_json_int(j, "", "started_at", 0, false, started, err))
        goto bad;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    const char *s = cJSON_GetStringValue(st);
    if (!s || (strcmp(s, "running") && strcmp(s, "promoted") && strcmp(s, "retired"))) {
        sf_errf(err, "status: expected running, promoted or retired");
        goto bad;
    }
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(j, "reason");
    if (reason && !cJSON_IsString(reason) && !cJSON_IsNull(reason)) {
        sf_errf(err, "reason: expected a string");
        goto bad;
    }
    for (size_t i = 0; i < sizeof NUMERIC / sizeof NUMERIC[0]; i++)
        if (num_or_null(j, NUMERIC[i], 0, err))
            goto bad;
    if (num_or_null(j, "rmse_champion_ci", 1, err) || num_or_null(j, "rmse_challenger_ci", 1, err))
        goto bad;
    if (key) {
        char want[48];
        snprintf(want, sizeof want, "%s%" PRId64, SF_CHALLENGE_KEY_PREFIX, *version);
        if (key_len != strlen(want) || memcmp(key, want, key_len) != 0) {
            sf_errf(err, "key '%.*s' is not %s", (int)(key_len < 40 ? key_len : 40),
                    (const char *)key, want);
            goto bad;
        }
    }
    *out = j;
    return 0;
bad:
    cJSON_Delete(j);
    return -1;
}

/* The slot of challenger v: its own, a free one, or the one that started
 * first when all are used (NULL when v started before every one kept). */
static sf_http_challenge *slot_for(sf_http_challenges *c, int64_t v, int64_t started)
{
    sf_http_challenge *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < SF_HTTP_CHALLENGES; i++) {
        sf_http_challenge *x = &c->c[i];
        if (x->json && x->challenger == v)
            return x;
        if (!x->json) {
            if (!free_slot)
                free_slot = x;
        } else if (!oldest || x->started_at < oldest->started_at) {
            oldest = x;
        }
    }
    if (free_slot)
        return free_slot;
    return oldest->started_at <= started ? oldest : NULL;
}

int sf_http_challenge_feed(sf_http *h, const char *schema, const void *key, size_t key_len,
                           const void *value, size_t len, const char *where, sf_err *err)
{
    int mine = schema ? strcmp(schema, SF_CHALLENGE_SCHEMA) == 0
                      : sf_http_key_has_prefix(key, key_len, SF_CHALLENGE_KEY_PREFIX);
    if (!mine)
        return 1;
    int64_t v = 0, started = 0;
    cJSON *j = NULL;
    int rc = parse(key, key_len, value, len, &v, &started, &j, err);
    char *text = rc == 0 ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (rc == 0 && !text)
        rc = sf_errf(err, "out of memory");
    if (rc)
        sf_err_wrap(err, "challenge");
    sf_http_challenges *c = &h->challenge;
    pthread_mutex_lock(&c->mu);
    c->messages++;
    if (rc == 0) {
        sf_http_challenge *x = slot_for(c, v, started);
        if (x) {
            free(x->json);
            x->json = text;
            text = NULL;
            x->challenger = v;
            x->started_at = started;
        }
    } else {
        c->bad++;
        snprintf(c->last_bad, sizeof c->last_bad, "%s%s%s", where ? where : "", where ? ": " : "",
                 err->msg);
    }
    pthread_mutex_unlock(&c->mu);
    free(text); /* older than every challenge kept */
    if (rc && where)
        sf_err_wrap(err, "%s", where);
    return rc;
}

/* Newest start first; the same start: the higher version first. */
static int cmp_newest(const void *a, const void *b)
{
    const sf_http_challenge *x = *(sf_http_challenge *const *)a,
                            *y = *(sf_http_challenge *const *)b;
    if (x->started_at != y->started_at)
        return (x->started_at < y->started_at) - (x->started_at > y->started_at);
    return (x->challenger < y->challenger) - (x->challenger > y->challenger);
}

static char *challenge_json(sf_http *h)
{
    sf_http_challenges *c = &h->challenge;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    pthread_mutex_lock(&c->mu);
    sf_http_challenge *order[SF_HTTP_CHALLENGES];
    size_t n = 0;
    for (int i = 0; i < SF_HTTP_CHALLENGES; i++)
        if (c->c[i].json)
            order[n++] = &c->c[i];
    /* cppcheck-suppress uninitvar ; only the n entries set above are sorted */
    qsort(order, n, sizeof *order, cmp_newest);
    cJSON *cur = n ? cJSON_Parse(order[0]->json) : NULL;
    cJSON_AddItemToObject(o, "current", cur ? cur : cJSON_CreateNull());
    cJSON *hist = cJSON_AddArrayToObject(o, "history");
    for (size_t i = 1; hist && i < n && i <= SF_HTTP_CHALLENGE_HISTORY; i++) {
        cJSON *x = cJSON_Parse(order[i]->json);
        if (x)
            cJSON_AddItemToArray(hist, x);
    }
    cJSON_AddNumberToObject(o, "messages", (double)c->messages);
    cJSON_AddNumberToObject(o, "bad_messages", (double)c->bad);
    if (c->last_bad[0])
        cJSON_AddStringToObject(o, "last_bad", c->last_bad);
    else
        cJSON_AddNullToObject(o, "last_bad");
    pthread_mutex_unlock(&c->mu);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int sf_http_challenge_route(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    if (strcmp(q->path, "/v1/challenge") != 0)
        return 0;
    if (strcmp(q->method, "GET") != 0) {
        sf_http_error(r, 405,
                      "read-only: use GET; a challenger is promoted or retired by the "
                      "retrainer's live judge",
                      NULL);
        return 1;
    }
    char *s = challenge_json(h);
    if (s)
        sf_http_json(r, 200, s);
    else
        sf_http_error(r, 500, "out of memory", NULL);
    return 1;
}
