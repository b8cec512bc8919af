/*
 * codec_impl.h - what the codec's checks (lib/events/codec_check.c) share with its
 * decoder (lib/events/codec_read.c) and JSON view (lib/events/codec_json.c): the
 * formatters of error messages. Private to lib/codec_*.c.
 */
#ifndef SATISFY_CODEC_IMPL_H
#define SATISFY_CODEC_IMPL_H

#include <stddef.h>

#include "satisfy/error.h"

/* "items[2].seller.zip", "customer.zip" or "order_id" into out; every part
 * but the field is optional (arr NULL: no array; sub NULL: no sub-record). */
const char *sf_codec_path(char *out, size_t cap, const char *arr, int i, const char *sub,
                          const char *field);

/* A printable excerpt of untrusted bytes, for error messages. */
const char *sf_codec_excerpt(char *out, size_t cap, const char *s, size_t len);

/* 1 when the n bytes at s are valid UTF-8 (no overlongs, no surrogates). */
int sf_codec_utf8_valid(const char *s, size_t n);

/* The message for an event time outside SF_CODEC_TIME_MIN .. MAX, the
 * value as text (the JSON view reads numbers beyond int64 too). -1. */
int sf_codec_time_invalid(const char *path, const char *value, sf_err *err);

#endif
