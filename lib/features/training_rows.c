/*
 * training_rows.c - training rows from order and review events (see
 * satisfy/training_rows.h), and the selections and time split the
 * pipeline makes of them: copies (sf_examples_select, sf_examples_time_split)
 * or, without a copy, an in-place stable partition and views of its two
 * halves (sf_examples_partition, sf_examples_time_partition), which batch
 * training at a million orders uses to keep one copy of its rows.
 *
 * The events are indexed first: per order its identity (the event of its
 * highest stage), its rank by (purchase time, order_id) and its label (the
 * last of its reviews by creation, answer time, review_id). The replay then
 * walks every event in time order, in groups of equal time: first every
 * order event of the group is featurised against the history as it stands
 * (so it holds only updates from strictly earlier times), then the group's
 * updates are applied (purchases, deliveries, reviews). That is the
 * "strictly before" rule that keeps later data, and the order's own label,
 * out of its rows.
 */
#include "satisfy/training_rows.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void sf_training_events_free(sf_training_events *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < ev->n_orders; i++)
        sf_order_event_clear(&ev->orders[i]);
    for (size_t i = 0; i < ev->n_reviews; i++)
        sf_review_event_clear(&ev->reviews[i]);
    free(ev->orders);
    free(ev->reviews);
    free(ev->stages);
    memset(ev, 0, sizeof *ev);
}

