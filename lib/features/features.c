/*
 * features.c - the feature specs ("full" and "seed") and the one function
 * that turns an order event plus its history into a row (see
 * satisfy/features.h). Training (training_rows.c) and the scorer both call
 * sf_features_compute, so they cannot disagree.
 *
 * Everything here reads only the event (which carries only what is known at
 * its stage: lifecycle.c leaves later timestamps as SF_TIME_NONE) and the
 * history view. Codes for categories and states come from fixed tables that
 * are part of the spec hash, so they mean the same in every build.
 */
#include "satisfy/features.h"
#include "satisfy/calendar.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS  86400000.0
#define HOUR_MS 3600000.0

/* Olist's 71 English category names, sorted; the code is the index, an
 * unknown non-empty name is N_CATEGORIES, empty is NaN. */
static const char *const categories[] = {
    "agro_industry_and_commerce",
    "air_conditioning",
    "art",
    "arts_and_craftmanship",
    "audio",
    "auto",
    "baby",
    "bed_bath_table",
    "books_general_interest",
    "books_imported",
    "books_technical",
    "cds_dvds_musicals",
    "christmas_supplies",
    "cine_photo",
    "computers",
    "computers_accessories",
    "consoles_games",
    "construction_tools_construction",
    "construction_tools_lights",
    "construction_tools_safety",
    "cool_stuff",
    "costruction_tools_garden",
    "costruction_tools_tools",
    "diapers_and_hygiene",
    "drinks",
    "dvds_blu_ray",
    "electronics",
    "fashio_female_clothing",
    "fashion_bags_accessories",
    "fashion_childrens_clothes",
    "fashion_male_clothing",
    "fashion_shoes",
    "fashion_sport",
    "fashion_underwear_beach",
    "fixed_telephony",
    "flowers",
    "food",
    "food_drink",
    "furniture_bedroom",
    "furniture_decor",
    "furniture_living_room",
    "furniture_mattress_and_upholstery",
    "garden_tools",
    "health_beauty",
    "home_appliances",
    "home_appliances_2",
    "home_comfort_2",
    "home_confort",
    "home_construction",
    "housewares",
    "industry_commerce_and_business",
    "kitchen_dining_laundry_garden_furniture",
    "la_cuisine",
    "luggage_accessories",
    "market_place",
    "music",
    "musical_instruments",
    "office_furniture",
    "party_supplies",
    "perfumery",
    "pet_shop",
    "security_and_services",
    "signaling_and_security",
    "small_appliances",
    "small_appliances_home_oven_and_coffee",
    "sports_leisure",
    "stationery",
    "tablets_printing_image",
    "telephony",
    "toys",
    "watches_gifts",
};
#define N_CATEGORIES ((int)(sizeof categories / sizeof categories[0]))

/* Brazil's 27 federative units, sorted. */
static const char *const states[] = {
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA",
    "PB", "PE", "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO",
};
#define N_STATES ((int)(sizeof states / sizeof states[0]))

/* Indices of the full spec, in order. */
enum {
    F_STAGE,
    F_ELAPSED_DAYS,
    F_N_ITEMS,
    F_N_SELLERS,
    F_N_PRODUCTS,
    F_TOTAL_PRICE,
    F_TOTAL_FREIGHT,
    F_FREIGHT_RATIO,
    F_MAX_WEIGHT,
    F_SUM_WEIGHT,
    F_SUM_VOLUME,
    F_MEAN_PHOTOS,
    F_MEAN_DESC_LEN,
    F_MEAN_NAME_LEN,
    F_CATEGORY,
    F_PAY_TYPE,
    F_N_PAYMENTS,
    F_MAX_INSTALLMENTS,
    F_PAYMENT_VALUE,
    F_VOUCHER,
    F_CUSTOMER_STATE,
    F_SELLER_STATE,
    F_SAME_STATE,
    F_DISTANCE,
    F_ESTIMATED_DAYS,
    F_LIMIT_DAYS,
    F_APPROVAL_HOURS,
    F_CARRIER_DAYS,
    F_CARRIER_VS_LIMIT,
    F_DELIVERY_DAYS,
    F_DELAY_DAYS,
    F_LATE,
    F_SELLER_REVIEW_MEAN,
    F_SELLER_REVIEW_COUNT,
    F_SELLER_LATE_RATE,
    F_SELLER_DELIVERED,
    F_CUSTOMER_ORDERS,
    F_CUSTOMER_REVIEW_MEAN,
    F_WEEKDAY,
    F_HOUR,
    F_MONTH,
    F_COUNT
};

