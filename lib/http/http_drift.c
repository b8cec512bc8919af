/*
 * http_drift.c - GET /v1/drift for the web page: this scorer's PSI per
 * feature, each scorer's newest input drift message and the retrainer's
 * outcome detector state, both read from satisfy.metrics. It answers
 *   {"input": <this scorer's PSI per feature (drift.h), or null>,
 *    "scorers": [<the newest input drift message of each scorer on
 *                 satisfy.metrics>...],
 *    "outcome": <the retrainer's Page-Hinkley state on satisfy.metrics
 *                (drift_detect.h), or null when none was published>}
 * The outcome detector lives in the retrainer (it needs the reviews); the
 * scorer only relays what the retrainer last published, so the panel says
 * "no outcome detector state yet" rather than guessing it from the PSI.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http_impl.h"
#include "satisfy/drift_detect.h"

void sf_http_drift_init(sf_http *h)
{
    pthread_mutex_init(&h->drift.mu, NULL);
}

void sf_http_drift_free(sf_http *h)
{
    sf_http_drift *d = &h->drift;
    for (int i = 0; i < SF_HTTP_DRIFT_SCORERS; i++)
        free(d->scorer[i].json);
    free(d->outcome);
    pthread_mutex_destroy(&d->mu);
}

int sf_http_drift_feed(sf_http *h, const char *schema, const void *key, size_t key_len,
                       const void *value, size_t len)
{
    int input = schema ? strcmp(schema, SF_DRIFT_SCHEMA) == 0
                       : sf_http_key_has_prefix(key, key_len, SF_DRIFT_KEY);
    int outcome = schema ? strcmp(schema, SF_OUTCOME_DRIFT_SCHEMA) == 0
                         : key_len == strlen(SF_OUTCOME_DRIFT_KEY) &&
                               sf_http_key_has_prefix(key, key_len, SF_OUTCOME_DRIFT_KEY);
    if (!input && !outcome)
        return 0;
    cJSON *j = value && len < 65536 ? cJSON_ParseWithLength(value, len) : NULL;
    char *text = cJSON_IsObject(j) ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) /* not JSON: a drift message all the same, left out */
        return 1;
    sf_http_drift *d = &h->drift;
    pthread_mutex_lock(&d->mu);
    d->messages++;
    if (outcome) {
        free(d->outcome);
        d->outcome = text;
    } else {
        char id[128] = "";
        size_t np = strlen(SF_DRIFT_KEY), n = key_len > np ? key_len - np : 0;
        if (n >= sizeof id)
            n = sizeof id - 1;
        if (key)
            memcpy(id, (const char *)key + np, n);
        int slot = -1, oldest = 0;
        for (int i = 0; i < SF_HTTP_DRIFT_SCORERS && slot < 0; i++)
            if (!d->scorer[i].json || strcmp(d->scorer[i].id, id) == 0)
                slot = i;
        if (slot < 0) /* more scorers than slots: the first one gives way */
            slot = oldest;
        free(d->scorer[slot].json);
        snprintf(d->scorer[slot].id, sizeof d->scorer[slot].id, "%s", id);
        d->scorer[slot].json = text;
    }
    pthread_mutex_unlock(&d->mu);
    return 1;
}

int sf_http_drift_route(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    if (strcmp(q->path, "/v1/drift") != 0)
        return 0;
    if (strcmp(q->method, "GET") != 0) {
        sf_http_error(r, 405, "use GET", NULL);
        return 1;
    }
    cJSON *o = cJSON_CreateObject();
    char *local = sf_drift_json(h->o.drift);
    cJSON *in = local ? cJSON_Parse(local) : NULL;
    free(local);
    cJSON_AddItemToObject(o, "input", in ? in : cJSON_CreateNull());
    cJSON *arr = cJSON_AddArrayToObject(o, "scorers");
    sf_http_drift *d = &h->drift;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < SF_HTTP_DRIFT_SCORERS; i++)
        if (d->scorer[i].json)
            cJSON_AddItemToArray(arr, cJSON_Parse(d->scorer[i].json));
    cJSON *out = d->outcome ? cJSON_Parse(d->outcome) : NULL;
    cJSON_AddNumberToObject(o, "messages", (double)d->messages);
    pthread_mutex_unlock(&d->mu);
    cJSON_AddItemToObject(o, "outcome", out ? out : cJSON_CreateNull());
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        sf_http_text(r, 500, "out of memory\n");
    else
        sf_http_json(r, 200, s);
    return 1;
}
