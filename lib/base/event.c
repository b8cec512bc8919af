/*
 * event.c - names of the event enums and release of owned events
 * (see satisfy/event.h).
 */
#include "satisfy/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stage_names[SF_STAGE_COUNT] = {
    "PURCHASED", "APPROVED", "SHIPPED", "DELIVERED", "CANCELED", "UNAVAILABLE",
};

static const char *const pay_names[SF_PAY_COUNT] = {
    "credit_card", "boleto", "voucher", "debit_card", "not_defined",
};

const char *sf_stage_name(sf_stage s)
{
    return (unsigned)s < SF_STAGE_COUNT ? stage_names[s] : "?";
}

int sf_stage_parse(const char *name, sf_stage *out)
{
    for (int i = 0; i < SF_STAGE_COUNT; i++)
        if (strcmp(name, stage_names[i]) == 0) {
            *out = (sf_stage)i;
            return 0;
        }
    return -1;
}

const char *sf_pay_type_name(sf_pay_type t)
{
    return (unsigned)t < SF_PAY_COUNT ? pay_names[t] : "?";
}

int sf_pay_type_parse(const char *name, sf_pay_type *out)
{
    for (int i = 0; i < SF_PAY_COUNT; i++)
        if (strcmp(name, pay_names[i]) == 0) {
            *out = (sf_pay_type)i;
            return 0;
        }
    return -1;
}

void sf_order_event_clear(sf_order_event *ev)
{
    free(ev->alloc);
    memset(ev, 0, sizeof *ev);
}

void sf_order_event_at(const sf_order_event *last, sf_stage stage, int64_t time,
                       sf_order_event *out)
{
    *out = *last;
    out->alloc = NULL;
    out->stage = stage;
    out->event_time = time;
    /* the terminal stages come after every known timestamp */
    sf_stage reached = stage <= SF_STAGE_DELIVERED ? stage : SF_STAGE_DELIVERED;
    if (reached < SF_STAGE_APPROVED)
        out->approved = SF_TIME_NONE;
    if (reached < SF_STAGE_SHIPPED)
        out->carrier = SF_TIME_NONE;
    if (reached < SF_STAGE_DELIVERED)
        out->delivered = SF_TIME_NONE;
}

void sf_review_event_clear(sf_review_event *ev)
{
    free(ev->alloc);
    memset(ev, 0, sizeof *ev);
}

void sf_model_release_clear(sf_model_release *r)
{
    free(r->alloc);
    memset(r, 0, sizeof *r);
}

void sf_event_id(const sf_order_event *ev, char *buf, unsigned len)
{
    /* "<order_id>:<STAGE>", truncated to len like snprintf; once per scored
     * event, so no format parsing */
    if (len == 0)
        return;
    const char *parts[3] = {ev->order_id, ":", sf_stage_name(ev->stage)};
    size_t at = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]);
        if (n > len - 1 - at)
            n = len - 1 - at;
        memcpy(buf + at, parts[i], n);
        at += n;
    }
    buf[at] = '\0';
}
