/*
 * test_history.c - the seller and customer history (lib/features/history.c) as its
 * own unit: customers are told apart by a 64-bit key, so two ids that
 * collided under the former 32-bit key keep separate histories, live and
 * through a snapshot; a snapshot of the former format (SFH1, 32-bit customer
 * keys) is still read with the key it was made with; and a snapshot
 * round-trips many customers, each with its own numbers; the live records
 * (satisfy.history) carry every entity's state so that a history built
 * from them gives the same views, tombstones forget an order's own
 * reviews, a malformed record is refused without changing anything, and a
 * history built without tracking lists all its records at once.
 * (The strictly-before rule, the own-review exclusion and leakage are
 * proven through the feature rows in test_features.c.)
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/history.h"

#define D  (24LL * 3600 * 1000)
#define T0 1500000000000LL

/* Two customer_unique_ids with the same FNV-1a 32-bit hash (the customer key
 * of snapshot format 1), found by a birthday search over 49,518 random
 * 32-hex-digit ids (seed 15). */
#define CUST_A "ccd28ccda798b993ab3c0493b5c27f4b"
#define CUST_B "a42667f55557071ae08d3526074452d3"

static uint32_t fnv1a32(const char *s)
{
    uint32_t h = 0x811c9dc5u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x01000193u;
    return h;
}

static sf_item g_item;

/* An order of customer cust from seller 's...s', purchased at t. */
static sf_order_event order_of(const char *order_id, const char *cust, int64_t t)
{
    sf_order_event ev;
    memset(&ev, 0, sizeof ev);
    memset(&g_item, 0, sizeof g_item);
    memset(g_item.seller_id, 's', SF_ID_LEN);
    snprintf(ev.order_id, sizeof ev.order_id, "%.32s", order_id);
    snprintf(ev.customer_unique_id, sizeof ev.customer_unique_id, "%.32s", cust);
    ev.items = &g_item;
    ev.n_items = 1;
    ev.purchase = ev.event_time = t;
    ev.estimated = t + 10 * D;
    ev.approved = ev.carrier = ev.delivered = SF_TIME_NONE;
    return ev;
}

static void history_of_a(sf_history *h)
{
    sf_err err;
    sf_order_event a = order_of("a0000000000000000000000000000000", CUST_A, T0);
    assert_int_equal(sf_history_add_purchase(h, &a, &err), 0);
    assert_int_equal(sf_history_add_review(h, &a, 1, &err), 0);
}

/* Customer B's first order sees no earlier orders and no reviews of its
 * own, and A's next order sees A's. */
static void expect_separate(const sf_history *h, const char *when)
{
    sf_history_view v;
    sf_order_event b = order_of("b0000000000000000000000000000000", CUST_B, T0 + 5 * D);
    sf_history_view_of(h, &b, &v);
    if (v.customer_orders != 0 || !isnan(v.customer_review_mean))
        fail_msg("%s: customer B sees %g earlier orders and review mean %g of customer A", when,
                 v.customer_orders, v.customer_review_mean);
    sf_order_event a2 = order_of("c0000000000000000000000000000000", CUST_A, T0 + 5 * D);
    sf_history_view_of(h, &a2, &v);
    assert_true(v.customer_orders == 1 && v.customer_review_mean == 1);
    /* the seller's numbers are shared by both customers' orders */
    sf_history_view_of(h, &b, &v);
    assert_true(v.seller_review_count == 1 && v.seller_review_mean == 1);
}

static void test_customer_collision(void **state)
{
    (void)state;
    assert_true(strcmp(CUST_A, CUST_B) != 0);
    assert_int_equal(fnv1a32(CUST_A), fnv1a32(CUST_B)); /* they do collide under 32 bits */
    assert_true(sf_history_customer_key(CUST_A) != sf_history_customer_key(CUST_B));

    sf_history *h = sf_history_new();
    assert_non_null(h);
    history_of_a(h);
    assert_int_equal(sf_history_customers(h), 1);
    expect_separate(h, "live");

    sf_err err;
    uint8_t *buf;
    size_t len;
    assert_int_equal(sf_history_save(h, &buf, &len, &err), 0);
    sf_history *g = sf_history_load(buf, len, &err);
    if (!g)
        fail_msg("load: %s", err.msg);
    expect_separate(g, "after a snapshot");
    free(buf);
    sf_history_free(g);
    sf_history_free(h);
}

