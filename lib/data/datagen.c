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
#include "datagen_impl.h"

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

/* ---------- small helpers ---------- */

void dg_year_month(int64_t secs, int *y, int *m)
{
    int64_t yy;
    int d;
    sf_civil_from_days((secs >= 0 ? secs : secs - (DAY - 1)) / DAY, &yy, m, &d);
    *y = (int)yy;
}

int64_t dg_floor_day(int64_t secs)
{
    return (secs >= 0 ? secs / DAY : (secs - (DAY - 1)) / DAY) * DAY;
}

void dg_hexid(char out[SF_ID_LEN + 1], uint64_t seed, uint64_t kind, uint64_t index)
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

double dg_clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Great-circle distance in km. */
double dg_distance_km(double lat1, double lng1, double lat2, double lng2)
{
    const double r = 0.017453292519943295;
    double a = sin((lat2 - lat1) * r / 2), b = sin((lng2 - lng1) * r / 2);
    double h = a * a + cos(lat1 * r) * cos(lat2 * r) * b * b;
    return 2 * 6371.0 * asin(sqrt(h < 1 ? h : 1));
}

/* Where a zip prefix is: its city plus a fixed offset (the same for every seed). */
void dg_zip_location(int city, int zip, double *lat, double *lng)
{
    uint64_t h = dg_hash(0, K_ZIP, (uint64_t)zip);
    *lat = dg_cities[city].lat + ((double)(h & 0xffff) / 65535.0 - 0.5) * 0.16;
    *lng = dg_cities[city].lng + ((double)((h >> 16) & 0xffff) / 65535.0 - 0.5) * 0.16;
}

int dg_pick_city(gen *g, dg_rng *r, int state)
{
    return g->state_first[state] +
           dg_pick(r, g->city_cdf + g->state_first[state], g->state_n[state]);
}

int dg_pick_zip(dg_rng *r, int city)
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
    dg_year_month(from, &y0, &m0);
    dg_year_month(to, &y1, &m1);
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
    g->n_sellers = (uint32_t)dg_clampd(round(ns), 20, 2e6);
    double np = 33000 * scale;
    g->n_products = (uint32_t)dg_clampd(round(np), 2.0 * g->n_sellers, 5e7);
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
        s->city = dg_pick_city(g, &r, st);
        s->zip = dg_pick_zip(&r, s->city);
        dg_zip_location(s->city, s->zip, &s->lat, &s->lng);
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

uint32_t dg_seller_of(const gen *g, uint32_t product)
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

void dg_product_get(const gen *g, uint32_t idx, product *p)
{
    dg_rng r;
    dg_rng_seed(&r, g->seed, K_PRODUCT, idx);
    memset(p, 0, sizeof *p);
    p->seller = dg_seller_of(g, idx);
    double u = dg_unif(&r);
    if (u < 0.0175)
        p->cat = -1;
    else if (u < 0.8)
        p->cat = g->sellers[p->seller].main_cat;
    else
        p->cat = dg_pick(&r, g->cat_cdf, dg_n_categories);
    double pm = p->cat >= 0 ? dg_categories[p->cat].price_mult : 1.0;
    double wm = p->cat >= 0 ? dg_categories[p->cat].weight_mult : 1.0;
    p->price = round_price(&r, dg_clampd(dg_lognormal(&r, 72 * pm, 0.75), 3.5, 6735));
    p->name_len = (int)dg_clampd(round(64 - dg_lognormal(&r, 12, 0.7)), 5, 76);
    p->desc_len = (int)dg_clampd(round(dg_lognormal(&r, 600, 0.8)), 4, 3992);
    p->photos = 1;
    while (p->photos < 20 && dg_unif(&r) < 0.47)
        p->photos++;
    double w = dg_clampd(dg_lognormal(&r, 700 * wm, 1.1), 50, 40425);
    p->weight = w > 1000 ? (int)(round(w / 50) * 50) : (int)round(w);
    double side = cbrt(w * 5.0 * dg_lognormal(&r, 1, 0.4));
    p->length = (int)dg_clampd(round(side * dg_lognormal(&r, 1.4, 0.25)), 16, 105);
    p->height = (int)dg_clampd(round(side * dg_lognormal(&r, 0.6, 0.5)), 2, 105);
    p->width = (int)dg_clampd(round(side * dg_lognormal(&r, 1.0, 0.25)), 11, 118);
    p->has_dims = dg_unif(&r) >= 0.0004;
}

int64_t dg_freight_cents(dg_rng *r, const product *p, double km)
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

/* ---------- the tables written after the orders ---------- */

static void write_products(gen *g)
{
    dg_out *w = g->out[SF_T_PRODUCTS];
    for (uint32_t i = 0; i < g->n_products; i++) {
        if (!g->product_used[i])
            continue;
        product p;
        dg_product_get(g, i, &p);
        char id[SF_ID_LEN + 1];
        dg_hexid(id, g->seed, K_PRODUCT, i);
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
        dg_hexid(id, g->seed, K_SELLER, j);
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
        dg_zip_location(city, z, &lat, &lng);
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
        dg_gen_order(g, i);
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
