/*
 * test_features.c - the feature specs, their hash, the row of an order event,
 * the history (strictly-before rule, own review excluded, snapshot round
 * trip), and the leakage property: for every stage, changing any timestamp
 * or review later than the stage's event time leaves its row unchanged.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/features.h"
#include "satisfy/lifecycle.h"
#include "satisfy/train.h"

#define H  (3600LL * 1000)
#define D  (24 * H)
#define T0 1500000000000LL /* 2017-07-14 02:40 UTC */

static sf_item items_a[1], items_b[2];
static sf_payment pays_a[1], pays_b[2];
static sf_review_event revs_a[1], revs_b[1];
static sf_order orders[2];

static void set_id(sf_id id, char c)
{
    memset(id, c, SF_ID_LEN);
    id[SF_ID_LEN] = 0;
}

static void item(sf_item *it, int seq, char prod, char seller, double price, const char *state)
{
    memset(it, 0, sizeof *it);
    it->seq = seq;
    set_id(it->product_id, prod);
    set_id(it->seller_id, seller);
    it->price = price;
    it->freight = 10;
    it->shipping_limit = SF_TIME_NONE;
    strcpy(it->category, "health_beauty");
    it->name_len = 40;
    it->desc_len = 300;
    it->photos = 2;
    it->weight_g = 500;
    it->length_cm = 10;
    it->height_cm = 5;
    it->width_cm = 8;
    strcpy(it->seller.state, state);
    it->seller.lat = -23.55;
    it->seller.lng = -46.63;
}

/* Order A (earlier, same seller 's' and customer 'u'), order B (later). */
static void fixture(void)
{
    item(&items_a[0], 1, 'p', 's', 100, "SP");
    pays_a[0] = (sf_payment){1, SF_PAY_CREDIT_CARD, 3, 110};
    memset(revs_a, 0, sizeof revs_a);
    set_id(revs_a[0].review_id, 'r');
    set_id(revs_a[0].order_id, 'a');
    revs_a[0].score = 2;
    revs_a[0].created = T0 + 8 * D;
    revs_a[0].answered = T0 + 9 * D;

    item(&items_b[0], 2, 'q', 's', 50, "SP");
    item(&items_b[1], 1, 'p', 't', 80, "RJ");
    items_b[1].shipping_limit = T0 + 20 * D;
    pays_b[0] = (sf_payment){2, SF_PAY_VOUCHER, 1, 20};
    pays_b[1] = (sf_payment){1, SF_PAY_CREDIT_CARD, 6, 130};
    memset(revs_b, 0, sizeof revs_b);
    set_id(revs_b[0].review_id, 'x');
    set_id(revs_b[0].order_id, 'b');
    revs_b[0].score = 5;
    revs_b[0].created = T0 + 30 * D;
    revs_b[0].answered = T0 + 31 * D;

    for (int k = 0; k < 2; k++) {
        sf_order *o = &orders[k];
        memset(o, 0, sizeof *o);
        set_id(o->order_id, k ? 'b' : 'a');
        set_id(o->customer_id, k ? 'd' : 'c');
        set_id(o->customer_unique_id, 'u');
        o->status = SF_STATUS_DELIVERED;
        strcpy(o->customer.state, "SP");
        o->customer.lat = -22.9;
        o->customer.lng = -43.2;
    }
    sf_order *a = &orders[0], *b = &orders[1];
    a->purchase = T0;
    a->approved = T0 + 2 * H;
    a->carrier = T0 + 2 * D;
    a->delivered = T0 + 6 * D;
    a->estimated = T0 + 5 * D;
    a->items = items_a, a->n_items = 1, a->payments = pays_a, a->n_payments = 1;
    a->reviews = revs_a, a->n_reviews = 1;

    b->purchase = T0 + 10 * D + 5 * H;
    b->approved = T0 + 10 * D + 9 * H;
    b->carrier = T0 + 13 * D;
    b->delivered = T0 + 25 * D;
    b->estimated = T0 + 30 * D;
    b->items = items_b, b->n_items = 2, b->payments = pays_b, b->n_payments = 2;
    b->reviews = revs_b, b->n_reviews = 1;
}

