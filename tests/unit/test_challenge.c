/*
 * test_challenge.c - the live judge of a shadow challenger (challenge.h)
 * and the gate's challenger rule (gate.h): a challenger better by
 * construction is promoted once min_orders are in, a worse one retired, an
 * equal one retired undecided at max_orders; no decision before min_orders;
 * looks spaced by check_every; the JSON the web page reads.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "satisfy/challenge.h"

static uint64_t rs = 88172645463325252ULL;

static double urand(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static double clamp(double x)
{
    return x < 1 ? 1 : x > 5 ? 5 : x;
}

/* n orders: review 1..5; champion off by noise sd a, challenger by sd b. */
static int feed(sf_challenge *c, size_t n, double a, double b)
{
    sf_err err;
    int v = SF_CHALLENGE_RUNNING;
    for (size_t i = 0; i < n && v == SF_CHALLENGE_RUNNING; i++) {
        double label = 1 + (double)(int)(urand() * 5);
        assert_int_equal(sf_challenge_add(c, label, clamp(label + a * gauss()),
                                          clamp(label + b * gauss()), 1500000000000 + (int64_t)i,
                                          &err),
                         0);
        v = sf_challenge_judge(c, false, &err);
        assert_true(v >= 0);
    }
    return v;
}

static sf_challenge_opts opts(size_t min, size_t max)
{
    sf_challenge_opts o;
    sf_challenge_opts_default(&o);
    o.min_orders = min;
    o.max_orders = max;
    o.gate.resamples = 300;
    return o;
}

static void test_better_promoted(void **state)
{
    (void)state;
    sf_challenge c;
    sf_challenge_opts o = opts(200, 3000);
    sf_err err;
    assert_int_equal(sf_challenge_init(&c, 2, 1, 1764900000000, &o, &err), 0);
    /* before min_orders nothing is decided, however clear */
    assert_int_equal(feed(&c, 199, 1.5, 0.4), SF_CHALLENGE_RUNNING);
    assert_false(c.looked);
    assert_int_equal(feed(&c, 1000, 1.5, 0.4), SF_CHALLENGE_PROMOTE);
    assert_int_equal(c.n, 200); /* decided at the first look */
    assert_true(c.d.boot_lower > 0 && c.d.gain >= o.gate.margin);
    assert_true(c.rmse_ci_challenger[1] < c.rmse_ci_champion[0]);
    assert_non_null(strstr(c.reason, "promoted on 200 live orders"));

    char *js = sf_challenge_json(&c, NULL, 1764900001000, 1764900002000);
    assert_non_null(js);
    cJSON *j = cJSON_Parse(js);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "promoted");
    assert_int_equal(cJSON_GetObjectItem(j, "challenger")->valuedouble, 2);
    assert_int_equal(cJSON_GetObjectItem(j, "champion")->valuedouble, 1);
    assert_int_equal(cJSON_GetObjectItem(j, "orders")->valuedouble, 200);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(j, "rmse_champion_ci")) == 2);
    assert_true(cJSON_GetObjectItem(j, "lower")->valuedouble > 0);
    assert_true(cJSON_GetObjectItem(j, "decided_at")->valuedouble == 1764900001000);
    assert_true(cJSON_GetObjectItem(j, "confidence")->valuedouble == 0.95);
    cJSON_Delete(j);
    free(js);
    sf_challenge_free(&c);
}

static void test_worse_retired(void **state)
{
    (void)state;
    sf_challenge c;
    sf_challenge_opts o = opts(200, 3000);
    sf_err err;
    assert_int_equal(sf_challenge_init(&c, 3, 2, 0, &o, &err), 0);
    assert_int_equal(feed(&c, 3000, 0.5, 1.5), SF_CHALLENGE_RETIRE);
    assert_int_equal(c.n, 200);
    assert_true(c.d.boot_upper < 0);
    assert_non_null(strstr(c.reason, "retired on 200 live orders: it loses"));
    sf_challenge_free(&c);
}

/* Same noise: no decision; looks every check_every orders; retired
 * undecided at max_orders. */
