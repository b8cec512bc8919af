/*
 * challenge.c - the live judge of a shadow challenger (see
 * satisfy/challenge.h): orders joined with both models' delivered-stage
 * predictions, the offline gate's paired bootstrap over them, and the
 * per-model RMSE intervals the web page shows.
 */
#include "satisfy/challenge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

void sf_challenge_opts_default(sf_challenge_opts *o)
{
    o->min_orders = SF_CHALLENGE_MIN_ORDERS;
    o->max_orders = SF_CHALLENGE_MAX_ORDERS;
    o->check_every = SF_CHALLENGE_CHECK_EVERY;
    sf_gate_opts_default(&o->gate);
}

int sf_challenge_init(sf_challenge *c, int64_t challenger, int64_t champion, int64_t started_at,
                      const sf_challenge_opts *opts, sf_err *err)
{
    memset(c, 0, sizeof *c);
    if (opts)
        c->opts = *opts;
    else
        sf_challenge_opts_default(&c->opts);
    if (c->opts.min_orders < 10)
        return sf_errf(err, "challenge: min orders %zu, need at least 10", c->opts.min_orders);
    if (c->opts.max_orders < c->opts.min_orders)
        return sf_errf(err, "challenge: max orders %zu is below min orders %zu", c->opts.max_orders,
                       c->opts.min_orders);
    if (c->opts.check_every == 0)
        c->opts.check_every = 1;
    c->challenger = challenger;
    c->champion = champion;
    c->started_at = started_at;
    return 0;
}

void sf_challenge_free(sf_challenge *c)
{
    free(c->label);
    free(c->champ);
    free(c->chall);
    memset(c, 0, sizeof *c);
}

int sf_challenge_add(sf_challenge *c, double label, double champion_score, double challenger_score,
                     int64_t event_time, sf_err *err)
{
    if (!(label >= 1 && label <= 5) || !(champion_score >= 1 && champion_score <= 5) ||
        !(challenger_score >= 1 && challenger_score <= 5))
        return sf_errf(err, "challenge v%lld: review %g, champion %g or challenger %g out of 1..5",
                       (long long)c->challenger, label, champion_score, challenger_score);
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        double *a = realloc(c->label, cap * sizeof *a);
        if (a)
            c->label = a;
        double *b = a ? realloc(c->champ, cap * sizeof *b) : NULL;
        if (b)
            c->champ = b;
        double *d = b ? realloc(c->chall, cap * sizeof *d) : NULL;
        if (!d)
            return sf_errf(err, "challenge v%lld: out of memory for %zu orders",
                           (long long)c->challenger, cap);
        c->chall = d;
        c->cap = cap;
    }
    c->label[c->n] = label;
    c->champ[c->n] = champion_score;
    c->chall[c->n] = challenger_score;
    c->n++;
    if (event_time > c->event_time)
        c->event_time = event_time;
    return 0;
}

/* Each model's RMSE over the same order resamples: the interval at the
 * gate's confidence (the web page's bars). */
static int rmse_intervals(sf_challenge *c, sf_err *err)
{
    size_t n = c->n, B = (size_t)c->opts.gate.resamples;
    double *a = malloc(B * sizeof *a), *b = malloc(B * sizeof *b);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!a || !b || !rng) {
        free(a);
        free(b);
        if (rng)
            gsl_rng_free(rng);
        return sf_errf(err, "challenge: out of memory for %zu resamples", B);
    }
    gsl_rng_set(rng, c->opts.gate.seed + 1);
    for (size_t r = 0; r < B; r++) {
        double sa = 0, sb = 0;
        for (size_t k = 0; k < n; k++) {
            size_t i = (size_t)gsl_rng_uniform_int(rng, (unsigned long)n);
            double ea = c->champ[i] - c->label[i], eb = c->chall[i] - c->label[i];
            sa += ea * ea;
            sb += eb * eb;
        }
        a[r] = sqrt(sa / (double)n);
        b[r] = sqrt(sb / (double)n);
    }
    gsl_sort(a, 1, B);
    gsl_sort(b, 1, B);
    double lo = (1.0 - c->d.confidence) / 2, hi = (1.0 + c->d.confidence) / 2;
    c->rmse_ci_champion[0] = gsl_stats_quantile_from_sorted_data(a, 1, B, lo);
    c->rmse_ci_champion[1] = gsl_stats_quantile_from_sorted_data(a, 1, B, hi);
    c->rmse_ci_challenger[0] = gsl_stats_quantile_from_sorted_data(b, 1, B, lo);
    c->rmse_ci_challenger[1] = gsl_stats_quantile_from_sorted_data(b, 1, B, hi);
    free(a);
    free(b);
    gsl_rng_free(rng);
    return 0;
}

