/*
 * http_mlflow.c - the MLflow scoring protocol, so clients written for an
 * MLflow model server (mlflow models serve) can score with satisfy:
 *   POST /invocations  Content-Type: application/json, one of
 *       {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
 *       {"dataframe_records": [{"col": v, ...}, ...]}
 *       {"instances": [...]}  /  {"inputs": [...]}   rows as objects, or as
 *           arrays in the model's feature order, or (inputs/instances as an
 *           object) columns: {"col": [v, ...], ...}
 *     Columns are the model's feature names (docs/model.md); a column left out
 *     or null is missing (NaN, handled by the model); an unknown column is an
 *     error. Answer: {"predictions": [{"score": 4.2, "p_dissatisfied": 0.11,
 *     "reasons": [{"feature", "value", "contribution"}, ...]}, ...]}, one
 *     object per row in order.
 *   GET /ping, /health  200 when a model is loaded, else 503
 *   GET /version        the MLflow version whose protocol this is
 *                       (SF_HTTP_MLFLOW_VERSION), as the body and
 *                       Content-Type MLflow's own server sends; the satisfy
 *                       version is in X-Satisfy-Version and /v1/version
 * Errors as MLflow sends them: HTTP 400 {"error_code": "MALFORMED_REQUEST"
 * (not JSON) or "BAD_REQUEST" (JSON of the wrong shape), "message": ...},
 * 415 for another content type, 503 without a model.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http_impl.h"
#include "satisfy/json_field.h"

static void ml_error(sf_http_resp *r, unsigned status, const char *code, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (o && cJSON_AddStringToObject(o, "error_code", code) &&
        cJSON_AddStringToObject(o, "message", msg))
        s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    sf_http_json(r, status, s);
}

typedef struct rows {
    const sf_feature_spec *spec;
    size_t n, d;
    float *x;
    char msg[256];
} rows;

/* Marks column c seen (seen: d flags); -1 with the message when it was. */
static int once(rows *t, unsigned char *seen, int c, const char *where)
{
    if (seen[c]) {
        snprintf(t->msg, sizeof t->msg, "%sduplicate column '%s'", where, t->spec->defs[c].name);
        return -1;
    }
    seen[c] = 1;
    return 0;
}

static int alloc_rows(rows *t, size_t n)
{
    if (n > SF_HTTP_MAX_ROWS) {
        snprintf(t->msg, sizeof t->msg, "%zu rows, at most %d per request", n, SF_HTTP_MAX_ROWS);
        return -1;
    }
    if (n == 0) {
        snprintf(t->msg, sizeof t->msg, "no rows to score");
        return -1;
    }
    t->n = n;
    t->x = malloc(n * t->d * sizeof *t->x);
    if (!t->x) {
        snprintf(t->msg, sizeof t->msg, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n * t->d; i++)
        t->x[i] = NAN;
    return 0;
}

static int column(rows *t, const char *name)
{
    int c = name ? sf_spec_index(t->spec, name) : -1;
    if (c < 0)
        snprintf(t->msg, sizeof t->msg,
                 "unknown column '%s': columns are the features of spec '%s' (GET /v1/models)",
                 name ? name : "", t->spec->name);
    return c;
}

static int cell(rows *t, size_t row, int col, const cJSON *v)
{
    if (cJSON_IsNull(v))
        return 0;
    if (cJSON_IsBool(v)) {
        t->x[row * t->d + (size_t)col] = cJSON_IsTrue(v) ? 1.0f : 0.0f;
        return 0;
    }
    if (!cJSON_IsNumber(v)) {
        snprintf(t->msg, sizeof t->msg, "row %zu, column '%s': expected a number or null", row,
                 t->spec->defs[col].name);
        return -1;
    }
    if (!(fabs(v->valuedouble) <= FLT_MAX)) { /* 1e999 parses as infinity; a float holds less */
        snprintf(t->msg, sizeof t->msg, "row %zu, column '%s': expected a finite number", row,
                 t->spec->defs[col].name);
        return -1;
    }
    t->x[row * t->d + (size_t)col] = (float)v->valuedouble;
    return 0;
}

static int from_record(rows *t, size_t row, const cJSON *rec)
{
    if (!cJSON_IsObject(rec)) {
        snprintf(t->msg, sizeof t->msg, "row %zu: expected an object", row);
        return -1;
    }
    unsigned char seen[SF_SPEC_MAX_FEATURES] = {0};
    char where[40];
    snprintf(where, sizeof where, "row %zu: ", row);
    const cJSON *v;
    cJSON_ArrayForEach(v, rec)
    {
        int c = column(t, v->string);
        if (c < 0 || once(t, seen, c, where) || cell(t, row, c, v))
            return -1;
    }
    return 0;
}

static int from_positional(rows *t, size_t row, const cJSON *arr, const int *cols, size_t ncols)
{
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != ncols) {
        snprintf(t->msg, sizeof t->msg, "row %zu: expected an array of %zu values", row, ncols);
        return -1;
    }
    size_t j = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (cell(t, row, cols ? cols[j] : (int)j, v))
            return -1;
        j++;
    }
    return 0;
}