void sf_examples_free(sf_examples *ex)
{
    if (!ex)
        return;
    if (ex->view) {
        memset(ex, 0, sizeof *ex);
        return;
    }
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

/* ---- indexing the events ------------------------------------------------ */

/* One order of the events. */
typedef struct order_ix {
    const sf_order_event *id; /* its event of the highest stage: identity, purchase */
    size_t rank;              /* by (purchase time, order_id) */
    int label;                /* score of its last review, -1 when none */
} order_ix;

/* One event of the replay: 24 bytes (there is one per order stage and
 * review, 4.9M at a million orders); index_events refuses more than 2^31
 * orders, stages or reviews. */
typedef struct replay_ref {
    int64_t time;
    uint32_t rank;     /* the order's rank */
    uint32_t sub : 31; /* stage, or the review's place among its order's reviews */
    uint32_t kind : 1; /* 0 order event, 1 review */
    uint32_t ev;       /* index into the order events or the reviews */
    uint32_t ord;      /* index into events_ix.orders */
} replay_ref;
_Static_assert(sizeof(replay_ref) == 24, "replay_ref stays 24 bytes");
#define REF_MAX 0x7fffffffu

typedef struct events_ix {
    order_ix *orders; /* sorted by order_id */
    size_t n_orders;
    replay_ref *refs; /* in replay order */
    size_t n_refs;
    size_t n_orphans;
} events_ix;

static void ix_free(events_ix *ix)
{
    free(ix->orders);
    free(ix->refs);
    memset(ix, 0, sizeof *ix);
}

typedef struct ord_ptr {
    const sf_order_event *ev;
    size_t i;
} ord_ptr;

/* order_id, then stage from the highest */
static int cmp_id_stage(const void *pa, const void *pb)
{
    const sf_order_event *a = ((const ord_ptr *)pa)->ev, *b = ((const ord_ptr *)pb)->ev;
    int c = strcmp(a->order_id, b->order_id);
    if (c)
        return c;
    return (a->stage < b->stage) - (a->stage > b->stage);
}

static int cmp_purchase_id(const void *pa, const void *pb)
{
    const sf_order_event *a = (*(order_ix *const *)pa)->id, *b = (*(order_ix *const *)pb)->id;
    if (a->purchase != b->purchase)
        return a->purchase < b->purchase ? -1 : 1;
    return strcmp(a->order_id, b->order_id);
}

/* The ranks of the orders by (purchase time, order_id). */
static int rank_orders(events_ix *ix)
{
    order_ix **by_time = malloc((ix->n_orders ? ix->n_orders : 1) * sizeof *by_time);
    if (!by_time)
        return -1;
    for (size_t u = 0; u < ix->n_orders; u++)
        by_time[u] = &ix->orders[u];
    qsort(by_time, ix->n_orders, sizeof *by_time, cmp_purchase_id);
    for (size_t r = 0; r < ix->n_orders; r++)
        by_time[r]->rank = r;
    free(by_time);
    return 0;
}

/* The order events by order_id, then stage from the highest, with their
 * input positions; and room for the orders of the index. NULL: out of memory. */
static ord_ptr *sort_events(const sf_training_events *in, events_ix *ix)
{
    size_t n = in->n_orders;
    ord_ptr *p = malloc((n ? n : 1) * sizeof *p);
    ix->orders = malloc((n ? n : 1) * sizeof *ix->orders);
    if (!p || !ix->orders) {
        free(p);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (ord_ptr){&in->orders[i], i};
    qsort(p, n, sizeof *p, cmp_id_stage);
    return p;
}

/* index_orders of the compact form: the orders are the events of their last
 * stage, the replay refs the stages. */
static int index_compact(const sf_training_events *in, events_ix *ix, sf_err *err)
{
    size_t n = in->n_orders;
    ord_ptr *p = sort_events(in, ix);
    size_t *pos = malloc((n ? n : 1) * sizeof *pos);
    int rc = -1;
    if (!p || !pos) {
        sf_errf(err, "out of memory indexing %zu orders", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(p[i].ev->order_id, p[i - 1].ev->order_id) == 0) {
            sf_errf(err, "order %.32s given twice", p[i].ev->order_id);
            goto done;
        }
        pos[p[i].i] = ix->n_orders;
        ix->orders[ix->n_orders++] = (order_ix){.id = p[i].ev, .label = -1};
    }
    if (rank_orders(ix) < 0) {
        sf_errf(err, "out of memory ranking %zu orders", n);
        goto done;
    }
    for (size_t i = 0; i < in->n_stages; i++) {
        const sf_stage_at *a = &in->stages[i];
        if (a->order >= n) {
            sf_errf(err, "stage %zu: order %u out of range (%zu orders)", i, (unsigned)a->order, n);
            goto done;
        }
        if (a->time == SF_TIME_NONE)
            continue;
        size_t u = pos[a->order];
        ix->refs[ix->n_refs++] = (replay_ref){.time = a->time,
                                              .kind = 0,
                                              .rank = (uint32_t)ix->orders[u].rank,
                                              .sub = (uint32_t)a->stage,
                                              .ev = (uint32_t)i,
                                              .ord = (uint32_t)u};
    }
    rc = 0;
done:
    free(p);
    free(pos);
    return rc;
}

/* The distinct orders, their ranks, and one replay ref per timed order event
 * (ix->refs must hold in->n_orders + in->n_reviews). */
static int index_orders(const sf_training_events *in, events_ix *ix, sf_err *err)
{
    if (in->stages)
        return index_compact(in, ix, err);
    size_t n = in->n_orders;
    ord_ptr *p = sort_events(in, ix);
    size_t *ev_order = malloc((n ? n : 1) * sizeof *ev_order);
    int rc = -1;
    if (!p || !ev_order) {
        sf_errf(err, "out of memory indexing %zu order events", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(p[i].ev->order_id, p[i - 1].ev->order_id) == 0) {
            if (p[i].ev->stage == p[i - 1].ev->stage) {
                sf_errf(err, "order %.32s: stage %s given twice", p[i].ev->order_id,
                        sf_stage_name(p[i].ev->stage));
                goto done;
            }
        } else {
            ix->orders[ix->n_orders++] = (order_ix){.id = p[i].ev, .label = -1};
        }
        ev_order[p[i].i] = ix->n_orders - 1;
    }
    if (rank_orders(ix) < 0) {
        sf_errf(err, "out of memory ranking %zu orders", ix->n_orders);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const sf_order_event *e = &in->orders[i];
        if (e->event_time == SF_TIME_NONE)
            continue;
        size_t u = ev_order[i];
        ix->refs[ix->n_refs++] = (replay_ref){.time = e->event_time,
                                              .kind = 0,
                                              .rank = (uint32_t)ix->orders[u].rank,
                                              .sub = (uint32_t)e->stage,
                                              .ev = (uint32_t)i,
                                              .ord = (uint32_t)u};
    }
    rc = 0;
done:
    free(p);
    free(ev_order);
    return rc;
}

typedef struct rev_ptr {
    const sf_review_event *r;
    size_t i;    /* index in the input */
    size_t ord;  /* its order */
    size_t rank; /* its order's rank */
} rev_ptr;

static int cmp_key_order(const void *key, const void *elem)
{
    return strcmp(key, ((const order_ix *)elem)->id->order_id);
}

/* by order, then creation, answer time, review_id, input position */
static int cmp_review(const void *pa, const void *pb)
{
    const rev_ptr *x = pa, *y = pb;
    const sf_review_event *a = x->r, *b = y->r;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    if (a->answered != b->answered)
        return a->answered < b->answered ? -1 : 1;
    int c = strcmp(a->review_id, b->review_id);
    if (c)
        return c;
    return (x->i > y->i) - (x->i < y->i);
}

/* Each review to its order: the orders' labels, and a replay ref per timed review. */
static int index_reviews(const sf_training_events *in, events_ix *ix, sf_err *err)
{
    size_t n = in->n_reviews, k = 0;
    rev_ptr *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return sf_errf(err, "out of memory indexing %zu reviews", n);
    for (size_t i = 0; i < n; i++) {
        const sf_review_event *r = &in->reviews[i];
        const order_ix *o =
            bsearch(r->order_id, ix->orders, ix->n_orders, sizeof *ix->orders, cmp_key_order);
        if (!o) {
            ix->n_orphans++;
            continue;
        }
        size_t u = (size_t)(o - ix->orders);
        p[k++] = (rev_ptr){r, i, u, o->rank};
    }
    qsort(p, k, sizeof *p, cmp_review);
    for (size_t i = 0, place = 0; i < k; i++) {
        place = i > 0 && p[i].ord == p[i - 1].ord ? place + 1 : 0;
        ix->orders[p[i].ord].label = p[i].r->score; /* the last one stays */
        if (p[i].r->created == SF_TIME_NONE)
            continue;
        ix->refs[ix->n_refs++] = (replay_ref){.time = p[i].r->created,
                                              .kind = 1,
                                              .rank = (uint32_t)p[i].rank,
                                              .sub = (uint32_t)place,
                                              .ev = (uint32_t)p[i].i,
                                              .ord = (uint32_t)p[i].ord};
    }
    free(p);
    return 0;
}

/* time, then order events before reviews, then order rank, then stage or place */
static int cmp_ref(const void *pa, const void *pb)
{
    const replay_ref *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    return (a->sub > b->sub) - (a->sub < b->sub);
}

static int index_events(const sf_training_events *in, events_ix *ix, sf_err *err)
{
    memset(ix, 0, sizeof *ix);
    if (in->n_orders > REF_MAX || in->n_stages > REF_MAX || in->n_reviews > REF_MAX)
        return sf_errf(err, "more than %u orders, stages or reviews to index", REF_MAX);
    size_t cap = (in->stages ? in->n_stages : in->n_orders) + in->n_reviews;
    ix->refs = malloc((cap ? cap : 1) * sizeof *ix->refs);
    if (!ix->refs)
        return sf_errf(err, "out of memory for %zu events", cap);
    if (index_orders(in, ix, err) != 0 || index_reviews(in, ix, err) != 0) {
        ix_free(ix);
        return -1;
    }
    qsort(ix->refs, ix->n_refs, sizeof *ix->refs, cmp_ref);
    return 0;
}

/* ---- the replay ----------------------------------------------------------- */

/* An event that carries only the order's identity and items, for updates. */
static void identity_event(const sf_order_event *o, sf_order_event *ev)
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

/* The order event of ref r (kind 0): in the compact form rebuilt into buf. */
static const sf_order_event *order_event(const sf_training_events *in, const events_ix *ix,
                                         const replay_ref *r, sf_order_event *buf)
{
    if (!in->stages)
        return &in->orders[r->ev];
    const sf_stage_at *a = &in->stages[r->ev];
    sf_order_event_at(ix->orders[r->ord].id, a->stage, a->time, buf);
    return buf;
}

static int apply_update(sf_history *h, const sf_training_events *in, const events_ix *ix,
                        const replay_ref *r, sf_err *err)
{
    sf_order_event ev;
    identity_event(ix->orders[r->ord].id, &ev);
    if (r->kind == 1) {
        int score = in->reviews[r->ev].score;
        if (score < 1 || score > 5)
            return 0; /* the loader and the codec reject these; never count them */
        return sf_history_add_review(h, &ev, score, err);
    }
    sf_order_event buf;
    const sf_order_event *e = order_event(in, ix, r, &buf);
    if (e->stage == SF_STAGE_PURCHASED)
        return sf_history_add_purchase(h, &ev, err);
    if (e->stage == SF_STAGE_DELIVERED)
        return sf_history_add_delivery(h, e, err);
    return 0;
}

/* Appends the row of order event ev of order o to ex: 1, or -1 out of memory. */
static int add_row(sf_examples *ex, size_t *cap, const order_ix *o, const sf_order_event *ev,
                   const sf_history *h)
{
    if (ex->n == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        if (ex_reserve(ex, *cap, ex->d) < 0)
            return -1;
    }
    size_t k = ex->n++;
    sf_features_compute(ex->spec, ev, h, ex->x + k * ex->d);
    ex->label[k] = (float)o->label;
    ex->stage[k] = ev->stage;
    ex->purchase[k] = o->id->purchase;
    ex->event_time[k] = ev->event_time;
    ex->order[k] = o->rank;
    return 1;
}

/* The rows of order event ref r in each of the n_ex row sets, when its order
 * is labeled and in the window: 0, or -1 out of memory. */
static int add_rows(sf_examples *ex, size_t *cap, int n_ex, const sf_training_events *in,
                    const events_ix *ix, const replay_ref *r, const sf_history *h, int64_t from,
                    int64_t to)
{
    const order_ix *o = &ix->orders[r->ord];
    int64_t purchase = o->id->purchase;
    if ((from != SF_TIME_NONE && purchase < from) || (to != SF_TIME_NONE && purchase >= to))
        return 0;
    if (o->label < 1)
        return 0;
    sf_order_event buf;
    const sf_order_event *ev = order_event(in, ix, r, &buf);
    for (int k = 0; k < n_ex; k++)
        if (add_row(&ex[k], &cap[k], o, ev, h) < 0)
            return -1;
    return 0;
}

/* ---- handing back what the replay is done with (drop_as_read) ------------ */

#define DROP_CHUNK 1024 /* orders */

/* The compact events in chunks of DROP_CHUNK orders (in->orders' order):
 * once every ref of every order of a chunk is replayed, the chunk's part of
 * the orders and of the items and payments (when they lie in one array in
 * the orders' order, as the loader places them) goes; the refs go as they
 * are passed. A straggler keeps only its own chunk. The stages (in time
 * order, 16 bytes each) stay. */
typedef struct dropper {
    uint32_t *last;     /* per order: one past the position of its last ref, 0 none */
    uint32_t *left;     /* per chunk: orders with refs still to replay */
    const char **lo[2]; /* per chunk + 1: where its items (payments) start */
    size_t n_chunks, pos;
    uintptr_t refs_mark;
} dropper;

static uintptr_t page_up(uintptr_t a, uintptr_t pg)
{
    return (a + pg - 1) & ~(pg - 1);
}

/* Hands back the whole pages of [lo, hi). */
static void drop_range(const void *lo, const void *hi)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0)
        return;
    uintptr_t a = page_up((uintptr_t)lo, (uintptr_t)pg), b = (uintptr_t)hi & ~((uintptr_t)pg - 1);
    if (b > a)
        madvise((void *)a, b - a, MADV_DONTNEED);
}

