/*
 * csvfile.c - streaming CSV reader over zlib + libcsv (see satisfy/csvfile.h).
 *
 * libcsv is a push parser: it takes a block of bytes and calls back once per
 * field and once per end of row. We read blocks with gzread (which passes
 * plain files through), copy each field into one growing byte buffer and
 * queue finished rows; sf_csv_next() hands them out and refills the queue
 * when it is empty. A row cut by the end of a block stays at the front of the
 * buffer for the next round, so nothing is allocated per field.
 *
 * Line numbers: libcsv does not track them, so we ask it to report every
 * unquoted CR and LF (CSV_REPALL_NL) and count them ourselves, together with
 * the LFs inside quoted fields; a CR directly followed by LF counts once.
 * Empty lines produce no row. Spaces around unquoted fields are kept as they
 * are (no trimming): the value read is the value written.
 *
 * Limits: a field of at most FIELD_MAX bytes and a row of at most
 * ROW_FIELDS_MAX fields. Without them a small gzip file that inflates to one
 * endless field (or row) grows the parser's buffers until memory runs out;
 * with them it is an error naming the file and line. Olist's longest field
 * (a review comment) is under 1 KiB and its widest table has 14 columns.
 */
#include "satisfy/csvfile.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define BLOCK          (256 * 1024)
#define FIELD_MAX      (1024 * 1024)
#define ROW_FIELDS_MAX 1024

typedef struct rowrec {
    size_t first; /* index of its first field */
    int n;
    long line;
} rowrec;

struct sf_csv {
    gzFile gz;
    char *path;
    struct csv_parser p;
    unsigned char *block;
    int eof, started;
    int zerr; /* a read or gzip error is pending */
    char zmsg[SF_ERR_MAX];

    char *data; /* field bytes, each followed by a NUL */
    size_t data_len, data_cap;
    size_t *foff, *flen; /* per field: offset in data, length */
    size_t nf, foff_cap, flen_cap;
    size_t row_first; /* first field of the row being parsed */
    long row_line;    /* its starting line */

    rowrec *rows; /* finished rows not yet handed out */
    size_t nrows, rcap, rpos;

    long line;   /* current physical line, 1-based */
    int last_cr; /* the last thing seen was an unquoted CR */
    int oom;
    int wide; /* a row of more than ROW_FIELDS_MAX fields */

    const char **ptrs; /* the row handed out */
    size_t pcap;

    char **hdr;
    int nhdr;
};

static int reserve(void **p, size_t *cap, size_t need, size_t elsize)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elsize);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static void on_field(void *s, size_t len, void *data)
{
    sf_csv *c = data;
    if (c->oom || c->wide)
        return;
    if (c->nf == c->row_first)
        c->row_line = c->line;
    if (c->nf - c->row_first >= ROW_FIELDS_MAX) {
        c->wide = 1;
        return;
    }
    c->last_cr = 0;
    if (reserve((void **)&c->data, &c->data_cap, c->data_len + len + 1, 1) < 0 ||
        reserve((void **)&c->foff, &c->foff_cap, c->nf + 1, sizeof(size_t)) < 0 ||
        reserve((void **)&c->flen, &c->flen_cap, c->nf + 1, sizeof(size_t)) < 0) {
        c->oom = 1;
        return;
    }
    char *dst = c->data + c->data_len;
    if (len)
        memcpy(dst, s, len);
    dst[len] = '\0';
    c->foff[c->nf] = c->data_len;
    c->flen[c->nf] = len;
    c->nf++;
    c->data_len += len + 1;
    for (const char *q = dst; (q = memchr(q, '\n', (size_t)(dst + len - q))) != NULL; q++)
        c->line++;
}

static void on_row(int ch, void *data)
{
    sf_csv *c = data;
    if (ch == '\n') {
        if (!c->last_cr)
            c->line++;
        c->last_cr = 0;
    } else if (ch == '\r') {
        c->line++;
        c->last_cr = 1;
    }
    if (c->oom || c->wide || c->nf == c->row_first)
        return; /* an empty line, or the LF of a CRLF */
    if (reserve((void **)&c->rows, &c->rcap, c->nrows + 1, sizeof *c->rows) < 0) {
        c->oom = 1;
        return;
    }
    c->rows[c->nrows++] = (rowrec){c->row_first, (int)(c->nf - c->row_first), c->row_line};
    c->row_first = c->nf;
}

