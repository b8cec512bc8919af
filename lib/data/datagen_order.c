/*
 * datagen_order.c - one synthetic order (see datagen_impl.h): its purchase
 * time, customer (3% returning), items from one or two sellers, payments,
 * lifecycle times (approval, handling, a distance-driven transit with
 * carrier disruptions) and its review, an ordinal logit of a latent
 * satisfaction. The constants are the calibration on the real sample
 * (docs/data.md).
 */
#include "datagen_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    int64_t d0 = dg_floor_day(w->start), d1 = dg_floor_day(w->end);
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
    dg_hexid(c->uid, g->seed, K_UNIQUE, idx);
    int st = dg_pick(r, g->state_cust_cdf, dg_n_states);
    c->city = dg_pick_city(g, r, st);
    c->zip = dg_pick_zip(r, c->city);
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
        dg_product_get(g, prod, &it->p);
        const seller *sl = &g->sellers[it->p.seller];
        it->freight = dg_freight_cents(r, &it->p, dg_distance_km(sl->lat, sl->lng, clat, clng));
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
    dg_hexid(id, g->seed, K_REVIEW, rid);
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
    double answer = dg_clampd(dg_lognormal(r, 1.7, 0.75), 0.1, 60);
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
        dg_hexid(pid, g->seed, K_PRODUCT, it->product);
        dg_hexid(sid, g->seed, K_SELLER, it->p.seller);
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

void dg_gen_order(gen *g, uint64_t idx)
{
    dg_rng r;
    dg_rng_seed(&r, g->seed, K_ORDER, idx);
    order o;
    memset(&o, 0, sizeof o);
    dg_hexid(o.id, g->seed, K_ORDER, idx);
    dg_hexid(o.cust_id, g->seed, K_CUSTOMER, idx);
    pick_customer(g, &r, idx, &o.c);
    int cstate = g->city_state[o.c.city];
    double clat, clng;
    dg_zip_location(o.c.city, o.c.zip, &clat, &clng);
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
        km = fmax(km, dg_distance_km(s->lat, s->lng, clat, clng));
        qmin = fmin(qmin, s->quality);
        speed = fmax(speed, s->speed);
    }
    fill_payments(&r, &o, price + freight);

    /* Lifecycle. */
    double t0 = (3.5 + km / 230) * (0.85 + 0.15 * dg_states[cstate].late_factor);
    int est_days = (int)round(1.15 * t0 + 1.7 + 12 + 6 * dg_unif(&r));
    o.estimated = dg_floor_day(o.purchase) + (int64_t)est_days * DAY;
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
            created = dg_floor_day(o.delivered) + (int64_t)(1 + extra) * DAY;
        } else if (o.status == ST_SHIPPED) {
            created = o.estimated + (int64_t)(1 + dg_below(&r, 5)) * DAY;
        } else {
            created = dg_floor_day(o.purchase) + (int64_t)(2 + dg_exponential(&r, 10)) * DAY;
        }
        write_review(g, &r, &o, 2 * idx, draw_score(&r, eta), late, created);
        if (dg_unif(&r) < 0.0047) { /* a second, later review of the same order */
            created += (int64_t)(1 + dg_below(&r, 40)) * DAY;
            write_review(g, &r, &o, 2 * idx + 1, draw_score(&r, eta), late, created);
        }
    }
}
