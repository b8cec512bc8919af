/*
 * codec.c - satisfy events to and from Kafka message bytes (see
 * include/satisfy/codec.h).
 *
 * A message is the Confluent framing (magic 0, big-endian schema id) and the
 * Avro binary body written and read by Avro-C against the schemas embedded in
 * the library (schemas/catalog.json and the .avsc files).
 *
 * Avro-C trusts the lengths it reads: a corrupt string length makes it
 * allocate that much before noticing the buffer is short. So the decoder
 * first walks the schema over the bytes itself (walk_*): every varint is well
 * formed, every length is non-negative, bounded and within the remaining
 * bytes, every enum and union index exists, and the record ends exactly at
 * the end of the message. Only bytes that pass go to avro_value_read; the
 * values are then checked against the C types (fixed buffers, hex ids,
 * scores) by the same sf_check_* functions the encoders use.
 *
 * A codec keeps one generic Avro value per schema plus one memory reader and
 * writer, reused for every message, so encoding allocates nothing in steady
 * state. Field positions are fixed by the enums below and verified against
 * the schemas when the codec is created.
 */
#include "satisfy/codec.h"

#include <avro.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/embed.h"

#define NSCHEMAS 5 /* indexed by schema id, 1..4 */

/* Field positions; must match the .avsc files (checked in sf_codec_new). */
enum {
    OE_ORDER_ID,
    OE_CUSTOMER_ID,
    OE_CUSTOMER_UNIQUE_ID,
    OE_STAGE,
    OE_EVENT_TIME,
    OE_PURCHASE,
    OE_ESTIMATED,
    OE_APPROVED,
    OE_CARRIER,
    OE_DELIVERED,
    OE_CUSTOMER,
    OE_ITEMS,
    OE_PAYMENTS,
    OE_N
};
static const char *const oe_names[OE_N] = {
    "order_id",     "customer_id",    "customer_unique_id", "stage",
    "event_time",   "purchase_time",  "estimated_delivery", "approved_time",
    "carrier_time", "delivered_time", "customer",           "items",
    "payments"};

enum { LOC_ZIP, LOC_CITY, LOC_STATE, LOC_LAT, LOC_LNG, LOC_N };
static const char *const loc_names[LOC_N] = {"zip", "city", "state", "lat", "lng"};

enum {
    IT_SEQ,
    IT_PRODUCT,
    IT_SELLER_ID,
    IT_PRICE,
    IT_FREIGHT,
    IT_SHIPPING_LIMIT,
    IT_CATEGORY,
    IT_NAME_LEN,
    IT_DESC_LEN,
    IT_PHOTOS,
    IT_WEIGHT,
    IT_LENGTH,
    IT_HEIGHT,
    IT_WIDTH,
    IT_SELLER,
    IT_N
};
static const char *const it_names[IT_N] = {"seq",       "product_id",     "seller_id", "price",
                                           "freight",   "shipping_limit", "category",  "name_len",
                                           "desc_len",  "photos",         "weight_g",  "length_cm",
                                           "height_cm", "width_cm",       "seller"};

enum { PAY_SEQ, PAY_TYPE, PAY_INSTALLMENTS, PAY_VALUE, PAY_N };
static const char *const pay_names[PAY_N] = {"seq", "type", "installments", "value"};

enum { RV_REVIEW_ID, RV_ORDER_ID, RV_SCORE, RV_TITLE, RV_MESSAGE, RV_CREATED, RV_ANSWERED, RV_N };
static const char *const rv_names[RV_N] = {"review_id", "order_id", "score",   "title",
                                           "message",   "created",  "answered"};

enum {
    PR_ORDER_ID,
    PR_EVENT_ID,
    PR_STAGE,
    PR_SCORE,
    PR_P,
    PR_REASONS,
    PR_MODEL_VERSION,
    PR_EVENT_TIME,
    PR_SCORED_AT,
    PR_N
};
static const char *const pr_names[PR_N] = {"order_id",      "event_id",       "stage",
                                           "score",         "p_dissatisfied", "reasons",
                                           "model_version", "event_time",     "scored_at"};

enum { RS_FEATURE, RS_VALUE, RS_CONTRIBUTION, RS_N };
static const char *const rs_names[RS_N] = {"feature", "value", "contribution"};

enum {
    MR_VERSION,
    MR_ALGORITHM,
    MR_SPEC_HASH,
    MR_TRAIN_FROM,
    MR_TRAIN_TO,
    MR_PARAMS,
    MR_METRICS,
    MR_PAYLOAD,
    MR_SHA256,
    MR_RELEASED_AT,
    MR_N
};
static const char *const mr_names[MR_N] = {"version",  "algorithm",   "spec_hash",    "train_from",
                                           "train_to", "params_json", "metrics_json", "payload",
                                           "sha256",   "released_at"};

static const char *const schema_names[NSCHEMAS] = {NULL, "OrderEvent", "ReviewEvent", "Prediction",
                                                   "ModelRelease"};

struct schema {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    int has_value;
};

struct sf_codec {
    struct schema s[NSCHEMAS];
    avro_writer_t writer;
    avro_reader_t reader;
    char dummy; /* a valid address for empty reader/writer buffers */
};

const char *sf_schema_name(int schema_id)
{
    return schema_id > 0 && schema_id < NSCHEMAS ? schema_names[schema_id] : NULL;
}

/* ---------------------------------------------------------------------------
 * Small checks shared by the encoders, decoders and JSON parsers.
 */

/* A printable excerpt of untrusted bytes for error messages. */
static const char *excerpt(char *out, size_t cap, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[o++] = (ch >= 0x20 && ch < 0x7f && ch != '"') ? (char)ch : '?';
    }
    if (o + 4 >= cap && len > o)
        memcpy(out + o, "...", 3), o += 3;
    out[o] = '\0';
    return out;
}

