/*
 * kafka_follow.c - a thread that follows every partition of a topic from the
 * beginning and hands each message to a callback (see
 * satisfy/kafka_follow.h).
 *
 * One loop, as librdkafka's examples/consumer.c: rd_kafka_consumer_poll with
 * a short timeout (so a stop is seen within 200 ms), the main queue
 * forwarded to it by the client factory. Between polls, the topic's
 * metadata is asked on a schedule: every 0.5 s until the topic exists, then
 * every 10 s for partitions added later.
 */
#include "satisfy/kafka_follow.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/clock.h"

#define META_TIMEOUT_MS 1000
#define WAIT_TOPIC_MS   500   /* until the topic has partitions */
#define RECHECK_MS      10000 /* partitions added later */
#define POLL_MS         200

struct sf_follow {
    sf_follow_opts o;
    char topic[128];
    rd_kafka_t *rk;
    sf_kafka_stats kstats; /* the consumer's callbacks */
    pthread_t thread;
    pthread_mutex_t mu; /* stop, partitions */
    int stop;
    int partitions;
    char last_err[256]; /* thread only: the last error reported */
};

static void logf_(sf_follow *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(sf_follow *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(sf_follow *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_logv(f->o.log, f->o.log_arg, fmt, ap);
    va_end(ap);
}

/* An error: to on_error every time, to the log when it changed. */
static void report(sf_follow *f, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (f->o.on_error)
        f->o.on_error(f->o.arg, why);
    if (strcmp(why, f->last_err) != 0) {
        snprintf(f->last_err, sizeof f->last_err, "%s", why);
        logf_(f, "%s: consumer error: %s", f->topic, why);
    }
}

/* The topic's partition count now; 0 (reported) when unknown. */
static int partition_count(sf_follow *f)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(f->rk, f->topic, NULL);
    if (!rkt)
        return 0;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(f->rk, 0, rkt, &md, META_TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (e) {
        report(f, "metadata: %s", rd_kafka_err2str(e));
        return 0;
    }
    int n = 0;
    if (md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

/* Assigns the partitions found since the last call, all from the
 * beginning; the ones already assigned keep their position. Returns the
 * number assigned now. */
static int assign_new(sf_follow *f, int had)
{
    int n = partition_count(f);
    if (n <= had)
        return had;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, f->topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (had > 0) {
        rd_kafka_topic_partition_list_t *cur = rd_kafka_topic_partition_list_new(had);
        for (int p = 0; p < had; p++)
            rd_kafka_topic_partition_list_add(cur, f->topic, p);
        if (!rd_kafka_position(f->rk, cur))
            for (int p = 0; p < had; p++)
                if (cur->elems[p].offset >= 0)
                    l->elems[p].offset = cur->elems[p].offset;
        rd_kafka_topic_partition_list_destroy(cur);
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(f->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        report(f, "assign: %s", rd_kafka_err2str(e));
        return had;
    }
    pthread_mutex_lock(&f->mu);
    f->partitions = n;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static int stopping(sf_follow *f)
{
    pthread_mutex_lock(&f->mu);
    int stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    return stop;
}

static void *run(void *arg)
{
    sf_follow *f = arg;
    int parts = 0;
    int64_t next_check = 0;
    while (!stopping(f)) {
        int64_t now = sf_mono_ms();
        if (now >= next_check) {
            parts = assign_new(f, parts);
            next_check = now + (parts ? RECHECK_MS : WAIT_TOPIC_MS);
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(f->rk, POLL_MS);
        if (!m)
            continue;
        sf_err fatal;
        if (!m->err)
            f->o.on_message(f->o.arg, m);
        else if (sf_kafka_consumer_fatal(f->rk, m, &fatal) < 0)
            report(f, "%s", fatal.msg); /* the cause; the consumer stays idle */
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            report(f, "%s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

sf_follow *sf_follow_start(const sf_follow_opts *o, sf_err *err)
{
    const char *topic = o->topic ? o->topic : "?";
    if (!o->topic || !o->on_message) {
        sf_errf(err, "%s follower: no topic or no message callback", topic);
        return NULL;
    }
    sf_follow *f = calloc(1, sizeof *f);
    if (!f) {
        sf_errf(err, "%s follower: out of memory", topic);
        return NULL;
    }
    f->o = *o;
    snprintf(f->topic, sizeof f->topic, "%s", o->topic);
    f->o.topic = f->topic;
    sf_kafka_client_opts ko = {.role = o->role,
                               .conn = o->conn,
                               .stats = &f->kstats,
                               .log = o->log,
                               .log_arg = o->log_arg};
    f->rk = sf_kafka_client_new(&ko, err);
    if (!f->rk) {
        free(f);
        sf_err_wrap(err, "%s follower", topic);
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    if (pthread_create(&f->thread, NULL, run, f) != 0) {
        rd_kafka_destroy(f->rk);
        pthread_mutex_destroy(&f->mu);
        free(f);
        sf_errf(err, "%s follower: cannot start its thread", topic);
        return NULL;
    }
    return f;
}

void sf_follow_stop(sf_follow *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    rd_kafka_consumer_close(f->rk);
    rd_kafka_destroy(f->rk);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* The assigned partitions 0..n-1 of the topic, as a list (NULL when none). */
static rd_kafka_topic_partition_list_t *assigned(sf_follow *f, int *n)
{
    *n = sf_follow_partitions(f);
    if (*n <= 0)
        return NULL;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(*n);
    for (int p = 0; p < *n; p++)
        rd_kafka_topic_partition_list_add(l, f->topic, p);
    return l;
}

int sf_follow_watermarks(sf_follow *f, int64_t *hi, int max, int timeout_ms, sf_err *err)
{
    int n;
    rd_kafka_topic_partition_list_t *l = assigned(f, &n);
    rd_kafka_topic_partition_list_destroy(l);
    if (n <= 0)
        return 0;
    if (n > max)
        n = max;
    for (int p = 0; p < n; p++) {
        int64_t lo;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(f->rk, f->topic, p, &lo, &hi[p], timeout_ms);
        if (e)
            return sf_errf(err, "%s [%d]: high watermark: %s", f->topic, p, rd_kafka_err2str(e));
    }
    return n;
}

int64_t sf_follow_behind(sf_follow *f, const int64_t *hi, int n_hi)
{
    int n;
    rd_kafka_topic_partition_list_t *l = assigned(f, &n);
    if (!l)
        return -1;
    int64_t behind = -1;
    if (rd_kafka_position(f->rk, l) == 0) {
        behind = 0;
        for (int p = 0; p < n; p++) {
            int64_t lo, h = -1;
            if (hi && p < n_hi)
                h = hi[p];
            else if (rd_kafka_get_watermark_offsets(f->rk, f->topic, p, &lo, &h) != 0)
                h = -1;
            if (h < 0) {
                behind = -1;
                break;
            }
            /* no position yet: nothing read, so all of it is ahead */
            int64_t pos = l->elems[p].offset >= 0 ? l->elems[p].offset : 0;
            if (h > pos)
                behind += h - pos;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return behind;
}

int sf_follow_partitions(sf_follow *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->partitions;
    pthread_mutex_unlock(&f->mu);
    return n;
}
