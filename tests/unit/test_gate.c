/*
 * test_gate.c - the holdout split (time order, ties, errors) and the
 * release rule: a clearly better candidate is released, an equal one and a
 * noise-only one are rejected, the margin alone can reject, the reasons carry
 * the numbers, and the same seed gives the same bootstrap bounds.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "satisfy/event.h"
#include "satisfy/gate.h"

#define ORDERS 600
#define STAGES 3
#define ROWS   (ORDERS * STAGES)

static double g_label[ROWS], g_champ[ROWS], g_better[ROWS], g_noisy[ROWS], g_mean[ROWS];
static size_t g_cluster[ROWS];

/* Orders with a label 1..5, three stage rows each; the champion errs with sd
 * 1.0 per order and 0.3 per row, the better candidate with half of that, the
 * noisy one is the champion plus zero-mean noise of sd 0.05. */
static int setup(void **state)
{
    (void)state;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 7);
    double sum = 0;
    for (int o = 0; o < ORDERS; o++) {
        double y = 1.0 + (double)gsl_rng_uniform_int(r, 5);
        double e_order = gsl_ran_gaussian(r, 1.0);
        for (int s = 0; s < STAGES; s++) {
            int i = o * STAGES + s;
            double e = e_order + gsl_ran_gaussian(r, 0.3);
            g_label[i] = y;
            g_cluster[i] = (size_t)o;
            g_champ[i] = y + e;
            g_better[i] = y + 0.5 * e;
            g_noisy[i] = g_champ[i] + gsl_ran_gaussian(r, 0.05);
            sum += y;
        }
    }
    for (int i = 0; i < ROWS; i++)
        g_mean[i] = sum / ROWS;
    gsl_rng_free(r);
    return 0;
}

static void test_better_released(void **state)
{
    (void)state;
    sf_gate_decision d;
    sf_err err = {{0}};
    assert_int_equal(sf_gate_decide(g_label, g_champ, g_better, g_cluster, ORDERS, ROWS, true,
                                    "champion v1", NULL, &d, &err),
                     0);
    assert_true(d.released);
    assert_true(d.gain > 0.3);
    assert_true(d.boot_lower > 0.0);
    assert_true(d.boot_lower <= d.diff_mean && d.diff_mean <= d.boot_upper);
    assert_int_equal(d.n_clusters, ORDERS);
    assert_int_equal(d.resamples, 1000);
    assert_non_null(strstr(d.reason, "released (both tests pass)"));
    assert_non_null(strstr(d.reason, "vs champion v1"));
    assert_non_null(strstr(d.reason, "600 orders"));
    char num[32];
    snprintf(num, sizeof num, "RMSE %.4f", d.rmse_candidate);
    assert_non_null(strstr(d.reason, num));
}

static void test_equal_rejected(void **state)
{
    (void)state;
    sf_gate_decision d;
    assert_int_equal(sf_gate_decide(g_label, g_champ, g_champ, g_cluster, ORDERS, ROWS, true,
                                    "champion v1", NULL, &d, NULL),
                     0);
    assert_false(d.released);
    assert_float_equal(d.gain, 0.0, 0.0);
    assert_float_equal(d.boot_lower, 0.0, 0.0);
    assert_non_null(
        strstr(d.reason, "rejected (gain below margin and bootstrap bound not above 0)"));
    assert_non_null(strstr(d.reason, "lower bound <= 0"));
}

static void test_noise_rejected(void **state)
{
    (void)state;
    sf_gate_decision d;
    assert_int_equal(sf_gate_decide(g_label, g_champ, g_noisy, g_cluster, ORDERS, ROWS, true,
                                    "champion v1", NULL, &d, NULL),
                     0);
    assert_false(d.released);
    assert_true(d.boot_lower <= 0.0);
    assert_true(fabs(d.gain) < 0.005);
    assert_non_null(strstr(d.reason, "rejected"));
}

/* Significantly better but not by the configured margin: rejected. */
static void test_margin_rejects(void **state)
{
    (void)state;
    sf_gate_opts o;
    sf_gate_opts_default(&o);
    o.margin = 1.0;
    sf_gate_decision d;
    assert_int_equal(sf_gate_decide(g_label, g_champ, g_better, g_cluster, ORDERS, ROWS, true,
                                    "champion v1", &o, &d, NULL),
                     0);
    assert_false(d.released);
    assert_true(d.boot_lower > 0.0);
    assert_non_null(strstr(d.reason, "rejected (gain below margin)"));
    assert_non_null(strstr(d.reason, "margin 1.0000"));
}

/* No champion: the reference is the constant mean. */
static void test_mean_reference(void **state)
{
    (void)state;
    sf_gate_decision d;
    assert_int_equal(sf_gate_decide(g_label, g_mean, g_better, g_cluster, ORDERS, ROWS, false,
                                    "mean", NULL, &d, NULL),
                     0);
    assert_true(d.released);
    assert_false(d.has_champion);
    assert_non_null(strstr(d.reason, "vs mean"));
    /* A candidate that is the mean itself is not released. */
    assert_int_equal(sf_gate_decide(g_label, g_mean, g_mean, g_cluster, ORDERS, ROWS, false, "mean",
                                    NULL, &d, NULL),
                     0);
    assert_false(d.released);
    assert_non_null(strstr(d.reason, "rejected"));
}

