/*
 * calibration.c - summary statistics of a loaded Olist dataset, the numbers
 * the synthetic generator is calibrated on (see calibration.h).
 *
 * "Late" is the Olist reading: delivered_customer_date after
 * order_estimated_delivery_date (a date at 00:00:00, so a delivery during the
 * estimated day counts as late), among delivered orders with a delivery date.
 * The score of an order is its label (sf_order_label: the latest review).
 */
#include "satisfy/calibration.h"

#include <stdlib.h>
#include <string.h>

static double pct(size_t n, size_t d)
{
    return d ? 100.0 * (double)n / (double)d : 0.0;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sf_calib_compute(const sf_dataset *ds, sf_calib *c, sf_err *err)
{
    memset(c, 0, sizeof *c);
    c->n_orders = ds->n_orders;
    size_t scores[6] = {0}, status[SF_STATUS_COUNT] = {0}, pay_types[SF_PAY_COUNT] = {0};
    size_t reviewed = 0, multi_review = 0, with_items = 0, multi_item = 0, multi_seller = 0;
    size_t n_late = 0, n_late_lab = 0, n_ontime_lab = 0, multi_pay = 0, n_cc = 0;
    double sum_score = 0, sum_late = 0, sum_ontime = 0, sum_inst = 0, sum_deliv = 0;
    double sum_est = 0, sum_ratio = 0;
    size_t n_est = 0;
    for (size_t i = 0; i < ds->n_orders; i++) {
        const sf_order *o = &ds->orders[i];
        if ((int)o->status >= 0 && o->status < SF_STATUS_COUNT)
            status[o->status]++;
        for (int k = 0; k < o->n_reviews; k++) {
            int s = o->reviews[k].score;
            if (s >= 1 && s <= 5) {
                scores[s]++;
                sum_score += s;
                c->n_reviews++;
            }
        }
        reviewed += o->n_reviews > 0;
        multi_review += o->n_reviews > 1;
        c->n_items += (size_t)o->n_items;
        if (o->n_items > 0) {
            with_items++;
            multi_item += o->n_items > 1;
            int several = 0;
            double price = 0, freight = 0;
            for (int k = 0; k < o->n_items; k++) {
                several |= strcmp(o->items[k].seller_id, o->items[0].seller_id) != 0;
                price += o->items[k].price;
                freight += o->items[k].freight;
            }
            multi_seller += several;
            if (price > 0)
                sum_ratio += freight / price;
        }
        c->n_payments += (size_t)o->n_payments;
        multi_pay += o->n_payments > 1;
        for (int k = 0; k < o->n_payments; k++) {
            const sf_payment *p = &o->payments[k];
            if ((int)p->type >= 0 && p->type < SF_PAY_COUNT)
                pay_types[p->type]++;
            if (p->type == SF_PAY_CREDIT_CARD) {
                n_cc++;
                sum_inst += p->installments;
            }
        }
        if (o->estimated != SF_TIME_NONE && o->purchase != SF_TIME_NONE) {
            sum_est += (double)(o->estimated - o->purchase) / 86400000.0;
            n_est++;
        }
        if (o->status == SF_STATUS_DELIVERED && o->delivered != SF_TIME_NONE &&
            o->estimated != SF_TIME_NONE) {
            c->n_delivered++;
            sum_deliv += (double)(o->delivered - o->purchase) / 86400000.0;
            int late = o->delivered > o->estimated;
            n_late += late;
            int label = sf_order_label(o);
            if (label >= 1) {
                if (late) {
                    sum_late += label;
                    n_late_lab++;
                } else {
                    sum_ontime += label;
                    n_ontime_lab++;
                }
            }
        }
    }
    for (int s = 1; s <= 5; s++)
        c->score_pct[s - 1] = pct(scores[s], c->n_reviews);
    c->mean_score = c->n_reviews ? sum_score / (double)c->n_reviews : 0;
    c->late_pct = pct(n_late, c->n_delivered);
    c->mean_late = n_late_lab ? sum_late / (double)n_late_lab : 0;
    c->mean_ontime = n_ontime_lab ? sum_ontime / (double)n_ontime_lab : 0;
    c->review_pct = pct(reviewed, ds->n_orders);
    c->multi_review_pct = pct(multi_review, ds->n_orders);
    c->items_mean = with_items ? (double)c->n_items / (double)with_items : 0;
    c->multi_item_pct = pct(multi_item, with_items);
    c->multi_seller_pct = pct(multi_seller, with_items);
    c->no_item_pct = pct(ds->n_orders - with_items, ds->n_orders);
    for (int s = 0; s < SF_STATUS_COUNT; s++)
        c->status_pct[s] = pct(status[s], ds->n_orders);
    for (int t = 0; t < SF_PAY_COUNT; t++)
        c->pay_type_pct[t] = pct(pay_types[t], c->n_payments);
    c->multi_pay_pct = pct(multi_pay, ds->n_orders);
    c->cc_installments = n_cc ? sum_inst / (double)n_cc : 0;
    c->delivery_days = c->n_delivered ? sum_deliv / (double)c->n_delivered : 0;
    c->estimated_days = n_est ? sum_est / (double)n_est : 0;
    c->freight_ratio = with_items ? sum_ratio / (double)with_items : 0;

    /* Returning customers: sort the unique ids and count runs longer than one. */
    if (ds->n_orders) {
        const char **ids = malloc(ds->n_orders * sizeof *ids);
        if (!ids)
            return sf_errf(err, "calibration: out of memory for %zu ids", ds->n_orders);
        for (size_t i = 0; i < ds->n_orders; i++)
            ids[i] = ds->orders[i].customer_unique_id;
        qsort(ids, ds->n_orders, sizeof *ids, cmp_id);
        size_t repeat = 0;
        for (size_t i = 0, j; i < ds->n_orders; i = j) {
            for (j = i + 1; j < ds->n_orders && strcmp(ids[i], ids[j]) == 0; j++)
                ;
            if (j - i > 1)
                repeat += j - i;
        }
        free(ids);
        c->repeat_pct = pct(repeat, ds->n_orders);
    }
    return 0;
}
