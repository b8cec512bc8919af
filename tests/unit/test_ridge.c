/*
 * test_ridge.c - the GSL learners: ridge recovers a linear signal, picks
 * lambda on the validation rows, imputes missing values with an indicator,
 * explains by coefficient x standardised value, and the logistic objective
 * separates the dissatisfied rows.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/model.h"

/* Synthetic rows of the seed spec (12 inputs): label depends on x0, x1 and
 * on whether x2 is missing; row i belongs to order i purchased at time i. */
static uint64_t rng_state = 88172645463325252ULL;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void synth(sf_examples *ex, size_t n, double noise)
{
    memset(ex, 0, sizeof *ex);
    ex->spec = sf_spec_seed();
    ex->d = 12;
    ex->n = n;
    ex->x = malloc(n * 12 * sizeof *ex->x);
    ex->label = malloc(n * sizeof *ex->label);
    ex->stage = malloc(n * sizeof *ex->stage);
    ex->purchase = malloc(n * sizeof *ex->purchase);
    ex->event_time = malloc(n * sizeof *ex->event_time);
    ex->order = malloc(n * sizeof *ex->order);
    for (size_t i = 0; i < n; i++) {
        float *r = ex->x + i * 12;
        for (int j = 0; j < 12; j++)
            r[j] = (float)(urand() * 4 - 2);
        if (urand() < 0.2)
            r[2] = NAN;
        double y = 3.2 + 0.8 * r[0] - 0.5 * r[1] + (isnan(r[2]) ? -0.7 : 0) +
                   noise * (urand() - 0.5) * 3.4;
        y = floor(y + 0.5);
        ex->label[i] = (float)(y < 1 ? 1 : y > 5 ? 5 : y);
        ex->stage[i] = SF_STAGE_PURCHASED;
        ex->purchase[i] = ex->event_time[i] = (int64_t)i;
        ex->order[i] = i;
    }
}

static void test_ridge_fit(void **state)
{
    (void)state;
    sf_examples ex;
    synth(&ex, 5000, 0.2);
    sf_model_params p;
    sf_model_params_default(&p);
    p.n_lambdas = 3;
    p.lambdas[0] = 1e7; /* far too strong: must not be chosen */
    p.lambdas[1] = 1;
    p.lambdas[2] = 1e6;
    sf_model *m;
    sf_err err;
    assert_int_equal(sf_model_train(SF_ALGO_RIDGE, &ex, NULL, &p, &m, &err), 0);
    const sf_model_info *in = sf_model_get_info(m);
    assert_true(in->lambda == 1);
    assert_true(in->valid_rmse < 0.6);
    /* contributions: x0 pushes up, x1 down, x2 missing down; sum = score */
    float row[12] = {1.5f, 1.5f, NAN, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    double c[12], bias, s, pr;
    sf_model_contributions(m, row, c, &bias);
    assert_true(c[0] > 0.5 && c[1] < -0.3 && c[2] < -0.1);
    double sum = bias;
    for (int j = 0; j < 12; j++)
        sum += c[j];
    sf_model_predict(m, row, 1, &s, &pr);
    assert_true(fabs(sum - s) < 1e-9 || (s == 1 || s == 5));
    sf_reason r[SF_REASONS];
    int nr;
    sf_model_explain(m, row, 1, &s, &pr, r, &nr);
    assert_int_equal(nr, 3);
    assert_string_equal(r[0].feature, "payment_sequential");
    assert_true(r[0].value == 1.5 && r[0].contribution > 0);
    assert_string_equal(r[1].feature, "payment_installments");
    assert_true(r[1].contribution < 0);
    assert_string_equal(r[2].feature, "payment_value_missing");
    assert_true(r[2].value == 1 && r[2].contribution < 0);
    sf_model_free(m);
    sf_examples_free(&ex);
}

static void test_logistic(void **state)
{
    (void)state;
    sf_examples ex;
    synth(&ex, 4000, 0.3);
    sf_model_params p;
    sf_model_params_default(&p);
    p.prob = SF_PROB_OBJECTIVE;
    sf_model *m;
    sf_err err;
    assert_int_equal(sf_model_train(SF_ALGO_RIDGE, &ex, NULL, &p, &m, &err), 0);
    const sf_model_info *in = sf_model_get_info(m);
    assert_int_equal(in->prob, SF_PROB_OBJECTIVE);
    assert_true(in->auc_objective > 0.85);
    float lo[12] = {-2, 2, NAN, 0, 0, 0, 0, 0, 0, 0, 0, 0}, hi[12] = {2, -2, 1};
    double s, plo, phi;
    sf_model_predict(m, lo, 1, &s, &plo);
    sf_model_predict(m, hi, 1, &s, &phi);
    assert_true(plo > 0.8 && phi < 0.05);
    sf_model_free(m);
    sf_examples_free(&ex);

    /* too few rows */
    synth(&ex, 1, 0.3);
    sf_examples va = ex;
    assert_int_equal(sf_model_train(SF_ALGO_RIDGE, &ex, &va, NULL, &m, &err), -1);
    assert_non_null(strstr(err.msg, "at least 10 training rows"));
    sf_examples_free(&ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ridge_fit),
        cmocka_unit_test(test_logistic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
