/*
 * dlq.c - produce an unusable message to satisfy.dlq with its reason and
 * source coordinates as headers (see include/satisfy/dlq.h). The original
 * bytes are kept as they were, so nothing is lost and the message can be
 * replayed once the problem is fixed.
 */
#include "satisfy/dlq.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "satisfy/kafka.h"

int sf_dlq_produce(rd_kafka_t *producer, const rd_kafka_message_t *src, const char *reason,
                   void *msg_opaque, sf_err *err)
{
    const char *topic = src->rkt ? rd_kafka_topic_name(src->rkt) : "?";
    char part[16], off[24];
    snprintf(part, sizeof part, "%d", (int)src->partition);
    snprintf(off, sizeof off, "%" PRId64, src->offset);
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    rd_kafka_header_add(h, "reason", -1, reason, -1);
    rd_kafka_header_add(h, "source_topic", -1, topic, -1);
    rd_kafka_header_add(h, "source_partition", -1, part, -1);
    rd_kafka_header_add(h, "source_offset", -1, off, -1);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(SF_TOPIC_DLQ), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(src->key, src->key_len), RD_KAFKA_V_VALUE(src->payload, src->len),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h); /* not taken over on failure */
        return sf_errf(err, "dlq: cannot produce %s [%s] @%s: %s", topic, part, off,
                       rd_kafka_err2str(e));
    }
    return 0;
}
