/*
 * codec_json.c - the JSON view of satisfy events (cJSON), for people, jq and
 * the HTTP API, and its parser back to events.
 *
 * The view mirrors the Avro schemas: the same field names and nesting, enums
 * as their symbols, times as integer milliseconds since the epoch (null when
 * SF_TIME_NONE), missing numbers (NaN) as null, absent review text as null.
 * Parsing is strict about types and requires every non-nullable field; a
 * nullable field may be omitted. Parsed events go through the same sf_check_*
 * contract as the binary codec, so JSON and Avro accept the same events.
 */
#include "satisfy/codec.h"
#include "satisfy/json_field.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"

/* ---------------------------------------------------------------------------
 * Events to JSON.
 */

static cJSON *place_json(const sf_place *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "zip", p->zip);
    cJSON_AddStringToObject(o, "city", p->city);
    cJSON_AddStringToObject(o, "state", p->state);
    sf_json_add_number(o, "lat", p->lat);
    sf_json_add_number(o, "lng", p->lng);
    return o;
}

static char *finish(cJSON *o, sf_err *err)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        sf_errf(err, "out of memory printing JSON");
    return s;
}

char *sf_order_to_json(const sf_order_event *ev, sf_err *err)
{
    if (sf_check_order(ev, err)) {
        sf_err_wrap(err, "OrderEvent to JSON");
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "order_id", ev->order_id);
    cJSON_AddStringToObject(o, "customer_id", ev->customer_id);
    cJSON_AddStringToObject(o, "customer_unique_id", ev->customer_unique_id);
    cJSON_AddStringToObject(o, "stage", sf_stage_name(ev->stage));
    sf_json_add_time(o, "event_time", ev->event_time);
    sf_json_add_time(o, "purchase_time", ev->purchase);
    sf_json_add_time(o, "estimated_delivery", ev->estimated);
    sf_json_add_time(o, "approved_time", ev->approved);
    sf_json_add_time(o, "carrier_time", ev->carrier);
    sf_json_add_time(o, "delivered_time", ev->delivered);
    cJSON_AddItemToObject(o, "customer", place_json(&ev->customer));
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    for (int i = 0; i < ev->n_items; i++) {
        const sf_item *it = &ev->items[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "seq", it->seq);
        cJSON_AddStringToObject(e, "product_id", it->product_id);
        cJSON_AddStringToObject(e, "seller_id", it->seller_id);
        sf_json_add_number(e, "price", it->price);
        sf_json_add_number(e, "freight", it->freight);
        sf_json_add_time(e, "shipping_limit", it->shipping_limit);
        cJSON_AddStringToObject(e, "category", it->category);
        sf_json_add_number(e, "name_len", it->name_len);
        sf_json_add_number(e, "desc_len", it->desc_len);
        sf_json_add_number(e, "photos", it->photos);
        sf_json_add_number(e, "weight_g", it->weight_g);
        sf_json_add_number(e, "length_cm", it->length_cm);
        sf_json_add_number(e, "height_cm", it->height_cm);
        sf_json_add_number(e, "width_cm", it->width_cm);
        cJSON_AddItemToObject(e, "seller", place_json(&it->seller));
        cJSON_AddItemToArray(items, e);
    }
    cJSON *pays = cJSON_AddArrayToObject(o, "payments");
    for (int i = 0; i < ev->n_payments; i++) {
        const sf_payment *p = &ev->payments[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "seq", p->seq);
        cJSON_AddStringToObject(e, "type", sf_pay_type_name(p->type));
        cJSON_AddNumberToObject(e, "installments", p->installments);
        sf_json_add_number(e, "value", p->value);
        cJSON_AddItemToArray(pays, e);
    }
    return finish(o, err);
}