static void dropper_free(dropper *d)
{
    free(d->last);
    free(d->left);
    free(d->lo[0]);
    free(d->lo[1]);
    memset(d, 0, sizeof *d);
}

/* Where the items (k 1: payments) of orders [j, n) start, or end when none
 * has any; NULL when they do not lie one after another in the orders' order
 * (nothing of them is dropped then). */
static int chunk_starts(const sf_training_events *in, int k, size_t n_chunks, const char **lo)
{
    const char *end = NULL, *first = NULL;
    size_t n = in->n_orders;
    for (size_t j = 0; j < n; j++) {
        const sf_order_event *o = &in->orders[j];
        const char *p = k ? (const char *)o->payments : (const char *)o->items;
        size_t c = k ? (size_t)o->n_payments : (size_t)o->n_items;
        if (!c)
            continue;
        if (!p || (end && p < end))
            return -1;
        if (!first)
            first = p;
        end = p + c * (k ? sizeof *o->payments : sizeof *o->items);
    }
    lo[n_chunks] = end;
    for (size_t c = n_chunks; c-- > 0;) {
        lo[c] = lo[c + 1];
        size_t hi = (c + 1) * DROP_CHUNK < n ? (c + 1) * DROP_CHUNK : n;
        for (size_t j = hi; j-- > c * DROP_CHUNK;) {
            const sf_order_event *o = &in->orders[j];
            if (k ? o->n_payments : o->n_items)
                lo[c] = k ? (const char *)o->payments : (const char *)o->items;
        }
    }
    (void)first;
    return 0;
}

