/*
 * mockbroker.h - an in-process Kafka cluster for one machine: librdkafka's
 * mock cluster on loopback, with the satisfy topics created.
 *
 * satisfy-broker is a thin main around this, and tests start one in-process.
 * Limits (librdkafka's, not ours): in memory only, no persistence, at most
 * 5 MiB kept per partition (older messages are dropped), no transactional
 * isolation, no compaction, reachable from this machine only. Real Kafka is
 * used by passing --brokers to every worker instead.
 */
#ifndef SATISFY_MOCKBROKER_H
#define SATISFY_MOCKBROKER_H

#include "satisfy/error.h"

typedef struct sf_mockbroker sf_mockbroker;

/* Starts a cluster of n_brokers (1..16) and creates every satisfy topic with
 * `partitions` partitions (satisfy.models always has 1). NULL with err set. */
sf_mockbroker *sf_mockbroker_start(int n_brokers, int partitions, sf_err *err);

/* "127.0.0.1:port,..." - valid until sf_mockbroker_stop(). */
const char *sf_mockbroker_bootstraps(const sf_mockbroker *mb);

void sf_mockbroker_stop(sf_mockbroker *mb);

#endif
