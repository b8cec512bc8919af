/*
 * test_datagen.c - the synthetic Olist generator: its output is read back by
 * the loader in strict mode with the counts it reports, every order's
 * timestamps and payments are consistent, the files follow the Kaggle
 * schema, output is byte-identical per seed, and the calibration targets
 * measured on the real sample hold (so breaking the calibration fails here).
 * With OLIST_DIR set, the generated statistics are also compared with the
 * real sample's, computed by the same code.
 */
#include "testutil.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "satisfy/calibration.h"
#include "satisfy/datagen.h"
#include "satisfy/olist.h"

#define N_ORDERS 10000

typedef struct fixture {
    char *dir;
    sf_datagen_counts counts;
    sf_dataset ds;
    sf_calib cal;
} fixture;

static sf_datagen_opts opts(uint64_t n, uint64_t seed, bool gz)
{
    sf_datagen_opts o = {.n_orders = n, .seed = seed, .gzip = gz};
    o.from = o.to = SF_TIME_NONE;
    return o;
}

static int load_strict(sf_dataset *ds, const char *dir, sf_err *err)
{
    sf_load_opts lo = {.strict = true, .report = NULL, .max_reports = 0};
    return sf_dataset_load(ds, dir, &lo, err);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = tu_mkdtemp();
    sf_datagen_opts o = opts(N_ORDERS, 20240601, false);
    sf_err err = {{0}};
    if (sf_datagen_write(&o, f->dir, &f->counts, &err) < 0)
        fail_msg("datagen: %s", err.msg);
    if (load_strict(&f->ds, f->dir, &err) < 0)
        fail_msg("strict load of generated data: %s", err.msg);
    if (sf_calib_compute(&f->ds, &f->cal, &err) < 0)
        fail_msg("calibration: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sf_dataset_free(&f->ds);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void test_read_back_counts(void **state)
{
    fixture *f = *state;
    assert_int_equal(sf_dataset_skipped(&f->ds), 0);
    assert_int_equal(f->ds.n_orders, N_ORDERS);
    for (int t = 0; t < SF_T_COUNT; t++) {
        if (f->ds.rows[t] != f->counts.rows[t])
            fail_msg("%s: loader read %zu rows, generator wrote %zu", sf_table_file(t),
                     f->ds.rows[t], f->counts.rows[t]);
    }
    assert_int_equal(f->counts.rows[SF_T_ORDERS], N_ORDERS);
    assert_int_equal(f->counts.rows[SF_T_CUSTOMERS], N_ORDERS);
    assert_int_equal(f->counts.rows[SF_T_TRANSLATION], 71);
    assert_int_equal(f->ds.n_items, f->counts.rows[SF_T_ITEMS]);
    assert_int_equal(f->ds.n_payments, f->counts.rows[SF_T_PAYMENTS]);
    assert_int_equal(f->ds.n_reviews, f->counts.rows[SF_T_REVIEWS]);
    assert_true(f->counts.rows[SF_T_ITEMS] > N_ORDERS);
    assert_true(f->counts.rows[SF_T_PRODUCTS] > 100);
    assert_true(f->counts.rows[SF_T_SELLERS] > 20);
    assert_true(f->counts.rows[SF_T_GEOLOCATION] > 1000);
}

static int is_hex_id(const char *s)
{
    if (strlen(s) != SF_ID_LEN)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
            return 0;
    return 1;
}

/* Lifecycle order, status-specific timestamps, payments = items + freight,
 * reviews after delivery, well-formed ids and places. */
static void test_orders_consistent(void **state)
{
    fixture *f = *state;
    const int64_t day = 86400000;
    size_t with_geo = 0, zip0 = 0;
    for (size_t i = 0; i < f->ds.n_orders; i++) {
        const sf_order *o = &f->ds.orders[i];
        if (!is_hex_id(o->order_id) || !is_hex_id(o->customer_id) ||
            !is_hex_id(o->customer_unique_id))
            fail_msg("order %zu: ids not 32 lowercase hex", i);
        assert_int_equal(strlen(o->customer.zip), 5);
        zip0 += o->customer.zip[0] == '0';
        assert_int_equal(strlen(o->customer.state), 2);
        with_geo += !isnan(o->customer.lat);
        assert_true(o->purchase != SF_TIME_NONE && o->estimated != SF_TIME_NONE);
        assert_true(o->estimated > o->purchase);
        assert_true(o->estimated - o->purchase < 80 * day);
        assert_int_equal(o->estimated % day, 0);
        if (o->approved != SF_TIME_NONE)
            assert_true(o->approved >= o->purchase);
        if (o->carrier != SF_TIME_NONE)
            assert_true(o->approved != SF_TIME_NONE && o->carrier >= o->approved);
        if (o->delivered != SF_TIME_NONE)
            assert_true(o->carrier != SF_TIME_NONE && o->delivered >= o->carrier);
        switch (o->status) {
        case SF_STATUS_DELIVERED:
            assert_true(o->delivered != SF_TIME_NONE);
            assert_true(o->n_items > 0);
            break;
        case SF_STATUS_SHIPPED:
            assert_true(o->carrier != SF_TIME_NONE && o->delivered == SF_TIME_NONE);
            break;
        case SF_STATUS_CANCELED:
            assert_true(o->delivered == SF_TIME_NONE);
            break;
        default:
            assert_true(o->carrier == SF_TIME_NONE && o->delivered == SF_TIME_NONE);
        }
        double total = 0, paid = 0;
        for (int k = 0; k < o->n_items; k++) {
            const sf_item *it = &o->items[k];
            assert_int_equal(it->seq, k + 1);
            assert_true(it->price > 0 && it->freight >= 0);
            assert_true(it->shipping_limit > o->purchase);
            assert_true(is_hex_id(it->product_id) && is_hex_id(it->seller_id));
            assert_int_equal(strlen(it->seller.zip), 5);
            total += it->price + it->freight;
        }
        assert_true(o->n_payments >= 1);
        for (int k = 0; k < o->n_payments; k++) {
            assert_true(o->payments[k].value >= 0);
            assert_true(o->payments[k].installments >= 1);
            paid += o->payments[k].value;
        }
        if (o->n_items > 0 && fabs(total - paid) > 0.005 * (o->n_items + o->n_payments))
            fail_msg("order %s: items+freight %.2f but payments %.2f", o->order_id, total, paid);
        for (int k = 0; k < o->n_reviews; k++) {
            const sf_review_event *r = &o->reviews[k];
            assert_true(r->score >= 1 && r->score <= 5);
            assert_true(r->answered >= r->created);
            assert_int_equal(r->created % day, 0);
            if (o->delivered != SF_TIME_NONE) {
                assert_true(r->created >= o->delivered);
                assert_true(r->created - o->delivered <= 4 * day + (k ? 41 * day : 0));
            }
            assert_true(r->created >= o->purchase);
        }
    }
    assert_true(with_geo > 0.99 * (double)f->ds.n_orders); /* 0.3% of zips lack geolocation */
    assert_true(zip0 > 0); /* Sao Paulo prefixes start with 0 and keep it */
}

/* Review comments exercise the CSV quoting: commas, quotes and newlines. */
static void test_comments_and_categories(void **state)
{
    fixture *f = *state;
    size_t comma = 0, quote = 0, newline = 0, titled = 0, empty_cat = 0, english = 0;
    for (size_t i = 0; i < f->ds.n_orders; i++) {
        const sf_order *o = &f->ds.orders[i];
        for (int k = 0; k < o->n_reviews; k++) {
            const char *m = o->reviews[k].message;
            titled += o->reviews[k].title != NULL;
            if (!m)
                continue;
            comma += strchr(m, ',') != NULL;
            quote += strchr(m, '"') != NULL;
            newline += strchr(m, '\n') != NULL;
        }
        for (int k = 0; k < o->n_items; k++) {
            empty_cat += o->items[k].category[0] == '\0';
            english += strcmp(o->items[k].category, "health_beauty") == 0;
        }
    }
    assert_true(comma > 100);
    assert_true(quote > 5);
    assert_true(newline > 50);
    assert_true(titled > 0.08 * (double)f->ds.n_reviews && titled < 0.16 * (double)f->ds.n_reviews);
    assert_true(empty_cat > 0 && empty_cat < 0.04 * (double)f->ds.n_items);
    assert_true(english > 0.04 * (double)f->ds.n_items);
}

static char *first_line(const char *path)
{
    gzFile g = gzopen(path, "rb");
    assert_non_null(g);
    static char line[1024];
    assert_non_null(gzgets(g, line, sizeof line));
    gzclose(g);
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

/* Headers and column order exactly as in the Kaggle files. */
static void test_headers(void **state)
{
    fixture *f = *state;
    static const char *const want[SF_T_COUNT] = {
        "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,"
        "order_delivered_carrier_date,order_delivered_customer_date,"
        "order_estimated_delivery_date",
        "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value",
        "order_id,payment_sequential,payment_type,payment_installments,payment_value",
        "review_id,order_id,review_score,review_comment_title,review_comment_message,"
        "review_creation_date,review_answer_timestamp",
        "customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state",
        "product_id,product_category_name,product_name_lenght,product_description_lenght,"
        "product_photos_qty,product_weight_g,product_length_cm,product_height_cm,"
        "product_width_cm",
        "seller_id,seller_zip_code_prefix,seller_city,seller_state",
        "geolocation_zip_code_prefix,geolocation_lat,geolocation_lng,geolocation_city,"
        "geolocation_state",
        "product_category_name,product_category_name_english"};
    for (int t = 0; t < SF_T_COUNT; t++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.csv", f->dir, sf_table_file(t));
        assert_string_equal(first_line(path), want[t]);
    }
    /* Zip prefixes are written with 5 digits, leading zeros included. */
    char path[1024];
    snprintf(path, sizeof path, "%s/olist_customers_dataset.csv", f->dir);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    char line[512];
    size_t n = 0;
    assert_non_null(fgets(line, sizeof line, in));
    while (fgets(line, sizeof line, in)) {
        const char *zip = strchr(strchr(line, ',') + 1, ',') + 1;
        for (int k = 0; k < 5; k++)
            assert_true(isdigit((unsigned char)zip[k]));
        assert_int_equal(zip[5], ',');
        n++;
    }
    fclose(in);
    assert_int_equal(n, N_ORDERS);
}

static void near(const char *what, double got, double want, double tol)
{
    if (fabs(got - want) > tol)
        fail_msg("%s: %.3f, calibration target %.3f +- %.3f", what, got, want, tol);
}

/* The targets measured on the real sample (docs/data.md); tolerances allow
 * for the sampling noise of 10,000 orders. */
static void test_calibration_targets(void **state)
{
    const sf_calib *c = &((fixture *)*state)->cal;
    static const double score[5] = {11.4, 3.2, 8.6, 19.3, 57.5};
    for (int s = 0; s < 5; s++) {
        char what[32];
        snprintf(what, sizeof what, "score %d share", s + 1);
        near(what, c->score_pct[s], score[s], s == 4 ? 2.5 : 1.8);
    }
    near("late share", c->late_pct, 7.94, 1.5);
    near("mean score late", c->mean_late, 2.61, 0.3);
    near("mean score on time", c->mean_ontime, 4.28, 0.12);
    assert_true(c->mean_ontime - c->mean_late > 1.3);
    near("orders with a review", c->review_pct, 99.15, 0.5);
    near("orders with 2+ reviews", c->multi_review_pct, 0.47, 0.3);
    near("items per order", c->items_mean, 1.147, 0.04);
    near("orders with 2+ items", c->multi_item_pct, 10.04, 1.5);
    near("orders with 2+ sellers", c->multi_seller_pct, 1.10, 0.6);
    near("orders without items", c->no_item_pct, 0.77, 0.4);
    near("delivered", c->status_pct[SF_STATUS_DELIVERED], 97.0, 0.6);
    near("shipped", c->status_pct[SF_STATUS_SHIPPED], 1.1, 0.4);
    near("canceled", c->status_pct[SF_STATUS_CANCELED], 0.7, 0.35);
    near("unavailable", c->status_pct[SF_STATUS_UNAVAILABLE], 0.6, 0.35);
    near("credit card payments", c->pay_type_pct[SF_PAY_CREDIT_CARD], 73.9, 2.0);
    near("boleto payments", c->pay_type_pct[SF_PAY_BOLETO], 18.6, 2.0);
    near("voucher payments", c->pay_type_pct[SF_PAY_VOUCHER], 6.0, 1.5);
    near("debit card payments", c->pay_type_pct[SF_PAY_DEBIT_CARD], 1.5, 0.6);
    near("cc installments", c->cc_installments, 3.46, 0.4);
    near("days to delivery", c->delivery_days, 12.5, 1.5);
    near("days to estimated date", c->estimated_days, 23.7, 1.5);
    near("freight / price", c->freight_ratio, 0.306, 0.05);
    near("returning customers", c->repeat_pct, 6.0, 2.0); /* full data: ~6%; sample 1.3% */
}

/* With the real sample available, compare with it directly. */
static void test_against_real_sample(void **state)
{
    const char *real = tu_olist_dir();
    if (!real)
        return; /* without OLIST_DIR the fixed targets above are the reference */
    const sf_calib *g = &((fixture *)*state)->cal;
    sf_dataset ds;
    sf_err err;
    sf_load_opts lo = {.strict = false};
    if (sf_dataset_load(&ds, real, &lo, &err) < 0)
        fail_msg("%s", err.msg);
    sf_calib r;
    assert_int_equal(sf_calib_compute(&ds, &r, &err), 0);
    sf_dataset_free(&ds);
    near("real sample late share", r.late_pct, 7.94, 0.01);
    for (int s = 0; s < 5; s++)
        near("score share vs real", g->score_pct[s], r.score_pct[s], 2.5);
    near("late share vs real", g->late_pct, r.late_pct, 1.5);
    near("mean late vs real", g->mean_late, r.mean_late, 0.3);
    near("mean on time vs real", g->mean_ontime, r.mean_ontime, 0.12);
    near("review share vs real", g->review_pct, r.review_pct, 0.5);
    near("items per order vs real", g->items_mean, r.items_mean, 0.04);
    near("multi-seller vs real", g->multi_seller_pct, r.multi_seller_pct, 0.6);
}

static int files_equal(const char *a, const char *b)
{
    gzFile fa = gzopen(a, "rb"), fb = gzopen(b, "rb"); /* gzread also reads plain files */
    assert_non_null(fa);
    assert_non_null(fb);
    static char ba[65536], bb[65536];
    int same = 1;
    for (;;) {
        int na = gzread(fa, ba, sizeof ba), nb = gzread(fb, bb, sizeof bb);
        if (na != nb || memcmp(ba, bb, (size_t)na) != 0) {
            same = 0;
            break;
        }
        if (na == 0)
            break;
    }
    gzclose(fa);
    gzclose(fb);
    return same;
}

static void gen_into(const char *dir, uint64_t n, uint64_t seed, bool gz, sf_datagen_counts *c)
{
    sf_datagen_opts o = opts(n, seed, gz);
    sf_err err;
    if (sf_datagen_write(&o, dir, c, &err) < 0)
        fail_msg("datagen: %s", err.msg);
}

static void path_of(char *buf, size_t len, const char *dir, int t, bool gz)
{
    snprintf(buf, len, "%s/%s.csv%s", dir, sf_table_file(t), gz ? ".gz" : "");
}

/* Same seed: byte-identical files (plain and gzip); another seed: different
 * data; the gzip files hold exactly the plain bytes. */
static void test_deterministic(void **state)
{
    (void)state;
    char *a = tu_mkdtemp(), *b = tu_mkdtemp(), *c = tu_mkdtemp(), *za = tu_mkdtemp(),
         *zb = tu_mkdtemp();
    gen_into(a, 3000, 7, false, NULL);
    gen_into(b, 3000, 7, false, NULL);
    gen_into(c, 3000, 8, false, NULL);
    gen_into(za, 3000, 7, true, NULL);
    gen_into(zb, 3000, 7, true, NULL);
    for (int t = 0; t < SF_T_COUNT; t++) {
        char pa[1024], pb[1024], pc[1024], pza[1024], pzb[1024];
        path_of(pa, sizeof pa, a, t, false);
        path_of(pb, sizeof pb, b, t, false);
        path_of(pc, sizeof pc, c, t, false);
        path_of(pza, sizeof pza, za, t, true);
        path_of(pzb, sizeof pzb, zb, t, true);
        if (!files_equal(pa, pb))
            fail_msg("%s differs between two runs with the same seed", sf_table_file(t));
        if (!files_equal(pa, pza))
            fail_msg("%s: gzip content differs from plain output", sf_table_file(t));
        /* The compressed bytes themselves are identical too. */
        FILE *f1 = fopen(pza, "rb"), *f2 = fopen(pzb, "rb");
        assert_non_null(f1);
        assert_non_null(f2);
        int c1, c2;
        do {
            c1 = fgetc(f1);
            c2 = fgetc(f2);
        } while (c1 == c2 && c1 != EOF);
        fclose(f1);
        fclose(f2);
        assert_int_equal(c1, c2);
        if (t != SF_T_TRANSLATION && files_equal(pa, pc))
            fail_msg("%s is the same for seeds 7 and 8", sf_table_file(t));
    }
    sf_dataset ds;
    sf_err err;
    if (load_strict(&ds, za, &err) < 0)
        fail_msg("gzip output: %s", err.msg);
    assert_int_equal(ds.n_orders, 3000);
    sf_dataset_free(&ds);
    char *dirs[] = {a, b, c, za, zb};
    for (int i = 0; i < 5; i++) {
        tu_rmtree(dirs[i]);
        free(dirs[i]);
    }
}

/* --from/--to bound the purchase timestamps. */
static void test_window(void **state)
{
    (void)state;
    char *d = tu_mkdtemp();
    sf_datagen_opts o = opts(800, 3, false);
    assert_int_equal(sf_time_parse("2019-02-01", &o.from), 0);
    assert_int_equal(sf_time_parse("2019-03-31", &o.to), 0);
    sf_err err;
    if (sf_datagen_write(&o, d, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    sf_dataset ds;
    if (load_strict(&ds, d, &err) < 0)
        fail_msg("%s", err.msg);
    int64_t end = o.to + 86400000;
    size_t march = 0;
    for (size_t i = 0; i < ds.n_orders; i++) {
        assert_true(ds.orders[i].purchase >= o.from && ds.orders[i].purchase < end);
        march += ds.orders[i].purchase >= o.from + 28 * 86400000LL;
    }
    assert_true(march > 300 && march < 550); /* two months of equal weight */
    sf_dataset_free(&ds);
    tu_rmtree(d);
    free(d);
}

static void test_errors(void **state)
{
    (void)state;
    sf_err err;
    sf_datagen_opts o = opts(10, 1, false);
    assert_int_equal(sf_datagen_write(&o, "/nonexistent/satisfy-dir", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/satisfy-dir/olist_orders_dataset.csv"));
    assert_non_null(strstr(err.msg, "cannot create"));

    char *d = tu_mkdtemp();
    o.n_orders = 0;
    assert_int_equal(sf_datagen_write(&o, d, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "--orders must be between 1"));

    o = opts(10, 1, false);
    assert_int_equal(sf_time_parse("2018-05-01", &o.from), 0);
    assert_int_equal(sf_time_parse("2018-04-01", &o.to), 0);
    assert_int_equal(sf_datagen_write(&o, d, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "empty purchase window"));

    o = opts(10, 1, false);
    assert_int_equal(sf_time_parse("1960-01-01", &o.from), 0);
    assert_int_equal(sf_datagen_write(&o, d, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "within 1971 .. 2199"));
    tu_rmtree(d);
    free(d);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_read_back_counts),        cmocka_unit_test(test_orders_consistent),
        cmocka_unit_test(test_comments_and_categories), cmocka_unit_test(test_headers),
        cmocka_unit_test(test_calibration_targets),     cmocka_unit_test(test_against_real_sample),
    };
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_errors),
    };
    int rc = cmocka_run_group_tests_name("datagen_10k", group, setup, teardown);
    rc += cmocka_run_group_tests_name("datagen", alone, NULL, NULL);
    return rc;
}
