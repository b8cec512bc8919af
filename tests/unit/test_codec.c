/*
 * test_codec.c - the wire codec and the JSON view: every schema round-trips
 * (unknown times, NaN numbers, empty and maximal arrays, unicode text with
 * newlines, binary payloads); encoders refuse events that break the contract;
 * the malformed-buffer corpus is rejected, each case with its own message.
 */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_samples.h"
#include "satisfy/clock.h"
#include "satisfy/codec.h"

#define OID  "e481f51cbdc54678b7cc49136f2d6af7"
#define CID  "9ef432eb6251297304e76186b10a928d"
#define CUID "7c396fd4830fd04220f754e42b4e5bff"
#define PID  "87285b34884572647811a353c7ac498a"
#define SID  "3504c0cb71d7fa48d967e0e4c94d59d9"
#define RID  "7bc2406110b926393aa56f80a40eba40"

static sf_item g_items[SF_CODEC_MAX_ITEMS];
static sf_payment g_pays[SF_CODEC_MAX_ITEMS];

/* An order event at stage s with n items and m payments (in g_items/g_pays). */
static sf_order_event make_order(sf_stage s, int n, int m)
{
    sf_order_event ev;
    memset(&ev, 0, sizeof ev);
    strcpy(ev.order_id, OID);
    strcpy(ev.customer_id, CID);
    strcpy(ev.customer_unique_id, CUID);
    ev.stage = s;
    ev.purchase = 1506970000000LL;
    ev.estimated = 1508000000000LL;
    ev.approved = s >= SF_STAGE_APPROVED ? 1506971000000LL : SF_TIME_NONE;
    ev.carrier = s >= SF_STAGE_SHIPPED ? 1507100000000LL : SF_TIME_NONE;
    ev.delivered = s == SF_STAGE_DELIVERED ? 1507700000000LL : SF_TIME_NONE;
    ev.event_time = s == SF_STAGE_DELIVERED ? ev.delivered : ev.purchase;
    sample_place(&ev.customer, "03149", "são paulo", "SP", -23.57, -46.58);
    for (int i = 0; i < n; i++) {
        sf_item *it = &g_items[i];
        memset(it, 0, sizeof *it);
        it->seq = i + 1;
        strcpy(it->product_id, PID);
        strcpy(it->seller_id, SID);
        it->price = 29.99 + i;
        it->freight = 8.72;
        it->shipping_limit = 1507000000000LL + i;
        snprintf(it->category, sizeof it->category, "%s", i % 2 ? "" : "housewares");
        it->name_len = 40;
        it->desc_len = i % 3 ? NAN : 268;
        it->photos = 4;
        it->weight_g = 500;
        it->length_cm = 19;
        it->height_cm = NAN;
        it->width_cm = 14;
        sample_place(&it->seller, "09350", "maua", "SP", i % 2 ? NAN : -23.68,
                     i % 2 ? NAN : -46.44);
    }
    for (int i = 0; i < m; i++) {
        g_pays[i].seq = i + 1;
        g_pays[i].type = (sf_pay_type)(i % SF_PAY_COUNT);
        g_pays[i].installments = i % 12;
        g_pays[i].value = 18.12 + i;
    }
    ev.items = g_items;
    ev.n_items = n;
    ev.payments = g_pays;
    ev.n_payments = m;
    return ev;
}

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static void assert_order_eq(const sf_order_event *a, const sf_order_event *b)
{
    tu_assert_order_eq(a, b, same_double, same_double);
}

static void order_round_trip(const sf_order_event *ev)
{
    sf_buf b = {0};
    sf_err err = {{0}};
    sf_order_event out;
    if (sf_encode_order(ev, &b, &err))
        fail_msg("encode: %s", err.msg);
    int id = 0;
    assert_int_equal(sf_wire_peek(b.data, b.len, &id, &err), 0);
    assert_int_equal(id, SF_SCHEMA_ORDER_EVENT);
    assert_int_equal(b.data[0], 0);
    if (sf_decode_order(b.data, b.len, &out, &err))
        fail_msg("decode: %s", err.msg);
    assert_non_null(out.alloc);
    assert_order_eq(ev, &out);
    sf_order_event_clear(&out);
    assert_null(out.alloc);
    sf_buf_free(&b);
}

static void test_order_round_trip(void **state)
{
    (void)state;
    for (int s = 0; s < SF_STAGE_COUNT; s++) {
        sf_order_event ev = make_order((sf_stage)s, 2, 1);
        order_round_trip(&ev);
    }
    sf_order_event ev = make_order(SF_STAGE_PURCHASED, 0, 0); /* empty arrays */
    ev.customer.lat = ev.customer.lng = NAN;
    ev.customer.zip[0] = ev.customer.city[0] = ev.customer.state[0] = '\0';
    order_round_trip(&ev);
    ev = make_order(SF_STAGE_DELIVERED, SF_CODEC_MAX_ITEMS, SF_CODEC_MAX_ITEMS); /* max */
    order_round_trip(&ev);
    ev = make_order(SF_STAGE_SHIPPED, 3, 2); /* extreme values */
    g_items[0].price = -0.0;
    g_items[1].price = 1e300;
    g_items[2].seq = INT32_MIN;
    g_pays[0].installments = INT32_MAX;
    ev.event_time = SF_CODEC_TIME_MIN; /* the first valid event time */
    ev.approved = SF_CODEC_TIME_MIN;
    ev.estimated = SF_CODEC_TIME_MAX - 1; /* a deadline: up to the last valid one */
    snprintf(ev.customer.city, sizeof ev.customer.city, "%s", "são joão del-rei ✓ 東京");
    order_round_trip(&ev);
}