static sf_dataset dataset(void)
{
    sf_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.orders = orders;
    ds.n_orders = 2;
    return ds;
}

/* The row of order `k` at `stage` from a full replay; 0 if found. */
static int row_of(size_t k, sf_stage stage, float *row)
{
    sf_dataset ds = dataset();
    sf_examples ex;
    sf_err err;
    assert_int_equal(
        sf_train_rows_of_dataset(&ex, &ds, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, NULL, &err),
        0);
    int found = -1;
    for (size_t i = 0; i < ex.n; i++)
        if (ex.order[i] == k && ex.stage[i] == stage) {
            memcpy(row, ex.x + i * ex.d, ex.d * sizeof *row);
            found = 0;
        }
    sf_examples_free(&ex);
    return found;
}

static float feat(const float *row, const char *name)
{
    int j = sf_spec_index(sf_spec_full(), name);
    assert_true(j >= 0);
    return row[j];
}

static void test_spec_hash(void **state)
{
    (void)state;
    char a[17], b[17], c[17];
    sf_spec_hash(sf_spec_full(), a);
    sf_spec_hash(sf_spec_full(), b);
    sf_spec_hash(sf_spec_seed(), c);
    assert_int_equal(strlen(a), 16);
    assert_int_equal(strspn(a, "0123456789abcdef"), 16);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    /* a changed stage rule changes the hash */
    sf_feature_def defs[12];
    memcpy(defs, sf_spec_seed()->defs, sizeof defs);
    sf_feature_spec copy = *sf_spec_seed();
    copy.defs = defs;
    sf_spec_hash(&copy, b);
    assert_string_equal(b, c);
    defs[3].first_stage = SF_STAGE_SHIPPED;
    sf_spec_hash(&copy, b);
    assert_string_not_equal(b, c);
    copy.version = 2;
    defs[3].first_stage = SF_STAGE_PURCHASED;
    sf_spec_hash(&copy, b);
    assert_string_not_equal(b, c);
    assert_int_equal(sf_spec_seed()->n, 12);
    assert_true(sf_spec_full()->n <= SF_SPEC_MAX_FEATURES);
    for (int i = 0; i < sf_spec_full()->n; i++)
        assert_true(strlen(sf_spec_full()->defs[i].name) + 9 <= SF_FEATURE_NAME);
    sf_err err;
    assert_null(sf_spec_by_name("fancy", &err));
    assert_non_null(strstr(err.msg, "unknown feature spec 'fancy'"));
    assert_ptr_equal(sf_spec_by_name("seed", &err), sf_spec_seed());
}

static void test_haversine(void **state)
{
    (void)state;
    /* Sao Paulo - Rio de Janeiro, about 360 km */
    double d = sf_haversine_km(-23.55, -46.63, -22.91, -43.17);
    assert_true(d > 350 && d < 370);
    assert_true(sf_haversine_km(1, 2, 1, 2) == 0);
    assert_true(isnan(sf_haversine_km(NAN, 2, 1, 2)));
}