/* Without drop_as_read or the compact form, nothing is dropped (d->last NULL); out of memory only
 * drops less. */
static void dropper_init(dropper *d, const sf_training_events *in, const events_ix *ix)
{
    memset(d, 0, sizeof *d);
    size_t n = in->n_orders;
    if (!in->drop_as_read || !in->stages || !n || ix->n_refs >= UINT32_MAX)
        return;
    d->n_chunks = (n + DROP_CHUNK - 1) / DROP_CHUNK;
    d->last = calloc(n, sizeof *d->last);
    d->left = calloc(d->n_chunks, sizeof *d->left);
    for (int k = 0; k < 2; k++)
        d->lo[k] = malloc((d->n_chunks + 1) * sizeof *d->lo[k]);
    if (!d->last || !d->left || !d->lo[0] || !d->lo[1]) {
        dropper_free(d);
        return;
    }
    for (size_t i = 0; i < ix->n_refs; i++) {
        size_t j = (size_t)(ix->orders[ix->refs[i].ord].id - in->orders);
        if (j < n)
            d->last[j] = (uint32_t)(i + 1);
    }
    for (size_t j = 0; j < n; j++)
        d->left[j / DROP_CHUNK] += d->last[j] > 0;
    for (int k = 0; k < 2; k++)
        if (chunk_starts(in, k, d->n_chunks, d->lo[k]) < 0) {
            free(d->lo[k]);
            d->lo[k] = NULL;
        }
}