static void test_review_round_trip(void **state)
{
    (void)state;
    sf_err err;
    const char *titles[] = {NULL, "", "ótimo"};
    const char *messages[] = {"Recebi bem antes do prazo.\nRecomendo!\r\n😀 ação", NULL, ""};
    sf_buf b = {0};
    for (int i = 0; i < 3; i++) {
        sf_review_event ev = {.score = i + 3, .created = 1508000000000LL};
        strcpy(ev.review_id, RID);
        strcpy(ev.order_id, OID);
        ev.title = titles[i];
        ev.message = messages[i];
        ev.answered = i == 1 ? SF_TIME_NONE : 1508100000000LL;
        sf_review_event out;
        if (sf_encode_review(&ev, &b, &err) || sf_decode_review(b.data, b.len, &out, &err))
            fail_msg("review %d: %s", i, err.msg);
        assert_string_equal(out.review_id, RID);
        assert_string_equal(out.order_id, OID);
        assert_int_equal(out.score, ev.score);
        if (titles[i])
            assert_string_equal(out.title, titles[i]);
        else
            assert_null(out.title);
        if (messages[i])
            assert_string_equal(out.message, messages[i]);
        else
            assert_null(out.message);
        assert_true(out.created == ev.created && out.answered == ev.answered);
        sf_review_event_clear(&out);
    }
    sf_buf_free(&b);
}

static sf_prediction make_prediction(int n)
{
    sf_prediction p;
    memset(&p, 0, sizeof p);
    strcpy(p.order_id, OID);
    strcpy(p.event_id, OID ":DELIVERED");
    p.stage = SF_STAGE_DELIVERED;
    p.score = 4.25;
    p.p_dissatisfied = 0.125;
    p.n_reasons = n;
    for (int i = 0; i < n; i++) {
        snprintf(p.reasons[i].feature, sizeof p.reasons[i].feature, "feature_%d", i);
        p.reasons[i].value = i == 1 ? NAN : 3.5 * i;
        p.reasons[i].contribution = -0.25 * i;
    }
    p.model_version = 7;
    p.event_time = 1507700000000LL;
    p.scored_at = 1700000000000LL;
    return p;
}

static void assert_prediction_eq(const sf_prediction *a, const sf_prediction *b)
{
    assert_string_equal(a->order_id, b->order_id);
    assert_string_equal(a->event_id, b->event_id);
    assert_int_equal(a->stage, b->stage);
    assert_true(a->score == b->score && a->p_dissatisfied == b->p_dissatisfied);
    assert_int_equal(a->n_reasons, b->n_reasons);
    for (int i = 0; i < a->n_reasons; i++) {
        assert_string_equal(a->reasons[i].feature, b->reasons[i].feature);
        assert_true(same_double(a->reasons[i].value, b->reasons[i].value));
        assert_true(same_double(a->reasons[i].contribution, b->reasons[i].contribution));
    }
    assert_true(a->model_version == b->model_version && a->event_time == b->event_time &&
                a->scored_at == b->scored_at);
}

static void test_prediction_round_trip(void **state)
{
    (void)state;
    sf_err err;
    sf_buf b = {0};
    for (int n = 0; n <= SF_REASONS; n++) {
        sf_prediction p = make_prediction(n), out;
        if (sf_encode_prediction(&p, &b, &err) || sf_decode_prediction(b.data, b.len, &out, &err))
            fail_msg("prediction %d: %s", n, err.msg);
        assert_prediction_eq(&p, &out);
    }
    sf_buf_free(&b);
}

static void test_release_round_trip(void **state)
{
    (void)state;
    sf_err err;
    uint32_t sizes[] = {0, 5, 1u << 20, SF_CODEC_MAX_PAYLOAD};
    uint8_t *payload = malloc(SF_CODEC_MAX_PAYLOAD);
    for (uint32_t i = 0; i < SF_CODEC_MAX_PAYLOAD; i++)
        payload[i] = (uint8_t)(i * 7);
    sf_buf b = {0};
    for (int k = 0; k < 4; k++) {
        sf_model_release r = sample_release(sizes[k] ? payload : NULL, sizes[k]), out;
        if (sf_encode_release(&r, &b, &err) || sf_decode_release(b.data, b.len, &out, &err))
            fail_msg("release %u: %s", sizes[k], err.msg);
        assert_true(out.version == 3 && out.train_from == r.train_from &&
                    out.train_to == r.train_to && out.released_at == r.released_at);
        assert_string_equal(out.algorithm, "gbdt");
        assert_string_equal(out.spec_hash, r.spec_hash);
        assert_string_equal(out.sha256, r.sha256);
        assert_string_equal(out.params_json, r.params_json);
        assert_string_equal(out.metrics_json, r.metrics_json);
        assert_int_equal(out.payload_len, sizes[k]);
        if (sizes[k])
            assert_memory_equal(out.payload, payload, sizes[k]);
        sf_model_release_clear(&out);
    }
    free(payload);
    sf_buf_free(&b);
}

