/*
 * olist_rows.c - the Olist tables read row by row (see olist_impl.h): every
 * field checked, a bad value reported as "file:line: column 'c': value 'v':
 * why" and the row left out (or, in strict mode, the load failed), one
 * parser per table that fills the loader's records and id maps for the join
 * in olist.c.
 */
#include "olist_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/cep_prefix.h"

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
    return sf_errf(L->err, "%s: out of memory", sf_table_file(L->t));
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
    snprintf(L->why, sizeof L->why, "not in %s", sf_table_file(in));
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
    char *s = olist_arena_alloc(L->ar, FL(ci) + 1);
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

int olist_read_table(loader *L, sf_table t)
{
    L->t = t;
    L->colnames = tables[t].cols;
    L->csv = sf_csv_open(L->dir, sf_table_file(t), L->err);
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
