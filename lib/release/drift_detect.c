/*
 * drift_detect.c - the Page-Hinkley detector of drift_detect.h: constant
 * memory and time per value, so the retrainer runs it on every review it
 * joins with a prediction without a window to keep.
 */
#include "satisfy/drift_detect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