static void test_encode_rejects(void **state)
{
    (void)state;
    sf_buf b = {0};
    sf_order_event ev = make_order(SF_STAGE_PURCHASED, 1, 1);
    strcpy(ev.order_id, "not-an-id");
    EXPECT_ERR(sf_encode_order(&ev, &b, err), "order_id: expected 32 hex digits");
    ev = make_order(SF_STAGE_PURCHASED, 1, 1);
    ev.n_items = SF_CODEC_MAX_ITEMS + 1;
    EXPECT_ERR(sf_encode_order(&ev, &b, err), "items: 1001 entries");
    ev.n_items = 1;
    ev.event_time = SF_TIME_NONE;
    EXPECT_ERR(sf_encode_order(&ev, &b, err), "event_time: required time is not set");
    ev = make_order(SF_STAGE_PURCHASED, 1, 1);
    strcpy(g_items[0].category, "caf\xe9");
    EXPECT_ERR(sf_encode_order(&ev, &b, err), "items[0].category: \"caf?\" is not valid UTF-8");
    ev = make_order(SF_STAGE_PURCHASED, 1, 1);
    g_pays[0].type = SF_PAY_COUNT;
    EXPECT_ERR(sf_encode_order(&ev, &b, err), "payments[0].type: invalid value 5");

    sf_review_event rv = {.score = 0, .created = 1};
    strcpy(rv.review_id, RID);
    strcpy(rv.order_id, OID);
    EXPECT_ERR(sf_encode_review(&rv, &b, err), "score: 0 out of range 1..5");
    rv.score = 5;
    char *big = malloc(SF_CODEC_MAX_STRING + 2);
    memset(big, 'x', SF_CODEC_MAX_STRING + 1);
    big[SF_CODEC_MAX_STRING + 1] = '\0';
    rv.message = big;
    EXPECT_ERR(sf_encode_review(&rv, &b, err), "message: longer than the limit of 65536");
    free(big);

    sf_prediction p = make_prediction(1);
    p.p_dissatisfied = 1.5;
    EXPECT_ERR(sf_encode_prediction(&p, &b, err), "p_dissatisfied: 1.5 out of range 0..1");
    p = make_prediction(1);
    p.score = NAN;
    EXPECT_ERR(sf_encode_prediction(&p, &b, err), "score: nan out of range 1..5");
    p = make_prediction(1);
    p.n_reasons = 4;
    EXPECT_ERR(sf_encode_prediction(&p, &b, err), "reasons: 4 entries");

    sf_model_release r = sample_release(NULL, 0);
    r.sha256[3] = 'z';
    EXPECT_ERR(sf_encode_release(&r, &b, err), "sha256: expected 64 hex digits");
    r = sample_release(NULL, 0);
    r.params_json = NULL;
    EXPECT_ERR(sf_encode_release(&r, &b, err), "params_json: NULL");
    r = sample_release((const uint8_t *)"", SF_CODEC_MAX_PAYLOAD + 1);
    EXPECT_ERR(sf_encode_release(&r, &b, err), "payload: 8388609 bytes exceed");
    sf_buf_free(&b);
}

/* ---- hand-built messages for the malformed corpus ---- */

struct bb {
    uint8_t d[8192];
    size_t n;
};

static void b_hdr(struct bb *b, uint32_t id)
{
    b->n = 0;
    b->d[b->n++] = 0;
    b->d[b->n++] = (uint8_t)(id >> 24);
    b->d[b->n++] = (uint8_t)(id >> 16);
    b->d[b->n++] = (uint8_t)(id >> 8);
    b->d[b->n++] = (uint8_t)id;
}

