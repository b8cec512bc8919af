/*
 * codec_read.c - the decoders sf_decode_* (see satisfy/codec.h): one
 * checked walk over the Avro binary body, straight into the struct.
 *
 * - Every step is checked: varints well formed, lengths non-negative, bounded
 *   and within the message, enum and union indexes in range, array sizes
 *   bounded, no trailing bytes; each failure names the field path and the
 *   byte offset. Nothing is allocated until the count it is for has been
 *   checked (Avro-C trusted lengths and allocated before noticing a short
 *   buffer). A decoded event owns one block (items and payments; review
 *   text; release payload and JSON).
 * - Errors about values against the C types (a string too long for its
 *   buffer, a NUL byte, a reserved time) are kept aside while the walk
 *   finishes, so that a structural error anywhere still wins; then the same
 *   sf_check_* run as for encoding.
 * - tests/unit/test_codec_avroc.c proves this reader and Avro-C's agree on
 *   both writers' bytes, and tests/fuzz/fuzz_decode.c feeds it garbage.
 */
#include "satisfy/codec.h"

#include <inttypes.h>
#include <stdbool.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"

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
        sf_codec_path(out, cap, r->arr, r->idx, r->sub, r->fld);
    return out;
}

/* A malformed message: "field path: why (at byte N of the body)". */
static int rd_fail(struct rd *r, const char *fmt, ...) __attribute__((cold, format(printf, 2, 3)));
static int rd_fail(struct rd *r, const char *fmt, ...)
{
    char p[160], why[160];
    rd_path(r, p, sizeof p);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
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
        return rd_fail(r, "truncated: needs %zu bytes, %zu left", n, (size_t)(r->end - r->p));
    return 0;
}

static int rd_varint_slow(struct rd *r, int64_t *out)
{
    uint64_t u = 0;
    *out = 0; /* set on every path: the compiler cannot see that rd_fail returns -1 */
    for (int i = 0;; i++) {
        if (r->p >= r->end)
            return rd_fail(r, "truncated: varint cut after %d of at most 10 bytes", i);
        uint8_t byte = *r->p++;
        if (i == 9 && byte > 1)
            return rd_fail(r, "malformed varint: overflows 64 bits (byte 0x%02x)", (unsigned)byte);
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
        return rd_fail(r, "int value %" PRId64 " out of 32-bit range", v);
    *out = (int)v;
    return 0;
}

static inline int rd_double(struct rd *r, double *out)
{
    if (r->end - r->p < 8)
        return rd_fail(r, "truncated: needs 8 bytes, %zu left", (size_t)(r->end - r->p));
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
        return rd_fail(r, "invalid enum index %" PRId64 " (%d symbols)", v, n);
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
        return rd_fail(r, "invalid union branch %" PRId64 " (2 branches)", v);
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
        return rd_fail(r, "negative %s length %" PRId64, bytes ? "bytes" : "string", n);
    if (n > max)
        return rd_fail(r, "length %" PRId64 " exceeds the limit of %" PRId64 " bytes", n, max);
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
                sf_codec_excerpt(ex, sizeof ex, s, len), len, cap - 1);
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
        return rd_fail(r, "invalid block count %" PRId64, n);
    if (sized)
        n = -n;
    if (n > SF_CODEC_MAX_ITEMS - total) { /* n may be near INT64_MAX: saturate the sum */
        bool over = n > INT64_MAX - total;
        return rd_fail(r, "%s%" PRId64 " entries exceed the limit of %d", over ? "over " : "",
                       over ? INT64_MAX : total + n, SF_CODEC_MAX_ITEMS);
    }
    if (sized) { /* a negative count is followed by the block's size in bytes */
        if (rd_long(r, &size))
            return -1;
        if (size < 0 || size > r->end - r->p)
            return rd_fail(r, "invalid block size %" PRId64 " (%zu bytes left)", size,
                           (size_t)(r->end - r->p));
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

int sf_decode_order(const void *buf, size_t len, sf_order_event *ev, sf_err *err)
{
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

int sf_decode_review(const void *buf, size_t len, sf_review_event *ev, sf_err *err)
{
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
    sf_reason spare = {0}; /* where reasons past SF_REASONS are read to */
    for (;;) {
        if (rd_block(r, "reasons", n, &k))
            return -1;
        if (k == 0)
            break;
        for (int64_t i = n; i < n + k; i++) {
            sf_reason *rs = i < SF_REASONS ? &p->reasons[i] : &spare;
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

int sf_decode_prediction(const void *buf, size_t len, sf_prediction *p, sf_err *err)
{
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

int sf_decode_release(const void *buf, size_t len, sf_model_release *m, sf_err *err)
{
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
