/*
 * event.h - the plain event types that flow through satisfy: order lifecycle
 * events, reviews, predictions and model releases.
 *
 * These are the bottom layer: structs only, no I/O. The Olist loader builds
 * orders out of the same parts (sf_place, sf_item, sf_payment), the lifecycle
 * builder turns an order into events, the codec moves events to and from Avro,
 * and features read events. Training and scoring therefore see one shape.
 *
 * Times are int64 milliseconds since the Unix epoch. Olist timestamps carry no
 * zone (they are Brazil local time); they are read as if UTC, consistently,
 * so differences are exact. SF_TIME_NONE means "not known at this stage".
 * Missing numbers are NaN.
 *
 * Ownership: an event's array and string pointers are borrowed (from the order
 * it was built from) unless `alloc` is non-NULL, in which case everything the
 * event points to lives in that one block and sf_*_event_clear() frees it.
 */
#ifndef SATISFY_EVENT_H
#define SATISFY_EVENT_H

#include <stdint.h>

#define SF_ID_LEN     32 /* Olist ids are 32 lowercase hex digits */
#define SF_TIME_NONE  INT64_MIN
#define SF_TEXT_SHORT 64 /* city, category and state fields */

typedef char sf_id[SF_ID_LEN + 1];

/* Order lifecycle stages, in the order they happen. */
typedef enum sf_stage {
    SF_STAGE_PURCHASED = 0,
    SF_STAGE_APPROVED,
    SF_STAGE_SHIPPED,
    SF_STAGE_DELIVERED,
    SF_STAGE_CANCELED,
    SF_STAGE_UNAVAILABLE,
    SF_STAGE_COUNT
} sf_stage;

const char *sf_stage_name(sf_stage s);               /* "PURCHASED", ... */
int sf_stage_parse(const char *name, sf_stage *out); /* 0 or -1 */

typedef enum sf_pay_type {
    SF_PAY_CREDIT_CARD = 0,
    SF_PAY_BOLETO,
    SF_PAY_VOUCHER,
    SF_PAY_DEBIT_CARD,
    SF_PAY_NOT_DEFINED,
    SF_PAY_COUNT
} sf_pay_type;

const char *sf_pay_type_name(sf_pay_type t); /* Olist spelling: "credit_card", ... */
int sf_pay_type_parse(const char *name, sf_pay_type *out);

/* A customer's or seller's location. */
typedef struct sf_place {
    char zip[6]; /* 5-digit zip prefix, "" when unknown */
    char city[SF_TEXT_SHORT];
    char state[3];   /* two-letter UF, "" when unknown */
    double lat, lng; /* mean of the geolocation rows of the zip; NaN if none */
} sf_place;

/* One order item with its product and seller attributes. */
typedef struct sf_item {
    int seq; /* order_item_id, 1-based */
    sf_id product_id;
    sf_id seller_id;
    double price, freight;
    int64_t shipping_limit;
    char category[SF_TEXT_SHORT]; /* English name, Portuguese when untranslated, "" if none */
    double name_len, desc_len, photos;
    double weight_g, length_cm, height_cm, width_cm;
    sf_place seller;
} sf_item;

typedef struct sf_payment {
    int seq; /* payment_sequential */
    sf_pay_type type;
    int installments;
    double value;
} sf_payment;

/* An order as known at one lifecycle stage. Times not yet known at that
 * stage are SF_TIME_NONE (a PURCHASED event never carries a delivery date). */
typedef struct sf_order_event {
    sf_id order_id;
    sf_id customer_id;
    sf_id customer_unique_id;
    sf_stage stage;
    int64_t event_time;
    int64_t purchase;
    int64_t estimated; /* estimated delivery date, known at purchase */
    int64_t approved, carrier, delivered;
    sf_place customer;
    const sf_item *items;
    int n_items;
    const sf_payment *payments;
    int n_payments;
    void *alloc; /* non-NULL when the event owns its arrays */
} sf_order_event;

/* One lifecycle stage of an order, given apart from the order's event: with
 * the event of the last stage the order reached, the compact form of its
 * events (8 + 16 bytes a stage instead of a whole event, for batch training
 * at scale). */
typedef struct sf_stage_at {
    uint32_t order; /* the index of the order's last event */
    sf_stage stage;
    int64_t time; /* the stage's event time */
} sf_stage_at;

/* The order's event at `stage` (at or before the last stage it reached) from
 * its event at that last stage: the same event with stage and event time set
 * and the timestamps of the stages `stage` has not reached cleared, as the
 * lifecycle builder makes it. out borrows what last points to. */
void sf_order_event_at(const sf_order_event *last, sf_stage stage, int64_t time,
                       sf_order_event *out);

typedef struct sf_review_event {
    sf_id review_id;
    sf_id order_id;
    int score;           /* 1..5 */
    const char *title;   /* NULL when absent */
    const char *message; /* NULL when absent */
    int64_t created, answered;
    void *alloc;
} sf_review_event;

#define SF_REASONS      3
#define SF_FEATURE_NAME 48

/* One reason behind a prediction: a feature, its value, and how much it moved
 * the predicted score (positive pushes up, negative down). */
typedef struct sf_reason {
    char feature[SF_FEATURE_NAME];
    double value;
    double contribution;
} sf_reason;

typedef struct sf_prediction {
    sf_id order_id;
    char event_id[SF_ID_LEN + 16]; /* "<order_id>:<STAGE>", unique per order event */
    sf_stage stage;
    double score;          /* clipped to 1..5 */
    double p_dissatisfied; /* probability of a 1-2 star review */
    sf_reason reasons[SF_REASONS];
    int n_reasons;
    int64_t model_version;
    int64_t event_time;
    int64_t scored_at;
} sf_prediction;

/* A released model: metadata plus the serialized artifact (see model.h). */
typedef struct sf_model_release {
    int64_t version;
    char algorithm[16]; /* "gbdt" or "ridge" */
    char spec_hash[17]; /* 16 hex digits of the feature spec hash */
    int64_t train_from, train_to;
    const char *params_json;
    const char *metrics_json;
    const uint8_t *payload;
    uint32_t payload_len;
    char sha256[65]; /* of the payload */
    int64_t released_at;
    void *alloc;
} sf_model_release;

void sf_order_event_clear(sf_order_event *ev);
void sf_review_event_clear(sf_review_event *ev);
void sf_model_release_clear(sf_model_release *r);

/* "<order_id>:<STAGE>" into buf (at least SF_ID_LEN + 16 bytes). */
void sf_event_id(const sf_order_event *ev, char *buf, unsigned len);

#endif
