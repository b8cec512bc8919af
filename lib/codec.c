/*
 * codec.c - satisfy events to and from Kafka message bytes (see
 * include/satisfy/codec.h).
 *
 * A message is the Confluent framing (magic 0, big-endian schema id) and the
 * Avro binary body of one record of the schemas embedded in the library
 * (schemas/catalog.json and the .avsc files).
 *
 * Avro-C parses those schemas once, in sf_codec_new, and the codec checks
 * there that every record has exactly the fields, types, union shapes
 * (["null", T], null first) and enum symbols the C structs are mapped to
 * (struct fdesc tables below). After that the hot paths do not go through
 * Avro-C's generic values: going through them cost a set call per field, a
 * malloc per string and array element and a second walk over the bytes, which
 * made the codec the bottleneck of the producer and the scorer. Instead:
 *
 * - The encoders write Avro binary straight from the C structs into the
 *   caller's sf_buf (reused, so no allocation in steady state): zigzag
 *   varints for int, long and enum, a varint branch index before a union's
 *   value (null for SF_TIME_NONE, NaN and NULL), length-prefixed strings and
 *   bytes, doubles as 8 little-endian bytes, and each non-empty array as one
 *   block (count, items) followed by the 0 terminator - exactly the bytes
 *   Avro-C's generic writer produces. tests/unit/test_codec_avroc.c proves it
 *   byte for byte against avro_value_write over randomized events of every
 *   schema, and proves both readers agree on both writers' bytes.
 * - The decoders walk the bytes once, straight into the struct, with the
 *   defensive checks of the former validating pre-pass at every step (varints
 *   well formed, lengths non-negative, bounded and within the message, enum
 *   and union indexes in range, array sizes bounded, no trailing bytes), each
 *   with the same message and field path. Avro-C trusted lengths and would
 *   allocate before noticing a short buffer; here nothing is allocated until
 *   the count it is for has been checked. A decoded event owns one block
 *   (items and payments; review text; release payload and JSON).
 * - Errors about values against the C types (a string too long for its
 *   buffer, a NUL byte, a reserved time) are kept aside while the walk
 *   finishes, so that a structural error anywhere still wins as it did when
 *   the walk came first; then the same sf_check_* run as for encoding.
 * - The checks are cheap on the success path: no snprintf, a table lookup
 *   per hex digit, an ASCII fast path for UTF-8; field paths and excerpts
 *   are formatted only when something is wrong.
 */
#include "satisfy/codec.h"

#include <avro.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/embed.h"

#define NSCHEMAS 5 /* indexed by schema id, 1..4 */

/* The fields of each record, in schema order, as the encoders write them and
 * the decoders read them; opt marks a ["null", type] union. Checked against
 * the parsed schemas in sf_codec_new. */
struct fdesc {
    const char *name;
    avro_type_t type;
    int opt;
};

#define FIELDS(t) (t), (int)(sizeof(t) / sizeof((t)[0]))

static const struct fdesc oe_f[] = {
    {"order_id", AVRO_STRING, 0},
    {"customer_id", AVRO_STRING, 0},
    {"customer_unique_id", AVRO_STRING, 0},
    {"stage", AVRO_ENUM, 0},
    {"event_time", AVRO_INT64, 0},
    {"purchase_time", AVRO_INT64, 0},
    {"estimated_delivery", AVRO_INT64, 0},
    {"approved_time", AVRO_INT64, 1},
    {"carrier_time", AVRO_INT64, 1},
    {"delivered_time", AVRO_INT64, 1},
    {"customer", AVRO_RECORD, 0},
    {"items", AVRO_ARRAY, 0},
    {"payments", AVRO_ARRAY, 0},
};
static const struct fdesc loc_f[] = {
    {"zip", AVRO_STRING, 0}, {"city", AVRO_STRING, 0}, {"state", AVRO_STRING, 0},
    {"lat", AVRO_DOUBLE, 1}, {"lng", AVRO_DOUBLE, 1},
};
static const struct fdesc it_f[] = {
    {"seq", AVRO_INT32, 0},        {"product_id", AVRO_STRING, 0},
    {"seller_id", AVRO_STRING, 0}, {"price", AVRO_DOUBLE, 0},
    {"freight", AVRO_DOUBLE, 0},   {"shipping_limit", AVRO_INT64, 0},
    {"category", AVRO_STRING, 0},  {"name_len", AVRO_DOUBLE, 1},
    {"desc_len", AVRO_DOUBLE, 1},  {"photos", AVRO_DOUBLE, 1},
    {"weight_g", AVRO_DOUBLE, 1},  {"length_cm", AVRO_DOUBLE, 1},
    {"height_cm", AVRO_DOUBLE, 1}, {"width_cm", AVRO_DOUBLE, 1},
    {"seller", AVRO_RECORD, 0},
};
static const struct fdesc pay_f[] = {
    {"seq", AVRO_INT32, 0},
    {"type", AVRO_ENUM, 0},
    {"installments", AVRO_INT32, 0},
    {"value", AVRO_DOUBLE, 0},
};
static const struct fdesc rv_f[] = {
    {"review_id", AVRO_STRING, 0}, {"order_id", AVRO_STRING, 0}, {"score", AVRO_INT32, 0},
    {"title", AVRO_STRING, 1},     {"message", AVRO_STRING, 1},  {"created", AVRO_INT64, 0},
    {"answered", AVRO_INT64, 1},
};
static const struct fdesc pr_f[] = {
    {"order_id", AVRO_STRING, 0},
    {"event_id", AVRO_STRING, 0},
    {"stage", AVRO_ENUM, 0},
    {"score", AVRO_DOUBLE, 0},
    {"p_dissatisfied", AVRO_DOUBLE, 0},
    {"reasons", AVRO_ARRAY, 0},
    {"model_version", AVRO_INT64, 0},
    {"event_time", AVRO_INT64, 0},
    {"scored_at", AVRO_INT64, 0},
};
static const struct fdesc rs_f[] = {
    {"feature", AVRO_STRING, 0},
    {"value", AVRO_DOUBLE, 1},
    {"contribution", AVRO_DOUBLE, 0},
};
static const struct fdesc mr_f[] = {
    {"version", AVRO_INT64, 0},       {"algorithm", AVRO_STRING, 0},
    {"spec_hash", AVRO_STRING, 0},    {"train_from", AVRO_INT64, 0},
    {"train_to", AVRO_INT64, 0},      {"params_json", AVRO_STRING, 0},
    {"metrics_json", AVRO_STRING, 0}, {"payload", AVRO_BYTES, 0},
    {"sha256", AVRO_STRING, 0},       {"released_at", AVRO_INT64, 0},
};

