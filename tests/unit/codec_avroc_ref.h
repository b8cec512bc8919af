/*
 * codec_avroc_ref.h - the reference the fast codec is proven against: each
 * satisfy event set field by field on Avro-C generic values built from the
 * embedded schemas and written with avro_value_write, and messages read with
 * avro_value_read and copied back into the structs. This is how the codec
 * worked before it wrote and read Avro binary itself.
 *
 * Used by tests/unit/test_codec_avroc.c (byte-for-byte and value cross-checks)
 * and bench/bench_codec.c (the baseline of the codec benchmark). Header-only
 * (static inline functions) so that both programs build it without a library.
 * The reader trusts its input: feed it only well-formed messages.
 */
#ifndef SATISFY_CODEC_AVROC_REF_H
#define SATISFY_CODEC_AVROC_REF_H

#include <avro.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/codec.h"
#include "satisfy/schemas.h"

typedef struct ref_codec {
    avro_schema_t schema[5];
    avro_value_iface_t *iface[5];
    avro_value_t value[5];
    avro_writer_t writer;
    avro_reader_t reader;
    char dummy;
} ref_codec;

static inline void ref_free(ref_codec *r)
{
    if (!r)
        return;
    for (int i = 1; i < 5; i++) {
        if (r->iface[i]) {
            avro_value_decref(&r->value[i]);
            avro_value_iface_decref(r->iface[i]);
        }
        if (r->schema[i])
            avro_schema_decref(r->schema[i]);
    }
    if (r->writer)
        avro_writer_free(r->writer);
    if (r->reader)
        avro_reader_free(r->reader);
    free(r);
}

static inline ref_codec *ref_new(void)
{
    static const char *const files[5] = {NULL, "order_event.avsc", "review_event.avsc",
                                         "prediction.avsc", "model_release.avsc"};
    ref_codec *r = calloc(1, sizeof *r);
    for (int i = 1; i < 5; i++) {
        const struct sf_embedded_file *f = sf_schema_file(files[i]);
        if (!f || avro_schema_from_json_length((const char *)f->data, f->len, &r->schema[i])) {
            ref_free(r);
            return NULL;
        }
        r->iface[i] = avro_generic_class_from_schema(r->schema[i]);
        if (!r->iface[i] || avro_generic_value_new(r->iface[i], &r->value[i])) {
            if (r->iface[i])
                avro_value_iface_decref(r->iface[i]);
            r->iface[i] = NULL;
            ref_free(r);
            return NULL;
        }
    }
    r->writer = avro_writer_memory(&r->dummy, 0);
    r->reader = avro_reader_memory(&r->dummy, 0);
    return r;
}

/* ---- writing ---- */

static inline avro_value_t ref_field(avro_value_t *rec, int i)
{
    avro_value_t f = {NULL, NULL};
    avro_value_get_by_index(rec, (size_t)i, &f, NULL);
    return f;
}

static inline int ref_set_str(avro_value_t *rec, int i, const char *s)
{
    avro_value_t f = ref_field(rec, i);
    return avro_value_set_string_len(&f, s, strlen(s) + 1);
}

static inline int ref_set_long(avro_value_t *rec, int i, int64_t v)
{
    avro_value_t f = ref_field(rec, i);
    return avro_value_set_long(&f, v);
}

static inline int ref_set_int(avro_value_t *rec, int i, int v)
{
    avro_value_t f = ref_field(rec, i);
    return avro_value_set_int(&f, v);
}

static inline int ref_set_double(avro_value_t *rec, int i, double v)
{
    avro_value_t f = ref_field(rec, i);
    return avro_value_set_double(&f, v);
}

static inline int ref_set_enum(avro_value_t *rec, int i, int v)
{
    avro_value_t f = ref_field(rec, i);
    return avro_value_set_enum(&f, v);
}

static inline int ref_set_opt_time(avro_value_t *rec, int i, int64_t t)
{
    avro_value_t u = ref_field(rec, i), b;
    if (t == SF_TIME_NONE)
        return avro_value_set_branch(&u, 0, &b) || avro_value_set_null(&b);
    return avro_value_set_branch(&u, 1, &b) || avro_value_set_long(&b, t);
}

static inline int ref_set_opt_double(avro_value_t *rec, int i, double d)
{
    avro_value_t u = ref_field(rec, i), b;
    if (isnan(d))
        return avro_value_set_branch(&u, 0, &b) || avro_value_set_null(&b);
    return avro_value_set_branch(&u, 1, &b) || avro_value_set_double(&b, d);
}

