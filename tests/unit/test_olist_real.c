/*
 * test_olist_real.c - the loader on the real Olist data, when CI provides it.
 *
 * OLIST_DIR (the coherent 15,000-order sample) must load with no bad row and
 * exactly the row counts of its MANIFEST.tsv, every order with its customer.
 * OLIST_FULL_DIR (or $OLIST_DIR/../olist when that exists) holds four
 * complete tables, checked one by one against their MANIFEST counts. Without
 * the data, the test says so and checks a fixture in the exact byte format
 * of the complete translation file (BOM, CRLF, no final newline) instead.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "satisfy/olist.h"

static void test_sample(void **s)
{
    (void)s;
    const char *dir = tu_olist_dir();
    if (!dir) {
        print_message("OLIST_DIR not set: skipping the real-sample check\n");
        skip();
    }
    sf_dataset ds;
    sf_err err;
    sf_load_opts opts = {.strict = true};
    if (sf_dataset_load(&ds, dir, &opts, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(sf_dataset_skipped(&ds), 0);
    /* MANIFEST.tsv of the sample */
    const size_t want[SF_T_COUNT] = {
        [SF_T_ORDERS] = 15000,   [SF_T_ITEMS] = 17071,       [SF_T_REVIEWS] = 14944,
        [SF_T_PAYMENTS] = 15733, [SF_T_CUSTOMERS] = 15000,   [SF_T_PRODUCTS] = 9255,
        [SF_T_SELLERS] = 1904,   [SF_T_GEOLOCATION] = 50000, [SF_T_TRANSLATION] = 71,
    };
    for (int t = 0; t < SF_T_COUNT; t++)
        if (ds.rows[t] != want[t])
            fail_msg("%s: %zu rows, MANIFEST says %zu", sf_table_file((sf_table)t), ds.rows[t],
                     want[t]);
    assert_int_equal(ds.n_orders, 15000);
    assert_int_equal(ds.n_items, 17071);
    assert_int_equal(ds.n_reviews, 14944);
    assert_int_equal(ds.n_payments, 15733);

    size_t items = 0, pays = 0, revs = 0, with_items = 0, with_pay = 0, with_review = 0,
           multi_review = 0, late = 0, delivered = 0, cust_geo = 0;
    size_t score[6] = {0};
    for (size_t i = 0; i < ds.n_orders; i++) {
        const sf_order *o = &ds.orders[i];
        /* every order has its customer */
        assert_int_equal(strlen(o->customer_unique_id), 32);
        assert_int_equal(strlen(o->customer.zip), 5);
        assert_true(o->customer.city[0] && strlen(o->customer.state) == 2);
        cust_geo += !isnan(o->customer.lat);
        if (i)
            assert_true(ds.orders[i - 1].purchase <= o->purchase);
        items += (size_t)o->n_items;
        pays += (size_t)o->n_payments;
        revs += (size_t)o->n_reviews;
        with_items += o->n_items > 0;
        with_pay += o->n_payments > 0;
        with_review += o->n_reviews > 0;
        multi_review += o->n_reviews > 1;
        for (int k = 1; k < o->n_items; k++)
            assert_true(o->items[k - 1].seq < o->items[k].seq);
        for (int k = 0; k < o->n_items; k++)
            assert_int_equal(strlen(o->items[k].seller.zip), 5);
        int label = sf_order_label(o);
        if (label > 0)
            score[label]++;
        if (o->delivered != SF_TIME_NONE) {
            delivered++;
            late += o->delivered > o->estimated;
        }
    }
    assert_int_equal(items, 17071);
    assert_int_equal(pays, 15733);
    assert_int_equal(revs, 14944);
    /* figures of the sample's README */
    assert_int_equal(with_items, 14885);
    assert_int_equal(with_pay, 14999);
    assert_int_equal(with_review, 14872);
    /* README.md says 72; the file has 71 (Python's csv module agrees) */
    assert_int_equal(multi_review, 71);
    assert_int_equal(score[1] + score[2] + score[3] + score[4] + score[5], 14872);
    assert_int_equal(delivered, 14552); /* README: 1,156 of 14,552 delivered orders late */
    assert_int_equal(late, 1156);
    assert_true(cust_geo > 15000 * 85 / 100); /* README: 92.4% of zip prefixes covered */
    print_message("sample: %zu orders, %zu delivered (%zu late), labels 1..5 = %zu %zu %zu %zu "
                  "%zu, customers with lat/lng %zu\n",
                  ds.n_orders, delivered, late, score[1], score[2], score[3], score[4], score[5],
                  cust_geo);
    sf_dataset_free(&ds);
}

static const char *full_dir(char *buf, size_t len)
{
    const char *d = getenv("OLIST_FULL_DIR");
    if (d && *d)
        return d;
    const char *s = tu_olist_dir();
    struct stat st;
    if (s && (size_t)snprintf(buf, len, "%s/../olist", s) < len && stat(buf, &st) == 0 &&
        S_ISDIR(st.st_mode))
        return buf;
    return NULL;
}

static void test_full_tables(void **s)
{
    (void)s;
    char buf[4096];
    const char *dir = full_dir(buf, sizeof buf);
    if (!dir) {
        print_message("OLIST_FULL_DIR not set (nor $OLIST_DIR/../olist): skipping the "
                      "complete-table check\n");
        skip();
    }
    const struct {
        sf_table t;
        size_t rows;
    } want[] = {{SF_T_PAYMENTS, 103886},
                {SF_T_PRODUCTS, 32951},
                {SF_T_SELLERS, 3095},
                {SF_T_TRANSLATION, 71}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        size_t rows, skipped;
        sf_err err;
        sf_load_opts opts = {.strict = true};
        if (sf_table_check(dir, want[i].t, &opts, &rows, &skipped, &err) < 0)
            fail_msg("%s", err.msg);
        if (rows != want[i].rows || skipped != 0)
            fail_msg("%s: %zu rows (%zu bad), MANIFEST says %zu", sf_table_file(want[i].t), rows,
                     skipped, want[i].rows);
    }
}

/* Always run: the byte format of the complete translation file. */
static void test_translation_format(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp();
    tu_write(dir, "product_category_name_translation.csv.gz",
             "\xEF\xBB\xBFproduct_category_name,product_category_name_english\r\n"
             "beleza_saude,health_beauty\r\n"
             "informatica_acessorios,computers_accessories\r\n"
             "automotivo,auto",
             (size_t)-1, 1);
    size_t rows, skipped;
    sf_err err;
    sf_load_opts opts = {.strict = true};
    if (sf_table_check(dir, SF_T_TRANSLATION, &opts, &rows, &skipped, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(rows, 3);
    assert_int_equal(skipped, 0);
    /* a BOM the reader did not strip would make the first column unknown */
    tu_write(dir, "product_category_name_translation.csv.gz",
             "\xEF\xBB\xBF\xEF\xBB\xBFproduct_category_name,product_category_name_english\r\n",
             (size_t)-1, 1);
    assert_int_equal(sf_table_check(dir, SF_T_TRANSLATION, &opts, &rows, &skipped, &err), -1);
    assert_non_null(strstr(err.msg, "missing column 'product_category_name'"));
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translation_format),
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_full_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
