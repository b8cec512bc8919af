/*
 * test_lifecycle.c - the lifecycle builder on hand-made orders: which stages
 * each status yields, clamping of out-of-order timestamps, what each event
 * may know at its stage, the replay order (ties, dataset order) and the
 * [from, to) window. No loader is needed.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "satisfy/lifecycle.h"

#define HOUR 3600000LL
#define DAY  (24 * HOUR)
#define T0   1500000000000LL /* 2017-07-14 */
#define NONE SF_TIME_NONE

static sf_item g_items[2];
static sf_payment g_pays[1];

static sf_order mk_order(const char *id, sf_order_status st, int64_t p, int64_t a, int64_t c,
                         int64_t d)
{
    sf_order o;
    memset(&o, 0, sizeof o);
    snprintf(o.order_id, sizeof o.order_id, "%s", id);
    snprintf(o.customer_id, sizeof o.customer_id, "c-%s", id);
    snprintf(o.customer_unique_id, sizeof o.customer_unique_id, "u-%s", id);
    o.status = st;
    o.purchase = p;
    o.approved = a;
    o.carrier = c;
    o.delivered = d;
    o.estimated = p == NONE ? NONE : p + 20 * DAY;
    snprintf(o.customer.city, sizeof o.customer.city, "sao paulo");
    o.items = g_items;
    o.n_items = 2;
    o.payments = g_pays;
    o.n_payments = 1;
    return o;
}

/* Every timestamp an event carries (except the estimated delivery, a
 * forecast) is no later than its own event time. */
static void assert_nothing_later(const sf_order_event *ev)
{
    const int64_t ts[] = {ev->purchase, ev->approved, ev->carrier, ev->delivered};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        if (ts[i] != NONE)
            assert_true(ts[i] <= ev->event_time);
}

static void test_delivered_stages(void **state)
{
    (void)state;
    sf_order o = mk_order("o1", SF_STATUS_DELIVERED, T0, T0 + HOUR, T0 + DAY, T0 + 5 * DAY);
    sf_stage st[SF_STAGE_COUNT];
    int64_t tm[SF_STAGE_COUNT];
    assert_int_equal(sf_lifecycle_stages(&o, st, tm), 4);
    assert_int_equal(st[0], SF_STAGE_PURCHASED);
    assert_int_equal(st[1], SF_STAGE_APPROVED);
    assert_int_equal(st[2], SF_STAGE_SHIPPED);
    assert_int_equal(st[3], SF_STAGE_DELIVERED);
    assert_true(tm[0] == T0 && tm[1] == T0 + HOUR && tm[2] == T0 + DAY && tm[3] == T0 + 5 * DAY);

    sf_order_event ev;
    assert_int_equal(sf_lifecycle_event(&o, SF_STAGE_PURCHASED, &ev), 0);
    assert_string_equal(ev.order_id, "o1");
    assert_string_equal(ev.customer_id, "c-o1");
    assert_string_equal(ev.customer_unique_id, "u-o1");
    assert_int_equal(ev.stage, SF_STAGE_PURCHASED);
    assert_true(ev.event_time == T0 && ev.purchase == T0 && ev.estimated == T0 + 20 * DAY);
    assert_true(ev.approved == NONE && ev.carrier == NONE && ev.delivered == NONE);
    assert_ptr_equal(ev.items, g_items);
    assert_int_equal(ev.n_items, 2);
    assert_ptr_equal(ev.payments, g_pays);
    assert_int_equal(ev.n_payments, 1);
    assert_null(ev.alloc);
    assert_string_equal(ev.customer.city, "sao paulo");

    assert_int_equal(sf_lifecycle_event(&o, SF_STAGE_APPROVED, &ev), 0);
    assert_true(ev.event_time == T0 + HOUR && ev.approved == T0 + HOUR);
    assert_true(ev.carrier == NONE && ev.delivered == NONE);

    assert_int_equal(sf_lifecycle_event(&o, SF_STAGE_SHIPPED, &ev), 0);
    assert_true(ev.event_time == T0 + DAY && ev.approved == T0 + HOUR && ev.carrier == T0 + DAY);
    assert_true(ev.delivered == NONE);

    assert_int_equal(sf_lifecycle_event(&o, SF_STAGE_DELIVERED, &ev), 0);
    assert_true(ev.event_time == T0 + 5 * DAY && ev.approved == T0 + HOUR &&
                ev.carrier == T0 + DAY && ev.delivered == T0 + 5 * DAY);

    assert_int_equal(sf_lifecycle_event(&o, SF_STAGE_CANCELED, &ev), -1);
    assert_int_equal(sf_lifecycle_event(&o, SF_STAGE_UNAVAILABLE, &ev), -1);
}

