/*
 * producer_topiccheck.h - satisfy-producer's check of what a topic holds
 * against what it was told was delivered (see producer_topiccheck.c).
 */
#ifndef SATISFY_PRODUCER_TOPICCHECK_H
#define SATISFY_PRODUCER_TOPICCHECK_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>

#include "satisfy/error.h"

#define TOPICCHECK_MAX_PARTITIONS 1024

/* The high watermark of every partition of one topic, at one moment. */
typedef struct topic_marks {
    const char *topic;
    int n;
    int64_t hi[TOPICCHECK_MAX_PARTITIONS];
} topic_marks;

/* Reads the high watermarks of topic's partitions from the leaders. */
int topic_marks_read(rd_kafka_t *rk, const char *topic, topic_marks *m, int timeout_ms,
                     sf_err *err);

/* Compares the messages added between before and after (per partition,
 * summed) with delivered. Prints one summary line to out; on a shortfall
 * also a loud warning to warn, with the partitions' deltas. Returns the
 * shortfall (0 when the topic holds at least what was delivered). */
uint64_t topic_marks_check(const topic_marks *before, const topic_marks *after, uint64_t delivered,
                           FILE *out, FILE *warn);

#endif
