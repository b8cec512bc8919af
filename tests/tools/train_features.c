/*
 * train_features.c - the training side of the train/serve parity check
 * (tests/integration/scorer_parity.sh): the history features training
 * computes for every order event of a labeled order of --data (the rows of
 * sf_training_rows_build with the full spec, the same call batch training
 * makes), one line per event, in the scorer's --history-features format:
 *   event_id seller_review_mean seller_review_count seller_late_rate
 *            seller_delivered customer_orders customer_review_mean
 * followed by two numbers for the parity script: the event-time distance in
 * ms from the event back to the newest history update of its sellers and
 * customer strictly before it (-1 none), and forward to the first update at
 * or after it (-1 none); an update is a purchase (customer), a delivery
 * (sellers) or a review (sellers, customer). A live scorer may see an update
 * late or early by its propagation delay: an event with no update nearer
 * than that on either side must get exactly training's features.
 * usage: train_features --data DIR
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/features.h"
#include "satisfy/history.h"
#include "satisfy/idmap.h"
#include "satisfy/lifecycle.h"
#include "satisfy/olist.h"
#include "satisfy/training_rows.h"

static const char *const hist_names[] = {"seller_review_mean", "seller_review_count",
                                         "seller_late_rate",   "seller_delivered",
                                         "customer_orders",    "customer_review_mean"};
#define N_HIST 6

static int die(const char *m)
{
    fprintf(stderr, "train_features: %s\n", m);
    return 1;
}

/* Update times per entity key: a flat list of (key, time), sorted. */
typedef struct upd {
    uint64_t key;
    int64_t t;
} upd;
static upd *U;
static size_t nu, cu;

static void add(uint64_t key, int64_t t)
{
    if (t == SF_TIME_NONE)
        return;
    if (nu == cu) {
        cu = cu ? cu * 2 : 1024;
        U = realloc(U, cu * sizeof *U);
        if (!U)
            exit(die("out of memory"));
    }
    U[nu++] = (upd){key, t};
}