/* A snapshot of format 1 (32-bit customer keys, what releases made before
 * format 2 carry) is still read, with its own key: an upgraded scorer or
 * retrainer keeps using the models it has, as trained. Such a history keeps
 * 32-bit keys for what it learns afterwards, and saves as format 1. */
static void test_old_snapshot_read_as_trained(void **state)
{
    (void)state;
    /* "SFH1", 1 seller, 1 customer keyed by FNV-1a 32 of CUST_A: 3 orders, 2
     * reviews summing 9 */
    uint32_t k = fnv1a32(CUST_A);
    uint8_t v1[64] = {'S', 'F', 'H', '1', 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 5, 1, 0, 0};
    size_t n = 18;
    uint32_t x = k; /* the key as the first delta, LEB128 */
    for (; x >= 0x80; x >>= 7)
        v1[n++] = (uint8_t)(x | 0x80);
    v1[n++] = (uint8_t)x;
    v1[n++] = 3;
    v1[n++] = 9;
    v1[n++] = 2;
    sf_err err;
    err.msg[0] = '\0';
    sf_history *h = sf_history_load(v1, n, &err);
    if (!h)
        fail_msg("format 1 refused: %s", err.msg);
    assert_int_equal(sf_history_customers(h), 1);
    sf_order_event ev = order_of("e0000000000000000000000000000000", CUST_A, T0);
    sf_history_view v;
    sf_history_view_of(h, &ev, &v);
    assert_true(v.customer_orders == 3);
    assert_true(v.customer_review_mean == 4.5);
    /* what it learns next is keyed the same way, and it saves as format 1 */
    assert_int_equal(sf_history_add_purchase(h, &ev, &err), 0);
    sf_order_event later = order_of("f0000000000000000000000000000000", CUST_A, T0 + D);
    sf_history_view_of(h, &later, &v);
    assert_true(v.customer_orders == 4);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sf_history_save(h, &buf, &len, &err), 0);
    assert_memory_equal(buf, "SFH1", 4);
    sf_history *back = sf_history_load(buf, len, &err);
    assert_non_null(back);
    sf_history_view_of(back, &later, &v);
    assert_true(v.customer_orders == 4);
    free(buf);
    sf_history_free(back);
    sf_history_free(h);
    /* a format-1 key must fit in 32 bits */
    uint8_t wide[] = {'S', 'F', 'H', '1', 0, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 0, 0};
    assert_null(sf_history_load(wide, sizeof wide, &err));
    assert_non_null(strstr(err.msg, "corrupt"));
    uint8_t junk[] = {'X', 'Y', 'Z', '2', 0, 0};
    assert_null(sf_history_load(junk, sizeof junk, &err));
    assert_non_null(strstr(err.msg, "not a history snapshot"));
}

/* Two hundred customers survive the snapshot's sorting and delta coding of
 * their keys, each with its own numbers. */
