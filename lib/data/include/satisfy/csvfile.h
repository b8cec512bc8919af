/*
 * csvfile.h - a streaming reader of one CSV table, plain or gzip-compressed.
 *
 * The Olist files arrive as NAME.csv or NAME.csv.gz, written by different
 * tools: quoted or unquoted fields, newlines inside quoted review comments,
 * CRLF or LF, sometimes a UTF-8 BOM and no final newline. libcsv does the
 * parsing, zlib the decompression (gzread also reads plain files); this file
 * turns them into rows, one at a time, as arrays of fields with the physical
 * line number where the row started, so that a bad value can be reported as
 * file:line. Columns are looked up by header name, never by position.
 */
#ifndef SATISFY_CSVFILE_H
#define SATISFY_CSVFILE_H

#include <stddef.h>

#include "satisfy/error.h"

typedef struct sf_csv sf_csv;

/* One data row. The pointers stay valid until the next sf_csv_next() or
 * sf_csv_close(). Fields are NUL-terminated; len[i] is the byte length. */
typedef struct sf_csv_row {
    const char *const *field;
    const size_t *len;
    int n;     /* number of fields */
    long line; /* 1-based physical line where the row starts */
} sf_csv_row;

/* Opens dir/base.csv, or dir/base.csv.gz when the first is absent, and reads
 * the header row. On failure returns NULL with err naming the file(s). */
sf_csv *sf_csv_open(const char *dir, const char *base, sf_err *err);
/* Opens one path (plain or gzip) and reads its header row. */
sf_csv *sf_csv_open_path(const char *path, sf_err *err);
void sf_csv_close(sf_csv *c);

/* The path actually opened (e.g. "dir/olist_orders_dataset.csv.gz"). */
const char *sf_csv_path(const sf_csv *c);

/* Header. */
int sf_csv_ncols(const sf_csv *c);
const char *sf_csv_colname(const sf_csv *c, int i);
/* Index of the column called name; -1 with err "PATH: missing column 'name'". */
int sf_csv_column(const sf_csv *c, const char *name, sf_err *err);

/* Reads the next data row: 1 with *row filled, 0 at the end of the file, or
 * -1 with err set (read or gzip error, unterminated quoted field, no memory). */
int sf_csv_next(sf_csv *c, sf_csv_row *row, sf_err *err);

#endif