static void b_long(struct bb *b, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (u >= 0x80) {
        b->d[b->n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    b->d[b->n++] = (uint8_t)u;
}

static void b_raw(struct bb *b, const void *p, size_t n)
{
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void b_str(struct bb *b, const char *s)
{
    b_long(b, (int64_t)strlen(s));
    b_raw(b, s, strlen(s));
}

static void b_double(struct bb *b, double d)
{
    b_raw(b, &d, 8); /* little-endian host, as Avro */
}

/* A review: title and message are written with the given union branch. */
static void review_msg(struct bb *b, const char *rid, int score, int title_branch,
                       const char *title)
{
    b_hdr(b, SF_SCHEMA_REVIEW_EVENT);
    b_str(b, rid);
    b_str(b, OID);
    b_long(b, score);
    b_long(b, title_branch);
    if (title_branch == 1)
        b_str(b, title);
    b_long(b, 0); /* message: null */
    b_long(b, 1508000000000LL);
    b_long(b, 0); /* answered: null */
}

/* A prediction up to and including the reasons array's first block count. */
static void prediction_head(struct bb *b, const char *oid, int stage, double score, double p)
{
    b_hdr(b, SF_SCHEMA_PREDICTION);
    b_str(b, oid);
    b_str(b, OID ":PURCHASED");
    b_long(b, stage);
    b_double(b, score);
    b_double(b, p);
}

static void prediction_tail(struct bb *b)
{
    b_long(b, 7);
    b_long(b, 1507700000000LL);
    b_long(b, 1700000000000LL);
}

static void prediction_msg(struct bb *b, int stage, double score, double p)
{
    prediction_head(b, OID, stage, score, p);
    b_long(b, 0);
    prediction_tail(b);
}

static void test_malformed_corpus(void **state)
{
    (void)state;
    sf_err e0;
    sf_order_event ev;
    sf_review_event rv;
    sf_prediction pr;
    sf_model_release rl;
    struct bb b;

    /* framing */
    EXPECT_ERR(sf_decode_order("\0\0\0", 3, &ev, err), "message too short: 3 bytes");
    EXPECT_ERR(sf_decode_order(NULL, 0, &ev, err), "message too short: 0 bytes");
    EXPECT_ERR(sf_decode_review("\1\0\0\0\2\0", 6, &rv, err), "wrong magic byte 0x01");
    EXPECT_ERR(sf_decode_order("\0\0\0\0\x09\0", 6, &ev, err), "unknown schema id 9");
    EXPECT_ERR(sf_decode_order("\0\x01\0\0\x01\0", 6, &ev, err), "unknown schema id 16777217");
    review_msg(&b, RID, 4, 0, NULL);
    assert_int_equal(sf_decode_review(b.d, b.n, &rv, &e0), 0);
    sf_review_event_clear(&rv);
    EXPECT_ERR(sf_decode_order(b.d, b.n, &ev, err),
               "decode OrderEvent: message has schema id 2 (ReviewEvent), expected 1");
    EXPECT_ERR(sf_decode_release("\0\0\0\0\4", 5, &rl, err), "version: truncated");

    /* truncation of a valid order at every length, and a trailing byte */
    sf_buf ob = {0};
    sf_order_event full = make_order(SF_STAGE_DELIVERED, 2, 2);
    assert_int_equal(sf_encode_order(&full, &ob, &e0), 0);
    for (size_t cut = SF_WIRE_HEADER; cut < ob.len; cut++) {
        char what[64];
        snprintf(what, sizeof what, "cut at %zu of %zu", cut, ob.len);
        sf_err e = {{0}};
        if (sf_decode_order(ob.data, cut, &ev, &e) == 0)
            fail_msg("%s decoded", what);
        if (!strstr(e.msg, "truncated"))
            fail_msg("%s: %s", what, e.msg);
        assert_null(ev.alloc);
    }
    sf_buf_reserve(&ob, ob.len + 1, &e0);
    ob.data[ob.len] = 0;
    EXPECT_ERR(sf_decode_order(ob.data, ob.len + 1, &ev, err), "1 trailing bytes after the record");
    sf_buf_free(&ob);

    /* lengths */
    b_hdr(&b, SF_SCHEMA_REVIEW_EVENT);
    b_long(&b, -5);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err), "review_id: negative string length -5");
    b_hdr(&b, SF_SCHEMA_REVIEW_EVENT);
    b_long(&b, INT64_MAX);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err),
               "review_id: length 9223372036854775807 exceeds the limit of 65536 bytes");
    b_hdr(&b, SF_SCHEMA_REVIEW_EVENT);
    b_long(&b, 32);
    b_raw(&b, RID, 10);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err),
               "review_id: truncated: needs 32 bytes, 10 left");
    b_hdr(&b, SF_SCHEMA_MODEL_RELEASE);
    b_long(&b, 1);
    b_str(&b, "gbdt");
    b_str(&b, "0123456789abcdef");
    b_long(&b, 1);
    b_long(&b, 2);
    b_str(&b, "{}");
    b_str(&b, "{}");
    b_long(&b, SF_CODEC_MAX_PAYLOAD + 1);
    EXPECT_ERR(sf_decode_release(b.d, b.n, &rl, err),
               "payload: length 8388609 exceeds the limit of 8388608 bytes");
    prediction_head(&b, OID, 0, 3, 0.5);
    b_long(&b, SF_CODEC_MAX_ITEMS + 1);
    EXPECT_ERR(sf_decode_prediction(b.d, b.n, &pr, err),
               "reasons: 1001 entries exceed the limit of 1000");
    prediction_head(&b, OID, 0, 3, 0.5);
    b_long(&b, 600); /* 600 reasons, then a sized block of 401 more */
    for (int i = 0; i < 600; i++) {
        b_str(&b, "f");
        b_long(&b, 0);
        b_double(&b, 1);
    }
    b_long(&b, -401);
    EXPECT_ERR(sf_decode_prediction(b.d, b.n, &pr, err),
               "reasons: 1001 entries exceed the limit of 1000 (at byte 6697 of the body)");
    prediction_head(&b, OID, 0, 3, 0.5);
    b_long(&b, -2);
    b_long(&b, 100000);
    EXPECT_ERR(sf_decode_prediction(b.d, b.n, &pr, err), "reasons: invalid block size 100000");
    prediction_head(&b, OID, 0, 3, 0.5);
    b_long(&b, 4); /* 4 well-formed reasons: more than SF_REASONS */
    for (int i = 0; i < 4; i++) {
        b_str(&b, "f");
        b_long(&b, 0);
        b_double(&b, 1);
    }
    b_long(&b, 0);
    prediction_tail(&b);
    EXPECT_ERR(sf_decode_prediction(b.d, b.n, &pr, err), "reasons: 4 entries, at most 3");

    /* varints */
    b_hdr(&b, SF_SCHEMA_MODEL_RELEASE);
    for (int i = 0; i < 11; i++)
        b.d[b.n++] = 0xff;
    EXPECT_ERR(sf_decode_release(b.d, b.n, &rl, err), "version: malformed varint");
    review_msg(&b, RID, 0, 0, NULL);
    b.n = 5 + 1 + 32 + 1 + 32; /* score replaced by a 64-bit value */
    b_long(&b, 1LL << 40);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err),
               "score: int value 1099511627776 out of 32-bit range");

    /* enums and unions */
    prediction_msg(&b, 6, 3, 0.5);
    EXPECT_ERR(sf_decode_prediction(b.d, b.n, &pr, err), "stage: invalid enum index 6 (6 symbols)");
    prediction_msg(&b, -1, 3, 0.5);
    EXPECT_ERR(sf_decode_prediction(b.d, b.n, &pr, err), "stage: invalid enum index -1");
    review_msg(&b, RID, 4, 2, NULL);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err), "title: invalid union branch 2 (2 branches)");

    /* values against the C types */
    review_msg(&b, RID, 6, 0, NULL);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err), "score: 6 out of range 1..5");
    assert_null(rv.alloc);
    review_msg(&b, RID, 0, 0, NULL);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err), "score: 0 out of range 1..5");
    prediction_msg(&b, 0, 5.5, 0.5);
    EXPECT_ERR(sf_decode_prediction(b.d, b.n, &pr, err), "score: 5.5 out of range 1..5");
    prediction_msg(&b, 0, 3, -0.01);
    EXPECT_ERR(sf_decode_prediction(b.d, b.n, &pr, err), "p_dissatisfied: -0.01 out of range");
    prediction_msg(&b, 0, 3, NAN);
    EXPECT_ERR(sf_decode_prediction(b.d, b.n, &pr, err), "p_dissatisfied: nan out of range");
    review_msg(&b, "7BC2406110B926393AA56F80A40EBA4", 4, 0, NULL);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err),
               "review_id: expected 32 hex digits, got \"7BC2406110B926393AA56F80A40EBA4\" (31 "
               "bytes)");
    review_msg(&b, "7bc2406110b926393aa56f80a40ebaxx", 4, 0, NULL);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err), "review_id: expected 32 hex digits");
    review_msg(&b, RID "0", 4, 0, NULL);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err),
               "review_id: \"" RID "0\" is 33 bytes, at most 32 fit");
    review_msg(&b, RID, 4, 1, "bad \xc3\x28 text");
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err), "title: \"bad ?( text\" is not valid UTF-8");
    review_msg(&b, RID, 4, 1, "x");
    b.d[5 + 1 + 32 + 1 + 32 + 1 + 1 + 1] = '\0'; /* the title's only byte */
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err), "title: contains a NUL byte");
    prediction_head(&b, OID, 0, 3, 0.5);
    b_long(&b, 1);
    b_str(&b, "a_feature_name_longer_than_the_47_bytes_a_reason_holds");
    b_long(&b, 0);
    b_double(&b, 1);
    b_long(&b, 0);
    prediction_tail(&b);
    EXPECT_ERR(sf_decode_prediction(b.d, b.n, &pr, err),
               "reasons[0].feature: \"a_feature_name_longer_than_the_47_bytes_a_re...\" is 54 "
               "bytes, at most 47 fit");
    b_hdr(&b, SF_SCHEMA_REVIEW_EVENT);
    b_str(&b, RID);
    b_str(&b, OID);
    b_long(&b, 4);
    b_long(&b, 0);
    b_long(&b, 0);
    b_long(&b, 1508000000000LL);
    b_long(&b, 1);
    b_long(&b, INT64_MIN);
    EXPECT_ERR(sf_decode_review(b.d, b.n, &rv, err),
               "answered: value -9223372036854775808 is reserved");
}

