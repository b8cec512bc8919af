/*
 * datagen.c - writes a synthetic Olist marketplace: the nine Kaggle tables
 * for N orders, byte-identical for the same seed and options (see datagen.h).
 *
 * Why: tests, benchmarks and demos need Olist-shaped data of any size, and
 * the real files cannot be shipped. The generator is a small causal model of
 * the marketplace, calibrated on the real 15,000-order sample:
 *
 *   sellers (state, city, quality, speed, main category, popularity) own
 *   products (category, price, weight, dimensions); a customer (3% returning)
 *   buys 1..n items (often the same product twice, sometimes from two
 *   sellers); payment mix and installments; lifecycle times follow from
 *   approval (slow for boleto), seller handling, and a transit time that
 *   grows with seller-customer distance, plus random carrier disruptions
 *   whose risk depends on month, state and seller quality; the estimated
 *   date is set at purchase from the same distance. The review score is an
 *   ordinal logit of a latent satisfaction: lateness (by days late) and
 *   delivery time at delivery, and category, seller quality, freight ratio,
 *   multiple items or sellers and promised delivery time already at
 *   purchase. Non-delivered orders get low scores.
 *
 * Rows stream out order by order, so memory is bounded by the seller and
 * product pools (products are recomputed from their own RNG stream when
 * needed, never stored). docs/data.md has the calibration table.
 */
#include "satisfy/datagen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/calendar.h"
#include "datagen_out.h"
#include "datagen_rng.h"
#include "datagen_world.h"

enum { K_ORDER = 1, K_CUSTOMER, K_UNIQUE, K_PRODUCT, K_SELLER, K_REVIEW, K_ZIP, K_WORLD };

#define DAY       86400
#define MAX_ITEMS 24
#define MAX_PAYS  16
#define RING      4096
#define N_ZIPS    100000

/* Statuses, in the order of their share of orders in the full data (the
 * weighted pick depends on it), and which Olist status each is (its
 * spelling comes from sf_status_name). */
enum {
    ST_DELIVERED,
    ST_SHIPPED,
    ST_CANCELED,
    ST_UNAVAILABLE,
    ST_INVOICED,
    ST_PROCESSING,
    ST_APPROVED,
    ST_CREATED,
    ST_COUNT
};
static const sf_order_status status_of[ST_COUNT] = {
    SF_STATUS_DELIVERED, SF_STATUS_SHIPPED,    SF_STATUS_CANCELED, SF_STATUS_UNAVAILABLE,
    SF_STATUS_INVOICED,  SF_STATUS_PROCESSING, SF_STATUS_APPROVED, SF_STATUS_CREATED};
static const double status_w[ST_COUNT] = {96478, 1107, 625, 609, 314, 301, 2, 5};
/* Share of orders of that status with no item rows, and with a review. */
static const double status_no_items[ST_COUNT] = {0, 0, 0.24, 0.98, 0.02, 0, 0, 0};
static const double status_review[ST_COUNT] = {0.993, 0.91, 0.956, 0.966, 0.98, 0.973, 0.9, 0.9};
/* Latent score shift of an order that never arrived. */
static const double status_shift[ST_COUNT] = {0, -3.3, -3.1, -3.6, -3.8, -4.0, -4.0, -4.0};

/* Items per order (orders with items), from the sample. */
static const int items_n[] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 21};
static const double items_w[] = {13391, 1130, 214, 67, 33, 41, 3, 2, 1, 3, 1, 1};
#define N_ITEMS_CHOICES ((int)(sizeof items_n / sizeof items_n[0]))

/* Credit-card installments, from the sample. */
static const double inst_w[24] = {4023, 1835, 1546, 1036, 800, 575, 231, 631, 101, 801, 1, 26,
                                  3,    2,    9,    1,    1,   4,   0,   1,   1,   1,   1, 1};

enum { PAY_CC, PAY_BOLETO, PAY_VOUCHER, PAY_DEBIT };
static const char *const pay_name[] = {"credit_card", "boleto", "voucher", "debit_card"};

/* Probability of a review comment by score, and of its title. */
static const double msg_p[6] = {0, 0.78, 0.69, 0.43, 0.32, 0.35};
#define TITLE_P 0.117

/* Ordinal-logit cut points of the latent satisfaction (score 1|2, 2|3, 3|4, 4|5). */
static const double cut[4] = {-2.83, -2.45, -1.76, -0.67};
/* Base probability of a carrier disruption (scaled by month, state, seller). */
#define DISRUPT_P 0.225

static const char *const table_base[SF_T_COUNT] = {"olist_orders_dataset",
                                                   "olist_order_items_dataset",
                                                   "olist_order_payments_dataset",
                                                   "olist_order_reviews_dataset",
                                                   "olist_customers_dataset",
                                                   "olist_products_dataset",
                                                   "olist_sellers_dataset",
                                                   "olist_geolocation_dataset",
                                                   "product_category_name_translation"};
static const char *const table_header[SF_T_COUNT] = {
    "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,"
    "order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date",
    "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value",
    "order_id,payment_sequential,payment_type,payment_installments,payment_value",
    "review_id,order_id,review_score,review_comment_title,review_comment_message,"
    "review_creation_date,review_answer_timestamp",
    "customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state",
    "product_id,product_category_name,product_name_lenght,product_description_lenght,"
    "product_photos_qty,product_weight_g,product_length_cm,product_height_cm,product_width_cm",
    "seller_id,seller_zip_code_prefix,seller_city,seller_state",
    "geolocation_zip_code_prefix,geolocation_lat,geolocation_lng,geolocation_city,"
    "geolocation_state",
    "product_category_name,product_category_name_english"};

