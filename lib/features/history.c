/*
 * history.c - seller and customer history before an event (see
 * satisfy/history.h).
 *
 * Three tables, each an array of records behind an integer-keyed sf_idmap
 * (key -> record index): sellers (review sum/count, delivered/late counts),
 * customers (purchase count and times, review sum/count) and reviewed orders
 * (the reviews applied per order, so an order's own review is subtracted from
 * its features: the label must never leak into the row it labels).
 *
 * The snapshot format is compact because it rides inside the model artifact
 * (1 MB Kafka limit): "SFH2", counts, sellers with raw 64-bit keys, then
 * customers sorted by their 64-bit key, delta-encoded, every number a LEB128
 * varint. Review sums are integers (scores 1..5), so a round trip is exact.
 * Format 1 ("SFH1") keyed customers by FNV-1a 32, which merges about one pair
 * of customers on the full Olist data and ~116 pairs at 1M customers. Its
 * customers cannot be re-keyed without their ids, so a format-1 snapshot
 * (a release made before format 2) is read as it was made: that history
 * keeps 32-bit customer keys for everything it is asked and told, and saves
 * as format 1, so an upgraded worker uses an older model exactly as trained.
 */
#include "satisfy/history.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/buf.h"
#include "satisfy/idmap.h"
#include "satisfy/varint.h"

typedef struct seller_rec {
    uint64_t key;
    int64_t rev_sum, rev_n, deliv_n, late_n;
    uint8_t changed; /* noted in the change list (sf_history_track_changes) */
} seller_rec;

/* 40 bytes: the scorer's live history holds a million of these. Purchase
 * times sit inline up to two (most customers buy once), else on the heap. */
typedef struct customer_rec {
    uint64_t key;
    int32_t n_base; /* orders whose time is unknown (from a snapshot): all earlier */
    int32_t rev_sum, rev_n;
    uint16_t n_times;
    uint8_t cap_log; /* 0: times inline (2), else 1 << cap_log on the heap */
    uint8_t changed;
    union {
        int64_t in[2];
        int64_t *heap;
    } t; /* purchase times added live, in the order added */
} customer_rec;

typedef struct order_rec {
    uint64_t key;
    int32_t rev_sum;
    uint16_t rev_n;
    uint8_t changed;
} order_rec;

/* Records start with their uint64_t key; map: key -> record index. */
typedef struct table {
    void *rec;
    size_t n, cap, size; /* size = bytes per record */
    sf_idmap *map;
} table;

struct sf_history {
    table sellers, customers, orders;
    bool key32; /* customers keyed by FNV-1a 32 (read from a format-1 snapshot) */
    bool track; /* note changed records (sf_history_track_changes) */
    sf_history_ref *changes;
    size_t n_changes, cap_changes;
};

static const int64_t *times_of(const customer_rec *c)
{
    return c->cap_log ? c->t.heap : c->t.in;
}

/* FNV-1a: the keys are stored in snapshots, so these never change. */
#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME  0x100000001b3ULL

static uint64_t fnv64(const char *s)
{
    uint64_t h = FNV64_OFFSET;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= FNV64_PRIME;
    }
    return h;
}

uint64_t sf_history_seller_key(const char *seller_id)
{
    return fnv64(seller_id);
}

uint64_t sf_history_customer_key(const char *customer_unique_id)
{
    return fnv64(customer_unique_id);
}

/* The customer key this history uses: format 2's, or format 1's FNV-1a 32. */
static uint64_t customer_key(const sf_history *h, const char *customer_unique_id)
{
    if (!h->key32)
        return fnv64(customer_unique_id);
    uint32_t k = 0x811c9dc5u;
    for (const char *s = customer_unique_id; *s; s++)
        k = (k ^ (unsigned char)*s) * 0x01000193u;
    return k;
}

static void *rec_at(const table *t, size_t i)
{
    return (char *)t->rec + i * t->size;
}

static long table_find(const table *t, uint64_t key)
{
    size_t i;
    return sf_idmap_get_u64(t->map, key, &i) == 0 ? (long)i : -1;
}

