/*
 * evaluate.c - evaluation metrics: RMSE, MAE, R2, ROC AUC and average precision (see
 * satisfy/evaluate.h for the tie rules).
 *
 * Both ranking metrics sort the rows once by score (O(n log n)) and then walk
 * groups of equal scores, so ties are handled by construction rather than by
 * the sort's arbitrary order inside a group.
 */
#include "satisfy/evaluate.h"

#include <math.h>
#include <stdlib.h>

typedef struct scored {
    double s;
    unsigned char pos;
} scored;

static int cmp_desc(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

/* Copies and sorts by descending score; counts positives. */
static scored *sorted_rows(const double *score, const unsigned char *pos, size_t n, size_t *n_pos,
                           const char *what, sf_err *err)
{
    if (n == 0) {
        sf_errf(err, "%s: no rows", what);
        return NULL;
    }
    scored *r = malloc(n * sizeof *r);
    if (!r) {
        sf_errf(err, "%s: out of memory for %zu rows", what, n);
        return NULL;
    }
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(score[i])) {
            free(r);
            sf_errf(err, "%s: score of row %zu is not finite (%g)", what, i, score[i]);
            return NULL;
        }
        r[i].s = score[i];
        r[i].pos = pos[i] != 0;
        np += r[i].pos;
    }
    qsort(r, n, sizeof *r, cmp_desc);
    *n_pos = np;
    return r;
}

int sf_auc(const double *score, const unsigned char *pos, size_t n, double *out, sf_err *err)
{
    size_t np;
    scored *r = sorted_rows(score, pos, n, &np, "auc", err);
    if (!r)
        return -1;
    size_t nn = n - np;
    if (np == 0 || nn == 0) {
        free(r);
        *out = NAN;
        return 0;
    }
    /* Walking from the highest score down: each positive beats every negative
     * of a strictly lower score, and ties with the negatives of its own group
     * for one half each. Counting negatives still to come is exact in doubles
     * up to 2^53 pairs. */
    double wins = 0.0;
    size_t neg_seen = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i, gp = 0, gn = 0;
        while (j < n && r[j].s == r[i].s) {
            gp += r[j].pos;
            gn += !r[j].pos;
            j++;
        }
        size_t neg_below = nn - neg_seen - gn;
        wins += (double)gp * ((double)neg_below + 0.5 * (double)gn);
        neg_seen += gn;
        i = j;
    }
    free(r);
    *out = wins / ((double)np * (double)nn);
    return 0;
}

int sf_pr_auc(const double *score, const unsigned char *pos, size_t n, double *out, sf_err *err)
{
    size_t np;
    scored *r = sorted_rows(score, pos, n, &np, "pr_auc", err);
    if (!r)
        return -1;
    if (np == 0 || np == n) {
        free(r);
        *out = NAN;
        return 0;
    }
    double ap = 0.0;
    size_t tp = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i, gp = 0;
        while (j < n && r[j].s == r[i].s) {
            gp += r[j].pos;
            j++;
        }
        tp += gp;
        if (gp)
            ap += ((double)gp / (double)np) * ((double)tp / (double)j);
        i = j;
    }
    free(r);
    *out = ap;
    return 0;
}

int sf_metrics_compute(const double *label, const double *pred, const double *dis, size_t n,
                       sf_metrics *out, sf_err *err)
{
    if (n == 0)
        return sf_errf(err, "metrics: no rows");
    double sum_y = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(label[i]))
            return sf_errf(err, "metrics: label of row %zu is not finite (%g)", i, label[i]);
        if (!isfinite(pred[i]))
            return sf_errf(err, "metrics: prediction of row %zu is not finite (%g)", i, pred[i]);
        sum_y += label[i];
    }
    double mean_y = sum_y / (double)n;
    double sse = 0.0, sae = 0.0, sst = 0.0;
    unsigned char *pos = malloc(n);
    double *rank = dis ? NULL : malloc(n * sizeof *rank);
    if (!pos || (!dis && !rank)) {
        free(pos);
        free(rank);
        return sf_errf(err, "metrics: out of memory for %zu rows", n);
    }
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        double e = pred[i] - label[i], d = label[i] - mean_y;
        sse += e * e;
        sae += fabs(e);
        sst += d * d;
        pos[i] = label[i] <= SF_DISSATISFIED_MAX;
        np += pos[i];
        if (rank)
            rank[i] = -pred[i];
    }
    out->n = n;
    out->n_pos = np;
    out->rmse = sqrt(sse / (double)n);
    out->mae = sae / (double)n;
    out->r2_ok = sst > 0.0;
    out->r2 = out->r2_ok ? 1.0 - sse / sst : NAN;
    const double *s = dis ? dis : rank;
    int rc = sf_auc(s, pos, n, &out->auc, err);
    if (rc == 0)
        rc = sf_pr_auc(s, pos, n, &out->pr_auc, err);
    free(pos);
    free(rank);
    if (rc != 0)
        return sf_err_wrap(err, "metrics");
    out->binary_ok = np > 0 && np < n;
    return 0;
}