static int from_split(rows *t, const cJSON *o)
{
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(o, "columns");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
    if (!cJSON_IsObject(o) || !cJSON_IsArray(cols) || !cJSON_IsArray(data)) {
        snprintf(t->msg, sizeof t->msg,
                 "dataframe_split: expected {\"columns\": [...], \"data\": [[...], ...]}");
        return -1;
    }
    size_t nc = (size_t)cJSON_GetArraySize(cols);
    if (nc > SF_SPEC_MAX_FEATURES) {
        snprintf(t->msg, sizeof t->msg, "dataframe_split: %zu columns, the model has %zu", nc,
                 t->d);
        return -1;
    }
    int idx[SF_SPEC_MAX_FEATURES];
    unsigned char seen[SF_SPEC_MAX_FEATURES] = {0};
    size_t j = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cols)
    {
        if (!cJSON_IsString(c)) {
            snprintf(t->msg, sizeof t->msg, "dataframe_split: column names must be strings");
            return -1;
        }
        if ((idx[j] = column(t, c->valuestring)) < 0 || once(t, seen, idx[j], "dataframe_split: "))
            return -1;
        j++;
    }
    if (alloc_rows(t, (size_t)cJSON_GetArraySize(data)))
        return -1;
    size_t i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, data)
    {
        if (from_positional(t, i++, row, idx, nc))
            return -1;
    }
    return 0;
}

static int from_list(rows *t, const char *key, const cJSON *a)
{
    if (cJSON_IsObject(a) && (key[0] == 'i')) {
        /* columnar: {"col": [v, ...], ...} */
        const cJSON *col;
        int n = -1;
        cJSON_ArrayForEach(col, a)
        {
            if (!cJSON_IsArray(col) || (n >= 0 && cJSON_GetArraySize(col) != n)) {
                snprintf(t->msg, sizeof t->msg,
                         "%s: as an object, every column must be an array of the same length", key);
                return -1;
            }
            n = cJSON_GetArraySize(col);
        }
        if (alloc_rows(t, n < 0 ? 0 : (size_t)n))
            return -1;
        unsigned char seen[SF_SPEC_MAX_FEATURES] = {0};
        cJSON_ArrayForEach(col, a)
        {
            int c = column(t, col->string);
            if (c < 0 || once(t, seen, c, ""))
                return -1;
            size_t i = 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, col)
            {
                if (cell(t, i++, c, v))
                    return -1;
            }
        }
        return 0;
    }
    if (!cJSON_IsArray(a)) {
        snprintf(t->msg, sizeof t->msg, "%s: expected an array of rows", key);
        return -1;
    }
    if (alloc_rows(t, (size_t)cJSON_GetArraySize(a)))
        return -1;
    size_t i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, a)
    {
        int rc = cJSON_IsArray(row) && key[0] == 'i' ? from_positional(t, i, row, NULL, t->d)
                                                     : from_record(t, i, row);
        if (rc)
            return -1;
        i++;
    }
    return 0;
}

/* Parses body and finds its one input field (*in, named *key; root to
 * delete): 0, or -1 with the MLflow error code and message. */
static int envelope(const char *body, size_t len, cJSON **root, const cJSON **in, const char **key,
                    const char **code, char *msg, size_t cap)
{
    static const char *const KEYS[] = {"dataframe_split", "dataframe_records", "instances",
                                       "inputs"};
    *code = "BAD_REQUEST";
    *root = cJSON_ParseWithLength(body, len);
    if (!*root) {
        *code = "MALFORMED_REQUEST";
        snprintf(msg, cap, "failed to parse the request body as JSON");
        return -1;
    }
    int found = 0;
    const cJSON *e;
    const cJSON *top = cJSON_IsObject(*root) ? *root : NULL;
    cJSON_ArrayForEach(e, top)
    {
        int k;
        for (k = 0; k < 4; k++)
            if (e->string && !strcmp(e->string, KEYS[k]))
                break;
        if (k < 4) {
            found++;
            *in = e;
            *key = KEYS[k];
        } else if (!e->string || strcmp(e->string, "params") != 0) {
            snprintf(msg, cap,
                     "unknown field '%.60s': expected one of dataframe_split, dataframe_records, "
                     "instances, inputs",
                     e->string ? e->string : "");
            break;
        }
    }
    if (!e && found != 1)
        snprintf(msg, cap, "%s",
                 found ? "give exactly one of dataframe_split, dataframe_records, instances, "
                         "inputs"
                       : "expected a JSON object with one of dataframe_split, "
                         "dataframe_records, instances, inputs");
    if (e || found != 1) {
        cJSON_Delete(*root);
        *root = NULL;
        return -1;
    }
    return 0;
}

/* The rows of input in (named key) into t. */
static int rows_of(rows *t, const cJSON *in, const char *key)
{
    return strcmp(key, "dataframe_split") == 0 ? from_split(t, in) : from_list(t, key, in);
}

