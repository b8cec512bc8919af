/*
 * buf.c - the growable byte buffer (sf_buf, see satisfy/buf.h):
 * capacity doubles from 256 bytes, so appends are amortised O(1).
 */
#include "satisfy/buf.h"

#include <stdlib.h>
#include <string.h>

int sf_buf_reserve(sf_buf *b, size_t cap, sf_err *err)
{
    if (cap <= b->cap)
        return 0;
    size_t n = b->cap ? b->cap : 256;
    while (n < cap) {
        if (n > SIZE_MAX / 2)
            return sf_errf(err, "buffer of %zu bytes is too large", cap);
        n *= 2;
    }
    uint8_t *p = realloc(b->data, n);
    if (!p)
        return sf_errf(err, "out of memory growing a buffer to %zu bytes", n);
    b->data = p;
    b->cap = n;
    return 0;
}

void sf_buf_reset(sf_buf *b)
{
    b->len = 0;
}

void sf_buf_free(sf_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