static void test_snapshot_many_customers(void **state)
{
    (void)state;
    sf_history *h = sf_history_new();
    assert_non_null(h);
    sf_err err;
    char ids[200][SF_ID_LEN + 1];
    for (int i = 0; i < 200; i++) {
        snprintf(ids[i], sizeof ids[i], "%032x", i * 7919 + 1);
        sf_order_event ev = order_of("d0000000000000000000000000000000", ids[i], T0 + i);
        assert_int_equal(sf_history_add_purchase(h, &ev, &err), 0);
        if (i % 3 == 0)
            assert_int_equal(sf_history_add_review(h, &ev, 1 + i % 5, &err), 0);
    }
    uint8_t *buf;
    size_t len;
    assert_int_equal(sf_history_save(h, &buf, &len, &err), 0);
    sf_history *g = sf_history_load(buf, len, &err);
    assert_non_null(g);
    assert_int_equal(sf_history_customers(g), 200);
    for (int i = 0; i < 200; i++) {
        sf_order_event ev = order_of("e0000000000000000000000000000000", ids[i], T0 + 1000 * D);
        sf_history_view v1, v2;
        sf_history_view_of(h, &ev, &v1);
        sf_history_view_of(g, &ev, &v2);
        assert_true(v1.customer_orders == 1 && v2.customer_orders == 1);
        assert_true(isnan(v1.customer_review_mean) == isnan(v2.customer_review_mean));
        if (!isnan(v1.customer_review_mean))
            assert_true(v1.customer_review_mean == v2.customer_review_mean);
    }
    /* every truncation is refused, never read past the end */
    for (size_t n = 0; n < len; n++)
        assert_null(sf_history_load(buf, n, &err));
    free(buf);
    sf_history_free(g);
    sf_history_free(h);
}

/* Publishes h's changed records into live (as the retrainer and a scorer do). */
static void ship_changes(sf_history *h, sf_history *live)
{
    const sf_history_ref *refs;
    size_t n = sf_history_changes(h, &refs);
    sf_buf val = {0};
    sf_err err;
    for (size_t i = 0; i < n; i++) {
        uint8_t key[SF_HISTORY_KEY_LEN];
        sf_history_record_key(refs[i], key);
        assert_int_equal(sf_history_record(h, refs[i], &val, &err), 0);
        assert_int_equal(sf_history_apply(live, key, sizeof key, val.data, val.len, &err), 0);
    }
    sf_history_clear_changes(h);
    assert_int_equal(sf_history_changes(h, &refs), 0);
    sf_buf_free(&val);
}

