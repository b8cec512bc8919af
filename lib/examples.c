/*
 * examples.c - training rows from a dataset, built by replaying exactly the
 * events the producer publishes (see sf_examples_build in features.h).
 *
 * The replay walks sf_lifecycle_build's events in time order, in groups of
 * equal time: first every order event of the group is featurised against the
 * history as it stands (so it holds only updates from strictly earlier
 * times), then the group's updates are applied (purchases, deliveries,
 * reviews). That is the "strictly before" rule that keeps later data, and the
 * order's own label, out of its rows.
 */
#include "satisfy/features.h"
#include "satisfy/lifecycle.h"

#include <stdlib.h>
#include <string.h>

void sf_examples_free(sf_examples *ex)
{
    if (!ex)
        return;
    free(ex->x);
    free(ex->label);
    free(ex->stage);
    free(ex->purchase);
    free(ex->event_time);
    free(ex->order);
    memset(ex, 0, sizeof *ex);
}

static int ex_reserve(sf_examples *ex, size_t cap, size_t d)
{
    float *x = realloc(ex->x, cap * d * sizeof *x);
    if (!x)
        return -1;
    ex->x = x;
#define GROW(f)                                                                                    \
    do {                                                                                           \
        void *p = realloc(ex->f, cap * sizeof *ex->f);                                             \
        if (!p)                                                                                    \
            return -1;                                                                             \
        ex->f = p;                                                                                 \
    } while (0)
    GROW(label);
    GROW(stage);
    GROW(purchase);
    GROW(event_time);
    GROW(order);
#undef GROW
    return 0;
}

/* An event that carries only the order's identity and items, for updates. */
static void identity_event(const sf_order *o, sf_order_event *ev)
{
    memset(ev, 0, sizeof *ev);
    memcpy(ev->order_id, o->order_id, sizeof ev->order_id);
    memcpy(ev->customer_id, o->customer_id, sizeof ev->customer_id);
    memcpy(ev->customer_unique_id, o->customer_unique_id, sizeof ev->customer_unique_id);
    ev->purchase = o->purchase;
    ev->estimated = o->estimated;
    ev->approved = ev->carrier = ev->delivered = SF_TIME_NONE;
    ev->event_time = o->purchase;
    ev->customer = o->customer;
    ev->items = o->items;
    ev->n_items = o->n_items;
    ev->payments = o->payments;
    ev->n_payments = o->n_payments;
}

static int apply_update(sf_history *h, const sf_event_ref *r, sf_err *err)
{
    const sf_order *o = r->order;
    sf_order_event ev;
    if (r->kind == SF_EV_REVIEW) {
        identity_event(o, &ev);
        int score = o->reviews[r->review].score;
        if (score < 1 || score > 5)
            return 0; /* the loader rejects these; never count them */
        return sf_history_add_review(h, &ev, score, err);
    }
    if (r->stage == SF_STAGE_PURCHASED) {
        identity_event(o, &ev);
        return sf_history_add_purchase(h, &ev, err);
    }
    if (r->stage == SF_STAGE_DELIVERED) {
        if (sf_lifecycle_event(o, r->stage, &ev) < 0)
            return 0;
        return sf_history_add_delivery(h, &ev, err);
    }
    return 0;
}

int sf_examples_build(sf_examples *ex, const sf_dataset *ds, const sf_feature_spec *spec,
                      int64_t from, int64_t to, sf_history **hist_out, sf_err *err)
{
    memset(ex, 0, sizeof *ex);
    ex->spec = spec;
    ex->d = (size_t)spec->n;
    if (hist_out)
        *hist_out = NULL;

    sf_event_ref *refs = NULL;
    size_t n = sf_lifecycle_build(ds, SF_TIME_NONE, SF_TIME_NONE, &refs, err);
    if (n == (size_t)-1)
        return sf_err_wrap(err, "building training examples");
    sf_history *h = sf_history_new();
    size_t cap = 0;
    if (!h) {
        free(refs);
        return sf_errf(err, "building training examples: out of memory");
    }
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && refs[b].time == refs[a].time)
            b++;
        for (size_t i = a; i < b; i++) {
            const sf_event_ref *r = &refs[i];
            if (r->kind != SF_EV_ORDER)
                continue;
            const sf_order *o = r->order;
            if ((from != SF_TIME_NONE && o->purchase < from) ||
                (to != SF_TIME_NONE && o->purchase >= to))
                continue;
            int label = sf_order_label(o);
            if (label < 1)
                continue;
            sf_order_event ev;
            if (sf_lifecycle_event(o, r->stage, &ev) < 0)
                continue;
            if (ex->n == cap) {
                cap = cap ? cap * 2 : 4096;
                if (ex_reserve(ex, cap, ex->d) < 0)
                    goto oom;
            }
            size_t k = ex->n++;
            sf_features_compute(spec, &ev, h, ex->x + k * ex->d);
            ex->label[k] = (float)label;
            ex->stage[k] = r->stage;
            ex->purchase[k] = o->purchase;
            ex->event_time[k] = ev.event_time;
            ex->order[k] = (size_t)(o - ds->orders);
        }
        for (size_t i = a; i < b; i++)
            if (apply_update(h, &refs[i], err) < 0) {
                free(refs);
                sf_history_free(h);
                sf_examples_free(ex);
                return sf_err_wrap(err, "building training examples");
            }
        a = b;
    }
    free(refs);
    if (hist_out)
        *hist_out = h;
    else
        sf_history_free(h);
    return 0;
