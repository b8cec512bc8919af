/*
 * olist.c - reads the nine Olist tables and joins them into one record per
 * order (see satisfy/olist.h; the cleaning policy is docs/data.md).
 *
 * Tables are read in dependency order so that every join is a hash lookup
 * while streaming: translation, geolocation (summed per zip prefix),
 * products, sellers, customers, orders (then sorted by purchase time), and
 * finally items, payments and reviews, which are kept compact (indices, not
 * copies) until the end, then bucketed per order with a counting sort and
 * written once into the dataset's arena.
 *
 * Every row is checked field by field. A bad value is reported as
 * "file:line: column 'c': value 'v': why", counted in skipped[table], and the
 * row is left out (or, in strict mode, the load fails with that message). A
 * row that refers to an order, customer, product or seller that is not there
 * (or was itself skipped) is bad too: nothing is dropped without a report.
 */
#include "satisfy/olist.h"
#include "olist_impl.h"

#include <math.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/csvfile.h"
#include "satisfy/grow.h"
#include "satisfy/idmap.h"

static const char *const table_files[SF_T_COUNT] = {
    "olist_orders_dataset",        "olist_order_items_dataset", "olist_order_payments_dataset",
    "olist_order_reviews_dataset", "olist_customers_dataset",   "olist_products_dataset",
    "olist_sellers_dataset",       "olist_geolocation_dataset", "product_category_name_translation",
};

static const char *const table_short[SF_T_COUNT] = {
    "orders",   "items",   "payments",    "reviews",     "customers",
    "products", "sellers", "geolocation", "translation",
};

static const char *const status_names[SF_STATUS_COUNT] = {
    "created", "approved",  "invoiced", "processing",
    "shipped", "delivered", "canceled", "unavailable",
};

const char *sf_table_file(sf_table t)
{
    return (unsigned)t < SF_T_COUNT ? table_files[t] : "?";
}

const char *sf_status_name(sf_order_status s)
{
    return (unsigned)s < SF_STATUS_COUNT ? status_names[s] : "?";
}

int sf_status_parse(const char *name, sf_order_status *out)
{
    for (int i = 0; i < SF_STATUS_COUNT; i++)
        if (strcmp(name, status_names[i]) == 0) {
            *out = (sf_order_status)i;
            return 0;
        }
    return -1;
}

/* ---- arena: a list of blocks freed together ---------------------------- */

typedef struct ablock {
    struct ablock *next;
    size_t used, cap;
    bool own; /* one big array alone (olist_arena_release can free it) */
    alignas(max_align_t) unsigned char data[];
} ablock;

struct olist_arena {
    ablock *head;
};

#define ARENA_BLOCK (1u << 20)

void *olist_arena_alloc(olist_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        return NULL;
    if (a->head && a->head->cap - a->head->used >= n) {
        void *p = a->head->data + a->head->used;
        a->head->used += n;
        return p;
    }
    size_t cap = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
    ablock *b = malloc(sizeof *b + cap);
    if (!b)
        return NULL;
    b->cap = cap;
    b->used = n;
    b->own = n == cap;
    if (n == cap && a->head) { /* a big array: keep the current block current */
        b->next = a->head->next;
        a->head->next = b;
    } else {
        b->next = a->head;
        a->head = b;
    }
    return b->data;
}

/* Frees the big array p before the rest when it has a block of its own;
 * otherwise (a small array sharing a block) it stays until the arena goes. */
static void olist_arena_release(olist_arena *a, const void *p)
{
    for (ablock **pp = &a->head; p && *pp; pp = &(*pp)->next)
        if ((*pp)->own && (const void *)(*pp)->data == p) {
            ablock *b = *pp;
            *pp = b->next;
            free(b);
            return;
        }
}