static void test_rows(void **state)
{
    (void)state;
    fixture();
    float row[SF_SPEC_MAX_FEATURES];
    /* purchase stage of B: composition, payment, geography, promise, history */
    assert_int_equal(row_of(1, SF_STAGE_PURCHASED, row), 0);
    assert_true(feat(row, "stage") == 0);
    assert_true(feat(row, "n_items") == 2);
    assert_true(feat(row, "n_sellers") == 2);
    assert_true(feat(row, "total_price") == 130);
    assert_true(fabsf(feat(row, "freight_ratio") - 20.0f / 130) < 1e-6);
    assert_true(feat(row, "payment_value") == 150);
    assert_true(feat(row, "voucher_used") == 1);
    assert_true(feat(row, "payment_type") == SF_PAY_CREDIT_CARD);
    assert_true(feat(row, "max_installments") == 6);
    assert_true(feat(row, "same_state") == 0); /* one seller in RJ */
    assert_true(feat(row, "distance_km") > 300);
    assert_true(fabsf(feat(row, "estimated_days") - (20 - 5.0f / 24)) < 1e-4);
    assert_true(isnan(feat(row, "approval_hours")));
    assert_true(isnan(feat(row, "delivery_days")));
    assert_true(isnan(feat(row, "late")));
    /* history: A's review (score 2, day 8) and delivery (late) are earlier */
    assert_true(feat(row, "seller_review_mean") == 2);
    assert_true(feat(row, "seller_review_count") == 1);
    assert_true(feat(row, "seller_late_rate") == 1);
    assert_true(feat(row, "customer_orders") == 1);
    assert_true(feat(row, "customer_review_mean") == 2);
    assert_true(feat(row, "purchase_hour") == 7);  /* 02:40 + 5 h */
    assert_true(feat(row, "purchase_month") == 7); /* July */

    /* delivered stage: outcome known */
    assert_int_equal(row_of(1, SF_STAGE_DELIVERED, row), 0);
    assert_true(fabsf(feat(row, "approval_hours") - 4) < 1e-4);
    assert_true(fabsf(feat(row, "delay_days") - (-5)) < 1e-4);
    assert_true(feat(row, "late") == 0);

    /* A at purchase: nothing earlier */
    assert_int_equal(row_of(0, SF_STAGE_PURCHASED, row), 0);
    assert_true(isnan(feat(row, "seller_review_mean")));
    assert_true(feat(row, "seller_review_count") == 0);
    assert_true(feat(row, "customer_orders") == 0);

    /* seed spec: first item (seq 1 = items_b[1]) and first payment (seq 1) */
    sf_order_event ev;
    assert_int_equal(sf_lifecycle_event(&orders[1], SF_STAGE_PURCHASED, &ev), 0);
    float seed[12];
    sf_features_compute(sf_spec_seed(), &ev, NULL, seed);
    assert_true(seed[0] == 1 && seed[1] == 6 && seed[2] == 130 && seed[3] == 80);
}

/* The calendar features agree with gmtime_r (which the code no longer
 * calls) before and after 1970, across leap days and far from today. */
static void test_calendar(void **state)
{
    (void)state;
    fixture();
    sf_order_event ev;
    assert_int_equal(sf_lifecycle_event(&orders[1], SF_STAGE_PURCHASED, &ev), 0);
    const int64_t fixed[] = {0,
                             -1,
                             -999,
                             -1000,
                             -1001,
                             951782400000LL,    /* 2000-02-29 00:00 */
                             951868799999LL,    /* 2000-02-29 23:59:59.999 */
                             4107542400000LL,   /* 2100-03-01 */
                             -2203891200000LL,  /* 1900-02-28 */
                             -62135596800000LL, /* 0001-01-01 */
                             253402300799999LL, /* 9999-12-31 23:59:59.999 */
                             T0};
    int wday = sf_spec_index(sf_spec_full(), "purchase_weekday");
    int hour = sf_spec_index(sf_spec_full(), "purchase_hour");
    int month = sf_spec_index(sf_spec_full(), "purchase_month");
    assert_true(wday >= 0 && hour >= 0 && month >= 0);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        int64_t t;
        if (i < (int)(sizeof fixed / sizeof fixed[0])) {
            t = fixed[i];
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            t = (int64_t)(x % 600000000000000ULL) - 300000000000000LL; /* +-9,500 years */
        }
        ev.purchase = t;
        float row[SF_SPEC_MAX_FEATURES];
        sf_features_compute(sf_spec_full(), &ev, NULL, row);
        time_t sec = (time_t)(t / 1000) - (t < 0 && t % 1000 != 0);
        struct tm tm;
        assert_non_null(gmtime_r(&sec, &tm));
        if (row[wday] != tm.tm_wday || row[hour] != tm.tm_hour || row[month] != tm.tm_mon + 1)
            fail_msg("time %lld: weekday %g hour %g month %g, gmtime_r says %d %d %d", (long long)t,
                     row[wday], row[hour], row[month], tm.tm_wday, tm.tm_hour, tm.tm_mon + 1);
    }
}