/* Drops the rows already handed out, keeping a partial row at the front. */
static void compact(sf_csv *c)
{
    size_t keep = c->nf - c->row_first;
    size_t base = keep ? c->foff[c->row_first] : c->data_len;
    if (keep) {
        memmove(c->data, c->data + base, c->data_len - base);
        for (size_t i = 0; i < keep; i++) {
            c->foff[i] = c->foff[c->row_first + i] - base;
            c->flen[i] = c->flen[c->row_first + i];
        }
    }
    c->data_len -= base;
    c->nf = keep;
    c->row_first = 0;
    c->nrows = c->rpos = 0;
}

static int fill(sf_csv *c, sf_err *err)
{
    compact(c);
    if (c->zerr) /* reported after the rows read before it */
        return sf_errf(err, "%s", c->zmsg);
    int n = gzread(c->gz, c->block, BLOCK);
    int errnum = Z_OK;
    const char *zmsg = gzerror(c->gz, &errnum);
    if (n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
        if (errnum == Z_ERRNO)
            snprintf(c->zmsg, sizeof c->zmsg, "%s: read error: %s", c->path, strerror(errno));
        else
            snprintf(c->zmsg, sizeof c->zmsg, "%s: gzip error: %s", c->path, zmsg);
        c->zerr = 1;
        if (n <= 0)
            return sf_errf(err, "%s", c->zmsg);
    }
    unsigned char *b = c->block;
    size_t len = (size_t)n;
    if (!c->started) {
        c->started = 1;
        if (len >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
            b += 3;
            len -= 3;
        }
    }
    if (n == 0) {
        c->eof = 1;
        long start = c->nf > c->row_first ? c->row_line : c->line;
        /* libcsv reports this only in its strict mode, which would also reject
         * stray quotes inside unquoted fields; its state says it directly:
         * FIELD_BEGUN (2) inside a quoted field means no closing quote. */
        if (c->p.pstate == 2 && c->p.quoted)
            return sf_errf(err, "%s:%ld: unterminated quoted field at end of file", c->path, start);
        if (csv_fini(&c->p, on_field, on_row, c) != 0)
            return sf_errf(err, "%s:%ld: %s", c->path, start, csv_strerror(csv_error(&c->p)));
    } else if (csv_parse(&c->p, b, len, on_field, on_row, c) != len) {
        if (csv_error(&c->p) == CSV_ENOMEM && c->p.entry_size + c->p.blk_size > FIELD_MAX)
            return sf_errf(err, "%s:%ld: a field longer than %d bytes", c->path, c->line,
                           FIELD_MAX);
        return sf_errf(err, "%s:%ld: %s", c->path, c->line, csv_strerror(csv_error(&c->p)));
    }
    if (c->wide)
        return sf_errf(err, "%s:%ld: a row of more than %d fields", c->path, c->row_line,
                       ROW_FIELDS_MAX);
    if (c->oom)
        return sf_errf(err, "%s:%ld: out of memory", c->path, c->line);
    return 0;
}

int sf_csv_next(sf_csv *c, sf_csv_row *row, sf_err *err)
{
    while (c->rpos == c->nrows) {
        if (c->eof)
            return 0;
        if (fill(c, err) < 0)
            return -1;
    }
    const rowrec *r = &c->rows[c->rpos++];
    if (reserve((void **)&c->ptrs, &c->pcap, (size_t)r->n, sizeof *c->ptrs) < 0)
        return sf_errf(err, "%s:%ld: out of memory", c->path, r->line);
    for (int i = 0; i < r->n; i++)
        c->ptrs[i] = c->data + c->foff[r->first + (size_t)i];
    row->field = c->ptrs;
    row->len = c->flen + r->first;
    row->n = r->n;
    row->line = r->line;
    return 1;
}