static inline int ref_set_opt_str(avro_value_t *rec, int i, const char *s)
{
    avro_value_t u = ref_field(rec, i), b;
    if (!s)
        return avro_value_set_branch(&u, 0, &b) || avro_value_set_null(&b);
    return avro_value_set_branch(&u, 1, &b) || avro_value_set_string_len(&b, s, strlen(s) + 1);
}

static inline int ref_set_place(avro_value_t *rec, int i, const sf_place *p)
{
    avro_value_t l = ref_field(rec, i);
    return ref_set_str(&l, 0, p->zip) || ref_set_str(&l, 1, p->city) ||
           ref_set_str(&l, 2, p->state) || ref_set_opt_double(&l, 3, p->lat) ||
           ref_set_opt_double(&l, 4, p->lng);
}

/* avro_value_write of schema id's value into out, framed; 0 or -1. */
static inline int ref_write(ref_codec *r, int id, sf_buf *out)
{
    avro_value_t *v = &r->value[id];
    size_t need = 0;
    if (avro_value_sizeof(v, &need) || sf_buf_reserve(out, need + SF_WIRE_HEADER, NULL))
        return -1;
    avro_writer_memory_set_dest(r->writer, (const char *)out->data + SF_WIRE_HEADER,
                                (int64_t)(out->cap - SF_WIRE_HEADER));
    if (avro_value_write(r->writer, v))
        return -1;
    out->data[0] = 0;
    out->data[1] = out->data[2] = out->data[3] = 0;
    out->data[4] = (uint8_t)id;
    out->len = SF_WIRE_HEADER + (size_t)avro_writer_tell(r->writer);
    return 0;
}

static inline int ref_encode_order(ref_codec *r, const sf_order_event *ev, sf_buf *out)
{
    avro_value_t *v = &r->value[SF_SCHEMA_ORDER_EVENT];
    avro_value_reset(v);
    if (ref_set_str(v, 0, ev->order_id) || ref_set_str(v, 1, ev->customer_id) ||
        ref_set_str(v, 2, ev->customer_unique_id) || ref_set_enum(v, 3, ev->stage) ||
        ref_set_long(v, 4, ev->event_time) || ref_set_long(v, 5, ev->purchase) ||
        ref_set_long(v, 6, ev->estimated) || ref_set_opt_time(v, 7, ev->approved) ||
        ref_set_opt_time(v, 8, ev->carrier) || ref_set_opt_time(v, 9, ev->delivered) ||
        ref_set_place(v, 10, &ev->customer))
        return -1;
    avro_value_t items = ref_field(v, 11), pays = ref_field(v, 12), e;
    for (int i = 0; i < ev->n_items; i++) {
        const sf_item *it = &ev->items[i];
        if (avro_value_append(&items, &e, NULL) || ref_set_int(&e, 0, it->seq) ||
            ref_set_str(&e, 1, it->product_id) || ref_set_str(&e, 2, it->seller_id) ||
            ref_set_double(&e, 3, it->price) || ref_set_double(&e, 4, it->freight) ||
            ref_set_long(&e, 5, it->shipping_limit) || ref_set_str(&e, 6, it->category) ||
            ref_set_opt_double(&e, 7, it->name_len) || ref_set_opt_double(&e, 8, it->desc_len) ||
            ref_set_opt_double(&e, 9, it->photos) || ref_set_opt_double(&e, 10, it->weight_g) ||
            ref_set_opt_double(&e, 11, it->length_cm) ||
            ref_set_opt_double(&e, 12, it->height_cm) || ref_set_opt_double(&e, 13, it->width_cm) ||
            ref_set_place(&e, 14, &it->seller))
            return -1;
    }
    for (int i = 0; i < ev->n_payments; i++) {
        const sf_payment *p = &ev->payments[i];
        if (avro_value_append(&pays, &e, NULL) || ref_set_int(&e, 0, p->seq) ||
            ref_set_enum(&e, 1, p->type) || ref_set_int(&e, 2, p->installments) ||
            ref_set_double(&e, 3, p->value))
            return -1;
    }
    return ref_write(r, SF_SCHEMA_ORDER_EVENT, out);
}