static const char *const schema_names[NSCHEMAS] = {NULL, "OrderEvent", "ReviewEvent", "Prediction",
                                                   "ModelRelease"};

/* The schemas are only needed to check the tables above; the codec keeps
 * them for its lifetime so that a codec always stands for checked schemas. */
struct sf_codec {
    avro_schema_t s[NSCHEMAS];
};

const char *sf_schema_name(int schema_id)
{
    return schema_id > 0 && schema_id < NSCHEMAS ? schema_names[schema_id] : NULL;
}

/* ---------------------------------------------------------------------------
 * Small checks shared by the encoders, decoders and JSON parsers. The success
 * path does no formatting; messages are built only on failure.
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

/* "items[2].seller.zip", "customer.zip" or "order_id" into out; every part
 * but the field is optional (arr NULL: no array; sub NULL: no sub-record). */
static const char *path(char *out, size_t cap, const char *arr, int i, const char *sub,
                        const char *field)
{
    char a[80] = "";
    if (arr)
        snprintf(a, sizeof a, "%s[%d]%s", arr, i, sub || field ? "." : "");
    snprintf(out, cap, "%s%s%s%s", a, sub ? sub : "", sub && field ? "." : "", field ? field : "");
    return out;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] < 0x80) /* ASCII fast path */
        i++;
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

/* check_text beyond plain ASCII: valid UTF-8 (0), or the message. Out of
 * line, so that the ASCII check needs no stack for the message. */
static __attribute__((noinline)) int text_slow(const char *s, size_t cap, const char *arr, int i,
                                               const char *sub, const char *field, sf_err *err)
{
    size_t n = strnlen(s, cap);
    if (n < cap && utf8_valid((const unsigned char *)s, n))
        return 0;
    char p[128], ex[48];
    if (n >= cap)
        return sf_errf(err, "%s: not terminated within its %zu-byte buffer",
                       path(p, sizeof p, arr, i, sub, field), cap);
    return sf_errf(err, "%s: \"%s\" is not valid UTF-8", path(p, sizeof p, arr, i, sub, field),
                   excerpt(ex, sizeof ex, s, n));
}

/* A NUL-terminated string in a buffer of cap bytes: fits, valid UTF-8. */
static inline int check_text(const char *s, size_t cap, const char *arr, int i, const char *sub,
                             const char *field, sf_err *err)
{
    /* one pass for the usual all-ASCII string: its end and its validity */
    size_t k = 0;
    while (k < cap && (unsigned char)s[k] - 1u < 0x7fu) /* 1..0x7f */
        k++;
    if (k < cap && s[k] == '\0')
        return 0;
    return text_slow(s, cap, arr, i, sub, field, err);
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

/* 1 for an ASCII hex digit; byte arithmetic, so that a loop of these
 * vectorises 16 bytes to a register */
static inline uint8_t hex_digit(uint8_t c)
{
    return (uint8_t)((uint8_t)(c - '0') < 10) | (uint8_t)((uint8_t)((c | 0x20) - 'a') < 6);
}

static __attribute__((noinline, cold)) int hex_failed(const char *s, size_t cap, size_t n,
                                                      const char *arr, int i, const char *field,
                                                      sf_err *err)
{
    char p[128], ex[48];
    size_t len = strnlen(s, cap);
    return sf_errf(err, "%s: expected %zu hex digits, got \"%s\" (%zu bytes)",
                   path(p, sizeof p, arr, i, NULL, field), n,
                   excerpt(ex, sizeof ex, s, len < cap ? len : cap), len);
}

/* Exactly n hex digits in a buffer of cap (> n) bytes. */
static inline int check_hex(const char *s, size_t cap, size_t n, const char *arr, int i,
                            const char *field, sf_err *err)
{
    /* Branch-free over all n bytes (they lie inside the cap-byte buffer):
     * ids mix digits and letters at random, so a per-character branch
     * mispredicts half the time and this check dominated encoding. */
    uint8_t ok = 1;
    for (size_t k = 0; k < n; k++)
        ok &= hex_digit((uint8_t)s[k]);
    if (ok && s[n] == '\0')
        return 0;
    return hex_failed(s, cap, n, arr, i, field, err);
}

static int check_time(int64_t t, const char *arr, int i, const char *field, sf_err *err)
{
    char p[128];
    if (t == SF_TIME_NONE)
        return sf_errf(err, "%s: required time is not set", path(p, sizeof p, arr, i, NULL, field));
    return 0;
}

static int check_place(const sf_place *pl, const char *arr, int i, const char *what, sf_err *err)
{
    return check_text(pl->zip, sizeof pl->zip, arr, i, what, "zip", err) ||
                   check_text(pl->city, sizeof pl->city, arr, i, what, "city", err) ||
                   check_text(pl->state, sizeof pl->state, arr, i, what, "state", err)
               ? -1
               : 0;
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
            check_text(it->category, sizeof it->category, "items", i, NULL, "category", err) ||
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
        check_text(p->event_id, sizeof p->event_id, NULL, 0, NULL, "event_id", err))
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
        if (check_text(p->reasons[i].feature, sizeof p->reasons[i].feature, "reasons", i, NULL,
                       "feature", err))
            return -1;
    if (check_time(p->event_time, NULL, 0, "event_time", err) ||
        check_time(p->scored_at, NULL, 0, "scored_at", err))
        return -1;
    return 0;
}

