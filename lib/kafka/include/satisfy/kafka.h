/*
 * kafka.h - the one place satisfy creates librdkafka clients, and the small
 * pieces every worker needs around them: the topic names, the client
 * factory (a role's defaults, then the user's `-X key=value`, then the
 * callbacks), a bounded "can we reach the brokers" check, whether the
 * cluster is the embedded broker, and a delivery-report counter.
 *
 * Every client of every program is made by sf_kafka_client_new with a role.
 * A role names what the client is for and fixes its type (consumer or
 * producer) and its defaults; docs/operations.md lists each default and why.
 * The user's properties come after the defaults, so any `-X` wins (as with
 * kcat: librdkafka's CONFIGURATION.md is the reference).
 *
 * Callbacks run on the thread that calls rd_kafka_poll()/rd_kafka_flush()
 * or rd_kafka_consumer_poll() (a consumer made here polls its main queue
 * through the consumer queue, rd_kafka_poll_set_consumer), so the counters
 * need no locking when one thread owns the handle.
 */
#ifndef SATISFY_KAFKA_H
#define SATISFY_KAFKA_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/error.h"
#include "satisfy/log.h"

#define SF_TOPIC_ORDERS      "satisfy.orders"
#define SF_TOPIC_REVIEWS     "satisfy.reviews"
#define SF_TOPIC_PREDICTIONS "satisfy.predictions"
#define SF_TOPIC_MODELS      "satisfy.models"
#define SF_TOPIC_DLQ         "satisfy.dlq"
#define SF_TOPIC_METRICS     "satisfy.metrics"
#define SF_TOPIC_HISTORY     "satisfy.history" /* compacted: live seller/customer state */
#define SF_TOPIC_ALERTS      "satisfy.alerts"  /* at-risk orders, once per order (alerts.h) */
#define SF_TOPIC_SHADOW      "satisfy.shadow"  /* the challenger's predictions (shadow scoring) */

/* All satisfy topics, in the order above. */
#define SF_TOPIC_COUNT 9
extern const char *const sf_topics[SF_TOPIC_COUNT];

/* What a client is for. Each role has a type and defaults (kafka.c, one
 * table; docs/operations.md says why each default is there). */
typedef enum sf_kafka_role {
    SF_KAFKA_SCORER_CONSUMER,    /* the scorer's group on satisfy.orders */
    SF_KAFKA_SCORER_PRODUCER,    /* predictions and DLQ: transactional, or idempotent */
    SF_KAFKA_RETRAINER_CONSUMER, /* the retrainer's group on orders, reviews, predictions */
    SF_KAFKA_RELEASE_PRODUCER,   /* the retrainer's releases, online accuracy, decisions */
    SF_KAFKA_RELEASE_PROBE,      /* reads the newest release on satisfy.models once */
    SF_KAFKA_MODEL_WATCHER,      /* follows satisfy.models (modelwatch.h) */
    SF_KAFKA_METRICS_FOLLOWER,   /* follows satisfy.metrics for the web app */
    SF_KAFKA_REPLAY_PRODUCER,    /* satisfy-producer's replay of the history */
    SF_KAFKA_TOOL_CONSUMER,      /* test tools and benchmarks: no commits of its own */
    SF_KAFKA_TOOL_PRODUCER,      /* test tools and benchmarks: librdkafka's defaults */
    SF_KAFKA_EMBEDDED_BROKER,    /* the handle that holds satisfy-broker's mock cluster */
    SF_KAFKA_ALERTS_READER,      /* the scorer's rebuild of its alerted orders (alerts.h) */
    SF_KAFKA_ROLE_COUNT
} sf_kafka_role;

/* The role's name as messages say it ("scorer consumer"). */
const char *sf_kafka_role_name(sf_kafka_role role);

/* The role's fixed defaults, "key=value", NULL-terminated (what depends on
 * the client's options - group.id, transactional.id, the embedded broker's
 * fetch wait - is not in this list; see sf_kafka_client_opts). */
const char *const *sf_kafka_role_defaults(sf_kafka_role role);

/* Delivery reports counted by the message opaque (RD_KAFKA_V_OPAQUE), taken as
 * a slot number in [0, SF_DR_SLOTS); other values count in the last slot. */
#define SF_DR_SLOTS 8

/* A client's counters and the context of its callbacks. The factory fills
 * the last four fields; the caller owns the struct, which must outlive the
 * handle (it is the handle's opaque). */