typedef struct seller {
    int city, zip;
    double lat, lng;
    double quality; /* N(0,1): better sellers ship faster and get better reviews */
    double speed;   /* handling time multiplier */
    int main_cat;
    uint32_t first; /* its products are [first, first + n) */
    uint32_t n;
} seller;

typedef struct product {
    uint32_t seller;
    int cat; /* -1: no category (and no name, description, photos) */
    int name_len, desc_len, photos;
    int has_dims;
    int weight, length, height, width;
    int64_t price; /* cents */
} product;

typedef struct item {
    uint32_t product;
    product p;
    int64_t freight;
} item;

typedef struct customer {
    char uid[SF_ID_LEN + 1];
    int city, zip;
} customer;

typedef struct window {
    int64_t start, end; /* seconds, inclusive */
    double late;
} window;

typedef struct gen {
    uint64_t seed;
    int state_first[64], state_n[64];
    double state_cust_cdf[64], state_sell_cdf[64];
    int city_state[256];
    double city_cdf[256]; /* cumulative within the city's state */
    double cat_cdf[128];
    double hour_cdf[24];
    window *win;
    double *win_cdf;
    int n_win;
    seller *sellers;
    double *seller_cdf;
    uint32_t n_sellers, n_products;
    uint8_t *product_used, *seller_used;
    uint8_t zip_used[N_ZIPS];
    int16_t zip_city[N_ZIPS]; /* city owning a zip prefix, -1 none */
    customer ring[RING];      /* recent customers, for returning ones */
    int ring_n, ring_pos;
    dg_out *out[SF_T_COUNT];
    sf_datagen_counts counts;
} gen;

/* ---------- small helpers ---------- */

static void year_month(int64_t secs, int *y, int *m)
{
    int64_t yy;
    int d;
    sf_civil_from_days((secs >= 0 ? secs : secs - (DAY - 1)) / DAY, &yy, m, &d);
    *y = (int)yy;
}

static int64_t floor_day(int64_t secs)
{
    return (secs >= 0 ? secs / DAY : (secs - (DAY - 1)) / DAY) * DAY;
}

static void hexid(char out[SF_ID_LEN + 1], uint64_t seed, uint64_t kind, uint64_t index)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t x = dg_hash(seed, kind, index);
    for (int half = 0; half < 2; half++) {
        uint64_t v = dg_splitmix(&x);
        for (int i = 0; i < 16; i++)
            out[half * 16 + i] = hex[(v >> (60 - 4 * i)) & 15];
    }
    out[SF_ID_LEN] = '\0';
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Great-circle distance in km. */
static double distance_km(double lat1, double lng1, double lat2, double lng2)
{
    const double r = 0.017453292519943295;
    double a = sin((lat2 - lat1) * r / 2), b = sin((lng2 - lng1) * r / 2);
    double h = a * a + cos(lat1 * r) * cos(lat2 * r) * b * b;
    return 2 * 6371.0 * asin(sqrt(h < 1 ? h : 1));
}

/* Where a zip prefix is: its city plus a fixed offset (the same for every seed). */
static void zip_location(int city, int zip, double *lat, double *lng)
{
    uint64_t h = dg_hash(0, K_ZIP, (uint64_t)zip);
    *lat = dg_cities[city].lat + ((double)(h & 0xffff) / 65535.0 - 0.5) * 0.16;
    *lng = dg_cities[city].lng + ((double)((h >> 16) & 0xffff) / 65535.0 - 0.5) * 0.16;
}

static int pick_city(gen *g, dg_rng *r, int state)
{
    return g->state_first[state] +
           dg_pick(r, g->city_cdf + g->state_first[state], g->state_n[state]);
}

static int pick_zip(dg_rng *r, int city)
{
    const dg_city *c = &dg_cities[city];
    return c->zip_lo + (int)dg_below(r, (uint64_t)(c->zip_hi - c->zip_lo + 1));
}

/* ---------- set-up: geography, calendar, sellers ---------- */

static int init_world(gen *g, sf_err *err)
{
    if (dg_n_states > 64 || dg_n_cities > 256 || dg_n_categories > 128)
        return sf_errf(err, "datagen: world tables too large");
    for (int s = 0; s < dg_n_states; s++) {
        g->state_first[s] = -1;
        g->state_cust_cdf[s] = (s ? g->state_cust_cdf[s - 1] : 0) + dg_states[s].w_customer;
        g->state_sell_cdf[s] = (s ? g->state_sell_cdf[s - 1] : 0) + dg_states[s].w_seller;
    }
    for (int z = 0; z < N_ZIPS; z++)
        g->zip_city[z] = -1;
    for (int c = 0; c < dg_n_cities; c++) {
        int s = 0;
        while (s < dg_n_states && strcmp(dg_states[s].uf, dg_cities[c].uf) != 0)
            s++;
        if (s == dg_n_states)
            return sf_errf(err, "datagen: city %s has unknown state %s", dg_cities[c].name,
                           dg_cities[c].uf);
        if (g->state_first[s] < 0) {
            g->state_first[s] = c;
        } else if (g->state_first[s] + g->state_n[s] != c) {
            return sf_errf(err, "datagen: cities of %s are not contiguous", dg_cities[c].uf);
        }
        g->city_state[c] = s;
        g->city_cdf[c] = (g->state_n[s] ? g->city_cdf[c - 1] : 0) + dg_cities[c].w;
        g->state_n[s]++;
        for (int z = dg_cities[c].zip_lo; z <= dg_cities[c].zip_hi; z++) {
            if (z < 0 || z >= N_ZIPS || g->zip_city[z] >= 0)
                return sf_errf(err, "datagen: zip prefix %05d of %s overlaps", z,
                               dg_cities[c].name);
            g->zip_city[z] = (int16_t)c;
        }
    }
    for (int s = 0; s < dg_n_states; s++)
        if (g->state_n[s] == 0)
            return sf_errf(err, "datagen: state %s has no city", dg_states[s].uf);
    for (int k = 0; k < dg_n_categories; k++)
        g->cat_cdf[k] = (k ? g->cat_cdf[k - 1] : 0) + dg_categories[k].w;
    for (int h = 0; h < 24; h++)
        g->hour_cdf[h] = (h ? g->hour_cdf[h - 1] : 0) + dg_hour_w[h];
    return 0;
}