/* The history view hashes full-length ids in one loop and other ids one by
 * one: both must find what the updates stored, for every table. */
static void view_after_updates(const char *oid, const char *sid, const char *cid,
                               sf_history_view *v)
{
    sf_item it;
    memset(&it, 0, sizeof it);
    snprintf(it.seller_id, sizeof it.seller_id, "%s", sid);
    sf_order_event ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.order_id, sizeof ev.order_id, "%s", oid);
    snprintf(ev.customer_unique_id, sizeof ev.customer_unique_id, "%s", cid);
    ev.items = &it;
    ev.n_items = 1;
    ev.purchase = T0;
    ev.estimated = T0 + 10 * D;
    ev.delivered = T0 + 12 * D;
    sf_history *h = sf_history_new();
    sf_err err;
    assert_non_null(h);
    assert_int_equal(sf_history_add_purchase(h, &ev, &err), 0);
    assert_int_equal(sf_history_add_delivery(h, &ev, &err), 0);
    assert_int_equal(sf_history_add_review(h, &ev, 4, &err), 0);
    /* another order of the same seller and customer, purchased later */
    snprintf(ev.order_id, sizeof ev.order_id, "%s", oid[0] == 'a' ? "b" : "a");
    ev.purchase = T0 + 20 * D;
    sf_history_view_of(h, &ev, v);
    sf_history_free(h);
}

static void test_history_keys(void **state)
{
    (void)state;
    sf_id o, s, c;
    set_id(o, 'a');
    set_id(s, 's');
    set_id(c, 'c');
    const char *ids[][3] = {{o, s, c}, {"a1", "s1", "c1"}, {o, "s1", c}, {"a1", s, "c1"}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        sf_history_view v;
        view_after_updates(ids[i][0], ids[i][1], ids[i][2], &v);
        assert_true(v.seller_review_count == 1 && v.seller_review_mean == 4);
        assert_true(v.seller_delivered == 1 && v.seller_late_rate == 1);
        assert_true(v.customer_orders == 1 && v.customer_review_mean == 4);
    }
}

/* Own review before delivery must not appear in the order's own row. */
static void test_own_review_excluded(void **state)
{
    (void)state;
    fixture();
    revs_b[0].created = T0 + 20 * D; /* before B's delivery at day 25 */
    float row[SF_SPEC_MAX_FEATURES];
    assert_int_equal(row_of(1, SF_STAGE_DELIVERED, row), 0);
    assert_true(feat(row, "seller_review_mean") == 2); /* only A's review */
    assert_true(feat(row, "seller_review_count") == 1);
    assert_true(feat(row, "customer_review_mean") == 2);
}

/* An update at the same time as the event is not seen by it. */
static void test_same_time_not_seen(void **state)
{
    (void)state;
    fixture();
    revs_a[0].created = orders[1].purchase;
    float row[SF_SPEC_MAX_FEATURES];
    assert_int_equal(row_of(1, SF_STAGE_PURCHASED, row), 0);
    assert_true(isnan(feat(row, "seller_review_mean")));
    revs_a[0].created = orders[1].purchase - 1;
    assert_int_equal(row_of(1, SF_STAGE_PURCHASED, row), 0);
    assert_true(feat(row, "seller_review_mean") == 2);
}