static void test_canceled_and_unavailable(void **state)
{
    (void)state;
    sf_stage st[SF_STAGE_COUNT];
    int64_t tm[SF_STAGE_COUNT];
    sf_order_event ev;

    /* Canceled after approval: PURCHASED, APPROVED, CANCELED at the approval. */
    sf_order c = mk_order("c1", SF_STATUS_CANCELED, T0, T0 + 2 * HOUR, NONE, NONE);
    assert_int_equal(sf_lifecycle_stages(&c, st, tm), 3);
    assert_int_equal(st[2], SF_STAGE_CANCELED);
    assert_true(tm[2] == T0 + 2 * HOUR);
    assert_int_equal(sf_lifecycle_event(&c, SF_STAGE_CANCELED, &ev), 0);
    assert_true(ev.event_time == T0 + 2 * HOUR && ev.approved == T0 + 2 * HOUR);
    assert_true(ev.carrier == NONE && ev.delivered == NONE);
    assert_int_equal(sf_lifecycle_event(&c, SF_STAGE_SHIPPED, &ev), -1);

    /* Unavailable with only a purchase time. */
    sf_order u = mk_order("u1", SF_STATUS_UNAVAILABLE, T0, NONE, NONE, NONE);
    assert_int_equal(sf_lifecycle_stages(&u, st, tm), 2);
    assert_int_equal(st[0], SF_STAGE_PURCHASED);
    assert_int_equal(st[1], SF_STAGE_UNAVAILABLE);
    assert_true(tm[1] == T0);
    assert_int_equal(sf_lifecycle_event(&u, SF_STAGE_UNAVAILABLE, &ev), 0);
    assert_true(ev.approved == NONE && ev.carrier == NONE && ev.delivered == NONE);

    /* A canceled order that was delivered anyway (Olist has a few): the
     * cancellation comes last and carries everything. */
    sf_order cd = mk_order("c2", SF_STATUS_CANCELED, T0, T0 + HOUR, T0 + DAY, T0 + 3 * DAY);
    assert_int_equal(sf_lifecycle_stages(&cd, st, tm), 5);
    assert_int_equal(st[4], SF_STAGE_CANCELED);
    assert_true(tm[4] == T0 + 3 * DAY);
    assert_int_equal(sf_lifecycle_event(&cd, SF_STAGE_CANCELED, &ev), 0);
    assert_true(ev.delivered == T0 + 3 * DAY && ev.carrier == T0 + DAY);

    /* Statuses in between yield only the stages with timestamps. */
    sf_order sh = mk_order("s1", SF_STATUS_SHIPPED, T0, T0 + HOUR, T0 + DAY, NONE);
    assert_int_equal(sf_lifecycle_stages(&sh, st, tm), 3);
    assert_int_equal(st[2], SF_STAGE_SHIPPED);
    sf_order cr = mk_order("r1", SF_STATUS_CREATED, T0, NONE, NONE, NONE);
    assert_int_equal(sf_lifecycle_stages(&cr, st, tm), 1);
    assert_int_equal(st[0], SF_STAGE_PURCHASED);

    /* No timestamp at all: nothing to replay, not even the cancellation. */
    sf_order none = mk_order("n1", SF_STATUS_CANCELED, NONE, NONE, NONE, NONE);
    assert_int_equal(sf_lifecycle_stages(&none, st, tm), 0);
    assert_int_equal(sf_lifecycle_event(&none, SF_STAGE_CANCELED, &ev), -1);
}

