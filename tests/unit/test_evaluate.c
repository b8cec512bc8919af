/*
 * test_metrics.c - the evaluation metrics against values computed by hand:
 * RMSE/MAE/R2, AUC with tied scores counted half, average precision with tie
 * groups taken whole (and independent of row order inside a tie), the
 * degenerate one-class and constant-label cases, and error messages.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/evaluate.h"

static void test_auc_with_ties(void **state)
{
    (void)state;
    /* Pairs (pos, neg): 0.9 beats 0.8 and 0.3 (2); 0.8 ties 0.8 (0.5) and
     * beats 0.3 (1); 0.1 loses both. 3.5 / (3 * 2). */
    const double s[] = {0.9, 0.8, 0.8, 0.3, 0.1};
    const unsigned char p[] = {1, 1, 0, 0, 1};
    double auc, ap;
    sf_err err = {{0}};
    assert_int_equal(sf_auc(s, p, 5, &auc, &err), 0);
    assert_float_equal(auc, 3.5 / 6.0, 1e-12);
    /* Tie groups: {0.9: +} 1/3 * 1/1; {0.8: +,-} 1/3 * 2/3; {0.1: +} 1/3 * 3/5. */
    assert_int_equal(sf_pr_auc(s, p, 5, &ap, &err), 0);
    assert_float_equal(ap, 34.0 / 45.0, 1e-12);
}

static void test_all_tied_and_extremes(void **state)
{
    (void)state;
    double auc, ap;
    const double flat[] = {1, 1, 1, 1};
    const unsigned char p[] = {1, 0, 1, 0};
    assert_int_equal(sf_auc(flat, p, 4, &auc, NULL), 0);
    assert_float_equal(auc, 0.5, 1e-12);
    assert_int_equal(sf_pr_auc(flat, p, 4, &ap, NULL), 0);
    assert_float_equal(ap, 0.5, 1e-12);

    const double up[] = {4, 3, 2, 1};
    const unsigned char best[] = {1, 1, 0, 0}, worst[] = {0, 0, 1, 1};
    assert_int_equal(sf_auc(up, best, 4, &auc, NULL), 0);
    assert_float_equal(auc, 1.0, 1e-12);
    assert_int_equal(sf_pr_auc(up, best, 4, &ap, NULL), 0);
    assert_float_equal(ap, 1.0, 1e-12);
    assert_int_equal(sf_auc(up, worst, 4, &auc, NULL), 0);
    assert_float_equal(auc, 0.0, 1e-12);
    /* Positives at ranks 3 and 4: 1/2 * 1/3 + 1/2 * 2/4. */
    assert_int_equal(sf_pr_auc(up, worst, 4, &ap, NULL), 0);
    assert_float_equal(ap, 5.0 / 12.0, 1e-12);
}

/* Average precision must not depend on how rows inside a tie are ordered. */
static void test_ap_tie_order_invariant(void **state)
{
    (void)state;
    const double s1[] = {0.7, 0.7, 0.7, 0.2, 0.9};
    const unsigned char p1[] = {1, 0, 0, 1, 0};
    const double s2[] = {0.9, 0.7, 0.7, 0.7, 0.2};
    const unsigned char p2[] = {0, 0, 0, 1, 1};
    double a1, a2, u1, u2;
    assert_int_equal(sf_pr_auc(s1, p1, 5, &a1, NULL), 0);
    assert_int_equal(sf_pr_auc(s2, p2, 5, &a2, NULL), 0);
    /* {0.9: -}; {0.7: +,-,-} 1/2 * 1/4; {0.2: +} 1/2 * 2/5. */
    assert_float_equal(a1, 0.125 + 0.2, 1e-12);
    assert_float_equal(a2, a1, 1e-15);
    assert_int_equal(sf_auc(s1, p1, 5, &u1, NULL), 0);
    assert_int_equal(sf_auc(s2, p2, 5, &u2, NULL), 0);
    assert_float_equal(u1, u2, 1e-15);
}

/* AUC against the O(n^2) pair count on random data with many ties. */
static void test_auc_matches_pair_count(void **state)
{
    (void)state;
    enum { N = 600 };
    double s[N];
    unsigned char p[N];
    unsigned x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        s[i] = (double)((x >> 16) % 20);
        x = x * 1103515245u + 12345u;
        p[i] = ((x >> 16) % 3) == 0;
    }
    double wins = 0, pairs = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (p[i] && !p[j]) {
                pairs += 1;
                wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
            }
    double auc;
    assert_int_equal(sf_auc(s, p, N, &auc, NULL), 0);
    assert_float_equal(auc, wins / pairs, 1e-12);
}

