/*
 * kafka_client.h - a ready librdkafka handle in one call: the configuration
 * from --brokers and "key=value" properties (sf_kafka_conf_new), then
 * rd_kafka_new with its failure turned into an sf_err. For the small
 * programs (test tools, benchmarks) that otherwise repeat the same
 * conf/new/error-check sequence.
 */
#ifndef SATISFY_KAFKA_CLIENT_H
#define SATISFY_KAFKA_CLIENT_H

#include <librdkafka/rdkafka.h>

#include "satisfy/error.h"
#include "satisfy/kafka.h"

/* rd_kafka_new(type, conf). conf is always taken: owned by the handle, or
 * destroyed on failure. NULL with err "cannot create a Kafka consumer
 * (producer): <librdkafka's reason>". */
rd_kafka_t *sf_kafka_handle_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, sf_err *err);

/* A consumer that assigns its partitions itself and never commits on its
 * own: bootstrap.servers = brokers, group.id = group (when non-NULL; needed
 * for committed-offset queries), enable.auto.commit=false, then each
 * "key=value" of props in order (later ones win). NULL with err set. */
rd_kafka_t *sf_kafka_consumer_new(const char *brokers, const char *group, const char *const *props,
                                  int n_props, sf_err *err);

/* A producer: bootstrap.servers = brokers, then props; when st is non-NULL
 * delivery reports and errors are counted into st (sf_kafka_conf_stats; st
 * must outlive the handle). NULL with err set. */
rd_kafka_t *sf_kafka_producer_new(const char *brokers, const char *const *props, int n_props,
                                  sf_kafka_stats *st, sf_err *err);

#endif
