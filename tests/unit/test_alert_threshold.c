/*
 * test_alert_threshold.c - the alert threshold's choice on the holdout
 * (alert_threshold.h): the precision target is met, the threshold is the
 * lowest risk that meets it (also when precision is not monotone), an order
 * counts once with its largest risk over its stages, ties are taken
 * together, an unreachable target finds none, and the JSON says so.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "satisfy/alert_threshold.h"

/* Brute force: the precision and recall at threshold t over order maxima. */
static void at(const double *mx, const int *pos, size_t m, double t, double *prec, double *rec)
{
    size_t a = 0, tp = 0, p = 0;
    for (size_t k = 0; k < m; k++) {
        p += (size_t)pos[k];
        if (mx[k] >= t) {
            a++;
            tp += (size_t)pos[k];
        }
    }
    *prec = a ? (double)tp / (double)a : 0;
    *rec = p ? (double)tp / (double)p : 0;
}

static void test_lowest_meeting_target(void **state)
{
    (void)state;
    /* one row per order; risks descending: 0.9 bad, 0.8 good, 0.7 bad,
     * 0.6 good, 0.5 good, 0.4 bad, 0.3 good, 0.2 good. Precision by
     * threshold: 1, 1/2, 2/3, 2/4, 2/5, 3/6, 3/7, 3/8: not monotone. */
    double risk[] = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2};
    double label[] = {1, 5, 2, 4, 5, 1, 5, 4};
    size_t order[] = {0, 1, 2, 3, 4, 5, 6, 7};
    sf_alert_choice c;
    sf_err err;
    assert_int_equal(sf_alert_choose(risk, label, order, 8, 8, 0.5, &c, &err), 0);
    assert_true(c.found);
    assert_true(c.threshold == 0.4); /* 3/6 = 0.5, lower than 0.6 (2/4) and 0.8 (1/2) */
    assert_true(c.precision == 0.5 && c.precision >= c.target);
    assert_true(c.recall == 1.0);
    assert_int_equal(c.n_orders, 8);
    assert_int_equal(c.n_positive, 3);
    assert_int_equal(c.n_alerted, 6);
    /* 0.6 only at 0.7 and above */
    assert_int_equal(sf_alert_choose(risk, label, order, 8, 8, 0.6, &c, &err), 0);
    assert_true(c.found && c.threshold == 0.7);
    assert_true(c.precision > 0.66 && c.precision < 0.67);
    /* 1.0: only the top order */
    assert_int_equal(sf_alert_choose(risk, label, order, 8, 8, 1.0, &c, &err), 0);
    assert_true(c.found && c.threshold == 0.9 && c.n_alerted == 1);
}

static void test_orders_counted_once_with_their_max(void **state)
{
    (void)state;
    /* order 0 (bad): stages 0.1, 0.8; order 1 (good): 0.7, 0.2 (its max
     * 0.7); order 2 (good): 0.75 at one stage. Per row, 0.7 would alert
     * two good rows; per order, 0.8 is the only threshold with precision 1. */
    double risk[] = {0.1, 0.7, 0.8, 0.2, 0.75};
    double label[] = {2, 5, 2, 5, 4};
    size_t order[] = {0, 1, 0, 1, 2};
    sf_alert_choice c;
    sf_err err;
    assert_int_equal(sf_alert_choose(risk, label, order, 5, 4, 0.9, &c, &err), 0);
    assert_true(c.found && c.threshold == 0.8);
    assert_int_equal(c.n_orders, 3); /* order 3 has no row: not judged */
    assert_int_equal(c.n_alerted, 1);
    assert_true(c.recall == 1.0);
}

static void test_ties_and_none(void **state)
{
    (void)state;
    /* a tie at 0.5 between a bad and a good order: precision 1/2 there,
     * whatever their order */
    double risk[] = {0.5, 0.5, 0.1};
    double label[] = {1, 5, 5};
    size_t order[] = {0, 1, 2};
    sf_alert_choice c;
    sf_err err;
    assert_int_equal(sf_alert_choose(risk, label, order, 3, 3, 0.75, &c, &err), 0);
    assert_false(c.found);
    assert_int_equal(c.n_alerted, 0);
    cJSON *j = sf_alert_choice_json(&c);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "threshold")));
    assert_true(cJSON_GetObjectItem(j, "target")->valuedouble == 0.75);
    cJSON_Delete(j);
    assert_int_equal(sf_alert_choose(risk, label, order, 3, 3, 0.5, &c, &err), 0);
    assert_true(c.found && c.threshold == 0.5 && c.n_alerted == 2);
    j = sf_alert_choice_json(&c);
    assert_true(cJSON_GetObjectItem(j, "threshold")->valuedouble == 0.5);
    assert_int_equal(cJSON_GetObjectItem(j, "orders")->valueint, 3);
    cJSON_Delete(j);
    /* bad input */
    double nan_risk[] = {1.5};
    assert_int_equal(sf_alert_choose(nan_risk, label, order, 1, 1, 0.5, &c, &err), -1);
    assert_non_null(strstr(err.msg, "outside 0..1"));
}

/* Random holdouts: the choice meets the target and no lower candidate does. */
static void test_random_against_brute_force(void **state)
{
    (void)state;
    srand(7);
    for (int it = 0; it < 200; it++) {
        size_t m = 1 + (size_t)(rand() % 60), n = 0;
        double risk[240], label[240], mx[60];
        size_t order[240];
        int pos[60];
        for (size_t k = 0; k < m; k++) {
            int stages = 1 + rand() % 4;
            double lab = 1 + rand() % 5;
            pos[k] = lab <= 2;
            mx[k] = -1;
            for (int s = 0; s < stages; s++) {
                double r = (double)(rand() % 21) / 20.0; /* ties likely */
                risk[n] = r;
                label[n] = lab;
                order[n++] = k;
                if (r > mx[k])
                    mx[k] = r;
            }
        }
        double target = 0.2 + 0.1 * (rand() % 8);
        sf_alert_choice c;
        sf_err err;
        assert_int_equal(sf_alert_choose(risk, label, order, n, m, target, &c, &err), 0);
        double best = -1;
        for (size_t k = 0; k < m; k++) {
            double pr, rc;
            at(mx, pos, m, mx[k], &pr, &rc);
            if (pr >= target && (best < 0 || mx[k] < best))
                best = mx[k];
        }
        assert_int_equal(c.found, best >= 0);
        if (c.found) {
            double pr, rc;
            at(mx, pos, m, c.threshold, &pr, &rc);
            assert_true(c.threshold == best);
            assert_true(pr == c.precision && rc == c.recall && pr >= target);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowest_meeting_target),
        cmocka_unit_test(test_orders_counted_once_with_their_max),
        cmocka_unit_test(test_ties_and_none),
        cmocka_unit_test(test_random_against_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