/* "items[2].product_id" or "order_id" into out. */
static const char *path(char *out, size_t cap, const char *arr, int i, const char *field)
{
    if (arr)
        snprintf(out, cap, "%s[%d].%s", arr, i, field);
    else
        snprintf(out, cap, "%s", field);
    return out;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned min, cp;
        if ((c & 0xe0) == 0xc0)
            k = 1, min = 0x80, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            k = 2, min = 0x800, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            k = 3, min = 0x10000, cp = c & 0x07;
        else
            return 0;
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* A NUL-terminated string in a buffer of cap bytes: fits, valid UTF-8. */
static int check_text(const char *s, size_t cap, const char *arr, int i, const char *field,
                      sf_err *err)
{
    char p[96], ex[48];
    size_t n = strnlen(s, cap);
    if (n >= cap)
        return sf_errf(err, "%s: not terminated within its %zu-byte buffer",
                       path(p, sizeof p, arr, i, field), cap);
    if (!utf8_valid((const unsigned char *)s, n))
        return sf_errf(err, "%s: \"%s\" is not valid UTF-8", path(p, sizeof p, arr, i, field),
                       excerpt(ex, sizeof ex, s, n));
    return 0;
}

/* A malloc'd (unbounded) string: at most max bytes, valid UTF-8. */
static int check_long_text(const char *s, size_t max, const char *field, sf_err *err)
{
    char ex[48];
    size_t n = strnlen(s, max + 1);
    if (n > max)
        return sf_errf(err, "%s: longer than the limit of %zu bytes", field, max);
    if (!utf8_valid((const unsigned char *)s, n))
        return sf_errf(err, "%s: \"%s\" is not valid UTF-8", field, excerpt(ex, sizeof ex, s, n));
    return 0;
}

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* Exactly n hex digits in a buffer of cap bytes. */
static int check_hex(const char *s, size_t cap, size_t n, const char *arr, int i, const char *field,
                     sf_err *err)
{
    char p[96], ex[48];
    size_t len = strnlen(s, cap);
    if (len != n || !is_hex(s, len))
        return sf_errf(err, "%s: expected %zu hex digits, got \"%s\" (%zu bytes)",
                       path(p, sizeof p, arr, i, field), n,
                       excerpt(ex, sizeof ex, s, len < cap ? len : cap), len);
    return 0;
}

static int check_time(int64_t t, const char *arr, int i, const char *field, sf_err *err)
{
    char p[96];
    if (t == SF_TIME_NONE)
        return sf_errf(err, "%s: required time is not set", path(p, sizeof p, arr, i, field));
    return 0;
}

static int check_place(const sf_place *pl, const char *arr, int i, const char *what, sf_err *err)
{
    char f[64];
    snprintf(f, sizeof f, "%s.zip", what);
    if (check_text(pl->zip, sizeof pl->zip, arr, i, f, err))
        return -1;
    snprintf(f, sizeof f, "%s.city", what);
    if (check_text(pl->city, sizeof pl->city, arr, i, f, err))
        return -1;
    snprintf(f, sizeof f, "%s.state", what);
    return check_text(pl->state, sizeof pl->state, arr, i, f, err);
}

int sf_check_order(const sf_order_event *ev, sf_err *err)
{
    if (check_hex(ev->order_id, sizeof ev->order_id, SF_ID_LEN, NULL, 0, "order_id", err) ||
        check_hex(ev->customer_id, sizeof ev->customer_id, SF_ID_LEN, NULL, 0, "customer_id",
                  err) ||
        check_hex(ev->customer_unique_id, sizeof ev->customer_unique_id, SF_ID_LEN, NULL, 0,
                  "customer_unique_id", err))
        return -1;
    if ((unsigned)ev->stage >= SF_STAGE_COUNT)
        return sf_errf(err, "stage: invalid value %d", (int)ev->stage);
    if (check_time(ev->event_time, NULL, 0, "event_time", err) ||
        check_time(ev->purchase, NULL, 0, "purchase_time", err) ||
        check_time(ev->estimated, NULL, 0, "estimated_delivery", err) ||
        check_place(&ev->customer, NULL, 0, "customer", err))
        return -1;
    if (ev->n_items < 0 || ev->n_items > SF_CODEC_MAX_ITEMS)
        return sf_errf(err, "items: %d entries (0..%d allowed)", ev->n_items, SF_CODEC_MAX_ITEMS);
    if (ev->n_payments < 0 || ev->n_payments > SF_CODEC_MAX_ITEMS)
        return sf_errf(err, "payments: %d entries (0..%d allowed)", ev->n_payments,
                       SF_CODEC_MAX_ITEMS);
    if ((ev->n_items && !ev->items) || (ev->n_payments && !ev->payments))
        return sf_errf(err, "items or payments: NULL array with a non-zero count");
    for (int i = 0; i < ev->n_items; i++) {
        const sf_item *it = &ev->items[i];
        if (check_hex(it->product_id, sizeof it->product_id, SF_ID_LEN, "items", i, "product_id",
                      err) ||
            check_hex(it->seller_id, sizeof it->seller_id, SF_ID_LEN, "items", i, "seller_id",
                      err) ||
            check_time(it->shipping_limit, "items", i, "shipping_limit", err) ||
            check_text(it->category, sizeof it->category, "items", i, "category", err) ||
            check_place(&it->seller, "items", i, "seller", err))
            return -1;
    }
    for (int i = 0; i < ev->n_payments; i++)
        if ((unsigned)ev->payments[i].type >= SF_PAY_COUNT)
            return sf_errf(err, "payments[%d].type: invalid value %d", i,
                           (int)ev->payments[i].type);
    return 0;
}

int sf_check_review(const sf_review_event *ev, sf_err *err)
{
    if (check_hex(ev->review_id, sizeof ev->review_id, SF_ID_LEN, NULL, 0, "review_id", err) ||
        check_hex(ev->order_id, sizeof ev->order_id, SF_ID_LEN, NULL, 0, "order_id", err))
        return -1;
    if (ev->score < 1 || ev->score > 5)
        return sf_errf(err, "score: %d out of range 1..5", ev->score);
    if (ev->title && check_long_text(ev->title, SF_CODEC_MAX_STRING, "title", err))
        return -1;
    if (ev->message && check_long_text(ev->message, SF_CODEC_MAX_STRING, "message", err))
        return -1;
    return check_time(ev->created, NULL, 0, "created", err);
}

int sf_check_prediction(const sf_prediction *p, sf_err *err)
{
    if (check_hex(p->order_id, sizeof p->order_id, SF_ID_LEN, NULL, 0, "order_id", err) ||
        check_text(p->event_id, sizeof p->event_id, NULL, 0, "event_id", err))
        return -1;
    if ((unsigned)p->stage >= SF_STAGE_COUNT)
        return sf_errf(err, "stage: invalid value %d", (int)p->stage);
    if (!(p->score >= 1.0 && p->score <= 5.0))
        return sf_errf(err, "score: %g out of range 1..5", p->score);
    if (!(p->p_dissatisfied >= 0.0 && p->p_dissatisfied <= 1.0))
        return sf_errf(err, "p_dissatisfied: %g out of range 0..1", p->p_dissatisfied);
    if (p->n_reasons < 0 || p->n_reasons > SF_REASONS)
        return sf_errf(err, "reasons: %d entries (0..%d allowed)", p->n_reasons, SF_REASONS);
    for (int i = 0; i < p->n_reasons; i++)
        if (check_text(p->reasons[i].feature, sizeof p->reasons[i].feature, "reasons", i, "feature",
                       err))
            return -1;
    if (check_time(p->event_time, NULL, 0, "event_time", err) ||
        check_time(p->scored_at, NULL, 0, "scored_at", err))
        return -1;
    return 0;
}

int sf_check_release(const sf_model_release *r, sf_err *err)
{
    if (check_text(r->algorithm, sizeof r->algorithm, NULL, 0, "algorithm", err) ||
        check_hex(r->spec_hash, sizeof r->spec_hash, 16, NULL, 0, "spec_hash", err) ||
        check_hex(r->sha256, sizeof r->sha256, 64, NULL, 0, "sha256", err) ||
        check_time(r->train_from, NULL, 0, "train_from", err) ||
        check_time(r->train_to, NULL, 0, "train_to", err) ||
        check_time(r->released_at, NULL, 0, "released_at", err))
        return -1;
    if (!r->params_json || !r->metrics_json)
        return sf_errf(err, "%s: NULL", r->params_json ? "metrics_json" : "params_json");
    if (check_long_text(r->params_json, SF_CODEC_MAX_JSON, "params_json", err) ||
        check_long_text(r->metrics_json, SF_CODEC_MAX_JSON, "metrics_json", err))
        return -1;
    if (r->payload_len > SF_CODEC_MAX_PAYLOAD)
        return sf_errf(err, "payload: %u bytes exceed the limit of %d", (unsigned)r->payload_len,
                       SF_CODEC_MAX_PAYLOAD);
    if (r->payload_len && !r->payload)
        return sf_errf(err, "payload: NULL with %u bytes", (unsigned)r->payload_len);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Codec set-up: schemas from the embedded catalog, checked against the C side.
 */

static avro_schema_t resolve(avro_schema_t s)
{
    while (s && avro_typeof(s) == AVRO_LINK)
        s = avro_schema_link_target(s);
    return s;
}

static avro_schema_t field_schema(avro_schema_t rec, int i)
{
    return resolve(avro_schema_record_field_get_by_index(rec, i));
}

static int check_fields(avro_schema_t rec, const char *name, const char *const *names, int n,
                        sf_err *err)
{
    if (!rec || avro_typeof(rec) != AVRO_RECORD)
        return sf_errf(err, "schema %s: not a record", name);
    if ((int)avro_schema_record_size(rec) != n)
        return sf_errf(err, "schema %s: %d fields, the codec expects %d", name,
                       (int)avro_schema_record_size(rec), n);
    for (int i = 0; i < n; i++) {
        const char *f = avro_schema_record_field_name(rec, i);
        if (!f || strcmp(f, names[i]) != 0)
            return sf_errf(err, "schema %s: field %d is \"%s\", the codec expects \"%s\"", name, i,
                           f ? f : "?", names[i]);
    }
    return 0;
}

static int check_enum(avro_schema_t e, const char *what, int n, const char *(*sym)(int),
                      sf_err *err)
{
    if (!e || avro_typeof(e) != AVRO_ENUM || avro_schema_enum_number_of_symbols(e) != n)
        return sf_errf(err, "schema field %s: expected an enum of %d symbols", what, n);
    for (int i = 0; i < n; i++)
        if (strcmp(avro_schema_enum_get(e, i), sym(i)) != 0)
            return sf_errf(err, "schema field %s: symbol %d is %s, the codec expects %s", what, i,
                           avro_schema_enum_get(e, i), sym(i));
    return 0;
}

static const char *stage_sym(int i)
{
    return sf_stage_name((sf_stage)i);
}

static const char *pay_sym(int i)
{
    return sf_pay_type_name((sf_pay_type)i);
}

static int check_schemas(sf_codec *c, sf_err *err)
{
    avro_schema_t oe = c->s[SF_SCHEMA_ORDER_EVENT].schema;
    if (check_fields(oe, "OrderEvent", oe_names, OE_N, err) ||
        check_enum(field_schema(oe, OE_STAGE), "OrderEvent.stage", SF_STAGE_COUNT, stage_sym,
                   err) ||
        check_fields(field_schema(oe, OE_CUSTOMER), "Location", loc_names, LOC_N, err))
        return -1;
    avro_schema_t items = field_schema(oe, OE_ITEMS), pays = field_schema(oe, OE_PAYMENTS);
    if (!items || avro_typeof(items) != AVRO_ARRAY || !pays || avro_typeof(pays) != AVRO_ARRAY)
        return sf_errf(err, "schema OrderEvent: items and payments must be arrays");
    avro_schema_t item = resolve(avro_schema_array_items(items));
    avro_schema_t pay = resolve(avro_schema_array_items(pays));
    if (check_fields(item, "Item", it_names, IT_N, err) ||
        check_fields(field_schema(item, IT_SELLER), "Location", loc_names, LOC_N, err) ||
        check_fields(pay, "Payment", pay_names, PAY_N, err) ||
        check_enum(field_schema(pay, PAY_TYPE), "Payment.type", SF_PAY_COUNT, pay_sym, err))
        return -1;
    avro_schema_t rv = c->s[SF_SCHEMA_REVIEW_EVENT].schema;
    if (check_fields(rv, "ReviewEvent", rv_names, RV_N, err))
        return -1;
    avro_schema_t pr = c->s[SF_SCHEMA_PREDICTION].schema;
    if (check_fields(pr, "Prediction", pr_names, PR_N, err) ||
        check_enum(field_schema(pr, PR_STAGE), "Prediction.stage", SF_STAGE_COUNT, stage_sym, err))
        return -1;
    avro_schema_t reasons = field_schema(pr, PR_REASONS);
    if (!reasons || avro_typeof(reasons) != AVRO_ARRAY ||
        check_fields(resolve(avro_schema_array_items(reasons)), "Reason", rs_names, RS_N, err))
        return sf_errf(err, "schema Prediction: reasons must be an array of Reason");
    return check_fields(c->s[SF_SCHEMA_MODEL_RELEASE].schema, "ModelRelease", mr_names, MR_N, err);
}

static int load_catalog(sf_codec *c, sf_err *err)
{
    const struct sf_embedded_file *cat = sf_schema_file("catalog.json");
    if (!cat)
        return sf_errf(err, "schema catalog.json is not embedded in the library");
    cJSON *root = cJSON_ParseWithLength((const char *)cat->data, cat->len);
    if (!root)
        return sf_errf(err, "catalog.json: not valid JSON");
    int rc = -1;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "schemas");
    if (!cJSON_IsArray(list)) {
        sf_errf(err, "catalog.json: no \"schemas\" array");
        goto out;
    }
    cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        cJSON *file = cJSON_GetObjectItemCaseSensitive(e, "file");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(name) || !cJSON_IsString(file)) {
            sf_errf(err, "catalog.json: each schema needs id, name and file");
            goto out;
        }
        int i = id->valueint;
        if (!sf_schema_name(i) || strcmp(sf_schema_name(i), name->valuestring) != 0) {
            sf_errf(err, "catalog.json: %s has id %d, the codec expects %s to be %d",
                    name->valuestring, i, sf_schema_name(i) ? sf_schema_name(i) : "nothing", i);
            goto out;
        }
        if (c->s[i].schema) {
            sf_errf(err, "catalog.json: id %d listed twice", i);
            goto out;
        }
        const struct sf_embedded_file *f = sf_schema_file(file->valuestring);
        if (!f) {
            sf_errf(err, "catalog.json: schema file %s is not embedded", file->valuestring);
            goto out;
        }
        if (avro_schema_from_json_length((const char *)f->data, f->len, &c->s[i].schema)) {
            c->s[i].schema = NULL;
            sf_errf(err, "%s: %s", file->valuestring, avro_strerror());
            goto out;
        }
        if (strcmp(avro_schema_name(c->s[i].schema), name->valuestring) != 0) {
            sf_errf(err, "%s: record is named %s, the catalog says %s", file->valuestring,
                    avro_schema_name(c->s[i].schema), name->valuestring);
            goto out;
        }
    }
    for (int i = 1; i < NSCHEMAS; i++)
        if (!c->s[i].schema) {
            sf_errf(err, "catalog.json: schema %s (id %d) missing", sf_schema_name(i), i);
            goto out;
        }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

