/*
 * lifecycle.c - turns joined Olist orders into the order and review events
 * that satisfy-producer replays and batch training learns from (see
 * satisfy/lifecycle.h).
 *
 * Each stage is driven by its own timestamp (an empty one skips the stage);
 * CANCELED and UNAVAILABLE come from the order status, at the last known time.
 * Event times are clamped to be non-decreasing per order, because Olist has
 * some out-of-order timestamps. The timestamp fields an event carries are the
 * raw values of the stages reached so far (never a later stage's), and a raw
 * value is never later than its clamped stage time, so no event carries a
 * time later than its own event time. Estimated delivery is a forecast made at
 * purchase and is carried from the first stage on.
 */
#include "satisfy/lifecycle.h"

#include <stdlib.h>
#include <string.h>

/* The raw timestamp of a timestamp-driven stage. */
static int64_t stage_raw(const sf_order *o, sf_stage s)
{
    switch (s) {
    case SF_STAGE_PURCHASED:
        return o->purchase;
    case SF_STAGE_APPROVED:
        return o->approved;
    case SF_STAGE_SHIPPED:
        return o->carrier;
    case SF_STAGE_DELIVERED:
        return o->delivered;
    default:
        return SF_TIME_NONE;
    }
}

int sf_lifecycle_stages(const sf_order *o, sf_stage stages[SF_STAGE_COUNT],
                        int64_t times[SF_STAGE_COUNT])
{
    int n = 0;
    int64_t last = SF_TIME_NONE;
    for (int s = SF_STAGE_PURCHASED; s <= SF_STAGE_DELIVERED; s++) {
        int64_t t = stage_raw(o, (sf_stage)s);
        if (t == SF_TIME_NONE)
            continue;
        if (last != SF_TIME_NONE && t < last)
            t = last;
        stages[n] = (sf_stage)s;
        times[n] = t;
        last = t;
        n++;
    }
    sf_stage final = SF_STAGE_COUNT;
    if (o->status == SF_STATUS_CANCELED)
        final = SF_STAGE_CANCELED;
    else if (o->status == SF_STATUS_UNAVAILABLE)
        final = SF_STAGE_UNAVAILABLE;
    if (final != SF_STAGE_COUNT && last != SF_TIME_NONE) {
        stages[n] = final;
        times[n] = last;
        n++;
    }
    return n;
}

int sf_lifecycle_event(const sf_order *o, sf_stage stage, sf_order_event *ev)
{
    sf_stage stages[SF_STAGE_COUNT];
    int64_t times[SF_STAGE_COUNT];
    int n = sf_lifecycle_stages(o, stages, times);
    int k = -1;
    for (int i = 0; i < n; i++)
        if (stages[i] == stage)
            k = i;
    if (k < 0)
        return -1;

    memset(ev, 0, sizeof *ev);
    memcpy(ev->order_id, o->order_id, sizeof ev->order_id);
    memcpy(ev->customer_id, o->customer_id, sizeof ev->customer_id);
    memcpy(ev->customer_unique_id, o->customer_unique_id, sizeof ev->customer_unique_id);
    ev->stage = stage;
    ev->event_time = times[k];
    ev->purchase = o->purchase;
    ev->estimated = o->estimated;
    /* Stages reached so far: the timestamp-driven ones up to this one; the
     * terminal stages come after every known timestamp. */
    int reached = stage <= SF_STAGE_DELIVERED ? (int)stage : (int)SF_STAGE_DELIVERED;
    ev->approved = reached >= SF_STAGE_APPROVED ? o->approved : SF_TIME_NONE;
    ev->carrier = reached >= SF_STAGE_SHIPPED ? o->carrier : SF_TIME_NONE;
    ev->delivered = reached >= SF_STAGE_DELIVERED ? o->delivered : SF_TIME_NONE;
    ev->customer = o->customer;
    ev->items = o->items;
    ev->n_items = o->n_items;
    ev->payments = o->payments;
    ev->n_payments = o->n_payments;
    ev->alloc = NULL;
    return 0;
}

void sf_lifecycle_review(const sf_order *o, int i, sf_review_event *ev)
{
    *ev = o->reviews[i];
    ev->alloc = NULL;
}

/* Total order: time, then order stages before reviews, then dataset order,
 * then stage or review index. Equal keys cannot occur, so qsort is stable. */
static int ref_cmp(const void *pa, const void *pb)
{
    const sf_event_ref *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->order != b->order)
        return a->order < b->order ? -1 : 1;
    int ia = a->kind == SF_EV_ORDER ? (int)a->stage : a->review;
    int ib = b->kind == SF_EV_ORDER ? (int)b->stage : b->review;
    return (ia > ib) - (ia < ib);
}

static int in_window(int64_t t, int64_t from, int64_t to)
{
    if (t == SF_TIME_NONE)
        return 0;
    if (from != SF_TIME_NONE && t < from)
        return 0;
    if (to != SF_TIME_NONE && t >= to)
        return 0;
    return 1;
}

