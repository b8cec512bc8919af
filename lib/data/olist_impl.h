/*
 * olist_impl.h - what the two halves of the Olist loader share: olist.c
 * (names, the arena, the join, the entry points) and olist_rows.c (reading a
 * table row by row: the field checks and one parser per table). Private to
 * lib/data.
 */
#ifndef SATISFY_OLIST_IMPL_H
#define SATISFY_OLIST_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "satisfy/csvfile.h"
#include "satisfy/grow.h"
#include "satisfy/idmap.h"
#include "satisfy/olist.h"

/* A list of blocks freed together: the dataset's strings and arrays. */
typedef struct olist_arena olist_arena;
void *olist_arena_alloc(olist_arena *a, size_t n);
void olist_arena_free(olist_arena *a);

typedef struct product {
    sf_id id;
    char category[SF_TEXT_SHORT];
    double name_len, desc_len, photos, weight_g, length_cm, height_cm, width_cm;
} product;

typedef struct seller {
    sf_id id;
    sf_place place;
} seller;

typedef struct customer {
    sf_id unique_id;
    sf_place place;
} customer;

typedef struct geo {
    double lat, lng;
    size_t n;
} geo;

typedef struct titem { /* an item row before the join is written out */
    size_t order, product, seller;
    int seq;
    double price, freight;
    int64_t shipping_limit;
} titem;

typedef struct tpay {
    size_t order;
    sf_payment p;
} tpay;

typedef struct trev {
    size_t order;
    sf_review_event r;
} trev;

#define MAX_COLS 9

typedef struct loader {
    const char *dir;
    bool strict, join;
    FILE *report;
    size_t max_reports, reported;
    size_t rows[SF_T_COUNT], skipped[SF_T_COUNT];
    sf_err *err;
    olist_arena *ar;
    char why[96];

    sf_idmap *tr, *geo, *prod, *sell, *cust, *ord;
    sf_vec tr_en, geos, prods, sellers, custs, orders, items, pays, revs; /* see loader_init */
    size_t *newpos; /* order load index -> position in the sorted orders */

    /* the table being read */
    sf_table t;
    sf_csv *csv;
    sf_csv_row row; /* the current row; cleared when the table closes */
    const char *const *colnames;
    int col[MAX_COLS];
} loader;

/* Reads table t row by row into the loader (its rows checked, counted and
 * reported as docs/data.md says). Returns 0, or -1 with L->err set. */
int olist_read_table(loader *L, sf_table t);

#endif
