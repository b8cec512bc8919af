/*
 * test_codec_avroc.c - proves the codec's direct Avro encoder and decoder
 * equal Avro-C's generic writer and reader (tests/unit/codec_avroc_ref.h)
 * over randomized events of every schema (seeded, so a failure replays):
 * unknown times, NaN and other special doubles, empty, multi-byte and
 * maximal strings, empty and maximal arrays, extreme integers. For each
 * event: the fast encoder's bytes are byte-identical to avro_value_write's,
 * Avro-C's reader reads the fast bytes back to the same values, and the fast
 * decoder reads Avro-C's bytes back to the same values. Also: arrays split in
 * several blocks, some sized (negative counts), decode the same in both; and
 * the schemas compiled into the library (schemas/) have exactly the fields,
 * types, unions and enum symbols the codec writes (a check that once ran in
 * the library at every codec set-up: it is a property of the build, so it is
 * proven here once, where Avro-C is a test dependency).
 */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_avroc_ref.h"
#include "satisfy/clock.h"
#include "satisfy/codec.h"
#include "satisfy/varint.h"

static uint64_t rng_state;
static int64_t g_now; /* the wall clock at the start (valid event times end there) */

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int pick(int n)
{
    return (int)(rnd() % (uint64_t)n);
}

static void rand_hex(char *out, int n)
{
    static const char digits[] = "0123456789abcdefABCDEF";
    for (int i = 0; i < n; i++)
        out[i] = digits[pick(pick(4) ? 16 : 22)];
    out[n] = '\0';
}

/* Valid UTF-8 of at most max bytes: empty, full or random length; ASCII,
 * control characters and 2-, 3- and 4-byte sequences. */
