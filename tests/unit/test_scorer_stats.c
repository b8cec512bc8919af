/*
 * test_scorer_stats.c - the scorer's pieces that need no broker: the live
 * counters (histogram buckets, quantiles, the recent ring, the Prometheus
 * text), the model loader of the watcher on bad releases, and the
 * transactional.id rule.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/codec.h"
#include "satisfy/modelwatch.h"
#include "satisfy/scorer.h"
#include "satisfy/stats.h"

/* the index of the bucket whose upper bound is ms */
static int bucket_of(double ms)
{
    for (int b = 0; b < SF_STATS_BUCKETS; b++)
        if (sf_stats_bucket_ms[b] == ms)
            return b;
    fail_msg("no bucket ends at %g ms", ms);
    return -1;
}

static void test_histogram_and_quantiles(void **state)
{
    (void)state;
    sf_stats *s = sf_stats_new();
    assert_non_null(s);
    double e2e[100], proc[100];
    for (int i = 0; i < 100; i++) {
        e2e[i] = i < 90 ? 4.0 : 17.0; /* 90 in (3,5], 10 in (15,20] */
        proc[i] = 0.5;
    }
    sf_stats_batch(s, 100, 4, NULL, 0, e2e, proc, 100);
    sf_stats_snapshot snap;
    sf_stats_get(s, &snap);
    assert_int_equal(snap.events, 100);
    assert_int_equal(snap.dlq, 4);
    assert_int_equal(snap.batches, 1);
    assert_int_equal(snap.e2e.n, 100);
    assert_int_equal(snap.e2e.count[bucket_of(5)], 90);
    assert_int_equal(snap.e2e.count[bucket_of(20)], 10);
    assert_int_equal(snap.process.count[0], 100);
    double p50 = sf_latency_quantile(&snap.e2e, 0.5);
    double p99 = sf_latency_quantile(&snap.e2e, 0.99);
    assert_true(p50 > 3 && p50 <= 5);
    assert_true(p99 > 15 && p99 <= 20);
    sf_latency_hist empty = {0};
    assert_true(isnan(sf_latency_quantile(&empty, 0.5)));
    /* +Inf bucket: a replayed historical timestamp */
    double old = 1e12, p = 1;
    sf_stats_batch(s, 1, 0, NULL, 0, &old, &p, 1);
    sf_stats_get(s, &snap);
    assert_int_equal(snap.e2e.count[SF_STATS_BUCKETS], 1);
    assert_true(sf_latency_quantile(&snap.e2e, 1.0) >= 60000);
    sf_stats_free(s);
}

/* The i-th prediction of a batch, laid out as the scorer keeps them. */
static void put(sf_prediction *ring, uint64_t i, int64_t version)
{
    memset(&ring[i % SF_STATS_RECENT], 0, sizeof *ring);
    ring[i % SF_STATS_RECENT].model_version = version;
}