int sf_http_mlflow_rows(const sf_feature_spec *spec, const char *body, size_t len, float **x,
                        size_t *n, const char **code, char *msg, size_t cap)
{
    cJSON *root;
    const cJSON *in = NULL;
    const char *key = "";
    *x = NULL;
    *n = 0;
    if (envelope(body, len, &root, &in, &key, code, msg, cap))
        return -1;
    rows t = {.spec = spec, .d = (size_t)spec->n};
    int rc = rows_of(&t, in, key);
    cJSON_Delete(root);
    if (rc) {
        free(t.x);
        *code = "BAD_REQUEST";
        snprintf(msg, cap, "%s", t.msg);
        return -1;
    }
    *x = t.x;
    *n = t.n;
    return 0;
}

/* Scores the rows of t with m and answers them. */
static void answer(sf_http *h, const sf_model *m, const rows *t, sf_http_resp *r)
{
    double *score = malloc(t->n * sizeof *score), *p = malloc(t->n * sizeof *p);
    sf_reason *rs = malloc(t->n * SF_REASONS * sizeof *rs);
    int *nr = malloc(t->n * sizeof *nr);
    cJSON *out = cJSON_CreateObject();
    cJSON *preds = out ? cJSON_AddArrayToObject(out, "predictions") : NULL;
    char *s = NULL;
    if (score && p && rs && nr && preds) {
        sf_model_explain(m, t->x, t->n, score, p, rs, nr);
        for (size_t i = 0; i < t->n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "score", sf_json_number(score[i]));
            cJSON_AddItemToObject(o, "p_dissatisfied", sf_json_number(p[i]));
            cJSON *ra = cJSON_AddArrayToObject(o, "reasons");
            for (int k = 0; k < nr[i]; k++) {
                const sf_reason *x = &rs[i * SF_REASONS + (size_t)k];
                cJSON *ro = cJSON_CreateObject();
                cJSON_AddStringToObject(ro, "feature", x->feature);
                cJSON_AddItemToObject(ro, "value", sf_json_number(x->value));
                cJSON_AddItemToObject(ro, "contribution", sf_json_number(x->contribution));
                cJSON_AddItemToArray(ra, ro);
            }
            cJSON_AddItemToArray(preds, o);
        }
        pthread_mutex_lock(&h->mu);
        h->predictions += t->n;
        pthread_mutex_unlock(&h->mu);
        s = cJSON_PrintUnformatted(out);
    }
    free(score);
    free(p);
    free(rs);
    free(nr);
    cJSON_Delete(out);
    if (s)
        sf_http_json(r, 200, s);
    else
        ml_error(r, 500, "INTERNAL_ERROR", "out of memory");
}

static void invocations(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    if (!sf_http_is_json(q->content_type)) {
        ml_error(r, 415, "BAD_REQUEST",
                 "Content-Type must be application/json (dataframe_split, dataframe_records, "
                 "instances or inputs)");
        return;
    }
    cJSON *root;
    const cJSON *in = NULL;
    const char *key = "", *code = "";
    char msg[256];
    if (envelope(q->body, q->len, &root, &in, &key, &code, msg, sizeof msg)) {
        ml_error(r, 400, code, msg);
        return;
    }
    sf_http_model *m = sf_http_model_get(h);
    if (!m) {
        cJSON_Delete(root);
        ml_error(r, 503, "RESOURCE_DOES_NOT_EXIST", "no model has been released yet");
        return;
    }
    const sf_model_info *info = sf_model_get_info(m->m);
    rows t = {.spec = info->spec, .d = (size_t)info->n_inputs};
    int rc = rows_of(&t, in, key);
    cJSON_Delete(root);
    if (rc)
        ml_error(r, 400, "BAD_REQUEST", t.msg);
    else
        answer(h, m->m, &t, r);
    sf_http_model_put(h, m);
    free(t.x);
}

int sf_http_mlflow_route(sf_http *h, const sf_http_req *q, sf_http_resp *r)
{
    int get = strcmp(q->method, "GET") == 0;
    if (!strcmp(q->path, "/invocations")) {
        if (strcmp(q->method, "POST") == 0)
            invocations(h, q, r);
        else
            ml_error(r, 405, "BAD_REQUEST", "use POST");
    } else if (!strcmp(q->path, "/ping") || !strcmp(q->path, "/health")) {
        sf_http_model *m = get ? sf_http_model_get(h) : NULL;
        if (!get)
            ml_error(r, 405, "BAD_REQUEST", "use GET");
        else if (m)
            sf_http_text(r, 200, "\n");
        else
            sf_http_text(r, 503, "no model loaded\n");
        sf_http_model_put(h, m);
    } else if (!strcmp(q->path, "/version")) {
        if (!get) {
            ml_error(r, 405, "BAD_REQUEST", "use GET");
        } else {
            /* MLflow: the bare version string, labelled application/json */
            sf_http_json(r, 200, strdup(h->o.mlflow_version));
        }
    } else {
        return 0;
    }
    return 1;
}
