/*
 * codec.h - satisfy events to and from bytes on Kafka.
 *
 * Wire format: Confluent framing (byte 0 = 0, bytes 1-4 = big-endian schema id
 * from schemas/catalog.json, then the Avro binary body of one record of the
 * .avsc files in schemas/). The codec writes and reads that body itself,
 * straight from and into the C structs (lib/events/codec_write.c, lib/events/codec_read.c);
 * it does not link Avro-C. tests/unit/test_codec_avroc.c proves the bytes
 * identical to Avro-C's generic writer over randomized events of every schema,
 * both readers agreeing on both writers' bytes, and the schemas in schemas/
 * matching the fields, types and enum symbols the codec writes.
 *
 * Decoding is defensive: short buffers, a wrong magic byte, an unknown id,
 * truncated fields, trailing bytes, bounded lengths, bad enum values and
 * out-of-range scores are each rejected with their own message.
 *
 * The functions hold no state: any thread may call any of them at any time.
 *
 * There is also a JSON view of every event (cJSON, lib/events/codec_json.c), for
 * people and jq.
 */
#ifndef SATISFY_CODEC_H
#define SATISFY_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/buf.h"
#include "satisfy/error.h"
#include "satisfy/event.h"

/* Fixed schema ids (schemas/catalog.json). */
typedef enum sf_schema_id {
    SF_SCHEMA_ORDER_EVENT = 1,
    SF_SCHEMA_REVIEW_EVENT = 2,
    SF_SCHEMA_PREDICTION = 3,
    SF_SCHEMA_MODEL_RELEASE = 4,
    SF_SCHEMA_SERVING_STATE = 5, /* satisfy/serving_state.h */
    SF_SCHEMA_ALERT = 6          /* satisfy/codec_alert.h */
} sf_schema_id;

/* ids are 1..SF_SCHEMA_MAX; an id sf_schema_name does not know is unknown */
#define SF_SCHEMA_MAX  6
#define SF_WIRE_HEADER 5

/* Bounds the decoder enforces (and the encoder, so that whatever is written
 * can be read back). */
#define SF_CODEC_MAX_STRING  (64 * 1024)       /* any string field */
#define SF_CODEC_MAX_JSON    (1024 * 1024)     /* params_json, metrics_json */
#define SF_CODEC_MAX_PAYLOAD (8 * 1024 * 1024) /* model release payload */
#define SF_CODEC_MAX_ITEMS   1000              /* entries of any array */

/* The valid event times, the one definition (docs/operations.md). Every
 * time of an order or review event, in ms since the epoch, lies in
 * [SF_CODEC_TIME_MIN, SF_CODEC_TIME_MAX): from 2000-01-01T00:00:00Z to
 * before 2100-01-01T00:00:00Z, a fixed range, so that replays of old data
 * (Olist is 2016-2018, replayed at its original times) stay valid and unit
 * mistakes (seconds, microseconds) and garbage (2^60, -5) do not. A time at
 * which something happened (an order's event_time, purchase, approved,
 * carrier and delivered times; a review's created and answered) is moreover
 * at most SF_CODEC_TIME_SKEW ahead of the wall clock: nothing has happened
 * in the future, and one future event would hold the retrainer's interval
 * schedule, which runs on event time, until then. The skew covers clocks
 * set apart and local times read as UTC (Olist's are Brazil's: UTC-3).
 * Deadlines (estimated_delivery, items[].shipping_limit) may lie ahead. */
#define SF_CODEC_TIME_MIN  946684800000LL  /* 2000-01-01T00:00:00Z */
#define SF_CODEC_TIME_MAX  4102444800000LL /* 2100-01-01T00:00:00Z, excluded */
#define SF_CODEC_TIME_SKEW 86400000LL      /* 1 day */

/* "OrderEvent", "ReviewEvent", "Prediction", "ModelRelease", "ServingState",
 * "Alert"; NULL if unknown. */
const char *sf_schema_name(int schema_id);

/* Reads the framing header: 0 and the schema id, or -1 with err set. */
int sf_wire_peek(const void *buf, size_t len, int *schema_id, sf_err *err);

/* The wire contract of each event, checked by every encoder and decoder and
 * by the JSON parsers: ids are 32 hex digits, enums in range, required times
 * set, times of order and review events valid (SF_CODEC_TIME_*, the only
 * check that reads the clock), text valid UTF-8 within the bounds above and
 * the C buffers, scores 1..5, p_dissatisfied in [0,1], at most SF_REASONS
 * reasons, hashes in hex. */
int sf_check_order(const sf_order_event *ev, sf_err *err);
int sf_check_review(const sf_review_event *ev, sf_err *err);
int sf_check_prediction(const sf_prediction *p, sf_err *err);
int sf_check_release(const sf_model_release *r, sf_err *err);

/* The Kafka key of an order or review message is its order id (the topics'
 * contract: it partitions an order's events and reviews together). 0, or -1
 * with "key '<key, printable excerpt>' does not match order_id <id>". */
int sf_check_key(const void *key, size_t key_len, const char *order_id, sf_err *err);

/* Encoders replace b's contents with a framed message. */
int sf_encode_order(const sf_order_event *ev, sf_buf *b, sf_err *err);
int sf_encode_review(const sf_review_event *ev, sf_buf *b, sf_err *err);
int sf_encode_prediction(const sf_prediction *p, sf_buf *b, sf_err *err);
int sf_encode_release(const sf_model_release *r, sf_buf *b, sf_err *err);

/* Decoders fill an owning event (free with the matching *_clear). */
int sf_decode_order(const void *buf, size_t len, sf_order_event *ev, sf_err *err);
int sf_decode_review(const void *buf, size_t len, sf_review_event *ev, sf_err *err);
int sf_decode_prediction(const void *buf, size_t len, sf_prediction *p, sf_err *err);
int sf_decode_release(const void *buf, size_t len, sf_model_release *r, sf_err *err);

/* JSON views (malloc'd string; NULL with err on failure) and back.
 * Field names are the Avro field names; times are integer milliseconds since
 * the epoch (null when SF_TIME_NONE); missing numbers (NaN) are null; enums
 * are their symbols. The *_from_json results own their memory (clear them
 * with the matching *_clear; predictions own nothing). */
char *sf_order_to_json(const sf_order_event *ev, sf_err *err);
char *sf_review_to_json(const sf_review_event *ev, sf_err *err);
char *sf_prediction_to_json(const sf_prediction *p, sf_err *err);
int sf_order_from_json(const char *json, sf_order_event *ev, sf_err *err);
int sf_review_from_json(const char *json, sf_review_event *ev, sf_err *err);
int sf_prediction_from_json(const char *json, sf_prediction *p, sf_err *err);

#endif
