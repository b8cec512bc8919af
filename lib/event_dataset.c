/*
 * event_dataset.c - rebuilds an sf_dataset from order and review events (see
 * include/satisfy/event_dataset.h), so the streaming retrainer trains with
 * the batch pipeline on what it has consumed.
 *
 * Two passes: count what the copies need, then allocate five arrays (orders,
 * items, payments, reviews, review text) and fill them. Reviews are matched
 * to orders through an index of the orders sorted by order_id.
 */
#include "satisfy/event_dataset.h"

#include <stdlib.h>
#include <string.h>

#include "satisfy/codec.h"

typedef struct ev_mem {
    sf_order *orders;
    sf_item *items;
    sf_payment *pays;
    sf_review_event *revs;
    char *text;
} ev_mem;

sf_order_status sf_status_of_stage(sf_stage s)
{
    switch (s) {
    case SF_STAGE_PURCHASED:
        return SF_STATUS_CREATED;
    case SF_STAGE_APPROVED:
        return SF_STATUS_APPROVED;
    case SF_STAGE_SHIPPED:
        return SF_STATUS_SHIPPED;
    case SF_STAGE_DELIVERED:
        return SF_STATUS_DELIVERED;
    case SF_STAGE_CANCELED:
        return SF_STATUS_CANCELED;
    default:
        return SF_STATUS_UNAVAILABLE;
    }
}

void sf_event_dataset_free(sf_event_dataset *d)
{
    if (!d)
        return;
    ev_mem *m = d->mem;
    if (m) {
        free(m->orders);
        free(m->items);
        free(m->pays);
        free(m->revs);
        free(m->text);
        free(m);
    }
    memset(d, 0, sizeof *d);
}

static int cmp_order_time(const void *pa, const void *pb)
{
    const sf_order *a = pa, *b = pb;
    if (a->purchase != b->purchase)
        return a->purchase < b->purchase ? -1 : 1;
    return strcmp(a->order_id, b->order_id);
}

static int cmp_review(const void *pa, const void *pb)
{
    const sf_review_event *a = pa, *b = pb;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    if (a->answered != b->answered)
        return a->answered < b->answered ? -1 : 1;
    return strcmp(a->review_id, b->review_id);
}

/* Orders sorted by id, for matching reviews. */
typedef struct by_id {
    const char *id;
    size_t idx;
} by_id;

static int cmp_by_id(const void *pa, const void *pb)
{
    return strcmp(((const by_id *)pa)->id, ((const by_id *)pb)->id);
}

