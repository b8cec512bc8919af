/*
 * test_codec_alert.c - the Alert codec (satisfy/codec_alert.h): alerts
 * round-trip with 0..3 reasons and their threshold; the encoder refuses an
 * alert under its threshold or with a threshold out of range; the decoder
 * refuses truncated, trailing, wrong-id and reserved-id messages, and a
 * well-formed message whose risk is under its threshold; the JSON view
 * carries risk, threshold and the reasons.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/codec_alert.h"

#define OID "e481f51cbdc54678b7cc49136f2d6af7"

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static sf_alert make_alert(int n)
{
    sf_alert a;
    memset(&a, 0, sizeof a);
    sf_prediction *p = &a.p;
    strcpy(p->order_id, OID);
    strcpy(p->event_id, OID ":SHIPPED");
    p->stage = SF_STAGE_SHIPPED;
    p->score = 2.25;
    p->p_dissatisfied = 0.625;
    p->n_reasons = n;
    for (int i = 0; i < n; i++) {
        snprintf(p->reasons[i].feature, sizeof p->reasons[i].feature, "feature_%d", i);
        p->reasons[i].value = i == 1 ? NAN : 3.5 * i;
        p->reasons[i].contribution = -0.25 * i;
    }
    p->model_version = 9;
    p->event_time = 1507700000000LL;
    p->scored_at = 1700000000000LL;
    a.threshold = 0.5;
    return a;
}

static void assert_alert_eq(const sf_alert *a, const sf_alert *b)
{
    assert_string_equal(a->p.order_id, b->p.order_id);
    assert_string_equal(a->p.event_id, b->p.event_id);
    assert_int_equal(a->p.stage, b->p.stage);
    assert_true(a->p.score == b->p.score && a->p.p_dissatisfied == b->p.p_dissatisfied);
    assert_int_equal(a->p.n_reasons, b->p.n_reasons);
    for (int i = 0; i < a->p.n_reasons; i++) {
        assert_string_equal(a->p.reasons[i].feature, b->p.reasons[i].feature);
        assert_true(same_double(a->p.reasons[i].value, b->p.reasons[i].value));
        assert_true(a->p.reasons[i].contribution == b->p.reasons[i].contribution);
    }
    assert_true(a->p.model_version == b->p.model_version && a->p.event_time == b->p.event_time &&
                a->p.scored_at == b->p.scored_at);
    assert_true(a->threshold == b->threshold);
}

static void test_round_trip(void **state)
{
    (void)state;
    sf_err err;
    sf_buf b = {0};
    for (int n = 0; n <= SF_REASONS; n++) {
        sf_alert a = make_alert(n), out;
        if (n == 2)
            a.threshold = a.p.p_dissatisfied; /* risk == threshold is an alert */
        if (sf_encode_alert(&a, &b, &err) || sf_decode_alert(b.data, b.len, &out, &err))
            fail_msg("alert %d: %s", n, err.msg);
        assert_int_equal(b.data[4], SF_SCHEMA_ALERT);
        assert_alert_eq(&a, &out);
        int id = 0;
        assert_int_equal(sf_wire_peek(b.data, b.len, &id, &err), 0);
        assert_int_equal(id, 6);
        assert_string_equal(sf_schema_name(id), "Alert");
    }
    sf_buf_free(&b);
}

static void test_encode_rejects(void **state)
{
    (void)state;
    sf_buf b = {0};
    sf_alert a = make_alert(1);
    a.threshold = 0.75;
    EXPECT_ERR(sf_encode_alert(&a, &b, err), "risk: 0.625 below the threshold 0.75");
    a.threshold = NAN;
    EXPECT_ERR(sf_encode_alert(&a, &b, err), "threshold: nan out of range");
    a.threshold = -0.1;
    EXPECT_ERR(sf_encode_alert(&a, &b, err), "threshold: -0.1 out of range");
    a = make_alert(1);
    a.p.p_dissatisfied = 1.5;
    EXPECT_ERR(sf_encode_alert(&a, &b, err), "p_dissatisfied: 1.5 out of range");
    a = make_alert(1);
    strcpy(a.p.order_id, "not-hex");
    EXPECT_ERR(sf_encode_alert(&a, &b, err), "order_id");
    sf_buf_free(&b);
}

static void test_malformed(void **state)
{
    (void)state;
    sf_err err;
    sf_buf b = {0}, p = {0};
    sf_alert a = make_alert(3), out;
    assert_int_equal(sf_encode_alert(&a, &b, &err), 0);
    uint8_t *m = malloc(b.len + 16);
    assert_non_null(m);
    /* truncated at every length: never accepted */
    for (size_t n = 0; n < b.len; n++) {
        memcpy(m, b.data, n);
        if (sf_decode_alert(m, n, &out, &err) == 0)
            fail_msg("a truncated alert of %zu/%zu bytes was accepted", n, b.len);
    }
    EXPECT_ERR(sf_decode_alert(b.data, 4, &out, err), "message too short");
    /* trailing bytes: the prediction part no longer ends where it should */
    memcpy(m, b.data, b.len);
    memset(m + b.len, 0x41, 8);
    EXPECT_ERR(sf_decode_alert(m, b.len + 8, &out, err), "trailing bytes");
    /* a Prediction is not an Alert, nor is a ServingState; id 7 is unknown */
    assert_int_equal(sf_encode_prediction(&a.p, &p, &err), 0);
    EXPECT_ERR(sf_decode_alert(p.data, p.len, &out, err), "schema id 3 (Prediction), expected 6");
    memcpy(m, b.data, b.len);
    m[4] = 5;
    EXPECT_ERR(sf_decode_alert(m, b.len, &out, err), "schema id 5 (ServingState), expected 6");
    m[4] = 7;
    EXPECT_ERR(sf_decode_alert(m, b.len, &out, err), "unknown schema id 7");
    /* well formed, but the risk is under the threshold */
    memcpy(m, b.data, b.len);
    double t = 0.875;
    memcpy(m + b.len - 8, &t, 8); /* little-endian hosts only, as the build checks */
    EXPECT_ERR(sf_decode_alert(m, b.len, &out, err), "risk: 0.625 below the threshold 0.875");
    t = NAN;
    memcpy(m + b.len - 8, &t, 8);
    EXPECT_ERR(sf_decode_alert(m, b.len, &out, err), "threshold: nan out of range");
    /* an oversized message */
    uint8_t *big = calloc(1, 4096);
    assert_non_null(big);
    memcpy(big, b.data, SF_WIRE_HEADER);
    EXPECT_ERR(sf_decode_alert(big, 4096, &out, err), "more than an Alert can take");
    free(big);
    free(m);
    sf_buf_free(&b);
    sf_buf_free(&p);
}

static void test_json(void **state)
{
    (void)state;
    sf_err err;
    sf_alert a = make_alert(3);
    char *js = sf_alert_to_json(&a, &err);
    if (!js)
        fail_msg("%s", err.msg);
    assert_non_null(strstr(js, "\"risk\":0.625"));
    assert_non_null(strstr(js, "\"threshold\":0.5"));
    assert_non_null(strstr(js, "\"feature\":\"feature_2\""));
    assert_non_null(strstr(js, "\"stage\":\"SHIPPED\""));
    free(js);
    a.threshold = 0.9;
    assert_null(sf_alert_to_json(&a, &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