/* The purchase window, cut into calendar months weighted by the real volume
 * (a steady 6,500 orders a month outside 2016-09 .. 2018-10). */
static int init_window(gen *g, int64_t from, int64_t to, sf_err *err)
{
    int y0, m0, y1, m1;
    year_month(from, &y0, &m0);
    year_month(to, &y1, &m1);
    int64_t n = (int64_t)(y1 - y0) * 12 + (m1 - m0) + 1;
    if (n > 12 * 200)
        return sf_errf(err, "datagen: purchase window longer than 200 years");
    g->win = calloc((size_t)n, sizeof *g->win);
    g->win_cdf = calloc((size_t)n, sizeof *g->win_cdf);
    if (!g->win || !g->win_cdf)
        return sf_errf(err, "datagen: out of memory");
    double total = 0;
    for (int pass = 0; pass < 2 && total <= 0; pass++) {
        int y = y0, m = m0;
        total = 0;
        for (int i = 0; i < n; i++) {
            int64_t ms = sf_days_from_civil(y, m, 1) * DAY;
            int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
            int64_t me = sf_days_from_civil(ny, nm, 1) * DAY - 1;
            window *w = &g->win[i];
            w->start = ms > from ? ms : from;
            w->end = me < to ? me : to;
            double frac = (double)(w->end - w->start + 1) / (double)(me - ms + 1);
            double orders = 6500;
            w->late = 1.0;
            for (int k = 0; k < dg_n_months; k++)
                if (dg_months[k].year == y && dg_months[k].month == m) {
                    orders = dg_months[k].orders;
                    w->late = dg_months[k].late_factor;
                }
            if (pass == 1)
                orders = 1; /* the window holds only months without real orders */
            total += orders * frac;
            g->win_cdf[i] = total;
            y = ny;
            m = nm;
        }
    }
    g->n_win = (int)n;
    return 0;
}

static int init_sellers(gen *g, uint64_t n_orders, sf_err *err)
{
    double scale = (double)n_orders / 1e5;
    double ns = 3100 * pow(scale, 0.75);
    g->n_sellers = (uint32_t)clampd(round(ns), 20, 2e6);
    double np = 33000 * scale;
    g->n_products = (uint32_t)clampd(round(np), 2.0 * g->n_sellers, 5e7);
    g->sellers = calloc(g->n_sellers, sizeof *g->sellers);
    g->seller_cdf = calloc(g->n_sellers, sizeof *g->seller_cdf);
    double *share = calloc(g->n_sellers, sizeof *share);
    g->product_used = calloc(g->n_products, 1);
    g->seller_used = calloc(g->n_sellers, 1);
    if (!g->sellers || !g->seller_cdf || !share || !g->product_used || !g->seller_used) {
        free(share);
        return sf_errf(err, "datagen: out of memory for %u sellers and %u products", g->n_sellers,
                       g->n_products);
    }
    dg_rng r;
    dg_rng_seed(&r, g->seed, K_WORLD, 0);
    double total = 0, share_total = 0;
    for (uint32_t j = 0; j < g->n_sellers; j++) {
        seller *s = &g->sellers[j];
        int st = dg_pick(&r, g->state_sell_cdf, dg_n_states);
        s->city = pick_city(g, &r, st);
        s->zip = pick_zip(&r, s->city);
        zip_location(s->city, s->zip, &s->lat, &s->lng);
        s->quality = dg_normal(&r);
        s->speed = exp(0.3 * dg_normal(&r) - 0.15 * s->quality);
        s->main_cat = dg_pick(&r, g->cat_cdf, dg_n_categories);
        double pop = exp(1.5 * dg_normal(&r));
        total += pop;
        g->seller_cdf[j] = total;
        share[j] = pow(pop, 0.6);
        share_total += share[j];
    }
    /* Standardise quality over sales (popularity-weighted mean 0, sd 1), so a
     * small pool with a lucky or unlucky top seller does not shift the score
     * mix or the late share of the whole dataset. */
    double m1 = 0, m2 = 0;
    for (uint32_t j = 0; j < g->n_sellers; j++) {
        double w = g->seller_cdf[j] - (j ? g->seller_cdf[j - 1] : 0);
        m1 += w * g->sellers[j].quality;
        m2 += w * g->sellers[j].quality * g->sellers[j].quality;
    }
    m1 /= total;
    double sd = sqrt(fmax(m2 / total - m1 * m1, 1e-6));
    for (uint32_t j = 0; j < g->n_sellers; j++)
        g->sellers[j].quality = (g->sellers[j].quality - m1) / sd;
    /* Every seller gets at least one product, the rest by popularity. */
    uint32_t spare = g->n_products - g->n_sellers;
    double cum = 0;
    for (uint32_t j = 0; j < g->n_sellers; j++) {
        g->sellers[j].first = j + (uint32_t)floor(spare * (cum / share_total));
        cum += share[j];
    }
    for (uint32_t j = 0; j < g->n_sellers; j++) {
        uint32_t next = j + 1 < g->n_sellers ? g->sellers[j + 1].first : g->n_products;
        g->sellers[j].n = next - g->sellers[j].first;
    }
    free(share);
    return 0;
}

