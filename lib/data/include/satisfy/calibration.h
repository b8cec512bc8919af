/*
 * calibration.h - the summary numbers that say whether an Olist dataset
 * (real or synthetic) looks like the marketplace: review score mix, late
 * deliveries and what they do to the score, basket shape, payments, status
 * mix.
 *
 * `satisfy-datagen --stats` prints them side by side for several
 * directories, which is how the generator is calibrated against the real
 * sample (docs/data.md), and the datagen tests assert them, so a change that
 * breaks the calibration fails a test.
 */
#ifndef SATISFY_CALIBRATION_H
#define SATISFY_CALIBRATION_H

#include <stddef.h>

#include "satisfy/event.h"
#include "satisfy/olist.h"

typedef struct sf_calib {
    size_t n_orders, n_reviews, n_items, n_payments;
    double score_pct[5];           /* % of review rows with score 1..5 (index score - 1) */
    double mean_score;             /* over review rows */
    size_t n_delivered;            /* delivered orders with a delivery date */
    double late_pct;               /* % of those delivered after the estimated date */
    double mean_late, mean_ontime; /* mean label (sf_order_label) of late / on-time orders */
    double review_pct;             /* % of orders with at least one review */
    double multi_review_pct;       /* % of orders with more than one review */
    double items_mean;             /* items per order, among orders with items */
    double multi_item_pct;         /* % of orders with items that have more than one */
    double multi_seller_pct;       /* % of orders with items that have several sellers */
    double no_item_pct;            /* % of orders without items */
    double status_pct[SF_STATUS_COUNT];
    double pay_type_pct[SF_PAY_COUNT]; /* % of payment rows */
    double multi_pay_pct;              /* % of orders with more than one payment row */
    double cc_installments;            /* mean installments of credit-card payments */
    double delivery_days;              /* mean purchase -> delivered, delivered orders */
    double estimated_days;             /* mean purchase -> estimated date */
    double freight_ratio;              /* mean freight / price over orders with items */
    double repeat_pct;                 /* % of orders whose customer_unique_id has several orders */
} sf_calib;

/* Computes the summary of a loaded dataset. Returns 0, or -1 (no memory)
 * with err set. */
int sf_calib_compute(const sf_dataset *ds, sf_calib *c, sf_err *err);

#endif
