/*
 * olist.h - the Olist marketplace tables, read from a directory and joined
 * into one record per order.
 *
 * The nine Kaggle files are read as .csv or .csv.gz with libcsv, columns found
 * by header name. Bad rows are reported with file:line, column, value and
 * reason; by default they are skipped and counted, with `strict` the first one
 * fails the load. The cleaning policy, field by field, is in docs/data.md.
 */
#ifndef SATISFY_OLIST_H
#define SATISFY_OLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "satisfy/error.h"
#include "satisfy/event.h"

typedef enum sf_table {
    SF_T_ORDERS = 0,
    SF_T_ITEMS,
    SF_T_PAYMENTS,
    SF_T_REVIEWS,
    SF_T_CUSTOMERS,
    SF_T_PRODUCTS,
    SF_T_SELLERS,
    SF_T_GEOLOCATION,
    SF_T_TRANSLATION,
    SF_T_COUNT
} sf_table;

/* Base file name without extension, e.g. "olist_orders_dataset". */
const char *sf_table_file(sf_table t);

typedef enum sf_order_status {
    SF_STATUS_CREATED = 0,
    SF_STATUS_APPROVED,
    SF_STATUS_INVOICED,
    SF_STATUS_PROCESSING,
    SF_STATUS_SHIPPED,
    SF_STATUS_DELIVERED,
    SF_STATUS_CANCELED,
    SF_STATUS_UNAVAILABLE,
    SF_STATUS_COUNT
} sf_order_status;

const char *sf_status_name(sf_order_status s); /* Olist spelling: "delivered", ... */
int sf_status_parse(const char *name, sf_order_status *out);

/* One order with everything the tables say about it. Reviews are sorted by
 * creation time; the label rule is sf_order_label(). */
typedef struct sf_order {
    sf_id order_id;
    sf_id customer_id;
    sf_id customer_unique_id;
    sf_order_status status;
    int64_t purchase, approved, carrier, delivered, estimated; /* SF_TIME_NONE if empty */
    sf_place customer;
    sf_item *items;
    int n_items;
    sf_payment *payments;
    int n_payments;
    sf_review_event *reviews;
    int n_reviews;
} sf_order;

typedef struct sf_load_opts {
    bool strict;        /* first bad row fails the load */
    FILE *report;       /* where bad rows are reported; NULL = stderr */
    size_t max_reports; /* print at most this many bad rows (0 = 20); all are counted */
} sf_load_opts;

typedef struct sf_dataset {
    sf_order *orders; /* sorted by purchase time, then order_id */
    size_t n_orders;
    size_t rows[SF_T_COUNT];    /* data rows read per table */
    size_t skipped[SF_T_COUNT]; /* bad rows skipped per table */
    size_t n_items, n_payments, n_reviews;
    void *arena; /* owns every array and string above */
} sf_dataset;

/* Loads and joins the nine tables in dir. Returns 0, or -1 with err set
 * (missing file, missing column, or a bad row in strict mode). */
int sf_dataset_load(sf_dataset *ds, const char *dir, const sf_load_opts *opts, sf_err *err);
void sf_dataset_free(sf_dataset *ds);

/* Frees the order and review records (about 400 bytes an order) once the
 * caller has built its events (sf_lifecycle_events copies them), keeping what
 * the events borrow: items, payments and review texts. Afterwards the dataset
 * has no orders (n_orders 0); sf_dataset_free frees the rest. */
void sf_dataset_drop_orders(sf_dataset *ds);

size_t sf_dataset_skipped(const sf_dataset *ds); /* total over all tables */

/* Reads one table of dir on its own and checks every row as sf_dataset_load
 * does, except references to other tables (which it does not read). For a
 * directory that does not hold all nine files. *rows gets the data rows read,
 * *skipped the bad ones (reported as in sf_dataset_load). Returns 0, or -1
 * with err set (missing file or column, bad row in strict mode). */
int sf_table_check(const char *dir, sf_table t, const sf_load_opts *opts, size_t *rows,
                   size_t *skipped, sf_err *err);

/* The label of an order: the score of its most recent review (by creation,
 * then answer time), or -1 when it has none. */
int sf_order_label(const sf_order *o);
const sf_review_event *sf_order_label_review(const sf_order *o);

/* Reads "YYYY-MM-DD HH:MM:SS" (or "YYYY-MM-DD") into ms since the epoch.
 * Rejects impossible dates (2017-02-30) and trailing garbage. */
int sf_time_parse(const char *s, int64_t *out);
/* The same parse over len bytes (need not be NUL-terminated): NULL on success,
 * else why the text is not a valid timestamp ("no such date", ...). */
const char *sf_time_parse_why(const char *s, size_t len, int64_t *out);
/* Writes "YYYY-MM-DD HH:MM:SS" into buf (>= 20 bytes); "" for SF_TIME_NONE. */
void sf_time_format(int64_t t, char *buf, size_t len);

#endif
