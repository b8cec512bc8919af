/*
 * kafka_follow.h - follow a topic in a thread: a consumer outside any group
 * (it assigns partitions itself and never commits) reads every partition of
 * one topic from the beginning and hands each message to a callback.
 *
 * The model watcher (satisfy.models, modelwatch.h) and the web app's online
 * view (satisfy.metrics, http.h) are this and nothing more on the Kafka
 * side; what a message means is theirs. The thread waits for the topic to
 * exist (its metadata is asked every 0.5 s until it has partitions) and picks
 * up partitions added later (asked every 10 s); partitions already assigned
 * keep their position. The consumer is made by the client factory (kafka.h)
 * and polls its main queue through the consumer queue, as librdkafka's
 * examples/consumer.c, so error and log callbacks are served too.
 */
#ifndef SATISFY_KAFKA_FOLLOW_H
#define SATISFY_KAFKA_FOLLOW_H

#include <librdkafka/rdkafka.h>

#include "satisfy/error.h"
#include "satisfy/kafka.h"
#include "satisfy/log.h"

typedef struct sf_follow sf_follow;

/* One message (never an error), on the follower's thread; m is destroyed
 * after the call returns. */
typedef void (*sf_follow_msg_fn)(void *arg, const rd_kafka_message_t *m);

/* A consumer error or a metadata/assign failure, as text, each time one
 * happens, on the follower's thread. */
typedef void (*sf_follow_err_fn)(void *arg, const char *why);

typedef struct sf_follow_opts {
    sf_kafka_role role; /* the consumer's role: SF_KAFKA_MODEL_WATCHER, ... */
    sf_kafka_conn conn;
    const char *topic;
    sf_follow_msg_fn on_message; /* required */
    sf_follow_err_fn on_error;   /* optional */
    void *arg;                   /* for both callbacks */
    /* optional: the client's log lines, and "<topic>: consumer error: ..."
     * when the error differs from the previous one */
    sf_log_fn log;
    void *log_arg;
} sf_follow_opts;

/* Creates the consumer and starts the thread. NULL with err set ("<topic>
 * follower: ..."). */
sf_follow *sf_follow_start(const sf_follow_opts *o, sf_err *err);

/* Stops the thread (within one 200 ms poll), closes and frees the consumer.
 * NULL is fine. */
void sf_follow_stop(sf_follow *f);

/* The partitions assigned so far (0 until the topic exists). */
int sf_follow_partitions(sf_follow *f);

/* Asks the brokers for the high watermark of each assigned partition (at
 * most max, partition p in hi[p]), each bounded by timeout_ms. Returns the
 * number of partitions (0 before the topic exists), or -1 with err set. */
int sf_follow_watermarks(sf_follow *f, int64_t *hi, int max, int timeout_ms, sf_err *err);

/* Messages between the follower's position and the high watermarks, summed
 * over the assigned partitions: hi[0..n_hi) when given (those read at
 * start: "caught up with what was there"), else the last ones the fetches
 * brought. The position passes control records (transaction markers) too,
 * so a caught-up follower reads 0 where counting delivered messages would
 * not. -1 when unknown (no partitions yet, no watermark yet). Any thread. */
int64_t sf_follow_behind(sf_follow *f, const int64_t *hi, int n_hi);

#endif