static void test_leakage(void **state)
{
    (void)state;
    sf_stage stages[SF_STAGE_COUNT];
    int64_t times[SF_STAGE_COUNT];
    fixture();
    int n = sf_lifecycle_stages(&orders[1], stages, times);
    assert_int_equal(n, 4);
    int changed_some = 0;
    for (int k = 0; k < n; k++) {
        fixture();
        int64_t t = times[k];
        float before[SF_SPEC_MAX_FEATURES], after[SF_SPEC_MAX_FEATURES];
        assert_int_equal(row_of(1, stages[k], before), 0);
        /* mutate everything of B later than t */
        sf_order *b = &orders[1];
        if (b->approved > t)
            b->approved += 3 * H;
        if (b->carrier > t)
            b->carrier += 2 * D;
        if (b->delivered > t)
            b->delivered += 9 * D;
        if (revs_b[0].created > t) {
            revs_b[0].score = 1;
            revs_b[0].created += D;
        }
        /* and later reviews of the same seller/customer (A's, moved after t) */
        if (revs_a[0].created > t) {
            revs_a[0].score = 5;
            revs_a[0].created += 40 * D;
        }
        assert_int_equal(row_of(1, stages[k], after), 0);
        assert_memory_equal(before, after, sizeof(float) * (size_t)sf_spec_full()->n);

        /* positive control: an earlier review's score does change the row */
        fixture();
        if (revs_a[0].created < t) {
            revs_a[0].score = 4;
            assert_int_equal(row_of(1, stages[k], after), 0);
            assert_true(feat(after, "seller_review_mean") == 4);
            assert_true(memcmp(before, after, sizeof(float) * 41) != 0);
            changed_some = 1;
        }
    }
    assert_true(changed_some);

    /* at B's purchase, A's review moved just after it is not seen */
    fixture();
    revs_a[0].created = orders[1].purchase + 1;
    float row[SF_SPEC_MAX_FEATURES];
    assert_int_equal(row_of(1, SF_STAGE_PURCHASED, row), 0);
    assert_true(isnan(feat(row, "seller_review_mean")));
}

static void test_history_snapshot(void **state)
{
    (void)state;
    fixture();
    sf_dataset ds = dataset();
    sf_examples ex;
    sf_history *h;
    sf_err err;
    assert_int_equal(
        sf_train_rows_of_dataset(&ex, &ds, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, &h, &err),
        0);
    assert_int_equal(ex.n, 8); /* 4 stages x 2 orders */
    for (size_t i = 1; i < ex.n; i++)
        assert_true(ex.event_time[i] >= ex.event_time[i - 1]);
    assert_int_equal(sf_history_sellers(h), 2);
    assert_int_equal(sf_history_customers(h), 1);
    uint8_t *buf;
    size_t len;
    assert_int_equal(sf_history_save(h, &buf, &len, &err), 0);
    sf_history *g = sf_history_load(buf, len, &err);
    assert_non_null(g);
    /* a new order of the same seller and customer sees the same numbers */
    sf_order_event ev;
    fixture();
    assert_int_equal(sf_lifecycle_event(&orders[1], SF_STAGE_PURCHASED, &ev), 0);
    set_id(ev.order_id, 'n');
    ev.purchase = ev.event_time = T0 + 100 * D;
    sf_history_view v1, v2;
    sf_history_view_of(h, &ev, &v1);
    sf_history_view_of(g, &ev, &v2);
    assert_memory_equal(&v1, &v2, sizeof v1);
    assert_true(v1.seller_review_count == 3); /* A's review + B's for seller s, B's for t */
    assert_true(v1.customer_orders == 2);
    /* truncated and corrupt snapshots are rejected */
    assert_null(sf_history_load(buf, len - 1, &err));
    assert_non_null(strstr(err.msg, "truncated or corrupt"));
    buf[0] = 'X';
    assert_null(sf_history_load(buf, len, &err));
    assert_non_null(strstr(err.msg, "bad magic"));
    free(buf);
    sf_history_free(g);
    sf_history_free(h);
    sf_examples_free(&ex);

    /* a score out of range is refused */
    sf_history *e = sf_history_new();
    assert_int_equal(sf_history_add_review(e, &ev, 7, &err), -1);
    assert_non_null(strstr(err.msg, "score 7"));
    sf_history_free(e);
}