static void test_regression_metrics(void **state)
{
    (void)state;
    const double y[] = {1, 2, 5, 4, 3};
    const double pred[] = {2, 2, 4, 4, 4};
    sf_metrics m;
    sf_err err = {{0}};
    assert_int_equal(sf_metrics_compute(y, pred, NULL, 5, &m, &err), 0);
    assert_int_equal(m.n, 5);
    assert_int_equal(m.n_pos, 2);
    assert_float_equal(m.rmse, sqrt(3.0 / 5.0), 1e-12);
    assert_float_equal(m.mae, 0.6, 1e-12);
    assert_true(m.r2_ok);
    assert_float_equal(m.r2, 1.0 - 3.0 / 10.0, 1e-12);
    /* Ranked by -pred the two dissatisfied rows are on top. */
    assert_true(m.binary_ok);
    assert_float_equal(m.auc, 1.0, 1e-12);
    assert_float_equal(m.pr_auc, 1.0, 1e-12);

    /* With an explicit dissatisfaction score: pos 0.9 beats 0.5, 0.2 and ties
     * 0.9 (2.5); pos 0.1 loses all: 2.5 / 6. AP: {0.9: +,-} 1/2 * 1/2;
     * {0.1: +} 1/2 * 2/5. */
    const double dis[] = {0.1, 0.9, 0.5, 0.2, 0.9};
    assert_int_equal(sf_metrics_compute(y, pred, dis, 5, &m, &err), 0);
    assert_float_equal(m.auc, 2.5 / 6.0, 1e-12);
    assert_float_equal(m.pr_auc, 0.45, 1e-12);
}

static void test_degenerate(void **state)
{
    (void)state;
    const double y[] = {5, 5, 5};
    const double pred[] = {4, 5, 4.5};
    sf_metrics m;
    assert_int_equal(sf_metrics_compute(y, pred, NULL, 3, &m, NULL), 0);
    assert_false(m.binary_ok);
    assert_false(m.r2_ok);
    assert_true(isnan(m.auc));
    assert_true(isnan(m.pr_auc));
    assert_true(isnan(m.r2));
    assert_float_equal(m.mae, 0.5, 1e-12);

    /* One class but varying labels: R2 defined, AUC not. */
    const double y2[] = {1, 2, 1};
    assert_int_equal(sf_metrics_compute(y2, pred, NULL, 3, &m, NULL), 0);
    assert_true(m.r2_ok);
    assert_false(m.binary_ok);
    assert_true(isnan(m.auc));

    double auc = 0;
    const unsigned char none[] = {0, 0, 0};
    assert_int_equal(sf_auc(pred, none, 3, &auc, NULL), 0);
    assert_true(isnan(auc));
}

static void test_errors(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_metrics m;
    const double y[] = {1, 2, 3};
    const double bad[] = {1, NAN, 3};
    assert_int_equal(sf_metrics_compute(y, y, NULL, 0, &m, &err), -1);
    assert_non_null(strstr(err.msg, "no rows"));
    assert_int_equal(sf_metrics_compute(y, bad, NULL, 3, &m, &err), -1);
    assert_non_null(strstr(err.msg, "prediction of row 1 is not finite"));
    assert_int_equal(sf_metrics_compute(bad, y, NULL, 3, &m, &err), -1);
    assert_non_null(strstr(err.msg, "label of row 1"));
    const double dis[] = {0.1, 0.2, INFINITY};
    assert_int_equal(sf_metrics_compute(y, y, dis, 3, &m, &err), -1);
    assert_non_null(strstr(err.msg, "score of row 2 is not finite"));
    double a;
    const unsigned char p[] = {1};
    assert_int_equal(sf_pr_auc(y, p, 0, &a, &err), -1);
    assert_non_null(strstr(err.msg, "pr_auc: no rows"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auc_with_ties),
        cmocka_unit_test(test_all_tied_and_extremes),
        cmocka_unit_test(test_ap_tie_order_invariant),
        cmocka_unit_test(test_auc_matches_pair_count),
        cmocka_unit_test(test_regression_metrics),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
