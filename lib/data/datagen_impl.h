/*
 * datagen_impl.h - what the synthetic marketplace's two halves share:
 * datagen.c (the world: geography, calendar, sellers, products, the tables
 * written after the orders, the entry point) and datagen_order.c (one order
 * and its items, payments and review). Private to lib/data.
 */
#ifndef SATISFY_DATAGEN_IMPL_H
#define SATISFY_DATAGEN_IMPL_H

#include <stdint.h>

#include "satisfy/datagen.h"
#include "datagen_out.h"
#include "datagen_rng.h"
#include "datagen_world.h"

enum { K_ORDER = 1, K_CUSTOMER, K_UNIQUE, K_PRODUCT, K_SELLER, K_REVIEW, K_ZIP, K_WORLD };

#define DAY       86400
#define MAX_ITEMS 24
#define MAX_PAYS  16
#define RING      4096
#define N_ZIPS    100000

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

/* Shared helpers (datagen.c). */
void dg_hexid(char out[SF_ID_LEN + 1], uint64_t seed, uint64_t kind, uint64_t index);
double dg_clampd(double v, double lo, double hi);
double dg_distance_km(double lat1, double lng1, double lat2, double lng2);
void dg_zip_location(int city, int zip, double *lat, double *lng);
int dg_pick_city(gen *g, dg_rng *r, int state);
int dg_pick_zip(dg_rng *r, int city);
uint32_t dg_seller_of(const gen *g, uint32_t product);
void dg_product_get(const gen *g, uint32_t idx, product *p);
int64_t dg_freight_cents(dg_rng *r, const product *p, double km);
void dg_year_month(int64_t secs, int *y, int *m);
int64_t dg_floor_day(int64_t secs);

/* Draws order idx and writes its rows (datagen_order.c). */
void dg_gen_order(gen *g, uint64_t idx);

#endif