char *sf_review_to_json(const sf_review_event *ev, sf_err *err)
{
    if (sf_check_review(ev, err)) {
        sf_err_wrap(err, "ReviewEvent to JSON");
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "review_id", ev->review_id);
    cJSON_AddStringToObject(o, "order_id", ev->order_id);
    cJSON_AddNumberToObject(o, "score", ev->score);
    if (ev->title)
        cJSON_AddStringToObject(o, "title", ev->title);
    else
        cJSON_AddNullToObject(o, "title");
    if (ev->message)
        cJSON_AddStringToObject(o, "message", ev->message);
    else
        cJSON_AddNullToObject(o, "message");
    sf_json_add_time(o, "created", ev->created);
    sf_json_add_time(o, "answered", ev->answered);
    return finish(o, err);
}

char *sf_prediction_to_json(const sf_prediction *p, sf_err *err)
{
    if (sf_check_prediction(p, err)) {
        sf_err_wrap(err, "Prediction to JSON");
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "order_id", p->order_id);
    cJSON_AddStringToObject(o, "event_id", p->event_id);
    cJSON_AddStringToObject(o, "stage", sf_stage_name(p->stage));
    sf_json_add_number(o, "score", p->score);
    sf_json_add_number(o, "p_dissatisfied", p->p_dissatisfied);
    cJSON *rs = cJSON_AddArrayToObject(o, "reasons");
    for (int i = 0; i < p->n_reasons; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "feature", p->reasons[i].feature);
        sf_json_add_number(e, "value", p->reasons[i].value);
        sf_json_add_number(e, "contribution", p->reasons[i].contribution);
        cJSON_AddItemToArray(rs, e);
    }
    cJSON_AddNumberToObject(o, "model_version", (double)p->model_version);
    sf_json_add_time(o, "event_time", p->event_time);
    sf_json_add_time(o, "scored_at", p->scored_at);
    return finish(o, err);
}

/* ---------------------------------------------------------------------------
 * JSON to events. A parse context names the object being read ("items[2]")
 * so that errors say where the problem is.
 */

struct jctx {
    const char *where; /* "" at the top level */
    sf_err *err;
};

static int jfail(struct jctx *j, const char *name, const char *why)
{
    return sf_errf(j->err, "%s%s%s: %s", j->where, *j->where ? "." : "", name, why);
}

static cJSON *jget(struct jctx *j, const cJSON *o, const char *name, int nullable, int *rc)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *rc = 0;
    if (!v || cJSON_IsNull(v)) {
        if (!nullable)
            *rc = jfail(j, name, v ? "must not be null" : "missing field");
        return NULL;
    }
    return v;
}

static int jtext(struct jctx *j, const cJSON *o, const char *name, char *dst, size_t cap)
{
    int rc;
    cJSON *v = jget(j, o, name, 0, &rc);
    if (!v)
        return rc;
    if (!cJSON_IsString(v))
        return jfail(j, name, "expected a string");
    size_t n = strlen(v->valuestring);
    if (n >= cap) {
        char why[64];
        snprintf(why, sizeof why, "%zu bytes, at most %zu fit", n, cap - 1);
        return jfail(j, name, why);
    }
    memcpy(dst, v->valuestring, n + 1);
    return 0;
}

/* Exact integers only (JSON numbers are doubles: |x| <= 2^53). */
static int jint64(struct jctx *j, const cJSON *o, const char *name, int nullable, int64_t *out)
{
    int rc;
    cJSON *v = jget(j, o, name, nullable, &rc);
    if (!v) {
        if (!rc)
            *out = SF_TIME_NONE;
        return rc;
    }
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return jfail(j, name, "expected an integer");
    *out = (int64_t)d;
    return 0;
}

/* An event time: an integer, or null when nullable. A number beyond 2^53
 * (never a valid time, and not exact in JSON) is refused here with the
 * codec's message for times out of range; the range itself is checked by
 * sf_check_* with the rest of the event. */
