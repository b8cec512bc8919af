/*
 * kafka.h - the small pieces every satisfy worker needs around librdkafka:
 * the topic names, a configuration built from --brokers and repeated
 * `-X key=value` (passed straight through, like kcat), a bounded "can we
 * reach the brokers" check, and a delivery-report counter.
 *
 * Callbacks run on the thread that calls rd_kafka_poll()/rd_kafka_flush(),
 * so the counters need no locking when one thread owns the handle.
 */
#ifndef SATISFY_KAFKA_H
#define SATISFY_KAFKA_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/error.h"

#define SF_TOPIC_ORDERS      "satisfy.orders"
#define SF_TOPIC_REVIEWS     "satisfy.reviews"
#define SF_TOPIC_PREDICTIONS "satisfy.predictions"
#define SF_TOPIC_MODELS      "satisfy.models"
#define SF_TOPIC_DLQ         "satisfy.dlq"
#define SF_TOPIC_METRICS     "satisfy.metrics"

/* All satisfy topics, in the order above. */
#define SF_TOPIC_COUNT 6
extern const char *const sf_topics[SF_TOPIC_COUNT];

/* Sets one "key=value" property on conf. The value may contain '='. Errors
 * name the key and carry librdkafka's reason. */
int sf_kafka_conf_set(rd_kafka_conf_t *conf, const char *kv, sf_err *err);

/* A new configuration: bootstrap.servers = brokers (when non-NULL), then each
 * "key=value" of props in order (so later ones win). NULL with err set. */
rd_kafka_conf_t *sf_kafka_conf_new(const char *brokers, const char *const *props, int n_props,
                                   sf_err *err);

/* Asks the cluster for its metadata, waiting at most timeout_ms. Fails with
 * "cannot reach brokers <brokers> within <N> s (<reason>)". */
int sf_kafka_check_reachable(rd_kafka_t *rk, const char *brokers, int timeout_ms, sf_err *err);

/* 1 when rk talks to librdkafka's mock cluster (satisfy-broker: its cluster
 * id is "mockCluster<hex>"), 0 for any other cluster or when the id is not
 * known within timeout_ms. Used to pick settings the mock needs (see the
 * scorer's fetch wait). */
int sf_kafka_is_embedded(rd_kafka_t *rk, int timeout_ms);

/* Delivery reports counted by the message opaque (RD_KAFKA_V_OPAQUE), taken as
 * a slot number in [0, SF_DR_SLOTS); other values count in the last slot. */
#define SF_DR_SLOTS 8

typedef struct sf_kafka_stats {
    uint64_t delivered[SF_DR_SLOTS];
    uint64_t failed[SF_DR_SLOTS];
    uint64_t delivered_bytes;
    char first_failure[SF_ERR_MAX]; /* "topic [partition]: reason" of the first failure */
    char last_error[SF_ERR_MAX];    /* last error callback, "" if none */
    int fatal;                      /* a fatal error was raised (see rd_kafka_fatal_error) */
} sf_kafka_stats;

/* Installs the delivery-report and error callbacks on conf, counting into st
 * (which must outlive the handle; it becomes the handle's opaque). */
void sf_kafka_conf_stats(rd_kafka_conf_t *conf, sf_kafka_stats *st);

uint64_t sf_kafka_stats_delivered(const sf_kafka_stats *st);
uint64_t sf_kafka_stats_failed(const sf_kafka_stats *st);

/* Polls rk until every message is delivered or failed, or timeout_ms passes.
 * Returns the number of messages still in flight (0 on success). */
int sf_kafka_drain(rd_kafka_t *rk, int timeout_ms);

#endif
