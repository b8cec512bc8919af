/*
 * gate.c - time-ordered holdout split and the release rule (margin on RMSE
 * plus a seeded paired cluster bootstrap), see satisfy/gate.h.
 *
 * The bootstrap works on per-order sums so one resample costs O(n_clusters)
 * whatever the number of stage rows; the RNG is a local gsl_rng seeded from
 * the options, so the same inputs and seed give the same bounds.
 */
#include "satisfy/gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "satisfy/event.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int sf_holdout_split(const int64_t *purchase, size_t n, double frac, sf_split *out, sf_err *err)
{
    if (!(frac > 0.0 && frac < 1.0))
        return sf_errf(err, "holdout: fraction %g is not in (0, 1)", frac);
    if (n < 2)
        return sf_errf(err, "holdout: %zu labeled orders, need at least 2", n);
    int64_t *t = malloc(n * sizeof *t);
    if (!t)
        return sf_errf(err, "holdout: out of memory for %zu orders", n);
    for (size_t i = 0; i < n; i++) {
        if (purchase[i] == SF_TIME_NONE) {
            free(t);
            return sf_errf(err, "holdout: order %zu has no purchase time", i);
        }
        t[i] = purchase[i];
    }
    qsort(t, n, sizeof *t, cmp_i64);
    size_t k = (size_t)ceil(frac * (double)n);
    if (k < 1)
        k = 1;
    size_t first = n - k; /* first holdout rank; ties before it join the holdout */
    while (first > 0 && t[first - 1] == t[first])
        first--;
    if (first == 0) {
        free(t);
        return sf_errf(err,
                       "holdout: every order up to the cutoff shares one purchase time, "
                       "nothing left to train on (%zu orders, fraction %g)",
                       n, frac);
    }
    out->cutoff = t[first];
    out->n_train = first;
    out->n_test = n - first;
    out->train_from = t[0];
    out->train_to = t[first - 1];
    out->test_from = t[first];
    out->test_to = t[n - 1];
    free(t);
    return 0;
}

void sf_gate_opts_default(sf_gate_opts *o)
{
    o->margin = SF_GATE_MARGIN;
    o->resamples = SF_GATE_RESAMPLES;
    o->seed = SF_GATE_SEED;
    o->confidence = SF_GATE_CONFIDENCE;
}

bool sf_gate_challenger_ok(const sf_gate_decision *d)
{
    return !d->released && d->has_champion && d->gain > -d->margin && d->boot_upper > 0.0;
}