/* Refs [d->pos, pos) are replayed: hands back the refs and every chunk all
 * of whose orders are done. */
static void dropper_advance(dropper *d, const sf_training_events *in, const events_ix *ix,
                            size_t pos)
{
    if (!d->last)
        return;
    for (size_t i = d->pos; i < pos; i++) {
        size_t j = (size_t)(ix->orders[ix->refs[i].ord].id - in->orders);
        if (j >= in->n_orders || d->last[j] != i + 1)
            continue;
        size_t c = j / DROP_CHUNK;
        if (--d->left[c] > 0)
            continue;
        size_t hi = (c + 1) * DROP_CHUNK < in->n_orders ? (c + 1) * DROP_CHUNK : in->n_orders;
        drop_range(in->orders + c * DROP_CHUNK, in->orders + hi);
        for (int k = 0; k < 2; k++)
            if (d->lo[k] && d->lo[k][c] && d->lo[k][c + 1])
                drop_range(d->lo[k][c], d->lo[k][c + 1]);
    }
    d->pos = pos;
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0)
        return;
    if (!d->refs_mark)
        d->refs_mark = page_up((uintptr_t)ix->refs, (uintptr_t)pg);
    uintptr_t b = (uintptr_t)(ix->refs + pos) & ~((uintptr_t)pg - 1);
    if (b > d->refs_mark) {
        madvise((void *)d->refs_mark, b - d->refs_mark, MADV_DONTNEED);
        d->refs_mark = b;
    }
}