static uint32_t seller_of(const gen *g, uint32_t product)
{
    uint32_t lo = 0, hi = g->n_sellers - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (g->sellers[mid].first <= product)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* ---------- products (recomputed from their own stream) ---------- */

static int round_price(dg_rng *r, double reais)
{
    double u = dg_unif(r);
    if (reais >= 10 && u < 0.45)
        return (int)floor(reais) * 100 + 90;
    if (reais >= 10 && u < 0.65)
        return (int)floor(reais) * 100 + 99;
    if (reais >= 20 && u < 0.8)
        return (int)round(reais) * 100;
    return (int)round(reais * 100);
}

static void product_get(const gen *g, uint32_t idx, product *p)
{
    dg_rng r;
    dg_rng_seed(&r, g->seed, K_PRODUCT, idx);
    memset(p, 0, sizeof *p);
    p->seller = seller_of(g, idx);
    double u = dg_unif(&r);
    if (u < 0.0175)
        p->cat = -1;
    else if (u < 0.8)
        p->cat = g->sellers[p->seller].main_cat;
    else
        p->cat = dg_pick(&r, g->cat_cdf, dg_n_categories);
    double pm = p->cat >= 0 ? dg_categories[p->cat].price_mult : 1.0;
    double wm = p->cat >= 0 ? dg_categories[p->cat].weight_mult : 1.0;
    p->price = round_price(&r, clampd(dg_lognormal(&r, 72 * pm, 0.75), 3.5, 6735));
    p->name_len = (int)clampd(round(64 - dg_lognormal(&r, 12, 0.7)), 5, 76);
    p->desc_len = (int)clampd(round(dg_lognormal(&r, 600, 0.8)), 4, 3992);
    p->photos = 1;
    while (p->photos < 20 && dg_unif(&r) < 0.47)
        p->photos++;
    double w = clampd(dg_lognormal(&r, 700 * wm, 1.1), 50, 40425);
    p->weight = w > 1000 ? (int)(round(w / 50) * 50) : (int)round(w);
    double side = cbrt(w * 5.0 * dg_lognormal(&r, 1, 0.4));
    p->length = (int)clampd(round(side * dg_lognormal(&r, 1.4, 0.25)), 16, 105);
    p->height = (int)clampd(round(side * dg_lognormal(&r, 0.6, 0.5)), 2, 105);
    p->width = (int)clampd(round(side * dg_lognormal(&r, 1.0, 0.25)), 11, 118);
    p->has_dims = dg_unif(&r) >= 0.0004;
}

static int64_t freight_cents(dg_rng *r, const product *p, double km)
{
    if (dg_unif(r) < 0.0035)
        return 0;
    double kg = p->has_dims ? p->weight / 1000.0 : 0.7;
    double vol = p->has_dims ? p->length * p->height * p->width / 6000.0 : 0;
    if (vol > kg)
        kg = vol;
    double reais = 7.0 + 8.5 * fmin(km, 1500) / 1000 + (1.45 + 0.9 * fmin(km, 2500) / 1000) * kg;
    return (int64_t)round(100 * reais * dg_lognormal(r, 1, 0.22));
}

/* ---------- one order ---------- */

typedef struct pay {
    int type, inst;
    int64_t cents;
} pay;

typedef struct order {
    char id[SF_ID_LEN + 1], cust_id[SF_ID_LEN + 1];
    customer c;
    int status;
    int64_t purchase, approved, carrier, delivered, estimated, limit; /* -1: none */
    item items[MAX_ITEMS];
    int n_items;
    int write_items;
    pay pays[MAX_PAYS];
    int n_pays;
} order;

static int64_t draw_purchase(gen *g, dg_rng *r, double *late)
{
    int i = dg_pick(r, g->win_cdf, g->n_win);
    const window *w = &g->win[i];
    *late = w->late;
    int64_t d0 = floor_day(w->start), d1 = floor_day(w->end);
    for (int tries = 0; tries < 16; tries++) {
        int64_t day = d0 + (int64_t)dg_below(r, (uint64_t)((d1 - d0) / DAY + 1)) * DAY;
        int64_t t = day + dg_pick(r, g->hour_cdf, 24) * 3600 + (int64_t)dg_below(r, 3600);
        if (t >= w->start && t <= w->end)
            return t;
    }
    return w->start + (int64_t)dg_below(r, (uint64_t)(w->end - w->start + 1));
}

static void pick_customer(gen *g, dg_rng *r, uint64_t idx, customer *c)
{
    if (g->ring_n > 0 && dg_unif(r) < 0.031) {
        *c = g->ring[dg_below(r, (uint64_t)g->ring_n)];
        return;
    }
    hexid(c->uid, g->seed, K_UNIQUE, idx);
    int st = dg_pick(r, g->state_cust_cdf, dg_n_states);
    c->city = pick_city(g, r, st);
    c->zip = pick_zip(r, c->city);
    g->ring[g->ring_pos] = *c;
    g->ring_pos = (g->ring_pos + 1) % RING;
    if (g->ring_n < RING)
        g->ring_n++;
}

static uint32_t pick_product_of(gen *g, dg_rng *r, uint32_t s)
{
    double u = dg_unif(r);
    return g->sellers[s].first + (uint32_t)(g->sellers[s].n * u * u) % g->sellers[s].n;
}

static void fill_items(gen *g, dg_rng *r, order *o, double clat, double clng)
{
    int n = items_n[dg_pick_w(r, items_w, N_ITEMS_CHOICES)];
    uint32_t s = (uint32_t)dg_pick(r, g->seller_cdf, (int)g->n_sellers);
    uint32_t prod = pick_product_of(g, r, s);
    for (int k = 0; k < n; k++) {
        if (k > 0 && dg_unif(r) >= 0.72) {
            if (dg_unif(r) < 0.3) {
                s = (uint32_t)dg_pick(r, g->seller_cdf, (int)g->n_sellers);
                prod = pick_product_of(g, r, s);
            } else if (g->sellers[s].n > 1) {
                uint32_t off = prod - g->sellers[s].first;
                off = (off + 1 + (uint32_t)dg_below(r, g->sellers[s].n - 1)) % g->sellers[s].n;
                prod = g->sellers[s].first + off;
            }
        }
        item *it = &o->items[k];
        if (k > 0 && prod == o->items[k - 1].product) {
            *it = o->items[k - 1];
            continue;
        }
        it->product = prod;
        product_get(g, prod, &it->p);
        const seller *sl = &g->sellers[it->p.seller];
        it->freight = freight_cents(r, &it->p, distance_km(sl->lat, sl->lng, clat, clng));
    }
    o->n_items = n;
}

/* Splits cents into n positive parts (the last takes the rounding). */
static void split(dg_rng *r, int64_t cents, int n, int64_t *parts)
{
    double w[MAX_PAYS], tw = 0;
    for (int i = 0; i < n; i++)
        tw += (w[i] = 0.2 + dg_unif(r));
    int64_t left = cents;
    for (int i = 0; i < n - 1; i++) {
        parts[i] = (int64_t)floor(cents * w[i] / tw);
        left -= parts[i];
    }
    parts[n - 1] = left;
}

static void fill_payments(dg_rng *r, order *o, int64_t total)
{
    double u = dg_unif(r);
    int64_t parts[MAX_PAYS];
    o->n_pays = 0;
    if (u < 0.747 || (u >= 0.942 && u < 0.9665)) {
        int64_t vouchers = 0;
        int nv = 0;
        if (u >= 0.942) { /* credit card plus vouchers */
            nv = 1;
            while (nv < 12 && dg_unif(r) < 0.35)
                nv++;
            vouchers = (int64_t)round(total * (0.05 + 0.6 * dg_unif(r)));
            split(r, vouchers, nv, parts);
        }
        int inst = 1 + dg_pick_w(r, inst_w, 24);
        int64_t cap = (total - vouchers) / 600;
        if (inst > 1 && inst > cap)
            inst = cap > 1 ? (int)cap : 1;
        o->pays[o->n_pays++] = (pay){PAY_CC, inst, total - vouchers};
        for (int i = 0; i < nv; i++)
            o->pays[o->n_pays++] = (pay){PAY_VOUCHER, 1, parts[i]};
    } else if (u < 0.942) {
        o->pays[o->n_pays++] = (pay){PAY_BOLETO, 1, total};
    } else if (u < 0.984) {
        int nv = 1;
        while (nv < 10 && dg_unif(r) < 0.2)
            nv++;
        split(r, total, nv, parts);
        for (int i = 0; i < nv; i++)
            o->pays[o->n_pays++] = (pay){PAY_VOUCHER, 1, parts[i]};
    } else {
        o->pays[o->n_pays++] = (pay){PAY_DEBIT, 1, total};
    }
    if (dg_unif(r) < 0.00015 && o->n_pays < MAX_PAYS) /* the real data has a few 0.00 vouchers */
        o->pays[o->n_pays++] = (pay){PAY_VOUCHER, 1, 0};
}

static int draw_score(dg_rng *r, double eta)
{
    double z = eta + dg_logistic(r);
    int s = 1;
    while (s < 5 && z > cut[s - 1])
        s++;
    return s;
}

static void write_comment(gen *g, dg_rng *r, int score, int late)
{
    dg_out *o = g->out[SF_T_REVIEWS];
    int tone = score <= 2 ? 0 : score == 3 ? 1 : 2;
    char msg[1024];
    size_t len = 0;
    int n = 1 + (dg_unif(r) < 0.6) + (dg_unif(r) < 0.25);
    for (int i = 0; i < n; i++) {
        const char *frag = late && tone < 2 && dg_unif(r) < 0.5
                               ? dg_late_phrases[dg_below(r, (uint64_t)dg_n_late_phrases)]
                               : dg_phrases[tone][dg_below(r, (uint64_t)dg_n_phrases[tone])];
        if (i > 0) {
            double u = dg_unif(r);
            const char *sep = u < 0.42   ? ", "
                              : u < 0.62 ? ". "
                              : u < 0.72 ? " "
                              : u < 0.93 ? "\n"
                                         : " - ";
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s", sep);
        }
        if (dg_unif(r) < 0.012)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "\"%s\"", frag);
        else
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s", frag);
    }
    dg_out_field(o, msg);
}

