/*
 * codec_alert.c - the Alert codec (see satisfy/codec_alert.h). An Alert's
 * body is a Prediction's body followed by the threshold (a double), so the
 * Prediction's encoder and decoder do the work: encoding writes the
 * prediction and rewrites the schema id; decoding reads the last 8 bytes as
 * the threshold and the rest, under the Prediction's id, with the
 * Prediction's checked walk (a copy on the stack: an Alert is bounded).
 */
#include "satisfy/codec_alert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "satisfy/json_field.h"

/* An Alert is at most a Prediction's bound plus the threshold: every string
 * is bounded by the prediction's C buffers. */
#define ALERT_MAX 2048

int sf_check_alert(const sf_alert *a, sf_err *err)
{
    if (sf_check_prediction(&a->p, err))
        return -1;
    if (!(a->threshold >= 0.0 && a->threshold <= 1.0))
        return sf_errf(err, "threshold: %g out of range 0..1", a->threshold);
    if (!(a->p.p_dissatisfied >= a->threshold))
        return sf_errf(err, "risk: %g below the threshold %g", a->p.p_dissatisfied, a->threshold);
    return 0;
}

static void put_double_le(uint8_t *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    for (int i = 0; i < 8; i++)
        w[i] = (uint8_t)(u >> (8 * i));
}

static double get_double_le(const uint8_t *r)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)r[i] << (8 * i);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

int sf_encode_alert(const sf_alert *a, sf_buf *b, sf_err *err)
{
    if (sf_check_alert(a, err))
        return sf_err_wrap(err, "encode Alert %.32s", a->p.order_id);
    if (sf_encode_prediction(&a->p, b, err))
        return sf_err_wrap(err, "encode Alert");
    if (sf_buf_reserve(b, b->len + 8, err))
        return sf_err_wrap(err, "encode Alert %.32s", a->p.order_id);
    b->data[4] = SF_SCHEMA_ALERT; /* ids 1..6: the high bytes stay 0 */
    put_double_le(b->data + b->len, a->threshold);
    b->len += 8;
    return 0;
}

int sf_decode_alert(const void *buf, size_t len, sf_alert *a, sf_err *err)
{
    memset(a, 0, sizeof *a);
    int id = 0;
    if (sf_wire_peek(buf, len, &id, err))
        return sf_err_wrap(err, "decode Alert");
    if (id != SF_SCHEMA_ALERT)
        return sf_errf(err, "decode Alert: message has schema id %d (%s), expected %d", id,
                       sf_schema_name(id), SF_SCHEMA_ALERT);
    if (len < SF_WIRE_HEADER + 8)
        return sf_errf(err, "decode Alert: truncated: %zu bytes, no room for the threshold", len);
    if (len > ALERT_MAX)
        return sf_errf(err, "decode Alert: %zu bytes, more than an Alert can take (%d)", len,
                       ALERT_MAX);
    uint8_t copy[ALERT_MAX];
    memcpy(copy, buf, len - 8);
    copy[4] = SF_SCHEMA_PREDICTION;
    if (sf_decode_prediction(copy, len - 8, &a->p, err))
        return sf_err_wrap(err, "decode Alert (its prediction part)");
    a->threshold = get_double_le((const uint8_t *)buf + len - 8);
    if (sf_check_alert(a, err)) {
        sf_err_wrap(err, "decode Alert %.32s", a->p.order_id);
        memset(a, 0, sizeof *a);
        return -1;
    }
    return 0;
}

char *sf_alert_to_json(const sf_alert *a, sf_err *err)
{
    if (sf_check_alert(a, err)) {
        sf_err_wrap(err, "Alert to JSON");
        return NULL;
    }
    /* the prediction's view, its p_dissatisfied as "risk", and the threshold */
    char *pj = sf_prediction_to_json(&a->p, err);
    cJSON *o = pj ? cJSON_Parse(pj) : NULL;
    free(pj);
    cJSON *risk = o ? cJSON_DetachItemFromObject(o, "p_dissatisfied") : NULL;
    if (!risk) {
        cJSON_Delete(o);
        sf_errf(err, "Alert to JSON: out of memory");
        return NULL;
    }
    cJSON_AddItemToObject(o, "risk", risk);
    sf_json_add_number(o, "threshold", a->threshold);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        sf_errf(err, "Alert to JSON: out of memory");
    return s;
}
