/*
 * catchup.h - has a consumer caught up? The retrainer's rule for when a due
 * retrain may run (retrainer.h), as a small tracker over one consumer.
 *
 * Caught up means: on every partition of the tracked topics assigned to the
 * consumer, it has read up to the high watermark that partition had when
 * the question was first asked (the targets, queried once with
 * rd_kafka_query_watermark_offsets and kept until sf_catchup_reset). Where
 * it has read to is the furthest of: its position (rd_kafka_position), the
 * committed offset or the log start when the targets were set (where it
 * starts reading), and the end offset of its last partition EOF event
 * (enable.partition.eof=true): an EOF also covers what a consumer never
 * returns, such as transaction markers and aborted messages, so a partition
 * that ends in them counts as read. Fixed targets make the wait finite while
 * producers go on writing. No partition assigned (a group still joining, a
 * restart waiting for its dead member to expire) is not caught up; a
 * rebalance that changes the assignment sets new targets.
 *
 * Not thread-safe: call from the thread that polls the consumer.
 */
#ifndef SATISFY_CATCHUP_H
#define SATISFY_CATCHUP_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/error.h"

typedef struct sf_catchup sf_catchup;

/* Tracks the partitions of topics[0..n) (the strings must outlive it).
 * NULL when out of memory. */
sf_catchup *sf_catchup_new(const char *const *topics, int n);
void sf_catchup_free(sf_catchup *c);

/* Notes a partition EOF event (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
 * others are ignored). */
void sf_catchup_eof(sf_catchup *c, const rd_kafka_message_t *m);

typedef struct sf_catchup_status {
    int partitions; /* assigned partitions of the tracked topics */
    int behind;     /* of them, not yet read up to their target */
    int64_t lag;    /* messages (offsets) still to read up to the targets */
} sf_catchup_status;

/* 1 caught up, 0 not yet (st says how far behind), -1 when it cannot tell
 * (the assignment or a high watermark could not be read within timeout_ms;
 * err says which). */
int sf_catchup_check(sf_catchup *c, rd_kafka_t *consumer, int timeout_ms, sf_catchup_status *st,
                     sf_err *err);

/* Forgets the targets: the next check queries the high watermarks again. */
void sf_catchup_reset(sf_catchup *c);

#endif