#define P SF_STAGE_PURCHASED
static const sf_feature_def full_defs[F_COUNT] = {
    {"stage", P, "event stage code (0 purchased .. 5 unavailable)"},
    {"elapsed_days", P, "event time - purchase time, days"},
    {"n_items", P, "items: count of order items"},
    {"n_sellers", P, "items: distinct seller_id"},
    {"n_products", P, "items: distinct product_id"},
    {"total_price", P, "items: sum of price"},
    {"total_freight", P, "items: sum of freight_value"},
    {"freight_ratio", P, "items: total freight / total price"},
    {"max_weight_g", P, "products: max product_weight_g over items"},
    {"sum_weight_g", P, "products: sum of product_weight_g over items"},
    {"sum_volume_cm3", P, "products: sum of length x height x width over items"},
    {"mean_photos", P, "products: mean product_photos_qty"},
    {"mean_description_len", P, "products: mean product_description_lenght"},
    {"mean_name_len", P, "products: mean product_name_lenght"},
    {"category_code", P, "products+translation: category of the highest-priced item, fixed code"},
    {"payment_type", P, "payments: type with the largest value (code)"},
    {"n_payments", P, "payments: count"},
    {"max_installments", P, "payments: max payment_installments"},
    {"payment_value", P, "payments: sum of payment_value"},
    {"voucher_used", P, "payments: any voucher payment (0/1)"},
    {"customer_state", P, "customers: customer_state code"},
    {"seller_state", P, "sellers: state code of the highest-priced item's seller"},
    {"same_state", P, "customers+sellers: every seller in the customer's state (0/1)"},
    {"distance_km", P, "geolocation: haversine customer to that seller, NaN without lat/lng"},
    {"estimated_days", P, "orders: estimated delivery - purchase, days"},
    {"limit_days", P, "items: earliest shipping_limit_date - purchase, days"},
    {"approval_hours", SF_STAGE_APPROVED, "orders: approved_at - purchase, hours"},
    {"carrier_days", SF_STAGE_SHIPPED, "orders: delivered_carrier_date - purchase, days"},
    {"carrier_vs_limit_days", SF_STAGE_SHIPPED,
     "orders+items: carrier date - earliest shipping limit, days"},
    {"delivery_days", SF_STAGE_DELIVERED, "orders: delivered_customer_date - purchase, days"},
    {"delay_days", SF_STAGE_DELIVERED, "orders: delivered - estimated, days"},
    {"late", SF_STAGE_DELIVERED, "orders: delivered after the estimate (0/1)"},
    {"seller_review_mean", P, "history: earlier reviews of the order's sellers, mean score"},
    {"seller_review_count", P, "history: earlier reviews of the order's sellers, count"},
    {"seller_late_rate", P, "history: late share of the sellers' earlier delivered orders"},
    {"seller_delivered", P, "history: the sellers' earlier delivered orders, count"},
    {"customer_orders", P, "history: the customer's earlier orders (customer_unique_id)"},
    {"customer_review_mean", P, "history: the customer's earlier review mean"},
    {"purchase_weekday", P, "orders: purchase weekday, 0 = Sunday"},
    {"purchase_hour", P, "orders: purchase hour"},
    {"purchase_month", P, "orders: purchase month 1..12"},
};

static const sf_feature_def seed_defs[12] = {
    {"payment_sequential", P, "payments: first payment's payment_sequential"},
    {"payment_installments", P, "payments: first payment's payment_installments"},
    {"payment_value", P, "payments: first payment's payment_value"},
    {"price", P, "items: first item's price"},
    {"freight_value", P, "items: first item's freight_value"},
    {"product_name_lenght", P, "products: first item's product_name_lenght"},
    {"product_description_lenght", P, "products: first item's product_description_lenght"},
    {"product_photos_qty", P, "products: first item's product_photos_qty"},
    {"product_weight_g", P, "products: first item's product_weight_g"},
    {"product_length_cm", P, "products: first item's product_length_cm"},
    {"product_height_cm", P, "products: first item's product_height_cm"},
    {"product_width_cm", P, "products: first item's product_width_cm"},
};
#undef P

static const sf_feature_spec full_spec = {"full", 1, F_COUNT, full_defs, 1};
static const sf_feature_spec seed_spec = {"seed", 1, 12, seed_defs, 0};

const sf_feature_spec *sf_spec_full(void)
{
    return &full_spec;
}