sf_codec *sf_codec_new(sf_err *err)
{
    sf_codec *c = calloc(1, sizeof *c);
    if (!c) {
        sf_errf(err, "out of memory");
        return NULL;
    }
    if (load_catalog(c, err) || check_schemas(c, err))
        goto fail;
    for (int i = 1; i < NSCHEMAS; i++) {
        c->s[i].iface = avro_generic_class_from_schema(c->s[i].schema);
        if (!c->s[i].iface || avro_generic_value_new(c->s[i].iface, &c->s[i].value)) {
            sf_errf(err, "schema %s: %s", sf_schema_name(i), avro_strerror());
            goto fail;
        }
        c->s[i].has_value = 1;
    }
    c->writer = avro_writer_memory(&c->dummy, 0);
    c->reader = avro_reader_memory(&c->dummy, 0);
    if (!c->writer || !c->reader) {
        sf_errf(err, "avro memory reader/writer: %s", avro_strerror());
        goto fail;
    }
    return c;
fail:
    sf_codec_free(c);
    return NULL;
}

void sf_codec_free(sf_codec *c)
{
    if (!c)
        return;
    for (int i = 1; i < NSCHEMAS; i++) {
        if (c->s[i].has_value)
            avro_value_decref(&c->s[i].value);
        if (c->s[i].iface)
            avro_value_iface_decref(c->s[i].iface);
        if (c->s[i].schema)
            avro_schema_decref(c->s[i].schema);
    }
    if (c->writer)
        avro_writer_free(c->writer);
    if (c->reader)
        avro_reader_free(c->reader);
    free(c);
}

