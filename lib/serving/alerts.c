/*
 * alerts.c - the scorer's at-risk order alerts (see satisfy/alerts.h): the
 * threshold in use, the set of alerted orders with the batch's pending ones,
 * its rebuild from satisfy.alerts on assignment, and the newest alerts and
 * counters for the web page and /metrics.
 */
#include "satisfy/alerts.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "satisfy/clock.h"
#include "satisfy/idmap.h"

struct sf_alerts {
    double override; /* NaN = the release's */
    double release;  /* the active release's, NaN = none */
    int disabled;
    sf_log_fn log;
    void *log_arg;
    sf_idmap *done;    /* orders alerted (committed, or read back) */
    sf_alert *pending; /* this batch's, not yet committed */
    size_t n_pending, cap_pending;
    rd_kafka_t *reader; /* the rebuild's consumer, made at the first rebuild */
    sf_kafka_stats rstats;
    pthread_mutex_t mu; /* below, and the thresholds for readers */
    sf_alert recent[SF_ALERTS_RECENT];
    uint64_t n_recent; /* pushed so far; the i-th at recent[i % SF_ALERTS_RECENT] */
    uint64_t emitted, rebuilt, bad;
};

static void logf_(sf_alerts *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(sf_alerts *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_logv(a->log, a->log_arg, fmt, ap);
    va_end(ap);
}

sf_alerts *sf_alerts_new(double override, sf_log_fn log, void *log_arg)
{
    sf_alerts *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (!(a->done = sf_idmap_new(1024))) {
        free(a);
        return NULL;
    }
    a->override = override >= 0.0 && override <= 1.0 ? override : NAN;
    a->release = NAN;
    a->log = log;
    a->log_arg = log_arg;
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void sf_alerts_free(sf_alerts *a)
{
    if (!a)
        return;
    if (a->reader) {
        rd_kafka_consumer_close(a->reader);
        rd_kafka_destroy(a->reader);
    }
    sf_idmap_free(a->done);
    free(a->pending);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

int sf_alerts_release_threshold(const char *metrics_json, double *t)
{
    if (!metrics_json)
        return 0;
    cJSON *root = cJSON_Parse(metrics_json);
    cJSON *al = root ? cJSON_GetObjectItemCaseSensitive(root, "alert") : NULL;
    cJSON *th = cJSON_IsObject(al) ? cJSON_GetObjectItemCaseSensitive(al, "threshold") : NULL;
    int ok = cJSON_IsNumber(th) && th->valuedouble >= 0.0 && th->valuedouble <= 1.0;
    if (ok)
        *t = th->valuedouble;
    cJSON_Delete(root);
    return ok;
}

/* Under a->mu. */
static double in_use(const sf_alerts *a)
{
    if (a->disabled)
        return NAN;
    return isnan(a->override) ? a->release : a->override;
}

void sf_alerts_use_release(sf_alerts *a, int64_t version, const char *metrics_json)
{
    double t = NAN;
    int has = sf_alerts_release_threshold(metrics_json, &t);
    pthread_mutex_lock(&a->mu);
    a->release = has ? t : NAN;
    double use = in_use(a);
    pthread_mutex_unlock(&a->mu);
    if (a->disabled)
        return;
    if (!isnan(a->override))
        logf_(a, "alerts: threshold %.4f (--alert-threshold; release %" PRId64 " has %s)",
              a->override, version, has ? "its own" : "none");
    else if (!isnan(use))
        logf_(a, "alerts: threshold %.4f of release %" PRId64, use, version);
    else
        logf_(a, "alerts: release %" PRId64 " has no alert threshold: no alerts", version);
}

void sf_alerts_disable(sf_alerts *a, const char *why)
{
    pthread_mutex_lock(&a->mu);
    a->disabled = 1;
    pthread_mutex_unlock(&a->mu);
    logf_(a, "alerts: off for this run: %s", why);
}

/* Partitions of topic, -1 when it does not exist or is not known in time. */
static int partitions_of(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (!t)
        return -1;
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(rk, 0, t, &md, timeout_ms) == 0) {
        if (md->topic_cnt == 1 && !md->topics[0].err)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    return n;
}

int sf_alerts_check_topics(sf_alerts *a, rd_kafka_t *rk, int timeout_ms)
{
    int na = partitions_of(rk, SF_TOPIC_ALERTS, timeout_ms);
    int no = partitions_of(rk, SF_TOPIC_ORDERS, timeout_ms);
    char why[256];
    if (na <= 0)
        snprintf(why, sizeof why, "topic %s does not exist (create it as docs/deploy.md says)",
                 SF_TOPIC_ALERTS);
    else if (no > na)
        snprintf(why, sizeof why,
                 "%s has %d partitions, fewer than the %d of %s (an alert goes to its order's "
                 "partition)",
                 SF_TOPIC_ALERTS, na, no, SF_TOPIC_ORDERS);
    else
        return 0;
    sf_alerts_disable(a, why);
    return 1;
}

double sf_alerts_threshold(sf_alerts *a)
{
    pthread_mutex_lock(&a->mu);
    double t = in_use(a);
    pthread_mutex_unlock(&a->mu);
    return t;
}

int sf_alerts_check(sf_alerts *a, const sf_prediction *p, sf_alert *out)
{
    /* the thresholds change only on this thread: no lock to read them */
    double t = in_use(a);
    if (isnan(t) || !(p->p_dissatisfied >= t))
        return 0;
    if (sf_idmap_get(a->done, p->order_id, SF_ID_LEN, NULL) == 0)
        return 0;
    for (size_t i = 0; i < a->n_pending; i++)
        if (memcmp(a->pending[i].p.order_id, p->order_id, SF_ID_LEN) == 0)
            return 0;
    if (a->n_pending == a->cap_pending) {
        size_t cap = a->cap_pending ? 2 * a->cap_pending : 64;
        sf_alert *np = realloc(a->pending, cap * sizeof *np);
        if (!np)
            return -1;
        a->pending = np;
        a->cap_pending = cap;
    }
    out->p = *p;
    out->threshold = t;
    a->pending[a->n_pending++] = *out;
    return 1;
}

/* Under a->mu. */
static void push_recent(sf_alerts *a, const sf_alert *al)
{
    a->recent[a->n_recent++ % SF_ALERTS_RECENT] = *al;
}

void sf_alerts_commit(sf_alerts *a)
{
    if (!a->n_pending)
        return;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n_pending; i++) {
        if (sf_idmap_put(a->done, a->pending[i].p.order_id, SF_ID_LEN, 0, NULL) < 0)
            continue; /* out of memory: the order may alert again */
        push_recent(a, &a->pending[i]);
        a->emitted++;
    }
    pthread_mutex_unlock(&a->mu);
    a->n_pending = 0;
}

void sf_alerts_abort(sf_alerts *a)
{
    a->n_pending = 0;
}

static int make_reader(sf_alerts *a, const sf_kafka_conn *conn, sf_err *err)
{
    if (a->reader)
        return 0;
    sf_kafka_client_opts ko = {.role = SF_KAFKA_ALERTS_READER,
                               .conn = *conn,
                               .stats = &a->rstats,
                               .log = a->log,
                               .log_arg = a->log_arg};
    if (!(a->reader = sf_kafka_client_new(&ko, err)))
        return sf_err_wrap(err, "alerts rebuild");
    /* the partitions' leaders before the first assign: a new client that
     * has none waits out its offset query timer (1 s more seen) */
    rd_kafka_topic_t *t = rd_kafka_topic_new(a->reader, SF_TOPIC_ALERTS, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (t && rd_kafka_metadata(a->reader, 0, t, &md, 10000) == 0)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return 0;
}

static int gone(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
           e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
}

int sf_alerts_rebuild(sf_alerts *a, const sf_kafka_conn *conn, const int32_t *partitions, int n,
                      sf_err *err)
{
    if (n <= 0)
        return 0;
    if (make_reader(a, conn, err) < 0)
        return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, SF_TOPIC_ALERTS, partitions[i])->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(a->reader, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return sf_errf(err, "alerts rebuild: assign %s: %s", SF_TOPIC_ALERTS, rd_kafka_err2str(e));
    char *at_end = calloc((size_t)n, 1);
    if (!at_end) {
        rd_kafka_assign(a->reader, NULL);
        return sf_errf(err, "alerts rebuild: out of memory");
    }
    int left = n, rc = 0;
    uint64_t found = 0, bad = 0;
    double t0 = sf_mono_s(), deadline = t0 + SF_ALERTS_REBUILD_S;
    char last_err[256] = "";
    while (left > 0) {
        if (sf_mono_s() > deadline) {
            rc = sf_errf(err,
                         "alerts rebuild: %d of %d partitions of %s not read to their end in "
                         "%d s (%s): their orders may be alerted again",
                         left, n, SF_TOPIC_ALERTS, SF_ALERTS_REBUILD_S,
                         last_err[0] ? last_err : "no error seen");
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(a->reader, 200);
        if (!m)
            continue;
        int idx = -1;
        for (int i = 0; i < n; i++)
            if (partitions[i] == m->partition)
                idx = i;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || gone(m->err)) {
            if (gone(m->err) && idx < 0) /* the topic: every partition */
                for (int i = 0; i < n; i++)
                    if (!at_end[i]) {
                        at_end[i] = 1;
                        left--;
                    }
            if (idx >= 0 && !at_end[idx]) {
                at_end[idx] = 1;
                left--;
            }
        } else if (m->err) {
            snprintf(last_err, sizeof last_err, "%s", rd_kafka_message_errstr(m));
        } else {
            sf_alert al;
            sf_err why;
            if (sf_decode_alert(m->payload, m->len, &al, &why) == 0) {
                pthread_mutex_lock(&a->mu);
                if (sf_idmap_put(a->done, al.p.order_id, SF_ID_LEN, 0, NULL) == 1)
                    push_recent(a, &al);
                pthread_mutex_unlock(&a->mu);
                found++;
            } else {
                if (bad++ == 0)
                    logf_(a, "alerts rebuild: %s [%d] @%" PRId64 ": %s (skipped)", SF_TOPIC_ALERTS,
                          (int)m->partition, m->offset, why.msg);
            }
        }
        rd_kafka_message_destroy(m);
    }
    free(at_end);
    rd_kafka_assign(a->reader, NULL);
    pthread_mutex_lock(&a->mu);
    a->rebuilt += found;
    a->bad += bad;
    size_t known = sf_idmap_count(a->done);
    pthread_mutex_unlock(&a->mu);
    logf_(a,
          "alerts: read %" PRIu64 " alerts (%" PRIu64 " malformed) from %d partition(s) of %s in "
          "%.2f s; %zu orders known as alerted",
          found, bad, n, SF_TOPIC_ALERTS, sf_mono_s() - t0, known);
    return rc;
}

static int by_time_desc(const void *x, const void *y)
{
    int64_t a = ((const sf_alert *)x)->p.scored_at, b = ((const sf_alert *)y)->p.scored_at;
    return a < b ? 1 : a > b ? -1 : 0;
}

size_t sf_alerts_recent(sf_alerts *a, sf_alert *out, size_t max)
{
    sf_alert all[SF_ALERTS_RECENT];
    memset(all, 0, sizeof all); /* 20 KB, a few times a second at most */
    pthread_mutex_lock(&a->mu);
    size_t n = a->n_recent < SF_ALERTS_RECENT ? (size_t)a->n_recent : SF_ALERTS_RECENT;
    for (size_t i = 0; i < n; i++) /* newest pushed first */
        all[i] = a->recent[(a->n_recent - 1 - i) % SF_ALERTS_RECENT];
    pthread_mutex_unlock(&a->mu);
    if (n > 1)
        qsort(all, n, sizeof *all, by_time_desc);
    if (n > max)
        n = max;
    memcpy(out, all, n * sizeof *out);
    return n;
}

void sf_alerts_get(sf_alerts *a, sf_alerts_counts *c)
{
    pthread_mutex_lock(&a->mu);
    c->emitted = a->emitted;
    c->known = sf_idmap_count(a->done);
    c->rebuilt = a->rebuilt;
    c->bad = a->bad;
    pthread_mutex_unlock(&a->mu);
}

char *sf_alerts_prometheus(sf_alerts *a)
{
    sf_alerts_counts c;
    sf_alerts_get(a, &c);
    double t = sf_alerts_threshold(a);
    size_t cap = 1024;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    snprintf(s, cap,
             "# HELP satisfy_scorer_alerts_total At-risk order alerts committed to "
             "satisfy.alerts by this scorer.\n"
             "# TYPE satisfy_scorer_alerts_total counter\n"
             "satisfy_scorer_alerts_total %" PRIu64 "\n"
             "# HELP satisfy_scorer_alert_threshold The alert threshold in use (risk of a 1-2 "
             "star review); -1 = no alerts.\n"
             "# TYPE satisfy_scorer_alert_threshold gauge\n"
             "satisfy_scorer_alert_threshold %.6g\n"
             "# HELP satisfy_scorer_alerted_orders Orders this scorer knows as alerted (its "
             "own and those read back from satisfy.alerts).\n"
             "# TYPE satisfy_scorer_alerted_orders gauge\n"
             "satisfy_scorer_alerted_orders %" PRIu64 "\n",
             c.emitted, isnan(t) ? -1.0 : t, c.known);
    return s;
}

char *sf_alerts_json(sf_alerts *a, size_t max)
{
    sf_alert *r = malloc(SF_ALERTS_RECENT * sizeof *r);
    if (!r)
        return NULL;
    size_t n = sf_alerts_recent(a, r, max < SF_ALERTS_RECENT ? max : SF_ALERTS_RECENT);
    sf_alerts_counts c;
    sf_alerts_get(a, &c);
    double t = sf_alerts_threshold(a);
    cJSON *o = cJSON_CreateObject();
    if (isnan(t))
        cJSON_AddNullToObject(o, "threshold");
    else
        cJSON_AddNumberToObject(o, "threshold", t);
    cJSON_AddNumberToObject(o, "emitted", (double)c.emitted);
    cJSON_AddNumberToObject(o, "known", (double)c.known);
    cJSON *arr = cJSON_AddArrayToObject(o, "alerts");
    for (size_t i = 0; i < n; i++) {
        sf_err err;
        char *js = sf_alert_to_json(&r[i], &err);
        cJSON *e = js ? cJSON_Parse(js) : NULL;
        free(js);
        if (e)
            cJSON_AddItemToArray(arr, e);
    }
    free(r);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
