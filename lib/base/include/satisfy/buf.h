/*
 * buf.h - a growable byte buffer (sf_buf): the codec's encoders write framed
 * messages into one (a producer keeps one and reuses it for every message,
 * so steady state does no allocation), the history its snapshot.
 */
#ifndef SATISFY_BUF_H
#define SATISFY_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"

typedef struct sf_buf {
    uint8_t *data;
    size_t len, cap;
} sf_buf;

void sf_buf_reset(sf_buf *b);                           /* len = 0, keeps the memory */
int sf_buf_reserve(sf_buf *b, size_t cap, sf_err *err); /* capacity >= cap */
void sf_buf_free(sf_buf *b);

#endif