static inline int ref_encode_review(ref_codec *r, const sf_review_event *ev, sf_buf *out)
{
    avro_value_t *v = &r->value[SF_SCHEMA_REVIEW_EVENT];
    avro_value_reset(v);
    if (ref_set_str(v, 0, ev->review_id) || ref_set_str(v, 1, ev->order_id) ||
        ref_set_int(v, 2, ev->score) || ref_set_opt_str(v, 3, ev->title) ||
        ref_set_opt_str(v, 4, ev->message) || ref_set_long(v, 5, ev->created) ||
        ref_set_opt_time(v, 6, ev->answered))
        return -1;
    return ref_write(r, SF_SCHEMA_REVIEW_EVENT, out);
}

static inline int ref_encode_prediction(ref_codec *r, const sf_prediction *p, sf_buf *out)
{
    avro_value_t *v = &r->value[SF_SCHEMA_PREDICTION];
    avro_value_reset(v);
    if (ref_set_str(v, 0, p->order_id) || ref_set_str(v, 1, p->event_id) ||
        ref_set_enum(v, 2, p->stage) || ref_set_double(v, 3, p->score) ||
        ref_set_double(v, 4, p->p_dissatisfied) || ref_set_long(v, 6, p->model_version) ||
        ref_set_long(v, 7, p->event_time) || ref_set_long(v, 8, p->scored_at))
        return -1;
    avro_value_t reasons = ref_field(v, 5), e;
    for (int i = 0; i < p->n_reasons; i++) {
        const sf_reason *rs = &p->reasons[i];
        if (avro_value_append(&reasons, &e, NULL) || ref_set_str(&e, 0, rs->feature) ||
            ref_set_opt_double(&e, 1, rs->value) || ref_set_double(&e, 2, rs->contribution))
            return -1;
    }
    return ref_write(r, SF_SCHEMA_PREDICTION, out);
}

static inline int ref_encode_release(ref_codec *r, const sf_model_release *m, sf_buf *out)
{
    avro_value_t *v = &r->value[SF_SCHEMA_MODEL_RELEASE];
    avro_value_reset(v);
    avro_value_t pl = ref_field(v, 7);
    static const uint8_t none = 0;
    if (ref_set_long(v, 0, m->version) || ref_set_str(v, 1, m->algorithm) ||
        ref_set_str(v, 2, m->spec_hash) || ref_set_long(v, 3, m->train_from) ||
        ref_set_long(v, 4, m->train_to) || ref_set_str(v, 5, m->params_json) ||
        ref_set_str(v, 6, m->metrics_json) ||
        avro_value_set_bytes(&pl, (void *)(m->payload ? m->payload : &none), m->payload_len) ||
        ref_set_str(v, 8, m->sha256) || ref_set_long(v, 9, m->released_at))
        return -1;
    return ref_write(r, SF_SCHEMA_MODEL_RELEASE, out);
}

/* ---- reading ---- */

static inline avro_value_t *ref_read(ref_codec *r, int id, const void *buf, size_t len)
{
    if (len < SF_WIRE_HEADER || ((const uint8_t *)buf)[4] != id)
        return NULL;
    avro_value_t *v = &r->value[id];
    avro_value_reset(v);
    size_t body = len - SF_WIRE_HEADER;
    avro_reader_memory_set_source(r->reader, body ? (const char *)buf + SF_WIRE_HEADER : &r->dummy,
                                  (int64_t)body);
    return avro_value_read(r->reader, v) ? NULL : v;
}

static inline const char *ref_get_str(avro_value_t *rec, int i, size_t *len)
{
    avro_value_t f = ref_field(rec, i);
    const char *s = NULL;
    size_t size = 0;
    avro_value_get_string(&f, &s, &size);
    *len = size ? size - 1 : 0;
    return s ? s : "";
}