static size_t rand_text(char *out, size_t max)
{
    int mode = pick(10);
    size_t target = mode == 0 ? 0 : mode == 1 ? max : (size_t)(rnd() % (max + 1));
    size_t n = 0;
    while (n < target) {
        uint32_t cp;
        int k = pick(8);
        if (k < 4)
            cp = 0x20 + (uint32_t)pick(0x5f);
        else if (k == 4)
            cp = "\n\t\r\x01\x7f\""[pick(6)];
        else if (k == 5)
            cp = 0x80 + (uint32_t)pick(0x780);
        else if (k == 6) {
            cp = 0x800 + (uint32_t)pick(0xf800);
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xe000;
        } else
            cp = 0x10000 + (uint32_t)pick(0x100000);
        size_t len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n + len > target) {
            out[n++] = 'x';
            continue;
        }
        if (len == 1)
            out[n++] = (char)cp;
        else if (len == 2) {
            out[n++] = (char)(0xc0 | (cp >> 6));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        } else if (len == 3) {
            out[n++] = (char)(0xe0 | (cp >> 12));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[n++] = (char)(0xf0 | (cp >> 18));
            out[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    out[n] = '\0';
    return n;
}

static double rand_double(void)
{
    static const double special[] = {0.0,     -0.0,     1.0,      -1.0,      1e300, -1e-300, 5e-324,
                                     DBL_MAX, -DBL_MAX, INFINITY, -INFINITY, NAN,   29.99,   0.1};
    int k = pick(4);
    if (k == 0)
        return special[pick((int)(sizeof special / sizeof special[0]))];
    if (k == 1) { /* any bit pattern, NaN payloads included */
        uint64_t u = rnd();
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    return (double)(int64_t)(rnd() % 2000000) / 100.0 - 5000.0;
}

static int64_t rand_time(int optional)
{
    switch (pick(8)) {
    case 0:
        return optional ? SF_TIME_NONE : 0;
    case 1:
        return INT64_MIN + 1;
    case 2:
        return INT64_MAX;
    case 3:
        return -1 - (int64_t)pick(1000);
    case 4: {
        int64_t t = (int64_t)rnd();
        return t == SF_TIME_NONE ? 0 : t;
    }
    default:
        return 1475000000000LL + (int64_t)(rnd() % 70000000000ULL);
    }
}

/* A time of an order or review event: within the valid range (codec.h),
 * its ends included; happened = 1 for a time something happened at (not
 * after the wall clock), 0 for a deadline (up to the last valid time). */
static int64_t rand_event_time(int optional, int happened)
{
    const int64_t last = happened ? g_now : SF_CODEC_TIME_MAX - 1;
    switch (pick(8)) {
    case 0:
        return optional ? SF_TIME_NONE : SF_CODEC_TIME_MIN;
    case 1:
        return SF_CODEC_TIME_MIN;
    case 2:
        return last;
    case 3:
        return SF_CODEC_TIME_MIN + (int64_t)(rnd() % (uint64_t)(last - SF_CODEC_TIME_MIN + 1));
    default:
        return 1475000000000LL + (int64_t)(rnd() % 70000000000ULL);
    }
}

static int rand_int(void)
{
    switch (pick(5)) {
    case 0:
        return INT32_MIN;
    case 1:
        return INT32_MAX;
    case 2:
        return -pick(100);
    default:
        return pick(30);
    }
}

static int rand_count(int max)
{
    int k = pick(60);
    return k == 0 ? max : k < 10 ? 0 : 1 + pick(k < 50 ? 3 : 40);
}

static void rand_place(sf_place *p)
{
    int zk = pick(3);
    if (zk == 0)
        p->zip[0] = '\0';
    else
        rand_text(p->zip, sizeof p->zip - 1);
    rand_text(p->city, sizeof p->city - 1);
    rand_text(p->state, sizeof p->state - 1);
    p->lat = rand_double();
    p->lng = pick(3) ? rand_double() : NAN;
}

static sf_item g_items[SF_CODEC_MAX_ITEMS];
static sf_payment g_pays[SF_CODEC_MAX_ITEMS];

static sf_order_event rand_order(void)
{
    sf_order_event ev;
    memset(&ev, 0, sizeof ev);
    rand_hex(ev.order_id, SF_ID_LEN);
    rand_hex(ev.customer_id, SF_ID_LEN);
    rand_hex(ev.customer_unique_id, SF_ID_LEN);
    ev.stage = (sf_stage)pick(SF_STAGE_COUNT);
    ev.event_time = rand_event_time(0, 1);
    ev.purchase = rand_event_time(0, 1);
    ev.estimated = rand_event_time(0, 0);
    ev.approved = rand_event_time(1, 1);
    ev.carrier = rand_event_time(1, 1);
    ev.delivered = rand_event_time(1, 1);
    rand_place(&ev.customer);
    ev.n_items = rand_count(SF_CODEC_MAX_ITEMS);
    ev.n_payments = rand_count(SF_CODEC_MAX_ITEMS);
    for (int i = 0; i < ev.n_items; i++) {
        sf_item *it = &g_items[i];
        it->seq = rand_int();
        rand_hex(it->product_id, SF_ID_LEN);
        rand_hex(it->seller_id, SF_ID_LEN);
        it->price = rand_double();
        it->freight = rand_double();
        it->shipping_limit = rand_event_time(0, 0);
        rand_text(it->category, sizeof it->category - 1);
        double *d[7] = {&it->name_len,  &it->desc_len,  &it->photos,  &it->weight_g,
                        &it->length_cm, &it->height_cm, &it->width_cm};
        for (int k = 0; k < 7; k++)
            *d[k] = pick(4) ? rand_double() : NAN;
        rand_place(&it->seller);
    }
    for (int i = 0; i < ev.n_payments; i++) {
        g_pays[i].seq = rand_int();
        g_pays[i].type = (sf_pay_type)pick(SF_PAY_COUNT);
        g_pays[i].installments = rand_int();
        g_pays[i].value = rand_double();
    }
    ev.items = g_items;
    ev.payments = g_pays;
    return ev;
}

/* Bits of a double that is always written (NaN payloads must survive). */
static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* A ["null", double]: NaN is null, read back as some NaN. */
static int same_opt(double a, double b)
{
    return isnan(a) ? isnan(b) : same_bits(a, b);
}

static void order_eq(const sf_order_event *a, const sf_order_event *b)
{
    tu_assert_order_eq(a, b, same_bits, same_opt);
}

static void same_bytes(const sf_buf *fast, const sf_buf *ref, const char *what, int iter)
{
    size_t n = fast->len < ref->len ? fast->len : ref->len, i = 0;
    while (i < n && fast->data[i] == ref->data[i])
        i++;
    if (fast->len != ref->len || i < n)
        fail_msg("%s %d: fast encoder wrote %zu bytes, Avro-C %zu; first difference at byte %zu",
                 what, iter, fast->len, ref->len, i);
}

struct ctx {
    ref_codec *ref;
    sf_buf fast, slow;
};

static struct ctx setup(uint64_t seed)
{
    struct ctx x = {0};
    rng_state = seed;
    g_now = sf_wall_ms();
    x.ref = ref_new();
    assert_non_null(x.ref);
    return x;
}

static void teardown(struct ctx *x)
{
    ref_free(x->ref);
    sf_buf_free(&x->fast);
    sf_buf_free(&x->slow);
}

static void test_orders_match_avroc(void **state)
{
    (void)state;
    struct ctx x = setup(1);
    sf_err err;
    for (int i = 0; i < 2000; i++) {
        sf_order_event ev = rand_order(), a, b;
        if (sf_check_order(&ev, &err))
            fail_msg("order %d: generator made an invalid event: %s", i, err.msg);
        if (sf_encode_order(&ev, &x.fast, &err))
            fail_msg("order %d: %s", i, err.msg);
        assert_int_equal(ref_encode_order(x.ref, &ev, &x.slow), 0);
        same_bytes(&x.fast, &x.slow, "order", i);
        assert_int_equal(ref_decode_order(x.ref, x.fast.data, x.fast.len, &a), 0);
        order_eq(&ev, &a);
        if (sf_decode_order(x.slow.data, x.slow.len, &b, &err))
            fail_msg("order %d: %s", i, err.msg);
        order_eq(&ev, &b);
        free(a.alloc);
        sf_order_event_clear(&b);
    }
    teardown(&x);
}

static char g_title[SF_CODEC_MAX_STRING + 1], g_message[SF_CODEC_MAX_STRING + 1];

static const char *rand_opt_text(char *buf)
{
    int k = pick(20);
    if (k < 4)
        return NULL;
    rand_text(buf, k == 4 ? SF_CODEC_MAX_STRING : 300);
    return buf;
}

static void test_reviews_match_avroc(void **state)
{
    (void)state;
    struct ctx x = setup(2);
    sf_err err;
    for (int i = 0; i < 2000; i++) {
        sf_review_event ev = {0}, a, b;
        rand_hex(ev.review_id, SF_ID_LEN);
        rand_hex(ev.order_id, SF_ID_LEN);
        ev.score = 1 + pick(5);
        ev.title = rand_opt_text(g_title);
        ev.message = rand_opt_text(g_message);
        ev.created = rand_event_time(0, 1);
        ev.answered = rand_event_time(1, 1);
        if (sf_encode_review(&ev, &x.fast, &err))
            fail_msg("review %d: %s", i, err.msg);
        assert_int_equal(ref_encode_review(x.ref, &ev, &x.slow), 0);
        same_bytes(&x.fast, &x.slow, "review", i);
        assert_int_equal(ref_decode_review(x.ref, x.fast.data, x.fast.len, &a), 0);
        if (sf_decode_review(x.slow.data, x.slow.len, &b, &err))
            fail_msg("review %d: %s", i, err.msg);
        const sf_review_event *outs[2] = {&a, &b};
        for (int k = 0; k < 2; k++) {
            const sf_review_event *o = outs[k];
            assert_string_equal(o->review_id, ev.review_id);
            assert_string_equal(o->order_id, ev.order_id);
            assert_int_equal(o->score, ev.score);
            assert_true(o->created == ev.created && o->answered == ev.answered);
            assert_true(!o->title == !ev.title && !o->message == !ev.message);
            if (ev.title)
                assert_string_equal(o->title, ev.title);
            if (ev.message)
                assert_string_equal(o->message, ev.message);
        }
        sf_review_event_clear(&a);
        sf_review_event_clear(&b);
    }
    teardown(&x);
}

static void prediction_eq(const sf_prediction *a, const sf_prediction *b)
{
    assert_string_equal(a->order_id, b->order_id);
    assert_string_equal(a->event_id, b->event_id);
    assert_int_equal(a->stage, b->stage);
    assert_true(same_bits(a->score, b->score) && same_bits(a->p_dissatisfied, b->p_dissatisfied));
    assert_int_equal(a->n_reasons, b->n_reasons);
    for (int i = 0; i < a->n_reasons; i++) {
        assert_string_equal(a->reasons[i].feature, b->reasons[i].feature);
        assert_true(same_opt(a->reasons[i].value, b->reasons[i].value));
        assert_true(same_bits(a->reasons[i].contribution, b->reasons[i].contribution));
    }
    assert_true(a->model_version == b->model_version && a->event_time == b->event_time &&
                a->scored_at == b->scored_at);
}

static void test_predictions_match_avroc(void **state)
{
    (void)state;
    struct ctx x = setup(3);
    sf_err err;
    static const double scores[] = {1.0, 5.0, 3.3, 4.999999};
    static const double ps[] = {0.0, -0.0, 1.0, 0.5, 1e-300};
    for (int i = 0; i < 3000; i++) {
        sf_prediction p, a, b;
        memset(&p, 0, sizeof p);
        rand_hex(p.order_id, SF_ID_LEN);
        rand_text(p.event_id, sizeof p.event_id - 1);
        p.stage = (sf_stage)pick(SF_STAGE_COUNT);
        p.score = pick(2) ? scores[pick(4)] : 1.0 + (double)(rnd() % 4000000) / 1e6;
        p.p_dissatisfied = pick(2) ? ps[pick(5)] : (double)(rnd() % 1000000) / 1e6;
        p.n_reasons = pick(SF_REASONS + 1);
        for (int k = 0; k < p.n_reasons; k++) {
            rand_text(p.reasons[k].feature, sizeof p.reasons[k].feature - 1);
            p.reasons[k].value = pick(4) ? rand_double() : NAN;
            p.reasons[k].contribution = rand_double();
        }
        p.model_version = (int64_t)rnd();
        p.event_time = rand_time(0);
        p.scored_at = rand_time(0);
        if (sf_encode_prediction(&p, &x.fast, &err))
            fail_msg("prediction %d: %s", i, err.msg);
        assert_int_equal(ref_encode_prediction(x.ref, &p, &x.slow), 0);
        same_bytes(&x.fast, &x.slow, "prediction", i);
        assert_int_equal(ref_decode_prediction(x.ref, x.fast.data, x.fast.len, &a), 0);
        prediction_eq(&p, &a);
        if (sf_decode_prediction(x.slow.data, x.slow.len, &b, &err))
            fail_msg("prediction %d: %s", i, err.msg);
        prediction_eq(&p, &b);
    }
    teardown(&x);
}

static void test_releases_match_avroc(void **state)
{
    (void)state;
    struct ctx x = setup(4);
    sf_err err;
    char *params = malloc(SF_CODEC_MAX_JSON + 1), *metrics = malloc(SF_CODEC_MAX_JSON + 1);
    uint8_t *payload = malloc(SF_CODEC_MAX_PAYLOAD);
    for (uint32_t i = 0; i < SF_CODEC_MAX_PAYLOAD; i++)
        payload[i] = (uint8_t)rnd();
    for (int i = 0; i < 200; i++) {
        sf_model_release m, a, b;
        memset(&m, 0, sizeof m);
        m.version = (int64_t)rnd();
        rand_text(m.algorithm, sizeof m.algorithm - 1);
        rand_hex(m.spec_hash, 16);
        rand_hex(m.sha256, 64);
        m.train_from = rand_time(0);
        m.train_to = rand_time(0);
        m.released_at = rand_time(0);
        rand_text(params, i == 7 ? SF_CODEC_MAX_JSON : 2000);
        rand_text(metrics, i == 8 ? SF_CODEC_MAX_JSON : 500);
        m.params_json = params;
        m.metrics_json = metrics;
        m.payload_len = i == 9 ? SF_CODEC_MAX_PAYLOAD : (uint32_t)pick(3) * (uint32_t)pick(3000);
        m.payload = m.payload_len || pick(2) ? payload + pick(100) * (m.payload_len < 1000) : NULL;
        if (sf_encode_release(&m, &x.fast, &err))
            fail_msg("release %d: %s", i, err.msg);
        assert_int_equal(ref_encode_release(x.ref, &m, &x.slow), 0);
        same_bytes(&x.fast, &x.slow, "release", i);
        assert_int_equal(ref_decode_release(x.ref, x.fast.data, x.fast.len, &a), 0);
        if (sf_decode_release(x.slow.data, x.slow.len, &b, &err))
            fail_msg("release %d: %s", i, err.msg);
        const sf_model_release *outs[2] = {&a, &b};
        for (int k = 0; k < 2; k++) {
            const sf_model_release *o = outs[k];
            assert_true(o->version == m.version && o->train_from == m.train_from &&
                        o->train_to == m.train_to && o->released_at == m.released_at);
            assert_string_equal(o->algorithm, m.algorithm);
            assert_string_equal(o->spec_hash, m.spec_hash);
            assert_string_equal(o->sha256, m.sha256);
            assert_string_equal(o->params_json, m.params_json);
            assert_string_equal(o->metrics_json, m.metrics_json);
            assert_int_equal(o->payload_len, m.payload_len);
            if (m.payload_len)
                assert_memory_equal(o->payload, m.payload, m.payload_len);
        }
        sf_model_release_clear(&a);
        sf_model_release_clear(&b);
    }
    free(params);
    free(metrics);
    free(payload);
    teardown(&x);
}

/* ---- arrays in several blocks ---- */

static void put_varint(sf_buf *b, int64_t v)
{
    b->len = (size_t)(sf_varint_put(b->data + b->len, sf_zigzag(v)) - b->data);
}

static void put_raw(sf_buf *b, const uint8_t *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Appends blocks of the given sizes (negative: a sized block) of the
 * encoded elements elem[i] (elen[i] bytes each), then the 0 terminator. */
static void put_blocks(sf_buf *b, const int *blocks, int nb, uint8_t **elem, const size_t *elen)
{
    int e = 0;
    for (int k = 0; k < nb; k++) {
        int n = abs(blocks[k]);
        size_t size = 0;
        for (int i = 0; i < n; i++)
            size += elen[e + i];
        put_varint(b, blocks[k]);
        if (blocks[k] < 0)
            put_varint(b, (int64_t)size);
        for (int i = 0; i < n; i++, e++)
            put_raw(b, elem[e], elen[e]);
    }
    put_varint(b, 0);
}

static void test_multi_block_arrays(void **state)
{
    (void)state;
    struct ctx x = setup(5);
    sf_err err;
    for (int round = 0; round < 50; round++) {
        sf_order_event ev;
        do
            ev = rand_order();
        while (ev.n_items > 100 || ev.n_payments > 100);
        ev.n_items = 7;
        ev.n_payments = 9;
        for (int i = 0; i < 9; i++) { /* rand_order may have made fewer */
            g_pays[i].seq = i;
            g_pays[i].type = (sf_pay_type)(i % SF_PAY_COUNT);
            g_pays[i].installments = i;
            g_pays[i].value = i * 1.5;
        }
        for (int i = 0; i < 7; i++)
            if (i >= 1)
                g_items[i] = g_items[0], g_items[i].seq = i;
        /* The body before the arrays, and each element's bytes: an event
         * with no arrays ends in 0 0; with one element, in 2 E 0 (0). */
        sf_order_event one = ev;
        one.n_items = one.n_payments = 0;
        assert_int_equal(sf_encode_order(&one, &x.fast, &err), 0);
        size_t head = x.fast.len - 2;
        uint8_t *elem[16];
        size_t elen[16];
        for (int i = 0; i < 7 + 9; i++) {
            one = ev;
            one.n_items = 0;
            one.n_payments = 0;
            if (i < 7) {
                one.items = &g_items[i];
                one.n_items = 1;
            } else {
                one.payments = &g_pays[i - 7];
                one.n_payments = 1;
            }
            assert_int_equal(sf_encode_order(&one, &x.slow, &err), 0);
            size_t from = head + (i < 7 ? 1 : 2), to = x.slow.len - (i < 7 ? 2 : 1);
            elen[i] = to - from;
            elem[i] = malloc(elen[i]);
            memcpy(elem[i], x.slow.data + from, elen[i]);
        }
        sf_buf msg = {0};
        assert_int_equal(sf_buf_reserve(&msg, x.fast.len + 8192, &err), 0);
        put_raw(&msg, x.fast.data, head);
        static const int item_blocks[] = {2, -3, 1, 1}, pay_blocks[] = {1, -1, 3, -4};
        put_blocks(&msg, item_blocks, 4, elem, elen);
        put_blocks(&msg, pay_blocks, 4, elem + 7, elen + 7);
        sf_order_event a, b;
        assert_int_equal(ref_decode_order(x.ref, msg.data, msg.len, &a), 0);
        order_eq(&ev, &a);
        if (sf_decode_order(msg.data, msg.len, &b, &err))
            fail_msg("multi-block order: %s", err.msg);
        order_eq(&ev, &b);
        /* and back to the one-block form Avro-C writes */
        assert_int_equal(sf_encode_order(&b, &x.fast, &err), 0);
        assert_int_equal(ref_encode_order(x.ref, &ev, &x.slow), 0);
        same_bytes(&x.fast, &x.slow, "multi-block order", round);
        free(a.alloc);
        sf_order_event_clear(&b);
        sf_buf_free(&msg);
        for (int i = 0; i < 16; i++)
            free(elem[i]);
    }
    teardown(&x);
}

/* ---- the compiled-in schemas match the codec ---- */

/* The fields of each record, in schema order, as lib/events/codec_write.c writes
 * them and lib/events/codec_read.c reads them; opt marks a ["null", type] union. */
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
static const struct fdesc al_f[] = {
    {"order_id", AVRO_STRING, 0},     {"event_id", AVRO_STRING, 0},  {"stage", AVRO_ENUM, 0},
    {"score", AVRO_DOUBLE, 0},        {"risk", AVRO_DOUBLE, 0},      {"reasons", AVRO_ARRAY, 0},
    {"model_version", AVRO_INT64, 0}, {"event_time", AVRO_INT64, 0}, {"scored_at", AVRO_INT64, 0},
    {"threshold", AVRO_DOUBLE, 0},
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

static const struct fdesc ss_f[] = {
    {"epoch", AVRO_INT64, 0},  {"champion", AVRO_INT64, 0}, {"challenger", AVRO_INT64, 0},
    {"cause", AVRO_STRING, 0}, {"reason", AVRO_STRING, 0},  {"at", AVRO_INT64, 0},
};

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

static int check_schemas(avro_schema_t *s, sf_err *err)
{
    avro_schema_t oe = s[SF_SCHEMA_ORDER_EVENT];
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
    if (check_fields(s[SF_SCHEMA_REVIEW_EVENT], "ReviewEvent", FIELDS(rv_f), err))
        return -1;
    avro_schema_t pr = s[SF_SCHEMA_PREDICTION];
    if (check_fields(pr, "Prediction", FIELDS(pr_f), err) ||
        check_enum(field_schema(pr, "stage"), "Prediction.stage", SF_STAGE_COUNT, stage_sym, err) ||
        check_fields(array_items(pr, "reasons"), "Reason", FIELDS(rs_f), err))
        return -1;
    avro_schema_t al = s[SF_SCHEMA_ALERT]; /* a Prediction's fields, then the threshold */
    if (check_fields(al, "Alert", FIELDS(al_f), err) ||
        check_enum(field_schema(al, "stage"), "Alert.stage", SF_STAGE_COUNT, stage_sym, err) ||
        check_fields(array_items(al, "reasons"), "Reason", FIELDS(rs_f), err))
        return -1;
    if (check_fields(s[SF_SCHEMA_MODEL_RELEASE], "ModelRelease", FIELDS(mr_f), err))
        return -1;
    return check_fields(s[SF_SCHEMA_SERVING_STATE], "ServingState", FIELDS(ss_f), err);
}

static int load_catalog(avro_schema_t *s, sf_err *err)
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
        if (s[i]) {
            sf_errf(err, "catalog.json: id %d listed twice", i);
            goto out;
        }
        const struct sf_embedded_file *f = sf_schema_file(file->valuestring);
        if (!f) {
            sf_errf(err, "catalog.json: schema file %s is not embedded", file->valuestring);
            goto out;
        }
        if (avro_schema_from_json_length((const char *)f->data, f->len, &s[i])) {
            s[i] = NULL;
            sf_errf(err, "%s: %s", file->valuestring, avro_strerror());
            goto out;
        }
        if (strcmp(avro_schema_name(s[i]), name->valuestring) != 0) {
            sf_errf(err, "%s: record is named %s, the catalog says %s", file->valuestring,
                    avro_schema_name(s[i]), name->valuestring);
            goto out;
        }
    }
    for (int i = 1; i <= SF_SCHEMA_MAX; i++)
        if (!s[i] && sf_schema_name(i)) { /* a reserved id has no name */
            sf_errf(err, "catalog.json: schema %s (id %d) missing", sf_schema_name(i), i);
            goto out;
        }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

static void free_schemas(avro_schema_t *s)
{
    for (int i = 1; i <= SF_SCHEMA_MAX; i++)
        if (s[i])
            avro_schema_decref(s[i]);
}

/* The embedded schema `file` with the first `from` replaced by `to`. */
static avro_schema_t patched(const char *file, const char *from, const char *to)
{
    const struct sf_embedded_file *f = sf_schema_file(file);
    assert_non_null(f);
    const char *at = strstr((const char *)f->data, from);
    assert_non_null(at);
    size_t head = (size_t)(at - (const char *)f->data), fl = strlen(from), tl = strlen(to);
    char *txt = malloc(f->len - fl + tl + 1);
    assert_non_null(txt);
    memcpy(txt, f->data, head);
    memcpy(txt + head, to, tl);
    memcpy(txt + head + tl, at + fl, f->len - head - fl + 1);
    avro_schema_t out = NULL;
    if (avro_schema_from_json_length(txt, strlen(txt), &out))
        fail_msg("%s patched: %s", file, avro_strerror());
    free(txt);
    return out;
}

/* The schemas compiled into the library (catalog.json and the .avsc files)
 * have exactly the records, fields, types, union shapes (["null", T], null
 * first) and enum symbols the codec writes and reads, under the ids and
 * names sf_schema_name gives; and the check notices a schema that differs. */
static void test_schemas_match_codec(void **state)
{
    (void)state;
    avro_schema_t s[SF_SCHEMA_MAX + 1] = {0};
    sf_err err;
    if (load_catalog(s, &err) || check_schemas(s, &err))
        fail_msg("%s", err.msg);
    static const struct {
        int id;
        const char *file, *from, *to, *why;
    } bad[] = {
        {SF_SCHEMA_ORDER_EVENT, "order_event.avsc", "\"carrier_time\"", "\"carrier_at\"",
         "field 8 is \"carrier_at\", the codec expects \"carrier_time\""},
        {SF_SCHEMA_ORDER_EVENT, "order_event.avsc", "[\"PURCHASED\", \"APPROVED\"",
         "[\"APPROVED\", \"PURCHASED\"", "symbol 0 is APPROVED"},
        {SF_SCHEMA_PREDICTION, "prediction.avsc", "[\"null\", \"double\"]",
         "[\"double\", \"null\"]", "must be [\"null\", double]"},
        {SF_SCHEMA_MODEL_RELEASE, "model_release.avsc", "\"version\", \"type\": \"long\"",
         "\"version\", \"type\": \"int\"", "field version is int, the codec expects long"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        avro_schema_t good = s[bad[i].id];
        s[bad[i].id] = patched(bad[i].file, bad[i].from, bad[i].to);
        err.msg[0] = '\0';
        assert_int_equal(check_schemas(s, &err), -1);
        if (!strstr(err.msg, bad[i].why))
            fail_msg("%s: expected \"%s\" in \"%s\"", bad[i].file, bad[i].why, err.msg);
        avro_schema_decref(s[bad[i].id]);
        s[bad[i].id] = good;
    }
    free_schemas(s);
}

/* Well-formed Avro (Avro-C writes it without our value checks) with one time
 * of an order or review event outside the valid range (codec.h): the decoder
 * refuses it, naming the field and the value. */
static void test_time_range_avroc(void **state)
{
    (void)state;
    struct ctx x = setup(7);
    sf_err err;
    const int64_t bad[] = {-5, SF_CODEC_TIME_MIN - 1, SF_CODEC_TIME_MAX, 1LL << 60, INT64_MAX};
    const char *names[] = {
        "event_time",   "purchase_time",  "estimated_delivery",      "approved_time",
        "carrier_time", "delivered_time", "items[0].shipping_limit", "created",
        "answered"};
    char want[128];
    for (int k = 0; k < 9; k++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            sf_order_event ev, o;
            do
                ev = rand_order();
            while (ev.n_items == 0);
            sf_review_event rv = {.score = 3, .created = 1508000000000LL, .answered = SF_TIME_NONE},
                            r;
            rand_hex(rv.review_id, SF_ID_LEN);
            memcpy(rv.order_id, ev.order_id, sizeof rv.order_id);
            int64_t *f[] = {&ev.event_time,
                            &ev.purchase,
                            &ev.estimated,
                            &ev.approved,
                            &ev.carrier,
                            &ev.delivered,
                            &g_items[0].shipping_limit,
                            &rv.created,
                            &rv.answered};
            *f[k] = bad[i];
            snprintf(want, sizeof want, "%s: %" PRId64 " is not a valid event time", names[k],
                     bad[i]);
            int rc;
            if (k < 7) {
                assert_int_equal(ref_encode_order(x.ref, &ev, &x.slow), 0);
                rc = sf_decode_order(x.slow.data, x.slow.len, &o, &err);
            } else {
                assert_int_equal(ref_encode_review(x.ref, &rv, &x.slow), 0);
                rc = sf_decode_review(x.slow.data, x.slow.len, &r, &err);
            }
            if (rc == 0)
                fail_msg("%s = %" PRId64 ": decoded", names[k], bad[i]);
            if (!strstr(err.msg, want))
                fail_msg("%s = %" PRId64 ": \"%s\" lacks \"%s\"", names[k], bad[i], err.msg, want);
        }
    teardown(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_match_avroc),      cmocka_unit_test(test_reviews_match_avroc),
        cmocka_unit_test(test_predictions_match_avroc), cmocka_unit_test(test_releases_match_avroc),
        cmocka_unit_test(test_multi_block_arrays),      cmocka_unit_test(test_schemas_match_codec),
        cmocka_unit_test(test_time_range_avroc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
