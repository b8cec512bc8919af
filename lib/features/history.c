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
} seller_rec;

typedef struct customer_rec {
    uint64_t key;
    int64_t n_base; /* orders whose time is unknown (from a snapshot): all earlier */
    int64_t rev_sum, rev_n;
    int64_t *times; /* purchase times added live */
    int n_times, cap_times;
} customer_rec;

typedef struct order_rec {
    uint64_t key;
    int64_t rev_sum, rev_n;
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
};

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
    h->sellers.map = sf_idmap_new(0);
    h->customers.map = sf_idmap_new(0);
    h->orders.map = sf_idmap_new(0);
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
    for (size_t i = 0; i < h->customers.n; i++)
        free(((customer_rec *)rec_at(&h->customers, i))->times);
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

int sf_history_add_purchase(sf_history *h, const sf_order_event *ev, sf_err *err)
{
    if (!ev->customer_unique_id[0] || ev->purchase == SF_TIME_NONE)
        return 0;
    customer_rec *c = table_get(&h->customers, customer_key(h, ev->customer_unique_id));
    if (!c)
        return oom(err, "a purchase");
    if (c->n_times == c->cap_times) {
        int cap = c->cap_times ? c->cap_times * 2 : 2;
        int64_t *t = realloc(c->times, (size_t)cap * sizeof *t);
        if (!t)
            return oom(err, "a purchase");
        c->times = t;
        c->cap_times = cap;
    }
    c->times[c->n_times++] = ev->purchase;
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
    }
    if (ev->customer_unique_id[0]) {
        customer_rec *c = table_get(&h->customers, customer_key(h, ev->customer_unique_id));
        if (!c)
            return oom(err, "a review");
        c->rev_sum += score;
        c->rev_n++;
    }
    order_rec *o = table_get(&h->orders, fnv64(ev->order_id));
    if (!o)
        return oom(err, "a review");
    o->rev_sum += score;
    o->rev_n++;
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
    for (int i = 0; i < c->n_times; i++)
        orders += ev->purchase != SF_TIME_NONE && c->times[i] < ev->purchase;
    out->customer_orders = (double)orders;
    int64_t cn = c->rev_n - own_n, cs = c->rev_sum - own_sum;
    out->customer_review_mean = cn > 0 ? (double)cs / (double)cn : NAN;
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
        if (v1 && key > UINT32_MAX)
            goto bad;
        customer_rec *c = table_get(&h->customers, key);
        if (!c)
            goto oom;
        c->n_base = (int64_t)v[0];
        c->rev_sum = (int64_t)v[1];
        c->rev_n = (int64_t)v[2];
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