/* Replays the events whose time is in [t0, t1) (SF_TIME_NONE = open end):
 * rows of the n_ex row sets (none when ex is NULL) and updates; the others
 * are skipped, their updates being already in h (before t0) or left out
 * (from t1 on). */
static int replay(sf_examples *ex, int n_ex, const sf_training_events *in, const events_ix *ix,
                  sf_history *h, int64_t from, int64_t to, int64_t t0, int64_t t1, sf_err *err)
{
    size_t cap[2] = {0, 0}, n = ix->n_refs;
    const replay_ref *refs = ix->refs;
    dropper d;
    dropper_init(&d, in, ix);
    size_t dropped = 0;
    for (size_t a = 0; a < n;) {
        if (a - dropped >= 4096) { /* every few thousand events */
            dropper_advance(&d, in, ix, a);
            dropped = a;
        }
        size_t b = a;
        while (b < n && refs[b].time == refs[a].time)
            b++;
        if (refs[a].time < t0 || (t1 != SF_TIME_NONE && refs[a].time >= t1)) {
            a = b;
            continue;
        }
        for (size_t i = a; ex && i < b; i++)
            if (refs[i].kind == 0 && add_rows(ex, cap, n_ex, in, ix, &refs[i], h, from, to) < 0) {
                dropper_free(&d);
                return sf_errf(err, "out of memory for %zu rows", ex->n);
            }
        for (size_t i = a; i < b; i++)
            if (apply_update(h, in, ix, &refs[i], err) < 0) {
                dropper_free(&d);
                return -1;
            }
        a = b;
    }
    dropper_free(&d);
    return 0;
}

/* The rows of n_ex (1 or 2) specs in one replay, from an empty history or
 * from start (sf_training_rows_build_from). */
static int build(sf_examples *ex, const sf_feature_spec *const *spec, int n_ex,
                 const sf_training_events *in, int64_t from, int64_t to, sf_history *start,
                 int64_t start_time, sf_history **hist_out, sf_err *err)
{
    for (int k = 0; k < n_ex; k++) {
        memset(&ex[k], 0, sizeof ex[k]);
        ex[k].spec = spec[k];
        ex[k].d = (size_t)spec[k]->n;
    }
    if (hist_out && !start)
        *hist_out = NULL;
    events_ix ix;
    if (index_events(in, &ix, err) != 0)
        return sf_err_wrap(err, "building training rows");
    for (int k = 0; k < n_ex; k++) {
        ex[k].n_orders = ix.n_orders;
        ex[k].n_orphan_reviews = ix.n_orphans;
    }
    sf_history *h = start ? start : sf_history_new();
    if (!h) {
        ix_free(&ix);
        return sf_errf(err, "building training rows: out of memory");
    }
    int rc = replay(ex, n_ex, in, &ix, h, from, to, start ? start_time : SF_TIME_NONE, SF_TIME_NONE,
                    err);
    ix_free(&ix);
    if (rc != 0) {
        if (!start)
            sf_history_free(h);
        for (int k = 0; k < n_ex; k++)
            sf_examples_free(&ex[k]);
        return sf_err_wrap(err, "building training rows");
    }
    if (start)
        return 0;
    if (hist_out)
        *hist_out = h;
    else
        sf_history_free(h);
    return 0;
}