oom:
    free(refs);
    sf_history_free(h);
    sf_examples_free(ex);
    return sf_errf(err, "building training examples: out of memory");
}

int sf_examples_select(const sf_examples *src, const size_t *idx, size_t n, sf_examples *dst,
                       sf_err *err)
{
    memset(dst, 0, sizeof *dst);
    dst->spec = src->spec;
    dst->d = src->d;
    if (n > 0 && ex_reserve(dst, n, src->d) < 0) {
        sf_examples_free(dst);
        return sf_errf(err, "selecting %zu examples: out of memory", n);
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = idx[i];
        if (j >= src->n) {
            sf_examples_free(dst);
            return sf_errf(err, "selecting examples: row %zu out of range (%zu rows)", j, src->n);
        }
        memcpy(dst->x + i * src->d, src->x + j * src->d, src->d * sizeof *src->x);
        dst->label[i] = src->label[j];
        dst->stage[i] = src->stage[j];
        dst->purchase[i] = src->purchase[j];
        dst->event_time[i] = src->event_time[j];
        dst->order[i] = src->order[j];
    }
    dst->n = n;
    return 0;
}

typedef struct okey {
    int64_t purchase;
    size_t order;
} okey;

static int okey_cmp(const void *pa, const void *pb)
{
    const okey *a = pa, *b = pb;
    if (a->purchase != b->purchase)
        return a->purchase < b->purchase ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

int64_t sf_examples_time_split(const sf_examples *src, double frac, sf_examples *older,
                               sf_examples *newer, sf_err *err)
{
    if (!(frac > 0 && frac < 1)) {
        sf_errf(err, "time split: fraction %g must be strictly between 0 and 1", frac);
        return SF_TIME_NONE;
    }
    if (src->n == 0) {
        sf_errf(err, "time split: no examples");
        return SF_TIME_NONE;
    }
    okey *keys = malloc(src->n * sizeof *keys);
    size_t *lo = malloc(src->n * sizeof *lo), *hi = malloc(src->n * sizeof *hi);
    if (!keys || !lo || !hi) {
        free(keys);
        free(lo);
        free(hi);
        sf_errf(err, "time split: out of memory");
        return SF_TIME_NONE;
    }
    for (size_t i = 0; i < src->n; i++)
        keys[i] = (okey){src->purchase[i], src->order[i]};
    qsort(keys, src->n, sizeof *keys, okey_cmp);
    size_t n_orders = 0;
    for (size_t i = 0; i < src->n; i++)
        n_orders += i == 0 || okey_cmp(&keys[i], &keys[i - 1]) != 0;
    size_t n_new = (size_t)(frac * (double)n_orders + 0.5);
    if (n_new == 0)
        n_new = 1;
    if (n_new >= n_orders)
        n_new = n_orders - (n_orders > 1);
    /* the first key of the newest n_new orders */
    size_t seen = 0;
    okey cut = keys[src->n - 1];
    for (size_t i = src->n; i-- > 0;) {
        if (i == src->n - 1 || okey_cmp(&keys[i], &keys[i + 1]) != 0) {
            seen++;
            if (seen == n_new) {
                cut = keys[i];
                break;
            }
        }
    }
    free(keys);
    size_t nl = 0, nh = 0;
    for (size_t i = 0; i < src->n; i++) {
        okey k = {src->purchase[i], src->order[i]};
        if (okey_cmp(&k, &cut) >= 0)
            hi[nh++] = i;
        else
            lo[nl++] = i;
    }
    int rc = 0;
    if (older)
        rc = sf_examples_select(src, lo, nl, older, err);
    if (rc == 0 && newer) {
        rc = sf_examples_select(src, hi, nh, newer, err);
        if (rc < 0 && older)
            sf_examples_free(older);
    }
    free(lo);
    free(hi);
    return rc < 0 ? SF_TIME_NONE : cut.purchase;
}

size_t sf_examples_stage_rows(const sf_examples *ex, sf_stage stage, size_t **idx)
{
    size_t n = 0;
    *idx = malloc((ex->n ? ex->n : 1) * sizeof **idx);
    if (!*idx)
        return 0;
    for (size_t i = 0; i < ex->n; i++)
        if (ex->stage[i] == stage)
            (*idx)[n++] = i;
    return n;
}
