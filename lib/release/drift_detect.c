/*
 * drift_detect.c - the retrainer's drift detectors (drift_detect.h): the
 * Page-Hinkley detector of outcome drift, constant memory and time per
 * value, so the retrainer runs it on every review it joins with a
 * prediction without a window to keep; and the input drift alarm read from
 * a scorer's PSI message.
 */
#include "satisfy/drift_detect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

void sf_ph_opts_default(sf_ph_opts *o)
{
    o->delta = SF_PH_DELTA;
    o->lambda = SF_PH_LAMBDA;
    o->min_samples = SF_PH_MIN_SAMPLES;
}

int sf_ph_init(sf_ph *ph, const sf_ph_opts *o, sf_err *err)
{
    memset(ph, 0, sizeof *ph);
    if (!(o->delta >= 0) || !isfinite(o->delta))
        return sf_errf(err, "page-hinkley: delta %g must be >= 0", o->delta);
    if (!(o->lambda > 0) || !isfinite(o->lambda))
        return sf_errf(err, "page-hinkley: lambda %g must be > 0", o->lambda);
    if (o->min_samples < 1)
        return sf_errf(err, "page-hinkley: min_samples %ld must be >= 1", o->min_samples);
    ph->o = *o;
    return 0;
}

static void reset(sf_ph *ph)
{
    ph->n = 0;
    ph->mean = ph->m = ph->m_min = 0;
}

int sf_ph_add(sf_ph *ph, double x)
{
    if (!isfinite(x))
        return 0;
    ph->total++;
    ph->n++;
    ph->mean += (x - ph->mean) / (double)ph->n;
    ph->m += x - ph->mean - ph->o.delta;
    if (ph->m < ph->m_min)
        ph->m_min = ph->m;
    if ((long)ph->n < ph->o.min_samples || ph->m - ph->m_min <= ph->o.lambda)
        return 0;
    ph->alarms++;
    ph->last_alarm_at = ph->total;
    ph->mean_before = ph->mean;
    reset(ph);
    return 1;
}

double sf_ph_stat(const sf_ph *ph)
{
    return ph->m - ph->m_min;
}

char *sf_ph_json(const sf_ph *ph)
{
    char *s = malloc(512);
    if (s)
        snprintf(s, 512,
                 "{\"detector\":\"page-hinkley\",\"delta\":%g,\"lambda\":%g,\"min_samples\":%ld,"
                 "\"n\":%llu,\"mean\":%.6g,\"stat\":%.6g,\"total\":%llu,\"alarms\":%llu,"
                 "\"last_alarm_at\":%llu,\"mean_before\":%.6g}",
                 ph->o.delta, ph->o.lambda, ph->o.min_samples, (unsigned long long)ph->n, ph->mean,
                 sf_ph_stat(ph), (unsigned long long)ph->total, (unsigned long long)ph->alarms,
                 (unsigned long long)ph->last_alarm_at, ph->mean_before);
    return s;
}

/* ---- input drift alarms ---------------------------------------------- */

int sf_input_drift_watched(const char *f)
{
    static const char *const NOT_WATCHED[] = {
        "purchase_weekday",   "purchase_hour",       "purchase_month",
        "seller_review_mean", "seller_review_count", "seller_late_rate",
        "seller_delivered",   "customer_orders",     "customer_review_mean"};
    for (size_t i = 0; i < sizeof NOT_WATCHED / sizeof NOT_WATCHED[0]; i++)
        if (strcmp(f, NOT_WATCHED[i]) == 0)
            return 0;
    return 1;
}

int sf_input_drift_check(const char *json, double threshold, sf_input_alarm *out, sf_err *err)
{
    memset(out, 0, sizeof *out);
    cJSON *o = cJSON_Parse(json);
    if (!o)
        return sf_errf(err, "input drift message: not JSON");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "model_version");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(o, "at");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "scorer");
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(o, "features");
    if (!cJSON_IsNumber(v) || !cJSON_IsNumber(at) || !cJSON_IsArray(fs)) {
        cJSON_Delete(o);
        return sf_errf(err, "input drift message: model_version, at or features missing");
    }
    out->model_version = (int64_t)v->valuedouble;
    out->at = (int64_t)at->valuedouble;
    snprintf(out->scorer, sizeof out->scorer, "%s", cJSON_IsString(sc) ? sc->valuestring : "?");
    double best = -1, best_ignored = -1;
    const cJSON *f;
    cJSON_ArrayForEach(f, fs)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(f, "name");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "psi");
        if (!cJSON_IsString(n) || !cJSON_IsNumber(p) || !isfinite(p->valuedouble))
            continue;
        if (sf_input_drift_watched(n->valuestring)) {
            if (p->valuedouble > best) {
                best = p->valuedouble;
                snprintf(out->feature, sizeof out->feature, "%s", n->valuestring);
            }
        } else if (p->valuedouble > best_ignored) {
            best_ignored = p->valuedouble;
            snprintf(out->ignored, sizeof out->ignored, "%s", n->valuestring);
        }
    }
    cJSON_Delete(o);
    out->psi = best > 0 ? best : 0;
    out->ignored_psi = best_ignored > 0 ? best_ignored : 0;
    if (out->ignored_psi <= out->psi)
        out->ignored[0] = '\0';
    return best >= threshold ? 1 : 0;
}