int sf_gate_decide(const double *label, const double *ref_pred, const double *cand_pred,
                   const size_t *cluster, size_t n_clusters, size_t n, bool has_champion,
                   const char *ref_name, const sf_gate_opts *opts, sf_gate_decision *d, sf_err *err)
{
    sf_gate_opts def;
    if (!opts) {
        sf_gate_opts_default(&def);
        opts = &def;
    }
    if (n == 0)
        return sf_errf(err, "gate: no holdout rows");
    if (opts->resamples < 10)
        return sf_errf(err, "gate: %d bootstrap resamples, need at least 10", opts->resamples);
    if (!(opts->margin >= 0.0))
        return sf_errf(err, "gate: margin %g must be >= 0", opts->margin);
    double conf = opts->confidence == 0.0 ? SF_GATE_CONFIDENCE : opts->confidence;
    if (!(conf > 0.5 && conf < 1.0))
        return sf_errf(err, "gate: confidence %g is not in (0.5, 1)", opts->confidence);
    if (!cluster)
        n_clusters = n;
    if (n_clusters == 0)
        return sf_errf(err, "gate: no clusters");

    double *csum = calloc(n_clusters, sizeof *csum);
    size_t *ccount = calloc(n_clusters, sizeof *ccount);
    double *stat = malloc((size_t)opts->resamples * sizeof *stat);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = -1;
    if (!csum || !ccount || !stat || !rng) {
        sf_errf(err, "gate: out of memory for %zu clusters", n_clusters);
        goto done;
    }
    double sse_ref = 0.0, sse_cand = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(label[i]) || !isfinite(ref_pred[i]) || !isfinite(cand_pred[i])) {
            sf_errf(err, "gate: row %zu has a non-finite value (label %g, %s %g, candidate %g)", i,
                    label[i], ref_name, ref_pred[i], cand_pred[i]);
            goto done;
        }
        size_t c = cluster ? cluster[i] : i;
        if (c >= n_clusters) {
            sf_errf(err, "gate: row %zu has cluster %zu, out of range (%zu clusters)", i, c,
                    n_clusters);
            goto done;
        }
        double er = ref_pred[i] - label[i], ec = cand_pred[i] - label[i];
        sse_ref += er * er;
        sse_cand += ec * ec;
        csum[c] += er * er - ec * ec;
        ccount[c]++;
    }
    for (size_t c = 0; c < n_clusters; c++)
        if (ccount[c] == 0) {
            sf_errf(err, "gate: cluster %zu has no rows", c);
            goto done;
        }

    gsl_rng_set(rng, opts->seed);
    for (int b = 0; b < opts->resamples; b++) {
        double s = 0.0;
        size_t rows = 0;
        for (size_t k = 0; k < n_clusters; k++) {
            size_t c = (size_t)gsl_rng_uniform_int(rng, (unsigned long)n_clusters);
            s += csum[c];
            rows += ccount[c];
        }
        stat[b] = s / (double)rows;
    }
    gsl_sort(stat, 1, (size_t)opts->resamples);

    memset(d, 0, sizeof *d);
    d->has_champion = has_champion;
    snprintf(d->reference, sizeof d->reference, "%s", ref_name ? ref_name : "reference");
    d->rmse_champion = sqrt(sse_ref / (double)n);
    d->rmse_candidate = sqrt(sse_cand / (double)n);
    d->gain = d->rmse_champion - d->rmse_candidate;
    d->margin = opts->margin;
    d->diff_mean = (sse_ref - sse_cand) / (double)n;
    d->boot_mean = gsl_stats_mean(stat, 1, (size_t)opts->resamples);
    d->confidence = conf;
    d->boot_lower =
        gsl_stats_quantile_from_sorted_data(stat, 1, (size_t)opts->resamples, (1.0 - conf) / 2);
    d->boot_upper =
        gsl_stats_quantile_from_sorted_data(stat, 1, (size_t)opts->resamples, (1.0 + conf) / 2);
    d->n_rows = n;
    d->n_clusters = n_clusters;
    d->resamples = opts->resamples;
    d->seed = opts->seed;

    bool margin_ok = d->gain >= d->margin;
    bool boot_ok = d->boot_lower > 0.0;
    d->released = margin_ok && boot_ok;
    const char *why = d->released              ? "both tests pass"
                      : !margin_ok && !boot_ok ? "gain below margin and bootstrap bound not above 0"
                      : !margin_ok             ? "gain below margin"
                                               : "bootstrap lower bound not above 0";
    snprintf(d->reason, sizeof d->reason,
             "%s (%s): RMSE %.4f vs %s %.4f, gain %.4f %s margin %.4f; paired bootstrap of "
             "squared-error difference (%s - candidate) over %zu %s, %d resamples, seed %lu: "
             "mean %.4f, %g%% [%.4f, %.4f], lower bound %s 0",
             d->released ? "released" : "rejected", why, d->rmse_candidate, d->reference,
             d->rmse_champion, d->gain, margin_ok ? ">=" : "<", d->margin, d->reference, n_clusters,
             cluster ? "orders" : "rows", d->resamples, d->seed, d->diff_mean, conf * 100, d->boot_lower,
             d->boot_upper, boot_ok ? ">" : "<=");
    rc = 0;
done:
    free(csum);
    free(ccount);
    free(stat);
    if (rng)
        gsl_rng_free(rng);
    return rc;
}
