/*
 * datagen_out.h - a buffered CSV file writer, plain or gzip (internal to the
 * synthetic data generator).
 *
 * Fields are quoted only when they must be (comma, quote, CR or LF inside),
 * with quotes doubled, as the Kaggle files and the sample are. Write errors
 * are remembered and reported once, with the path, by dg_out_close().
 */
#ifndef SATISFY_DATAGEN_OUT_H
#define SATISFY_DATAGEN_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"

typedef struct dg_out dg_out;

/* Creates dir/base.csv (or .csv.gz) and writes the header line. */
dg_out *dg_out_open(const char *dir, const char *base, bool gzip, const char *header, sf_err *err);
/* Flushes and closes; -1 with err naming the file if any write failed. Frees o. */
int dg_out_close(dg_out *o, sf_err *err);
/* Closes without reporting (on another error path). */
void dg_out_abort(dg_out *o);

void dg_out_raw(dg_out *o, const char *s, size_t n);
void dg_out_str(dg_out *o, const char *s);   /* as is (caller knows it needs no quotes) */
void dg_out_field(dg_out *o, const char *s); /* quoted when needed */
void dg_out_char(dg_out *o, char c);
void dg_out_int(dg_out *o, int64_t v);
void dg_out_money(dg_out *o, int64_t cents); /* "12.30" */
void dg_out_zip(dg_out *o, int zip);         /* 5 digits, leading zeros kept */
void dg_out_time(dg_out *o, int64_t secs);   /* "YYYY-MM-DD HH:MM:SS" */
void dg_out_fixed(dg_out *o, double v, int decimals);

#endif
