/*
 * dlq.c - produce an unusable message to satisfy.dlq with its reason and
 * source coordinates as headers (see satisfy/dlq.h). The original
 * bytes are kept as they were, so nothing is lost and the message can be
 * replayed once the problem is fixed, unless the record would not fit the
 * producer's message.max.bytes: then it keeps a bounded prefix of the value
 * (and of the key) and says so in headers, because a DLQ record that cannot
 * be produced would stall its source partition.
 */
#include "satisfy/dlq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/kafka.h"

/* Room left for the record's framing beside key, value and headers. */
#define DLQ_MARGIN 1024

/* The producer's message.max.bytes (librdkafka's default when unreadable). */
static size_t max_message_bytes(rd_kafka_t *producer)
{
    char v[32];
    size_t len = sizeof v;
    if (rd_kafka_conf_get(rd_kafka_conf(producer), "message.max.bytes", v, &len) !=
        RD_KAFKA_CONF_OK)
        return 1000000;
    long long n = strtoll(v, NULL, 10);
    return n > 0 ? (size_t)n : 1000000;
}

typedef struct dlq_hdr {
    const char *reason, *topic;
    char part[16], off[24];
    char size[24], key_size[24], cut[160]; /* set when the record is cut */
} dlq_hdr;

static rd_kafka_headers_t *headers(const dlq_hdr *d)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(7);
    rd_kafka_header_add(h, "reason", -1, d->reason, -1);
    rd_kafka_header_add(h, "source_topic", -1, d->topic, -1);
    rd_kafka_header_add(h, "source_partition", -1, d->part, -1);
    rd_kafka_header_add(h, "source_offset", -1, d->off, -1);
    if (d->cut[0]) {
        rd_kafka_header_add(h, "truncated", -1, d->cut, -1);
        rd_kafka_header_add(h, "original_size", -1, d->size, -1);
        rd_kafka_header_add(h, "original_key_size", -1, d->key_size, -1);
    }
    return h;
}

/* How many bytes of key and value to keep so that the record fits max. */
static void fit(const rd_kafka_message_t *src, const dlq_hdr *d, size_t max, size_t *klen,
                size_t *vlen)
{
    size_t hdr = strlen(d->reason) + strlen(d->topic) + sizeof *d + 128;
    *klen = src->key_len;
    *vlen = src->len;
    if (*klen + *vlen + hdr + DLQ_MARGIN <= max)
        return;
    size_t room = max > hdr + DLQ_MARGIN ? max - hdr - DLQ_MARGIN : 0;
    if (*klen > SF_DLQ_KEY_MAX)
        *klen = SF_DLQ_KEY_MAX;
    if (*klen > room)
        *klen = room;
    room -= *klen;
    *vlen = SF_DLQ_PREFIX_MAX < room ? SF_DLQ_PREFIX_MAX : room;
    if (*vlen > src->len)
        *vlen = src->len;
}

int sf_dlq_produce(rd_kafka_t *producer, const rd_kafka_message_t *src, const char *reason,
                   void *msg_opaque, sf_err *err)
{
    dlq_hdr d = {.reason = reason, .topic = src->rkt ? rd_kafka_topic_name(src->rkt) : "?"};
    snprintf(d.part, sizeof d.part, "%d", (int)src->partition);
    snprintf(d.off, sizeof d.off, "%" PRId64, src->offset);
    size_t max = max_message_bytes(producer), klen, vlen;
    fit(src, &d, max, &klen, &vlen);
    for (;;) {
        if (klen < src->key_len || vlen < src->len) {
            snprintf(d.size, sizeof d.size, "%zu", src->len);
            snprintf(d.key_size, sizeof d.key_size, "%zu", src->key_len);
            snprintf(d.cut, sizeof d.cut,
                     "value cut to its first %zu of %zu bytes, key to %zu of %zu: the "
                     "record did not fit message.max.bytes %zu",
                     vlen, src->len, klen, src->key_len, max);
        }
        rd_kafka_headers_t *h = headers(&d);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(SF_TOPIC_DLQ), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(src->key, klen), RD_KAFKA_V_VALUE(src->payload, vlen),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        rd_kafka_headers_destroy(h); /* not taken over on failure */
        if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && (vlen > 0 || klen > 0)) {
            vlen /= 2; /* our estimate of the framing was short: keep less */
            klen = vlen ? klen : 0;
            continue;
        }
        sf_errf(err, "dlq: cannot produce %s [%s] @%s: %s", d.topic, d.part, d.off,
                rd_kafka_err2str(e));
        return e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? -2 : -1;
    }
}