static int jtime(struct jctx *j, const cJSON *o, const char *name, int nullable, int64_t *out)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
    if (!(fabs(d) > 9007199254740992.0))
        return jint64(j, o, name, nullable, out);
    char path[128], val[32];
    snprintf(path, sizeof path, "%s%s%s", j->where, *j->where ? "." : "", name);
    if (fabs(d) < 9223372036854775808.0) /* an int64: shown exactly as read */
        snprintf(val, sizeof val, "%" PRId64, (int64_t)d);
    else
        snprintf(val, sizeof val, "%g", d);
    return sf_codec_time_invalid(path, val, j->err);
}

static int jint(struct jctx *j, const cJSON *o, const char *name, int *out)
{
    int64_t v = 0;
    if (jint64(j, o, name, 0, &v))
        return -1;
    if (v < INT32_MIN || v > INT32_MAX)
        return jfail(j, name, "out of 32-bit range");
    *out = (int)v;
    return 0;
}

static int jnum(struct jctx *j, const cJSON *o, const char *name, int nullable, double *out)
{
    int rc;
    cJSON *v = jget(j, o, name, nullable, &rc);
    if (!v) {
        if (!rc)
            *out = NAN;
        return rc;
    }
    if (!cJSON_IsNumber(v))
        return jfail(j, name, "expected a number");
    *out = v->valuedouble;
    return 0;
}

static int jstage(struct jctx *j, const cJSON *o, const char *name, sf_stage *out)
{
    char s[32];
    if (jtext(j, o, name, s, sizeof s))
        return -1;
    if (sf_stage_parse(s, out))
        return jfail(j, name,
                     "not a stage (PURCHASED, APPROVED, SHIPPED, DELIVERED, CANCELED, "
                     "UNAVAILABLE)");
    return 0;
}

static int jplace(struct jctx *j, const cJSON *o, const char *name, sf_place *p)
{
    int rc;
    cJSON *v = jget(j, o, name, 0, &rc);
    if (!v)
        return rc;
    if (!cJSON_IsObject(v))
        return jfail(j, name, "expected an object");
    char where[96];
    snprintf(where, sizeof where, "%s%s%s", j->where, *j->where ? "." : "", name);
    struct jctx in = {where, j->err};
    if (jtext(&in, v, "zip", p->zip, sizeof p->zip) ||
        jtext(&in, v, "city", p->city, sizeof p->city) ||
        jtext(&in, v, "state", p->state, sizeof p->state) || jnum(&in, v, "lat", 1, &p->lat) ||
        jnum(&in, v, "lng", 1, &p->lng))
        return -1;
    return 0;
}

static const cJSON *jarray(struct jctx *j, const cJSON *o, const char *name, int max, int *n)
{
    int rc;
    cJSON *v = jget(j, o, name, 0, &rc);
    if (!v)
        return NULL;
    if (!cJSON_IsArray(v)) {
        jfail(j, name, "expected an array");
        return NULL;
    }
    *n = cJSON_GetArraySize(v);
    if (*n > max) {
        char why[64];
        snprintf(why, sizeof why, "%d entries, at most %d", *n, max);
        jfail(j, name, why);
        return NULL;
    }
    return v;
}

static cJSON *jparse(const char *json, const char *what, sf_err *err)
{
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        sf_errf(err, "%s JSON: syntax error at offset %ld", what,
                at && at >= json ? (long)(at - json) : -1L);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        sf_errf(err, "%s JSON: expected an object", what);
        return NULL;
    }
    return root;
}