static void test_live_records(void **state)
{
    (void)state;
    sf_history *h = sf_history_new(), *live = sf_history_new();
    assert_non_null(h);
    assert_non_null(live);
    sf_history_track_changes(h, true);
    sf_err err;
    /* customer A: five orders (heap times), B: one; A's second is reviewed
     * before it is delivered */
    char id[33];
    sf_order_event ev[6];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "%032d", i + 1);
        ev[i] = order_of(id, i < 5 ? CUST_A : CUST_B, T0 + i * D);
        assert_int_equal(sf_history_add_purchase(h, &ev[i], &err), 0);
    }
    ev[0].delivered = T0 + 12 * D; /* late */
    assert_int_equal(sf_history_add_delivery(h, &ev[0], &err), 0);
    assert_int_equal(sf_history_add_review(h, &ev[0], 2, &err), 0);
    assert_int_equal(sf_history_add_review(h, &ev[1], 5, &err), 0);
    const sf_history_ref *refs;
    assert_int_equal(sf_history_changes(h, &refs), 5); /* 2 customers, 1 seller, 2 orders */
    ship_changes(h, live);
    sf_history_view a, b;
    for (int i = 0; i < 6; i++) {
        sf_history_view_of(h, &ev[i], &a);
        sf_history_view_of(live, &ev[i], &b);
        assert_true(sf_history_view_same(&a, &b));
    }
    sf_history_view_of(live, &ev[1], &b); /* its own review (5) is left out */
    assert_int_equal((int)b.seller_review_count, 1);
    assert_true(b.seller_review_mean == 2.0);
    assert_int_equal((int)b.customer_orders, 1);
    assert_true(b.seller_late_rate == 1.0);

    /* the order's events are over: a tombstone; later orders then see its review */
    assert_int_equal(sf_history_forget_order(h, ev[1].order_id, &err), 0);
    assert_int_equal(sf_history_changes(h, &refs), 1);
    sf_buf val = {0};
    assert_int_equal(sf_history_record(h, refs[0], &val, &err), 0);
    assert_int_equal(val.len, 0);
    ship_changes(h, live);
    sf_history_view_of(live, &ev[1], &b);
    assert_int_equal((int)b.seller_review_count, 2);

    /* applying the same records twice changes nothing */
    sf_history_ref all[] = {
        {SF_HISTORY_SELLER, sf_history_seller_key("ssssssssssssssssssssssssssssssss")},
        {SF_HISTORY_CUSTOMER, sf_history_customer_key(CUST_A)}};
    for (int i = 0; i < 2; i++) {
        uint8_t key[SF_HISTORY_KEY_LEN];
        sf_history_record_key(all[i], key);
        assert_int_equal(sf_history_record(h, all[i], &val, &err), 0);
        assert_true(val.len > 1);
        assert_int_equal(sf_history_apply(live, key, sizeof key, val.data, val.len, &err), 0);
    }
    for (int i = 0; i < 6; i++) {
        sf_history_view_of(h, &ev[i], &a);
        sf_history_view_of(live, &ev[i], &b);
        assert_true(sf_history_view_same(&a, &b));
    }

    /* malformed: refused with the kind and byte, nothing changed */
    uint8_t key[SF_HISTORY_KEY_LEN];
    sf_history_record_key(all[1], key);
    assert_int_equal(sf_history_record(h, all[1], &val, &err), 0);
    for (size_t cut = 1; cut < val.len; cut++) {
        assert_int_equal(sf_history_apply(live, key, sizeof key, val.data, cut, &err), -1);
        assert_non_null(strstr(err.msg, "history record 'c'"));
    }
    uint8_t bad_version = 9;
    assert_int_equal(sf_history_apply(live, key, sizeof key, &bad_version, 1, &err), -1);
    assert_non_null(strstr(err.msg, "version 9"));
    key[0] = 'x';
    assert_int_equal(sf_history_apply(live, key, sizeof key, val.data, val.len, &err), -1);
    assert_non_null(strstr(err.msg, "unknown kind"));
    assert_int_equal(sf_history_apply(live, key, 3, val.data, val.len, &err), -1);
    sf_history_view_of(live, &ev[0], &b);
    assert_int_equal((int)b.customer_orders, 0);
    sf_history_view_of(live, &ev[4], &b);
    assert_int_equal((int)b.customer_orders, 4);
    sf_buf_free(&val);

    /* a history built without tracking: note_all lists each record once,
     * and shipping them gives the same views */
    sf_history *quiet = sf_history_new(), *copy = sf_history_new();
    for (int i = 0; i < 6; i++)
        assert_int_equal(sf_history_add_purchase(quiet, &ev[i], &err), 0);
    assert_int_equal(sf_history_add_delivery(quiet, &ev[0], &err), 0);
    assert_int_equal(sf_history_add_review(quiet, &ev[0], 2, &err), 0);
    assert_int_equal(sf_history_add_review(quiet, &ev[1], 5, &err), 0);
    assert_int_equal(sf_history_changes(quiet, &refs), 0);
    assert_int_equal(sf_history_note_all(quiet, &err), 0);
    assert_int_equal(sf_history_note_all(quiet, &err), 0);
    assert_int_equal(sf_history_changes(quiet, &refs), 5); /* 1 seller, 2 customers, 2 orders */
    ship_changes(quiet, copy);
    for (int i = 0; i < 6; i++) {
        sf_history_view_of(quiet, &ev[i], &a);
        sf_history_view_of(copy, &ev[i], &b);
        assert_true(sf_history_view_same(&a, &b));
    }
    sf_history_free(quiet);
    sf_history_free(copy);
    sf_history_free(h);
    sf_history_free(live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_customer_collision),
        cmocka_unit_test(test_old_snapshot_read_as_trained),
        cmocka_unit_test(test_snapshot_many_customers),
        cmocka_unit_test(test_live_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
