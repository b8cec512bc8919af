/*
 * datagen_world.h - the fixed facts the synthetic Olist generator draws from
 * (internal to lib/datagen*.c): Brazilian states and cities with real-ish
 * coordinates and zip-prefix ranges, the product categories of the Kaggle
 * translation table with their popularity and what they do to price, weight
 * and review score, the monthly order volume of the real data, the hour of
 * day profile, and Portuguese review phrases.
 *
 * The numbers come from the real 15,000-order sample (shared/data/olist-sample)
 * and the published totals of the full dataset; docs/data.md has the
 * calibration table they produce.
 */
#ifndef SATISFY_DATAGEN_WORLD_H
#define SATISFY_DATAGEN_WORLD_H

typedef struct dg_city {
    const char *uf; /* state, two letters */
    const char *name;
    double lat, lng;
    int zip_lo, zip_hi; /* inclusive 5-digit prefix range, disjoint across cities */
    double w;           /* share of the state's customers */
} dg_city;

typedef struct dg_state {
    const char *uf;
    double w_customer;  /* share of customers, % */
    double w_seller;    /* share of sellers, % */
    double late_factor; /* carrier disruption risk relative to the average */
} dg_state;

typedef struct dg_category {
    const char *pt;     /* Olist product_category_name */
    const char *en;     /* English name; NULL when absent from the translation table */
    double w;           /* share of items (sample counts) */
    double price_mult;  /* median price relative to the overall median */
    double weight_mult; /* median weight relative to the overall median */
    double score_shift; /* latent review score shift (logit scale) */
} dg_category;

typedef struct dg_month {
    int year, month;
    double orders;      /* orders in the full data set that month */
    double late_factor; /* carrier disruption risk that month */
} dg_month;

extern const dg_state dg_states[];
extern const int dg_n_states;
extern const dg_city dg_cities[];
extern const int dg_n_cities;
extern const dg_category dg_categories[];
extern const int dg_n_categories;
extern const dg_month dg_months[];
extern const int dg_n_months;
extern const double dg_hour_w[24];

/* Review text fragments by tone (0 negative, 1 neutral, 2 positive), plus
 * fragments about a late delivery and titles. */
extern const char *const dg_phrases[3][16];
extern const int dg_n_phrases[3];
extern const char *const dg_late_phrases[];
extern const int dg_n_late_phrases;
extern const char *const dg_titles[3][8];
extern const int dg_n_titles[3];

#endif
