/*
 * drift_profile.c - training distributions per feature and the PSI against
 * them (drift_profile.h): deciles of a strided sample of the training rows,
 * their JSON in the release's metrics_json, and its parse on the scorer's
 * side, where a malformed object must not stop scoring (the caller logs it
 * and computes no PSI).
 */
#include "satisfy/drift_profile.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "satisfy/buf.h"

int sf_drift_bin(const sf_drift_feature *f, float v)
{
    if (isnan(v))
        return f->n_edges + 1;
    int lo = 0, hi = f->n_edges; /* edges strictly below v */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (f->edges[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

int sf_drift_profile_build(const sf_feature_spec *spec, const float *x, size_t n, size_t stride,
                           sf_drift_profile *out, sf_err *err)
{
    memset(out, 0, sizeof *out);
    size_t step = n > SF_DRIFT_SAMPLE ? (n + SF_DRIFT_SAMPLE - 1) / SF_DRIFT_SAMPLE : 1;
    size_t m_max = n ? (n + step - 1) / step : 1;
    float *col = malloc(m_max * sizeof *col);
    if (!col)
        return sf_errf(err, "drift profile: out of memory for %zu rows", m_max);
    out->n = spec->n;
    out->rows = n ? (n + step - 1) / step : 0;
    for (int j = 0; j < spec->n; j++) {
        sf_drift_feature *f = &out->f[j];
        snprintf(f->name, sizeof f->name, "%s", spec->defs[j].name);
        size_t m = 0, missing = 0;
        for (size_t i = 0; i < n; i += step) {
            float v = x[i * stride + (size_t)j];
            if (isnan(v))
                missing++;
            else
                col[m++] = v;
        }
        if (m > 0) {
            qsort(col, m, sizeof *col, cmp_float);
            for (int k = 1; k < SF_DRIFT_BINS; k++) {
                size_t at = (size_t)((double)k * (double)m / SF_DRIFT_BINS);
                float e = col[at < m ? at : m - 1];
                if (f->n_edges == 0 || e > f->edges[f->n_edges - 1])
                    f->edges[f->n_edges++] = e;
            }
        }
        size_t total = m + missing;
        double cnt[SF_DRIFT_BINS + 1] = {0};
        for (size_t i = 0; i < m; i++)
            cnt[sf_drift_bin(f, col[i])]++;
        cnt[f->n_edges + 1] = (double)missing;
        for (int b = 0; b < sf_drift_n_bins(f); b++)
            f->shares[b] = total ? cnt[b] / (double)total : 0;
    }
    free(col);
    return 0;
}

/* Appends printf output to b (a failure leaves b->len at SIZE_MAX). */
static void put(sf_buf *b, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(sf_buf *b, size_t *len, const char *fmt, ...)
{
    if (*len == SIZE_MAX)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - *len;
        int k = vsnprintf((char *)b->data + *len, room, fmt, ap);
        va_end(ap);
        if (k < 0) {
            *len = SIZE_MAX;
            return;
        }
        if ((size_t)k < room) {
            *len += (size_t)k;
            return;
        }
        sf_err e;
        if (sf_buf_reserve(b, *len + (size_t)k + 256, &e) != 0) {
            *len = SIZE_MAX;
            return;
        }
    }
}

char *sf_drift_profile_json(const sf_drift_profile *p)
{
    sf_buf b = {0};
    sf_err e;
    size_t len = 0;
    if (sf_buf_reserve(&b, 4096, &e) != 0)
        return NULL;
    put(&b, &len, "{\"bins\":%d,\"eps\":%g,\"rows\":%zu,\"features\":[", SF_DRIFT_BINS,
        SF_DRIFT_EPS, p->rows);
    for (int j = 0; j < p->n; j++) {
        const sf_drift_feature *f = &p->f[j];
        put(&b, &len, "%s{\"name\":\"%s\",\"edges\":[", j ? "," : "", f->name);
        for (int k = 0; k < f->n_edges; k++) /* %.9g: the float back exactly */
            put(&b, &len, "%s%.9g", k ? "," : "", (double)f->edges[k]);
        put(&b, &len, "],\"shares\":[");
        for (int k = 0; k < sf_drift_n_bins(f); k++)
            put(&b, &len, "%s%.4g", k ? "," : "", f->shares[k]);
        put(&b, &len, "]}");
    }
    put(&b, &len, "]}");
    if (len == SIZE_MAX) {
        sf_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

char *sf_drift_metrics_with(const char *metrics_json, const sf_drift_profile *p, sf_err *err)
{
    cJSON *o = cJSON_Parse(metrics_json ? metrics_json : "{}");
    char *d = sf_drift_profile_json(p);
    cJSON *raw = d ? cJSON_CreateRaw(d) : NULL;
    free(d);
    char *s = NULL;
    if (!cJSON_IsObject(o))
        sf_errf(err, "drift profile: the release metrics are not a JSON object");
    else if (!raw)
        sf_errf(err, "drift profile: out of memory");
    else {
        cJSON_DeleteItemFromObject(o, "drift");
        cJSON_AddItemToObject(o, "drift", raw);
        raw = NULL;
        if (!(s = cJSON_PrintUnformatted(o)))
            sf_errf(err, "drift profile: out of memory");
    }
    cJSON_Delete(raw);
    cJSON_Delete(o);
    return s;
}

/* An array of numbers into v (at most cap); its length, or -1. */
static int numbers(const cJSON *a, double *v, int cap)
{
    if (!cJSON_IsArray(a))
        return -1;
    int n = 0;
    for (const cJSON *it = a->child; it; it = it->next) {
        if (!cJSON_IsNumber(it) || n == cap || !isfinite(it->valuedouble))
            return -1;
        v[n++] = it->valuedouble;
    }
    return n;
}

int sf_drift_profile_parse(const char *metrics_json, sf_drift_profile *out, sf_err *err)
{
    memset(out, 0, sizeof *out);
    if (!metrics_json)
        return 0;
    cJSON *o = cJSON_Parse(metrics_json);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "drift");
    int rc = 0;
    if (!o)
        rc = sf_errf(err, "drift profile: the release metrics are not JSON");
    else if (d) {
        const cJSON *fs = cJSON_GetObjectItemCaseSensitive(d, "features");
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(d, "rows");
        if (!cJSON_IsArray(fs))
            rc = sf_errf(err, "drift profile: no \"features\" array");
        if (cJSON_IsNumber(rows) && rows->valuedouble >= 0)
            out->rows = (size_t)rows->valuedouble;
        for (const cJSON *f = fs ? fs->child : NULL; f && rc == 0; f = f->next) {
            const char *where = "drift profile: feature %d: %s";
            if (out->n == SF_SPEC_MAX_FEATURES) {
                rc = sf_errf(err, where, out->n, "more features than a spec has");
                break;
            }
            sf_drift_feature *x = &out->f[out->n];
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(f, "name");
            double e[SF_DRIFT_BINS], s[SF_DRIFT_BINS + 2];
            int ne = numbers(cJSON_GetObjectItemCaseSensitive(f, "edges"), e, SF_DRIFT_BINS - 1);
            int ns = numbers(cJSON_GetObjectItemCaseSensitive(f, "shares"), s, SF_DRIFT_BINS + 1);
            if (!cJSON_IsString(nm) || strlen(nm->valuestring) >= SF_DRIFT_NAME)
                rc = sf_errf(err, where, out->n, "no name, or a name too long");
            else if (ne < 0 || ns != ne + 2)
                rc = sf_errf(err, where, out->n,
                             "edges and shares must be number arrays, shares two longer");
            for (int k = 0; rc == 0 && k < ne; k++) {
                if (k && !(e[k] > e[k - 1]))
                    rc = sf_errf(err, where, out->n, "edges not increasing");
                x->edges[k] = (float)e[k];
            }
            for (int k = 0; rc == 0 && k < ns; k++) {
                if (!(s[k] >= 0 && s[k] <= 1))
                    rc = sf_errf(err, where, out->n, "a share outside 0..1");
                x->shares[k] = s[k];
            }
            if (rc == 0) {
                snprintf(x->name, sizeof x->name, "%s", nm->valuestring);
                x->n_edges = ne;
                out->n++;
            }
        }
        if (rc == 0)
            rc = 1;
    }
    cJSON_Delete(o);
    if (rc < 0)
        out->n = 0;
    return rc;
}

double sf_drift_psi(const double *expected, const double *actual, int n_bins, double eps)
{
    double psi = 0;
    for (int b = 0; b < n_bins; b++) {
        double e = expected[b] > eps ? expected[b] : eps;
        double a = actual[b] > eps ? actual[b] : eps;
        psi += (a - e) * log(a / e);
    }
    return psi;
}

double sf_drift_psi_counts(const double *expected, const uint32_t *counts, int n_bins, double eps)
{
    double total = 0, a[SF_DRIFT_BINS + 2];
    for (int b = 0; b < n_bins; b++)
        total += counts[b];
    if (total == 0 || n_bins > SF_DRIFT_BINS + 2)
        return NAN;
    for (int b = 0; b < n_bins; b++)
        a[b] = counts[b] / total;
    return sf_drift_psi(expected, a, n_bins, eps);
}
