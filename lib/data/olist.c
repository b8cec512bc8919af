/*
 * olist.c - reads the nine Olist tables and joins them into one record per
 * order (see include/satisfy/olist.h; the cleaning policy is docs/data.md).
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

#include <math.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/cep_prefix.h"
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
    alignas(max_align_t) unsigned char data[];
} ablock;

typedef struct arena {
    ablock *head;
} arena;

#define ARENA_BLOCK (1u << 20)

static void *arena_alloc(arena *a, size_t n)
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
    if (n == cap && a->head) { /* a big array: keep the current block current */
        b->next = a->head->next;
        a->head->next = b;
    } else {
        b->next = a->head;
        a->head = b;
    }
    return b->data;
}

static void arena_free(arena *a)
{
    if (!a)
        return;
    for (ablock *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

typedef struct product {
    sf_id id;
    char category[SF_TEXT_SHORT];
    double name_len, desc_len, photos, weight_g, length_cm, height_cm, width_cm;
} product;

typedef struct seller {
    sf_id id;
    sf_place place;
} seller;

typedef struct customer {
    sf_id unique_id;
    sf_place place;
} customer;

typedef struct geo {
    double lat, lng;
    size_t n;
} geo;

typedef struct titem { /* an item row before the join is written out */
    size_t order, product, seller;
    int seq;
    double price, freight;
    int64_t shipping_limit;
} titem;

typedef struct tpay {
    size_t order;
    sf_payment p;
} tpay;

typedef struct trev {
    size_t order;
    sf_review_event r;
} trev;

#define MAX_COLS 9

typedef struct loader {
    const char *dir;
    bool strict, join;
    FILE *report;
    size_t max_reports, reported;
    size_t rows[SF_T_COUNT], skipped[SF_T_COUNT];
    sf_err *err;
    arena *ar;
    char why[96];

    sf_idmap *tr, *geo, *prod, *sell, *cust, *ord;
    sf_vec tr_en, geos, prods, sellers, custs, orders, items, pays, revs; /* see loader_init */
    size_t *newpos; /* order load index -> position in the sorted orders */

    /* the table being read */
    sf_table t;
    sf_csv *csv;
    sf_csv_row row; /* the current row; cleared when the table closes */
    const char *const *colnames;
    int col[MAX_COLS];
} loader;

/* ---- reporting --------------------------------------------------------- */

static int report(loader *L, const char *msg)
{
    L->skipped[L->t]++;
    if (L->strict)
        return sf_errf(L->err, "%s", msg);
    if (L->reported < L->max_reports)
        fprintf(L->report, "%s\n", msg);
    L->reported++;
    return 0;
}

/* The column name as the spec gives it (first spelling before '|'). */
static int colname_len(const char *spec)
{
    const char *bar = strchr(spec, '|');
    return bar ? (int)(bar - spec) : (int)strlen(spec);
}

/* Reports the current row as bad because of column ci. Returns 0 (skip the
 * row) or -1 (strict: fail the load). */
static int bad(loader *L, int ci, const char *why)
{
    const char *v = L->row.field[L->col[ci]];
    size_t vl = L->row.len[L->col[ci]];
    char msg[SF_ERR_MAX];
    snprintf(msg, sizeof msg, "%s:%ld: column '%.*s': value '%.*s%s': %s", sf_csv_path(L->csv),
             L->row.line, colname_len(L->colnames[ci]), L->colnames[ci], (int)(vl > 100 ? 100 : vl),
             v, vl > 100 ? "..." : "", why);
    return report(L, msg);
}

static int oom(loader *L)
{
    return sf_errf(L->err, "%s: out of memory", table_files[L->t]);
}

/* ---- field parsers: NULL when the value is good, else the reason ------- */

#define F(ci)  (L->row.field[L->col[ci]])
#define FL(ci) (L->row.len[L->col[ci]])

static const char *get_id(loader *L, int ci, char out[SF_ID_LEN + 1])
{
    const char *s = F(ci);
    static const unsigned char hex[256] = {
        ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
        ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1};
    if (FL(ci) != SF_ID_LEN)
        return "not a 32-digit lowercase hex id";
    unsigned ok = 1;
    for (int i = 0; i < SF_ID_LEN; i++)
        ok &= hex[(unsigned char)s[i]];
    if (!ok)
        return "not a 32-digit lowercase hex id";
    memcpy(out, s, SF_ID_LEN + 1);
    return NULL;
}

static const char *get_text(loader *L, int ci, char *out, size_t cap)
{
    size_t n = FL(ci);
    if (n >= cap) {
        snprintf(L->why, sizeof L->why, "longer than %zu bytes", cap - 1);
        return L->why;
    }
    if (strlen(F(ci)) != n)
        return "contains a NUL byte";
    memcpy(out, F(ci), n + 1);
    return NULL;
}

/* "-12.345": at most 15 significant digits and 22 decimals. Then the digits
 * and 10^decimals are both exact doubles, and one division is correctly
 * rounded, so the result equals strtod's; anything else goes to strtod. */
static bool fast_decimal(const char *s, size_t n, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    bool neg = s[0] == '-';
    i += neg;
    uint64_t m = 0;
    int digits = 0, decimals = -1;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            m = m * 10 + (uint64_t)(s[i] - '0');
            digits++;
            if (decimals >= 0)
                decimals++;
        } else if (s[i] == '.' && decimals < 0) {
            decimals = 0;
        } else {
            return false;
        }
    }
    if (digits == 0 || digits > 15 || decimals > 22)
        return false;
    double d = (double)m;
    if (decimals > 0)
        d /= p10[decimals];
    *out = neg ? -d : d;
    return true;
}

