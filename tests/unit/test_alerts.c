/*
 * test_alerts.c - the scorer's alert logic without Kafka (alerts.h): the
 * release's threshold from its metrics_json (absent, null, out of range:
 * none), the override winning over every release, once per order (a second
 * crossing, pending or committed, makes none), an aborted batch's orders
 * alerted again on its retry, none under the threshold or without one, the
 * newest alerts newest first, and the metrics text.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/alerts.h"

static sf_prediction pred(int order, double risk, int64_t at)
{
    sf_prediction p;
    memset(&p, 0, sizeof p);
    snprintf(p.order_id, sizeof p.order_id, "%032x", order);
    snprintf(p.event_id, sizeof p.event_id, "%s:DELIVERED", p.order_id);
    p.stage = SF_STAGE_DELIVERED;
    p.score = 2.0;
    p.p_dissatisfied = risk;
    p.model_version = 3;
    p.event_time = 1507700000000LL;
    p.scored_at = at;
    return p;
}

static void test_release_threshold(void **state)
{
    (void)state;
    double t = -1;
    assert_int_equal(sf_alerts_release_threshold(NULL, &t), 0);
    assert_int_equal(sf_alerts_release_threshold("{\"holdout\":{}}", &t), 0);
    assert_int_equal(sf_alerts_release_threshold("{\"alert\":{\"threshold\":null}}", &t), 0);
    assert_int_equal(sf_alerts_release_threshold("{\"alert\":{\"threshold\":1.5}}", &t), 0);
    assert_int_equal(sf_alerts_release_threshold("not json", &t), 0);
    assert_int_equal(sf_alerts_release_threshold("{\"alert\":{\"threshold\":0.25}}", &t), 1);
    assert_true(t == 0.25);
}

static void test_once_per_order(void **state)
{
    (void)state;
    sf_alerts *a = sf_alerts_new(NAN, NULL, NULL);
    assert_non_null(a);
    sf_alert al;
    sf_prediction p = pred(1, 0.9, 1000);
    /* no release yet, no override: no alerts */
    assert_true(isnan(sf_alerts_threshold(a)));
    assert_int_equal(sf_alerts_check(a, &p, &al), 0);
    /* a release without a threshold: still none */
    sf_alerts_use_release(a, 1, "{\"gate\":{}}");
    assert_int_equal(sf_alerts_check(a, &p, &al), 0);
    sf_alerts_use_release(a, 2, "{\"alert\":{\"threshold\":0.5}}");
    assert_true(sf_alerts_threshold(a) == 0.5);
    sf_prediction under = pred(2, 0.49, 1001);
    assert_int_equal(sf_alerts_check(a, &under, &al), 0);
    assert_int_equal(sf_alerts_check(a, &p, &al), 1);
    assert_true(al.threshold == 0.5 && al.p.p_dissatisfied == 0.9);
    assert_string_equal(al.p.event_id, p.event_id);
    /* the same order again in the same batch (pending): none */
    sf_prediction p2 = pred(1, 0.95, 1002);
    assert_int_equal(sf_alerts_check(a, &p2, &al), 0);
    /* the batch aborts: its orders alert again on the retry */
    sf_alerts_abort(a);
    assert_int_equal(sf_alerts_check(a, &p, &al), 1);
    sf_alerts_commit(a);
    /* committed: never again, whatever the risk, stage or threshold */
    assert_int_equal(sf_alerts_check(a, &p2, &al), 0);
    sf_alerts_use_release(a, 3, "{\"alert\":{\"threshold\":0.1}}");
    assert_int_equal(sf_alerts_check(a, &p2, &al), 0);
    assert_int_equal(sf_alerts_check(a, &under, &al), 1); /* 0.49 >= 0.1 now */
    sf_alerts_commit(a);
    sf_alerts_counts c;
    sf_alerts_get(a, &c);
    assert_int_equal(c.emitted, 2);
    assert_int_equal(c.known, 2);
    /* newest first, each order once */
    sf_alert r[4];
    assert_int_equal(sf_alerts_recent(a, r, 4), 2);
    assert_string_equal(r[0].p.order_id, under.order_id);
    assert_string_equal(r[1].p.order_id, p.order_id);
    char *m = sf_alerts_prometheus(a);
    assert_non_null(strstr(m, "satisfy_scorer_alerts_total 2\n"));
    assert_non_null(strstr(m, "satisfy_scorer_alert_threshold 0.1\n"));
    free(m);
    char *js = sf_alerts_json(a, 1);
    assert_non_null(strstr(js, "\"threshold\":0.1"));
    assert_non_null(strstr(js, "\"emitted\":2"));
    assert_null(strstr(js, p.order_id)); /* n = 1: the newest only */
    free(js);
    sf_alerts_free(a);
}

static void test_override_and_disable(void **state)
{
    (void)state;
    sf_alerts *a = sf_alerts_new(0.8, NULL, NULL);
    sf_alert al;
    sf_alerts_use_release(a, 1, "{\"alert\":{\"threshold\":0.2}}");
    assert_true(sf_alerts_threshold(a) == 0.8);
    sf_prediction p = pred(7, 0.5, 1);
    assert_int_equal(sf_alerts_check(a, &p, &al), 0); /* over the release's, under the override */
    p.p_dissatisfied = 0.8;
    assert_int_equal(sf_alerts_check(a, &p, &al), 1);
    assert_true(al.threshold == 0.8);
    sf_alerts_abort(a);
    sf_alerts_disable(a, "test");
    assert_true(isnan(sf_alerts_threshold(a)));
    assert_int_equal(sf_alerts_check(a, &p, &al), 0);
    char *m = sf_alerts_prometheus(a);
    assert_non_null(strstr(m, "satisfy_scorer_alert_threshold -1\n"));
    free(m);
    char *js = sf_alerts_json(a, 50);
    assert_non_null(strstr(js, "\"threshold\":null"));
    free(js);
    sf_alerts_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_threshold),
        cmocka_unit_test(test_once_per_order),
        cmocka_unit_test(test_override_and_disable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
