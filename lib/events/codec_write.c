/*
 * codec_write.c - the encoders sf_encode_* (see satisfy/codec.h):
 * Avro binary written straight from the C structs into the caller's sf_buf
 * (reused, so no allocation in steady state).
 *
 * Zigzag varints for int, long and enum, a varint branch index before a
 * union's value (null for SF_TIME_NONE, NaN and NULL), length-prefixed
 * strings and bytes, doubles as 8 little-endian bytes, and each non-empty
 * array as one block (count, items) followed by the 0 terminator: exactly the
 * bytes Avro-C's generic writer produces, which tests/unit/test_codec_avroc.c
 * proves byte for byte over randomized events of every schema. Writing
 * through Avro-C's generic values cost a set call per field and a malloc per
 * string, which made the codec the bottleneck of the producer and the scorer.
 */
#include "satisfy/codec.h"

#include <math.h>
#include <string.h>

#include "satisfy/varint.h"

/* ---------------------------------------------------------------------------
 * Encoding: Avro binary straight from the structs. Each encoder first checks
 * the event, then reserves an upper bound of the message size (so the writes
 * below need no bounds checks), then writes the fields in schema order.
 */

#define VMAX SF_VARINT_MAX

static inline uint8_t *put_long(uint8_t *w, int64_t v)
{
    return sf_varint_put(w, sf_zigzag(v));
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

int sf_encode_order(const sf_order_event *ev, sf_buf *b, sf_err *err)
{
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

int sf_encode_review(const sf_review_event *ev, sf_buf *b, sf_err *err)
{
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

int sf_encode_prediction(const sf_prediction *p, sf_buf *b, sf_err *err)
{
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

int sf_encode_release(const sf_model_release *r, sf_buf *b, sf_err *err)
{
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
