/*
 * codec_serving.c - the ServingState record (satisfy/serving_state.h) to
 * and from Avro binary with Confluent framing, its checks and its JSON view.
 *
 * A record of four longs and two strings does not need the generic walk of
 * codec_read.c: this file reads it with the same rules (bounded varints, no
 * negative or oversized lengths, no trailing bytes, each failure naming the
 * field and the byte offset), in its own file so that the record can evolve
 * without touching the order and release codecs.
 */
#include "satisfy/serving_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "satisfy/varint.h"

#include "codec_impl.h"

static const char *const CAUSES[] = {"gate", "promote", "rollback", "live", "challenger", "retire"};

int sf_serving_cause_valid(const char *cause)
{
    for (size_t i = 0; i < sizeof CAUSES / sizeof CAUSES[0]; i++)
        if (strcmp(cause, CAUSES[i]) == 0)
            return 1;
    return 0;
}

int sf_check_serving(const sf_serving_state *s, sf_err *err)
{
    if (s->epoch <= 0)
        return sf_errf(err, "epoch: %" PRId64 " is not positive", s->epoch);
    if (s->champion <= 0)
        return sf_errf(err, "champion: version %" PRId64 " is not positive", s->champion);
    if (s->challenger < 0 || (s->challenger && s->challenger == s->champion))
        return sf_errf(err, "challenger: version %" PRId64 " (0 = none, never the champion)",
                       s->challenger);
    size_t cl = strnlen(s->cause, sizeof s->cause);
    if (cl == sizeof s->cause || !sf_serving_cause_valid(s->cause)) {
        char ex[40];
        return sf_errf(err,
                       "cause: '%s' is not gate, promote, rollback, live, challenger or retire",
                       sf_codec_excerpt(ex, sizeof ex, s->cause, cl));
    }
    size_t rl = strnlen(s->reason, sizeof s->reason);
    if (rl == sizeof s->reason)
        return sf_errf(err, "reason: longer than %d bytes", SF_SERVING_REASON_MAX - 1);
    if (!sf_codec_utf8_valid(s->reason, rl))
        return sf_errf(err, "reason: not valid UTF-8");
    if (s->at < SF_CODEC_TIME_MIN || s->at >= SF_CODEC_TIME_MAX)
        return sf_errf(err, "at: %" PRId64 " ms is not a time between 2000 and 2100", s->at);
    return 0;
}

static uint8_t *put_long(uint8_t *w, int64_t v)
{
    return sf_varint_put(w, sf_zigzag(v));
}

static uint8_t *put_str(uint8_t *w, const char *s)
{
    size_t n = strlen(s);
    w = put_long(w, (int64_t)n);
    memcpy(w, s, n);
    return w + n;
}

int sf_encode_serving(const sf_serving_state *s, sf_buf *b, sf_err *err)
{
    if (sf_check_serving(s, err))
        return sf_err_wrap(err, "encode ServingState epoch %" PRId64, s->epoch);
    size_t max = SF_WIRE_HEADER + 6 * SF_VARINT_MAX + sizeof s->cause + sizeof s->reason;
    if (sf_buf_reserve(b, max, err))
        return sf_err_wrap(err, "encode ServingState epoch %" PRId64, s->epoch);
    uint8_t *w = b->data;
    *w++ = 0;
    *w++ = 0;
    *w++ = 0;
    *w++ = 0;
    *w++ = SF_SCHEMA_SERVING_STATE;
    w = put_long(w, s->epoch);
    w = put_long(w, s->champion);
    w = put_long(w, s->challenger);
    w = put_str(w, s->cause);
    w = put_str(w, s->reason);
    w = put_long(w, s->at);
    b->len = (size_t)(w - b->data);
    return 0;
}

struct rd {
    const uint8_t *start, *p, *end;
    const char *fld;
    sf_err *err;
};

static int rd_fail(struct rd *r, const char *why)
{
    return sf_errf(r->err, "decode ServingState: %s: %s (at byte %ld of the body)", r->fld, why,
                   (long)(r->p - r->start));
}

static int rd_long(struct rd *r, int64_t *out)
{
    uint64_t u = 0;
    for (int i = 0;; i++) {
        if (r->p >= r->end)
            return rd_fail(r, "truncated varint");
        uint8_t byte = *r->p++;
        if (i == 9 && byte > 1)
            return rd_fail(r, "malformed varint: overflows 64 bits");
        u |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80))
            break;
    }
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

/* A string into dst (cap bytes with its NUL); longer ones, and NULs, are
 * refused. */
static int rd_str(struct rd *r, char *dst, size_t cap)
{
    int64_t n;
    if (rd_long(r, &n))
        return -1;
    if (n < 0)
        return rd_fail(r, "negative string length");
    if ((uint64_t)n >= cap)
        return rd_fail(r, "string too long");
    if (n > r->end - r->p)
        return rd_fail(r, "truncated string");
    if (memchr(r->p, 0, (size_t)n))
        return rd_fail(r, "string contains a NUL byte");
    memcpy(dst, r->p, (size_t)n);
    dst[n] = '\0';
    r->p += n;
    return 0;
}

int sf_decode_serving(const void *buf, size_t len, sf_serving_state *s, sf_err *err)
{
    memset(s, 0, sizeof *s);
    int id = 0;
    if (sf_wire_peek(buf, len, &id, err))
        return sf_err_wrap(err, "decode ServingState");
    if (id != SF_SCHEMA_SERVING_STATE)
        return sf_errf(err, "decode ServingState: message has schema id %d (%s), expected %d", id,
                       sf_schema_name(id), SF_SCHEMA_SERVING_STATE);
    struct rd r = {.start = (const uint8_t *)buf + SF_WIRE_HEADER,
                   .p = (const uint8_t *)buf + SF_WIRE_HEADER,
                   .end = (const uint8_t *)buf + len,
                   .err = err};
    int rc = (r.fld = "epoch", rd_long(&r, &s->epoch)) ||
             (r.fld = "champion", rd_long(&r, &s->champion)) ||
             (r.fld = "challenger", rd_long(&r, &s->challenger)) ||
             (r.fld = "cause", rd_str(&r, s->cause, sizeof s->cause)) ||
             (r.fld = "reason", rd_str(&r, s->reason, sizeof s->reason)) ||
             (r.fld = "at", rd_long(&r, &s->at));
    if (!rc && r.p != r.end) {
        r.fld = "(record)";
        rc = rd_fail(&r, "trailing bytes");
    }
    if (!rc && sf_check_serving(s, err))
        rc = sf_err_wrap(err, "decode ServingState epoch %" PRId64, s->epoch);
    if (rc)
        memset(s, 0, sizeof *s);
    return rc ? -1 : 0;
}

char *sf_serving_to_json(const sf_serving_state *s, sf_err *err)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddNumberToObject(o, "epoch", (double)s->epoch) ||
        !cJSON_AddNumberToObject(o, "champion", (double)s->champion) ||
        !cJSON_AddNumberToObject(o, "challenger", (double)s->challenger) ||
        !cJSON_AddStringToObject(o, "cause", s->cause) ||
        !cJSON_AddStringToObject(o, "reason", s->reason) ||
        !cJSON_AddNumberToObject(o, "at", (double)s->at)) {
        cJSON_Delete(o);
        sf_errf(err, "ServingState JSON: out of memory");
        return NULL;
    }
    char *j = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!j)
        sf_errf(err, "ServingState JSON: out of memory");
    return j;
}
