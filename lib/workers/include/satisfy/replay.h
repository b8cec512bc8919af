/*
 * replay.h - the replay loop of satisfy-producer: lifecycle events, in event
 * time order, encoded and produced to satisfy.orders / satisfy.reviews with
 * key = order_id and message timestamp = event time, at a chosen speed.
 *
 * The loop owns no handle: the caller creates the producer (kafka.h's
 * replay producer role, with .stats, so deliveries are counted per slot below)
 * and decides what to do with the result. Stopping is cooperative: the loop
 * checks *stop between messages.
 */
#ifndef SATISFY_REPLAY_H
#define SATISFY_REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/codec.h"
#include "satisfy/error.h"
#include "satisfy/kafka.h"
#include "satisfy/lifecycle.h"

/* Delivery-report slots (sf_kafka_stats) used by the replay: order events by
 * stage, then reviews. */
#define SF_REPLAY_SLOT_REVIEW SF_STAGE_COUNT

typedef enum sf_replay_format { SF_FORMAT_AVRO = 0, SF_FORMAT_JSON = 1 } sf_replay_format;

typedef struct sf_replay_progress {
    uint64_t produced;  /* messages handed to librdkafka */
    uint64_t delivered; /* delivery reports received, success or not */
    int64_t event_time; /* event time reached */
    double elapsed;     /* seconds since the loop started */
} sf_replay_progress;

typedef struct sf_replay_opts {
    double speed;         /* 0 = as fast as possible; 86400 = one day of history per second */
    int64_t max_sleep_ms; /* longest wait between two events (0 = 1000): long gaps are cut */
    uint64_t max_events;  /* 0 = all */
    sf_replay_format format;
    /* optional: non-zero stops the loop; above 1 also ends the final wait
     * for delivery reports (cli.h's second signal) */
    const volatile sig_atomic_t *stop;
    void (*progress)(const sf_replay_progress *p, void *arg); /* optional */
    void *progress_arg;
    int progress_ms;             /* how often progress is called (0 = 250) */
    int flush_timeout_ms;        /* final wait for delivery reports (0 = 60000) */
    const sf_kafka_stats *stats; /* optional: the handle's counters, for progress.delivered */
} sf_replay_opts;

typedef struct sf_replay_result {
    uint64_t produced[SF_STAGE_COUNT + 1]; /* by slot: stages, then reviews */
    uint64_t bytes;                        /* payload bytes produced */
    uint64_t undelivered;                  /* still in flight after the final flush */
    int64_t first_time, last_time;         /* event time range produced */
    double elapsed;                        /* seconds, first produce to final flush */
    int stopped;                           /* *stop was set before the end */
} sf_replay_result;

/* Produces ev[0..n) (as built by sf_lifecycle_build) through rk, then waits
 * for the delivery reports. Returns 0 when every message was handed over and
 * flushed (delivery failures are counted in the handle's sf_kafka_stats, the
 * caller checks them), or -1 with err set (encoding error: names the order;
 * produce error: names the topic; fatal producer error). */
int sf_replay_run(rd_kafka_t *rk, const sf_event_ref *ev, size_t n, const sf_replay_opts *opts,
                  sf_replay_result *res, sf_err *err);

#endif