/* A second block of items whose count is INT64_MAX, after one item: the
 * limit check and its message must not overflow (fuzz_decode found the
 * message computing total + n under UBSan). Built from a real encoding:
 * the one-item order's array terminator becomes that block count. */
static void test_block_count_overflow(void **state)
{
    (void)state;
    sf_buf one = {0}, two = {0};
    sf_err err = {{0}};
    sf_order_event ev = make_order(SF_STAGE_PURCHASED, 1, 0);
    assert_int_equal(sf_encode_order(&ev, &one, &err), 0);
    ev = make_order(SF_STAGE_PURCHASED, 2, 0);
    assert_int_equal(sf_encode_order(&ev, &two, &err), 0);
    size_t c = 0; /* the items' block count: the first byte that differs */
    while (one.data[c] == two.data[c])
        c++;
    size_t t = c + 1; /* the one-item array's terminator: the next difference */
    while (one.data[t] == two.data[t])
        t++;
    assert_int_equal(one.data[t], 0);
    /* zigzag(INT64_MAX) as a varint in place of the terminator */
    static const uint8_t huge[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    uint8_t bad[4096];
    assert_true(one.len + sizeof huge < sizeof bad);
    memcpy(bad, one.data, t);
    memcpy(bad + t, huge, sizeof huge);
    memcpy(bad + t + sizeof huge, one.data + t + 1, one.len - t - 1);
    sf_order_event out;
    assert_int_equal(sf_decode_order(bad, one.len + sizeof huge - 1, &out, &err), -1);
    if (!strstr(err.msg, "exceed the limit"))
        fail_msg("unexpected message: %s", err.msg);
    sf_buf_free(&one);
    sf_buf_free(&two);
}

static void test_json(void **state)
{
    (void)state;
    sf_err err;
    sf_order_event ev = make_order(SF_STAGE_PURCHASED, 3, 2), back;
    char *js = sf_order_to_json(&ev, &err);
    assert_non_null(js);
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(root, "delivered_time")));
    assert_string_equal(cJSON_GetObjectItem(root, "stage")->valuestring, "PURCHASED");
    assert_true(cJSON_GetObjectItem(root, "purchase_time")->valuedouble == 1506970000000.0);
    cJSON *it1 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "items"), 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(it1, "desc_len")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(it1, "seller"), "lat")));
    cJSON_Delete(root);
    if (sf_order_from_json(js, &back, &err))
        fail_msg("order from json: %s", err.msg);
    assert_order_eq(&ev, &back);
    sf_order_event_clear(&back);
    free(js);

    sf_review_event rv = {.score = 1, .created = SF_CODEC_TIME_MIN, .answered = SF_TIME_NONE};
    strcpy(rv.review_id, RID);
    strcpy(rv.order_id, OID);
    rv.message = "linha 1\nlinha 2 \"aspas\" ✓";
    js = sf_review_to_json(&rv, &err);
    assert_non_null(js);
    sf_review_event rb;
    if (sf_review_from_json(js, &rb, &err))
        fail_msg("review from json: %s", err.msg);
    assert_null(rb.title);
    assert_string_equal(rb.message, rv.message);
    assert_true(rb.score == 1 && rb.created == SF_CODEC_TIME_MIN && rb.answered == SF_TIME_NONE);
    sf_review_event_clear(&rb);
    free(js);

    sf_prediction p = make_prediction(3), pb;
    js = sf_prediction_to_json(&p, &err);
    assert_non_null(js);
    if (sf_prediction_from_json(js, &pb, &err))
        fail_msg("prediction from json: %s", err.msg);
    assert_prediction_eq(&p, &pb);
    free(js);

    EXPECT_ERR(sf_review_from_json("{\"review_id\":", &rb, err), "ReviewEvent JSON: syntax error");
    EXPECT_ERR(sf_review_from_json("[1]", &rb, err), "expected an object");
    EXPECT_ERR(sf_review_from_json("{\"review_id\":\"" RID "\",\"order_id\":\"" OID
                                   "\",\"score\":9,\"created\":1}",
                                   &rb, err),
               "score: 9 out of range 1..5");
    EXPECT_ERR(sf_review_from_json(
                   "{\"review_id\":\"" RID "\",\"order_id\":\"" OID "\",\"score\":2}", &rb, err),
               "created: missing field");
    EXPECT_ERR(sf_review_from_json("{\"review_id\":\"" RID "\",\"order_id\":\"" OID
                                   "\",\"score\":2,\"created\":1.5}",
                                   &rb, err),
               "created: expected an integer");
    EXPECT_ERR(sf_prediction_from_json("{\"order_id\":\"" OID "\",\"event_id\":\"x\",\"stage\":"
                                       "\"LOST\",\"score\":2,\"p_dissatisfied\":0.5,"
                                       "\"reasons\":[],\"model_version\":1,\"event_time\":1,"
                                       "\"scored_at\":2}",
                                       &pb, err),
               "stage: not a stage");
    js = sf_order_to_json(&ev, &err);
    root = cJSON_Parse(js);
    free(js);
    cJSON *it0 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "items"), 0);
    cJSON_ReplaceItemInObject(it0, "price", cJSON_CreateString("29.99"));
    js = cJSON_PrintUnformatted(root);
    EXPECT_ERR(sf_order_from_json(js, &back, err), "items[0].price: expected a number");
    free(js);
    cJSON_ReplaceItemInObject(it0, "price", cJSON_CreateNumber(1));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(it0, "seller"), "zip",
                              cJSON_CreateString("123456"));
    js = cJSON_PrintUnformatted(root);
    EXPECT_ERR(sf_order_from_json(js, &back, err),
               "OrderEvent JSON: items[0].seller.zip: 6 bytes, at most 5 fit");
    free(js);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(it0, "seller"), "zip",
                              cJSON_CreateString("12345"));
    cJSON_ReplaceItemInObject(it0, "product_id", cJSON_CreateString("abc"));
    js = cJSON_PrintUnformatted(root);
    EXPECT_ERR(sf_order_from_json(js, &back, err), "items[0].product_id: expected 32 hex digits");
    free(js);
    cJSON_DeleteItemFromObject(it0, "seq");
    js = cJSON_PrintUnformatted(root);
    EXPECT_ERR(sf_order_from_json(js, &back, err), "items[0].seq: missing field");
    free(js);
    cJSON_Delete(root);
    EXPECT_ERR(sf_order_from_json("{\"items\":[{}],\"payments\":[]}", &back, err),
               "OrderEvent JSON: order_id: missing field");
}

