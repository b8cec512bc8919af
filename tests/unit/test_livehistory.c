/*
 * test_livehistory.c - the scorer's live history (livehistory.h) against
 * librdkafka's mock cluster, in process: the start-up wait returns at once
 * on an empty topic; a snapshot seeds an empty history, and records then
 * override the seeded seller while the seeded customer stays; a snapshot
 * that comes after records is not used; the wait reads up to the
 * watermarks of its start; a malformed record is counted and skipped; a
 * format-1 seed (32-bit customer keys) is dropped at the first record.
 * Every wait is on an observed count with a bounded timeout.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/clock.h"
#include "satisfy/kafka.h"
#include "satisfy/livehistory.h"
#include "satisfy/mockbroker.h"

#define SELLER "ssssssssssssssssssssssssssssssss"
#define CUST   "cccccccccccccccccccccccccccccccc"
#define DAY    86400000LL

static sf_item g_item;

static sf_order_event order_of(const char *id, int64_t t)
{
    sf_order_event ev;
    memset(&ev, 0, sizeof ev);
    memset(&g_item, 0, sizeof g_item);
    memcpy(g_item.seller_id, SELLER, SF_ID_LEN);
    snprintf(ev.order_id, sizeof ev.order_id, "%.32s", id);
    memcpy(ev.customer_unique_id, CUST, SF_ID_LEN);
    ev.items = &g_item;
    ev.n_items = 1;
    ev.purchase = ev.event_time = t;
    ev.estimated = t + 10 * DAY;
    ev.approved = ev.carrier = ev.delivered = SF_TIME_NONE;
    return ev;
}

/* n reviews of score `score` of SELLER by CUST, in h. */
static void reviews(sf_history *h, int n, int score)
{
    sf_err err;
    char id[40];
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%032d", i + 1);
        sf_order_event ev = order_of(id, 1514764800000LL + i * DAY);
        assert_int_equal(sf_history_add_purchase(h, &ev, &err), 0);
        assert_int_equal(sf_history_add_review(h, &ev, score, &err), 0);
        assert_int_equal(sf_history_forget_order(h, id, &err), 0);
    }
}

static void produce(rd_kafka_t *p, const void *k, size_t kl, const void *v, size_t vl)
{
    assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(SF_TOPIC_HISTORY),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_KEY((void *)k, kl),
                                       RD_KAFKA_V_VALUE((void *)v, vl), RD_KAFKA_V_END),
                     0);
}

static void produce_seller(rd_kafka_t *p, const sf_history *h)
{
    sf_history_ref ref = {SF_HISTORY_SELLER, sf_history_seller_key(SELLER)};
    uint8_t key[SF_HISTORY_KEY_LEN];
    sf_buf val = {0};
    sf_err err;
    sf_history_record_key(ref, key);
    assert_int_equal(sf_history_record(h, ref, &val, &err), 0);
    produce(p, key, sizeof key, val.data, val.len);
    sf_buf_free(&val);
}

/* The view of a later order of CUST from SELLER. */
static sf_history_view view(sf_livehist *lh)
{
    sf_history_view v;
    sf_order_event ev = order_of("ffffffffffffffffffffffffffffffff", 1600000000000LL);
    const sf_history *h = sf_livehist_lock(lh);
    sf_history_view_of(h, &ev, &v);
    sf_livehist_unlock(lh);
    return v;
}

static void wait_records(sf_livehist *lh, uint64_t records, uint64_t bad)
{
    sf_livehist_counts c;
    double end = sf_mono_s() + 30;
    do {
        sf_livehist_get(lh, &c);
        if (c.records >= records && c.bad >= bad)
            break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    } while (sf_mono_s() < end);
    assert_int_equal(c.records, records);
    assert_int_equal(c.bad, bad);
}

static void test_seed_then_records(void **state)
{
    (void)state;
    sf_err err;
    sf_mockbroker *mb = sf_mockbroker_start(1, 2, &err);
    assert_non_null(mb);
    sf_kafka_conn conn = {.brokers = sf_mockbroker_bootstraps(mb)};
    sf_kafka_client_opts po = {.role = SF_KAFKA_TOOL_PRODUCER, .conn = conn};
    rd_kafka_t *p = sf_kafka_client_new(&po, &err);
    assert_non_null(p);
    sf_livehist_opts o = {0};
    sf_livehist *lh = sf_livehist_start(&conn, &o, &err);
    assert_non_null(lh);
    assert_int_equal(sf_livehist_wait(lh, 30, NULL), 1); /* empty topic: at once */

    /* an older release's snapshot: 2 reviews of 1 star, seeds the empty history */
    sf_history *snap = sf_history_new();
    reviews(snap, 2, 1);
    assert_int_equal(sf_livehist_seed(lh, snap, 3, &err), 1);
    sf_history_view v = view(lh);
    assert_true(v.seller_review_count == 2 && v.seller_review_mean == 1);
    assert_true(v.customer_orders == 2 && v.customer_review_mean == 1);

    /* a live record of the seller (4 reviews of 5 stars) overrides it; the
     * customer keeps the seeded numbers; a bad record is counted, skipped */
    sf_history *live = sf_history_new();
    reviews(live, 4, 5);
    produce_seller(p, live);
    uint8_t badkey[SF_HISTORY_KEY_LEN] = {SF_HISTORY_SELLER, 1};
    produce(p, badkey, sizeof badkey, "\x07\x01", 2);
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    wait_records(lh, 1, 1);
    v = view(lh);
    assert_true(v.seller_review_count == 4 && v.seller_review_mean == 5);
    assert_true(v.customer_orders == 2 && v.customer_review_mean == 1);
    /* a snapshot after records is not used */
    assert_int_equal(sf_livehist_seed(lh, snap, 4, &err), 0);
    v = view(lh);
    assert_true(v.seller_review_count == 4);
    sf_livehist_stop(lh);

    /* a new follower: the wait reads to the watermarks of its start */
    lh = sf_livehist_start(&conn, &o, &err);
    assert_non_null(lh);
    assert_int_equal(sf_livehist_wait(lh, 30, NULL), 1);
    sf_livehist_counts c;
    sf_livehist_get(lh, &c);
    assert_int_equal(c.records, 1);
    assert_int_equal(c.bad, 1);
    assert_int_equal(c.behind, 0);
    assert_int_equal(c.seeded, 0);
    v = view(lh);
    assert_true(v.seller_review_count == 4 && isnan(v.customer_review_mean));
    sf_livehist_stop(lh);

    sf_history_free(snap);
    sf_history_free(live);
    rd_kafka_destroy(p);
    sf_mockbroker_stop(mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_then_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