void sf_csv_close(sf_csv *c)
{
    if (!c)
        return;
    if (c->gz)
        gzclose(c->gz);
    csv_free(&c->p);
    for (int i = 0; i < c->nhdr; i++)
        free(c->hdr[i]);
    free(c->hdr);
    free(c->path);
    free(c->block);
    free(c->data);
    free(c->foff);
    free(c->flen);
    free(c->rows);
    free(c->ptrs);
    free(c);
}

/* libcsv's field buffer, refused beyond FIELD_MAX (libcsv then stops with
 * CSV_ENOMEM, which fill() tells apart by the buffer's size). */
static void *field_realloc(void *p, size_t n)
{
    return n > FIELD_MAX ? NULL : realloc(p, n);
}

static int keep_spaces(unsigned char ch)
{
    (void)ch;
    return 0;
}

/* Opens path; *missing is set when the file does not exist. */
static sf_csv *open_path(const char *path, int *missing, sf_err *err)
{
    sf_csv *c = calloc(1, sizeof *c);
    if (!c) {
        sf_errf(err, "%s: out of memory", path);
        return NULL;
    }
    c->line = 1;
    if (csv_init(&c->p, CSV_REPALL_NL) != 0 || !(c->path = strdup(path)) ||
        !(c->block = malloc(BLOCK))) {
        sf_errf(err, "%s: out of memory", path);
        sf_csv_close(c);
        return NULL;
    }
    csv_set_space_func(&c->p, keep_spaces);
    csv_set_realloc_func(&c->p, field_realloc);
    csv_set_blk_size(&c->p, 4096); /* grows by blocks: 128 bytes would copy a long field often */
    errno = 0;
    c->gz = gzopen(path, "rb");
    if (!c->gz) {
        int e = errno;
        if (missing)
            *missing = e == ENOENT;
        sf_errf(err, "%s: %s", path, e ? strerror(e) : "cannot open");
        sf_csv_close(c);
        return NULL;
    }
    gzbuffer(c->gz, BLOCK);

    sf_csv_row hdr;
    int r = sf_csv_next(c, &hdr, err);
    if (r <= 0) {
        if (r == 0)
            sf_errf(err, "%s: empty file, no header row", path);
        sf_csv_close(c);
        return NULL;
    }
    c->hdr = calloc((size_t)hdr.n, sizeof *c->hdr);
    if (!c->hdr) {
        sf_errf(err, "%s: out of memory", path);
        sf_csv_close(c);
        return NULL;
    }
    for (int i = 0; i < hdr.n; i++) {
        if (!(c->hdr[i] = strdup(hdr.field[i]))) {
            sf_errf(err, "%s: out of memory", path);
            sf_csv_close(c);
            return NULL;
        }
        c->nhdr++;
    }
    return c;
}

sf_csv *sf_csv_open_path(const char *path, sf_err *err)
{
    return open_path(path, NULL, err);
}

sf_csv *sf_csv_open(const char *dir, const char *base, sf_err *err)
{
    char plain[4096], gz[4096];
    if ((size_t)snprintf(plain, sizeof plain, "%s/%s.csv", dir, base) >= sizeof plain ||
        (size_t)snprintf(gz, sizeof gz, "%s/%s.csv.gz", dir, base) >= sizeof gz) {
        sf_errf(err, "%s/%s.csv: path too long", dir, base);
        return NULL;
    }
    int missing = 0;
    sf_csv *c = open_path(plain, &missing, err);
    if (c || !missing)
        return c;
    missing = 0; /* else any error reading the .gz's header would read as missing */
    c = open_path(gz, &missing, err);
    if (!c && missing)
        sf_errf(err, "missing file: %s (or %s.gz): no such file", plain, plain);
    return c;
}

const char *sf_csv_path(const sf_csv *c)
{
    return c->path;
}

int sf_csv_ncols(const sf_csv *c)
{
    return c->nhdr;
}

const char *sf_csv_colname(const sf_csv *c, int i)
{
    return i >= 0 && i < c->nhdr ? c->hdr[i] : NULL;
}

int sf_csv_column(const sf_csv *c, const char *name, sf_err *err)
{
    for (int i = 0; i < c->nhdr; i++)
        if (strcmp(c->hdr[i], name) == 0)
            return i;
    return sf_errf(err, "%s: missing column '%s'", c->path, name);
}
