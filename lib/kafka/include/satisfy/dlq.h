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
 *
 * A record that would not fit the producer's message.max.bytes (a ~1 MB
 * value plus these headers) keeps only the first SF_DLQ_PREFIX_MAX bytes of
 * its value and SF_DLQ_KEY_MAX of its key (less if the limit is smaller),
 * with three more headers:
 *   truncated          what was cut and why, in words
 *   original_size      the value's length, decimal
 *   original_key_size  the key's length, decimal
 * so that a DLQ record can always be produced and never stalls its source.
 */
#ifndef SATISFY_DLQ_H
#define SATISFY_DLQ_H

#include <librdkafka/rdkafka.h>

#include "satisfy/error.h"

#define SF_DLQ_PREFIX_MAX (64 * 1024) /* bytes of value kept when cut */
#define SF_DLQ_KEY_MAX    1024        /* bytes of key kept when cut */

/* Produces src to SF_TOPIC_DLQ with the headers above. msg_opaque is passed
 * to the delivery report. Returns 0; -2 when the producer's queue is full
 * (nothing produced: serve delivery reports and call again); or -1 with err
 * set (names the source topic/partition/offset and librdkafka's reason;
 * never "message size too large": the record is cut to fit instead). */
int sf_dlq_produce(rd_kafka_t *producer, const rd_kafka_message_t *src, const char *reason,
                   void *msg_opaque, sf_err *err);

#endif