/* The record of key, created zeroed (with its key) when absent; NULL on OOM. */
static void *table_get(table *t, uint64_t key)
{
    long f = table_find(t, key);
    if (f >= 0)
        return rec_at(t, (size_t)f);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        void *rec = realloc(t->rec, cap * t->size);
        if (!rec)
            return NULL;
        t->rec = rec;
        t->cap = cap;
    }
    if (sf_idmap_put_u64(t->map, key, t->n, NULL) < 0)
        return NULL;
    void *r = rec_at(t, t->n);
    memset(r, 0, t->size);
    *(uint64_t *)r = key;
    t->n++;
    return r;
}

/* Room for n records and their keys, without doubling on the way. */
static int table_reserve(table *t, size_t n)
{
    if (n > t->cap) {
        void *rec = realloc(t->rec, n * t->size);
        if (!rec)
            return -1;
        t->rec = rec;
        t->cap = n;
    }
    return sf_idmap_reserve_u64(t->map, n);
}

int sf_history_reserve(sf_history *h, size_t sellers, size_t customers)
{
    return table_reserve(&h->sellers, sellers) < 0 || table_reserve(&h->customers, customers) < 0
               ? -1
               : 0;
}

static void table_free(table *t)
{
    free(t->rec);
    sf_idmap_free(t->map);
}

sf_history *sf_history_new(void)
{
    sf_history *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->sellers.size = sizeof(seller_rec);
    h->customers.size = sizeof(customer_rec);
    h->orders.size = sizeof(order_rec);
    h->sellers.map = sf_idmap_new_u64(0);
    h->customers.map = sf_idmap_new_u64(0);
    h->orders.map = sf_idmap_new_u64(0);
    if (!h->sellers.map || !h->customers.map || !h->orders.map) {
        sf_history_free(h);
        return NULL;
    }
    return h;
}

void sf_history_free(sf_history *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->customers.n; i++) {
        customer_rec *c = rec_at(&h->customers, i);
        if (c->cap_log)
            free(c->t.heap);
    }
    free(h->changes);
    table_free(&h->sellers);
    table_free(&h->customers);
    table_free(&h->orders);
    free(h);
}

size_t sf_history_sellers(const sf_history *h)
{
    return h->sellers.n;
}

size_t sf_history_customers(const sf_history *h)
{
    return h->customers.n;
}

/* Distinct seller keys of an event's items; returns how many (<= max). */
static int distinct_sellers(const sf_order_event *ev, uint64_t *keys, int max,
                            const uint64_t *first)
{
    int n = 0;
    for (int i = 0; i < ev->n_items && n < max; i++) {
        if (!ev->items[i].seller_id[0])
            continue;
        uint64_t k = i == 0 && first ? *first : sf_history_seller_key(ev->items[i].seller_id);
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= keys[j] == k;
        if (!dup)
            keys[n++] = k;
    }
    return n;
}

#define MAX_SELLERS 32

static int oom(sf_err *err, const char *what)
{
    return sf_errf(err, "history: out of memory adding %s", what);
}

/* Notes that a record changed, once until sf_history_clear_changes. */
static int note(sf_history *h, uint8_t *changed, uint8_t kind, uint64_t key)
{
    if (!h->track || *changed)
        return 0;
    if (h->n_changes == h->cap_changes) {
        size_t cap = h->cap_changes ? h->cap_changes * 2 : 256;
        sf_history_ref *c = realloc(h->changes, cap * sizeof *c);
        if (!c)
            return -1;
        h->changes = c;
        h->cap_changes = cap;
    }
    h->changes[h->n_changes++] = (sf_history_ref){kind, key};
    *changed = 1;
    return 0;
}

/* Appends a purchase time; -1 when out of memory or too many. */
static int push_time(customer_rec *c, int64_t t)
{
    size_t cap = c->cap_log ? (size_t)1 << c->cap_log : 2;
    if (c->n_times == UINT16_MAX)
        return -1;
    if (c->n_times == cap) {
        int64_t *heap = malloc(cap * 2 * sizeof *heap);
        if (!heap)
            return -1;
        memcpy(heap, times_of(c), cap * sizeof *heap);
        if (c->cap_log)
            free(c->t.heap);
        c->t.heap = heap;
        c->cap_log = (uint8_t)(c->cap_log ? c->cap_log + 1 : 2);
    }
    (c->cap_log ? c->t.heap : c->t.in)[c->n_times++] = t;
    return 0;
}

