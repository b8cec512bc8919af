/*
 * online.c - rolling online accuracy per model version (see
 * satisfy/online.h): a ring buffer of pairs per version and the
 * metrics of evaluate.h over it.
 */
#include "satisfy/online.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "satisfy/evaluate.h"

typedef struct ring {
    int64_t version;
    double *label, *score, *p;
    size_t n, next, total;
    int64_t event_time;
} ring;

struct sf_online {
    size_t window;
    ring *v;
    size_t n, cap;
};

sf_online *sf_online_new(size_t window, sf_err *err)
{
    sf_online *o = calloc(1, sizeof *o);
    if (!o) {
        sf_errf(err, "online accuracy: out of memory");
        return NULL;
    }
    o->window = window ? window : SF_ONLINE_WINDOW;
    return o;
}

void sf_online_free(sf_online *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].label);
        free(o->v[i].score);
        free(o->v[i].p);
    }
    free(o->v);
    free(o);
}

static ring *find(const sf_online *o, int64_t version)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->v[i].version == version)
            return &o->v[i];
    return NULL;
}

int sf_online_add(sf_online *o, int64_t version, double label, double score, double p,
                  int64_t event_time, sf_err *err)
{
    if (!(label >= 1 && label <= 5))
        return sf_errf(err, "online accuracy v%lld: review score %g out of range 1..5",
                       (long long)version, label);
    if (!(score >= 1 && score <= 5))
        return sf_errf(err, "online accuracy v%lld: predicted score %g out of range 1..5",
                       (long long)version, score);
    if (!(p >= 0 && p <= 1))
        return sf_errf(err, "online accuracy v%lld: p_dissatisfied %g out of range 0..1",
                       (long long)version, p);
    ring *r = find(o, version);
    if (!r) {
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 4;
            ring *v = realloc(o->v, cap * sizeof *v);
            if (!v)
                return sf_errf(err, "online accuracy: out of memory");
            o->v = v;
            o->cap = cap;
        }
        r = &o->v[o->n];
        memset(r, 0, sizeof *r);
        r->version = version;
        r->label = malloc(o->window * sizeof(double));
        r->score = malloc(o->window * sizeof(double));
        r->p = malloc(o->window * sizeof(double));
        if (!r->label || !r->score || !r->p) {
            free(r->label);
            free(r->score);
            free(r->p);
            return sf_errf(err, "online accuracy: out of memory for a window of %zu", o->window);
        }
        o->n++;
    }
    r->label[r->next] = label;
    r->score[r->next] = score;
    r->p[r->next] = p;
    r->next = (r->next + 1) % o->window;
    if (r->n < o->window)
        r->n++;
    r->total++;
    if (event_time > r->event_time)
        r->event_time = event_time;
    return 0;
}

int sf_online_stats_get(const sf_online *o, int64_t version, sf_online_stats *out, sf_err *err)
{
    memset(out, 0, sizeof *out);
    const ring *r = find(o, version);
    if (!r)
        return 0;
    out->model_version = version;
    out->n = r->n;
    out->total = r->total;
    out->window = o->window;
    out->event_time = r->event_time;
    out->rmse = out->auc = NAN;
    if (r->n == 0)
        return 1;
    sf_metrics m;
    if (sf_metrics_compute(r->label, r->score, r->p, r->n, &m, err) != 0)
        return sf_err_wrap(err, "online accuracy v%lld", (long long)version);
    out->rmse = m.rmse;
    out->auc = m.binary_ok ? m.auc : NAN;
    return 1;
}

char *sf_online_json(const sf_online *o, int64_t version, sf_err *err)
{
    sf_online_stats st;
    int rc = sf_online_stats_get(o, version, &st, err);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        sf_errf(err, "online accuracy: no pairs for model version %lld", (long long)version);
        return NULL;
    }
    cJSON *j = cJSON_CreateObject();
    if (!j) {
        sf_errf(err, "online accuracy: out of memory");
        return NULL;
    }
    cJSON_AddNumberToObject(j, "model_version", (double)st.model_version);
    cJSON_AddNumberToObject(j, "n", (double)st.n);
    if (isfinite(st.rmse))
        cJSON_AddNumberToObject(j, "rmse", st.rmse);
    else
        cJSON_AddNullToObject(j, "rmse");
    if (isfinite(st.auc))
        cJSON_AddNumberToObject(j, "auc", st.auc);
    else
        cJSON_AddNullToObject(j, "auc");
    cJSON_AddNumberToObject(j, "window", (double)st.window);
    cJSON_AddNumberToObject(j, "total", (double)st.total);
    cJSON_AddNumberToObject(j, "event_time", (double)st.event_time);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s)
        sf_errf(err, "online accuracy: out of memory");
    return s;
}