static void test_split(void **state)
{
    (void)state;
    fixture();
    sf_dataset ds = dataset();
    sf_examples ex, old, young;
    sf_err err;
    assert_int_equal(
        sf_train_rows_of_dataset(&ex, &ds, sf_spec_seed(), SF_TIME_NONE, SF_TIME_NONE, NULL, &err),
        0);
    int64_t cut = sf_examples_time_split(&ex, 0.5, &old, &young, &err);
    assert_true(cut == orders[1].purchase);
    assert_int_equal(old.n, 4);
    assert_int_equal(young.n, 4);
    for (size_t i = 0; i < young.n; i++)
        assert_int_equal(young.order[i], 1);
    assert_true(sf_examples_time_split(&ex, 1.5, NULL, NULL, &err) == SF_TIME_NONE);
    assert_non_null(strstr(err.msg, "strictly between 0 and 1"));
    /* window on purchase time */
    sf_examples w;
    assert_int_equal(sf_train_rows_of_dataset(&w, &ds, sf_spec_seed(), orders[1].purchase,
                                              SF_TIME_NONE, NULL, &err),
                     0);
    assert_int_equal(w.n, 4);
    sf_examples_free(&w);
    sf_examples_free(&ex);
    sf_examples_free(&old);
    sf_examples_free(&young);
}

/* Two row sets hold the same rows in the same order. */
static void assert_same_rows(const sf_examples *a, const sf_examples *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->d, b->d);
    assert_true(a->n == 0 || memcmp(a->x, b->x, a->n * a->d * sizeof *a->x) == 0);
    for (size_t i = 0; i < a->n; i++) {
        assert_true(a->label[i] == b->label[i]);
        assert_int_equal(a->stage[i], b->stage[i]);
        assert_true(a->purchase[i] == b->purchase[i]);
        assert_true(a->event_time[i] == b->event_time[i]);
        assert_int_equal(a->order[i], b->order[i]);
    }
}

/* The in-place partition and its views hold exactly the rows the copies
 * (sf_examples_select, sf_examples_time_split) hold, in the same order: batch
 * training swapped the copies for views, so its models must not change. */
static void check_views_equal_copies(sf_examples *ex)
{
    sf_err err;
    size_t n = ex->n;
    size_t *all = malloc(n * sizeof *all), *lo = malloc(n * sizeof *lo),
           *hi = malloc(n * sizeof *hi);
    unsigned char *side = malloc(n);
    assert_true(all && lo && hi && side);
    /* a side that cuts many permutation cycles: every third row, and stage >= DELIVERED */
    size_t nl = 0, nh = 0;
    for (size_t i = 0; i < n; i++) {
        all[i] = i;
        side[i] = i % 3 == 0 || ex->stage[i] >= SF_STAGE_DELIVERED;
        if (side[i])
            hi[nh++] = i;
        else
            lo[nl++] = i;
    }
    sf_examples orig, c_lo, c_hi, v_lo, v_hi, t_old, t_new;
    assert_int_equal(sf_examples_select(ex, all, n, &orig, &err), 0);
    assert_int_equal(sf_examples_select(ex, lo, nl, &c_lo, &err), 0);
    assert_int_equal(sf_examples_select(ex, hi, nh, &c_hi, &err), 0);
    assert_int_equal(sf_examples_partition(ex, side, &err), nl);
    sf_examples_view(ex, 0, nl, &v_lo);
    sf_examples_view(ex, nl, nh, &v_hi);
    assert_same_rows(&v_lo, &c_lo);
    assert_same_rows(&v_hi, &c_hi);
    sf_examples_free(&v_lo); /* a view frees nothing */
    sf_examples_free(&v_hi);
    /* the time partition of the original rows equals the time split's copies */
    int64_t cut = sf_examples_time_split(&orig, 0.2, &t_old, &t_new, &err);
    assert_true(cut != SF_TIME_NONE);
    assert_true(sf_examples_time_partition(&orig, 0.2, &v_lo, &v_hi, &err) == cut);
    assert_same_rows(&v_lo, &t_old);
    assert_same_rows(&v_hi, &t_new);
    sf_examples_free(&v_lo);
    sf_examples_free(&v_hi);
    sf_examples_free(&orig);
    sf_examples_free(&c_lo);
    sf_examples_free(&c_hi);
    sf_examples_free(&t_old);
    sf_examples_free(&t_new);
    free(all);
    free(lo);
    free(hi);
    free(side);
}