static int cmp_upd(const void *a, const void *b)
{
    const upd *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* The newest update of key before t and the first at or after t, leaving
 * out one at time skip (the order's own purchase: customer_orders counts
 * purchases strictly before the order's, so it never changes its features). */
static void nearest(uint64_t key, int64_t t, int64_t skip, int64_t *before, int64_t *after)
{
    size_t lo = 0, hi = nu; /* first (key, >= t) */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (U[mid].key < key || (U[mid].key == key && U[mid].t < t))
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t at = lo < nu && U[lo].key == key && U[lo].t == skip ? lo + 1 : lo;
    if (at < nu && U[at].key == key) {
        int64_t d = U[at].t - t;
        if (*after < 0 || d < *after)
            *after = d;
    }
    if (lo > 0 && U[lo - 1].key == key) {
        int64_t d = t - U[lo - 1].t;
        if (*before < 0 || d < *before)
            *before = d;
    }
}

/* Customer keys are 'c' | hash and seller keys 's' | hash apart from
 * collisions of the two 64-bit hashes, which would only widen a distance. */
static uint64_t ckey(const sf_order_event *ev)
{
    return sf_history_customer_key(ev->customer_unique_id) ^ 0x6300000000000000ULL;
}

static const sf_training_events *G; /* for cmp_rank */

static int cmp_rank(const void *a, const void *b)
{
    const sf_order_event *x = &G->orders[*(const size_t *)a], *y = &G->orders[*(const size_t *)b];
    if (x->purchase != y->purchase)
        return x->purchase < y->purchase ? -1 : 1;
    return strcmp(x->order_id, y->order_id);
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {{"data", required_argument, NULL, 'd'},
                                          {NULL, 0, NULL, 0}};
    const char *data = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "d:", lopts, NULL)) != -1)
        if (c == 'd')
            data = optarg;
        else
            return 2;
    if (!data)
        return fprintf(stderr, "usage: train_features --data DIR\n"), 2;
    sf_err err;
    sf_dataset ds;
    sf_load_opts lo = {.strict = false, .report = stderr};
    if (sf_dataset_load(&ds, data, &lo, &err) != 0)
        return die(err.msg);
    sf_training_events ev = {0};
    if (sf_lifecycle_events(&ds, &ev.orders, &ev.n_orders, &ev.reviews, &ev.n_reviews, &err) != 0)
        return die(err.msg);
    const sf_feature_spec *spec = sf_spec_full();
    sf_examples ex;
    if (sf_training_rows_build(&ex, &ev, spec, SF_TIME_NONE, SF_TIME_NONE, NULL, &err) != 0)
        return die(err.msg);
    int cols[N_HIST];
    for (int i = 0; i < N_HIST; i++)
        if ((cols[i] = sf_spec_index(spec, hist_names[i])) < 0)
            return die("a history feature is missing from the full spec");

    /* the orders by (purchase time, order_id): ex.order[] is a rank among
     * them; byid: order id -> its first event */
    size_t *rank = malloc(ev.n_orders * sizeof *rank), n_distinct = 0;
    sf_idmap *byid = sf_idmap_new(ev.n_orders);
    if (!rank || !byid)
        return die("out of memory");
    for (size_t i = 0; i < ev.n_orders; i++) {
        const sf_order_event *o = &ev.orders[i];
        int rc = sf_idmap_put(byid, o->order_id, strlen(o->order_id), i, NULL);
        if (rc < 0)
            return die("out of memory");
        if (rc == 1)
            rank[n_distinct++] = i;
        if (o->stage == SF_STAGE_PURCHASED)
            add(ckey(o), o->purchase);
        if (o->stage == SF_STAGE_DELIVERED)
            for (int k = 0; k < o->n_items; k++)
                add(sf_history_seller_key(o->items[k].seller_id), o->delivered);
    }
    if (n_distinct != ex.n_orders)
        return die("distinct orders differ from the rows' count");
    G = &ev;
    qsort(rank, n_distinct, sizeof *rank, cmp_rank);
    for (size_t r = 0; r < ev.n_reviews; r++) {
        size_t at;
        const char *oid = ev.reviews[r].order_id;
        if (sf_idmap_get(byid, oid, strlen(oid), &at) < 0)
            continue;
        const sf_order_event *o = &ev.orders[at];
        add(ckey(o), ev.reviews[r].created);
        for (int k = 0; k < o->n_items; k++)
            add(sf_history_seller_key(o->items[k].seller_id), ev.reviews[r].created);
    }
    qsort(U, nu, sizeof *U, cmp_upd);

    /* (order, stage) -> the event, for its id and entities */
    for (size_t i = 0; i < ex.n; i++) {
        const sf_order_event *o0 = &ev.orders[rank[ex.order[i]]];
        if (o0->purchase != ex.purchase[i])
            return die("row and order ranks disagree");
        sf_order_event e = *o0;
        e.stage = ex.stage[i];
        char id[SF_ID_LEN + 32];
        sf_event_id(&e, id, sizeof id);
        printf("%s", id);
        const float *x = ex.x + i * ex.d;
        for (int k = 0; k < N_HIST; k++)
            printf(" %.9g", (double)x[cols[k]]);
        int64_t before = -1, after = -1, t = ex.event_time[i];
        nearest(ckey(o0), t, o0->purchase, &before, &after);
        for (int k = 0; k < o0->n_items; k++)
            nearest(sf_history_seller_key(o0->items[k].seller_id), t, SF_TIME_NONE, &before,
                    &after);
        printf(" %" PRId64 " %" PRId64 "\n", before, after);
    }
    free(U);
    free(rank);
    sf_idmap_free(byid);
    sf_examples_free(&ex);
    sf_training_events_free(&ev);
    sf_dataset_free(&ds);
    return 0;
}