static void test_skipped_stage(void **state)
{
    (void)state;
    /* Approval missing but shipped and delivered. */
    sf_order o = mk_order("k1", SF_STATUS_DELIVERED, T0, NONE, T0 + DAY, T0 + 2 * DAY);
    sf_stage st[SF_STAGE_COUNT];
    int64_t tm[SF_STAGE_COUNT];
    assert_int_equal(sf_lifecycle_stages(&o, st, tm), 3);
    assert_int_equal(st[0], SF_STAGE_PURCHASED);
    assert_int_equal(st[1], SF_STAGE_SHIPPED);
    assert_int_equal(st[2], SF_STAGE_DELIVERED);
    sf_order_event ev;
    assert_int_equal(sf_lifecycle_event(&o, SF_STAGE_APPROVED, &ev), -1);
    assert_int_equal(sf_lifecycle_event(&o, SF_STAGE_SHIPPED, &ev), 0);
    assert_true(ev.approved == NONE && ev.carrier == T0 + DAY && ev.delivered == NONE);
}

static void test_clamping(void **state)
{
    (void)state;
    /* Approved before purchase, carrier before approval, delivered before
     * carrier: every stage is clamped to the previous one. */
    sf_order o = mk_order("x1", SF_STATUS_DELIVERED, T0, T0 - HOUR, T0 - 2 * HOUR, T0 - 3 * HOUR);
    sf_stage st[SF_STAGE_COUNT];
    int64_t tm[SF_STAGE_COUNT];
    assert_int_equal(sf_lifecycle_stages(&o, st, tm), 4);
    for (int i = 0; i < 4; i++)
        assert_true(tm[i] == T0);

    /* Carrier before approval only. */
    sf_order p = mk_order("x2", SF_STATUS_DELIVERED, T0, T0 + 5 * HOUR, T0 + 2 * HOUR, T0 + DAY);
    assert_int_equal(sf_lifecycle_stages(&p, st, tm), 4);
    assert_true(tm[0] == T0 && tm[1] == T0 + 5 * HOUR && tm[2] == T0 + 5 * HOUR &&
                tm[3] == T0 + DAY);
    for (int i = 1; i < 4; i++)
        assert_true(tm[i] >= tm[i - 1]);

    /* Events keep the raw timestamps, none later than the event's own time. */
    const sf_order *os[] = {&o, &p};
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < SF_STAGE_COUNT; s++) {
            sf_order_event ev;
            if (sf_lifecycle_event(os[k], (sf_stage)s, &ev) == 0)
                assert_nothing_later(&ev);
        }
    sf_order_event ev;
    assert_int_equal(sf_lifecycle_event(&p, SF_STAGE_SHIPPED, &ev), 0);
    assert_true(ev.event_time == T0 + 5 * HOUR && ev.carrier == T0 + 2 * HOUR);

    /* Canceled with clamped times: cancellation at the last clamped time. */
    sf_order c = mk_order("x3", SF_STATUS_CANCELED, T0, T0 - DAY, NONE, NONE);
    assert_int_equal(sf_lifecycle_stages(&c, st, tm), 3);
    assert_true(tm[1] == T0 && tm[2] == T0);
}

static void test_review_event(void **state)
{
    (void)state;
    static const char title[] = "otimo";
    sf_review_event revs[2];
    memset(revs, 0, sizeof revs);
    snprintf(revs[0].review_id, sizeof revs[0].review_id, "r0");
    snprintf(revs[0].order_id, sizeof revs[0].order_id, "o1");
    revs[0].score = 5;
    revs[0].title = title;
    revs[0].created = T0 + 6 * DAY;
    revs[0].answered = T0 + 7 * DAY;
    snprintf(revs[1].review_id, sizeof revs[1].review_id, "r1");
    revs[1].score = 2;
    revs[1].created = T0 + 8 * DAY;
    sf_order o = mk_order("o1", SF_STATUS_DELIVERED, T0, NONE, NONE, NONE);
    o.reviews = revs;
    o.n_reviews = 2;
    sf_review_event ev;
    sf_lifecycle_review(&o, 1, &ev);
    assert_string_equal(ev.review_id, "r1");
    assert_int_equal(ev.score, 2);
    sf_lifecycle_review(&o, 0, &ev);
    assert_string_equal(ev.review_id, "r0");
    assert_ptr_equal(ev.title, title); /* borrowed */
    assert_null(ev.message);
    assert_true(ev.created == T0 + 6 * DAY && ev.answered == T0 + 7 * DAY);
    assert_null(ev.alloc);
}

/* A small dataset: three orders, two of them purchased at the same time, one
 * review tied with an order stage. */
typedef struct fixture {
    sf_order orders[3];
    sf_review_event revs[2];
    sf_dataset ds;
} fixture;