static void test_partition_views(void **state)
{
    (void)state;
    fixture();
    sf_dataset ds = dataset();
    sf_examples ex;
    sf_err err;
    assert_int_equal(
        sf_train_rows_of_dataset(&ex, &ds, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, NULL, &err),
        0);
    check_views_equal_copies(&ex);
    sf_examples_free(&ex);
    const char *dir = tu_olist_dir();
    if (!dir)
        return;
    sf_dataset real;
    sf_history *h;
    tu_real_examples(dir, &real, &ex, &h);
    check_views_equal_copies(&ex);
    sf_history_free(h);
    sf_examples_free(&ex);
    sf_dataset_free(&real);
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* The compact events (one per order and its stages) rebuild every event the
 * lifecycle builder makes, and the rows of both specs built from them are the
 * rows built from the whole events. With drop, the dataset's order and review
 * records are freed once the events are built, as batch training does
 * (sf_dataset_drop_orders): the events borrow nothing from them (a big
 * dataset's arrays are unmapped, and ASan sees any read). With drop_as_read
 * the replay builds the same rows while it hands back what it is done with. */
static void check_compact_events(sf_dataset *ds, bool drop)
{
    sf_training_events full = {0}, compact = {0};
    sf_err err;
    assert_int_equal(
        sf_lifecycle_events(ds, &full.orders, &full.n_orders, &full.reviews, &full.n_reviews, &err),
        0);
    assert_int_equal(sf_lifecycle_events_compact(ds, &compact.orders, &compact.n_orders,
                                                 &compact.stages, &compact.n_stages,
                                                 &compact.reviews, &compact.n_reviews, &err),
                     0);
    if (drop) {
        sf_dataset_drop_orders(ds);
        assert_null(ds->orders);
        assert_int_equal(ds->n_orders, 0);
    }
    assert_int_equal(compact.n_stages, full.n_orders);
    assert_int_equal(compact.n_reviews, full.n_reviews);
    assert_true(compact.n_orders < full.n_orders);
    for (size_t i = 0; i < compact.n_stages; i++) {
        const sf_stage_at *a = &compact.stages[i];
        sf_order_event ev;
        sf_order_event_at(&compact.orders[a->order], a->stage, a->time, &ev);
        tu_assert_order_eq(&ev, &full.orders[i], same_bits, same_bits);
        assert_int_equal(ev.stage, full.orders[i].stage);
        assert_true(ev.event_time == full.orders[i].event_time);
    }
    const sf_feature_spec *const specs[2] = {sf_spec_full(), sf_spec_seed()};
    sf_examples pair[2]; /* both specs in one replay of the compact events */
    sf_history *hp;
    assert_int_equal(
        sf_training_rows_build2(pair, specs, &compact, SF_TIME_NONE, SF_TIME_NONE, &hp, &err), 0);
    for (int k = 0; k < 2; k++) {
        sf_examples a, b;
        sf_history *ha, *hb;
        assert_int_equal(
            sf_training_rows_build(&a, &full, specs[k], SF_TIME_NONE, SF_TIME_NONE, &ha, &err), 0);
        assert_int_equal(
            sf_training_rows_build(&b, &compact, specs[k], SF_TIME_NONE, SF_TIME_NONE, &hb, &err),
            0);
        assert_true(a.n > 0);
        assert_same_rows(&b, &a);
        assert_same_rows(&pair[k], &a);
        assert_int_equal(pair[k].n_orders, a.n_orders);
        assert_int_equal(b.n_orders, a.n_orders);
        assert_int_equal(b.n_orphan_reviews, a.n_orphan_reviews);
        assert_int_equal(sf_history_sellers(hb), sf_history_sellers(ha));
        assert_int_equal(sf_history_sellers(hp), sf_history_sellers(ha));
        sf_history_free(ha);
        sf_history_free(hb);
        sf_examples_free(&a);
        sf_examples_free(&b);
        sf_examples_free(&pair[k]);
    }
    sf_history_free(hp);
    /* drop_as_read: the replay hands back the pages of what it is done with
     * (the orders, items and payments of finished chunks of orders)
     * and still builds the same rows */
    sf_examples ref[2], dr[2];
    assert_int_equal(
        sf_training_rows_build2(ref, specs, &compact, SF_TIME_NONE, SF_TIME_NONE, NULL, &err), 0);
    compact.drop_as_read = 1;
    assert_int_equal(
        sf_training_rows_build2(dr, specs, &compact, SF_TIME_NONE, SF_TIME_NONE, NULL, &err), 0);
    for (int k = 0; k < 2; k++) {
        assert_same_rows(&dr[k], &ref[k]);
        sf_examples_free(&ref[k]);
        sf_examples_free(&dr[k]);
    }
    sf_training_events_free(&full);
    sf_training_events_free(&compact);
}

static void test_compact_events(void **state)
{
    (void)state;
    fixture();
    sf_dataset ds = dataset();
    check_compact_events(&ds, false);
    const char *dir = tu_olist_dir();
    if (!dir)
        return;
    sf_dataset real;
    tu_dataset_load(&real, dir);
    check_compact_events(&real, true);
    sf_dataset_free(&real);
}

/* On the real sample: one row per order event of labeled orders, labels in
 * 1..5, and the rows of the delivered stage know their outcome. */
static void test_real_sample(void **state)
{
    (void)state;
    const char *dir = tu_olist_dir();
    if (!dir)
        return; /* covered by the synthetic tests above */
    sf_dataset ds;
    sf_examples ex;
    sf_history *h;
    tu_real_examples(dir, &ds, &ex, &h);
    assert_true(ex.n > 3 * 10000);
    size_t delivered = 0, with_outcome = 0;
    int jd = sf_spec_index(sf_spec_full(), "delay_days");
    for (size_t i = 0; i < ex.n; i++) {
        assert_true(ex.label[i] >= 1 && ex.label[i] <= 5);
        if (i)
            assert_true(ex.event_time[i] >= ex.event_time[i - 1]);
        if (ex.stage[i] == SF_STAGE_DELIVERED) {
            delivered++;
            with_outcome += !isnan(ex.x[i * ex.d + (size_t)jd]);
        } else if (ex.stage[i] < SF_STAGE_DELIVERED) {
            assert_true(isnan(ex.x[i * ex.d + (size_t)jd]));
        }
    }
    assert_true(delivered > 10000);
    assert_true(with_outcome == delivered);
    assert_true(sf_history_sellers(h) > 1000);
    sf_history_free(h);
    sf_examples_free(&ex);
    sf_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_hash),
        cmocka_unit_test(test_haversine),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_history_keys),
        cmocka_unit_test(test_own_review_excluded),
        cmocka_unit_test(test_same_time_not_seen),
        cmocka_unit_test(test_leakage),
        cmocka_unit_test(test_history_snapshot),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_partition_views),
        cmocka_unit_test(test_compact_events),
        cmocka_unit_test(test_real_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