/* ---------------------------------------------------------------------------
 * Framing.
 */

int sf_wire_peek(const void *buf, size_t len, int *schema_id, sf_err *err)
{
    const uint8_t *b = buf;
    if (!b || len < SF_WIRE_HEADER)
        return sf_errf(err,
                       "message too short: %zu bytes (a framed message has at least %d: magic "
                       "byte and schema id)",
                       b ? len : 0, SF_WIRE_HEADER);
    if (b[0] != 0)
        return sf_errf(err, "wrong magic byte 0x%02x (expected 0x00, Confluent wire format)", b[0]);
    uint32_t id = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
    if (id == 0 || id >= NSCHEMAS)
        return sf_errf(err,
                       "unknown schema id %u (known: 1 OrderEvent, 2 ReviewEvent, 3 Prediction, "
                       "4 ModelRelease)",
                       id);
    *schema_id = (int)id;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Encoding.
 */

static avro_value_t field(avro_value_t *rec, int i)
{
    avro_value_t f = {NULL, NULL};
    avro_value_get_by_index(rec, i, &f, NULL);
    return f;
}

static int set_str(avro_value_t *rec, int i, const char *s)
{
    avro_value_t f = field(rec, i);
    return avro_value_set_string_len(&f, s, strlen(s) + 1);
}

static int set_long(avro_value_t *rec, int i, int64_t v)
{
    avro_value_t f = field(rec, i);
    return avro_value_set_long(&f, v);
}

static int set_int(avro_value_t *rec, int i, int v)
{
    avro_value_t f = field(rec, i);
    return avro_value_set_int(&f, v);
}

static int set_double(avro_value_t *rec, int i, double v)
{
    avro_value_t f = field(rec, i);
    return avro_value_set_double(&f, v);
}

static int set_enum(avro_value_t *rec, int i, int v)
{
    avro_value_t f = field(rec, i);
    return avro_value_set_enum(&f, v);
}

/* ["null", long]: SF_TIME_NONE is null. */
static int set_opt_time(avro_value_t *rec, int i, int64_t t)
{
    avro_value_t u = field(rec, i), b;
    if (t == SF_TIME_NONE)
        return avro_value_set_branch(&u, 0, &b) || avro_value_set_null(&b);
    return avro_value_set_branch(&u, 1, &b) || avro_value_set_long(&b, t);
}

/* ["null", double]: NaN is null. */
static int set_opt_double(avro_value_t *rec, int i, double d)
{
    avro_value_t u = field(rec, i), b;
    if (isnan(d))
        return avro_value_set_branch(&u, 0, &b) || avro_value_set_null(&b);
    return avro_value_set_branch(&u, 1, &b) || avro_value_set_double(&b, d);
}

/* ["null", string]: NULL is null. */
static int set_opt_str(avro_value_t *rec, int i, const char *s)
{
    avro_value_t u = field(rec, i), b;
    if (!s)
        return avro_value_set_branch(&u, 0, &b) || avro_value_set_null(&b);
    return avro_value_set_branch(&u, 1, &b) || avro_value_set_string_len(&b, s, strlen(s) + 1);
}

static int set_place(avro_value_t *rec, int i, const sf_place *p)
{
    avro_value_t l = field(rec, i);
    return set_str(&l, LOC_ZIP, p->zip) || set_str(&l, LOC_CITY, p->city) ||
           set_str(&l, LOC_STATE, p->state) || set_opt_double(&l, LOC_LAT, p->lat) ||
           set_opt_double(&l, LOC_LNG, p->lng);
}

/* Writes the value framed with id into b, growing b when the body needs it. */
static int write_framed(sf_codec *c, int id, avro_value_t *v, sf_buf *b, sf_err *err)
{
    if (sf_buf_reserve(b, 4096, err))
        return -1;
    for (int attempt = 0;; attempt++) {
        avro_writer_memory_set_dest(c->writer, (const char *)b->data + SF_WIRE_HEADER,
                                    (int64_t)(b->cap - SF_WIRE_HEADER));
        if (avro_value_write(c->writer, v) == 0)
            break;
        size_t need;
        if (attempt > 0 || avro_value_sizeof(v, &need))
            return sf_errf(err, "encode %s: %s", sf_schema_name(id), avro_strerror());
        if (sf_buf_reserve(b, need + SF_WIRE_HEADER, err))
            return -1;
    }
    b->data[0] = 0;
    b->data[1] = (uint8_t)(id >> 24);
    b->data[2] = (uint8_t)(id >> 16);
    b->data[3] = (uint8_t)(id >> 8);
    b->data[4] = (uint8_t)id;
    b->len = SF_WIRE_HEADER + (size_t)avro_writer_tell(c->writer);
    return 0;
}

static int fill_failed(int id, sf_err *err)
{
    return sf_errf(err, "encode %s: %s", sf_schema_name(id), avro_strerror());
}

int sf_encode_order(sf_codec *c, const sf_order_event *ev, sf_buf *b, sf_err *err)
{
    if (sf_check_order(ev, err))
        return sf_err_wrap(err, "encode OrderEvent %.32s", ev->order_id);
    avro_value_t *v = &c->s[SF_SCHEMA_ORDER_EVENT].value;
    avro_value_reset(v);
    if (set_str(v, OE_ORDER_ID, ev->order_id) || set_str(v, OE_CUSTOMER_ID, ev->customer_id) ||
        set_str(v, OE_CUSTOMER_UNIQUE_ID, ev->customer_unique_id) ||
        set_enum(v, OE_STAGE, ev->stage) || set_long(v, OE_EVENT_TIME, ev->event_time) ||
        set_long(v, OE_PURCHASE, ev->purchase) || set_long(v, OE_ESTIMATED, ev->estimated) ||
        set_opt_time(v, OE_APPROVED, ev->approved) || set_opt_time(v, OE_CARRIER, ev->carrier) ||
        set_opt_time(v, OE_DELIVERED, ev->delivered) || set_place(v, OE_CUSTOMER, &ev->customer))
        return fill_failed(SF_SCHEMA_ORDER_EVENT, err);
    avro_value_t items = field(v, OE_ITEMS), pays = field(v, OE_PAYMENTS), e;
    for (int i = 0; i < ev->n_items; i++) {
        const sf_item *it = &ev->items[i];
        if (avro_value_append(&items, &e, NULL) || set_int(&e, IT_SEQ, it->seq) ||
            set_str(&e, IT_PRODUCT, it->product_id) || set_str(&e, IT_SELLER_ID, it->seller_id) ||
            set_double(&e, IT_PRICE, it->price) || set_double(&e, IT_FREIGHT, it->freight) ||
            set_long(&e, IT_SHIPPING_LIMIT, it->shipping_limit) ||
            set_str(&e, IT_CATEGORY, it->category) ||
            set_opt_double(&e, IT_NAME_LEN, it->name_len) ||
            set_opt_double(&e, IT_DESC_LEN, it->desc_len) ||
            set_opt_double(&e, IT_PHOTOS, it->photos) ||
            set_opt_double(&e, IT_WEIGHT, it->weight_g) ||
            set_opt_double(&e, IT_LENGTH, it->length_cm) ||
            set_opt_double(&e, IT_HEIGHT, it->height_cm) ||
            set_opt_double(&e, IT_WIDTH, it->width_cm) || set_place(&e, IT_SELLER, &it->seller))
            return fill_failed(SF_SCHEMA_ORDER_EVENT, err);
    }
    for (int i = 0; i < ev->n_payments; i++) {
        const sf_payment *p = &ev->payments[i];
        if (avro_value_append(&pays, &e, NULL) || set_int(&e, PAY_SEQ, p->seq) ||
            set_enum(&e, PAY_TYPE, p->type) || set_int(&e, PAY_INSTALLMENTS, p->installments) ||
            set_double(&e, PAY_VALUE, p->value))
            return fill_failed(SF_SCHEMA_ORDER_EVENT, err);
    }
    return write_framed(c, SF_SCHEMA_ORDER_EVENT, v, b, err);
}

int sf_encode_review(sf_codec *c, const sf_review_event *ev, sf_buf *b, sf_err *err)
{
    if (sf_check_review(ev, err))
        return sf_err_wrap(err, "encode ReviewEvent %.32s", ev->review_id);
    avro_value_t *v = &c->s[SF_SCHEMA_REVIEW_EVENT].value;
    avro_value_reset(v);
    if (set_str(v, RV_REVIEW_ID, ev->review_id) || set_str(v, RV_ORDER_ID, ev->order_id) ||
        set_int(v, RV_SCORE, ev->score) || set_opt_str(v, RV_TITLE, ev->title) ||
        set_opt_str(v, RV_MESSAGE, ev->message) || set_long(v, RV_CREATED, ev->created) ||
        set_opt_time(v, RV_ANSWERED, ev->answered))
        return fill_failed(SF_SCHEMA_REVIEW_EVENT, err);
    return write_framed(c, SF_SCHEMA_REVIEW_EVENT, v, b, err);
}

int sf_encode_prediction(sf_codec *c, const sf_prediction *p, sf_buf *b, sf_err *err)
{
    if (sf_check_prediction(p, err))
        return sf_err_wrap(err, "encode Prediction %.32s", p->order_id);
    avro_value_t *v = &c->s[SF_SCHEMA_PREDICTION].value;
    avro_value_reset(v);
    if (set_str(v, PR_ORDER_ID, p->order_id) || set_str(v, PR_EVENT_ID, p->event_id) ||
        set_enum(v, PR_STAGE, p->stage) || set_double(v, PR_SCORE, p->score) ||
        set_double(v, PR_P, p->p_dissatisfied) || set_long(v, PR_MODEL_VERSION, p->model_version) ||
        set_long(v, PR_EVENT_TIME, p->event_time) || set_long(v, PR_SCORED_AT, p->scored_at))
        return fill_failed(SF_SCHEMA_PREDICTION, err);
    avro_value_t reasons = field(v, PR_REASONS), e;
    for (int i = 0; i < p->n_reasons; i++) {
        const sf_reason *r = &p->reasons[i];
        if (avro_value_append(&reasons, &e, NULL) || set_str(&e, RS_FEATURE, r->feature) ||
            set_opt_double(&e, RS_VALUE, r->value) ||
            set_double(&e, RS_CONTRIBUTION, r->contribution))
            return fill_failed(SF_SCHEMA_PREDICTION, err);
    }
    return write_framed(c, SF_SCHEMA_PREDICTION, v, b, err);
}

int sf_encode_release(sf_codec *c, const sf_model_release *r, sf_buf *b, sf_err *err)
{
    if (sf_check_release(r, err))
        return sf_err_wrap(err, "encode ModelRelease %lld", (long long)r->version);
    avro_value_t *v = &c->s[SF_SCHEMA_MODEL_RELEASE].value;
    avro_value_reset(v);
    avro_value_t pl = field(v, MR_PAYLOAD);
    static const uint8_t none = 0;
    if (set_long(v, MR_VERSION, r->version) || set_str(v, MR_ALGORITHM, r->algorithm) ||
        set_str(v, MR_SPEC_HASH, r->spec_hash) || set_long(v, MR_TRAIN_FROM, r->train_from) ||
        set_long(v, MR_TRAIN_TO, r->train_to) || set_str(v, MR_PARAMS, r->params_json) ||
        set_str(v, MR_METRICS, r->metrics_json) ||
        avro_value_set_bytes(&pl, (void *)(r->payload ? r->payload : &none), r->payload_len) ||
        set_str(v, MR_SHA256, r->sha256) || set_long(v, MR_RELEASED_AT, r->released_at))
        return fill_failed(SF_SCHEMA_MODEL_RELEASE, err);
    return write_framed(c, SF_SCHEMA_MODEL_RELEASE, v, b, err);
}

/* ---------------------------------------------------------------------------
 * Decoding, step 1: walk the schema over the bytes (no allocation, no trust).
 */

#define WALK_DEPTH 16

struct walk {
    const uint8_t *start, *p, *end;
    struct {
        const char *name;
        int index; /* array position, or -1 */
    } stack[WALK_DEPTH];
    int depth;
    sf_err *err;
};

static void push(struct walk *w, const char *name, int index)
{
    if (w->depth < WALK_DEPTH) {
        w->stack[w->depth].name = name;
        w->stack[w->depth].index = index;
    }
    w->depth++;
}

/* Formats the current field path, e.g. "items[2].seller.city". */
static const char *walk_path(const struct walk *w, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < w->depth && i < WALK_DEPTH && o < cap; i++) {
        int n;
        if (w->stack[i].index >= 0)
            n = snprintf(out + o, cap - o, "[%d]", w->stack[i].index);
        else
            n = snprintf(out + o, cap - o, "%s%s", o ? "." : "", w->stack[i].name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    if (!out[0])
        snprintf(out, cap, "(record)");
    return out;
}

static int walk_fail(struct walk *w, const char *fmt, long long a, long long b)
{
    char p[160], why[160];
    walk_path(w, p, sizeof p);
    snprintf(why, sizeof why, fmt, a, b);
    return sf_errf(w->err, "%s: %s (at byte %ld of the body)", p, why, (long)(w->p - w->start));
}

static int walk_need(struct walk *w, size_t n)
{
    if ((size_t)(w->end - w->p) < n)
        return walk_fail(w, "truncated: needs %lld bytes, %lld left", (long long)n,
                         (long long)(w->end - w->p));
    return 0;
}

/* A zigzag varint of at most 10 bytes. */
static int walk_varint(struct walk *w, int64_t *out)
{
    uint64_t u = 0;
    for (int i = 0;; i++) {
        if (w->p >= w->end)
            return walk_fail(w, "truncated: varint cut after %lld of at most %lld bytes", i, 10);
        uint8_t byte = *w->p++;
        if (i == 9 && byte > 1)
            return walk_fail(w, "malformed varint: overflows 64 bits (byte 0x%02llx)", byte, 0);
        u |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80))
            break;
    }
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

static int walk_value(struct walk *w, avro_schema_t s, const char *name);

static int walk_length(struct walk *w, int64_t max, const char *what, int64_t *len)
{
    if (walk_varint(w, len))
        return -1;
    if (*len < 0)
        return walk_fail(
            w, what[0] == 's' ? "negative string length %lld" : "negative bytes length %lld", *len,
            0);
    if (*len > max)
        return walk_fail(w, "length %lld exceeds the limit of %lld bytes", *len, max);
    return walk_need(w, (size_t)*len);
}

static int walk_array(struct walk *w, avro_schema_t items, int is_map)
{
    int64_t total = 0;
    for (;;) {
        int64_t count, size;
        if (walk_varint(w, &count))
            return -1;
        if (count == 0)
            return 0;
        int sized = count < 0;
        if (count == INT64_MIN)
            return walk_fail(w, "invalid block count %lld", count, 0);
        if (sized)
            count = -count;
        if (count > SF_CODEC_MAX_ITEMS - total)
            return walk_fail(w, "%lld entries exceed the limit of %lld", total + count,
                             SF_CODEC_MAX_ITEMS);
        if (sized) { /* a negative count is followed by the block's size in bytes */
            if (walk_varint(w, &size))
                return -1;
            if (size < 0 || size > w->end - w->p)
                return walk_fail(w, "invalid block size %lld (%lld bytes left)", size,
                                 (long long)(w->end - w->p));
        }
        for (int64_t i = 0; i < count; i++) {
            push(w, NULL, (int)(total + i));
            if (is_map) {
                int64_t len;
                if (walk_length(w, SF_CODEC_MAX_STRING, "string", &len))
                    return -1;
                w->p += len;
            }
            if (walk_value(w, items, NULL))
                return -1;
            w->depth--;
        }
        total += count;
    }
}

static int walk_value(struct walk *w, avro_schema_t s, const char *name)
{
    int64_t v, len;
    s = resolve(s);
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return 0;
    case AVRO_BOOLEAN:
        if (walk_need(w, 1))
            return -1;
        if (*w->p > 1)
            return walk_fail(w, "invalid boolean byte %lld", *w->p, 0);
        w->p++;
        return 0;
    case AVRO_INT32:
        if (walk_varint(w, &v))
            return -1;
        if (v < INT32_MIN || v > INT32_MAX)
            return walk_fail(w, "int value %lld out of 32-bit range", v, 0);
        return 0;
    case AVRO_INT64:
        return walk_varint(w, &v);
    case AVRO_FLOAT:
        if (walk_need(w, 4))
            return -1;
        w->p += 4;
        return 0;
    case AVRO_DOUBLE:
        if (walk_need(w, 8))
            return -1;
        w->p += 8;
        return 0;
    case AVRO_STRING: {
        size_t n = name ? strlen(name) : 0;
        int64_t max =
            n > 5 && strcmp(name + n - 5, "_json") == 0 ? SF_CODEC_MAX_JSON : SF_CODEC_MAX_STRING;
        if (walk_length(w, max, "string", &len))
            return -1;
        w->p += len;
        return 0;
    }
    case AVRO_BYTES:
        if (walk_length(w, SF_CODEC_MAX_PAYLOAD, "bytes", &len))
            return -1;
        w->p += len;
        return 0;
    case AVRO_FIXED:
        if (walk_need(w, (size_t)avro_schema_fixed_size(s)))
            return -1;
        w->p += avro_schema_fixed_size(s);
        return 0;
    case AVRO_ENUM:
        if (walk_varint(w, &v))
            return -1;
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(s))
            return walk_fail(w, "invalid enum index %lld (%lld symbols)", v,
                             avro_schema_enum_number_of_symbols(s));
        return 0;
    case AVRO_UNION:
        if (walk_varint(w, &v))
            return -1;
        if (v < 0 || v >= (int64_t)avro_schema_union_size(s))
            return walk_fail(w, "invalid union branch %lld (%lld branches)", v,
                             (long long)avro_schema_union_size(s));
        return walk_value(w, avro_schema_union_branch(s, (int)v), name);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++) {
            const char *f = avro_schema_record_field_name(s, (int)i);
            push(w, f, -1);
            if (walk_value(w, avro_schema_record_field_get_by_index(s, (int)i), f))
                return -1;
            w->depth--;
        }
        return 0;
    case AVRO_ARRAY:
        return walk_array(w, avro_schema_array_items(s), 0);
    case AVRO_MAP:
        return walk_array(w, avro_schema_map_values(s), 1);
    default:
        return walk_fail(w, "unsupported schema type %lld", avro_typeof(s), 0);
    }
}