typedef struct sf_kafka_stats {
    uint64_t delivered[SF_DR_SLOTS];
    uint64_t failed[SF_DR_SLOTS];
    uint64_t delivered_bytes;
    /* "topic [partition]: reason" of the newest failed delivery: after the
     * failure count moved, the cause of what just failed */
    char last_failure[SF_ERR_MAX];
    char last_error[SF_ERR_MAX]; /* last error callback, "" if none */
    int fatal;                   /* a fatal error was raised (see rd_kafka_fatal_error) */
    const char *name;            /* the role's name */
    sf_log_fn log;               /* the client's log (may be NULL) */
    void *log_arg;
    void *user; /* the caller's pointer, for its own callbacks (rebalance) */
} sf_kafka_stats;

typedef void (*sf_kafka_rebalance_fn)(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                                      rd_kafka_topic_partition_list_t *parts, void *opaque);
typedef void (*sf_kafka_dr_fn)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* Where a program's clients connect, and the user's -X for all of them. */
typedef struct sf_kafka_conn {
    const char *brokers;      /* bootstrap.servers; NULL for none (the embedded broker) */
    const char *const *props; /* the user's -X key=value, applied last: they win */
    int n_props;
} sf_kafka_conn;

typedef struct sf_kafka_client_opts {
    sf_kafka_role role;
    sf_kafka_conn conn;
    /* group.id of a consumer: required for the scorer and retrainer
     * consumers, optional for a tool consumer; the other roles have their
     * own (kafka.c) */
    const char *group;
    /* scorer producer: transactional.id (exactly-once); NULL = idempotent
     * (at-least-once) */
    const char *transactional_id;
    int embedded; /* scorer consumer: the cluster is satisfy-broker (its fetch wait) */
    /* scorer consumer: librdkafka commits the offsets the caller stores
     * (rd_kafka_offsets_store) on its own, in the steady state, on revoke
     * and on close; 0 = nothing is committed through the consumer */
    int commit_stored;
    /* Optional. Counts delivery reports (producers) and keeps the last
     * error; needed for log, rebalance and dr. */
    sf_kafka_stats *stats;
    /* librdkafka's log lines and the client's errors, one line each,
     * prefixed with the role's name; NULL = librdkafka's own stderr logger */
    sf_log_fn log;
    void *log_arg;
    sf_kafka_rebalance_fn rebalance; /* consumers: opaque is stats */
    sf_kafka_dr_fn dr;               /* producers: instead of the counter; opaque is stats */
    void *user;                      /* copied to stats->user */
} sf_kafka_client_opts;

/* A new client: bootstrap.servers, the role's defaults, what depends on the
 * options above, then the user's properties in order (later ones win), the
 * callbacks; a consumer's main queue is forwarded to its consumer queue.
 * NULL with err naming the role: "<role>: -X key: <reason>" or "cannot
 * create the <role>: <librdkafka's reason>". */
rd_kafka_t *sf_kafka_client_new(const sf_kafka_client_opts *o, sf_err *err);

/* Checks each "key=value" as -X would set it (for usage errors before any
 * client exists): 0, or -1 with err "-X key: reason". */
int sf_kafka_props_check(const char *const *props, int n_props, sf_err *err);

/* Sets one "key=value" property on conf. The value may contain '='. Errors
 * name the key and carry librdkafka's reason. */
int sf_kafka_conf_set(rd_kafka_conf_t *conf, const char *kv, sf_err *err);

/* Asks the cluster for its metadata, waiting at most timeout_ms. Fails with
 * "cannot reach brokers <brokers> within <N> s (<reason>)". */
int sf_kafka_check_reachable(rd_kafka_t *rk, const char *brokers, int timeout_ms, sf_err *err);

/* 1 when rk talks to librdkafka's mock cluster (satisfy-broker: its cluster
 * id is "mockCluster<hex>"), 0 for any other cluster or when the id is not
 * known within timeout_ms. Used to pick settings the mock needs (see the
 * scorer's fetch wait). */
int sf_kafka_is_embedded(rd_kafka_t *rk, int timeout_ms);

/* For a consumer error message m (m->err set) from rk: -1 when the consumer
 * cannot go on (RD_KAFKA_RESP_ERR__FATAL), with err "fatal error: <name>:
 * <reason>" from rd_kafka_fatal_error, the current cause; 0 otherwise (the
 * error is worth a log line at most). */
int sf_kafka_consumer_fatal(rd_kafka_t *rk, const rd_kafka_message_t *m, sf_err *err);

uint64_t sf_kafka_stats_delivered(const sf_kafka_stats *st);
uint64_t sf_kafka_stats_failed(const sf_kafka_stats *st);

/* Polls rk until every message is delivered or failed, or timeout_ms passes.
 * Returns the number of messages still in flight (0 on success). */
int sf_kafka_drain(rd_kafka_t *rk, int timeout_ms);

#endif