/* A string into a fixed buffer (cut to fit: a mismatch shows in the test). */
static inline void ref_get_text(avro_value_t *rec, int i, char *dst, size_t cap)
{
    size_t len;
    const char *s = ref_get_str(rec, i, &len);
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

static inline int64_t ref_get_long(avro_value_t *rec, int i)
{
    avro_value_t f = ref_field(rec, i);
    int64_t v = 0;
    avro_value_get_long(&f, &v);
    return v;
}

static inline int ref_get_int(avro_value_t *rec, int i)
{
    avro_value_t f = ref_field(rec, i);
    int32_t v = 0;
    avro_value_get_int(&f, &v);
    return v;
}

static inline double ref_get_double(avro_value_t *rec, int i)
{
    avro_value_t f = ref_field(rec, i);
    double v = 0;
    avro_value_get_double(&f, &v);
    return v;
}

static inline int ref_get_enum(avro_value_t *rec, int i)
{
    avro_value_t f = ref_field(rec, i);
    int v = 0;
    avro_value_get_enum(&f, &v);
    return v;
}

static inline int ref_get_branch(avro_value_t *rec, int i, avro_value_t *b)
{
    avro_value_t u = ref_field(rec, i);
    int d = 0;
    avro_value_get_discriminant(&u, &d);
    if (d == 0)
        return 0;
    avro_value_get_current_branch(&u, b);
    return 1;
}

static inline int64_t ref_get_opt_time(avro_value_t *rec, int i)
{
    avro_value_t b;
    int64_t t = SF_TIME_NONE;
    if (ref_get_branch(rec, i, &b))
        avro_value_get_long(&b, &t);
    return t;
}

static inline double ref_get_opt_double(avro_value_t *rec, int i)
{
    avro_value_t b;
    double d = NAN;
    if (ref_get_branch(rec, i, &b))
        avro_value_get_double(&b, &d);
    return d;
}

static inline void ref_get_place(avro_value_t *rec, int i, sf_place *pl)
{
    avro_value_t l = ref_field(rec, i);
    ref_get_text(&l, 0, pl->zip, sizeof pl->zip);
    ref_get_text(&l, 1, pl->city, sizeof pl->city);
    ref_get_text(&l, 2, pl->state, sizeof pl->state);
    pl->lat = ref_get_opt_double(&l, 3);
    pl->lng = ref_get_opt_double(&l, 4);
}

static inline int ref_decode_order(ref_codec *r, const void *buf, size_t len, sf_order_event *ev)
{
    memset(ev, 0, sizeof *ev);
    avro_value_t *v = ref_read(r, SF_SCHEMA_ORDER_EVENT, buf, len);
    if (!v)
        return -1;
    avro_value_t items = ref_field(v, 11), pays = ref_field(v, 12), e;
    size_t ni = 0, np = 0;
    avro_value_get_size(&items, &ni);
    avro_value_get_size(&pays, &np);
    char *block = calloc(1, ni * sizeof(sf_item) + np * sizeof(sf_payment) + 1);
    sf_item *it = (sf_item *)(void *)block;
    sf_payment *pay = (sf_payment *)(void *)(block + ni * sizeof(sf_item));
    ev->alloc = block;
    ev->items = it;
    ev->n_items = (int)ni;
    ev->payments = pay;
    ev->n_payments = (int)np;
    ref_get_text(v, 0, ev->order_id, sizeof ev->order_id);
    ref_get_text(v, 1, ev->customer_id, sizeof ev->customer_id);
    ref_get_text(v, 2, ev->customer_unique_id, sizeof ev->customer_unique_id);
    ev->stage = (sf_stage)ref_get_enum(v, 3);
    ev->event_time = ref_get_long(v, 4);
    ev->purchase = ref_get_long(v, 5);
    ev->estimated = ref_get_long(v, 6);
    ev->approved = ref_get_opt_time(v, 7);
    ev->carrier = ref_get_opt_time(v, 8);
    ev->delivered = ref_get_opt_time(v, 9);
    ref_get_place(v, 10, &ev->customer);
    for (size_t i = 0; i < ni; i++, it++) {
        avro_value_get_by_index(&items, i, &e, NULL);
        it->seq = ref_get_int(&e, 0);
        ref_get_text(&e, 1, it->product_id, sizeof it->product_id);
        ref_get_text(&e, 2, it->seller_id, sizeof it->seller_id);
        it->price = ref_get_double(&e, 3);
        it->freight = ref_get_double(&e, 4);
        it->shipping_limit = ref_get_long(&e, 5);
        ref_get_text(&e, 6, it->category, sizeof it->category);
        it->name_len = ref_get_opt_double(&e, 7);
        it->desc_len = ref_get_opt_double(&e, 8);
        it->photos = ref_get_opt_double(&e, 9);
        it->weight_g = ref_get_opt_double(&e, 10);
        it->length_cm = ref_get_opt_double(&e, 11);
        it->height_cm = ref_get_opt_double(&e, 12);
        it->width_cm = ref_get_opt_double(&e, 13);
        ref_get_place(&e, 14, &it->seller);
    }
    for (size_t i = 0; i < np; i++, pay++) {
        avro_value_get_by_index(&pays, i, &e, NULL);
        pay->seq = ref_get_int(&e, 0);
        pay->type = (sf_pay_type)ref_get_enum(&e, 1);
        pay->installments = ref_get_int(&e, 2);
        pay->value = ref_get_double(&e, 3);
    }
    return 0;
}

static inline const char *ref_opt_str(avro_value_t *rec, int i, size_t *len)
{
    avro_value_t b;
    const char *s = NULL;
    size_t size = 0;
    *len = 0;
    if (!ref_get_branch(rec, i, &b))
        return NULL;
    avro_value_get_string(&b, &s, &size);
    *len = size ? size - 1 : 0;
    return s ? s : "";
}

static inline int ref_decode_review(ref_codec *r, const void *buf, size_t len, sf_review_event *ev)
{
    memset(ev, 0, sizeof *ev);
    avro_value_t *v = ref_read(r, SF_SCHEMA_REVIEW_EVENT, buf, len);
    if (!v)
        return -1;
    size_t tl, ml;
    const char *t = ref_opt_str(v, 3, &tl), *m = ref_opt_str(v, 4, &ml);
    char *block = malloc(tl + ml + 2);
    ev->alloc = block;
    if (t) {
        memcpy(block, t, tl);
        block[tl] = '\0';
        ev->title = block;
    }
    if (m) {
        memcpy(block + tl + 1, m, ml);
        block[tl + 1 + ml] = '\0';
        ev->message = block + tl + 1;
    }
    ref_get_text(v, 0, ev->review_id, sizeof ev->review_id);
    ref_get_text(v, 1, ev->order_id, sizeof ev->order_id);
    ev->score = ref_get_int(v, 2);
    ev->created = ref_get_long(v, 5);
    ev->answered = ref_get_opt_time(v, 6);
    return 0;
}

static inline int ref_decode_prediction(ref_codec *r, const void *buf, size_t len, sf_prediction *p)
{
    memset(p, 0, sizeof *p);
    avro_value_t *v = ref_read(r, SF_SCHEMA_PREDICTION, buf, len);
    if (!v)
        return -1;
    ref_get_text(v, 0, p->order_id, sizeof p->order_id);
    ref_get_text(v, 1, p->event_id, sizeof p->event_id);
    p->stage = (sf_stage)ref_get_enum(v, 2);
    p->score = ref_get_double(v, 3);
    p->p_dissatisfied = ref_get_double(v, 4);
    avro_value_t reasons = ref_field(v, 5), e;
    size_t n = 0;
    avro_value_get_size(&reasons, &n);
    if (n > SF_REASONS)
        return -1;
    p->n_reasons = (int)n;
    for (size_t i = 0; i < n; i++) {
        avro_value_get_by_index(&reasons, i, &e, NULL);
        ref_get_text(&e, 0, p->reasons[i].feature, sizeof p->reasons[i].feature);
        p->reasons[i].value = ref_get_opt_double(&e, 1);
        p->reasons[i].contribution = ref_get_double(&e, 2);
    }
    p->model_version = ref_get_long(v, 6);
    p->event_time = ref_get_long(v, 7);
    p->scored_at = ref_get_long(v, 8);
    return 0;
}

static inline int ref_decode_release(ref_codec *r, const void *buf, size_t len, sf_model_release *m)
{
    memset(m, 0, sizeof *m);
    avro_value_t *v = ref_read(r, SF_SCHEMA_MODEL_RELEASE, buf, len);
    if (!v)
        return -1;
    size_t pl, ml, bl = 0;
    const char *params = ref_get_str(v, 5, &pl), *metrics = ref_get_str(v, 6, &ml);
    avro_value_t pf = ref_field(v, 7);
    const void *bytes = NULL;
    avro_value_get_bytes(&pf, &bytes, &bl);
    char *block = malloc(bl + pl + ml + 2);
    m->alloc = block;
    if (bl)
        memcpy(block, bytes, bl);
    m->payload = (const uint8_t *)block;
    m->payload_len = (uint32_t)bl;
    memcpy(block + bl, params, pl);
    block[bl + pl] = '\0';
    m->params_json = block + bl;
    memcpy(block + bl + pl + 1, metrics, ml);
    block[bl + pl + 1 + ml] = '\0';
    m->metrics_json = block + bl + pl + 1;
    m->version = ref_get_long(v, 0);
    ref_get_text(v, 1, m->algorithm, sizeof m->algorithm);
    ref_get_text(v, 2, m->spec_hash, sizeof m->spec_hash);
    m->train_from = ref_get_long(v, 3);
    m->train_to = ref_get_long(v, 4);
    ref_get_text(v, 8, m->sha256, sizeof m->sha256);
    m->released_at = ref_get_long(v, 9);
    return 0;
}

#endif