/* Framing, expected id, the walk and the Avro-C read: on success *out is the
 * codec's value for the schema, holding the message. */
static int decode_begin(sf_codec *c, const void *buf, size_t len, int want, avro_value_t **out,
                        sf_err *err)
{
    int id = 0;
    if (sf_wire_peek(buf, len, &id, err))
        return sf_err_wrap(err, "decode %s", sf_schema_name(want));
    if (id != want)
        return sf_errf(err, "decode %s: message has schema id %d (%s), expected %d",
                       sf_schema_name(want), id, sf_schema_name(id), want);
    struct walk w = {.start = (const uint8_t *)buf + SF_WIRE_HEADER,
                     .end = (const uint8_t *)buf + len,
                     .err = err};
    w.p = w.start;
    if (walk_value(&w, c->s[want].schema, NULL))
        return sf_err_wrap(err, "decode %s", sf_schema_name(want));
    if (w.p != w.end)
        return sf_errf(err, "decode %s: %zu trailing bytes after the record", sf_schema_name(want),
                       (size_t)(w.end - w.p));
    avro_value_t *v = &c->s[want].value;
    avro_value_reset(v);
    size_t body = len - SF_WIRE_HEADER;
    avro_reader_memory_set_source(c->reader, body ? (const char *)w.start : &c->dummy,
                                  (int64_t)body);
    if (avro_value_read(c->reader, v))
        return sf_errf(err, "decode %s: avro: %s", sf_schema_name(want), avro_strerror());
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Decoding, step 2: values into the C types.
 */

/* A string field into a fixed buffer of cap bytes. */
static int get_text(avro_value_t *rec, int i, char *dst, size_t cap, const char *arr, int ai,
                    const char *name, sf_err *err)
{
    avro_value_t f = field(rec, i);
    const char *s = NULL;
    size_t size = 0;
    avro_value_get_string(&f, &s, &size);
    size_t len = size ? size - 1 : 0;
    char p[96], ex[48];
    if (len >= cap)
        return sf_errf(err, "%s: \"%s\" is %zu bytes, at most %zu fit",
                       path(p, sizeof p, arr, ai, name), excerpt(ex, sizeof ex, s, len), len,
                       cap - 1);
    if (len && memchr(s, 0, len))
        return sf_errf(err, "%s: contains a NUL byte", path(p, sizeof p, arr, ai, name));
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

static int64_t get_long(avro_value_t *rec, int i)
{
    avro_value_t f = field(rec, i);
    int64_t v = 0;
    avro_value_get_long(&f, &v);
    return v;
}

static int get_int(avro_value_t *rec, int i)
{
    avro_value_t f = field(rec, i);
    int32_t v = 0;
    avro_value_get_int(&f, &v);
    return v;
}

static double get_double(avro_value_t *rec, int i)
{
    avro_value_t f = field(rec, i);
    double v = 0;
    avro_value_get_double(&f, &v);
    return v;
}

static int get_enum(avro_value_t *rec, int i)
{
    avro_value_t f = field(rec, i);
    int v = 0;
    avro_value_get_enum(&f, &v);
    return v;
}

/* The branch of a ["null", T] union, or 0 when null. */
static int get_branch(avro_value_t *rec, int i, avro_value_t *b)
{
    avro_value_t u = field(rec, i);
    int d = 0;
    avro_value_get_discriminant(&u, &d);
    if (d == 0)
        return 0;
    avro_value_get_current_branch(&u, b);
    return 1;
}

static int get_opt_time(avro_value_t *rec, int i, int64_t *t, const char *name, sf_err *err)
{
    avro_value_t b;
    *t = SF_TIME_NONE;
    if (!get_branch(rec, i, &b))
        return 0;
    avro_value_get_long(&b, t);
    if (*t == SF_TIME_NONE)
        return sf_errf(err, "%s: value %lld is reserved for 'unknown' (send null)", name,
                       (long long)*t);
    return 0;
}

static double get_opt_double(avro_value_t *rec, int i)
{
    avro_value_t b;
    double d = NAN;
    if (get_branch(rec, i, &b))
        avro_value_get_double(&b, &d);
    return d;
}

static int get_place(avro_value_t *rec, int i, sf_place *pl, const char *arr, int ai,
                     const char *what, sf_err *err)
{
    avro_value_t l = field(rec, i);
    char f[3][64];
    snprintf(f[0], sizeof f[0], "%s.zip", what);
    snprintf(f[1], sizeof f[1], "%s.city", what);
    snprintf(f[2], sizeof f[2], "%s.state", what);
    if (get_text(&l, LOC_ZIP, pl->zip, sizeof pl->zip, arr, ai, f[0], err) ||
        get_text(&l, LOC_CITY, pl->city, sizeof pl->city, arr, ai, f[1], err) ||
        get_text(&l, LOC_STATE, pl->state, sizeof pl->state, arr, ai, f[2], err))
        return -1;
    pl->lat = get_opt_double(&l, LOC_LAT);
    pl->lng = get_opt_double(&l, LOC_LNG);
    return 0;
}

static int decode_failed(const char *schema, const char *id, sf_err *err)
{
    if (id && *id)
        return sf_err_wrap(err, "decode %s %.32s", schema, id);
    return sf_err_wrap(err, "decode %s", schema);
}

int sf_decode_order(sf_codec *c, const void *buf, size_t len, sf_order_event *ev, sf_err *err)
{
    memset(ev, 0, sizeof *ev);
    avro_value_t *v;
    if (decode_begin(c, buf, len, SF_SCHEMA_ORDER_EVENT, &v, err))
        return -1;
    avro_value_t items = field(v, OE_ITEMS), pays = field(v, OE_PAYMENTS), e;
    size_t ni = 0, np = 0;
    avro_value_get_size(&items, &ni);
    avro_value_get_size(&pays, &np);
    /* One block: items, then payments (sf_item's size keeps them aligned). */
    size_t size = ni * sizeof(sf_item) + np * sizeof(sf_payment);
    char *block = calloc(1, size ? size : 1);
    if (!block)
        return sf_errf(err, "decode OrderEvent: out of memory");
    sf_item *it = (sf_item *)(void *)block;
    sf_payment *pay = (sf_payment *)(void *)(block + ni * sizeof(sf_item));
    ev->alloc = block;
    ev->items = it;
    ev->n_items = (int)ni;
    ev->payments = pay;
    ev->n_payments = (int)np;
    if (get_text(v, OE_ORDER_ID, ev->order_id, sizeof ev->order_id, NULL, 0, "order_id", err) ||
        get_text(v, OE_CUSTOMER_ID, ev->customer_id, sizeof ev->customer_id, NULL, 0, "customer_id",
                 err) ||
        get_text(v, OE_CUSTOMER_UNIQUE_ID, ev->customer_unique_id, sizeof ev->customer_unique_id,
                 NULL, 0, "customer_unique_id", err))
        goto fail;
    ev->stage = (sf_stage)get_enum(v, OE_STAGE);
    ev->event_time = get_long(v, OE_EVENT_TIME);
    ev->purchase = get_long(v, OE_PURCHASE);
    ev->estimated = get_long(v, OE_ESTIMATED);
    if (get_opt_time(v, OE_APPROVED, &ev->approved, "approved_time", err) ||
        get_opt_time(v, OE_CARRIER, &ev->carrier, "carrier_time", err) ||
        get_opt_time(v, OE_DELIVERED, &ev->delivered, "delivered_time", err) ||
        get_place(v, OE_CUSTOMER, &ev->customer, NULL, 0, "customer", err))
        goto fail;
    for (size_t i = 0; i < ni; i++, it++) {
        avro_value_get_by_index(&items, i, &e, NULL);
        int ai = (int)i;
        it->seq = get_int(&e, IT_SEQ);
        if (get_text(&e, IT_PRODUCT, it->product_id, sizeof it->product_id, "items", ai,
                     "product_id", err) ||
            get_text(&e, IT_SELLER_ID, it->seller_id, sizeof it->seller_id, "items", ai,
                     "seller_id", err) ||
            get_text(&e, IT_CATEGORY, it->category, sizeof it->category, "items", ai, "category",
                     err) ||
            get_place(&e, IT_SELLER, &it->seller, "items", ai, "seller", err))
            goto fail;
        it->price = get_double(&e, IT_PRICE);
        it->freight = get_double(&e, IT_FREIGHT);
        it->shipping_limit = get_long(&e, IT_SHIPPING_LIMIT);
        it->name_len = get_opt_double(&e, IT_NAME_LEN);
        it->desc_len = get_opt_double(&e, IT_DESC_LEN);
        it->photos = get_opt_double(&e, IT_PHOTOS);
        it->weight_g = get_opt_double(&e, IT_WEIGHT);
        it->length_cm = get_opt_double(&e, IT_LENGTH);
        it->height_cm = get_opt_double(&e, IT_HEIGHT);
        it->width_cm = get_opt_double(&e, IT_WIDTH);
    }
    for (size_t i = 0; i < np; i++, pay++) {
        avro_value_get_by_index(&pays, i, &e, NULL);
        pay->seq = get_int(&e, PAY_SEQ);
        pay->type = (sf_pay_type)get_enum(&e, PAY_TYPE);
        pay->installments = get_int(&e, PAY_INSTALLMENTS);
        pay->value = get_double(&e, PAY_VALUE);
    }
    if (sf_check_order(ev, err))
        goto fail;
    return 0;
fail:
    decode_failed("OrderEvent", ev->order_id, err);
    sf_order_event_clear(ev);
    return -1;
}

/* A ["null", string] field copied into *dst at block + *off (NULL when null). */
static void copy_opt_str(avro_value_t *rec, int i, char *block, size_t *off, const char **dst)
{
    avro_value_t b;
    const char *s = NULL;
    size_t size = 0;
    *dst = NULL;
    if (!get_branch(rec, i, &b))
        return;
    avro_value_get_string(&b, &s, &size);
    size_t len = size ? size - 1 : 0;
    memcpy(block + *off, s, len);
    block[*off + len] = '\0';
    *dst = block + *off;
    *off += len + 1;
}

static size_t opt_str_size(avro_value_t *rec, int i)
{
    avro_value_t b;
    const char *s;
    size_t size = 0;
    if (!get_branch(rec, i, &b))
        return 0;
    avro_value_get_string(&b, &s, &size);
    return size ? size : 1;
}

static int opt_str_nul(avro_value_t *rec, int i, const char *name, sf_err *err)
{
    avro_value_t b;
    const char *s = NULL;
    size_t size = 0;
    if (get_branch(rec, i, &b)) {
        avro_value_get_string(&b, &s, &size);
        if (size > 1 && memchr(s, 0, size - 1))
            return sf_errf(err, "%s: contains a NUL byte", name);
    }
    return 0;
}

int sf_decode_review(sf_codec *c, const void *buf, size_t len, sf_review_event *ev, sf_err *err)
{
    memset(ev, 0, sizeof *ev);
    avro_value_t *v;
    if (decode_begin(c, buf, len, SF_SCHEMA_REVIEW_EVENT, &v, err))
        return -1;
    size_t size = opt_str_size(v, RV_TITLE) + opt_str_size(v, RV_MESSAGE);
    char *block = malloc(size ? size : 1);
    if (!block)
        return sf_errf(err, "decode ReviewEvent: out of memory");
    ev->alloc = block;
    if (get_text(v, RV_REVIEW_ID, ev->review_id, sizeof ev->review_id, NULL, 0, "review_id", err) ||
        get_text(v, RV_ORDER_ID, ev->order_id, sizeof ev->order_id, NULL, 0, "order_id", err) ||
        opt_str_nul(v, RV_TITLE, "title", err) || opt_str_nul(v, RV_MESSAGE, "message", err))
        goto fail;
    size_t off = 0;
    copy_opt_str(v, RV_TITLE, block, &off, &ev->title);
    copy_opt_str(v, RV_MESSAGE, block, &off, &ev->message);
    ev->score = get_int(v, RV_SCORE);
    ev->created = get_long(v, RV_CREATED);
    if (get_opt_time(v, RV_ANSWERED, &ev->answered, "answered", err) || sf_check_review(ev, err))
        goto fail;
    return 0;
fail:
    decode_failed("ReviewEvent", ev->review_id, err);
    sf_review_event_clear(ev);
    return -1;
}

int sf_decode_prediction(sf_codec *c, const void *buf, size_t len, sf_prediction *p, sf_err *err)
{
    memset(p, 0, sizeof *p);
    avro_value_t *v;
    if (decode_begin(c, buf, len, SF_SCHEMA_PREDICTION, &v, err))
        return -1;
    avro_value_t reasons = field(v, PR_REASONS), e;
    size_t n = 0;
    avro_value_get_size(&reasons, &n);
    if (get_text(v, PR_ORDER_ID, p->order_id, sizeof p->order_id, NULL, 0, "order_id", err) ||
        get_text(v, PR_EVENT_ID, p->event_id, sizeof p->event_id, NULL, 0, "event_id", err))
        goto fail;
    if (n > SF_REASONS) {
        sf_errf(err, "reasons: %zu entries, at most %d", n, SF_REASONS);
        goto fail;
    }
    p->n_reasons = (int)n;
    for (size_t i = 0; i < n; i++) {
        sf_reason *r = &p->reasons[i];
        avro_value_get_by_index(&reasons, i, &e, NULL);
        if (get_text(&e, RS_FEATURE, r->feature, sizeof r->feature, "reasons", (int)i, "feature",
                     err))
            goto fail;
        r->value = get_opt_double(&e, RS_VALUE);
        r->contribution = get_double(&e, RS_CONTRIBUTION);
    }
    p->stage = (sf_stage)get_enum(v, PR_STAGE);
    p->score = get_double(v, PR_SCORE);
    p->p_dissatisfied = get_double(v, PR_P);
    p->model_version = get_long(v, PR_MODEL_VERSION);
    p->event_time = get_long(v, PR_EVENT_TIME);
    p->scored_at = get_long(v, PR_SCORED_AT);
    if (sf_check_prediction(p, err))
        goto fail;
    return 0;
fail:
    decode_failed("Prediction", p->order_id, err);
    memset(p, 0, sizeof *p);
    return -1;
}

static const char *get_str_raw(avro_value_t *rec, int i, size_t *len)
{
    avro_value_t f = field(rec, i);
    const char *s = NULL;
    size_t size = 0;
    avro_value_get_string(&f, &s, &size);
    *len = size ? size - 1 : 0;
    return s ? s : "";
}

int sf_decode_release(sf_codec *c, const void *buf, size_t len, sf_model_release *r, sf_err *err)
{
    memset(r, 0, sizeof *r);
    avro_value_t *v;
    if (decode_begin(c, buf, len, SF_SCHEMA_MODEL_RELEASE, &v, err))
        return -1;
    size_t plen, mlen, blen = 0;
    const char *params = get_str_raw(v, MR_PARAMS, &plen);
    const char *metrics = get_str_raw(v, MR_METRICS, &mlen);
    avro_value_t pf = field(v, MR_PAYLOAD);
    const void *bytes = NULL;
    avro_value_get_bytes(&pf, &bytes, &blen);
    r->version = get_long(v, MR_VERSION);
    if (memchr(params, 0, plen) || memchr(metrics, 0, mlen)) {
        sf_errf(err, "%s: contains a NUL byte",
                memchr(params, 0, plen) ? "params_json" : "metrics_json");
        goto fail;
    }
    /* One block: payload first (any alignment), then the two strings. */
    char *block = malloc(blen + plen + mlen + 2);
    if (!block) {
        sf_errf(err, "out of memory");
        goto fail;
    }
    r->alloc = block;
    if (blen)
        memcpy(block, bytes, blen);
    r->payload = (const uint8_t *)block;
    r->payload_len = (uint32_t)blen;
    memcpy(block + blen, params, plen);
    block[blen + plen] = '\0';
    r->params_json = block + blen;
    memcpy(block + blen + plen + 1, metrics, mlen);
    block[blen + plen + 1 + mlen] = '\0';
    r->metrics_json = block + blen + plen + 1;
    if (get_text(v, MR_ALGORITHM, r->algorithm, sizeof r->algorithm, NULL, 0, "algorithm", err) ||
        get_text(v, MR_SPEC_HASH, r->spec_hash, sizeof r->spec_hash, NULL, 0, "spec_hash", err) ||
        get_text(v, MR_SHA256, r->sha256, sizeof r->sha256, NULL, 0, "sha256", err))
        goto fail;
    r->train_from = get_long(v, MR_TRAIN_FROM);
    r->train_to = get_long(v, MR_TRAIN_TO);
    r->released_at = get_long(v, MR_RELEASED_AT);
    if (sf_check_release(r, err))
        goto fail;
    return 0;
fail:
    sf_err_wrap(err, "decode ModelRelease %lld", (long long)r->version);
    sf_model_release_clear(r);
    return -1;
}