static void write_review(gen *g, dg_rng *r, const order *o, uint64_t rid, int score, int late,
                         int64_t created)
{
    dg_out *out = g->out[SF_T_REVIEWS];
    char id[SF_ID_LEN + 1];
    hexid(id, g->seed, K_REVIEW, rid);
    int tone = score <= 2 ? 0 : score == 3 ? 1 : 2;
    dg_out_str(out, id);
    dg_out_char(out, ',');
    dg_out_str(out, o->id);
    dg_out_char(out, ',');
    dg_out_int(out, score);
    dg_out_char(out, ',');
    if (dg_unif(r) < TITLE_P)
        dg_out_field(out, dg_titles[tone][dg_below(r, (uint64_t)dg_n_titles[tone])]);
    dg_out_char(out, ',');
    if (dg_unif(r) < msg_p[score])
        write_comment(g, r, score, late);
    dg_out_char(out, ',');
    dg_out_time(out, created);
    dg_out_char(out, ',');
    double answer = clampd(dg_lognormal(r, 1.7, 0.75), 0.1, 60);
    dg_out_time(out, created + (int64_t)(answer * DAY));
    dg_out_char(out, '\n');
    g->counts.rows[SF_T_REVIEWS]++;
}

static void opt_time(dg_out *o, int64_t t)
{
    dg_out_char(o, ',');
    if (t >= 0)
        dg_out_time(o, t);
}