const sf_feature_spec *sf_spec_seed(void)
{
    return &seed_spec;
}

const sf_feature_spec *sf_spec_by_name(const char *name, sf_err *err)
{
    if (name && strcmp(name, "full") == 0)
        return &full_spec;
    if (name && strcmp(name, "seed") == 0)
        return &seed_spec;
    sf_errf(err, "unknown feature spec '%s' (expected full or seed)", name ? name : "(null)");
    return NULL;
}

static uint64_t fnv_add(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void sf_spec_hash(const sf_feature_spec *spec, char out[17])
{
    char buf[64];
    uint64_t h = 0xcbf29ce484222325ULL;
    int n = snprintf(buf, sizeof buf, "%s/v%d/%d;", spec->name, spec->version, spec->n);
    h = fnv_add(h, buf, (size_t)n);
    for (int i = 0; i < spec->n; i++) {
        h = fnv_add(h, spec->defs[i].name, strlen(spec->defs[i].name));
        n = snprintf(buf, sizeof buf, "@%d;", (int)spec->defs[i].first_stage);
        h = fnv_add(h, buf, (size_t)n);
    }
    /* the code tables are part of what a row means */
    if (spec == &full_spec) {
        for (int i = 0; i < N_CATEGORIES; i++)
            h = fnv_add(h, categories[i], strlen(categories[i]) + 1);
        for (int i = 0; i < N_STATES; i++)
            h = fnv_add(h, states[i], 3);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

int sf_spec_index(const sf_feature_spec *spec, const char *name)
{
    for (int i = 0; i < spec->n; i++)
        if (strcmp(spec->defs[i].name, name) == 0)
            return i;
    return -1;
}

double sf_haversine_km(double lat1, double lng1, double lat2, double lng2)
{
    if (isnan(lat1) || isnan(lng1) || isnan(lat2) || isnan(lng2))
        return NAN;
    const double r = 6371.0088, k = M_PI / 180.0;
    double dlat = (lat2 - lat1) * k, dlng = (lng2 - lng1) * k;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * k) * cos(lat2 * k) * sin(dlng / 2) * sin(dlng / 2);
    if (a > 1)
        a = 1;
    return 2 * r * asin(sqrt(a));
}

/* Binary searches comparing inline: a strcmp call per probe cost more than
 * the compare itself (the names are short), and both run for every event. */
static int name_cmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int state_code(const char *s)
{
    if (!s[0] || !s[1] || s[2]) /* every state is two letters */
        return -1;
    unsigned v = (unsigned)(unsigned char)s[0] << 8 | (unsigned char)s[1];
    int lo = 0, hi = N_STATES - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        unsigned m = (unsigned)(unsigned char)states[mid][0] << 8 | (unsigned char)states[mid][1];
        if (v == m)
            return mid;
        if (v < m)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

static float category_code(const char *s)
{
    if (!s[0])
        return NAN;
    int lo = 0, hi = N_CATEGORIES - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = name_cmp(s, categories[mid]);
        if (c == 0)
            return (float)mid;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return (float)N_CATEGORIES;
}

/* gmtime_r's weekday (0 = Sunday), hour and month (1..12) of a time in ms,
 * by arithmetic (sf_civil_from_days): glibc's gmtime_r takes the timezone
 * lock on every call, and this runs for every scored event. */
static void calendar(int64_t ms, int *wday, int *hour, int *month)
{
    const int64_t day = (int64_t)DAY_MS, hour_ms = (int64_t)HOUR_MS;
    int64_t days = ms / day, rem = ms % day;
    if (rem < 0) {
        rem += day;
        days--;
    }
    *hour = (int)(rem / hour_ms);
    *wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    int64_t y;
    int d;
    sf_civil_from_days(days, &y, month, &d);
}

static double span(int64_t to, int64_t from, double unit)
{
    if (to == SF_TIME_NONE || from == SF_TIME_NONE)
        return NAN;
    return (double)(to - from) / unit;
}

/* Mean of the non-NaN values, NaN if none. */
typedef struct acc {
    double sum;
    int n;
} acc;

static void acc_add(acc *a, double v)
{
    if (!isnan(v)) {
        a->sum += v;
        a->n++;
    }
}

static double acc_mean(const acc *a)
{
    return a->n ? a->sum / a->n : NAN;
}

static void compute_seed(const sf_order_event *ev, float *row)
{
    const sf_item *it = NULL;
    for (int i = 0; i < ev->n_items; i++)
        if (!it || ev->items[i].seq < it->seq)
            it = &ev->items[i];
    const sf_payment *pay = NULL;
    for (int i = 0; i < ev->n_payments; i++)
        if (!pay || ev->payments[i].seq < pay->seq)
            pay = &ev->payments[i];
    row[0] = pay ? (float)pay->seq : NAN;
    row[1] = pay ? (float)pay->installments : NAN;
    row[2] = pay ? (float)pay->value : NAN;
    row[3] = it ? (float)it->price : NAN;
    row[4] = it ? (float)it->freight : NAN;
    row[5] = it ? (float)it->name_len : NAN;
    row[6] = it ? (float)it->desc_len : NAN;
    row[7] = it ? (float)it->photos : NAN;
    row[8] = it ? (float)it->weight_g : NAN;
    row[9] = it ? (float)it->length_cm : NAN;
    row[10] = it ? (float)it->height_cm : NAN;
    row[11] = it ? (float)it->width_cm : NAN;
}

static int distinct_count(const sf_order_event *ev, size_t off)
{
    int n = 0;
    for (int i = 0; i < ev->n_items; i++) {
        const char *id = (const char *)&ev->items[i] + off;
        int dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = strcmp(id, (const char *)&ev->items[j] + off) == 0;
        n += !dup;
    }
    return n;
}

/* The full spec's row, one group of features per helper (each a single call
 * site, so the compiler inlines them into compute_full). */

/* Composition: items, prices, sizes, category. Sets *top to the most
 * expensive item (NULL when none) and *limit to the earliest shipping limit. */
static void full_composition(const sf_order_event *ev, float *row, const sf_item **top_out,
                             int64_t *limit_out)
{
    double price = 0, freight = 0, max_w = NAN, sum_w = 0, vol = 0;
    int n_w = 0, n_vol = 0;
    acc photos = {0}, desc = {0}, name = {0};
    const sf_item *top = NULL;
    int64_t limit = SF_TIME_NONE;
    for (int i = 0; i < ev->n_items; i++) {
        const sf_item *it = &ev->items[i];
        if (!isnan(it->price))
            price += it->price;
        if (!isnan(it->freight))
            freight += it->freight;
        if (!isnan(it->weight_g)) {
            sum_w += it->weight_g;
            n_w++;
            if (isnan(max_w) || it->weight_g > max_w)
                max_w = it->weight_g;
        }
        double v = it->length_cm * it->height_cm * it->width_cm;
        if (!isnan(v)) {
            vol += v;
            n_vol++;
        }
        acc_add(&photos, it->photos);
        acc_add(&desc, it->desc_len);
        acc_add(&name, it->name_len);
        if (!top || it->price > top->price)
            top = it;
        if (it->shipping_limit != SF_TIME_NONE &&
            (limit == SF_TIME_NONE || it->shipping_limit < limit))
            limit = it->shipping_limit;
    }
    if (ev->n_items > 0) {
        row[F_N_ITEMS] = (float)ev->n_items;
        row[F_N_SELLERS] = (float)distinct_count(ev, offsetof(sf_item, seller_id));
        row[F_N_PRODUCTS] = (float)distinct_count(ev, offsetof(sf_item, product_id));
        row[F_TOTAL_PRICE] = (float)price;
        row[F_TOTAL_FREIGHT] = (float)freight;
        row[F_FREIGHT_RATIO] = price > 0 ? (float)(freight / price) : NAN;
        row[F_MAX_WEIGHT] = (float)max_w;
        row[F_SUM_WEIGHT] = n_w ? (float)sum_w : NAN;
        row[F_SUM_VOLUME] = n_vol ? (float)vol : NAN;
        row[F_MEAN_PHOTOS] = (float)acc_mean(&photos);
        row[F_MEAN_DESC_LEN] = (float)acc_mean(&desc);
        row[F_MEAN_NAME_LEN] = (float)acc_mean(&name);
        row[F_CATEGORY] = category_code(top->category);
    } else {
        row[F_N_ITEMS] = 0;
    }

    *top_out = top;
    *limit_out = limit;
}

static void full_payment(const sf_order_event *ev, float *row)
{
    if (ev->n_payments > 0) {
        double total = 0, best = -1;
        int inst = 0, voucher = 0;
        sf_pay_type main = SF_PAY_NOT_DEFINED;
        for (int i = 0; i < ev->n_payments; i++) {
            const sf_payment *p = &ev->payments[i];
            if (!isnan(p->value)) {
                total += p->value;
                if (p->value > best) {
                    best = p->value;
                    main = p->type;
                }
            }
            if (p->installments > inst)
                inst = p->installments;
            voucher |= p->type == SF_PAY_VOUCHER;
        }
        row[F_PAY_TYPE] = (float)main;
        row[F_N_PAYMENTS] = (float)ev->n_payments;
        row[F_MAX_INSTALLMENTS] = (float)inst;
        row[F_PAYMENT_VALUE] = (float)total;
        row[F_VOUCHER] = (float)voucher;
    } else {
        row[F_N_PAYMENTS] = 0;
    }
}

static void full_geography(const sf_order_event *ev, const sf_item *top, float *row)
{
    int cs = state_code(ev->customer.state);
    if (cs >= 0)
        row[F_CUSTOMER_STATE] = (float)cs;
    if (top) {
        int ss = state_code(top->seller.state);
        if (ss >= 0)
            row[F_SELLER_STATE] = (float)ss;
        if (cs >= 0) {
            int same = 1, known = 1;
            for (int i = 0; i < ev->n_items; i++) {
                if (!ev->items[i].seller.state[0])
                    known = 0;
                else if (strcmp(ev->items[i].seller.state, ev->customer.state) != 0)
                    same = 0;
            }
            if (known || !same)
                row[F_SAME_STATE] = (float)same;
        }
        row[F_DISTANCE] = (float)sf_haversine_km(ev->customer.lat, ev->customer.lng,
                                                 top->seller.lat, top->seller.lng);
    }
}

/* Promise and progress: the promised dates and how the order moves against them. */
static void full_progress(const sf_order_event *ev, int64_t limit, float *row)
{
    row[F_ESTIMATED_DAYS] = (float)span(ev->estimated, ev->purchase, DAY_MS);
    row[F_LIMIT_DAYS] = (float)span(limit, ev->purchase, DAY_MS);
    row[F_APPROVAL_HOURS] = (float)span(ev->approved, ev->purchase, HOUR_MS);
    row[F_CARRIER_DAYS] = (float)span(ev->carrier, ev->purchase, DAY_MS);
    row[F_CARRIER_VS_LIMIT] = (float)span(ev->carrier, limit, DAY_MS);
    row[F_DELIVERY_DAYS] = (float)span(ev->delivered, ev->purchase, DAY_MS);
    row[F_DELAY_DAYS] = (float)span(ev->delivered, ev->estimated, DAY_MS);
    if (ev->delivered != SF_TIME_NONE && ev->estimated != SF_TIME_NONE)
        row[F_LATE] = ev->delivered > ev->estimated ? 1.0f : 0.0f;
}

static void full_history(const sf_order_event *ev, const sf_history *hist, float *row)
{
    if (!hist)
        return;
    sf_history_view v;
    sf_history_view_of(hist, ev, &v);
    row[F_SELLER_REVIEW_MEAN] = (float)v.seller_review_mean;
    row[F_SELLER_REVIEW_COUNT] = (float)v.seller_review_count;
    row[F_SELLER_LATE_RATE] = (float)v.seller_late_rate;
    row[F_SELLER_DELIVERED] = (float)v.seller_delivered;
    row[F_CUSTOMER_ORDERS] = (float)v.customer_orders;
    row[F_CUSTOMER_REVIEW_MEAN] = (float)v.customer_review_mean;
}

static void compute_full(const sf_order_event *ev, const sf_history *hist, float *row)
{
    for (int i = 0; i < F_COUNT; i++)
        row[i] = NAN;
    row[F_STAGE] = (float)ev->stage;
    row[F_ELAPSED_DAYS] = (float)span(ev->event_time, ev->purchase, DAY_MS);
    const sf_item *top;
    int64_t limit;
    full_composition(ev, row, &top, &limit);
    full_payment(ev, row);
    full_geography(ev, top, row);
    full_progress(ev, limit, row);
    full_history(ev, hist, row);

    /* calendar (timestamps are Brazil local time read as UTC) */
    if (ev->purchase != SF_TIME_NONE) {
        int wday, hour, month;
        calendar(ev->purchase, &wday, &hour, &month);
        row[F_WEEKDAY] = (float)wday;
        row[F_HOUR] = (float)hour;
        row[F_MONTH] = (float)month;
    }
}

void sf_features_compute(const sf_feature_spec *spec, const sf_order_event *ev,
                         const sf_history *hist, float *row)
{
    if (spec == &seed_spec)
        compute_seed(ev, row);
    else
        compute_full(ev, hist, row);
}
