/*
 * alert_threshold.c - chooses the alert threshold on the holdout for a
 * target precision (see satisfy/alert_threshold.h): per order the largest
 * risk over its stages, sorted descending, then one pass that keeps the
 * lowest distinct risk whose cumulative precision reaches the target.
 */
#include "satisfy/alert_threshold.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/json_field.h"

typedef struct ord {
    double risk; /* the order's largest risk; -1 = no row */
    int pos;     /* a 1-2 star review */
} ord;

static int by_risk_desc(const void *a, const void *b)
{
    double x = ((const ord *)a)->risk, y = ((const ord *)b)->risk;
    return x < y ? 1 : x > y ? -1 : 0;
}

int sf_alert_choose(const double *risk, const double *label, const size_t *order, size_t n,
                    size_t n_orders, double target, sf_alert_choice *out, sf_err *err)
{
    memset(out, 0, sizeof *out);
    out->target = target;
    ord *o = malloc((n_orders ? n_orders : 1) * sizeof *o);
    if (!o)
        return sf_errf(err, "alert threshold: out of memory for %zu orders", n_orders);
    for (size_t k = 0; k < n_orders; k++)
        o[k] = (ord){-1, 0};
    for (size_t i = 0; i < n; i++) {
        if (order[i] >= n_orders || !(risk[i] >= 0.0 && risk[i] <= 1.0)) {
            free(o);
            return order[i] >= n_orders
                       ? sf_errf(err, "alert threshold: row %zu has order %zu of %zu", i, order[i],
                                 n_orders)
                       : sf_errf(err, "alert threshold: row %zu has risk %g outside 0..1", i,
                                 risk[i]);
        }
        ord *x = &o[order[i]];
        if (risk[i] > x->risk)
            x->risk = risk[i];
        x->pos = label[i] <= 2.0;
    }
    size_t m = 0;
    for (size_t k = 0; k < n_orders; k++)
        if (o[k].risk >= 0)
            o[m++] = o[k];
    qsort(o, m, sizeof *o, by_risk_desc);
    size_t pos = 0;
    for (size_t k = 0; k < m; k++)
        pos += (size_t)o[k].pos;
    out->n_orders = m;
    out->n_positive = pos;
    size_t tp = 0;
    for (size_t k = 0; k < m; k++) {
        tp += (size_t)o[k].pos;
        if (k + 1 < m && o[k + 1].risk == o[k].risk)
            continue; /* a threshold takes every order at its value */
        double prec = (double)tp / (double)(k + 1);
        if (prec >= target) { /* lower risks come later: the last one kept is the lowest */
            out->found = 1;
            out->threshold = o[k].risk;
            out->precision = prec;
            out->recall = pos ? (double)tp / (double)pos : 0.0;
            out->n_alerted = k + 1;
        }
    }
    free(o);
    return 0;
}

cJSON *sf_alert_choice_json(const sf_alert_choice *c)
{
    cJSON *o = cJSON_CreateObject();
    sf_json_add_number(o, "target", c->target);
    if (c->found) {
        sf_json_add_number(o, "threshold", c->threshold);
        sf_json_add_number(o, "precision", c->precision);
        sf_json_add_number(o, "recall", c->recall);
    } else {
        cJSON_AddNullToObject(o, "threshold");
        cJSON_AddNullToObject(o, "precision");
        cJSON_AddNullToObject(o, "recall");
    }
    cJSON_AddNumberToObject(o, "orders", (double)c->n_orders);
    cJSON_AddNumberToObject(o, "positives", (double)c->n_positive);
    cJSON_AddNumberToObject(o, "alerted", (double)c->n_alerted);
    cJSON_AddStringToObject(o, "stages", "max");
    return o;
}
