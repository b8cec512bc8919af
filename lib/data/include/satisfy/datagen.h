/*
 * datagen.h - synthetic Olist data: the nine Kaggle tables, in the exact
 * Olist schema, for any number of orders, calibrated on the real sample.
 *
 * Used by satisfy-datagen, and by tests and benchmarks that need a dataset
 * of a given size without the (non-redistributable) real files. Output is
 * deterministic: the same options give byte-identical files. Rows are
 * streamed, so memory stays bounded (a few MB plus the seller and product
 * pools) whatever the number of orders. How the generator models the
 * marketplace, and its calibration against the real sample, is in
 * docs/data.md ("Synthetic data and calibration").
 */
#ifndef SATISFY_DATAGEN_H
#define SATISFY_DATAGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/olist.h"

typedef struct sf_datagen_opts {
    uint64_t n_orders; /* >= 1 */
    uint64_t seed;
    bool gzip;        /* write NAME.csv.gz instead of NAME.csv */
    int64_t from, to; /* purchase window in ms since the epoch, inclusive;
                         SF_TIME_NONE = the real data's 2016-09-04 .. 2018-10-17 */
} sf_datagen_opts;

/* Data rows written per table (header not counted). */
typedef struct sf_datagen_counts {
    size_t rows[SF_T_COUNT];
} sf_datagen_counts;

/* Writes the nine tables into dir (which must exist), replacing files of the
 * same name. Returns 0, or -1 with err naming the file or the bad option.
 * counts may be NULL. */
int sf_datagen_write(const sf_datagen_opts *opts, const char *dir, sf_datagen_counts *counts,
                     sf_err *err);

#endif