int sf_order_from_json(const char *json, sf_order_event *ev, sf_err *err)
{
    memset(ev, 0, sizeof *ev);
    cJSON *root = jparse(json, "OrderEvent", err);
    if (!root)
        return -1;
    struct jctx j = {"", err};
    int ni = 0, np = 0;
    const cJSON *items = jarray(&j, root, "items", SF_CODEC_MAX_ITEMS, &ni);
    const cJSON *pays = items ? jarray(&j, root, "payments", SF_CODEC_MAX_ITEMS, &np) : NULL;
    if (!items || !pays)
        goto fail;
    size_t size = (size_t)ni * sizeof(sf_item) + (size_t)np * sizeof(sf_payment);
    char *block = calloc(1, size ? size : 1);
    if (!block) {
        sf_errf(err, "out of memory");
        goto fail;
    }
    sf_item *it = (sf_item *)(void *)block;
    sf_payment *pay = (sf_payment *)(void *)(block + (size_t)ni * sizeof(sf_item));
    ev->alloc = block;
    ev->items = it;
    ev->n_items = ni;
    ev->payments = pay;
    ev->n_payments = np;
    if (jtext(&j, root, "order_id", ev->order_id, sizeof ev->order_id) ||
        jtext(&j, root, "customer_id", ev->customer_id, sizeof ev->customer_id) ||
        jtext(&j, root, "customer_unique_id", ev->customer_unique_id,
              sizeof ev->customer_unique_id) ||
        jstage(&j, root, "stage", &ev->stage) ||
        jtime(&j, root, "event_time", 0, &ev->event_time) ||
        jtime(&j, root, "purchase_time", 0, &ev->purchase) ||
        jtime(&j, root, "estimated_delivery", 0, &ev->estimated) ||
        jtime(&j, root, "approved_time", 1, &ev->approved) ||
        jtime(&j, root, "carrier_time", 1, &ev->carrier) ||
        jtime(&j, root, "delivered_time", 1, &ev->delivered) ||
        jplace(&j, root, "customer", &ev->customer))
        goto fail;
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, items)
    {
        char where[32];
        snprintf(where, sizeof where, "items[%d]", i);
        struct jctx in = {where, err};
        if (!cJSON_IsObject(e)) {
            sf_errf(err, "%s: expected an object", where);
            goto fail;
        }
        if (jint(&in, e, "seq", &it[i].seq) ||
            jtext(&in, e, "product_id", it[i].product_id, sizeof it[i].product_id) ||
            jtext(&in, e, "seller_id", it[i].seller_id, sizeof it[i].seller_id) ||
            jnum(&in, e, "price", 1, &it[i].price) || jnum(&in, e, "freight", 1, &it[i].freight) ||
            jtime(&in, e, "shipping_limit", 0, &it[i].shipping_limit) ||
            jtext(&in, e, "category", it[i].category, sizeof it[i].category) ||
            jnum(&in, e, "name_len", 1, &it[i].name_len) ||
            jnum(&in, e, "desc_len", 1, &it[i].desc_len) ||
            jnum(&in, e, "photos", 1, &it[i].photos) ||
            jnum(&in, e, "weight_g", 1, &it[i].weight_g) ||
            jnum(&in, e, "length_cm", 1, &it[i].length_cm) ||
            jnum(&in, e, "height_cm", 1, &it[i].height_cm) ||
            jnum(&in, e, "width_cm", 1, &it[i].width_cm) || jplace(&in, e, "seller", &it[i].seller))
            goto fail;
        i++;
    }
    i = 0;
    cJSON_ArrayForEach(e, pays)
    {
        char where[32], type[32];
        snprintf(where, sizeof where, "payments[%d]", i);
        struct jctx in = {where, err};
        if (!cJSON_IsObject(e)) {
            sf_errf(err, "%s: expected an object", where);
            goto fail;
        }
        if (jint(&in, e, "seq", &pay[i].seq) || jtext(&in, e, "type", type, sizeof type) ||
            jint(&in, e, "installments", &pay[i].installments) ||
            jnum(&in, e, "value", 1, &pay[i].value))
            goto fail;
        if (sf_pay_type_parse(type, &pay[i].type)) {
            jfail(&in, "type", "not a payment type");
            goto fail;
        }
        i++;
    }
    if (sf_check_order(ev, err))
        goto fail;
    cJSON_Delete(root);
    return 0;
fail:
    cJSON_Delete(root);
    sf_order_event_clear(ev);
    return sf_err_wrap(err, "OrderEvent JSON");
}