int sf_history_add_purchase(sf_history *h, const sf_order_event *ev, sf_err *err)
{
    if (!ev->customer_unique_id[0] || ev->purchase == SF_TIME_NONE)
        return 0;
    customer_rec *c = table_get(&h->customers, customer_key(h, ev->customer_unique_id));
    if (!c || push_time(c, ev->purchase) < 0 ||
        note(h, &c->changed, SF_HISTORY_CUSTOMER, c->key) < 0)
        return oom(err, "a purchase");
    return 0;
}

int sf_history_add_delivery(sf_history *h, const sf_order_event *ev, sf_err *err)
{
    if (ev->delivered == SF_TIME_NONE)
        return 0;
    int late = ev->estimated != SF_TIME_NONE && ev->delivered > ev->estimated;
    uint64_t keys[MAX_SELLERS];
    int n = distinct_sellers(ev, keys, MAX_SELLERS, NULL);
    for (int i = 0; i < n; i++) {
        seller_rec *s = table_get(&h->sellers, keys[i]);
        if (!s)
            return oom(err, "a delivery");
        s->deliv_n++;
        s->late_n += late;
        if (note(h, &s->changed, SF_HISTORY_SELLER, s->key) < 0)
            return oom(err, "a delivery");
    }
    return 0;
}

int sf_history_add_review(sf_history *h, const sf_order_event *ev, int score, sf_err *err)
{
    if (score < 1 || score > 5)
        return sf_errf(err, "history: review of order %s has score %d (expected 1..5)",
                       ev->order_id, score);
    uint64_t keys[MAX_SELLERS];
    int n = distinct_sellers(ev, keys, MAX_SELLERS, NULL);
    for (int i = 0; i < n; i++) {
        seller_rec *s = table_get(&h->sellers, keys[i]);
        if (!s)
            return oom(err, "a review");
        s->rev_sum += score;
        s->rev_n++;
        if (note(h, &s->changed, SF_HISTORY_SELLER, s->key) < 0)
            return oom(err, "a review");
    }
    if (ev->customer_unique_id[0]) {
        customer_rec *c = table_get(&h->customers, customer_key(h, ev->customer_unique_id));
        if (!c)
            return oom(err, "a review");
        c->rev_sum += score;
        c->rev_n++;
        if (note(h, &c->changed, SF_HISTORY_CUSTOMER, c->key) < 0)
            return oom(err, "a review");
    }
    order_rec *o = table_get(&h->orders, fnv64(ev->order_id));
    if (!o || o->rev_n == UINT16_MAX)
        return oom(err, "a review");
    o->rev_sum += score;
    o->rev_n++;
    if (note(h, &o->changed, SF_HISTORY_ORDER, o->key) < 0)
        return oom(err, "a review");
    return 0;
}

/* The keys of an event's order, first seller and customer (fnv64 of each)
 * in one loop when all three ids are SF_ID_LEN
 * long, as decoded events' ids are: the three multiply chains overlap,
 * where one after the other they cost ~3x the latency. 0 otherwise (the
 * caller hashes them one by one). */
static int event_keys(const sf_order_event *ev, uint64_t *order, uint64_t *seller,
                      uint64_t *customer)
{
    const char *o = ev->order_id, *c = ev->customer_unique_id;
    const char *s = ev->n_items > 0 ? ev->items[0].seller_id : o;
    uint64_t ho = FNV64_OFFSET, hs = ho, hc = ho;
    unsigned zero = 0;
    for (int i = 0; i < SF_ID_LEN; i++) { /* sf_id buffers hold SF_ID_LEN + 1 bytes */
        unsigned char a = (unsigned char)o[i], b = (unsigned char)s[i], d = (unsigned char)c[i];
        zero |= (a == 0) | (b == 0) | (d == 0);
        ho = (ho ^ a) * FNV64_PRIME;
        hs = (hs ^ b) * FNV64_PRIME;
        hc = (hc ^ d) * FNV64_PRIME;
    }
    if (zero || o[SF_ID_LEN] || s[SF_ID_LEN] || c[SF_ID_LEN])
        return 0;
    *order = ho;
    *seller = hs;
    *customer = hc;
    return 1;
}