/* A finite decimal number; empty gives NaN when optional. */
static const char *get_num(loader *L, int ci, double *out, bool optional, bool nonneg)
{
    const char *s = F(ci);
    size_t n = FL(ci);
    if (n == 0) {
        *out = NAN;
        return optional ? NULL : "empty";
    }
    if (n > 64)
        return "not a number";
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return "not a number";
    }
    double d;
    if (!fast_decimal(s, n, &d)) {
        char *end;
        d = strtod(s, &end);
        if (end != s + n || !isfinite(d))
            return "not a number";
    }
    if (nonneg && d < 0)
        return "negative";
    *out = d;
    return NULL;
}

/* An integer in [lo, hi], also written as a float with a zero fraction ("57.0"). */
static const char *get_int(loader *L, int ci, int *out, int lo, int hi)
{
    double d;
    const char *why = get_num(L, ci, &d, false, false);
    if (why)
        return why;
    if (d != floor(d))
        return "not a whole number";
    if (d < lo || d > hi) {
        snprintf(L->why, sizeof L->why, "outside %d..%d", lo, hi);
        return L->why;
    }
    *out = (int)d;
    return NULL;
}

static const char *get_time(loader *L, int ci, int64_t *out, bool optional)
{
    if (FL(ci) == 0) {
        *out = SF_TIME_NONE;
        return optional ? NULL : "empty";
    }
    return sf_time_parse_why(F(ci), FL(ci), out);
}

static const char *get_zip(loader *L, int ci, char out[6], bool optional)
{
    if (FL(ci) == 0) {
        out[0] = '\0';
        return optional ? NULL : "empty";
    }
    if (sf_cep_prefix_normalize(F(ci), out) < 0)
        return "not a zip prefix of at most 5 digits";
    return NULL;
}