size_t sf_lifecycle_build(const sf_dataset *ds, int64_t from, int64_t to, sf_event_ref **out,
                          sf_err *err)
{
    *out = NULL;
    if (from != SF_TIME_NONE && to != SF_TIME_NONE && to < from) {
        sf_errf(err, "lifecycle: empty window: --to is before --from");
        return (size_t)-1;
    }
    size_t cap = 0;
    for (size_t i = 0; i < ds->n_orders; i++)
        cap += SF_STAGE_COUNT + (size_t)(ds->orders[i].n_reviews > 0 ? ds->orders[i].n_reviews : 0);
    sf_event_ref *refs = malloc((cap ? cap : 1) * sizeof *refs);
    if (!refs) {
        sf_errf(err, "lifecycle: out of memory for %zu events", cap);
        return (size_t)-1;
    }
    size_t n = 0;
    for (size_t i = 0; i < ds->n_orders; i++) {
        const sf_order *o = &ds->orders[i];
        sf_stage stages[SF_STAGE_COUNT];
        int64_t times[SF_STAGE_COUNT];
        int k = sf_lifecycle_stages(o, stages, times);
        for (int j = 0; j < k; j++) {
            if (!in_window(times[j], from, to))
                continue;
            refs[n++] = (sf_event_ref){.time = times[j],
                                       .order = o,
                                       .kind = SF_EV_ORDER,
                                       .stage = stages[j],
                                       .review = -1};
        }
        for (int r = 0; r < o->n_reviews; r++) {
            int64_t t = o->reviews[r].created;
            if (!in_window(t, from, to))
                continue;
            refs[n++] = (sf_event_ref){
                .time = t, .order = o, .kind = SF_EV_REVIEW, .stage = SF_STAGE_COUNT, .review = r};
        }
    }
    qsort(refs, n, sizeof *refs, ref_cmp);
    *out = refs;
    return n;
}

/* sf_lifecycle_build over all time; *no gets the count of order events. */
static size_t all_refs(const sf_dataset *ds, sf_event_ref **refs, size_t *no, sf_err *err)
{
    size_t n = sf_lifecycle_build(ds, SF_TIME_NONE, SF_TIME_NONE, refs, err);
    *no = 0;
    for (size_t i = 0; n != (size_t)-1 && i < n; i++)
        *no += (*refs)[i].kind == SF_EV_ORDER;
    return n;
}

int sf_lifecycle_events(const sf_dataset *ds, sf_order_event **orders, size_t *n_orders,
                        sf_review_event **reviews, size_t *n_reviews, sf_err *err)
{
    *orders = NULL;
    *reviews = NULL;
    *n_orders = *n_reviews = 0;
    sf_event_ref *refs = NULL;
    size_t no, n = all_refs(ds, &refs, &no, err);
    if (n == (size_t)-1)
        return -1;
    *orders = malloc((no ? no : 1) * sizeof **orders);
    *reviews = malloc((n - no ? n - no : 1) * sizeof **reviews);
    if (!*orders || !*reviews) {
        free(refs);
        free(*orders);
        free(*reviews);
        *orders = NULL;
        *reviews = NULL;
        return sf_errf(err, "lifecycle: out of memory for %zu events", n);
    }
    for (size_t i = 0; i < n; i++) {
        const sf_event_ref *r = &refs[i];
        if (r->kind == SF_EV_ORDER)
            sf_lifecycle_event(r->order, r->stage, &(*orders)[(*n_orders)++]);
        else
            sf_lifecycle_review(r->order, r->review, &(*reviews)[(*n_reviews)++]);
    }
    free(refs);
    return 0;
}

int sf_lifecycle_events_compact(const sf_dataset *ds, sf_order_event **last, size_t *n_orders,
                                sf_stage_at **stages, size_t *n_stages, sf_review_event **reviews,
                                size_t *n_reviews, sf_err *err)
{
    *last = NULL;
    *stages = NULL;
    *reviews = NULL;
    *n_orders = *n_stages = *n_reviews = 0;
    if (ds->n_orders > UINT32_MAX)
        return sf_errf(err, "lifecycle: %zu orders, more than the compact form holds",
                       ds->n_orders);
    sf_event_ref *refs = NULL;
    size_t no, n = all_refs(ds, &refs, &no, err);
    if (n == (size_t)-1)
        return -1;
    uint32_t *slot = malloc((ds->n_orders ? ds->n_orders : 1) * sizeof *slot);
    *last = malloc((ds->n_orders ? ds->n_orders : 1) * sizeof **last);
    *stages = malloc((no ? no : 1) * sizeof **stages);
    *reviews = malloc((n - no ? n - no : 1) * sizeof **reviews);
    if (!slot || !*last || !*stages || !*reviews) {
        free(refs);
        free(slot);
        free(*last);
        free(*stages);
        free(*reviews);
        *last = NULL;
        *stages = NULL;
        *reviews = NULL;
        return sf_errf(err, "lifecycle: out of memory for %zu events", n);
    }
    /* the last event of every order that has one */
    for (size_t o = 0; o < ds->n_orders; o++) {
        sf_stage st[SF_STAGE_COUNT];
        int64_t tm[SF_STAGE_COUNT];
        int k = sf_lifecycle_stages(&ds->orders[o], st, tm);
        slot[o] = UINT32_MAX;
        if (k > 0 && sf_lifecycle_event(&ds->orders[o], st[k - 1], &(*last)[*n_orders]) == 0)
            slot[o] = (uint32_t)(*n_orders)++;
    }
    for (size_t i = 0; i < n; i++) {
        const sf_event_ref *r = &refs[i];
        if (r->kind == SF_EV_ORDER)
            (*stages)[(*n_stages)++] = (sf_stage_at){
                .order = slot[r->order - ds->orders], .stage = r->stage, .time = r->time};
        else
            sf_lifecycle_review(r->order, r->review, &(*reviews)[(*n_reviews)++]);
    }
    free(refs);
    free(slot);
    return 0;
}