void sf_history_view_of(const sf_history *h, const sf_order_event *ev, sf_history_view *out)
{
    uint64_t ko, ks0 = 0, kc = 0;
    int fast = event_keys(ev, &ko, &ks0, &kc);
    if (!fast)
        ko = fnv64(ev->order_id);
    int64_t own_sum = 0, own_n = 0;
    long of = table_find(&h->orders, ko);
    if (of >= 0) {
        const order_rec *o = rec_at(&h->orders, (size_t)of);
        own_sum = o->rev_sum;
        own_n = o->rev_n;
    }
    uint64_t keys[MAX_SELLERS];
    int n = distinct_sellers(ev, keys, MAX_SELLERS, fast ? &ks0 : NULL);
    int64_t rs = 0, rn = 0, dn = 0, ln = 0;
    for (int i = 0; i < n; i++) {
        long f = table_find(&h->sellers, keys[i]);
        if (f < 0)
            continue;
        const seller_rec *s = rec_at(&h->sellers, (size_t)f);
        /* the order's own reviews were applied to each of its sellers */
        rs += s->rev_sum - own_sum;
        rn += s->rev_n - own_n;
        dn += s->deliv_n;
        ln += s->late_n;
    }
    out->seller_review_count = (double)rn;
    out->seller_review_mean = rn > 0 ? (double)rs / (double)rn : NAN;
    out->seller_delivered = (double)dn;
    out->seller_late_rate = dn > 0 ? (double)ln / (double)dn : NAN;

    out->customer_orders = 0;
    out->customer_review_mean = NAN;
    if (!ev->customer_unique_id[0])
        return;
    long cf =
        table_find(&h->customers, fast && !h->key32 ? kc : customer_key(h, ev->customer_unique_id));
    if (cf < 0)
        return;
    const customer_rec *c = rec_at(&h->customers, (size_t)cf);
    int64_t orders = c->n_base;
    const int64_t *times = times_of(c);
    for (int i = 0; i < c->n_times; i++)
        orders += ev->purchase != SF_TIME_NONE && times[i] < ev->purchase;
    out->customer_orders = (double)orders;
    int64_t cn = c->rev_n - own_n, cs = c->rev_sum - own_sum;
    out->customer_review_mean = cn > 0 ? (double)cs / (double)cn : NAN;
}

int sf_history_view_same(const sf_history_view *a, const sf_history_view *b)
{
    const double x[] = {a->seller_review_mean, a->seller_review_count, a->seller_late_rate,
                        a->seller_delivered,   a->customer_orders,     a->customer_review_mean};
    const double y[] = {b->seller_review_mean, b->seller_review_count, b->seller_late_rate,
                        b->seller_delivered,   b->customer_orders,     b->customer_review_mean};
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        if (!(x[i] == y[i] || (isnan(x[i]) && isnan(y[i]))))
            return 0;
    return 1;
}

/* ---- snapshot ---- */

#define SNAPSHOT_MAGIC    "SFH2" /* format 2: 64-bit customer keys */
#define SNAPSHOT_MAGIC_V1 "SFH1" /* format 1: FNV-1a 32 customer keys */

