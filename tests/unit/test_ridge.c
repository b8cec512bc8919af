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

static void test_ridge_fit(void **state)
{
    (void)state;
    sf_examples ex;
    tu_synth_examples(&ex, 5000, 0.2);
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
    tu_synth_examples(&ex, 4000, 0.3);
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
    tu_synth_examples(&ex, 1, 0.3);
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