/* ---- event times: the valid range (codec.h) ---- */

#define T_2POW60 1152921504606846976LL

/* A review message with these times (answered SF_TIME_NONE: null). */
static void review_times_msg(struct bb *b, int64_t created, int64_t answered)
{
    b_hdr(b, SF_SCHEMA_REVIEW_EVENT);
    b_str(b, RID);
    b_str(b, OID);
    b_long(b, 4);
    b_long(b, 0); /* title: null */
    b_long(b, 0); /* message: null */
    b_long(b, created);
    b_long(b, answered != SF_TIME_NONE);
    if (answered != SF_TIME_NONE)
        b_long(b, answered);
}

/* The time fields of an order event: name in messages, whether it is a time
 * something happened at (else a deadline), and where it is. */
static const struct {
    const char *name;
    int happened;
} ORDER_TIMES[] = {
    {"event_time", 1},   {"purchase_time", 1},  {"estimated_delivery", 0},     {"approved_time", 1},
    {"carrier_time", 1}, {"delivered_time", 1}, {"items[0].shipping_limit", 0}};
#define N_ORDER_TIMES ((int)(sizeof ORDER_TIMES / sizeof ORDER_TIMES[0]))

static int64_t *order_time(sf_order_event *ev, int k)
{
    int64_t *f[N_ORDER_TIMES] = {&ev->event_time,
                                 &ev->purchase,
                                 &ev->estimated,
                                 &ev->approved,
                                 &ev->carrier,
                                 &ev->delivered,
                                 &g_items[0].shipping_limit}; /* the event's first item */
    return f[k];
}