static uint8_t *put_u64(uint8_t *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        w[i] = (uint8_t)(v >> (8 * i));
    return w + 8;
}

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int sf_history_save(const sf_history *h, uint8_t **buf, size_t *len, sf_err *err)
{
    size_t ns = h->sellers.n, nc = h->customers.n;
    /* an upper bound, so the writes below need no checks: the magic, two
     * counts, a raw key and 4 varints per seller, 4 varints per customer */
    size_t max = 4 + 2 * SF_VARINT_MAX + ns * (8 + 4 * SF_VARINT_MAX) + nc * 4 * SF_VARINT_MAX;
    sf_buf b = {0};
    if (sf_buf_reserve(&b, max, err) < 0)
        return sf_err_wrap(err, "history: saving a snapshot");
    /* customers sorted by key, delta-encoded: (key, record index) pairs */
    uint64_t *order = malloc((nc + 1) * 2 * sizeof *order);
    if (!order) {
        sf_buf_free(&b);
        return sf_errf(err, "history: out of memory saving a snapshot");
    }
    uint8_t *w = b.data;
    memcpy(w, h->key32 ? SNAPSHOT_MAGIC_V1 : SNAPSHOT_MAGIC, 4);
    w = sf_varint_put(w + 4, ns);
    w = sf_varint_put(w, nc);
    for (size_t i = 0; i < ns; i++) {
        const seller_rec *s = rec_at(&h->sellers, i);
        w = put_u64(w, s->key);
        w = sf_varint_put(w, (uint64_t)s->rev_sum);
        w = sf_varint_put(w, (uint64_t)s->rev_n);
        w = sf_varint_put(w, (uint64_t)s->deliv_n);
        w = sf_varint_put(w, (uint64_t)s->late_n);
    }
    for (size_t i = 0; i < nc; i++) {
        order[2 * i] = ((const customer_rec *)rec_at(&h->customers, i))->key;
        order[2 * i + 1] = i;
    }
    qsort(order, nc, 2 * sizeof *order, cmp_key);
    uint64_t prev = 0;
    for (size_t i = 0; i < nc; i++) {
        const customer_rec *c = rec_at(&h->customers, (size_t)order[2 * i + 1]);
        w = sf_varint_put(w, c->key - prev);
        prev = c->key;
        w = sf_varint_put(w, (uint64_t)(c->n_base + c->n_times));
        w = sf_varint_put(w, (uint64_t)c->rev_sum);
        w = sf_varint_put(w, (uint64_t)c->rev_n);
    }
    free(order);
    *buf = b.data;
    *len = (size_t)(w - b.data);
    return 0;
}

typedef struct rbuf {
    const uint8_t *p;
    size_t n, off;
} rbuf;