int sf_challenge_judge(sf_challenge *c, bool force, sf_err *err)
{
    bool due = c->n >= c->opts.min_orders && (c->n >= c->opts.max_orders || !c->looked ||
                                              c->n - c->n_looked >= c->opts.check_every);
    if (!due && !(force && c->n > 0 && c->n != c->n_looked))
        return c->looked && c->n == c->n_looked ? (int)c->verdict : SF_CHALLENGE_RUNNING;
    char ref[32];
    snprintf(ref, sizeof ref, "champion v%lld", (long long)c->champion);
    if (sf_gate_decide(c->label, c->champ, c->chall, NULL, c->n, c->n, true, ref, &c->opts.gate,
                       &c->d, err) != 0)
        return sf_err_wrap(err, "challenge v%lld", (long long)c->challenger);
    if (rmse_intervals(c, err) != 0)
        return -1;
    c->looked = true;
    c->n_looked = c->n;
    const sf_gate_decision *d = &c->d;
    if (c->n < c->opts.min_orders) {
        c->verdict = SF_CHALLENGE_RUNNING;
        snprintf(c->reason, sizeof c->reason, "running: %zu of at least %zu live orders", c->n,
                 c->opts.min_orders);
    } else if (d->released) {
        c->verdict = SF_CHALLENGE_PROMOTE;
        snprintf(c->reason, sizeof c->reason,
                 "promoted on %zu live orders: RMSE %.4f vs champion v%lld %.4f, gain %.4f >= "
                 "margin %.4f, paired bootstrap %g%% [%.4f, %.4f] above 0",
                 c->n, d->rmse_candidate, (long long)c->champion, d->rmse_champion, d->gain,
                 d->margin, d->confidence * 100, d->boot_lower, d->boot_upper);
    } else if (d->boot_upper < 0) {
        c->verdict = SF_CHALLENGE_RETIRE;
        snprintf(c->reason, sizeof c->reason,
                 "retired on %zu live orders: it loses, RMSE %.4f vs champion v%lld %.4f, paired "
                 "bootstrap %g%% [%.4f, %.4f] below 0",
                 c->n, d->rmse_candidate, (long long)c->champion, d->rmse_champion,
                 d->confidence * 100, d->boot_lower, d->boot_upper);
    } else if (c->n >= c->opts.max_orders) {
        c->verdict = SF_CHALLENGE_RETIRE;
        snprintf(c->reason, sizeof c->reason,
                 "retired undecided after %zu live orders (max %zu): RMSE %.4f vs champion v%lld "
                 "%.4f, gain %.4f, paired bootstrap %g%% [%.4f, %.4f]",
                 c->n, c->opts.max_orders, d->rmse_candidate, (long long)c->champion,
                 d->rmse_champion, d->gain, d->confidence * 100, d->boot_lower, d->boot_upper);
    } else {
        c->verdict = SF_CHALLENGE_RUNNING;
        snprintf(c->reason, sizeof c->reason,
                 "running: no decision on %zu live orders (RMSE %.4f vs %.4f, gain %.4f, paired "
                 "bootstrap %g%% [%.4f, %.4f])",
                 c->n, d->rmse_candidate, d->rmse_champion, d->gain, d->confidence * 100,
                 d->boot_lower, d->boot_upper);
    }
    return (int)c->verdict;
}

static void add_num(cJSON *o, const char *k, double v, bool ok)
{
    if (ok && isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_pair(cJSON *o, const char *k, const double v[2], bool ok)
{
    if (!ok) {
        cJSON_AddNullToObject(o, k);
        return;
    }
    cJSON *a = cJSON_AddArrayToObject(o, k);
    if (a)
        for (int i = 0; i < 2; i++)
            cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
}

char *sf_challenge_json(const sf_challenge *c, const char *status, int64_t decided_at, int64_t at)
{
    if (!status)
        status = c->verdict == SF_CHALLENGE_PROMOTE  ? "promoted"
                 : c->verdict == SF_CHALLENGE_RETIRE ? "retired"
                                                     : "running";
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = c->looked;
    const sf_gate_decision *d = &c->d;
    cJSON_AddNumberToObject(o, "challenger", (double)c->challenger);
    cJSON_AddNumberToObject(o, "champion", (double)c->champion);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddStringToObject(o, "reason",
                            c->reason[0] ? c->reason : "running: no live order joined yet");
    cJSON_AddNumberToObject(o, "orders", (double)c->n);
    cJSON_AddNumberToObject(o, "min_orders", (double)c->opts.min_orders);
    cJSON_AddNumberToObject(o, "max_orders", (double)c->opts.max_orders);
    double conf = c->opts.gate.confidence ? c->opts.gate.confidence : SF_GATE_CONFIDENCE;
    cJSON_AddNumberToObject(o, "confidence", conf);
    add_num(o, "rmse_champion", d->rmse_champion, ok);
    add_num(o, "rmse_challenger", d->rmse_candidate, ok);
    add_pair(o, "rmse_champion_ci", c->rmse_ci_champion, ok);
    add_pair(o, "rmse_challenger_ci", c->rmse_ci_challenger, ok);
    add_num(o, "gain", d->gain, ok);
    add_num(o, "margin", c->opts.gate.margin, true);
    add_num(o, "diff_mean", d->diff_mean, ok);
    add_num(o, "lower", d->boot_lower, ok);
    add_num(o, "upper", d->boot_upper, ok);
    cJSON_AddNumberToObject(o, "resamples", (double)c->opts.gate.resamples);
    cJSON_AddNumberToObject(o, "started_at", (double)c->started_at);
    cJSON_AddNumberToObject(o, "decided_at", (double)decided_at);
    cJSON_AddNumberToObject(o, "event_time", (double)c->event_time);
    cJSON_AddNumberToObject(o, "at", (double)at);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