int sf_training_rows_build(sf_examples *ex, const sf_training_events *in,
                           const sf_feature_spec *spec, int64_t from, int64_t to,
                           sf_history **hist_out, sf_err *err)
{
    return build(ex, &spec, 1, in, from, to, NULL, SF_TIME_NONE, hist_out, err);
}

int sf_training_rows_build2(sf_examples ex[2], const sf_feature_spec *const spec[2],
                            const sf_training_events *in, int64_t from, int64_t to,
                            sf_history **hist_out, sf_err *err)
{
    return build(ex, spec, 2, in, from, to, NULL, SF_TIME_NONE, hist_out, err);
}

int sf_training_rows_build_from(sf_examples *ex, const sf_training_events *in,
                                const sf_feature_spec *spec, int64_t from, int64_t to,
                                sf_history *start, int64_t start_time, sf_history **hist_out,
                                sf_err *err)
{
    return build(ex, &spec, 1, in, from, to, start, start_time, hist_out, err);
}

int sf_training_rows_build2_from(sf_examples ex[2], const sf_feature_spec *const spec[2],
                                 const sf_training_events *in, int64_t from, int64_t to,
                                 sf_history *start, int64_t start_time, sf_err *err)
{
    return build(ex, spec, 2, in, from, to, start, start_time, NULL, err);
}

int sf_training_history_advance(sf_history *h, const sf_training_events *in, int64_t t0, int64_t t1,
                                sf_err *err)
{
    events_ix ix;
    if (index_events(in, &ix, err) != 0)
        return sf_err_wrap(err, "advancing the history");
    int rc = replay(NULL, 0, in, &ix, h, SF_TIME_NONE, SF_TIME_NONE, t0, t1, err);
    ix_free(&ix);
    return rc != 0 ? sf_err_wrap(err, "advancing the history") : 0;
}