static int get_varint(rbuf *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->off >= r->n)
            return -1;
        uint8_t b = r->p[r->off++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

sf_history *sf_history_load(const uint8_t *buf, size_t len, sf_err *err)
{
    bool v1 = len >= 4 && memcmp(buf, SNAPSHOT_MAGIC_V1, 4) == 0;
    if (!v1 && (len < 4 || memcmp(buf, SNAPSHOT_MAGIC, 4) != 0)) {
        sf_errf(err, "history snapshot: bad magic (expected %s or %s): not a history snapshot",
                SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_V1);
        return NULL;
    }
    rbuf r = {buf, len, 4};
    uint64_t ns, nc;
    sf_history *h = sf_history_new();
    if (!h) {
        sf_errf(err, "history snapshot: out of memory");
        return NULL;
    }
    h->key32 = v1;
    if (get_varint(&r, &ns) < 0 || get_varint(&r, &nc) < 0 || ns > len || nc > len)
        goto bad;
    for (uint64_t i = 0; i < ns; i++) {
        if (r.off + 8 > r.n)
            goto bad;
        uint64_t key = 0, v[4];
        for (int b = 0; b < 8; b++)
            key |= (uint64_t)r.p[r.off + b] << (8 * b);
        r.off += 8;
        for (int k = 0; k < 4; k++)
            if (get_varint(&r, &v[k]) < 0)
                goto bad;
        if (table_find(&h->sellers, key) >= 0)
            goto bad;
        seller_rec *s = table_get(&h->sellers, key);
        if (!s)
            goto oom;
        s->rev_sum = (int64_t)v[0];
        s->rev_n = (int64_t)v[1];
        s->deliv_n = (int64_t)v[2];
        s->late_n = (int64_t)v[3];
    }
    uint64_t key = 0;
    for (uint64_t i = 0; i < nc; i++) {
        uint64_t d, v[3];
        if (get_varint(&r, &d) < 0)
            goto bad;
        for (int k = 0; k < 3; k++)
            if (get_varint(&r, &v[k]) < 0)
                goto bad;
        if (i > 0 && (d == 0 || key + d < key)) /* strictly increasing */
            goto bad;
        key += d;
        if ((v1 && key > UINT32_MAX) || v[0] > INT32_MAX || v[1] > INT32_MAX || v[2] > INT32_MAX)
            goto bad;
        customer_rec *c = table_get(&h->customers, key);
        if (!c)
            goto oom;
        c->n_base = (int32_t)v[0];
        c->rev_sum = (int32_t)v[1];
        c->rev_n = (int32_t)v[2];
    }
    if (r.off != r.n)
        goto bad;
    return h;
bad:
    sf_errf(err, "history snapshot: truncated or corrupt at byte %zu of %zu", r.off, len);
    sf_history_free(h);
    return NULL;
oom:
    sf_errf(err, "history snapshot: out of memory");
    sf_history_free(h);
    return NULL;
}

/* ---- live records (satisfy.history) ---- */

#define RECORD_VERSION   1
#define MAX_RECORD_TIMES 4096 /* purchase times in one customer record */

void sf_history_track_changes(sf_history *h, bool on)
{
    h->track = on;
}

size_t sf_history_changes(const sf_history *h, const sf_history_ref **refs)
{
    *refs = h->changes;
    return h->n_changes;
}

static table *table_of(sf_history *h, uint8_t kind)
{
    return kind == SF_HISTORY_SELLER     ? &h->sellers
           : kind == SF_HISTORY_CUSTOMER ? &h->customers
           : kind == SF_HISTORY_ORDER    ? &h->orders
                                         : NULL;
}

/* The changed flag of a record (each record type keeps one). */
static uint8_t *changed_flag(void *rec, uint8_t kind)
{
    return kind == SF_HISTORY_SELLER     ? &((seller_rec *)rec)->changed
           : kind == SF_HISTORY_CUSTOMER ? &((customer_rec *)rec)->changed
                                         : &((order_rec *)rec)->changed;
}

int sf_history_note_all(sf_history *h, sf_err *err)
{
    static const uint8_t kinds[] = {SF_HISTORY_SELLER, SF_HISTORY_CUSTOMER, SF_HISTORY_ORDER};
    if (h->key32)
        return sf_errf(err, "history record: a format-1 history has 32-bit customer keys");
    h->track = true;
    for (size_t k = 0; k < sizeof kinds; k++) {
        table *t = table_of(h, kinds[k]);
        for (size_t i = 0; i < t->n; i++) {
            void *rec = rec_at(t, i);
            if (note(h, changed_flag(rec, kinds[k]), kinds[k], *(uint64_t *)rec) < 0)
                return oom(err, "the change list");
        }
    }
    return 0;
}

void sf_history_clear_changes(sf_history *h)
{
    for (size_t i = 0; i < h->n_changes; i++) {
        table *t = table_of(h, h->changes[i].kind);
        long f = table_find(t, h->changes[i].key);
        if (f >= 0)
            *changed_flag(rec_at(t, (size_t)f), h->changes[i].kind) = 0;
    }
    h->n_changes = 0;
}

int sf_history_forget_order(sf_history *h, const char *order_id, sf_err *err)
{
    long f = table_find(&h->orders, fnv64(order_id));
    if (f < 0)
        return 0;
    order_rec *o = rec_at(&h->orders, (size_t)f);
    if (o->rev_n == 0)
        return 0;
    o->rev_sum = 0;
    o->rev_n = 0;
    if (note(h, &o->changed, SF_HISTORY_ORDER, o->key) < 0)
        return oom(err, "a forgotten order");
    return 0;
}

void sf_history_record_key(sf_history_ref ref, uint8_t key[SF_HISTORY_KEY_LEN])
{
    key[0] = ref.kind;
    for (int i = 0; i < 8; i++)
        key[1 + i] = (uint8_t)(ref.key >> (56 - 8 * i));
}

int sf_history_record(const sf_history *h, sf_history_ref ref, sf_buf *val, sf_err *err)
{
    table *t = table_of((sf_history *)h, ref.kind);
    if (!t)
        return sf_errf(err, "history record: unknown kind 0x%02x", ref.kind);
    if (ref.kind == SF_HISTORY_CUSTOMER && h->key32)
        return sf_errf(err, "history record: a format-1 history has 32-bit customer keys");
    sf_buf_reset(val);
    long f = table_find(t, ref.key);
    if (f < 0)
        return 0;
    const void *r = rec_at(t, (size_t)f);
    uint64_t v[4];
    int nv = 0;
    const int64_t *times = NULL;
    size_t nt = 0;
    if (ref.kind == SF_HISTORY_SELLER) {
        const seller_rec *s = r;
        v[0] = (uint64_t)s->rev_sum, v[1] = (uint64_t)s->rev_n;
        v[2] = (uint64_t)s->deliv_n, v[3] = (uint64_t)s->late_n, nv = 4;
    } else if (ref.kind == SF_HISTORY_CUSTOMER) {
        const customer_rec *c = r;
        times = times_of(c);
        nt = c->n_times;
        /* the oldest times beyond the limit count as "all earlier" */
        size_t fold = nt > MAX_RECORD_TIMES ? nt - MAX_RECORD_TIMES : 0;
        v[0] = (uint64_t)c->n_base + fold, v[1] = (uint64_t)c->rev_sum;
        v[2] = (uint64_t)c->rev_n, v[3] = nt - fold, nv = 4;
        times += fold;
        nt -= fold;
    } else {
        const order_rec *o = r;
        if (o->rev_n == 0) /* forgotten: a tombstone */
            return 0;
        v[0] = (uint64_t)o->rev_sum, v[1] = o->rev_n, nv = 2;
    }
    if (sf_buf_reserve(val, 1 + (size_t)(nv + nt) * SF_VARINT_MAX, err) < 0)
        return sf_err_wrap(err, "history record");
    uint8_t *w = val->data;
    *w++ = RECORD_VERSION;
    for (int i = 0; i < nv; i++)
        w = sf_varint_put(w, v[i]);
    int64_t prev = 0;
    for (size_t i = 0; i < nt; i++) { /* in the order added: zigzag deltas */
        w = sf_varint_put(w, sf_zigzag(times[i] - prev));
        prev = times[i];
    }
    val->len = (size_t)(w - val->data);
    return 0;
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

int sf_history_apply(sf_history *h, const void *key, size_t klen, const void *val, size_t vlen,
                     sf_err *err)
{
    const uint8_t *k = key;
    if (klen != SF_HISTORY_KEY_LEN)
        return sf_errf(err, "history record: key of %zu bytes (expected %d)", klen,
                       SF_HISTORY_KEY_LEN);
    table *t = table_of(h, k[0]);
    if (!t)
        return sf_errf(err, "history record: unknown kind 0x%02x", k[0]);
    if (h->key32)
        return sf_errf(err, "history record: a format-1 history cannot take live records");
    uint64_t id = 0;
    for (int i = 1; i < SF_HISTORY_KEY_LEN; i++)
        id = id << 8 | k[i];
    rbuf r = {val, val ? vlen : 0, 0};
    uint64_t v[4] = {0, 0, 0, 0};
    int nv = k[0] == SF_HISTORY_ORDER ? 2 : 4;
    if (r.n > 0) {
        if (r.p[0] != RECORD_VERSION)
            return sf_errf(err, "history record '%c': version %u (expected %d)", k[0], r.p[0],
                           RECORD_VERSION);
        r.off = 1;
        for (int i = 0; i < nv; i++)
            if (get_varint(&r, &v[i]) < 0)
                goto bad;
        for (int i = 0; i < nv; i++)
            if (v[i] > INT32_MAX)
                goto bad;
        if (k[0] == SF_HISTORY_CUSTOMER && v[3] > MAX_RECORD_TIMES)
            goto bad;
        if (k[0] == SF_HISTORY_ORDER && v[1] > UINT16_MAX)
            goto bad;
        size_t times_at = r.off; /* check the times before changing anything */
        uint64_t d;
        for (uint64_t i = 0; k[0] == SF_HISTORY_CUSTOMER && i < v[3]; i++)
            if (get_varint(&r, &d) < 0)
                goto bad;
        if (r.off != r.n)
            goto bad;
        r.off = times_at;
    }
    long f = table_find(t, id);
    if (f < 0 && r.n == 0)
        return 0; /* a tombstone of something never seen */
    void *rec = f >= 0 ? rec_at(t, (size_t)f) : table_get(t, id);
    if (!rec)
        return oom(err, "a record");
    if (k[0] == SF_HISTORY_SELLER) {
        seller_rec *s = rec;
        s->rev_sum = (int64_t)v[0], s->rev_n = (int64_t)v[1];
        s->deliv_n = (int64_t)v[2], s->late_n = (int64_t)v[3];
    } else if (k[0] == SF_HISTORY_ORDER) {
        order_rec *o = rec;
        o->rev_sum = (int32_t)v[0], o->rev_n = (uint16_t)v[1];
    } else {
        customer_rec *c = rec;
        c->n_base = (int32_t)v[0], c->rev_sum = (int32_t)v[1], c->rev_n = (int32_t)v[2];
        c->n_times = 0;
        int64_t prev = 0;
        for (uint64_t i = 0; i < v[3]; i++) {
            uint64_t d = 0;
            (void)get_varint(&r, &d); /* checked above */
            prev += unzigzag(d);
            if (push_time(c, prev) < 0)
                return oom(err, "a record");
        }
    }
    return note(h, changed_flag(rec, k[0]), k[0], id) < 0 ? oom(err, "a record") : 0;
bad:
    return sf_errf(err, "history record '%c' %016llx: truncated or corrupt at byte %zu of %zu",
                   k[0], (unsigned long long)id, r.off, r.n);
}

/* ---- copy ---- */

/* dst (empty, same record size) gets src's records in src's order. */
static int table_copy(table *dst, const table *src)
{
    if (src->n == 0)
        return 0;
    dst->rec = malloc(src->n * src->size);
    if (!dst->rec)
        return -1;
    memcpy(dst->rec, src->rec, src->n * src->size);
    dst->cap = src->n;
    for (size_t i = 0; i < src->n; i++) {
        if (sf_idmap_put_u64(dst->map, *(const uint64_t *)rec_at(src, i), i, NULL) < 0)
            return -1;
        dst->n = i + 1;
    }
    return 0;
}

sf_history *sf_history_clone(const sf_history *h)
{
    sf_history *c = sf_history_new();
    if (!c)
        return NULL;
    c->key32 = h->key32; /* the copy tracks no changes: its flags start clear */
    if (table_copy(&c->sellers, &h->sellers) != 0 || table_copy(&c->orders, &h->orders) != 0)
        goto oom;
    for (size_t i = 0; i < c->sellers.n; i++)
        ((seller_rec *)rec_at(&c->sellers, i))->changed = 0;
    for (size_t i = 0; i < c->orders.n; i++)
        ((order_rec *)rec_at(&c->orders, i))->changed = 0;
    /* customers may own their purchase times: each copy gets its own */
    int rc = table_copy(&c->customers, &h->customers);
    size_t done = 0;
    for (; rc == 0 && done < c->customers.n; done++) {
        customer_rec *r = rec_at(&c->customers, done);
        r->changed = 0;
        if (!r->cap_log)
            continue;
        size_t cap = (size_t)1 << r->cap_log;
        int64_t *t = malloc(cap * sizeof *t);
        if (!t) {
            rc = -1;
            break;
        }
        memcpy(t, r->t.heap, r->n_times * sizeof *t);
        r->t.heap = t;
    }
    if (rc != 0) {
        /* the records from `done` on still point at h's times: not ours to free */
        for (size_t i = done; i < c->customers.n; i++)
            ((customer_rec *)rec_at(&c->customers, i))->cap_log = 0;
        goto oom;
    }
    return c;
oom:
    sf_history_free(c);
    return NULL;
}
