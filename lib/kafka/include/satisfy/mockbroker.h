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

#include <stddef.h>

#include "satisfy/error.h"

typedef struct sf_mockbroker sf_mockbroker;

/* Starts a cluster of n_brokers (1..16) and creates every satisfy topic with
 * `partitions` partitions (satisfy.models always has 1). NULL with err set. */
sf_mockbroker *sf_mockbroker_start(int n_brokers, int partitions, sf_err *err);

/* "127.0.0.1:port,..." - valid until sf_mockbroker_stop(). */
const char *sf_mockbroker_bootstraps(const sf_mockbroker *mb);

void sf_mockbroker_stop(sf_mockbroker *mb);

/* Fault injection, for tests of the workers against a misbehaving cluster:
 * runs one command line of satisfy-broker's control protocol on the cluster
 * and writes a one-line answer (no newline) to reply. Commands (words are
 * separated by blanks; ApiKey is a Kafka API name such as Produce, Fetch,
 * EndTxn or its number; ERR is a Kafka error name such as
 * NOT_LEADER_FOR_PARTITION, with or without the RD_KAFKA_RESP_ERR_ prefix,
 * or its number):
 *   down ID                  broker ID closes its connections and refuses new
 *                            ones (its partitions keep it as leader)
 *   up ID                    broker ID accepts connections again
 *   rtt ID MS                broker ID delays every response by MS ms (0 = off)
 *   errors APIKEY ERR [N]    the next N (default 1) requests of APIKEY, on any
 *                            broker, fail with ERR
 *   clear APIKEY             forget the pending errors of APIKEY
 *   leader TOPIC PART ID     move the leadership of TOPIC [PART] to broker ID
 *   brokers                  the broker count
 *   help                     the list of commands
 * Returns 0 (reply starts with "ok"), or -1 with err set to why the command
 * was refused (unknown command, bad number, unknown broker or name). */
int sf_mockbroker_control(sf_mockbroker *mb, const char *line, char *reply, size_t len,
                          sf_err *err);

#endif