static void mk_fixture(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->orders[0] = mk_order("a", SF_STATUS_DELIVERED, T0, T0 + HOUR, T0 + DAY, T0 + 4 * DAY);
    f->orders[1] = mk_order("b", SF_STATUS_CANCELED, T0, NONE, NONE, NONE);
    f->orders[2] = mk_order("c", SF_STATUS_DELIVERED, T0 + HOUR, T0 + 2 * HOUR, NONE, NONE);
    /* Review of "b" at exactly the delivery of "a": the order stage goes first
     * even though "b" comes later in the dataset. */
    snprintf(f->revs[0].review_id, sizeof f->revs[0].review_id, "rb");
    snprintf(f->revs[0].order_id, sizeof f->revs[0].order_id, "b");
    f->revs[0].score = 1;
    f->revs[0].created = T0 + 4 * DAY;
    f->orders[1].reviews = &f->revs[0];
    f->orders[1].n_reviews = 1;
    /* Review of "a" before "a" is shipped (Olist has those): at creation. */
    snprintf(f->revs[1].review_id, sizeof f->revs[1].review_id, "ra");
    f->revs[1].score = 4;
    f->revs[1].created = T0 + 2 * HOUR;
    f->orders[0].reviews = &f->revs[1];
    f->orders[0].n_reviews = 1;
    f->ds.orders = f->orders;
    f->ds.n_orders = 3;
}

static void test_build_order(void **state)
{
    (void)state;
    fixture f;
    mk_fixture(&f);
    sf_event_ref *ev = NULL;
    sf_err err = {{0}};
    size_t n = sf_lifecycle_build(&f.ds, NONE, NONE, &ev, &err);
    /* a: 4 stages + 1 review; b: PURCHASED, CANCELED + 1 review; c: 2 stages */
    assert_int_equal(n, 10);
    struct {
        const char *order;
        sf_event_kind kind;
        int what;
        int64_t time;
    } want[] = {
        {"a", SF_EV_ORDER, SF_STAGE_PURCHASED, T0},
        {"b", SF_EV_ORDER, SF_STAGE_PURCHASED, T0},
        {"b", SF_EV_ORDER, SF_STAGE_CANCELED, T0},
        {"a", SF_EV_ORDER, SF_STAGE_APPROVED, T0 + HOUR},
        {"c", SF_EV_ORDER, SF_STAGE_PURCHASED, T0 + HOUR},
        {"c", SF_EV_ORDER, SF_STAGE_APPROVED, T0 + 2 * HOUR},
        {"a", SF_EV_REVIEW, 0, T0 + 2 * HOUR},
        {"a", SF_EV_ORDER, SF_STAGE_SHIPPED, T0 + DAY},
        {"a", SF_EV_ORDER, SF_STAGE_DELIVERED, T0 + 4 * DAY},
        {"b", SF_EV_REVIEW, 0, T0 + 4 * DAY},
    };
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(ev[i].order->order_id, want[i].order);
        assert_int_equal(ev[i].kind, want[i].kind);
        if (want[i].kind == SF_EV_ORDER)
            assert_int_equal(ev[i].stage, want[i].what);
        else
            assert_int_equal(ev[i].review, want[i].what);
        assert_true(ev[i].time == want[i].time);
        if (i)
            assert_true(ev[i].time >= ev[i - 1].time);
    }
    free(ev);
}

static void test_build_window(void **state)
{
    (void)state;
    fixture f;
    mk_fixture(&f);
    sf_event_ref *ev = NULL;
    sf_err err = {{0}};
    /* [T0 + HOUR, T0 + 4 DAY): from inclusive, to exclusive. */
    size_t n = sf_lifecycle_build(&f.ds, T0 + HOUR, T0 + 4 * DAY, &ev, &err);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_true(ev[i].time >= T0 + HOUR && ev[i].time < T0 + 4 * DAY);
    assert_string_equal(ev[0].order->order_id, "a");
    assert_int_equal(ev[0].stage, SF_STAGE_APPROVED);
    assert_int_equal(ev[4].stage, SF_STAGE_SHIPPED);
    free(ev);

    /* Open start, closed end. */
    n = sf_lifecycle_build(&f.ds, NONE, T0 + HOUR, &ev, &err);
    assert_int_equal(n, 3);
    free(ev);
    /* Open end. */
    n = sf_lifecycle_build(&f.ds, T0 + 4 * DAY, NONE, &ev, &err);
    assert_int_equal(n, 2);
    free(ev);
    /* Empty window. */
    n = sf_lifecycle_build(&f.ds, T0 + 100 * DAY, NONE, &ev, &err);
    assert_int_equal(n, 0);
    free(ev);
    /* Reversed window is an error with a message. */
    n = sf_lifecycle_build(&f.ds, T0 + DAY, T0, &ev, &err);
    assert_true(n == (size_t)-1);
    assert_null(ev);
    assert_non_null(strstr(err.msg, "--to is before --from"));
}