static void write_order_rows(gen *g, const order *o)
{
    const dg_city *city = &dg_cities[o->c.city];
    dg_out *w = g->out[SF_T_ORDERS];
    dg_out_str(w, o->id);
    dg_out_char(w, ',');
    dg_out_str(w, o->cust_id);
    dg_out_char(w, ',');
    dg_out_str(w, sf_status_name(status_of[o->status]));
    dg_out_char(w, ',');
    dg_out_time(w, o->purchase);
    opt_time(w, o->approved);
    opt_time(w, o->carrier);
    opt_time(w, o->delivered);
    opt_time(w, o->estimated);
    dg_out_char(w, '\n');
    g->counts.rows[SF_T_ORDERS]++;

    w = g->out[SF_T_CUSTOMERS];
    dg_out_str(w, o->cust_id);
    dg_out_char(w, ',');
    dg_out_str(w, o->c.uid);
    dg_out_char(w, ',');
    dg_out_zip(w, o->c.zip);
    dg_out_char(w, ',');
    dg_out_field(w, city->name);
    dg_out_char(w, ',');
    dg_out_str(w, city->uf);
    dg_out_char(w, '\n');
    g->counts.rows[SF_T_CUSTOMERS]++;
    g->zip_used[o->c.zip] = 1;

    w = g->out[SF_T_ITEMS];
    for (int k = 0; o->write_items && k < o->n_items; k++) {
        const item *it = &o->items[k];
        char pid[SF_ID_LEN + 1], sid[SF_ID_LEN + 1];
        hexid(pid, g->seed, K_PRODUCT, it->product);
        hexid(sid, g->seed, K_SELLER, it->p.seller);
        g->product_used[it->product] = 1;
        g->seller_used[it->p.seller] = 1;
        dg_out_str(w, o->id);
        dg_out_char(w, ',');
        dg_out_int(w, k + 1);
        dg_out_char(w, ',');
        dg_out_str(w, pid);
        dg_out_char(w, ',');
        dg_out_str(w, sid);
        dg_out_char(w, ',');
        dg_out_time(w, o->limit);
        dg_out_char(w, ',');
        dg_out_money(w, it->p.price);
        dg_out_char(w, ',');
        dg_out_money(w, it->freight);
        dg_out_char(w, '\n');
        g->counts.rows[SF_T_ITEMS]++;
    }

    w = g->out[SF_T_PAYMENTS];
    for (int k = 0; k < o->n_pays; k++) {
        dg_out_str(w, o->id);
        dg_out_char(w, ',');
        dg_out_int(w, k + 1);
        dg_out_char(w, ',');
        dg_out_str(w, pay_name[o->pays[k].type]);
        dg_out_char(w, ',');
        dg_out_int(w, o->pays[k].inst);
        dg_out_char(w, ',');
        dg_out_money(w, o->pays[k].cents);
        dg_out_char(w, '\n');
        g->counts.rows[SF_T_PAYMENTS]++;
    }
}