int sf_examples_select(const sf_examples *src, const size_t *idx, size_t n, sf_examples *dst,
                       sf_err *err)
{
    memset(dst, 0, sizeof *dst);
    dst->spec = src->spec;
    dst->d = src->d;
    dst->n_orders = src->n_orders;
    dst->n_orphan_reviews = src->n_orphan_reviews;
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

/* The time split's side of every row of src (1 = newer) into *side
 * (malloc'd): the rows of the newest `frac` of distinct (purchase, order)
 * keys. Returns the cut time, or SF_TIME_NONE with err set. */
static int64_t time_sides(const sf_examples *src, double frac, unsigned char **side, sf_err *err)
{
    *side = NULL;
    if (!(frac > 0 && frac < 1)) {
        sf_errf(err, "time split: fraction %g must be strictly between 0 and 1", frac);
        return SF_TIME_NONE;
    }
    if (src->n == 0) {
        sf_errf(err, "time split: no examples");
        return SF_TIME_NONE;
    }
    okey *keys = malloc(src->n * sizeof *keys);
    *side = malloc(src->n);
    if (!keys || !*side) {
        free(keys);
        free(*side);
        *side = NULL;
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
    for (size_t i = 0; i < src->n; i++) {
        okey k = {src->purchase[i], src->order[i]};
        (*side)[i] = okey_cmp(&k, &cut) >= 0;
    }
    return cut.purchase;
}

int64_t sf_examples_time_split(const sf_examples *src, double frac, sf_examples *older,
                               sf_examples *newer, sf_err *err)
{
    unsigned char *side;
    int64_t cut = time_sides(src, frac, &side, err);
    if (cut == SF_TIME_NONE)
        return SF_TIME_NONE;
    size_t *lo = malloc(src->n * sizeof *lo), *hi = malloc(src->n * sizeof *hi);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        free(side);
        sf_errf(err, "time split: out of memory");
        return SF_TIME_NONE;
    }
    size_t nl = 0, nh = 0;
    for (size_t i = 0; i < src->n; i++) {
        if (side[i])
            hi[nh++] = i;
        else
            lo[nl++] = i;
    }
    free(side);
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
    return rc < 0 ? SF_TIME_NONE : cut;
}

int64_t sf_examples_time_partition(sf_examples *ex, double frac, sf_examples *older,
                                   sf_examples *newer, sf_err *err)
{
    unsigned char *side;
    int64_t cut = time_sides(ex, frac, &side, err);
    if (cut == SF_TIME_NONE)
        return SF_TIME_NONE;
    size_t nl = sf_examples_partition(ex, side, err);
    free(side);
    if (nl == (size_t)-1)
        return SF_TIME_NONE;
    if (older)
        sf_examples_view(ex, 0, nl, older);
    if (newer)
        sf_examples_view(ex, nl, ex->n - nl, newer);
    return cut;
}

/* One row held aside while a cycle of a permutation is walked. */
typedef struct row_tmp {
    float *x, label;
    sf_stage stage;
    int64_t purchase, event_time;
    size_t order;
} row_tmp;

static void row_get(const sf_examples *ex, size_t i, row_tmp *t)
{
    memcpy(t->x, ex->x + i * ex->d, ex->d * sizeof *ex->x);
    t->label = ex->label[i];
    t->stage = ex->stage[i];
    t->purchase = ex->purchase[i];
    t->event_time = ex->event_time[i];
    t->order = ex->order[i];
}

static void row_put(sf_examples *ex, size_t i, const row_tmp *t)
{
    memcpy(ex->x + i * ex->d, t->x, ex->d * sizeof *ex->x);
    ex->label[i] = t->label;
    ex->stage[i] = t->stage;
    ex->purchase[i] = t->purchase;
    ex->event_time[i] = t->event_time;
    ex->order[i] = t->order;
}

size_t sf_examples_partition(sf_examples *ex, const unsigned char *side, sf_err *err)
{
    size_t n = ex->n, n0 = 0;
    for (size_t i = 0; i < n; i++)
        n0 += !side[i];
    if (n0 == 0 || n0 == n)
        return n0;
    /* dest[i]: the slot of row i; each cycle of the permutation is walked
     * once, carrying one row in a and parking the displaced one in b */
    size_t *dest = malloc(n * sizeof *dest);
    float *xa = malloc((ex->d ? ex->d : 1) * sizeof *xa);
    float *xb = malloc((ex->d ? ex->d : 1) * sizeof *xb);
    if (!dest || !xa || !xb) {
        free(dest);
        free(xa);
        free(xb);
        sf_errf(err, "partitioning %zu rows: out of memory", n);
        return (size_t)-1;
    }
    for (size_t i = 0, k0 = 0, k1 = n0; i < n; i++)
        dest[i] = side[i] ? k1++ : k0++;
    row_tmp a = {.x = xa}, b = {.x = xb};
    for (size_t i = 0; i < n; i++) {
        if (dest[i] == i || dest[i] == SIZE_MAX)
            continue;
        row_get(ex, i, &a);
        size_t j = dest[i];
        dest[i] = SIZE_MAX;
        while (j != i) {
            row_get(ex, j, &b);
            row_put(ex, j, &a);
            row_tmp t = a;
            a = b;
            b = t;
            size_t next = dest[j];
            dest[j] = SIZE_MAX;
            j = next;
        }
        row_put(ex, i, &a);
    }
    free(dest);
    free(xa);
    free(xb);
    return n0;
}

void sf_examples_view(const sf_examples *src, size_t from, size_t n, sf_examples *dst)
{
    *dst = *src;
    dst->view = 1;
    dst->n = n;
    dst->x = src->x + from * src->d;
    dst->label = src->label + from;
    dst->stage = src->stage + from;
    dst->purchase = src->purchase + from;
    dst->event_time = src->event_time + from;
    dst->order = src->order + from;
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