static size_t text_len(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

int sf_event_dataset_build(sf_event_dataset *out, const sf_order_event *orders, size_t n_orders,
                           const sf_review_event *reviews, size_t n_reviews, sf_err *err)
{
    memset(out, 0, sizeof *out);
    size_t n_items = 0, n_pays = 0, n_text = 0;
    for (size_t i = 0; i < n_orders; i++) {
        if (sf_check_order(&orders[i], err) != 0)
            return sf_err_wrap(err, "order event %zu (order %.32s)", i, orders[i].order_id);
        n_items += (size_t)orders[i].n_items;
        n_pays += (size_t)orders[i].n_payments;
    }
    for (size_t i = 0; i < n_reviews; i++) {
        if (sf_check_review(&reviews[i], err) != 0)
            return sf_err_wrap(err, "review %zu (review %.32s of order %.32s)", i,
                               reviews[i].review_id, reviews[i].order_id);
        n_text += text_len(reviews[i].title) + text_len(reviews[i].message);
    }

    ev_mem *m = calloc(1, sizeof *m);
    by_id *idx = malloc((n_orders ? n_orders : 1) * sizeof *idx);
    size_t *rev_order = malloc((n_reviews ? n_reviews : 1) * sizeof *rev_order);
    if (m) {
        m->orders = calloc(n_orders ? n_orders : 1, sizeof *m->orders);
        m->items = malloc((n_items ? n_items : 1) * sizeof *m->items);
        m->pays = malloc((n_pays ? n_pays : 1) * sizeof *m->pays);
        m->revs = malloc((n_reviews ? n_reviews : 1) * sizeof *m->revs);
        m->text = malloc(n_text ? n_text : 1);
    }
    out->mem = m;
    if (!m || !idx || !rev_order || !m->orders || !m->items || !m->pays || !m->revs || !m->text) {
        free(idx);
        free(rev_order);
        sf_event_dataset_free(out);
        return sf_errf(err, "out of memory rebuilding %zu orders and %zu reviews", n_orders,
                       n_reviews);
    }

    /* orders, with copies of their items and payments */
    size_t ii = 0, pi = 0;
    for (size_t i = 0; i < n_orders; i++) {
        const sf_order_event *e = &orders[i];
        sf_order *o = &m->orders[i];
        memcpy(o->order_id, e->order_id, sizeof o->order_id);
        memcpy(o->customer_id, e->customer_id, sizeof o->customer_id);
        memcpy(o->customer_unique_id, e->customer_unique_id, sizeof o->customer_unique_id);
        o->status = sf_status_of_stage(e->stage);
        o->purchase = e->purchase;
        o->approved = e->approved;
        o->carrier = e->carrier;
        o->delivered = e->delivered;
        o->estimated = e->estimated;
        o->customer = e->customer;
        o->items = m->items + ii;
        o->n_items = e->n_items;
        if (e->n_items > 0)
            memcpy(o->items, e->items, (size_t)e->n_items * sizeof *o->items);
        ii += (size_t)e->n_items;
        o->payments = m->pays + pi;
        o->n_payments = e->n_payments;
        if (e->n_payments > 0)
            memcpy(o->payments, e->payments, (size_t)e->n_payments * sizeof *o->payments);
        pi += (size_t)e->n_payments;
    }
    qsort(m->orders, n_orders, sizeof *m->orders, cmp_order_time);
    for (size_t i = 0; i < n_orders; i++)
        idx[i] = (by_id){m->orders[i].order_id, i};
    qsort(idx, n_orders, sizeof *idx, cmp_by_id);
    for (size_t i = 1; i < n_orders; i++)
        if (strcmp(idx[i - 1].id, idx[i].id) == 0) {
            sf_errf(err, "order %.32s given twice", idx[i].id);
            free(idx);
            free(rev_order);
            sf_event_dataset_free(out);
            return -1;
        }

    /* reviews: find each one's order, count per order, place, sort */
    size_t kept = 0;
    for (size_t i = 0; i < n_reviews; i++) {
        by_id key = {reviews[i].order_id, 0};
        const by_id *hit = n_orders ? bsearch(&key, idx, n_orders, sizeof *idx, cmp_by_id) : NULL;
        rev_order[i] = hit ? hit->idx : SIZE_MAX;
        if (hit) {
            m->orders[hit->idx].n_reviews++;
            kept++;
        } else {
            out->n_orphan_reviews++;
        }
    }
    size_t at = 0;
    for (size_t i = 0; i < n_orders; i++) {
        m->orders[i].reviews = m->revs + at;
        at += (size_t)m->orders[i].n_reviews;
        m->orders[i].n_reviews = 0;
    }
    char *tp = m->text;
    for (size_t i = 0; i < n_reviews; i++) {
        if (rev_order[i] == SIZE_MAX)
            continue;
        sf_order *o = &m->orders[rev_order[i]];
        sf_review_event *r = &o->reviews[o->n_reviews++];
        *r = reviews[i];
        r->alloc = NULL;
        if (reviews[i].title) {
            size_t l = strlen(reviews[i].title) + 1;
            memcpy(tp, reviews[i].title, l);
            r->title = tp;
            tp += l;
        }
        if (reviews[i].message) {
            size_t l = strlen(reviews[i].message) + 1;
            memcpy(tp, reviews[i].message, l);
            r->message = tp;
            tp += l;
        }
    }
    for (size_t i = 0; i < n_orders; i++)
        if (m->orders[i].n_reviews > 1)
            qsort(m->orders[i].reviews, (size_t)m->orders[i].n_reviews,
                  sizeof *m->orders[i].reviews, cmp_review);
    free(idx);
    free(rev_order);

    sf_dataset *ds = &out->ds;
    ds->orders = m->orders;
    ds->n_orders = n_orders;
    ds->rows[SF_T_ORDERS] = n_orders;
    ds->rows[SF_T_ITEMS] = n_items;
    ds->rows[SF_T_PAYMENTS] = n_pays;
    ds->rows[SF_T_REVIEWS] = kept;
    ds->n_items = n_items;
    ds->n_payments = n_pays;
    ds->n_reviews = kept;
    ds->arena = NULL;
    return 0;
}