static void test_seed_determinism(void **state)
{
    (void)state;
    sf_gate_opts o;
    sf_gate_opts_default(&o);
    sf_gate_decision a, b, c, rows;
    assert_int_equal(sf_gate_decide(g_label, g_champ, g_noisy, g_cluster, ORDERS, ROWS, true,
                                    "champion", &o, &a, NULL),
                     0);
    assert_int_equal(sf_gate_decide(g_label, g_champ, g_noisy, g_cluster, ORDERS, ROWS, true,
                                    "champion", &o, &b, NULL),
                     0);
    assert_float_equal(a.boot_lower, b.boot_lower, 0.0);
    assert_float_equal(a.boot_upper, b.boot_upper, 0.0);
    assert_string_equal(a.reason, b.reason);
    o.seed = 43;
    assert_int_equal(sf_gate_decide(g_label, g_champ, g_noisy, g_cluster, ORDERS, ROWS, true,
                                    "champion", &o, &c, NULL),
                     0);
    assert_true(c.boot_lower != a.boot_lower);
    assert_non_null(strstr(c.reason, "seed 43"));
    /* Resampling rows ignores the per-order correlation: a narrower interval. */
    o.seed = 42;
    assert_int_equal(sf_gate_decide(g_label, g_champ, g_better, NULL, 0, ROWS, true, "champion", &o,
                                    &rows, NULL),
                     0);
    assert_int_equal(sf_gate_decide(g_label, g_champ, g_better, g_cluster, ORDERS, ROWS, true,
                                    "champion", &o, &a, NULL),
                     0);
    assert_non_null(strstr(rows.reason, "1800 rows"));
    assert_true(rows.boot_upper - rows.boot_lower < a.boot_upper - a.boot_lower);
}

static void test_gate_errors(void **state)
{
    (void)state;
    sf_gate_decision d;
    sf_err err = {{0}};
    assert_int_equal(
        sf_gate_decide(g_label, g_champ, g_better, g_cluster, ORDERS, 0, true, "c", NULL, &d, &err),
        -1);
    assert_non_null(strstr(err.msg, "no holdout rows"));
    assert_int_equal(
        sf_gate_decide(g_label, g_champ, g_better, g_cluster, 10, ROWS, true, "c", NULL, &d, &err),
        -1);
    assert_non_null(strstr(err.msg, "row 30 has cluster 10, out of range"));
    assert_int_equal(sf_gate_decide(g_label, g_champ, g_better, g_cluster, ORDERS + 1, ROWS, true,
                                    "c", NULL, &d, &err),
                     -1);
    assert_non_null(strstr(err.msg, "cluster 600 has no rows"));
    double bad[3] = {1, NAN, 3};
    assert_int_equal(
        sf_gate_decide(g_label, bad, g_better, NULL, 0, 3, true, "champion v2", NULL, &d, &err),
        -1);
    assert_non_null(strstr(err.msg, "row 1 has a non-finite value"));
    sf_gate_opts o;
    sf_gate_opts_default(&o);
    o.resamples = 1;
    assert_int_equal(
        sf_gate_decide(g_label, g_champ, g_better, NULL, 0, 3, true, "c", &o, &d, &err), -1);
    assert_non_null(strstr(err.msg, "need at least 10"));
}

static void test_split(void **state)
{
    (void)state;
    /* 10 orders, times shuffled; 20% = the 2 most recent. */
    const int64_t t[] = {50, 10, 90, 30, 70, 20, 100, 40, 60, 80};
    sf_split s;
    sf_err err = {{0}};
    assert_int_equal(sf_holdout_split(t, 10, 0.2, &s, &err), 0);
    assert_int_equal(s.cutoff, 90);
    assert_int_equal(s.n_train, 8);
    assert_int_equal(s.n_test, 2);
    assert_int_equal(s.train_from, 10);
    assert_int_equal(s.train_to, 80);
    assert_int_equal(s.test_to, 100);
    assert_true(sf_holdout_is_test(&s, 90));
    assert_false(sf_holdout_is_test(&s, 89));
    /* Ties at the boundary join the holdout: 3 orders at time 80. */
    const int64_t tie[] = {10, 20, 30, 40, 50, 60, 80, 80, 80, 100};
    assert_int_equal(sf_holdout_split(tie, 10, 0.2, &s, &err), 0);
    assert_int_equal(s.cutoff, 80);
    assert_int_equal(s.n_test, 4);
    assert_int_equal(s.n_train, 6);
    /* Errors. */
    assert_int_equal(sf_holdout_split(t, 10, 0.0, &s, &err), -1);
    assert_non_null(strstr(err.msg, "fraction 0 is not in (0, 1)"));
    assert_int_equal(sf_holdout_split(t, 1, 0.2, &s, &err), -1);
    assert_non_null(strstr(err.msg, "need at least 2"));
    const int64_t same[] = {5, 5, 5, 5};
    assert_int_equal(sf_holdout_split(same, 4, 0.2, &s, &err), -1);
    assert_non_null(strstr(err.msg, "nothing left to train on"));
    const int64_t none[] = {5, SF_TIME_NONE, 7};
    assert_int_equal(sf_holdout_split(none, 3, 0.2, &s, &err), -1);
    assert_non_null(strstr(err.msg, "order 1 has no purchase time"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_better_released), cmocka_unit_test(test_equal_rejected),
        cmocka_unit_test(test_noise_rejected),  cmocka_unit_test(test_margin_rejects),
        cmocka_unit_test(test_mean_reference),  cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_gate_errors),     cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
