/*
 * datagen_out.c - buffered CSV writer for the synthetic data generator (see
 * datagen_out.h). One 256 KiB buffer per file, flushed to stdio or zlib;
 * number and timestamp formatting is done by hand because it is the hot
 * path when writing millions of rows.
 */
#include "datagen_out.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "satisfy/calendar.h"

#define OUT_CAP (256 * 1024)

struct dg_out {
    FILE *f;
    gzFile gz;
    size_t len;
    int failed; /* errno of the first failed write, or -1 for a zlib error */
    char path[PATH_MAX];
    char buf[OUT_CAP];
};

static void flush(dg_out *o)
{
    if (!o->len || o->failed) {
        o->len = 0;
        return;
    }
    errno = 0;
    if (o->gz) {
        if (gzwrite(o->gz, o->buf, (unsigned)o->len) != (int)o->len)
            o->failed = errno ? errno : -1;
    } else if (fwrite(o->buf, 1, o->len, o->f) != o->len) {
        o->failed = errno ? errno : EIO;
    }
    o->len = 0;
}

dg_out *dg_out_open(const char *dir, const char *base, bool gzip, const char *header, sf_err *err)
{
    dg_out *o = calloc(1, sizeof *o);
    if (!o) {
        sf_errf(err, "%s/%s: out of memory", dir, base);
        return NULL;
    }
    int n = snprintf(o->path, sizeof o->path, "%s/%s.csv%s", dir, base, gzip ? ".gz" : "");
    if (n < 0 || (size_t)n >= sizeof o->path) {
        sf_errf(err, "%s/%s: path too long", dir, base);
        free(o);
        return NULL;
    }
    errno = 0;
    if (gzip) {
        /* gzopen writes a header without timestamp or name: output stays byte-identical. */
        o->gz = gzopen(o->path, "wb6");
        if (o->gz)
            gzbuffer(o->gz, 1 << 17);
    } else {
        o->f = fopen(o->path, "wb");
    }
    if (!o->f && !o->gz) {
        sf_errf(err, "%s: cannot create: %s", o->path, errno ? strerror(errno) : "zlib error");
        free(o);
        return NULL;
    }
    dg_out_str(o, header);
    dg_out_char(o, '\n');
    return o;
}

int dg_out_close(dg_out *o, sf_err *err)
{
    flush(o);
    int rc = 0;
    errno = 0;
    if (o->gz) {
        int z = gzclose(o->gz);
        if (!o->failed && z != Z_OK)
            o->failed = errno ? errno : -1;
    } else if (fclose(o->f) != 0 && !o->failed) {
        o->failed = errno ? errno : EIO;
    }
    if (o->failed)
        rc = sf_errf(err, "%s: write failed: %s", o->path,
                     o->failed > 0 ? strerror(o->failed) : "zlib error");
    free(o);
    return rc;
}

void dg_out_abort(dg_out *o)
{
    if (!o)
        return;
    if (o->gz)
        gzclose(o->gz);
    else
        fclose(o->f);
    free(o);
}

void dg_out_raw(dg_out *o, const char *s, size_t n)
{
    while (n) {
        if (o->len == OUT_CAP)
            flush(o);
        size_t k = OUT_CAP - o->len < n ? OUT_CAP - o->len : n;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

void dg_out_str(dg_out *o, const char *s)
{
    dg_out_raw(o, s, strlen(s));
}

void dg_out_char(dg_out *o, char c)
{
    if (o->len == OUT_CAP)
        flush(o);
    o->buf[o->len++] = c;
}

void dg_out_field(dg_out *o, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        dg_out_str(o, s);
        return;
    }
    dg_out_char(o, '"');
    for (; *s; s++) {
        if (*s == '"')
            dg_out_char(o, '"');
        dg_out_char(o, *s);
    }
    dg_out_char(o, '"');
}

void dg_out_int(dg_out *o, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        dg_out_char(o, '-');
    while (n)
        dg_out_char(o, tmp[--n]);
}

void dg_out_money(dg_out *o, int64_t cents)
{
    if (cents < 0) {
        dg_out_char(o, '-');
        cents = -cents;
    }
    dg_out_int(o, cents / 100);
    dg_out_char(o, '.');
    dg_out_char(o, (char)('0' + cents % 100 / 10));
    dg_out_char(o, (char)('0' + cents % 10));
}

void dg_out_zip(dg_out *o, int zip)
{
    char z[5];
    for (int i = 4; i >= 0; i--) {
        z[i] = (char)('0' + zip % 10);
        zip /= 10;
    }
    dg_out_raw(o, z, 5);
}

static void two(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void dg_out_time(dg_out *o, int64_t secs)
{
    int64_t z = (secs >= 0 ? secs : secs - 86399) / 86400;
    int64_t sod = secs - z * 86400, yy;
    int m, d;
    sf_civil_from_days(z, &yy, &m, &d);
    int y = (int)yy;
    char b[19];
    two(b, y / 100 % 100);
    two(b + 2, y % 100);
    b[4] = '-';
    two(b + 5, m);
    b[7] = '-';
    two(b + 8, d);
    b[10] = ' ';
    two(b + 11, (int)(sod / 3600));
    b[13] = ':';
    two(b + 14, (int)(sod / 60 % 60));
    b[16] = ':';
    two(b + 17, (int)(sod % 60));
    dg_out_raw(o, b, 19);
}

void dg_out_fixed(dg_out *o, double v, int decimals)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    dg_out_raw(o, tmp, (size_t)n);
}