static void test_equal_retired_at_max(void **state)
{
    (void)state;
    sf_challenge c;
    sf_challenge_opts o = opts(100, 400);
    o.check_every = 50;
    sf_err err;
    assert_int_equal(sf_challenge_init(&c, 4, 2, 0, &o, &err), 0);
    assert_int_equal(feed(&c, 100, 1.0, 1.0), SF_CHALLENGE_RUNNING);
    assert_int_equal(c.n_looked, 100);
    assert_int_equal(feed(&c, 49, 1.0, 1.0), SF_CHALLENGE_RUNNING);
    assert_int_equal(c.n_looked, 100); /* not time yet */
    int v = feed(&c, 1000, 1.0, 1.0);
    assert_int_equal(v, SF_CHALLENGE_RETIRE);
    assert_int_equal(c.n, 400);
    assert_non_null(strstr(c.reason, "retired undecided after 400 live orders"));
    sf_challenge_free(&c);
}

static void test_bad_input(void **state)
{
    (void)state;
    sf_challenge c;
    sf_err err;
    sf_challenge_opts o = opts(5, 100);
    assert_int_equal(sf_challenge_init(&c, 2, 1, 0, &o, &err), -1);
    assert_non_null(strstr(err.msg, "min orders 5"));
    o = opts(100, 50);
    assert_int_equal(sf_challenge_init(&c, 2, 1, 0, &o, &err), -1);
    assert_non_null(strstr(err.msg, "below min orders"));
    assert_int_equal(sf_challenge_init(&c, 2, 1, 0, NULL, &err), 0);
    assert_int_equal(sf_challenge_add(&c, 6, 3, 3, 0, &err), -1);
    assert_non_null(strstr(err.msg, "out of 1..5"));
    assert_int_equal(sf_challenge_add(&c, 3, 3, NAN, 0, &err), -1);
    assert_int_equal(c.n, 0);
    /* no order: the JSON says so, numbers null */
    char *js = sf_challenge_json(&c, NULL, 0, 1);
    cJSON *j = cJSON_Parse(js);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "rmse_champion")));
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "running");
    cJSON_Delete(j);
    free(js);
    sf_challenge_free(&c);
}

/* The gate's rule: not released, a champion, gain above -margin, bootstrap
 * upper bound above 0. */
static void test_challenger_rule(void **state)
{
    (void)state;
    sf_gate_decision d;
    memset(&d, 0, sizeof d);
    d.has_champion = true;
    d.margin = 0.005;
    d.gain = 0.002;
    d.boot_upper = 0.01;
    assert_true(sf_gate_challenger_ok(&d)); /* below the margin, not worse */
    d.gain = -0.004;
    assert_true(sf_gate_challenger_ok(&d)); /* loses less than the margin */
    d.gain = -0.006;
    assert_false(sf_gate_challenger_ok(&d)); /* loses the margin */
    d.gain = 0.002;
    d.boot_upper = -0.001;
    assert_false(sf_gate_challenger_ok(&d)); /* the champion is better, confidently */
    d.boot_upper = 0.01;
    d.released = true;
    assert_false(sf_gate_challenger_ok(&d)); /* released: a champion, not a challenger */
    d.released = false;
    d.has_champion = false;
    assert_false(sf_gate_challenger_ok(&d)); /* against the mean: nothing to shadow */
}

/* The confidence sets the quantiles: a narrower interval at 0.8. */
static void test_confidence(void **state)
{
    (void)state;
    double label[300], a[300], b[300];
    for (int i = 0; i < 300; i++) {
        label[i] = 1 + (int)(urand() * 5);
        a[i] = clamp(label[i] + gauss());
        b[i] = clamp(label[i] + 0.9 * gauss());
    }
    sf_gate_opts o;
    sf_gate_opts_default(&o);
    sf_gate_decision d95, d80;
    sf_err err;
    assert_int_equal(sf_gate_decide(label, a, b, NULL, 300, 300, true, "c", &o, &d95, &err), 0);
    o.confidence = 0.8;
    assert_int_equal(sf_gate_decide(label, a, b, NULL, 300, 300, true, "c", &o, &d80, &err), 0);
    assert_true(d80.boot_lower > d95.boot_lower && d80.boot_upper < d95.boot_upper);
    assert_non_null(strstr(d80.reason, "80% ["));
    o.confidence = 1.2;
    assert_int_equal(sf_gate_decide(label, a, b, NULL, 300, 300, true, "c", &o, &d80, &err), -1);
    assert_non_null(strstr(err.msg, "confidence 1.2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_better_promoted),      cmocka_unit_test(test_worse_retired),
        cmocka_unit_test(test_equal_retired_at_max), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_challenger_rule),      cmocka_unit_test(test_confidence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
