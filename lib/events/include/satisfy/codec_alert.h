/*
 * codec_alert.h - the Alert event (schemas/alert.avsc, schema id 6) and its
 * codec: an at-risk order on satisfy.alerts, the scorer's first prediction
 * of an order whose risk of a 1-2 star review reached the alert threshold,
 * with that threshold. Its own header and file (lib/events/codec_alert.c) so
 * that the Prediction codec stays as it is: an Alert's fields are the
 * Prediction's, in the same order (p_dissatisfied is called "risk" there),
 * followed by the threshold, so its body is a Prediction body plus 8 bytes.
 */
#ifndef SATISFY_CODEC_ALERT_H
#define SATISFY_CODEC_ALERT_H

#include "satisfy/codec.h"

typedef struct sf_alert {
    sf_prediction p;  /* the prediction that crossed; p.p_dissatisfied is the risk */
    double threshold; /* in [0,1], at most p.p_dissatisfied */
} sf_alert;

/* The prediction's checks (sf_check_prediction), a threshold in [0,1] and a
 * risk at or above it. */
int sf_check_alert(const sf_alert *a, sf_err *err);

/* Replaces b's contents with the framed message (schema id 6). */
int sf_encode_alert(const sf_alert *a, sf_buf *b, sf_err *err);

/* Fills a (it owns nothing); -1 with err on a malformed or invalid message. */
int sf_decode_alert(const void *buf, size_t len, sf_alert *a, sf_err *err);

/* The JSON view: the Avro field names ("risk", "threshold"); malloc'd, NULL
 * with err when the alert does not check. */
char *sf_alert_to_json(const sf_alert *a, sf_err *err);

#endif
