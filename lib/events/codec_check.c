/*
 * codec_check.c - the wire contract of satisfy's events (see
 * satisfy/codec.h): the framing header (magic 0, big-endian schema
 * id), the value checks sf_check_* that every encoder and decoder and the
 * JSON parsers run (the valid event times among them: the only check that
 * reads the clock, once per event), and sf_check_key (a message's key is its
 * order id).
 *
 * The checks are cheap on the success path: no snprintf, a table lookup per
 * hex digit, an ASCII fast path for UTF-8; field paths and excerpts are
 * formatted only when something is wrong (sf_codec_path, sf_codec_excerpt,
 * which the decoder shares through lib/events/codec_impl.h).
 */
#include "satisfy/codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "satisfy/calendar.h"

#include "codec_impl.h"

static const char *const schema_names[SF_SCHEMA_MAX + 1] = {
    NULL, "OrderEvent", "ReviewEvent", "Prediction", "ModelRelease", "ServingState", "Alert"};

const char *sf_schema_name(int schema_id)
{
    return schema_id > 0 && schema_id <= SF_SCHEMA_MAX ? schema_names[schema_id] : NULL;
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
    if (id == 0 || id > SF_SCHEMA_MAX || !schema_names[id])
        return sf_errf(err,
                       "unknown schema id %u (known: 1 OrderEvent, 2 ReviewEvent, 3 Prediction, "
                       "4 ModelRelease, 5 ServingState, 6 Alert)",
                       id);
    *schema_id = (int)id;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Small checks shared by the encoders, decoders and JSON parsers. The success
 * path does no formatting; messages are built only on failure.
 */

/* A printable excerpt of untrusted bytes for error messages. */
const char *sf_codec_excerpt(char *out, size_t cap, const char *s, size_t len)
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
const char *sf_codec_path(char *out, size_t cap, const char *arr, int i, const char *sub,
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

int sf_codec_utf8_valid(const char *s, size_t n)
{
    return utf8_valid((const unsigned char *)s, n);
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
                       sf_codec_path(p, sizeof p, arr, i, sub, field), cap);
    return sf_errf(err, "%s: \"%s\" is not valid UTF-8",
                   sf_codec_path(p, sizeof p, arr, i, sub, field),
                   sf_codec_excerpt(ex, sizeof ex, s, n));
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
        return sf_errf(err, "%s: \"%s\" is not valid UTF-8", field,
                       sf_codec_excerpt(ex, sizeof ex, s, n));
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
                   sf_codec_path(p, sizeof p, arr, i, NULL, field), n,
                   sf_codec_excerpt(ex, sizeof ex, s, len < cap ? len : cap), len);
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
        return sf_errf(err, "%s: required time is not set",
                       sf_codec_path(p, sizeof p, arr, i, NULL, field));
    return 0;
}

/* ---------------------------------------------------------------------------
 * Event times (codec.h: SF_CODEC_TIME_MIN .. SF_CODEC_TIME_MAX, and times
 * something happened at not more than SF_CODEC_TIME_SKEW ahead of the clock).
 */

int sf_codec_time_invalid(const char *path, const char *value, sf_err *err)
{
    return sf_errf(err,
                   "%s: %s is not a valid event time (ms since the epoch, from 2000-01-01 to "
                   "before 2100-01-01)",
                   path, value);
}

/* "2026-12-04T21:10:29Z" for a time in the valid range. */
static void iso_time(int64_t t, char *out, size_t cap)
{
    int64_t day = t / 86400000, ms = t % 86400000, y;
    int m, d;
    sf_civil_from_days(day, &y, &m, &d);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d, (int)(ms / 3600000),
             (int)(ms / 60000 % 60), (int)(ms / 1000 % 60));
}

static __attribute__((noinline, cold)) int time_failed(int64_t t, int64_t latest, const char *arr,
                                                       int i, const char *field, sf_err *err)
{
    char p[128], v[32], a[32], b[32];
    sf_codec_path(p, sizeof p, arr, i, NULL, field);
    snprintf(v, sizeof v, "%" PRId64, t);
    if (t < SF_CODEC_TIME_MIN || t >= SF_CODEC_TIME_MAX)
        return sf_codec_time_invalid(p, v, err);
    iso_time(t, a, sizeof a);
    iso_time(latest - SF_CODEC_TIME_SKEW, b, sizeof b);
    return sf_errf(err, "%s: %s (%s) is more than %lld h ahead of the clock (%s)", p, v, a,
                   SF_CODEC_TIME_SKEW / 3600000, b);
}

/* The latest valid time something happened at: the wall clock (coarse, a
 * few ms, which a skew of a day allows) plus SF_CODEC_TIME_SKEW. */
static int64_t latest_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + SF_CODEC_TIME_SKEW;
}

#define DEADLINE 0 /* latest for a time that may lie ahead (check_event_time) */

/* A time of an order or review event: set when required, within
 * SF_CODEC_TIME_MIN .. MAX, and not after latest (latest_time() for a time
 * something happened at, DEADLINE for one that may lie ahead). */
static inline int check_event_time(int64_t t, int required, int64_t latest, const char *arr, int i,
                                   const char *field, sf_err *err)
{
    if (t == SF_TIME_NONE)
        return required ? check_time(t, arr, i, field, err) : 0;
    if (t >= SF_CODEC_TIME_MIN && t < SF_CODEC_TIME_MAX && (latest == DEADLINE || t <= latest))
        return 0;
    return time_failed(t, latest, arr, i, field, err);
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
    const int64_t latest = latest_time();
    if (check_event_time(ev->event_time, 1, latest, NULL, 0, "event_time", err) ||
        check_event_time(ev->purchase, 1, latest, NULL, 0, "purchase_time", err) ||
        check_event_time(ev->estimated, 1, DEADLINE, NULL, 0, "estimated_delivery", err) ||
        check_event_time(ev->approved, 0, latest, NULL, 0, "approved_time", err) ||
        check_event_time(ev->carrier, 0, latest, NULL, 0, "carrier_time", err) ||
        check_event_time(ev->delivered, 0, latest, NULL, 0, "delivered_time", err) ||
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
            check_event_time(it->shipping_limit, 1, DEADLINE, "items", i, "shipping_limit", err) ||
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
    const int64_t latest = latest_time();
    return check_event_time(ev->created, 1, latest, NULL, 0, "created", err) ||
                   check_event_time(ev->answered, 0, latest, NULL, 0, "answered", err)
               ? -1
               : 0;
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

int sf_check_key(const void *key, size_t key_len, const char *order_id, sf_err *err)
{
    size_t n = strlen(order_id);
    if (key && key_len == n && memcmp(key, order_id, n) == 0)
        return 0;
    char ex[72];
    return sf_errf(err, "key '%s' does not match order_id %s",
                   sf_codec_excerpt(ex, sizeof ex, key ? key : "", key ? key_len : 0), order_id);
}