int sf_check_release(const sf_model_release *r, sf_err *err)
{
    if (check_text(r->algorithm, sizeof r->algorithm, NULL, 0, NULL, "algorithm", err) ||
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

static avro_schema_t field_schema(avro_schema_t rec, const char *name)
{
    return resolve(avro_schema_record_field_get(rec, name));
}

static const char *type_name(avro_type_t t)
{
    switch (t) {
    case AVRO_STRING:
        return "string";
    case AVRO_INT64:
        return "long";
    case AVRO_INT32:
        return "int";
    case AVRO_DOUBLE:
        return "double";
    case AVRO_ENUM:
        return "enum";
    case AVRO_BYTES:
        return "bytes";
    case AVRO_RECORD:
        return "record";
    case AVRO_ARRAY:
        return "array";
    case AVRO_NULL:
        return "null";
    case AVRO_UNION:
        return "union";
    default:
        return "another type";
    }
}

/* The record has exactly the fields of f, in order, with their types. */
static int check_fields(avro_schema_t rec, const char *name, const struct fdesc *f, int n,
                        sf_err *err)
{
    if (!rec || avro_typeof(rec) != AVRO_RECORD)
        return sf_errf(err, "schema %s: not a record", name);
    if ((int)avro_schema_record_size(rec) != n)
        return sf_errf(err, "schema %s: %d fields, the codec expects %d", name,
                       (int)avro_schema_record_size(rec), n);
    for (int i = 0; i < n; i++) {
        const char *fn = avro_schema_record_field_name(rec, i);
        if (!fn || strcmp(fn, f[i].name) != 0)
            return sf_errf(err, "schema %s: field %d is \"%s\", the codec expects \"%s\"", name, i,
                           fn ? fn : "?", f[i].name);
        avro_schema_t t = resolve(avro_schema_record_field_get_by_index(rec, i));
        if (f[i].opt) {
            if (!t || avro_typeof(t) != AVRO_UNION || avro_schema_union_size(t) != 2 ||
                avro_typeof(resolve(avro_schema_union_branch(t, 0))) != AVRO_NULL)
                return sf_errf(err, "schema %s: field %s must be [\"null\", %s]", name, fn,
                               type_name(f[i].type));
            t = resolve(avro_schema_union_branch(t, 1));
        }
        if (!t || avro_typeof(t) != f[i].type)
            return sf_errf(err, "schema %s: field %s is %s, the codec expects %s%s", name, fn,
                           t ? type_name(avro_typeof(t)) : "?", type_name(f[i].type),
                           f[i].opt ? " (in a union with null)" : "");
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

static avro_schema_t array_items(avro_schema_t rec, const char *field)
{
    return resolve(avro_schema_array_items(field_schema(rec, field)));
}

static int check_schemas(sf_codec *c, sf_err *err)
{
    avro_schema_t oe = c->s[SF_SCHEMA_ORDER_EVENT];
    if (check_fields(oe, "OrderEvent", FIELDS(oe_f), err) ||
        check_enum(field_schema(oe, "stage"), "OrderEvent.stage", SF_STAGE_COUNT, stage_sym, err) ||
        check_fields(field_schema(oe, "customer"), "Location", FIELDS(loc_f), err))
        return -1;
    avro_schema_t item = array_items(oe, "items"), pay = array_items(oe, "payments");
    if (check_fields(item, "Item", FIELDS(it_f), err) ||
        check_fields(field_schema(item, "seller"), "Location", FIELDS(loc_f), err) ||
        check_fields(pay, "Payment", FIELDS(pay_f), err) ||
        check_enum(field_schema(pay, "type"), "Payment.type", SF_PAY_COUNT, pay_sym, err))
        return -1;
    if (check_fields(c->s[SF_SCHEMA_REVIEW_EVENT], "ReviewEvent", FIELDS(rv_f), err))
        return -1;
    avro_schema_t pr = c->s[SF_SCHEMA_PREDICTION];
    if (check_fields(pr, "Prediction", FIELDS(pr_f), err) ||
        check_enum(field_schema(pr, "stage"), "Prediction.stage", SF_STAGE_COUNT, stage_sym, err) ||
        check_fields(array_items(pr, "reasons"), "Reason", FIELDS(rs_f), err))
        return -1;
    return check_fields(c->s[SF_SCHEMA_MODEL_RELEASE], "ModelRelease", FIELDS(mr_f), err);
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
        if (c->s[i]) {
            sf_errf(err, "catalog.json: id %d listed twice", i);
            goto out;
        }
        const struct sf_embedded_file *f = sf_schema_file(file->valuestring);
        if (!f) {
            sf_errf(err, "catalog.json: schema file %s is not embedded", file->valuestring);
            goto out;
        }
        if (avro_schema_from_json_length((const char *)f->data, f->len, &c->s[i])) {
            c->s[i] = NULL;
            sf_errf(err, "%s: %s", file->valuestring, avro_strerror());
            goto out;
        }
        if (strcmp(avro_schema_name(c->s[i]), name->valuestring) != 0) {
            sf_errf(err, "%s: record is named %s, the catalog says %s", file->valuestring,
                    avro_schema_name(c->s[i]), name->valuestring);
            goto out;
        }
    }
    for (int i = 1; i < NSCHEMAS; i++)
        if (!c->s[i]) {
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
    if (load_catalog(c, err) || check_schemas(c, err)) {
        sf_codec_free(c);
        return NULL;
    }
    return c;
}

void sf_codec_free(sf_codec *c)
{
    if (!c)
        return;
    for (int i = 1; i < NSCHEMAS; i++)
        if (c->s[i])
            avro_schema_decref(c->s[i]);
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
 * Encoding: Avro binary straight from the structs. Each encoder first checks
 * the event, then reserves an upper bound of the message size (so the writes
 * below need no bounds checks), then writes the fields in schema order.
 */

#define VMAX 10 /* bytes of the longest varint */

static inline uint8_t *put_long(uint8_t *w, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)); /* zigzag */
    while (u >= 0x80) {
        *w++ = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    *w++ = (uint8_t)u;
    return w;
}

static inline uint8_t *put_bytes(uint8_t *w, const void *s, size_t n)
{
    w = put_long(w, (int64_t)n);
    if (n)
        memcpy(w, s, n);
    return w + n;
}

static inline uint8_t *put_str(uint8_t *w, const char *s)
{
    return put_bytes(w, s, strlen(s));
}

static inline uint8_t *put_double(uint8_t *w, double d)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(w, &d, 8);
#else
    uint64_t u;
    memcpy(&u, &d, 8);
    for (int i = 0; i < 8; i++)
        w[i] = (uint8_t)(u >> (8 * i));
#endif
    return w + 8;
}

/* ["null", long]: SF_TIME_NONE is null. */
static inline uint8_t *put_opt_time(uint8_t *w, int64_t t)
{
    if (t == SF_TIME_NONE) {
        *w++ = 0;
        return w;
    }
    *w++ = 2; /* branch 1, zigzag */
    return put_long(w, t);
}

/* ["null", double]: NaN is null. */
static inline uint8_t *put_opt_double(uint8_t *w, double d)
{
    if (isnan(d)) {
        *w++ = 0;
        return w;
    }
    *w++ = 2;
    return put_double(w, d);
}

#define PLACE_MAX                                                                                  \
    (3 * VMAX + sizeof(((sf_place *)0)->zip) + sizeof(((sf_place *)0)->city) +                     \
     sizeof(((sf_place *)0)->state) + 2 * 9)

static uint8_t *put_place(uint8_t *w, const sf_place *p)
{
    w = put_str(w, p->zip);
    w = put_str(w, p->city);
    w = put_str(w, p->state);
    w = put_opt_double(w, p->lat);
    return put_opt_double(w, p->lng);
}

/* Room for a message of at most max bytes; returns where the body starts. */
static uint8_t *begin(sf_buf *b, int id, size_t max, sf_err *err)
{
    if (sf_buf_reserve(b, max, err))
        return NULL;
    b->data[0] = 0;
    b->data[1] = (uint8_t)(id >> 24);
    b->data[2] = (uint8_t)(id >> 16);
    b->data[3] = (uint8_t)(id >> 8);
    b->data[4] = (uint8_t)id;
    return b->data + SF_WIRE_HEADER;
}

static int finish(sf_buf *b, const uint8_t *w)
{
    b->len = (size_t)(w - b->data);
    return 0;
}

/* An array as Avro-C writes it: one block of n items, then 0; just 0 when
 * empty. */
#define ITEM_MAX                                                                                   \
    (VMAX + 2 * (VMAX + SF_ID_LEN) + 16 + VMAX + VMAX + SF_TEXT_SHORT + 7 * 9 + PLACE_MAX)
#define PAY_MAX (3 * VMAX + 8)

int sf_encode_order(sf_codec *c, const sf_order_event *ev, sf_buf *b, sf_err *err)
{
    (void)c;
    if (sf_check_order(ev, err))
        return sf_err_wrap(err, "encode OrderEvent %.32s", ev->order_id);
    size_t max = SF_WIRE_HEADER + 3 * (VMAX + SF_ID_LEN) + 7 * VMAX + 3 + PLACE_MAX + 4 * VMAX +
                 (size_t)ev->n_items * ITEM_MAX + (size_t)ev->n_payments * PAY_MAX;
    uint8_t *w = begin(b, SF_SCHEMA_ORDER_EVENT, max, err);
    if (!w)
        return sf_err_wrap(err, "encode OrderEvent %.32s", ev->order_id);
    w = put_bytes(w, ev->order_id, SF_ID_LEN); /* ids: exactly 32 bytes, checked */
    w = put_bytes(w, ev->customer_id, SF_ID_LEN);
    w = put_bytes(w, ev->customer_unique_id, SF_ID_LEN);
    w = put_long(w, ev->stage);
    w = put_long(w, ev->event_time);
    w = put_long(w, ev->purchase);
    w = put_long(w, ev->estimated);
    w = put_opt_time(w, ev->approved);
    w = put_opt_time(w, ev->carrier);
    w = put_opt_time(w, ev->delivered);
    w = put_place(w, &ev->customer);
    if (ev->n_items) {
        w = put_long(w, ev->n_items);
        for (int i = 0; i < ev->n_items; i++) {
            const sf_item *it = &ev->items[i];
            w = put_long(w, it->seq);
            w = put_bytes(w, it->product_id, SF_ID_LEN);
            w = put_bytes(w, it->seller_id, SF_ID_LEN);
            w = put_double(w, it->price);
            w = put_double(w, it->freight);
            w = put_long(w, it->shipping_limit);
            w = put_str(w, it->category);
            w = put_opt_double(w, it->name_len);
            w = put_opt_double(w, it->desc_len);
            w = put_opt_double(w, it->photos);
            w = put_opt_double(w, it->weight_g);
            w = put_opt_double(w, it->length_cm);
            w = put_opt_double(w, it->height_cm);
            w = put_opt_double(w, it->width_cm);
            w = put_place(w, &it->seller);
        }
    }
    *w++ = 0;
    if (ev->n_payments) {
        w = put_long(w, ev->n_payments);
        for (int i = 0; i < ev->n_payments; i++) {
            const sf_payment *p = &ev->payments[i];
            w = put_long(w, p->seq);
            w = put_long(w, p->type);
            w = put_long(w, p->installments);
            w = put_double(w, p->value);
        }
    }
    *w++ = 0;
    return finish(b, w);
}

int sf_encode_review(sf_codec *c, const sf_review_event *ev, sf_buf *b, sf_err *err)
{
    (void)c;
    if (sf_check_review(ev, err))
        return sf_err_wrap(err, "encode ReviewEvent %.32s", ev->review_id);
    size_t tl = ev->title ? strlen(ev->title) : 0, ml = ev->message ? strlen(ev->message) : 0;
    size_t max =
        SF_WIRE_HEADER + 2 * (VMAX + SF_ID_LEN) + VMAX + 2 * (1 + VMAX) + tl + ml + VMAX + 1 + VMAX;
    uint8_t *w = begin(b, SF_SCHEMA_REVIEW_EVENT, max, err);
    if (!w)
        return sf_err_wrap(err, "encode ReviewEvent %.32s", ev->review_id);
    w = put_bytes(w, ev->review_id, SF_ID_LEN);
    w = put_bytes(w, ev->order_id, SF_ID_LEN);
    w = put_long(w, ev->score);
    *w++ = ev->title ? 2 : 0;
    if (ev->title)
        w = put_bytes(w, ev->title, tl);
    *w++ = ev->message ? 2 : 0;
    if (ev->message)
        w = put_bytes(w, ev->message, ml);
    w = put_long(w, ev->created);
    w = put_opt_time(w, ev->answered);
    return finish(b, w);
}

int sf_encode_prediction(sf_codec *c, const sf_prediction *p, sf_buf *b, sf_err *err)
{
    (void)c;
    if (sf_check_prediction(p, err))
        return sf_err_wrap(err, "encode Prediction %.32s", p->order_id);
    size_t max = SF_WIRE_HEADER + (VMAX + SF_ID_LEN) + (VMAX + sizeof p->event_id) + VMAX + 16 +
                 2 * VMAX + SF_REASONS * (VMAX + SF_FEATURE_NAME + 9 + 8) + 3 * VMAX;
    uint8_t *w = begin(b, SF_SCHEMA_PREDICTION, max, err);
    if (!w)
        return sf_err_wrap(err, "encode Prediction %.32s", p->order_id);
    w = put_bytes(w, p->order_id, SF_ID_LEN);
    w = put_str(w, p->event_id);
    w = put_long(w, p->stage);
    w = put_double(w, p->score);
    w = put_double(w, p->p_dissatisfied);
    if (p->n_reasons) {
        w = put_long(w, p->n_reasons);
        for (int i = 0; i < p->n_reasons; i++) {
            w = put_str(w, p->reasons[i].feature);
            w = put_opt_double(w, p->reasons[i].value);
            w = put_double(w, p->reasons[i].contribution);
        }
    }
    *w++ = 0;
    w = put_long(w, p->model_version);
    w = put_long(w, p->event_time);
    w = put_long(w, p->scored_at);
    return finish(b, w);
}

int sf_encode_release(sf_codec *c, const sf_model_release *r, sf_buf *b, sf_err *err)
{
    (void)c;
    if (sf_check_release(r, err))
        return sf_err_wrap(err, "encode ModelRelease %lld", (long long)r->version);
    size_t pl = strlen(r->params_json), ml = strlen(r->metrics_json);
    size_t max = SF_WIRE_HEADER + VMAX + (VMAX + sizeof r->algorithm) +
                 (VMAX + sizeof r->spec_hash) + 2 * VMAX + (VMAX + pl) + (VMAX + ml) +
                 (VMAX + r->payload_len) + (VMAX + sizeof r->sha256) + VMAX;
    uint8_t *w = begin(b, SF_SCHEMA_MODEL_RELEASE, max, err);
    if (!w)
        return sf_err_wrap(err, "encode ModelRelease %lld", (long long)r->version);
    w = put_long(w, r->version);
    w = put_str(w, r->algorithm);
    w = put_str(w, r->spec_hash);
    w = put_long(w, r->train_from);
    w = put_long(w, r->train_to);
    w = put_bytes(w, r->params_json, pl);
    w = put_bytes(w, r->metrics_json, ml);
    w = put_bytes(w, r->payload, r->payload_len);
    w = put_str(w, r->sha256);
    w = put_long(w, r->released_at);
    return finish(b, w);
}

/* ---------------------------------------------------------------------------
 * Decoding: one checked walk over the bytes, straight into the struct.
 */

#define NO_ERROR INT_MAX

struct rd {
    const uint8_t *start, *p, *end;
    /* Where we are, for messages: arr[idx].sub.fld (each part optional). */
    const char *arr, *sub, *fld;
    int idx;
    sf_err *err;
    /* The first value error (lowest rank, then first seen), kept aside
     * until the walk has found the bytes well formed. */
    int vrank;
    sf_err verr;
};

static const char *rd_path(const struct rd *r, char *out, size_t cap)
{
    if (!r->arr && !r->sub && !r->fld)
        snprintf(out, cap, "(record)");
    else
        path(out, cap, r->arr, r->idx, r->sub, r->fld);
    return out;
}

/* A malformed message: "field path: why (at byte N of the body)". */
static int rd_fail(struct rd *r, const char *fmt, long long a, long long b)
{
    char p[160], why[160];
    rd_path(r, p, sizeof p);
    snprintf(why, sizeof why, fmt, a, b);
    sf_errf(r->err, "%s: %s (at byte %ld of the body)", p, why, (long)(r->p - r->start));
    return -1;
}

/* A value the C types cannot hold: kept aside, the walk goes on. */
static void rd_keep(struct rd *r, int rank, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rd_keep(struct rd *r, int rank, const char *fmt, ...)
{
    if (rank >= r->vrank)
        return;
    r->vrank = rank;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->verr.msg, sizeof r->verr.msg, fmt, ap);
    va_end(ap);
}

static int rd_need(struct rd *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return rd_fail(r, "truncated: needs %lld bytes, %lld left", (long long)n,
                       (long long)(r->end - r->p));
    return 0;
}

static int rd_varint_slow(struct rd *r, int64_t *out)
{
    uint64_t u = 0;
    for (int i = 0;; i++) {
        if (r->p >= r->end)
            return rd_fail(r, "truncated: varint cut after %lld of at most %lld bytes", i, 10);
        uint8_t byte = *r->p++;
        if (i == 9 && byte > 1)
            return rd_fail(r, "malformed varint: overflows 64 bits (byte 0x%02llx)", byte, 0);
        u |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80))
            break;
    }
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

/* A zigzag varint of at most 10 bytes. */
static inline int rd_long(struct rd *r, int64_t *out)
{
    if (r->p < r->end && *r->p < 0x80) {
        uint64_t u = *r->p++;
        *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        return 0;
    }
    return rd_varint_slow(r, out);
}

static inline int rd_int(struct rd *r, int *out)
{
    int64_t v;
    if (rd_long(r, &v))
        return -1;
    if (v < INT32_MIN || v > INT32_MAX)
        return rd_fail(r, "int value %lld out of 32-bit range", v, 0);
    *out = (int)v;
    return 0;
}

static inline int rd_double(struct rd *r, double *out)
{
    if (r->end - r->p < 8)
        return rd_fail(r, "truncated: needs %lld bytes, %lld left", 8, (long long)(r->end - r->p));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(out, r->p, 8);
#else
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)r->p[i] << (8 * i);
    memcpy(out, &u, 8);
#endif
    r->p += 8;
    return 0;
}

static inline int rd_enum(struct rd *r, int n, int *out)
{
    int64_t v;
    if (rd_long(r, &v))
        return -1;
    if (v < 0 || v >= n)
        return rd_fail(r, "invalid enum index %lld (%lld symbols)", v, n);
    *out = (int)v;
    return 0;
}

/* The branch of a ["null", T] union: 0 or 1. */
static inline int rd_branch(struct rd *r, int *out)
{
    int64_t v;
    if (rd_long(r, &v))
        return -1;
    if (v < 0 || v > 1)
        return rd_fail(r, "invalid union branch %lld (%lld branches)", v, 2);
    *out = (int)v;
    return 0;
}

/* A string or bytes length, checked against max and what is left; on success
 * *s points at the bytes, which are consumed. */
static int rd_span(struct rd *r, int64_t max, int bytes, const char **s, size_t *len)
{
    int64_t n;
    if (rd_long(r, &n))
        return -1;
    if (n < 0)
        return rd_fail(r, bytes ? "negative bytes length %lld" : "negative string length %lld", n,
                       0);
    if (n > max)
        return rd_fail(r, "length %lld exceeds the limit of %lld bytes", n, max);
    if (rd_need(r, (size_t)n))
        return -1;
    *s = (const char *)r->p;
    *len = (size_t)n;
    r->p += n;
    return 0;
}

/* A string into a fixed buffer of cap bytes ("" and a kept error when it
 * does not fit or holds a NUL). */
static int rd_text(struct rd *r, char *dst, size_t cap, int rank)
{
    const char *s = NULL;
    size_t len = 0;
    if (rd_span(r, SF_CODEC_MAX_STRING, 0, &s, &len))
        return -1;
    if (len < cap) {
        /* copy and look for a NUL in one inline pass: the strings are
         * short, and a memchr and a memcpy call each cost more */
        unsigned nul = 0;
        for (size_t i = 0; i < len; i++) {
            dst[i] = s[i];
            nul |= s[i] == 0;
        }
        dst[len] = '\0';
        if (!nul)
            return 0;
    }
    char p[160], ex[48];
    dst[0] = '\0';
    if (len >= cap)
        rd_keep(r, rank, "%s: \"%s\" is %zu bytes, at most %zu fit", rd_path(r, p, sizeof p),
                excerpt(ex, sizeof ex, s, len), len, cap - 1);
    else
        rd_keep(r, rank, "%s: contains a NUL byte", rd_path(r, p, sizeof p));
    return 0;
}

/* A ["null", string] of unbounded C length: *s NULL when null. */
static int rd_opt_span(struct rd *r, const char **s, size_t *len, int rank)
{
    int br = 0;
    *s = NULL;
    *len = 0;
    if (rd_branch(r, &br))
        return -1;
    if (!br)
        return 0;
    if (rd_span(r, SF_CODEC_MAX_STRING, 0, s, len))
        return -1;
    if (memchr(*s, 0, *len))
        rd_keep(r, rank, "%s: contains a NUL byte", r->fld);
    return 0;
}

static inline int rd_opt_double(struct rd *r, double *out)
{
    int br = 0;
    if (rd_branch(r, &br))
        return -1;
    if (!br) {
        *out = NAN;
        return 0;
    }
    return rd_double(r, out);
}

static int rd_opt_time(struct rd *r, int64_t *t)
{
    int br = 0;
    *t = SF_TIME_NONE;
    if (rd_branch(r, &br))
        return -1;
    if (!br)
        return 0;
    if (rd_long(r, t))
        return -1;
    if (*t == SF_TIME_NONE)
        rd_keep(r, 0, "%s: value %lld is reserved for 'unknown' (send null)", r->fld,
                (long long)*t);
    return 0;
}

static int rd_place(struct rd *r, sf_place *pl, const char *sub)
{
    r->sub = sub;
    r->fld = "zip";
    if (rd_text(r, pl->zip, sizeof pl->zip, 0))
        return -1;
    r->fld = "city";
    if (rd_text(r, pl->city, sizeof pl->city, 0))
        return -1;
    r->fld = "state";
    if (rd_text(r, pl->state, sizeof pl->state, 0))
        return -1;
    r->fld = "lat";
    if (rd_opt_double(r, &pl->lat))
        return -1;
    r->fld = "lng";
    if (rd_opt_double(r, &pl->lng))
        return -1;
    r->sub = NULL;
    return 0;
}

/* An array's block header: *count entries follow (0: the array ends). The
 * running total is bounded by SF_CODEC_MAX_ITEMS, so what a caller allocates
 * for them is bounded too. */
static int rd_block(struct rd *r, const char *name, int64_t total, int64_t *count)
{
    r->arr = NULL;
    r->sub = NULL;
    r->fld = name;
    int64_t n, size;
    if (rd_long(r, &n))
        return -1;
    if (n == 0) {
        *count = 0;
        return 0;
    }
    int sized = n < 0;
    if (n == INT64_MIN)
        return rd_fail(r, "invalid block count %lld", n, 0);
    if (sized)
        n = -n;
    if (n > SF_CODEC_MAX_ITEMS - total)
        return rd_fail(r, "%lld entries exceed the limit of %lld", total + n, SF_CODEC_MAX_ITEMS);
    if (sized) { /* a negative count is followed by the block's size in bytes */
        if (rd_long(r, &size))
            return -1;
        if (size < 0 || size > r->end - r->p)
            return rd_fail(r, "invalid block size %lld (%lld bytes left)", size,
                           (long long)(r->end - r->p));
    }
    *count = n;
    r->arr = name;
    return 0;
}

/* Framing and expected id; sets up the walk over the body. */
static int rd_begin(struct rd *r, const void *buf, size_t len, int want, sf_err *err)
{
    int id = 0;
    if (sf_wire_peek(buf, len, &id, err))
        return sf_err_wrap(err, "decode %s", sf_schema_name(want));
    if (id != want)
        return sf_errf(err, "decode %s: message has schema id %d (%s), expected %d",
                       sf_schema_name(want), id, sf_schema_name(id), want);
    r->start = r->p = (const uint8_t *)buf + SF_WIRE_HEADER;
    r->end = (const uint8_t *)buf + len;
    r->arr = r->sub = r->fld = NULL;
    r->idx = 0;
    r->err = err;
    r->vrank = NO_ERROR;
    return 0;
}

static int decode_failed(const char *schema, const char *id, sf_err *err)
{
    if (id && *id)
        return sf_err_wrap(err, "decode %s %.32s", schema, id);
    return sf_err_wrap(err, "decode %s", schema);
}

/* After the walk (malformed: it failed, r->err set): trailing bytes, then
 * the value error kept aside; each with its context. 0 when all is well. */
static int rd_done(struct rd *r, int malformed, const char *schema, const char *id)
{
    if (!malformed && r->p != r->end) {
        sf_errf(r->err, "%zu trailing bytes after the record", (size_t)(r->end - r->p));
        malformed = 1;
    }
    if (malformed)
        return sf_err_wrap(r->err, "decode %s", schema);
    if (r->vrank != NO_ERROR) {
        sf_errf(r->err, "%s", r->verr.msg);
        return decode_failed(schema, id, r->err);
    }
    return 0;
}

/* Spare payment slots allocated with the items, so that the usual order
 * (one or two payments) needs no second allocation. */
#define PAY_SPARE 4

/* Makes room in ev's block for n items and m payments (items first;
 * sf_item's size keeps the payments aligned). */
static int order_block(sf_order_event *ev, size_t n, size_t m, sf_err *err)
{
    char *block = realloc(ev->alloc, n * sizeof(sf_item) + m * sizeof(sf_payment));
    if (!block)
        return sf_errf(err, "out of memory");
    ev->alloc = block;
    ev->items = (const sf_item *)(void *)block;
    ev->payments = (const sf_payment *)(void *)(block + n * sizeof(sf_item));
    return 0;
}

static int rd_item(struct rd *r, sf_item *it)
{
    r->fld = "seq";
    if (rd_int(r, &it->seq))
        return -1;
    r->fld = "product_id";
    if (rd_text(r, it->product_id, sizeof it->product_id, 0))
        return -1;
    r->fld = "seller_id";
    if (rd_text(r, it->seller_id, sizeof it->seller_id, 0))
        return -1;
    r->fld = "price";
    if (rd_double(r, &it->price))
        return -1;
    r->fld = "freight";
    if (rd_double(r, &it->freight))
        return -1;
    r->fld = "shipping_limit";
    if (rd_long(r, &it->shipping_limit))
        return -1;
    r->fld = "category";
    if (rd_text(r, it->category, sizeof it->category, 0))
        return -1;
    static const char *const dims[7] = {"name_len",  "desc_len",  "photos",  "weight_g",
                                        "length_cm", "height_cm", "width_cm"};
    double *dv[7] = {&it->name_len,  &it->desc_len,  &it->photos,  &it->weight_g,
                     &it->length_cm, &it->height_cm, &it->width_cm};
    for (int k = 0; k < 7; k++) {
        r->fld = dims[k];
        if (rd_opt_double(r, dv[k]))
            return -1;
    }
    return rd_place(r, &it->seller, "seller");
}

static int rd_payment(struct rd *r, sf_payment *p)
{
    int type = 0;
    r->fld = "seq";
    if (rd_int(r, &p->seq))
        return -1;
    r->fld = "type";
    if (rd_enum(r, SF_PAY_COUNT, &type))
        return -1;
    p->type = (sf_pay_type)type;
    r->fld = "installments";
    if (rd_int(r, &p->installments))
        return -1;
    r->fld = "value";
    return rd_double(r, &p->value);
}

/* The OrderEvent record; -1 on malformed bytes (r->err set). */
static int rd_order(struct rd *r, sf_order_event *ev, sf_err *err)
{
    int stage = 0;
    r->fld = "order_id";
    if (rd_text(r, ev->order_id, sizeof ev->order_id, 0))
        return -1;
    r->fld = "customer_id";
    if (rd_text(r, ev->customer_id, sizeof ev->customer_id, 0))
        return -1;
    r->fld = "customer_unique_id";
    if (rd_text(r, ev->customer_unique_id, sizeof ev->customer_unique_id, 0))
        return -1;
    r->fld = "stage";
    if (rd_enum(r, SF_STAGE_COUNT, &stage))
        return -1;
    ev->stage = (sf_stage)stage;
    r->fld = "event_time";
    if (rd_long(r, &ev->event_time))
        return -1;
    r->fld = "purchase_time";
    if (rd_long(r, &ev->purchase))
        return -1;
    r->fld = "estimated_delivery";
    if (rd_long(r, &ev->estimated))
        return -1;
    r->fld = "approved_time";
    if (rd_opt_time(r, &ev->approved))
        return -1;
    r->fld = "carrier_time";
    if (rd_opt_time(r, &ev->carrier))
        return -1;
    r->fld = "delivered_time";
    if (rd_opt_time(r, &ev->delivered))
        return -1;
    if (rd_place(r, &ev->customer, "customer"))
        return -1;

    int64_t ni = 0, np = 0, k;
    for (;;) {
        if (rd_block(r, "items", ni, &k))
            return -1;
        if (k == 0)
            break;
        if (order_block(ev, (size_t)(ni + k), PAY_SPARE, err))
            return -1;
        sf_item *items = (sf_item *)(void *)ev->alloc;
        for (int64_t i = ni; i < ni + k; i++) {
            r->arr = "items";
            r->idx = (int)i;
            if (rd_item(r, &items[i]))
                return -1;
        }
        ni += k;
    }
    ev->n_items = (int)ni;
    int64_t pcap = PAY_SPARE;
    if (!ev->alloc && order_block(ev, 0, PAY_SPARE, err))
        return -1;
    for (;;) {
        if (rd_block(r, "payments", np, &k))
            return -1;
        if (k == 0)
            break;
        if (np + k > pcap) {
            pcap = np + k;
            if (order_block(ev, (size_t)ni, (size_t)pcap, err))
                return -1;
        }
        sf_payment *pays = (sf_payment *)(void *)((char *)ev->alloc + ni * sizeof(sf_item));
        for (int64_t i = np; i < np + k; i++) {
            r->arr = "payments";
            r->idx = (int)i;
            if (rd_payment(r, &pays[i]))
                return -1;
        }
        np += k;
    }
    ev->n_payments = (int)np;
    return 0;
}

int sf_decode_order(sf_codec *c, const void *buf, size_t len, sf_order_event *ev, sf_err *err)
{
    (void)c;
    memset(ev, 0, sizeof *ev);
    struct rd r;
    if (rd_begin(&r, buf, len, SF_SCHEMA_ORDER_EVENT, err))
        return -1;
    if (rd_done(&r, rd_order(&r, ev, err) != 0, "OrderEvent", ev->order_id))
        goto fail;
    if (sf_check_order(ev, err)) {
        decode_failed("OrderEvent", ev->order_id, err);
        goto fail;
    }
    return 0;
fail:
    sf_order_event_clear(ev);
    return -1;
}

static int rd_review(struct rd *r, sf_review_event *ev, const char **title, size_t *tl,
                     const char **msg, size_t *ml)
{
    r->fld = "review_id";
    if (rd_text(r, ev->review_id, sizeof ev->review_id, 0))
        return -1;
    r->fld = "order_id";
    if (rd_text(r, ev->order_id, sizeof ev->order_id, 0))
        return -1;
    r->fld = "score";
    if (rd_int(r, &ev->score))
        return -1;
    r->fld = "title";
    if (rd_opt_span(r, title, tl, 0))
        return -1;
    r->fld = "message";
    if (rd_opt_span(r, msg, ml, 0))
        return -1;
    r->fld = "created";
    if (rd_long(r, &ev->created))
        return -1;
    r->fld = "answered";
    return rd_opt_time(r, &ev->answered);
}

/* A ["null", string] copied into block at *off (*dst NULL when null). */
static void copy_opt(char *block, size_t *off, const char *s, size_t len, const char **dst)
{
    *dst = NULL;
    if (!s)
        return;
    memcpy(block + *off, s, len);
    block[*off + len] = '\0';
    *dst = block + *off;
    *off += len + 1;
}

int sf_decode_review(sf_codec *c, const void *buf, size_t len, sf_review_event *ev, sf_err *err)
{
    (void)c;
    memset(ev, 0, sizeof *ev);
    struct rd r;
    if (rd_begin(&r, buf, len, SF_SCHEMA_REVIEW_EVENT, err))
        return -1;
    const char *title, *msg;
    size_t tl, ml;
    if (rd_done(&r, rd_review(&r, ev, &title, &tl, &msg, &ml) != 0, "ReviewEvent", ev->review_id))
        goto fail;
    size_t size = (title ? tl + 1 : 0) + (msg ? ml + 1 : 0);
    char *block = malloc(size ? size : 1);
    if (!block) {
        sf_errf(err, "decode ReviewEvent: out of memory");
        goto fail;
    }
    ev->alloc = block;
    size_t off = 0;
    copy_opt(block, &off, title, tl, &ev->title);
    copy_opt(block, &off, msg, ml, &ev->message);
    if (sf_check_review(ev, err)) {
        decode_failed("ReviewEvent", ev->review_id, err);
        goto fail;
    }
    return 0;
fail:
    sf_review_event_clear(ev);
    return -1;
}

/* Ranks of the Prediction's value errors: ids, then too many reasons, then
 * a reason's feature (the order the checks had before the single pass). */
enum { PR_RANK_ID, PR_RANK_COUNT, PR_RANK_FEATURE };

static int rd_prediction(struct rd *r, sf_prediction *p)
{
    int stage = 0;
    r->fld = "order_id";
    if (rd_text(r, p->order_id, sizeof p->order_id, PR_RANK_ID))
        return -1;
    r->fld = "event_id";
    if (rd_text(r, p->event_id, sizeof p->event_id, PR_RANK_ID))
        return -1;
    r->fld = "stage";
    if (rd_enum(r, SF_STAGE_COUNT, &stage))
        return -1;
    p->stage = (sf_stage)stage;
    r->fld = "score";
    if (rd_double(r, &p->score))
        return -1;
    r->fld = "p_dissatisfied";
    if (rd_double(r, &p->p_dissatisfied))
        return -1;
    int64_t n = 0, k;
    for (;;) {
        if (rd_block(r, "reasons", n, &k))
            return -1;
        if (k == 0)
            break;
        for (int64_t i = n; i < n + k; i++) {
            sf_reason spare, *rs = i < SF_REASONS ? &p->reasons[i] : &spare;
            r->arr = "reasons";
            r->idx = (int)i;
            r->fld = "feature";
            if (rd_text(r, rs->feature, sizeof rs->feature, PR_RANK_FEATURE))
                return -1;
            r->fld = "value";
            if (rd_opt_double(r, &rs->value))
                return -1;
            r->fld = "contribution";
            if (rd_double(r, &rs->contribution))
                return -1;
        }
        n += k;
    }
    r->arr = NULL;
    if (n > SF_REASONS)
        rd_keep(r, PR_RANK_COUNT, "reasons: %lld entries, at most %d", (long long)n, SF_REASONS);
    p->n_reasons = n > SF_REASONS ? SF_REASONS : (int)n;
    r->fld = "model_version";
    if (rd_long(r, &p->model_version))
        return -1;
    r->fld = "event_time";
    if (rd_long(r, &p->event_time))
        return -1;
    r->fld = "scored_at";
    return rd_long(r, &p->scored_at);
}

int sf_decode_prediction(sf_codec *c, const void *buf, size_t len, sf_prediction *p, sf_err *err)
{
    (void)c;
    memset(p, 0, sizeof *p);
    struct rd r;
    if (rd_begin(&r, buf, len, SF_SCHEMA_PREDICTION, err))
        return -1;
    if (rd_done(&r, rd_prediction(&r, p) != 0, "Prediction", p->order_id))
        goto fail;
    if (sf_check_prediction(p, err)) {
        decode_failed("Prediction", p->order_id, err);
        goto fail;
    }
    return 0;
fail:
    memset(p, 0, sizeof *p);
    return -1;
}

/* Ranks of the ModelRelease's value errors: a NUL in the JSON, then the
 * fixed-size strings. */
enum { MR_RANK_JSON, MR_RANK_TEXT };

struct release_spans {
    const char *params, *metrics, *payload;
    size_t plen, mlen, blen;
};

static int rd_release(struct rd *r, sf_model_release *m, struct release_spans *sp)
{
    r->fld = "version";
    if (rd_long(r, &m->version))
        return -1;
    r->fld = "algorithm";
    if (rd_text(r, m->algorithm, sizeof m->algorithm, MR_RANK_TEXT))
        return -1;
    r->fld = "spec_hash";
    if (rd_text(r, m->spec_hash, sizeof m->spec_hash, MR_RANK_TEXT))
        return -1;
    r->fld = "train_from";
    if (rd_long(r, &m->train_from))
        return -1;
    r->fld = "train_to";
    if (rd_long(r, &m->train_to))
        return -1;
    r->fld = "params_json";
    if (rd_span(r, SF_CODEC_MAX_JSON, 0, &sp->params, &sp->plen))
        return -1;
    if (memchr(sp->params, 0, sp->plen))
        rd_keep(r, MR_RANK_JSON, "params_json: contains a NUL byte");
    r->fld = "metrics_json";
    if (rd_span(r, SF_CODEC_MAX_JSON, 0, &sp->metrics, &sp->mlen))
        return -1;
    if (memchr(sp->metrics, 0, sp->mlen))
        rd_keep(r, MR_RANK_JSON, "metrics_json: contains a NUL byte");
    r->fld = "payload";
    if (rd_span(r, SF_CODEC_MAX_PAYLOAD, 1, &sp->payload, &sp->blen))
        return -1;
    r->fld = "sha256";
    if (rd_text(r, m->sha256, sizeof m->sha256, MR_RANK_TEXT))
        return -1;
    r->fld = "released_at";
    return rd_long(r, &m->released_at);
}

int sf_decode_release(sf_codec *c, const void *buf, size_t len, sf_model_release *m, sf_err *err)
{
    (void)c;
    memset(m, 0, sizeof *m);
    struct rd r;
    if (rd_begin(&r, buf, len, SF_SCHEMA_MODEL_RELEASE, err))
        return -1;
    struct release_spans sp = {0};
    int malformed = rd_release(&r, m, &sp) != 0;
    if (malformed || r.vrank != NO_ERROR || r.p != r.end) {
        char id[24] = "";
        if (!malformed && r.p == r.end)
            snprintf(id, sizeof id, "%lld", (long long)m->version);
        rd_done(&r, malformed, "ModelRelease", id);
        goto fail;
    }
    /* One block: payload first (any alignment), then the two strings. */
    char *block = malloc(sp.blen + sp.plen + sp.mlen + 2);
    if (!block) {
        sf_errf(err, "decode ModelRelease %lld: out of memory", (long long)m->version);
        goto fail;
    }
    m->alloc = block;
    if (sp.blen)
        memcpy(block, sp.payload, sp.blen);
    m->payload = (const uint8_t *)block;
    m->payload_len = (uint32_t)sp.blen;
    memcpy(block + sp.blen, sp.params, sp.plen);
    block[sp.blen + sp.plen] = '\0';
    m->params_json = block + sp.blen;
    memcpy(block + sp.blen + sp.plen + 1, sp.metrics, sp.mlen);
    block[sp.blen + sp.plen + 1 + sp.mlen] = '\0';
    m->metrics_json = block + sp.blen + sp.plen + 1;
    if (sf_check_release(m, err)) {
        sf_err_wrap(err, "decode ModelRelease %lld", (long long)m->version);
        goto fail;
    }
    return 0;
fail:
    sf_model_release_clear(m);
    return -1;
}
