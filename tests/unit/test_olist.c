/*
 * test_olist.c - the Olist loader on small fixtures written for each case:
 * every file shape the real data comes in (plain and gz, CRLF, BOM, quoted
 * numbers, 57.0 floats, 4-digit zips, the misspelled product columns,
 * columns in another order), the join rules (translation with fallback,
 * geolocation means, label rule for several reviews, orders without items,
 * payments or reviews), each kind of bad row with its message, skip-and-count
 * versus strict, and the time and zip helpers.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/cep_prefix.h"
#include "satisfy/olist.h"

/* 32-hex ids: the first letter says the table, the last digit the row. */
#define OID(c) "f000000000000000000000000000000" c
#define CID(c) "c000000000000000000000000000000" c
#define UID(c) "e000000000000000000000000000000" c
#define PID(c) "a000000000000000000000000000000" c
#define SID(c) "b000000000000000000000000000000" c
#define RID(c) "d000000000000000000000000000000" c

// clang-format off
static const char *base_tables[SF_T_COUNT] = {
    [SF_T_TRANSLATION] =
        "product_category_name,product_category_name_english\n"
        "beleza_saude,health_beauty\n"
        "moveis_decoracao,furniture_decor\n",
    [SF_T_GEOLOCATION] =
        "geolocation_zip_code_prefix,geolocation_lat,geolocation_lng,geolocation_city,"
        "geolocation_state\n"
        "1310,-23.0,-46.0,sao paulo,SP\n"
        "01310,-24.0,-47.0,sao paulo,SP\n"
        "\"13023\",-22.9,-47.06,campinas,SP\n",
    /* columns in another order, misspelled names, quoted and float numbers */
    [SF_T_PRODUCTS] =
        "product_category_name,product_id,product_name_lenght,product_description_lenght,"
        "product_photos_qty,product_weight_g,product_length_cm,product_height_cm,"
        "product_width_cm\n"
        "beleza_saude," PID("1") ",57.0,\"163\",1.0,400.0,27.0,13.0,17.0\n"
        "portateis_cozinha," PID("2") ",,,,,,,\n"
        "," PID("3") ",10,20,1,100,10,10,10\n",
    [SF_T_SELLERS] =
        "seller_id,seller_zip_code_prefix,seller_city,seller_state\n"
        "\"" SID("1") "\",\"13023\",campinas,SP\n"
        SID("2") ",9999,nowhere,RJ\n",
    [SF_T_CUSTOMERS] =
        "customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state\n"
        CID("1") "," UID("1") ",1310,sao paulo,SP\n"
        CID("2") "," UID("2") ",1310.0,sao paulo,SP\n"
        CID("3") "," UID("1") ",13023,campinas,SP\n"
        CID("4") "," UID("4") ",99999,x,MG\n",
    [SF_T_ORDERS] =
        "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,"
        "order_delivered_carrier_date,order_delivered_customer_date,"
        "order_estimated_delivery_date\n"
        OID("1") "," CID("1") ",delivered,2017-03-02 10:00:00,2017-03-02 11:00:00,"
            "2017-03-03 09:00:00,2017-03-08 12:00:00,2017-03-20 00:00:00\n"
        OID("2") "," CID("2") ",shipped,2017-03-01 09:00:00,2017-03-01 09:30:00,"
            "2017-03-02 10:00:00,,2017-03-15 00:00:00\n"
        OID("3") "," CID("3") ",canceled,2017-03-01 09:00:00,,,,2017-03-15 00:00:00\n"
        OID("4") "," CID("4") ",unavailable,2016-02-29 23:59:59,2016-03-01 00:00:00,,,"
            "2016-03-20 00:00:00\n",
    [SF_T_ITEMS] =
        "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n"
        OID("1") ",2," PID("2") "," SID("2") ",2017-03-06 10:00:00,10.5,2.0\n"
        OID("1") ",1," PID("1") "," SID("1") ",2017-03-06 10:00:00,\"199.0\",17.87\n"
        OID("2") ",1," PID("3") "," SID("1") ",2017-03-05 10:00:00,35.9,0\n",
    [SF_T_PAYMENTS] =
        "order_id,payment_sequential,payment_type,payment_installments,payment_value\n"
        OID("1") ",2,voucher,1,0.0\n"
        OID("1") ",1,credit_card,8,227.37\n"
        OID("2") ",1,boleto,0,35.9\n",
    [SF_T_REVIEWS] =
        "review_id,order_id,review_score,review_comment_title,review_comment_message,"
        "review_creation_date,review_answer_timestamp\n"
        RID("1") "," OID("1") ",2,,\"chegou quebrado,\nmas \"\"ok\"\"\",2017-03-09 00:00:00,"
            "2017-03-10 10:00:00\n"
        RID("2") "," OID("1") ",5,otimo,,2017-03-12 00:00:00,2017-03-12 08:00:00\n"
        RID("3") "," OID("1") ",4,,,2017-03-12 00:00:00,2017-03-11 08:00:00\n"
        RID("9") "," OID("2") ",3,,,2017-03-05 00:00:00,2017-03-06 00:00:00\n"
        RID("9") "," OID("3") ",1,,,2017-03-05 00:00:00,2017-03-06 00:00:00\n",
};
// clang-format on

