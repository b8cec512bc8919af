/*
 * dlq.h - the dead-letter queue: a message the scorer cannot use (it does
 * not decode, or decodes to an invalid event) is produced, byte for byte, to
 * satisfy.dlq with headers that say why and where it came from:
 *   reason            the decoder's or validator's message
 *   source_topic      e.g. satisfy.orders
 *   source_partition  decimal
 *   source_offset     decimal
 * The key is the original key. Produced through the caller's producer, so in
 * exactly-once mode it belongs to the batch's transaction.
 */
#ifndef SATISFY_DLQ_H
#define SATISFY_DLQ_H

#include <librdkafka/rdkafka.h>

#include "satisfy/error.h"

/* Produces src to SF_TOPIC_DLQ with the headers above. msg_opaque is passed
 * to the delivery report. Returns 0, or -1 with err set (names the source
 * topic/partition/offset and librdkafka's reason). */
int sf_dlq_produce(rd_kafka_t *producer, const rd_kafka_message_t *src, const char *reason,
                   void *msg_opaque, sf_err *err);

#endif