static void gen_order(gen *g, uint64_t idx)
{
    dg_rng r;
    dg_rng_seed(&r, g->seed, K_ORDER, idx);
    order o;
    memset(&o, 0, sizeof o);
    hexid(o.id, g->seed, K_ORDER, idx);
    hexid(o.cust_id, g->seed, K_CUSTOMER, idx);
    pick_customer(g, &r, idx, &o.c);
    int cstate = g->city_state[o.c.city];
    double clat, clng;
    zip_location(o.c.city, o.c.zip, &clat, &clng);
    double month_late;
    o.purchase = draw_purchase(g, &r, &month_late);
    o.status = dg_pick_w(&r, status_w, ST_COUNT);

    /* Basket: items, their sellers, distance, payments. */
    fill_items(g, &r, &o, clat, clng);
    o.write_items = dg_unif(&r) >= status_no_items[o.status];
    int64_t price = 0, freight = 0;
    double km = 0, qmin = 1e9, speed = 0;
    int n_sellers = 0;
    uint32_t seen[MAX_ITEMS];
    for (int k = 0; k < o.n_items; k++) {
        const item *it = &o.items[k];
        price += it->p.price;
        freight += it->freight;
        int dup = 0;
        for (int j = 0; j < n_sellers; j++)
            dup |= seen[j] == it->p.seller;
        if (dup)
            continue;
        seen[n_sellers++] = it->p.seller;
        const seller *s = &g->sellers[it->p.seller];
        km = fmax(km, distance_km(s->lat, s->lng, clat, clng));
        qmin = fmin(qmin, s->quality);
        speed = fmax(speed, s->speed);
    }
    fill_payments(&r, &o, price + freight);

    /* Lifecycle. */
    double t0 = (3.5 + km / 230) * (0.85 + 0.15 * dg_states[cstate].late_factor);
    int est_days = (int)round(1.15 * t0 + 1.7 + 12 + 6 * dg_unif(&r));
    o.estimated = floor_day(o.purchase) + (int64_t)est_days * DAY;
    double approve_h;
    if (o.pays[0].type == PAY_BOLETO)
        approve_h = dg_lognormal(&r, 22, 0.7);
    else if (dg_unif(&r) < 0.82)
        approve_h = dg_lognormal(&r, 0.27, 0.7);
    else
        approve_h = dg_lognormal(&r, 10, 1.0);
    o.approved = o.purchase + 60 + (int64_t)(approve_h * 3600);
    double handling = fmax(0.1, dg_lognormal(&r, 1.7, 0.8) * speed);
    o.carrier = o.approved + (int64_t)(handling * DAY);
    double transit = t0 * dg_lognormal(&r, 1, 0.45);
    double p_disrupt = DISRUPT_P * month_late * dg_states[cstate].late_factor * exp(-0.5 * qmin);
    if (dg_unif(&r) < fmin(p_disrupt, 0.7))
        transit += 2 + dg_exponential(&r, 9);
    o.delivered = o.carrier + (int64_t)(transit * DAY);
    o.limit = o.approved + (int64_t)((3 + 4 * dg_unif(&r)) * DAY);
    int cancel_kind = (int)dg_below(&r, 10); /* 0-1: never approved, 9: reached the carrier */
    switch (o.status) {
    case ST_DELIVERED:
        break;
    case ST_SHIPPED:
        o.delivered = -1;
        break;
    case ST_CANCELED:
        o.delivered = -1;
        if (cancel_kind < 9)
            o.carrier = -1;
        if (cancel_kind < 2)
            o.approved = -1;
        break;
    case ST_CREATED:
        o.approved = -1;
        /* fall through */
    default:
        o.carrier = o.delivered = -1;
        break;
    }

    /* Latent satisfaction: what is known at purchase, then delivery. */
    int cat = o.items[0].p.cat;
    double eta = cat >= 0 ? dg_categories[cat].score_shift : -0.27;
    eta += 0.45 * qmin - 0.35 * (o.n_items > 1) - 0.9 * (n_sellers > 1);
    eta -= 0.2 * fmin((double)freight / (double)(price > 0 ? price : 1), 2.0);
    eta -= 0.012 * (est_days - 23);
    int late = 0;
    if (o.status == ST_DELIVERED) {
        double days_late = (double)(o.delivered - o.estimated) / DAY;
        late = days_late > 0;
        if (late)
            eta -= 0.5 + 0.3 * fmin(days_late, 8);
        else
            eta -= 0.04 * ((double)(o.delivered - o.purchase) / DAY - 10);
    } else {
        eta += status_shift[o.status];
    }

    write_order_rows(g, &o);

    if (dg_unif(&r) < status_review[o.status]) {
        int64_t created;
        if (o.status == ST_DELIVERED) {
            double u = dg_unif(&r);
            int extra = u < 0.85 ? 0 : u < 0.94 ? 1 : u < 0.98 ? 2 : 3;
            created = floor_day(o.delivered) + (int64_t)(1 + extra) * DAY;
        } else if (o.status == ST_SHIPPED) {
            created = o.estimated + (int64_t)(1 + dg_below(&r, 5)) * DAY;
        } else {
            created = floor_day(o.purchase) + (int64_t)(2 + dg_exponential(&r, 10)) * DAY;
        }
        write_review(g, &r, &o, 2 * idx, draw_score(&r, eta), late, created);
        if (dg_unif(&r) < 0.0047) { /* a second, later review of the same order */
            created += (int64_t)(1 + dg_below(&r, 40)) * DAY;
            write_review(g, &r, &o, 2 * idx + 1, draw_score(&r, eta), late, created);
        }
    }
}

/* ---------- the tables written after the orders ---------- */

static void write_products(gen *g)
{
    dg_out *w = g->out[SF_T_PRODUCTS];
    for (uint32_t i = 0; i < g->n_products; i++) {
        if (!g->product_used[i])
            continue;
        product p;
        product_get(g, i, &p);
        char id[SF_ID_LEN + 1];
        hexid(id, g->seed, K_PRODUCT, i);
        dg_out_str(w, id);
        dg_out_char(w, ',');
        if (p.cat >= 0) {
            dg_out_str(w, dg_categories[p.cat].pt);
            dg_out_char(w, ',');
            dg_out_int(w, p.name_len);
            dg_out_char(w, ',');
            dg_out_int(w, p.desc_len);
            dg_out_char(w, ',');
            dg_out_int(w, p.photos);
        } else {
            dg_out_str(w, ",,,");
        }
        if (p.has_dims) {
            int v[4] = {p.weight, p.length, p.height, p.width};
            for (int k = 0; k < 4; k++) {
                dg_out_char(w, ',');
                dg_out_int(w, v[k]);
            }
        } else {
            dg_out_str(w, ",,,,");
        }
        dg_out_char(w, '\n');
        g->counts.rows[SF_T_PRODUCTS]++;
    }
}