/* Converts LF to CRLF (also inside quoted fields, as the Kaggle originals do). */
static char *crlf(const char *s)
{
    char *out = malloc(strlen(s) * 2 + 1), *o = out;
    assert_non_null(out);
    for (; *s; s++) {
        if (*s == '\n')
            *o++ = '\r';
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

typedef struct fixture {
    int gz, crlf, bom, no_final_newline;
    sf_table replace; /* table whose text is `text` instead of the base */
    const char *text; /* NULL: no replacement */
    sf_table omit;    /* a table not written at all */
    int omit_set;
} fixture;

static char *write_fixture(const fixture *fx)
{
    char *dir = tu_mkdtemp();
    for (int t = 0; t < SF_T_COUNT; t++) {
        if (fx->omit_set && (sf_table)t == fx->omit)
            continue;
        const char *src = fx->text && (sf_table)t == fx->replace ? fx->text : base_tables[t];
        char *body = fx->crlf ? crlf(src) : strdup(src);
        size_t len = strlen(body);
        if (fx->no_final_newline)
            while (len && (body[len - 1] == '\n' || body[len - 1] == '\r'))
                len--;
        char *buf = malloc(len + 4);
        assert_non_null(buf);
        size_t off = 0;
        if (fx->bom) {
            memcpy(buf, "\xEF\xBB\xBF", 3);
            off = 3;
        }
        memcpy(buf + off, body, len);
        char name[128];
        snprintf(name, sizeof name, "%s.csv%s", sf_table_file((sf_table)t), fx->gz ? ".gz" : "");
        tu_write(dir, name, buf, off + len, fx->gz);
        free(buf);
        free(body);
    }
    return dir;
}

static const sf_order *find_order(const sf_dataset *ds, const char *id)
{
    for (size_t i = 0; i < ds->n_orders; i++)
        if (strcmp(ds->orders[i].order_id, id) == 0)
            return &ds->orders[i];
    fail_msg("order %s not loaded", id);
    return NULL;
}

static int64_t T(const char *s)
{
    int64_t t;
    assert_int_equal(sf_time_parse(s, &t), 0);
    return t;
}

/* Everything the base fixture says, checked after the join. */
static void check_base(const sf_dataset *ds)
{
    assert_int_equal(sf_dataset_skipped(ds), 0);
    assert_int_equal(ds->n_orders, 4);
    assert_int_equal(ds->n_items, 3);
    assert_int_equal(ds->n_payments, 3);
    assert_int_equal(ds->n_reviews, 5);
    assert_int_equal(ds->rows[SF_T_GEOLOCATION], 3);
    assert_int_equal(ds->rows[SF_T_TRANSLATION], 2);
    assert_int_equal(ds->rows[SF_T_CUSTOMERS], 4);

    /* sorted by purchase time, then order_id (orders 2 and 3 tie) */
    assert_string_equal(ds->orders[0].order_id, OID("4"));
    assert_string_equal(ds->orders[1].order_id, OID("2"));
    assert_string_equal(ds->orders[2].order_id, OID("3"));
    assert_string_equal(ds->orders[3].order_id, OID("1"));

    const sf_order *o1 = find_order(ds, OID("1"));
    assert_int_equal(o1->status, SF_STATUS_DELIVERED);
    assert_true(o1->purchase == T("2017-03-02 10:00:00"));
    assert_true(o1->approved == T("2017-03-02 11:00:00"));
    assert_true(o1->carrier == T("2017-03-03 09:00:00"));
    assert_true(o1->delivered == T("2017-03-08 12:00:00"));
    assert_true(o1->estimated == T("2017-03-20"));
    assert_string_equal(o1->customer_id, CID("1"));
    assert_string_equal(o1->customer_unique_id, UID("1"));
    /* 4-digit zip padded; lat/lng the mean of the two rows of 01310 */
    assert_string_equal(o1->customer.zip, "01310");
    assert_string_equal(o1->customer.city, "sao paulo");
    assert_string_equal(o1->customer.state, "SP");
    assert_true(fabs(o1->customer.lat - -23.5) < 1e-9);
    assert_true(fabs(o1->customer.lng - -46.5) < 1e-9);

    /* items sorted by order_item_id, product and seller joined */
    assert_int_equal(o1->n_items, 2);
    const sf_item *a = &o1->items[0], *b = &o1->items[1];
    assert_int_equal(a->seq, 1);
    assert_string_equal(a->product_id, PID("1"));
    assert_string_equal(a->seller_id, SID("1"));
    assert_true(a->price == 199.0 && a->freight == 17.87);
    assert_true(a->shipping_limit == T("2017-03-06 10:00:00"));
    assert_string_equal(a->category, "health_beauty");
    assert_true(a->name_len == 57 && a->desc_len == 163 && a->photos == 1);
    assert_true(a->weight_g == 400 && a->length_cm == 27 && a->height_cm == 13 &&
                a->width_cm == 17);
    assert_string_equal(a->seller.zip, "13023");
    assert_string_equal(a->seller.city, "campinas");
    assert_true(fabs(a->seller.lat - -22.9) < 1e-9 && fabs(a->seller.lng - -47.06) < 1e-9);
    assert_int_equal(b->seq, 2);
    assert_string_equal(b->category, "portateis_cozinha"); /* untranslated: Portuguese */
    assert_true(isnan(b->name_len) && isnan(b->weight_g) && isnan(b->width_cm));
    assert_string_equal(b->seller.zip, "09999");
    assert_true(isnan(b->seller.lat) && isnan(b->seller.lng)); /* no geolocation rows */

    /* payments sorted by sequence; zero value and zero installments kept */
    assert_int_equal(o1->n_payments, 2);
    assert_int_equal(o1->payments[0].seq, 1);
    assert_int_equal(o1->payments[0].type, SF_PAY_CREDIT_CARD);
    assert_int_equal(o1->payments[0].installments, 8);
    assert_true(o1->payments[0].value == 227.37);
    assert_int_equal(o1->payments[1].type, SF_PAY_VOUCHER);
    assert_true(o1->payments[1].value == 0.0);

    /* three reviews: the label is the latest by creation, then answer time */
    assert_int_equal(o1->n_reviews, 3);
    assert_string_equal(o1->reviews[0].review_id, RID("1"));
    assert_string_equal(o1->reviews[1].review_id, RID("3"));
    assert_string_equal(o1->reviews[2].review_id, RID("2"));
    assert_int_equal(sf_order_label(o1), 5);
    assert_ptr_equal(sf_order_label_review(o1), &o1->reviews[2]);
    assert_null(o1->reviews[0].title);
    assert_non_null(o1->reviews[0].message);
    assert_non_null(strstr(o1->reviews[0].message, "chegou quebrado,"));
    assert_non_null(strstr(o1->reviews[0].message, "mas \"ok\""));
    assert_string_equal(o1->reviews[2].title, "otimo");
    assert_null(o1->reviews[2].message);
    assert_string_equal(o1->reviews[2].order_id, OID("1"));

    const sf_order *o2 = find_order(ds, OID("2"));
    assert_int_equal(o2->status, SF_STATUS_SHIPPED);
    assert_true(o2->delivered == SF_TIME_NONE);
    assert_string_equal(o2->customer.zip, "01310"); /* "1310.0" */
    assert_int_equal(o2->n_items, 1);
    assert_string_equal(o2->items[0].category, ""); /* product without category */
    assert_int_equal(o2->payments[0].installments, 0);
    assert_int_equal(sf_order_label(o2), 3);

    /* the same review_id on two orders: each order keeps its own */
    const sf_order *o3 = find_order(ds, OID("3"));
    assert_int_equal(o3->n_items, 0);
    assert_null(o3->items);
    assert_int_equal(o3->n_payments, 0);
    assert_int_equal(o3->n_reviews, 1);
    assert_string_equal(o3->reviews[0].review_id, RID("9"));
    assert_int_equal(sf_order_label(o3), 1);
    assert_true(o3->approved == SF_TIME_NONE && o3->carrier == SF_TIME_NONE);
    assert_string_equal(o3->customer_unique_id, UID("1")); /* repeat customer */

    const sf_order *o4 = find_order(ds, OID("4"));
    assert_int_equal(o4->status, SF_STATUS_UNAVAILABLE);
    assert_true(o4->purchase == T("2016-02-29 23:59:59"));
    assert_int_equal(o4->n_reviews, 0);
    assert_int_equal(sf_order_label(o4), -1);
    assert_null(sf_order_label_review(o4));
    assert_string_equal(o4->customer.zip, "99999");
    assert_true(isnan(o4->customer.lat));
}

static void load_ok(const fixture *fx)
{
    char *dir = write_fixture(fx);
    sf_dataset ds;
    sf_err err = {{0}};
    sf_load_opts opts = {.strict = true};
    if (sf_dataset_load(&ds, dir, &opts, &err) < 0)
        fail_msg("load: %s", err.msg);
    check_base(&ds);
    sf_dataset_free(&ds);
    assert_null(ds.arena);
    tu_rmtree(dir);
    free(dir);
}

static void test_plain(void **s)
{
    (void)s;
    load_ok(&(fixture){0});
}

static void test_gz(void **s)
{
    (void)s;
    load_ok(&(fixture){.gz = 1});
}

static void test_crlf_bom_no_final_newline(void **s)
{
    (void)s;
    load_ok(&(fixture){.gz = 1, .crlf = 1, .bom = 1, .no_final_newline = 1});
    load_ok(&(fixture){.crlf = 1, .bom = 1});
}

/* Runs a load expected to fail; returns err.msg in a static buffer. */
static const char *load_fail(const fixture *fx, bool strict)
{
    static sf_err err;
    char *dir = write_fixture(fx);
    sf_dataset ds;
    sf_load_opts opts = {.strict = strict, .report = NULL};
    FILE *devnull = fopen("/dev/null", "w");
    opts.report = devnull;
    assert_int_equal(sf_dataset_load(&ds, dir, &opts, &err), -1);
    assert_null(ds.orders);
    assert_null(ds.arena);
    fclose(devnull);
    tu_rmtree(dir);
    free(dir);
    return err.msg;
}

static void test_missing_file(void **s)
{
    (void)s;
    const char *msg = load_fail(&(fixture){.omit = SF_T_ITEMS, .omit_set = 1}, false);
    assert_non_null(strstr(msg, "missing file"));
    assert_non_null(strstr(msg, "olist_order_items_dataset.csv"));
}

static void test_missing_column(void **s)
{
    (void)s;
    const char *msg = load_fail(
        &(fixture){
            .gz = 1,
            .replace = SF_T_CUSTOMERS,
            .text = "customer_id,customer_unique_id,customer_zip_code_prefix,customer_city\n" CID(
                "1") "," UID("1") ",1310,sao paulo\n"},
        false);
    assert_non_null(strstr(msg, "olist_customers_dataset.csv.gz: missing column 'customer_state'"));
    /* the misspelled name is the one asked for when neither spelling is there */
    msg = load_fail(&(fixture){.replace = SF_T_PRODUCTS,
                               .text = "product_id,product_category_name,product_name,"
                                       "product_description_lenght,product_photos_qty,"
                                       "product_weight_g,product_length_cm,product_height_cm,"
                                       "product_width_cm\n"},
                    false);
    assert_non_null(
        strstr(msg, "olist_products_dataset.csv: missing column 'product_name_lenght'"));
}

/* The corrected spelling of the product columns is accepted too. */
static void test_corrected_column_names(void **s)
{
    (void)s;
    char *text = strdup(base_tables[SF_T_PRODUCTS]);
    char *p;
    while ((p = strstr(text, "lenght")) != NULL)
        memcpy(p, "length", 6);
    load_ok(&(fixture){.replace = SF_T_PRODUCTS, .text = text});
    free(text);
}

typedef struct bad_case {
    sf_table table;
    const char *text;
    const char *message; /* expected in the report and, strict, in err */
    size_t skipped;      /* rows skipped in that table */
    size_t orders, items, payments, reviews;
} bad_case;

// clang-format off
static const bad_case bad_cases[] = {
    {SF_T_ITEMS,
     "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n" OID(
         "1") ",1," PID("1") "," SID("1") ",2017-03-06 10:00:00,199.0,17.87\n" OID(
         "1") ",2," PID("2") "," SID("2") ",2017-03-06 10:00:00,abc,2.0\n",
     "olist_order_items_dataset.csv:3: column 'price': value 'abc': not a number", 1, 4, 1, 3, 5},
    {SF_T_ITEMS,
     "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n" OID(
         "1") ",1," PID("7") "," SID("1") ",2017-03-06 10:00:00,199.0,17.87\n",
     "olist_order_items_dataset.csv:2: column 'product_id': value '" PID(
         "7") "': not in olist_products_dataset",
     1, 4, 0, 3, 5},
    {SF_T_ITEMS,
     "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n" OID(
         "1") ",1," PID("1") "," SID("7") ",2017-03-06 10:00:00,199.0,17.87\n",
     "olist_order_items_dataset.csv:2: column 'seller_id': value '" SID(
         "7") "': not in olist_sellers_dataset",
     1, 4, 0, 3, 5},
    {SF_T_ITEMS,
     "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n" OID(
         "8") ",1," PID("1") "," SID("1") ",2017-03-06 10:00:00,199.0,17.87\n",
     "olist_order_items_dataset.csv:2: column 'order_id': value '" OID(
         "8") "': not in olist_orders_dataset",
     1, 4, 0, 3, 5},
    {SF_T_ITEMS,
     "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n" OID(
         "1") ",1," PID("1") "," SID("1") ",2017-02-30 10:00:00,199.0,17.87\n",
     "column 'shipping_limit_date': value '2017-02-30 10:00:00': no such date", 1, 4, 0, 3, 5},
    {SF_T_ITEMS,
     "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n" OID(
         "1") ",1.5," PID("1") "," SID("1") ",2017-02-03 10:00:00,199.0,17.87\n",
     "column 'order_item_id': value '1.5': not a whole number", 1, 4, 0, 3, 5},
    {SF_T_ITEMS,
     "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n" OID(
         "1") ",1," PID("1") "," SID("1") ",2017-02-03 10:00:00,-1,17.87\n",
     "column 'price': value '-1': negative", 1, 4, 0, 3, 5},
    {SF_T_ITEMS,
     "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n" OID(
         "1") ",1," PID("1") "," SID("1") ",2017-02-03 10:00:00,199.0\n",
     "olist_order_items_dataset.csv:2: expected 7 fields as in the header, found 6", 1, 4, 0, 3,
     5},
    /* line numbers count the newline inside the first review's message */
    {SF_T_REVIEWS,
     "review_id,order_id,review_score,review_comment_title,review_comment_message,"
     "review_creation_date,review_answer_timestamp\n" RID("1") "," OID(
         "1") ",2,,\"two\nlines\",2017-03-09 00:00:00,2017-03-10 10:00:00\n" RID("2") "," OID(
         "1") ",6,,,2017-03-12 00:00:00,2017-03-12 08:00:00\n",
     "olist_order_reviews_dataset.csv:4: column 'review_score': value '6': outside 1..5", 1, 4, 3,
     3, 1},
    {SF_T_REVIEWS,
     "review_id,order_id,review_score,review_comment_title,review_comment_message,"
     "review_creation_date,review_answer_timestamp\n" RID("1") "," OID(
         "1") ",2,,,2017-03-09,2017-03-10 25:00:00\n",
     "column 'review_answer_timestamp': value '2017-03-10 25:00:00': no such time of day", 1, 4,
     3, 3, 0},
    {SF_T_REVIEWS,
     "review_id,order_id,review_score,review_comment_title,review_comment_message,"
     "review_creation_date,review_answer_timestamp\n"
     "D0000000000000000000000000000001," OID("1") ",2,,,2017-03-09,2017-03-10 10:00:00\n",
     "column 'review_id': value 'D0000000000000000000000000000001': not a 32-digit lowercase hex "
     "id",
     1, 4, 3, 3, 0},
    {SF_T_PAYMENTS,
     "order_id,payment_sequential,payment_type,payment_installments,payment_value\n" OID(
         "1") ",1,pix,1,10.0\n",
     "olist_order_payments_dataset.csv:2: column 'payment_type': value 'pix': unknown payment "
     "type",
     1, 4, 3, 0, 5},
    {SF_T_CUSTOMERS,
     "customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state\n" CID(
         "1") "," UID("1") ",1310,sao paulo,SP\n" CID("2") "," UID("2") ",1310,sao paulo,SP\n" CID(
         "3") "," UID("1") ",130234,campinas,SP\n" CID("4") "," UID("4") ",99999,x,MG\n",
     "olist_customers_dataset.csv:4: column 'customer_zip_code_prefix': value '130234': not a zip "
     "prefix of at most 5 digits",
     1, 3, 3, 3, 4}, /* order 3 loses its customer: reported below as well */
    {SF_T_SELLERS,
     "seller_id,seller_zip_code_prefix,seller_city,seller_state\n" SID(
         "1") ",13023,campinas,SP\n" SID(
         "2") ",9999,"
              "a city name that is far longer than the sixty-three bytes of the field,RJ\n",
     "column 'seller_city': value 'a city name that is far longer than the sixty-three bytes of "
     "the field': longer than 63 bytes",
     1, 4, 2, 3, 5},
    {SF_T_ORDERS,
     "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,"
     "order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_"
     "date\n" OID("1") "," CID("1") ",delivered,2017-03-02 10:00:00,,,,2017-03-20 00:00:00\n" OID(
         "1") "," CID("2") ",shipped,2017-03-01 09:00:00,,,,2017-03-15 00:00:00\n",
     "olist_orders_dataset.csv:3: column 'order_id': value '" OID("1") "': duplicate", 1, 1, 2,
     2, 3},
    {SF_T_ORDERS,
     "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,"
     "order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_"
     "date\n" OID("1") "," CID("1") ",lost,2017-03-02 10:00:00,,,,2017-03-20 00:00:00\n",
     "column 'order_status': value 'lost': unknown order status", 1, 0, 0, 0, 0},
    {SF_T_PRODUCTS,
     "product_id,product_category_name,product_name_lenght,product_description_lenght,"
     "product_photos_qty,product_weight_g,product_length_cm,product_height_cm,"
     "product_width_cm\n" PID("1") ",beleza_saude,57.0,163,1,heavy,27,13,17\n" PID(
         "2") ",x,,,,,,,\n" PID("3") ",,1,1,1,1,1,1,1\n",
     "olist_products_dataset.csv:2: column 'product_weight_g': value 'heavy': not a number", 1, 4,
     2, 3, 5},
    {SF_T_GEOLOCATION,
     "geolocation_zip_code_prefix,geolocation_lat,geolocation_lng\n1310,-123.0,-46.0\n",
     "olist_geolocation_dataset.csv:2: column 'geolocation_lat': value '-123.0': latitude "
     "outside -90..90",
     1, 4, 3, 3, 5},
};
// clang-format on

/* Each bad row: reported with its message and skipped by default (the rest
 * loads), fatal with the same message in strict mode. */
static void test_bad_rows(void **s)
{
    (void)s;
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *bc = &bad_cases[i];
        fixture fx = {.replace = bc->table, .text = bc->text};
        char *dir = write_fixture(&fx);
        char *rep = NULL;
        size_t replen = 0;
        FILE *f = open_memstream(&rep, &replen);
        assert_non_null(f);
        sf_dataset ds;
        sf_err err = {{0}};
        sf_load_opts opts = {.report = f};
        if (sf_dataset_load(&ds, dir, &opts, &err) < 0)
            fail_msg("case %zu: %s", i, err.msg);
        fclose(f);
        if (!strstr(rep, bc->message))
            fail_msg("case %zu: report lacks '%s':\n%s", i, bc->message, rep);
        assert_non_null(strstr(rep, "bad rows skipped"));
        assert_int_equal(ds.skipped[bc->table], bc->skipped);
        assert_int_equal(ds.n_orders, bc->orders);
        assert_int_equal(ds.n_items, bc->items);
        assert_int_equal(ds.n_payments, bc->payments);
        assert_int_equal(ds.n_reviews, bc->reviews);
        /* every row read is either loaded or counted as skipped */
        assert_int_equal(ds.rows[SF_T_ORDERS] - ds.skipped[SF_T_ORDERS], ds.n_orders);
        assert_int_equal(ds.rows[SF_T_ITEMS] - ds.skipped[SF_T_ITEMS], ds.n_items);
        assert_int_equal(ds.rows[SF_T_PAYMENTS] - ds.skipped[SF_T_PAYMENTS], ds.n_payments);
        assert_int_equal(ds.rows[SF_T_REVIEWS] - ds.skipped[SF_T_REVIEWS], ds.n_reviews);
        sf_dataset_free(&ds);
        free(rep);

        opts = (sf_load_opts){.strict = true, .report = stderr};
        assert_int_equal(sf_dataset_load(&ds, dir, &opts, &err), -1);
        if (!strstr(err.msg, bc->message))
            fail_msg("case %zu: strict error '%s' lacks '%s'", i, err.msg, bc->message);
        assert_null(ds.arena);
        tu_rmtree(dir);
        free(dir);
    }
}

/* A customer row skipped makes its order a bad row too, and so on down: all
 * of them counted, none silently dropped. */
static void test_cascade_is_reported(void **s)
{
    (void)s;
    fixture fx = {
        .replace = SF_T_CUSTOMERS,
        .text = "customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,"
                "customer_state\n" CID("1") "," UID("1") ",1310,sao paulo,sp\n" CID("2") "," UID(
                    "2") ",1310,sao paulo,SP\n" CID("3") "," UID("1") ",13023,campinas,"
                                                                      "SP\n" CID("4") "," UID(
                                                                          "4") ",99999,x,MG\n"};
    char *dir = write_fixture(&fx);
    char *rep = NULL;
    size_t replen = 0;
    FILE *f = open_memstream(&rep, &replen);
    sf_dataset ds;
    sf_err err;
    sf_load_opts opts = {.report = f, .max_reports = 3};
    assert_int_equal(sf_dataset_load(&ds, dir, &opts, &err), 0);
    fclose(f);
    assert_non_null(
        strstr(rep, "column 'customer_state': value 'sp': not a two-letter state code"));
    assert_non_null(strstr(rep, "olist_orders_dataset.csv:2: column 'customer_id': value '" CID(
                                    "1") "': not in olist_customers_dataset"));
    assert_int_equal(ds.skipped[SF_T_CUSTOMERS], 1);
    assert_int_equal(ds.skipped[SF_T_ORDERS], 1);
    assert_int_equal(ds.skipped[SF_T_ITEMS], 2);
    assert_int_equal(ds.skipped[SF_T_PAYMENTS], 2);
    assert_int_equal(ds.skipped[SF_T_REVIEWS], 3);
    assert_int_equal(sf_dataset_skipped(&ds), 9);
    assert_int_equal(ds.n_orders, 3);
    /* only max_reports rows printed; the summary counts all of them */
    assert_non_null(strstr(rep, "9 bad rows skipped (orders 1, items 2, payments 2, reviews 3, "
                                "customers 1); 6 not shown"));
    assert_null(strstr(rep, "olist_order_payments_dataset.csv:"));
    sf_dataset_free(&ds);
    free(rep);
    tu_rmtree(dir);
    free(dir);
}

static void test_corrupt_inputs(void **s)
{
    (void)s;
    const char *msg =
        load_fail(&(fixture){.replace = SF_T_REVIEWS,
                             .text = "review_id,order_id,review_score,review_comment_title,"
                                     "review_comment_message,review_creation_date,"
                                     "review_answer_timestamp\n" RID("1") "," OID(
                                         "1") ",2,,\"never closed,2017-03-09,2017-03-10\n"},
                  false);
    assert_non_null(strstr(msg, "olist_order_reviews_dataset.csv:2: unterminated quoted field"));
    msg = load_fail(&(fixture){.replace = SF_T_SELLERS, .text = ""}, false);
    assert_non_null(strstr(msg, "olist_sellers_dataset.csv: empty file, no header row"));
}

static void test_table_check(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp();
    tu_write(dir, "olist_order_payments_dataset.csv.gz",
             "\"order_id\",\"payment_sequential\",\"payment_type\",\"payment_installments\","
             "\"payment_value\"\r\n" OID("1") ",1,credit_card,8,99.33\r\n" OID(
                 "2") ",1,boleto,1,x\r\n" OID("3") ",2,voucher,1,0",
             (size_t)-1, 1);
    size_t rows = 0, skipped = 0;
    sf_err err;
    char *rep = NULL;
    size_t replen = 0;
    FILE *f = open_memstream(&rep, &replen);
    sf_load_opts opts = {.report = f};
    assert_int_equal(sf_table_check(dir, SF_T_PAYMENTS, &opts, &rows, &skipped, &err), 0);
    fclose(f);
    assert_int_equal(rows, 3);
    assert_int_equal(skipped, 1);
    assert_non_null(
        strstr(rep, "olist_order_payments_dataset.csv.gz:3: column 'payment_value': value 'x'"));
    free(rep);
    opts.strict = true;
    assert_int_equal(sf_table_check(dir, SF_T_PAYMENTS, &opts, &rows, &skipped, &err), -1);
    assert_non_null(strstr(err.msg, ":3: column 'payment_value': value 'x': not a number"));
    assert_int_equal(sf_table_check(dir, SF_T_SELLERS, &opts, &rows, &skipped, &err), -1);
    assert_non_null(strstr(err.msg, "missing file"));
    assert_non_null(strstr(err.msg, "olist_sellers_dataset.csv"));
    tu_rmtree(dir);
    free(dir);
}

static void test_time(void **s)
{
    (void)s;
    int64_t t;
    assert_int_equal(sf_time_parse("1970-01-01 00:00:00", &t), 0);
    assert_true(t == 0);
    assert_int_equal(sf_time_parse("1970-01-02", &t), 0);
    assert_true(t == 86400000);
    assert_int_equal(sf_time_parse("2017-10-02 10:56:33", &t), 0);
    assert_true(t == 1506941793000LL);
    assert_int_equal(sf_time_parse("2016-02-29 12:00:00", &t), 0);
    assert_int_equal(sf_time_parse("2000-02-29 00:00:00", &t), 0);
    assert_int_equal(sf_time_parse("1969-12-31 23:59:59", &t), 0);
    assert_true(t == -1000);
    const char *bad[] = {"2017-02-30 00:00:00",  "2017-02-29",
                         "1900-02-29",           "2017-13-01",
                         "2017-00-10",           "2017-04-31",
                         "2017-01-01 24:00:00",  "2017-01-01 23:60:00",
                         "2017-01-01 23:59:60",  "2017-01-01 10:00",
                         "2017-01-01 10:00:00x", "2017-1-01",
                         "2017/01/01",           "",
                         "2017-01-01T10:00:00",  " 2017-01-01"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (sf_time_parse(bad[i], &t) == 0)
            fail_msg("'%s' accepted", bad[i]);
    assert_string_equal(sf_time_parse_why("2017-02-30", 10, &t), "no such date");
    assert_string_equal(sf_time_parse_why("2017-02-28 25:00:00", 19, &t), "no such time of day");
    assert_string_equal(sf_time_parse_why("20170228", 8, &t),
                        "not a timestamp YYYY-MM-DD HH:MM:SS");

    char buf[32];
    const char *round[] = {"2016-02-29 23:59:59", "2018-10-03 18:55:29", "1970-01-01 00:00:00",
                           "1969-12-31 23:59:59", "2400-02-29 00:00:01", "1600-03-01 12:00:00"};
    for (size_t i = 0; i < sizeof round / sizeof *round; i++) {
        assert_int_equal(sf_time_parse(round[i], &t), 0);
        sf_time_format(t, buf, sizeof buf);
        assert_string_equal(buf, round[i]);
    }
    sf_time_format(-1, buf, sizeof buf); /* 1 ms before the epoch */
    assert_string_equal(buf, "1969-12-31 23:59:59");
    sf_time_format(SF_TIME_NONE, buf, sizeof buf);
    assert_string_equal(buf, "");
    /* every day from 1999 to 2021 round-trips and follows the previous one */
    int64_t prev;
    assert_int_equal(sf_time_parse("1998-12-31", &prev), 0);
    for (int64_t d = prev + 86400000; d < 1640995200000LL; d += 86400000) {
        sf_time_format(d, buf, sizeof buf);
        assert_int_equal(sf_time_parse(buf, &t), 0);
        assert_true(t == d);
    }
}

static void test_cep_prefix(void **s)
{
    (void)s;
    char z[6];
    assert_int_equal(sf_cep_prefix_normalize("1310", z), 0);
    assert_string_equal(z, "01310");
    assert_int_equal(sf_cep_prefix_normalize("01310", z), 0);
    assert_string_equal(z, "01310");
    assert_int_equal(sf_cep_prefix_normalize("1310.0", z), 0);
    assert_string_equal(z, "01310");
    assert_int_equal(sf_cep_prefix_normalize("99999", z), 0);
    assert_string_equal(z, "99999");
    assert_int_equal(sf_cep_prefix_normalize("7", z), 0);
    assert_string_equal(z, "00007");
    const char *bad[] = {"", "123456", "12a45", "1310.5", "-1310", " 1310", "1310.", ".0", "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (sf_cep_prefix_normalize(bad[i], z) == 0)
            fail_msg("'%s' accepted as '%s'", bad[i], z);
}

static void test_names(void **s)
{
    (void)s;
    assert_string_equal(sf_table_file(SF_T_ORDERS), "olist_orders_dataset");
    assert_string_equal(sf_table_file(SF_T_TRANSLATION), "product_category_name_translation");
    assert_string_equal(sf_table_file(SF_T_GEOLOCATION), "olist_geolocation_dataset");
    for (int i = 0; i < SF_STATUS_COUNT; i++) {
        sf_order_status st;
        assert_int_equal(sf_status_parse(sf_status_name((sf_order_status)i), &st), 0);
        assert_int_equal(st, i);
    }
    sf_order_status st;
    assert_int_equal(sf_status_parse("Delivered", &st), -1);
    assert_string_equal(sf_status_name(SF_STATUS_CANCELED), "canceled");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_gz),
        cmocka_unit_test(test_crlf_bom_no_final_newline),
        cmocka_unit_test(test_corrected_column_names),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_missing_column),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_cascade_is_reported),
        cmocka_unit_test(test_corrupt_inputs),
        cmocka_unit_test(test_table_check),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_cep_prefix),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