static const char *get_state(loader *L, int ci, char out[3])
{
    const char *s = F(ci);
    if (FL(ci) == 0) {
        out[0] = '\0';
        return NULL;
    }
    if (FL(ci) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
        return "not a two-letter state code";
    memcpy(out, s, 3);
    return NULL;
}

/* Looks id up in map (when joining). Returns the reason when absent. */
static const char *lookup(loader *L, const sf_idmap *map, const char *id, sf_table in, size_t *idx)
{
    *idx = 0;
    if (!L->join || !map)
        return NULL;
    if (sf_idmap_get(map, id, SF_ID_LEN, idx) == 0)
        return NULL;
    snprintf(L->why, sizeof L->why, "not in %s", table_files[in]);
    return L->why;
}

/* Inserts id -> val into map; returns the reason when it is already there. */
static const char *unique(sf_idmap *map, const char *key, size_t len, size_t val, int *err)
{
    int r = sf_idmap_put(map, key, len, val, NULL);
    *err = r < 0;
    return r == 0 ? "duplicate" : NULL;
}

#define CHECK(ci, expr)                                                                            \
    do {                                                                                           \
        const char *why_ = (expr);                                                                 \
        if (why_)                                                                                  \
            return bad(L, ci, why_);                                                               \
    } while (0)

#define CHECK_UNIQUE(ci, map, key, len, val)                                                       \
    do {                                                                                           \
        int oom_;                                                                                  \
        const char *why_ = unique(map, key, len, val, &oom_);                                      \
        if (oom_)                                                                                  \
            return oom(L);                                                                         \
        if (why_)                                                                                  \
            return bad(L, ci, why_);                                                               \
    } while (0)

/* Fills a place from zip/city/state columns; lat/lng from the geolocation means. */
static int get_place(loader *L, int czip, int ccity, int cstate, sf_place *p)
{
    CHECK(czip, get_zip(L, czip, p->zip, true));
    CHECK(ccity, get_text(L, ccity, p->city, sizeof p->city));
    CHECK(cstate, get_state(L, cstate, p->state));
    p->lat = p->lng = NAN;
    size_t g;
    if (p->zip[0] && L->geo && sf_idmap_get(L->geo, p->zip, 5, &g) == 0) {
        const geo *ge = (const geo *)L->geos.p + g;
        p->lat = ge->lat / (double)ge->n;
        p->lng = ge->lng / (double)ge->n;
    }
    return 1;
}

/* ---- one function per table: 0 = row taken or skipped, -1 = fail ------- */

static const char *const cols_translation[] = {"product_category_name",
                                               "product_category_name_english", NULL};

static int row_translation(loader *L)
{
    char pt[SF_TEXT_SHORT], en[SF_TEXT_SHORT];
    CHECK(0, FL(0) ? get_text(L, 0, pt, sizeof pt) : "empty");
    CHECK(1, get_text(L, 1, en, sizeof en));
    CHECK_UNIQUE(0, L->tr, pt, strlen(pt), L->tr_en.n);
    char *e = sf_vec_push(&L->tr_en);
    if (!e)
        return oom(L);
    memcpy(e, en[0] ? en : pt, SF_TEXT_SHORT);
    return 0;
}

static const char *const cols_geolocation[] = {"geolocation_zip_code_prefix", "geolocation_lat",
                                               "geolocation_lng", NULL};

static int row_geolocation(loader *L)
{
    char zip[6];
    double lat, lng;
    CHECK(0, get_zip(L, 0, zip, false));
    CHECK(1, get_num(L, 1, &lat, false, false));
    CHECK(1, fabs(lat) > 90 ? "latitude outside -90..90" : NULL);
    CHECK(2, get_num(L, 2, &lng, false, false));
    CHECK(2, fabs(lng) > 180 ? "longitude outside -180..180" : NULL);
    size_t g = L->geos.n;
    int r = sf_idmap_put(L->geo, zip, 5, g, &g);
    if (r < 0)
        return oom(L);
    if (r == 1 && !sf_vec_push(&L->geos))
        return oom(L);
    geo *ge = (geo *)L->geos.p + g;
    ge->lat += lat;
    ge->lng += lng;
    ge->n++;
    return 0;
}

static const char *const cols_products[] = {"product_id",
                                            "product_category_name",
                                            "product_name_lenght|product_name_length",
                                            "product_description_lenght|product_description_length",
                                            "product_photos_qty",
                                            "product_weight_g",
                                            "product_length_cm",
                                            "product_height_cm",
                                            "product_width_cm",
                                            NULL};

static int row_products(loader *L)
{
    product p;
    CHECK(0, get_id(L, 0, p.id));
    CHECK(1, get_text(L, 1, p.category, sizeof p.category));
    double *dims[7] = {&p.name_len,  &p.desc_len,  &p.photos,  &p.weight_g,
                       &p.length_cm, &p.height_cm, &p.width_cm};
    for (int i = 0; i < 7; i++)
        CHECK(2 + i, get_num(L, 2 + i, dims[i], true, true));
    size_t tr;
    if (p.category[0] && L->tr && sf_idmap_get(L->tr, p.category, strlen(p.category), &tr) == 0)
        memcpy(p.category, (const char *)L->tr_en.p + tr * SF_TEXT_SHORT, SF_TEXT_SHORT);
    CHECK_UNIQUE(0, L->prod, p.id, SF_ID_LEN, L->prods.n);
    product *dst = sf_vec_push(&L->prods);
    if (!dst)
        return oom(L);
    *dst = p;
    return 0;
}

static const char *const cols_sellers[] = {"seller_id", "seller_zip_code_prefix", "seller_city",
                                           "seller_state", NULL};

static int row_sellers(loader *L)
{
    seller s;
    CHECK(0, get_id(L, 0, s.id));
    int r = get_place(L, 1, 2, 3, &s.place);
    if (r <= 0)
        return r;
    CHECK_UNIQUE(0, L->sell, s.id, SF_ID_LEN, L->sellers.n);
    seller *dst = sf_vec_push(&L->sellers);
    if (!dst)
        return oom(L);
    *dst = s;
    return 0;
}

static const char *const cols_customers[] = {
    "customer_id",   "customer_unique_id", "customer_zip_code_prefix",
    "customer_city", "customer_state",     NULL};

static int row_customers(loader *L)
{
    sf_id id;
    customer c;
    CHECK(0, get_id(L, 0, id));
    CHECK(1, get_id(L, 1, c.unique_id));
    int r = get_place(L, 2, 3, 4, &c.place);
    if (r <= 0)
        return r;
    CHECK_UNIQUE(0, L->cust, id, SF_ID_LEN, L->custs.n);
    customer *dst = sf_vec_push(&L->custs);
    if (!dst)
        return oom(L);
    *dst = c;
    return 0;
}

static const char *const cols_orders[] = {"order_id",
                                          "customer_id",
                                          "order_status",
                                          "order_purchase_timestamp",
                                          "order_approved_at",
                                          "order_delivered_carrier_date",
                                          "order_delivered_customer_date",
                                          "order_estimated_delivery_date",
                                          NULL};

static int row_orders(loader *L)
{
    sf_order o;
    memset(&o, 0, sizeof o);
    size_t ci;
    CHECK(0, get_id(L, 0, o.order_id));
    CHECK(1, get_id(L, 1, o.customer_id));
    CHECK(1, lookup(L, L->cust, o.customer_id, SF_T_CUSTOMERS, &ci));
    CHECK(2, sf_status_parse(F(2), &o.status) < 0 ? "unknown order status" : NULL);
    CHECK(3, get_time(L, 3, &o.purchase, false));
    CHECK(4, get_time(L, 4, &o.approved, true));
    CHECK(5, get_time(L, 5, &o.carrier, true));
    CHECK(6, get_time(L, 6, &o.delivered, true));
    CHECK(7, get_time(L, 7, &o.estimated, false));
    CHECK_UNIQUE(0, L->ord, o.order_id, SF_ID_LEN, L->orders.n);
    if (L->join) {
        const customer *c = (const customer *)L->custs.p + ci;
        memcpy(o.customer_unique_id, c->unique_id, sizeof o.customer_unique_id);
        o.customer = c->place;
    }
    sf_order *dst = sf_vec_push(&L->orders);
    if (!dst)
        return oom(L);
    *dst = o;
    return 0;
}

/* The sorted position of the order row with this id. */
static const char *order_ref(loader *L, int ci, size_t *pos)
{
    sf_id id;
    const char *why = get_id(L, ci, id);
    if (why)
        return why;
    why = lookup(L, L->ord, id, SF_T_ORDERS, pos);
    if (!why && L->join)
        *pos = L->newpos[*pos];
    return why;
}

static const char *const cols_items[] = {
    "order_id", "order_item_id", "product_id", "seller_id", "shipping_limit_date",
    "price",    "freight_value", NULL};

static int row_items(loader *L)
{
    titem it;
    sf_id pid, sid;
    CHECK(0, order_ref(L, 0, &it.order));
    CHECK(1, get_int(L, 1, &it.seq, 1, 1000000));
    CHECK(2, get_id(L, 2, pid));
    CHECK(2, lookup(L, L->prod, pid, SF_T_PRODUCTS, &it.product));
    CHECK(3, get_id(L, 3, sid));
    CHECK(3, lookup(L, L->sell, sid, SF_T_SELLERS, &it.seller));
    CHECK(4, get_time(L, 4, &it.shipping_limit, false));
    CHECK(5, get_num(L, 5, &it.price, false, true));
    CHECK(6, get_num(L, 6, &it.freight, false, true));
    titem *dst = sf_vec_push(&L->items);
    if (!dst)
        return oom(L);
    *dst = it;
    return 0;
}

static const char *const cols_payments[] = {"order_id",      "payment_sequential",
                                            "payment_type",  "payment_installments",
                                            "payment_value", NULL};

static int row_payments(loader *L)
{
    tpay p;
    CHECK(0, order_ref(L, 0, &p.order));
    CHECK(1, get_int(L, 1, &p.p.seq, 1, 1000000));
    CHECK(2, sf_pay_type_parse(F(2), &p.p.type) < 0 ? "unknown payment type" : NULL);
    CHECK(3, get_int(L, 3, &p.p.installments, 0, 1000));
    CHECK(4, get_num(L, 4, &p.p.value, false, true));
    tpay *dst = sf_vec_push(&L->pays);
    if (!dst)
        return oom(L);
    *dst = p;
    return 0;
}

static const char *const cols_reviews[] = {"review_id",
                                           "order_id",
                                           "review_score",
                                           "review_comment_title",
                                           "review_comment_message",
                                           "review_creation_date",
                                           "review_answer_timestamp",
                                           NULL};

/* A copy of column ci in the arena, or NULL for an empty field. */
static int text_copy(loader *L, int ci, const char **out)
{
    *out = NULL;
    if (FL(ci) == 0 || !L->join)
        return 0;
    char *s = arena_alloc(L->ar, FL(ci) + 1);
    if (!s)
        return -1;
    memcpy(s, F(ci), FL(ci) + 1);
    *out = s;
    return 0;
}

static int row_reviews(loader *L)
{
    trev v;
    memset(&v, 0, sizeof v);
    CHECK(0, get_id(L, 0, v.r.review_id));
    CHECK(1, order_ref(L, 1, &v.order));
    CHECK(1, get_id(L, 1, v.r.order_id));
    CHECK(2, get_int(L, 2, &v.r.score, 1, 5));
    CHECK(3, strlen(F(3)) != FL(3) ? "contains a NUL byte" : NULL);
    CHECK(4, strlen(F(4)) != FL(4) ? "contains a NUL byte" : NULL);
    CHECK(5, get_time(L, 5, &v.r.created, false));
    CHECK(6, get_time(L, 6, &v.r.answered, true));
    if (text_copy(L, 3, &v.r.title) < 0 || text_copy(L, 4, &v.r.message) < 0)
        return oom(L);
    trev *dst = sf_vec_push(&L->revs);
    if (!dst)
        return oom(L);
    *dst = v;
    return 0;
}

typedef int (*row_fn)(loader *L);

static const struct {
    const char *const *cols;
    row_fn fn;
} tables[SF_T_COUNT] = {
    [SF_T_ORDERS] = {cols_orders, row_orders},
    [SF_T_ITEMS] = {cols_items, row_items},
    [SF_T_PAYMENTS] = {cols_payments, row_payments},
    [SF_T_REVIEWS] = {cols_reviews, row_reviews},
    [SF_T_CUSTOMERS] = {cols_customers, row_customers},
    [SF_T_PRODUCTS] = {cols_products, row_products},
    [SF_T_SELLERS] = {cols_sellers, row_sellers},
    [SF_T_GEOLOCATION] = {cols_geolocation, row_geolocation},
    [SF_T_TRANSLATION] = {cols_translation, row_translation},
};

/* Finds the column of spec ("name" or "name|alternative"). */
static int find_column(loader *L, const char *spec)
{
    char name[128];
    const char *p = spec;
    for (;;) {
        int n = colname_len(p);
        snprintf(name, sizeof name, "%.*s", n, p);
        for (int i = 0; i < sf_csv_ncols(L->csv); i++)
            if (strcmp(sf_csv_colname(L->csv, i), name) == 0)
                return i;
        if (!p[n])
            break;
        p += n + 1;
    }
    return sf_errf(L->err, "%s: missing column '%.*s'", sf_csv_path(L->csv), colname_len(spec),
                   spec);
}

static int read_table(loader *L, sf_table t)
{
    L->t = t;
    L->colnames = tables[t].cols;
    L->csv = sf_csv_open(L->dir, table_files[t], L->err);
    if (!L->csv)
        return -1;
    for (int i = 0; L->colnames[i]; i++)
        if ((L->col[i] = find_column(L, L->colnames[i])) < 0)
            goto fail;
    int ncols = sf_csv_ncols(L->csv), r;
    while ((r = sf_csv_next(L->csv, &L->row, L->err)) > 0) {
        L->rows[t]++;
        if (L->row.n != ncols) {
            char msg[SF_ERR_MAX];
            snprintf(msg, sizeof msg, "%s:%ld: expected %d fields as in the header, found %d",
                     sf_csv_path(L->csv), L->row.line, ncols, L->row.n);
            if (report(L, msg) < 0)
                goto fail;
            continue;
        }
        if (tables[t].fn(L) < 0)
            goto fail;
    }
    if (r < 0)
        goto fail;
    sf_csv_close(L->csv);
    L->csv = NULL;
    memset(&L->row, 0, sizeof L->row); /* its fields pointed into the closed file */
    return 0;
fail:
    sf_csv_close(L->csv);
    L->csv = NULL;
    memset(&L->row, 0, sizeof L->row);
    return -1;
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
    ds->orders = arena_alloc(L->ar, n * sizeof *ds->orders);
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
    sf_item *items = arena_alloc(L->ar, L->items.n * sizeof *items);
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
    sf_payment *pays = arena_alloc(L->ar, L->pays.n * sizeof *pays);
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
    sf_review_event *revs = arena_alloc(L->ar, L->revs.n * sizeof *revs);
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
        if (read_table(&L, load_order[i]) < 0)
            goto fail;
        if (load_order[i] == SF_T_ORDERS && place_orders(&L, ds) < 0)
            goto fail;
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
    arena_free(L.ar);
    memset(ds, 0, sizeof *ds);
    return -1;
}

void sf_dataset_free(sf_dataset *ds)
{
    if (!ds)
        return;
    arena_free(ds->arena);
    memset(ds, 0, sizeof *ds);
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
        rc = read_table(&L, t);
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