static void write_sellers(gen *g)
{
    dg_out *w = g->out[SF_T_SELLERS];
    for (uint32_t j = 0; j < g->n_sellers; j++) {
        if (!g->seller_used[j])
            continue;
        const seller *s = &g->sellers[j];
        char id[SF_ID_LEN + 1];
        hexid(id, g->seed, K_SELLER, j);
        dg_out_str(w, id);
        dg_out_char(w, ',');
        dg_out_zip(w, s->zip);
        dg_out_char(w, ',');
        dg_out_field(w, dg_cities[s->city].name);
        dg_out_char(w, ',');
        dg_out_str(w, dg_cities[s->city].uf);
        dg_out_char(w, '\n');
        g->counts.rows[SF_T_SELLERS]++;
        g->zip_used[s->zip] = 1;
    }
}

/* A few rows per zip prefix in use, scattered around its location, like the
 * real table's many rows per prefix; 0.3% of prefixes have none. */
static void write_geolocation(gen *g)
{
    dg_out *w = g->out[SF_T_GEOLOCATION];
    for (int z = 0; z < N_ZIPS; z++) {
        if (!g->zip_used[z])
            continue;
        dg_rng r;
        dg_rng_seed(&r, g->seed, K_ZIP, (uint64_t)z);
        if (dg_unif(&r) < 0.003)
            continue;
        int city = g->zip_city[z];
        double lat, lng;
        zip_location(city, z, &lat, &lng);
        int rows = 1 + (int)dg_below(&r, 6);
        for (int k = 0; k < rows; k++) {
            dg_out_zip(w, z);
            dg_out_char(w, ',');
            dg_out_fixed(w, lat + 0.01 * dg_normal(&r), 14);
            dg_out_char(w, ',');
            dg_out_fixed(w, lng + 0.01 * dg_normal(&r), 14);
            dg_out_char(w, ',');
            dg_out_field(w, dg_cities[city].name);
            dg_out_char(w, ',');
            dg_out_str(w, dg_cities[city].uf);
            dg_out_char(w, '\n');
            g->counts.rows[SF_T_GEOLOCATION]++;
        }
    }
}

static void write_translation(gen *g)
{
    dg_out *w = g->out[SF_T_TRANSLATION];
    for (int k = 0; k < dg_n_categories; k++) {
        if (!dg_categories[k].en)
            continue;
        dg_out_str(w, dg_categories[k].pt);
        dg_out_char(w, ',');
        dg_out_str(w, dg_categories[k].en);
        dg_out_char(w, '\n');
        g->counts.rows[SF_T_TRANSLATION]++;
    }
}

/* ---------- entry point ---------- */

static void gen_free(gen *g)
{
    for (int t = 0; t < SF_T_COUNT; t++)
        dg_out_abort(g->out[t]);
    free(g->win);
    free(g->win_cdf);
    free(g->sellers);
    free(g->seller_cdf);
    free(g->product_used);
    free(g->seller_used);
    free(g);
}

int sf_datagen_write(const sf_datagen_opts *opts, const char *dir, sf_datagen_counts *counts,
                     sf_err *err)
{
    /* The real data's purchase range: 2016-09-04 00:00:00 .. 2018-10-17 23:59:59. */
    const int64_t def_from = sf_days_from_civil(2016, 9, 4) * DAY;
    const int64_t def_to = sf_days_from_civil(2018, 10, 18) * DAY - 1;
    const int64_t min_t = sf_days_from_civil(1971, 1, 1) * DAY,
                  max_t = sf_days_from_civil(2200, 1, 1) * DAY;
    if (opts->n_orders < 1 || opts->n_orders > 2000000000ULL)
        return sf_errf(err, "datagen: --orders must be between 1 and 2000000000, got %llu",
                       (unsigned long long)opts->n_orders);
    int64_t from = opts->from == SF_TIME_NONE ? def_from : opts->from / 1000;
    int64_t to = opts->to == SF_TIME_NONE ? def_to : opts->to / 1000;
    if (opts->to != SF_TIME_NONE && opts->to % (DAY * 1000) == 0)
        to += DAY - 1; /* a date as the end of the window means the whole day */
    if (from < min_t || to >= max_t)
        return sf_errf(err, "datagen: purchase window must lie within 1971 .. 2199");
    if (from > to)
        return sf_errf(err, "datagen: empty purchase window (--from is after --to)");

    gen *g = calloc(1, sizeof *g);
    if (!g)
        return sf_errf(err, "datagen: out of memory");
    g->seed = opts->seed;
    if (init_world(g, err) < 0 || init_window(g, from, to, err) < 0 ||
        init_sellers(g, opts->n_orders, err) < 0) {
        gen_free(g);
        return -1;
    }
    for (int t = 0; t < SF_T_COUNT; t++) {
        g->out[t] = dg_out_open(dir, table_base[t], opts->gzip, table_header[t], err);
        if (!g->out[t]) {
            gen_free(g);
            return -1;
        }
    }
    for (uint64_t i = 0; i < opts->n_orders; i++)
        gen_order(g, i);
    write_products(g);
    write_sellers(g);
    write_geolocation(g);
    write_translation(g);

    int rc = 0;
    for (int t = 0; t < SF_T_COUNT; t++) {
        sf_err e;
        if (dg_out_close(g->out[t], &e) < 0 && rc == 0)
            rc = sf_errf(err, "%s", e.msg);
        g->out[t] = NULL;
    }
    if (rc == 0 && counts)
        *counts = g->counts;
    gen_free(g);
    return rc;
}