/* call fails and its message contains a and b */
#define EXPECT_ERR2(call, a, b)                                                                    \
    do {                                                                                           \
        sf_err e_ = {{0}};                                                                         \
        sf_err *err = &e_;                                                                         \
        if ((call) == 0)                                                                           \
            fail_msg("%s: succeeded, expected \"%s\"", #call, a);                                  \
        if (!strstr(e_.msg, a) || !strstr(e_.msg, b))                                              \
            fail_msg("%s: error \"%s\" lacks \"%s\" or \"%s\"", #call, e_.msg, a, b);              \
    } while (0)

static const int64_t BAD_TIMES[] = {-5,       0,         SF_CODEC_TIME_MIN - 1, SF_CODEC_TIME_MAX,
                                    T_2POW60, INT64_MAX, INT64_MIN + 1};
#define N_BAD_TIMES ((int)(sizeof BAD_TIMES / sizeof BAD_TIMES[0]))

static void test_order_time_range(void **state)
{
    (void)state;
    sf_buf b = {0};
    sf_err e0;
    char want[160];
    const int64_t now = sf_wall_ms(), ahead = now + SF_CODEC_TIME_SKEW + 60000;
    for (int k = 0; k < N_ORDER_TIMES; k++) {
        const char *name = ORDER_TIMES[k].name;
        for (int i = 0; i < N_BAD_TIMES; i++) {
            sf_order_event ev = make_order(SF_STAGE_DELIVERED, 1, 1);
            *order_time(&ev, k) = BAD_TIMES[i];
            snprintf(want, sizeof want, "%s: %lld is not a valid event time", name,
                     (long long)BAD_TIMES[i]);
            EXPECT_ERR(sf_check_order(&ev, err), want);
            EXPECT_ERR(sf_encode_order(&ev, &b, err), want);
            assert_null(sf_order_to_json(&ev, &e0));
        }
        sf_order_event ev = make_order(SF_STAGE_DELIVERED, 1, 1);
        *order_time(&ev, k) = SF_CODEC_TIME_MIN; /* the first valid time */
        order_round_trip(&ev);
        *order_time(&ev, k) = now;
        order_round_trip(&ev);
        *order_time(&ev, k) = ahead;
        if (ORDER_TIMES[k].happened) { /* not from the future */
            snprintf(want, sizeof want, "%s: %lld (", name, (long long)ahead);
            EXPECT_ERR2(sf_encode_order(&ev, &b, err), want, "ahead of the clock");
        } else { /* a deadline may be anywhere before 2100 */
            order_round_trip(&ev);
            *order_time(&ev, k) = SF_CODEC_TIME_MAX - 1;
            order_round_trip(&ev);
        }
    }
    sf_buf_free(&b);
}

static void test_review_time_range(void **state)
{
    (void)state;
    sf_buf b = {0};
    struct bb m;
    sf_review_event rv = {.score = 4, .created = 1508000000000LL, .answered = SF_TIME_NONE}, out;
    strcpy(rv.review_id, RID);
    strcpy(rv.order_id, OID);
    char want[160];
    const int64_t now = sf_wall_ms(), ahead = now + SF_CODEC_TIME_SKEW + 60000;
    for (int i = 0; i < N_BAD_TIMES; i++) {
        long long v = (long long)BAD_TIMES[i];
        sf_review_event ev = rv;
        ev.created = BAD_TIMES[i];
        snprintf(want, sizeof want, "created: %lld is not a valid event time", v);
        EXPECT_ERR(sf_encode_review(&ev, &b, err), want);
        review_times_msg(&m, BAD_TIMES[i], SF_TIME_NONE);
        EXPECT_ERR2(sf_decode_review(m.d, m.n, &out, err), "decode ReviewEvent", want);
        ev = rv;
        ev.answered = BAD_TIMES[i];
        snprintf(want, sizeof want, "answered: %lld is not a valid event time", v);
        EXPECT_ERR(sf_encode_review(&ev, &b, err), want);
        review_times_msg(&m, rv.created, BAD_TIMES[i]);
        EXPECT_ERR(sf_decode_review(m.d, m.n, &out, err), want);
    }
    snprintf(want, sizeof want, "created: %lld (", (long long)ahead);
    review_times_msg(&m, ahead, SF_TIME_NONE);
    EXPECT_ERR2(sf_decode_review(m.d, m.n, &out, err), want, "ahead of the clock");
    snprintf(want, sizeof want, "answered: %lld (", (long long)ahead);
    review_times_msg(&m, rv.created, ahead);
    EXPECT_ERR2(sf_decode_review(m.d, m.n, &out, err), want, "ahead of the clock");
    const int64_t good[] = {SF_CODEC_TIME_MIN, now};
    for (int i = 0; i < 2; i++) {
        review_times_msg(&m, good[i], good[i]);
        sf_err e0;
        if (sf_decode_review(m.d, m.n, &out, &e0))
            fail_msg("created %lld: %s", (long long)good[i], e0.msg);
        assert_true(out.created == good[i] && out.answered == good[i]);
        sf_review_event_clear(&out);
    }
    sf_buf_free(&b);
}

/* The JSON view reads times as JSON numbers: out-of-range ones (even beyond
 * 2^53 or 2^63) are refused with the same message, naming field and value. */
static void test_json_time_range(void **state)
{
    (void)state;
    sf_review_event rv;
    sf_order_event ev;
    char js[512];
    const char *bad[][2] = {{"1152921504606846976", "created: 1152921504606846976 is not"},
                            {"-5", "created: -5 is not a valid event time"},
                            {"946684799999", "created: 946684799999 is not"},
                            {"4102444800000", "created: 4102444800000 is not"},
                            {"1e30", "created: 1e+30 is not a valid event time"},
                            {"-1e300", "created: -1e+300 is not a valid event time"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(js, sizeof js,
                 "{\"review_id\":\"" RID "\",\"order_id\":\"" OID "\",\"score\":2,\"created\":%s}",
                 bad[i][0]);
        EXPECT_ERR2(sf_review_from_json(js, &rv, err), "ReviewEvent JSON", bad[i][1]);
    }
    snprintf(js, sizeof js,
             "{\"review_id\":\"" RID "\",\"order_id\":\"" OID
             "\",\"score\":2,\"created\":1508000000000,\"answered\":1152921504606846976}");
    EXPECT_ERR(sf_review_from_json(js, &rv, err), "answered: 1152921504606846976 is not");

    sf_err e0;
    sf_order_event o = make_order(SF_STAGE_DELIVERED, 1, 1);
    char *text = sf_order_to_json(&o, &e0);
    assert_non_null(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cJSON *it0 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "items"), 0);
    cJSON_ReplaceItemInObject(it0, "shipping_limit", cJSON_CreateNumber(-5));
    text = cJSON_PrintUnformatted(root);
    EXPECT_ERR(sf_order_from_json(text, &ev, err),
               "items[0].shipping_limit: -5 is not a valid event time");
    free(text);
    cJSON_ReplaceItemInObject(it0, "shipping_limit", cJSON_CreateNumber(1507000000000.0));
    cJSON_ReplaceItemInObject(root, "delivered_time", cJSON_CreateNumber(1e19));
    text = cJSON_PrintUnformatted(root);
    EXPECT_ERR(sf_order_from_json(text, &ev, err), "delivered_time: 1e+19 is not");
    free(text);
    cJSON_Delete(root);
}

static void test_check_key(void **state)
{
    (void)state;
    sf_err e0;
    assert_int_equal(sf_check_key(OID, SF_ID_LEN, OID, &e0), 0);
    EXPECT_ERR(sf_check_key(OID, SF_ID_LEN - 1, OID, err),
               "key 'e481f51cbdc54678b7cc49136f2d6af' does not match order_id " OID);
    EXPECT_ERR(sf_check_key(NULL, 0, OID, err), "key '' does not match order_id " OID);
    EXPECT_ERR(sf_check_key("a\n\x01\"b", 5, OID, err), "key 'a???b' does not match");
    EXPECT_ERR(sf_check_key(CID, SF_ID_LEN, OID, err), "key '" CID "' does not match");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_round_trip),
        cmocka_unit_test(test_review_round_trip),
        cmocka_unit_test(test_prediction_round_trip),
        cmocka_unit_test(test_release_round_trip),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_malformed_corpus),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_block_count_overflow),
        cmocka_unit_test(test_order_time_range),
        cmocka_unit_test(test_review_time_range),
        cmocka_unit_test(test_json_time_range),
        cmocka_unit_test(test_check_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