static void test_build_empty_dataset(void **state)
{
    (void)state;
    sf_dataset ds;
    memset(&ds, 0, sizeof ds);
    sf_event_ref *ev = NULL;
    sf_err err = {{0}};
    assert_int_equal(sf_lifecycle_build(&ds, NONE, NONE, &ev, &err), 0);
    free(ev);
}

/* Many orders with random out-of-order timestamps: per order the replay is
 * in time order, the stages are in lifecycle order, and no event knows a
 * later timestamp. */
static void test_build_random(void **state)
{
    (void)state;
    enum { N = 500 };
    sf_order *os = calloc(N, sizeof *os);
    assert_non_null(os);
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "%05d", i);
        int64_t t[4];
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            t[k] = (seed >> 16) % 7 == 0 ? NONE : T0 + (int64_t)((seed >> 8) % 1000) * HOUR;
        }
        sf_order_status st = (sf_order_status)((unsigned)i % SF_STATUS_COUNT);
        os[i] = mk_order(id, st, t[0], t[1], t[2], t[3]);
    }
    sf_dataset ds = {.orders = os, .n_orders = N};
    sf_event_ref *ev = NULL;
    sf_err err = {{0}};
    size_t n = sf_lifecycle_build(&ds, NONE, NONE, &ev, &err);
    assert_true(n != (size_t)-1 && n > N);
    int64_t *last = malloc(N * sizeof *last);
    int *last_stage = malloc(N * sizeof *last_stage);
    for (int i = 0; i < N; i++) {
        last[i] = INT64_MIN;
        last_stage[i] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        int k = (int)(ev[i].order - os);
        assert_true(ev[i].time >= last[k]);
        assert_true((int)ev[i].stage > last_stage[k]);
        last[k] = ev[i].time;
        last_stage[k] = (int)ev[i].stage;
        if (i)
            assert_true(ev[i].time >= ev[i - 1].time);
        sf_order_event oe;
        assert_int_equal(sf_lifecycle_event(ev[i].order, ev[i].stage, &oe), 0);
        assert_true(oe.event_time == ev[i].time);
        assert_nothing_later(&oe);
    }
    free(last);
    free(last_stage);
    free(ev);
    free(os);
}

/* The event id: "<order_id>:<STAGE>", truncated (and terminated) like snprintf. */
static void test_event_id(void **state)
{
    (void)state;
    sf_order_event ev;
    memset(&ev, 0, sizeof ev);
    strcpy(ev.order_id, "0123456789abcdef0123456789abcdef");
    ev.stage = SF_STAGE_DELIVERED;
    char id[SF_ID_LEN + 16];
    sf_event_id(&ev, id, sizeof id);
    assert_string_equal(id, "0123456789abcdef0123456789abcdef:DELIVERED");
    ev.stage = SF_STAGE_PURCHASED;
    sf_event_id(&ev, id, sizeof id);
    assert_string_equal(id, "0123456789abcdef0123456789abcdef:PURCHASED");
    char small[36];
    sf_event_id(&ev, small, sizeof small);
    assert_string_equal(small, "0123456789abcdef0123456789abcdef:PU");
    char one[1] = {'x'};
    sf_event_id(&ev, one, sizeof one);
    assert_int_equal(one[0], '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivered_stages), cmocka_unit_test(test_canceled_and_unavailable),
        cmocka_unit_test(test_skipped_stage),    cmocka_unit_test(test_clamping),
        cmocka_unit_test(test_review_event),     cmocka_unit_test(test_build_order),
        cmocka_unit_test(test_build_window),     cmocka_unit_test(test_build_empty_dataset),
        cmocka_unit_test(test_build_random),     cmocka_unit_test(test_event_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