void olist_arena_free(olist_arena *a)
{
    if (!a)
        return;
    for (ablock *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

/* ---- the join ---------------------------------------------------------- */

typedef struct okey {
    int64_t t;
    const char *id;
    size_t idx;
} okey;

static int cmp_okey(const void *a, const void *b)
{
    const okey *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Sorts the loaded orders into the arena; fills newpos. */
static int place_orders(loader *L, sf_dataset *ds)
{
    size_t n = L->orders.n;
    const sf_order *src = L->orders.p;
    okey *keys = malloc((n ? n : 1) * sizeof *keys);
    L->newpos = malloc((n ? n : 1) * sizeof *L->newpos);
    ds->orders = olist_arena_alloc(L->ar, n * sizeof *ds->orders);
    if (!keys || !L->newpos || (n && !ds->orders)) {
        free(keys);
        return sf_errf(L->err, "orders: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = (okey){src[i].purchase, src[i].order_id, i};
    qsort(keys, n, sizeof *keys, cmp_okey);
    for (size_t r = 0; r < n; r++) {
        ds->orders[r] = src[keys[r].idx];
        L->newpos[keys[r].idx] = r;
    }
    ds->n_orders = n;
    free(keys);
    return 0;
}

/* start[o] = first slot of order o in a bucketed array of n elements whose
 * order index is at `order_of(i)`; returns a malloc'd array of n_orders + 1. */
static size_t *bucket_starts(const void *base, size_t n, size_t elsize, size_t n_orders)
{
    size_t *start = calloc(n_orders + 1, sizeof *start);
    if (!start)
        return NULL;
    for (size_t i = 0; i < n; i++)
        start[*(const size_t *)((const char *)base + i * elsize) + 1]++;
    for (size_t o = 0; o < n_orders; o++)
        start[o + 1] += start[o];
    return start;
}

static int review_before(const sf_review_event *a, const sf_review_event *b)
{
    if (a->created != b->created)
        return a->created < b->created;
    if (a->answered != b->answered)
        return a->answered < b->answered;
    return strcmp(a->review_id, b->review_id) < 0;
}

static int join(loader *L, sf_dataset *ds)
{
    size_t no = ds->n_orders;
    const product *prods = L->prods.p;
    const seller *sellers = L->sellers.p;

    /* items */
    const titem *ti = L->items.p;
    size_t *start = bucket_starts(ti, L->items.n, sizeof *ti, no);
    sf_item *items = olist_arena_alloc(L->ar, L->items.n * sizeof *items);
    if (!start || (L->items.n && !items))
        goto oom;
    for (size_t i = 0; i < L->items.n; i++) {
        sf_item *it = &items[start[ti[i].order]++];
        const product *p = &prods[ti[i].product];
        const seller *s = &sellers[ti[i].seller];
        it->seq = ti[i].seq;
        memcpy(it->product_id, p->id, sizeof it->product_id);
        memcpy(it->seller_id, s->id, sizeof it->seller_id);
        it->price = ti[i].price;
        it->freight = ti[i].freight;
        it->shipping_limit = ti[i].shipping_limit;
        memcpy(it->category, p->category, sizeof it->category);
        it->name_len = p->name_len;
        it->desc_len = p->desc_len;
        it->photos = p->photos;
        it->weight_g = p->weight_g;
        it->length_cm = p->length_cm;
        it->height_cm = p->height_cm;
        it->width_cm = p->width_cm;
        it->seller = s->place;
    }
    /* start[o] is now the end of bucket o, start[o - 1] its beginning */
    for (size_t o = 0; o < no; o++) {
        size_t b = o ? start[o - 1] : 0, e = start[o];
        ds->orders[o].items = e > b ? items + b : NULL;
        ds->orders[o].n_items = (int)(e - b);
        for (size_t i = b + 1; i < e; i++) /* insertion sort by order_item_id */
            for (size_t j = i; j > b && items[j].seq < items[j - 1].seq; j--) {
                sf_item tmp = items[j];
                items[j] = items[j - 1];
                items[j - 1] = tmp;
            }
    }
    free(start);
    ds->n_items = L->items.n;

    /* payments */
    const tpay *tp = L->pays.p;
    start = bucket_starts(tp, L->pays.n, sizeof *tp, no);
    sf_payment *pays = olist_arena_alloc(L->ar, L->pays.n * sizeof *pays);
    if (!start || (L->pays.n && !pays))
        goto oom;
    for (size_t i = 0; i < L->pays.n; i++)
        pays[start[tp[i].order]++] = tp[i].p;
    for (size_t o = 0; o < no; o++) {
        size_t b = o ? start[o - 1] : 0, e = start[o];
        ds->orders[o].payments = e > b ? pays + b : NULL;
        ds->orders[o].n_payments = (int)(e - b);
        for (size_t i = b + 1; i < e; i++)
            for (size_t j = i; j > b && pays[j].seq < pays[j - 1].seq; j--) {
                sf_payment tmp = pays[j];
                pays[j] = pays[j - 1];
                pays[j - 1] = tmp;
            }
    }
    free(start);
    ds->n_payments = L->pays.n;

    /* reviews */
    const trev *tr = L->revs.p;
    start = bucket_starts(tr, L->revs.n, sizeof *tr, no);
    sf_review_event *revs = olist_arena_alloc(L->ar, L->revs.n * sizeof *revs);
    if (!start || (L->revs.n && !revs))
        goto oom;
    for (size_t i = 0; i < L->revs.n; i++)
        revs[start[tr[i].order]++] = tr[i].r;
    for (size_t o = 0; o < no; o++) {
        size_t b = o ? start[o - 1] : 0, e = start[o];
        ds->orders[o].reviews = e > b ? revs + b : NULL;
        ds->orders[o].n_reviews = (int)(e - b);
        for (size_t i = b + 1; i < e; i++)
            for (size_t j = i; j > b && review_before(&revs[j], &revs[j - 1]); j--) {
                sf_review_event tmp = revs[j];
                revs[j] = revs[j - 1];
                revs[j - 1] = tmp;
            }
    }
    free(start);
    ds->n_reviews = L->revs.n;
    return 0;
oom:
    free(start);
    return sf_errf(L->err, "join: out of memory");
}

/* ---- entry points ------------------------------------------------------ */

static void loader_init(loader *L, const char *dir, const sf_load_opts *opts, sf_err *err)
{
    memset(L, 0, sizeof *L);
    L->dir = dir;
    L->err = err;
    L->strict = opts && opts->strict;
    L->report = opts && opts->report ? opts->report : stderr;
    L->max_reports = opts && opts->max_reports ? opts->max_reports : 20;
    L->tr_en = (sf_vec){.size = SF_TEXT_SHORT};
    L->geos = SF_VEC(geo);
    L->prods = SF_VEC(product);
    L->sellers = SF_VEC(seller);
    L->custs = SF_VEC(customer);
    L->orders = SF_VEC(sf_order);
    L->items = SF_VEC(titem);
    L->pays = SF_VEC(tpay);
    L->revs = SF_VEC(trev);
}

static void loader_free(loader *L)
{
    sf_idmap *maps[] = {L->tr, L->geo, L->prod, L->sell, L->cust, L->ord};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++)
        sf_idmap_free(maps[i]);
    sf_vec *vecs[] = {&L->tr_en,  &L->geos,  &L->prods, &L->sellers, &L->custs,
                      &L->orders, &L->items, &L->pays,  &L->revs};
    for (size_t i = 0; i < sizeof vecs / sizeof *vecs; i++)
        sf_vec_free(vecs[i]);
    free(L->newpos);
}

/* One line on the report stream when rows were skipped. */
static void summary(loader *L)
{
    size_t total = 0;
    for (int t = 0; t < SF_T_COUNT; t++)
        total += L->skipped[t];
    if (!total)
        return;
    fprintf(L->report, "olist %s: %zu bad rows skipped (", L->dir, total);
    const char *sep = "";
    for (int t = 0; t < SF_T_COUNT; t++)
        if (L->skipped[t]) {
            fprintf(L->report, "%s%s %zu", sep, table_short[t], L->skipped[t]);
            sep = ", ";
        }
    fprintf(L->report, ")");
    if (L->reported > L->max_reports)
        fprintf(L->report, "; %zu not shown", L->reported - L->max_reports);
    fprintf(L->report, "\n");
}

static const sf_table load_order[SF_T_COUNT] = {
    SF_T_TRANSLATION, SF_T_GEOLOCATION, SF_T_PRODUCTS, SF_T_SELLERS, SF_T_CUSTOMERS,
    SF_T_ORDERS,      SF_T_ITEMS,       SF_T_PAYMENTS, SF_T_REVIEWS,
};

int sf_dataset_load(sf_dataset *ds, const char *dir, const sf_load_opts *opts, sf_err *err)
{
    memset(ds, 0, sizeof *ds);
    loader L;
    loader_init(&L, dir, opts, err);
    L.join = true;
    L.ar = calloc(1, sizeof *L.ar);
    L.tr = sf_idmap_new(128);
    L.geo = sf_idmap_new(1 << 14);
    L.prod = sf_idmap_new(1 << 14);
    L.sell = sf_idmap_new(1 << 12);
    L.cust = sf_idmap_new(1 << 16);
    L.ord = sf_idmap_new(1 << 16);
    if (!L.ar || !L.tr || !L.geo || !L.prod || !L.sell || !L.cust || !L.ord) {
        sf_errf(err, "%s: out of memory", dir);
        goto fail;
    }
    for (int i = 0; i < SF_T_COUNT; i++) {
        if (olist_read_table(&L, load_order[i]) < 0)
            goto fail;
        if (load_order[i] == SF_T_ORDERS) {
            if (place_orders(&L, ds) < 0)
                goto fail;
            /* the orders are in the arena now, with their customers: the
             * loaded copies go before the items are read (400 MB at 1M) */
            sf_vec_free(&L.orders);
            sf_vec_free(&L.custs);
            sf_idmap_free(L.cust);
            L.cust = NULL;
        }
    }
    if (join(&L, ds) < 0)
        goto fail;
    memcpy(ds->rows, L.rows, sizeof ds->rows);
    memcpy(ds->skipped, L.skipped, sizeof ds->skipped);
    ds->arena = L.ar;
    summary(&L);
    loader_free(&L);
    return 0;
fail:
    loader_free(&L);
    olist_arena_free(L.ar);
    memset(ds, 0, sizeof *ds);
    return -1;
}

void sf_dataset_free(sf_dataset *ds)
{
    if (!ds)
        return;
    olist_arena_free(ds->arena);
    memset(ds, 0, sizeof *ds);
}

void sf_dataset_drop_orders(sf_dataset *ds)
{
    if (!ds->arena)
        return;
    const sf_review_event *revs = NULL;
    for (size_t o = 0; o < ds->n_orders && !revs; o++)
        revs = ds->orders[o].reviews; /* the first order's reviews start the array */
    olist_arena_release(ds->arena, revs);
    olist_arena_release(ds->arena, ds->orders);
    ds->orders = NULL;
    ds->n_orders = 0;
}

size_t sf_dataset_skipped(const sf_dataset *ds)
{
    size_t n = 0;
    for (int t = 0; t < SF_T_COUNT; t++)
        n += ds->skipped[t];
    return n;
}

int sf_table_check(const char *dir, sf_table t, const sf_load_opts *opts, size_t *rows,
                   size_t *skipped, sf_err *err)
{
    if ((unsigned)t >= SF_T_COUNT)
        return sf_errf(err, "no table %d", (int)t);
    loader L;
    loader_init(&L, dir, opts, err);
    sf_idmap **own = t == SF_T_TRANSLATION   ? &L.tr
                     : t == SF_T_GEOLOCATION ? &L.geo
                     : t == SF_T_PRODUCTS    ? &L.prod
                     : t == SF_T_SELLERS     ? &L.sell
                     : t == SF_T_CUSTOMERS   ? &L.cust
                     : t == SF_T_ORDERS      ? &L.ord
                                             : NULL;
    int rc = -1;
    if (own && !(*own = sf_idmap_new(1 << 12)))
        sf_errf(err, "%s: out of memory", dir);
    else
        rc = olist_read_table(&L, t);
    if (rc == 0)
        summary(&L);
    *rows = L.rows[t];
    *skipped = L.skipped[t];
    loader_free(&L);
    return rc;
}

int sf_order_label(const sf_order *o)
{
    const sf_review_event *r = sf_order_label_review(o);
    return r ? r->score : -1;
}

const sf_review_event *sf_order_label_review(const sf_order *o)
{
    return o->n_reviews > 0 ? &o->reviews[o->n_reviews - 1] : NULL;
}