static void test_recent_ring_and_prometheus(void **state)
{
    (void)state;
    sf_stats *s = sf_stats_new();
    sf_prediction ring[SF_STATS_RECENT];
    /* 69 predictions: the ring holds the newest 64, the 64th..68th where the
     * 0th..4th were */
    for (int i = 0; i < SF_STATS_RECENT + 5; i++)
        put(ring, (uint64_t)i, i);
    sf_stats_batch(s, SF_STATS_RECENT + 5, 0, ring, SF_STATS_RECENT + 5, NULL, NULL, 0);
    sf_prediction out[SF_STATS_RECENT + 5];
    size_t n = sf_stats_recent(s, out, SF_STATS_RECENT + 5);
    assert_int_equal(n, SF_STATS_RECENT);
    for (size_t i = 0; i < n; i++) /* newest first */
        assert_int_equal(out[i].model_version, SF_STATS_RECENT + 4 - (int)i);
    /* a small batch next: appended after the newest, the oldest drop out */
    for (int i = 0; i < 3; i++)
        put(ring, (uint64_t)i, 100 + i);
    sf_stats_batch(s, 3, 0, ring, 3, NULL, NULL, 0);
    n = sf_stats_recent(s, out, SF_STATS_RECENT + 5);
    assert_int_equal(n, SF_STATS_RECENT);
    assert_int_equal(out[0].model_version, 102);
    assert_int_equal(out[3].model_version, SF_STATS_RECENT + 4);
    assert_int_equal(out[n - 1].model_version, 8);
    /* a batch of 1,000 (the scorer's default), the ring wrapped many times:
     * only its newest remain, in order */
    for (int i = 0; i < 1000; i++)
        put(ring, (uint64_t)i, 1000 + i);
    sf_stats_batch(s, 1003, 3, ring, 1000, NULL, NULL, 0);
    n = sf_stats_recent(s, out, SF_STATS_RECENT + 5);
    assert_int_equal(n, SF_STATS_RECENT);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i].model_version, 1999 - (int)i);
    sf_stats_model(s, 7);
    sf_stats_lag(s, 42);
    sf_stats_abort(s);
    sf_stats_snapshot snap;
    sf_stats_get(s, &snap);
    char *text = sf_stats_prometheus(&snap);
    assert_non_null(text);
    assert_non_null(strstr(text, "satisfy_scorer_model_version 7\n"));
    assert_non_null(strstr(text, "satisfy_scorer_consumer_lag 42\n"));
    assert_non_null(strstr(text, "satisfy_scorer_aborts_total 1\n"));
    assert_non_null(strstr(text, "satisfy_scorer_predictions_total 1072\n")); /* 69 + 3 + 1000 */
    assert_non_null(strstr(text, "# TYPE satisfy_scorer_e2e_latency_seconds histogram"));
    assert_non_null(strstr(text, "satisfy_scorer_e2e_latency_seconds_bucket{le=\"+Inf\"} 0\n"));
    free(text);
    sf_stats_free(s);
}

static void test_modelwatch_load_rejects_bad_releases(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_model *m = NULL;
    int64_t v = 0;
    assert_int_equal(sf_modelwatch_load(NULL, 0, &m, &v, &err), -1);
    assert_non_null(strstr(err.msg, "empty release message"));
    const char junk[] = "hello";
    assert_int_equal(sf_modelwatch_load(junk, 5, &m, &v, &err), -1);
    assert_non_null(strstr(err.msg, "magic"));
    /* an order event is not a release */
    sf_order_event ev;
    memset(&ev, 0, sizeof ev);
    memset(ev.order_id, 'a', SF_ID_LEN);
    memset(ev.customer_id, 'b', SF_ID_LEN);
    memset(ev.customer_unique_id, 'c', SF_ID_LEN);
    ev.event_time = ev.purchase = ev.estimated = 1514764800000LL;
    ev.approved = ev.carrier = ev.delivered = SF_TIME_NONE;
    ev.customer.lat = ev.customer.lng = NAN;
    sf_buf b = {0};
    assert_int_equal(sf_encode_order(&ev, &b, &err), 0);
    assert_int_equal(sf_modelwatch_load(b.data, b.len, &m, &v, &err), -1);
    assert_non_null(strstr(err.msg, "OrderEvent"));
    sf_buf_free(&b);
}

static void test_transactional_id(void **state)
{
    (void)state;
    char buf[SF_SCORER_TXN_ID_MAX];
    sf_err err = {{0}};
    assert_int_equal(sf_scorer_transactional_id("g", "host-1", buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "satisfy-scorer.g.host-1");
    assert_int_equal(sf_scorer_transactional_id(NULL, "a", buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "satisfy-scorer.satisfy-scorer.a");
    assert_int_equal(sf_scorer_transactional_id("g", "", buf, sizeof buf, &err), -1);
    assert_non_null(strstr(err.msg, "non-empty instance id"));
    char small[16];
    assert_int_equal(sf_scorer_transactional_id("group", "instance", small, sizeof small, &err),
                     -1);
    assert_non_null(strstr(err.msg, "too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_and_quantiles),
        cmocka_unit_test(test_recent_ring_and_prometheus),
        cmocka_unit_test(test_modelwatch_load_rejects_bad_releases),
        cmocka_unit_test(test_transactional_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