/* A nullable string: its length (plus NUL) or 0 when absent; -1 on a type error. */
static long jopt_str(struct jctx *j, const cJSON *o, const char *name, const char **s)
{
    int rc;
    cJSON *v = jget(j, o, name, 1, &rc);
    *s = NULL;
    if (!v)
        return 0;
    if (!cJSON_IsString(v))
        return jfail(j, name, "expected a string or null");
    *s = v->valuestring;
    return (long)strlen(*s) + 1;
}

int sf_review_from_json(const char *json, sf_review_event *ev, sf_err *err)
{
    memset(ev, 0, sizeof *ev);
    cJSON *root = jparse(json, "ReviewEvent", err);
    if (!root)
        return -1;
    struct jctx j = {"", err};
    const char *title, *message;
    long tn = jopt_str(&j, root, "title", &title);
    long mn = tn < 0 ? -1 : jopt_str(&j, root, "message", &message);
    if (tn < 0 || mn < 0)
        goto fail;
    char *block = malloc((size_t)(tn + mn) + 1);
    if (!block) {
        sf_errf(err, "out of memory");
        goto fail;
    }
    ev->alloc = block;
    if (title) {
        memcpy(block, title, (size_t)tn);
        ev->title = block;
    }
    if (message) {
        memcpy(block + tn, message, (size_t)mn);
        ev->message = block + tn;
    }
    if (jtext(&j, root, "review_id", ev->review_id, sizeof ev->review_id) ||
        jtext(&j, root, "order_id", ev->order_id, sizeof ev->order_id) ||
        jint(&j, root, "score", &ev->score) || jtime(&j, root, "created", 0, &ev->created) ||
        jtime(&j, root, "answered", 1, &ev->answered) || sf_check_review(ev, err))
        goto fail;
    cJSON_Delete(root);
    return 0;
fail:
    cJSON_Delete(root);
    sf_review_event_clear(ev);
    return sf_err_wrap(err, "ReviewEvent JSON");
}

int sf_prediction_from_json(const char *json, sf_prediction *p, sf_err *err)
{
    memset(p, 0, sizeof *p);
    cJSON *root = jparse(json, "Prediction", err);
    if (!root)
        return -1;
    struct jctx j = {"", err};
    int n = 0;
    const cJSON *rs = jarray(&j, root, "reasons", SF_REASONS, &n);
    if (!rs)
        goto fail;
    p->n_reasons = n;
    if (jtext(&j, root, "order_id", p->order_id, sizeof p->order_id) ||
        jtext(&j, root, "event_id", p->event_id, sizeof p->event_id) ||
        jstage(&j, root, "stage", &p->stage) || jnum(&j, root, "score", 1, &p->score) ||
        jnum(&j, root, "p_dissatisfied", 1, &p->p_dissatisfied) ||
        jint64(&j, root, "model_version", 0, &p->model_version) ||
        jtime(&j, root, "event_time", 0, &p->event_time) ||
        jint64(&j, root, "scored_at", 0, &p->scored_at))
        goto fail;
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, rs)
    {
        char where[32];
        snprintf(where, sizeof where, "reasons[%d]", i);
        struct jctx in = {where, err};
        sf_reason *r = &p->reasons[i];
        if (!cJSON_IsObject(e)) {
            sf_errf(err, "%s: expected an object", where);
            goto fail;
        }
        if (jtext(&in, e, "feature", r->feature, sizeof r->feature) ||
            jnum(&in, e, "value", 1, &r->value) ||
            jnum(&in, e, "contribution", 1, &r->contribution))
            goto fail;
        i++;
    }
    if (sf_check_prediction(p, err))
        goto fail;
    cJSON_Delete(root);
    return 0;
fail:
    cJSON_Delete(root);
    memset(p, 0, sizeof *p);
    return sf_err_wrap(err, "Prediction JSON");
}
