/*
 * serving_state.h - the ServingState record (schemas/serving_state.avsc,
 * schema id 5): which released model version every scorer serves.
 *
 * It travels on satisfy.models under the fixed key "serving" (the topic is
 * compacted, so the newest survives beside the releases). Scorers obey the
 * state with the highest epoch, whatever the versions: a rollback is a new
 * epoch naming an older version. The retrainer writes one after each release
 * it makes (cause "gate"); `satisfy-retrainer registry promote N` and
 * `registry rollback` write one each ("promote", "rollback"). The shadow
 * feature (challenge.h) writes "challenger" when a challenger starts (the
 * champion unchanged, challenger set: every scorer also scores with it, to
 * satisfy.shadow), "live" when the retrainer promotes it on live outcomes
 * and "retire" when it is retired (challenger back to 0). Every state names
 * the challenger of its time, so a state without one ends a challenge.
 *
 * The codec (lib/events/codec_serving.c) writes and reads the Avro binary
 * with Confluent framing like the other records, and checks the contract:
 * epoch and champion positive, challenger 0 or positive and not the
 * champion, cause one of the six, reason valid UTF-8 of at most
 * SF_SERVING_REASON_MAX - 1 bytes, at a valid time.
 */
#ifndef SATISFY_SERVING_STATE_H
#define SATISFY_SERVING_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/buf.h"
#include "satisfy/codec.h"
#include "satisfy/error.h"

#define SF_SERVING_KEY        "serving" /* its Kafka key on satisfy.models */
#define SF_SERVING_CAUSE_MAX  16
#define SF_SERVING_REASON_MAX 512

typedef struct sf_serving_state {
    int64_t epoch;                      /* > 0, strictly increasing: the order scorers obey */
    int64_t champion;                   /* release version served */
    int64_t challenger;                 /* 0 = none */
    char cause[SF_SERVING_CAUSE_MAX];   /* gate | promote | rollback | live | challenger | retire */
    char reason[SF_SERVING_REASON_MAX]; /* free text */
    int64_t at;                         /* ms since the epoch */
} sf_serving_state;

/* 1 when cause is gate, promote, rollback, live, challenger or retire. */
int sf_serving_cause_valid(const char *cause);

int sf_check_serving(const sf_serving_state *s, sf_err *err);
/* Replaces b's contents with the framed message. */
int sf_encode_serving(const sf_serving_state *s, sf_buf *b, sf_err *err);
/* Fills *s (owns nothing); -1 with err on any malformed or invalid input. */
int sf_decode_serving(const void *buf, size_t len, sf_serving_state *s, sf_err *err);
/* {"epoch":..,"champion":..,"challenger":..,"cause":..,"reason":..,"at":..}
 * (malloc'd), or NULL with err. */
char *sf_serving_to_json(const sf_serving_state *s, sf_err *err);

#endif
