/*
 * varint.h - the one LEB128 varint writer: 7 bits per byte, low group first,
 * the high bit set on every byte but the last (what Avro writes for int,
 * long and enum after zigzag, and what the history snapshot writes for its
 * counts). Inline, because the encoders call it for almost every field.
 */
#ifndef SATISFY_VARINT_H
#define SATISFY_VARINT_H

#include <stdint.h>

#define SF_VARINT_MAX 10 /* bytes of the longest varint (a 64-bit value) */

/* Writes v at w (room for SF_VARINT_MAX bytes); returns the byte after it. */
static inline uint8_t *sf_varint_put(uint8_t *w, uint64_t v)
{
    while (v >= 0x80) {
        *w++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *w++ = (uint8_t)v;
    return w;
}

/* Zigzag: small magnitudes of either sign to small unsigned values
 * (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...), as Avro encodes int and long. */
static inline uint64_t sf_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
}

#endif
