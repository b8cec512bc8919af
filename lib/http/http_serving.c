/*
 * http_serving.c - GET /v1/serving: which release this server serves and
 * how it got there, for the web page's champion panel (read-only by design:
 * a change of the served model goes through `satisfy-retrainer registry
 * promote N` or `registry rollback`, with a reason, never through HTTP).
 *
 * The state comes from the server's own model watcher (modelwatch.h): the
 * ServingState obeyed (the highest epoch on satisfy.models), the ones it
 * accepted since it started (a compacted topic keeps only the newest; the
 * full history is `satisfy-retrainer registry history`), and the versions of
 * the releases it keeps, any of which a ServingState may name.
 */
#include <stdlib.h>
#include <string.h>

#include "http_impl.h"
#include "satisfy/modelwatch.h"

static cJSON *state_json(const sf_serving_state *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "epoch", (double)s->epoch);
    cJSON_AddNumberToObject(o, "champion", (double)s->champion);
    cJSON_AddNumberToObject(o, "challenger", (double)s->challenger);
    cJSON_AddStringToObject(o, "cause", s->cause);
    cJSON_AddStringToObject(o, "reason", s->reason);
    cJSON_AddNumberToObject(o, "at", (double)s->at);
    return o;
}

cJSON *sf_http_serving_json(sf_http *h)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    sf_serving_state cur, hist[SF_MODELWATCH_HISTORY];
    memset(&cur, 0, sizeof cur);
    size_t n = 0, nk = 0;
    int64_t kept[64];
    if (h->mw) {
        n = sf_modelwatch_serving(h->mw, &cur, hist, SF_MODELWATCH_HISTORY);
        nk = sf_modelwatch_kept(h->mw, kept, sizeof kept / sizeof kept[0]);
    }
    cJSON_AddBoolToObject(o, "read_only", 1);
    cJSON_AddStringToObject(o, "how_to_change",
                            "satisfy-retrainer registry promote N --reason TEXT, or registry "
                            "rollback --reason TEXT (recorded in the registry's serving history)");
    cJSON_AddStringToObject(o, "rule", cur.epoch > 0 ? "serving state" : "newest release");
    if (cur.epoch > 0)
        cJSON_AddItemToObject(o, "state", state_json(&cur));
    else
        cJSON_AddNullToObject(o, "state");
    sf_http_model *m = sf_http_model_get(h);
    cJSON_AddNumberToObject(o, "active_version", m ? (double)m->version : 0);
    sf_http_model_put(h, m);
    cJSON *a = cJSON_AddArrayToObject(o, "history");
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, state_json(&hist[i]));
    cJSON *k = cJSON_AddArrayToObject(o, "kept");
    for (size_t i = 0; k && i < nk; i++)
        cJSON_AddItemToArray(k, cJSON_CreateNumber((double)kept[i]));
    return o;
}

int sf_http_serving_route(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    if (strcmp(q->path, "/v1/serving") != 0)
        return 0;
    if (strcmp(q->method, "GET") != 0) {
        sf_http_error(r, 405,
                      "read-only: use GET; change the served model with "
                      "satisfy-retrainer registry promote or rollback",
                      NULL);
        return 1;
    }
    cJSON *o = sf_http_serving_json(h);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (s)
        sf_http_json(r, 200, s);
    else
        sf_http_error(r, 500, "out of memory", NULL);
    return 1;
}
