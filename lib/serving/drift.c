/*
 * drift.c - the live feature distributions of one scorer and their PSI
 * against the release's training distributions (drift.h).
 */
#include "satisfy/drift.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/clock.h"

#define NB (SF_DRIFT_BINS + 2)

struct sf_drift {
    pthread_mutex_t mu;
    size_t window;
    double interval;
    char id[128];
    sf_drift_profile prof;         /* prof.n == 0: no reference */
    int col[SF_SPEC_MAX_FEATURES]; /* the row column of each profiled feature */
    int64_t version;
    uint8_t *ring;   /* window x prof.n bins */
    size_t n, next;  /* rows in the window, the next slot */
    uint64_t events; /* rows added since the model */
    uint32_t counts[SF_SPEC_MAX_FEATURES][NB];
    double last; /* sf_mono_s() of the last publication (or the model) */
};

sf_drift *sf_drift_new(size_t window, double interval_s, const char *scorer_id)
{
    sf_drift *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->window = window ? window : SF_DRIFT_WINDOW;
    d->interval = interval_s > 0 ? interval_s : SF_DRIFT_INTERVAL;
    snprintf(d->id, sizeof d->id, "%s", scorer_id ? scorer_id : "");
    d->ring = malloc(d->window * SF_SPEC_MAX_FEATURES);
    if (!d->ring) {
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    return d;
}

void sf_drift_free(sf_drift *d)
{
    if (!d)
        return;
    pthread_mutex_destroy(&d->mu);
    free(d->ring);
    free(d);
}

int sf_drift_set_model(sf_drift *d, const sf_feature_spec *spec, const char *metrics_json,
                       int64_t version, sf_err *err)
{
    sf_drift_profile *p = malloc(sizeof *p);
    if (!p)
        return sf_errf(err, "input drift: out of memory");
    int rc = sf_drift_profile_parse(metrics_json, p, err);
    int col[SF_SPEC_MAX_FEATURES];
    for (int j = 0; rc > 0 && j < p->n; j++)
        if ((col[j] = sf_spec_index(spec, p->f[j].name)) < 0)
            rc = sf_errf(err, "input drift: the release profiles feature '%s', which spec %s lacks",
                         p->f[j].name, spec->name);
    if (rc < 0)
        sf_err_wrap(err, "model v%lld (no PSI)", (long long)version);
    pthread_mutex_lock(&d->mu);
    d->prof.n = 0;
    if (rc > 0) {
        d->prof = *p;
        memcpy(d->col, col, sizeof col);
    }
    d->version = version;
    d->n = d->next = 0;
    d->events = 0;
    memset(d->counts, 0, sizeof d->counts);
    d->last = sf_mono_s();
    pthread_mutex_unlock(&d->mu);
    free(p);
    return rc;
}

void sf_drift_add(sf_drift *d, const float *rows, size_t n, size_t stride)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    const int nf = d->prof.n;
    for (size_t i = 0; nf > 0 && i < n; i++) {
        const float *row = rows + i * stride;
        uint8_t *slot = d->ring + d->next * (size_t)nf;
        for (int j = 0; j < nf; j++) {
            if (d->n == d->window)
                d->counts[j][slot[j]]--;
            slot[j] = (uint8_t)sf_drift_bin(&d->prof.f[j], row[d->col[j]]);
            d->counts[j][slot[j]]++;
        }
        d->next = (d->next + 1) % d->window;
        if (d->n < d->window)
            d->n++;
        d->events++;
    }
    pthread_mutex_unlock(&d->mu);
}

int sf_drift_due(sf_drift *d)
{
    if (!d)
        return 0;
    pthread_mutex_lock(&d->mu);
    double now = sf_mono_s();
    int due = d->prof.n > 0 && d->n > 0 && now - d->last >= d->interval;
    if (due)
        d->last = now;
    pthread_mutex_unlock(&d->mu);
    return due;
}

typedef struct psi_of {
    int j;
    double psi;
} psi_of;

static int by_psi_desc(const void *a, const void *b)
{
    const psi_of *x = a, *y = b;
    return x->psi < y->psi ? 1 : x->psi > y->psi ? -1 : x->j - y->j;
}

/* PSI per feature, largest first, under the lock; the number of features
 * (0 when there is nothing to say). */
static int psi_all(sf_drift *d, psi_of *out)
{
    if (d->prof.n == 0 || d->n == 0)
        return 0;
    for (int j = 0; j < d->prof.n; j++) {
        const sf_drift_feature *f = &d->prof.f[j];
        out[j].j = j;
        out[j].psi = sf_drift_psi_counts(f->shares, d->counts[j], sf_drift_n_bins(f), SF_DRIFT_EPS);
    }
    qsort(out, (size_t)d->prof.n, sizeof *out, by_psi_desc);
    return d->prof.n;
}

char *sf_drift_json(sf_drift *d)
{
    if (!d)
        return NULL;
    psi_of v[SF_SPEC_MAX_FEATURES];
    size_t cap = 512 + SF_SPEC_MAX_FEATURES * (SF_DRIFT_NAME + 40);
    char *s = malloc(cap);
    pthread_mutex_lock(&d->mu);
    int nf = s ? psi_all(d, v) : 0;
    if (nf > 0) {
        int k =
            snprintf(s, cap,
                     "{\"scorer\":\"%s\",\"model_version\":%lld,\"window\":%zu,\"n\":%zu,"
                     "\"events\":%llu,\"at\":%lld,\"psi_max\":%.6g,\"feature_max\":\"%s\","
                     "\"alarm\":%.6g,\"features\":[",
                     d->id, (long long)d->version, d->window, d->n, (unsigned long long)d->events,
                     (long long)sf_wall_ms(), v[0].psi, d->prof.f[v[0].j].name, SF_DRIFT_PSI_ALARM);
        for (int j = 0; j < nf; j++)
            k += snprintf(s + k, cap - (size_t)k, "%s{\"name\":\"%s\",\"psi\":%.6g}", j ? "," : "",
                          d->prof.f[v[j].j].name, v[j].psi);
        snprintf(s + k, cap - (size_t)k, "]}");
    }
    pthread_mutex_unlock(&d->mu);
    if (nf <= 0) {
        free(s);
        return NULL;
    }
    return s;
}

char *sf_drift_prometheus(sf_drift *d)
{
    size_t cap = 1024 + SF_DRIFT_TOP * (SF_DRIFT_NAME + 64);
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = '\0';
    if (!d)
        return s;
    psi_of v[SF_SPEC_MAX_FEATURES];
    pthread_mutex_lock(&d->mu);
    int nf = psi_all(d, v);
    if (nf > 0) {
        int k = snprintf(s, cap,
                         "# HELP satisfy_scorer_drift_psi_max The largest population stability "
                         "index of a feature over the live window against the release's training "
                         "distribution; the label names the feature.\n"
                         "# TYPE satisfy_scorer_drift_psi_max gauge\n"
                         "satisfy_scorer_drift_psi_max{feature=\"%s\"} %.6g\n"
                         "# HELP satisfy_scorer_drift_psi PSI per feature, the %d largest.\n"
                         "# TYPE satisfy_scorer_drift_psi gauge\n",
                         d->prof.f[v[0].j].name, v[0].psi, SF_DRIFT_TOP);
        for (int j = 0; j < nf && j < SF_DRIFT_TOP; j++)
            k += snprintf(s + k, cap - (size_t)k, "satisfy_scorer_drift_psi{feature=\"%s\"} %.6g\n",
                          d->prof.f[v[j].j].name, v[j].psi);
        snprintf(s + k, cap - (size_t)k,
                 "# HELP satisfy_scorer_drift_window_events Scored events in the drift window.\n"
                 "# TYPE satisfy_scorer_drift_window_events gauge\n"
                 "satisfy_scorer_drift_window_events %zu\n",
                 d->n);
    }
    pthread_mutex_unlock(&d->mu);
    return s;
}
