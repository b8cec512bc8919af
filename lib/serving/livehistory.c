/*
 * livehistory.c - the scorer's live seller and customer history, rebuilt
 * and kept fresh from satisfy.history (see satisfy/livehistory.h).
 *
 * The Kafka side is a topic follower (kafka_follow.h), as the model watcher
 * is; each message is one record applied under the write lock. The scoring
 * loop holds the read lock for a block of 16 events, so a record waits at
 * most one block's feature computation.
 */
#include "satisfy/livehistory.h"

#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/clock.h"
#include "satisfy/kafka_follow.h"

#define MAX_PARTS 256
/* The follower's prefetch: librdkafka's default (64 MB) would be half of a
 * scorer's memory bound while it rebuilds a million customers; 4 MB keeps
 * fetches ahead of the applying thread. History records are ~20 bytes, so
 * the queue is bounded by its message count (queued.min.messages, default
 * 100000), each queued message costing ~350 bytes of librdkafka structures.
 * Measured at a million customers (scale/history.sh; peak RSS while
 * rebuilding / rebuild time): 100000: 124.7 MB / 6.1 s; 75000: 118.8 MB /
 * 8.1 s; 50000: 105.4 MB / 12.1 s; 20000: 98.8 MB / 26 s (librdkafka 2.0
 * backs a full queue off for up to a second, so a small queue runs dry).
 * 75000 keeps 9 MB of margin under 128 MB for 1.3x the rebuild time.
 * -X on the command line still wins. */
#define PREFETCH_PROPS      "queued.max.messages.kbytes=4096", "queued.min.messages=75000"
#define N_PREFETCH          2
#define FETCH_WAIT_EMBEDDED "fetch.wait.max.ms=20" /* livehistory.h: embedded */
#define BAD_LOGGED          20 /* the first malformed records each logged, then every 1000th */
/* Sizing the tables ahead (sf_history_reserve): after RESERVE_SAMPLE
 * records, the share of sellers and customers among them times the topic's
 * offsets (its high watermarks) estimates the final counts; the estimate is
 * capped at RESERVE_MAX customers (the key map's pages of an over-estimate
 * are resident; the record array's untouched ones are not). */
#define RESERVE_SAMPLE 4096
#define RESERVE_MAX    4000000

struct sf_livehist {
    sf_follow *follow;
    pthread_rwlock_t rw; /* hist */
    sf_history *hist;
    pthread_mutex_t mu; /* the counters below */
    uint64_t records, bad;
    int64_t newest_ts;
    int seeded, seed_key32;
    int64_t seed_version;
    int64_t offsets;  /* the topic's high watermarks summed (mu), 0 = unknown */
    uint64_t applied; /* records applied (rw, write side) */
    int reserved;     /* sf_history_reserve done (rw, write side) */
    sf_livehist_opts o;
    char topic[128];
    const char **props; /* PREFETCH_PROP then the user's -X */
};

static void logf_(sf_livehist *lh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(sf_livehist *lh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_logv(lh->o.log, lh->o.log_arg, fmt, ap);
    va_end(ap);
}

/* A seeded format-1 history cannot take records: the first one replaces it
 * with an empty history (under the write lock). */
static void drop_key32_seed(sf_livehist *lh)
{
    sf_history *fresh = sf_history_new();
    if (!fresh)
        return; /* the record is then counted bad, the seed kept */
    sf_history_free(lh->hist);
    lh->hist = fresh;
    lh->seed_key32 = 0;
    logf_(lh,
          "%s: dropping the history snapshot of model %" PRId64
          " (format 1, 32-bit customer keys) for the live records",
          lh->topic, lh->seed_version);
}

/* Once enough records are in, sizes the tables for the whole topic: a
 * doubling of the customers' key map during the rebuild held its old and
 * new slot arrays at once, the scorer's peak (+16 MB at a million). Under
 * the write lock. */
static void reserve_ahead(sf_livehist *lh)
{
    if (lh->reserved || ++lh->applied < RESERVE_SAMPLE)
        return;
    pthread_mutex_lock(&lh->mu);
    int64_t offsets = lh->offsets;
    pthread_mutex_unlock(&lh->mu);
    if (offsets <= 0)
        return;
    lh->reserved = 1;
    double per = (double)offsets / (double)lh->applied * 1.03; /* 3% margin */
    double s = (double)sf_history_sellers(lh->hist) * per;
    double c = (double)sf_history_customers(lh->hist) * per;
    if (c > RESERVE_MAX)
        c = RESERVE_MAX;
    if (s > RESERVE_MAX)
        s = RESERVE_MAX;
    if (sf_history_reserve(lh->hist, (size_t)s, (size_t)c) < 0)
        logf_(lh, "%s: no memory to size the history ahead (%.0f customers); growing instead",
              lh->topic, c);
}

/* One record, on the follower's thread. */
static void handle(void *arg, const rd_kafka_message_t *m)
{
    sf_livehist *lh = arg;
    sf_err err;
    err.msg[0] = '\0';
    pthread_rwlock_wrlock(&lh->rw);
    if (lh->seed_key32)
        drop_key32_seed(lh);
    int rc = sf_history_apply(lh->hist, m->key, m->key ? m->key_len : 0, m->payload,
                              m->payload ? m->len : 0, &err);
    reserve_ahead(lh);
    pthread_rwlock_unlock(&lh->rw);
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    pthread_mutex_lock(&lh->mu);
    uint64_t bad = lh->bad;
    if (rc == 0) {
        lh->records++;
        if (ts > lh->newest_ts)
            lh->newest_ts = ts;
    } else {
        bad = ++lh->bad;
    }
    pthread_mutex_unlock(&lh->mu);
    if (rc != 0 && (bad <= BAD_LOGGED || bad % 1000 == 0))
        logf_(lh, "%s [%d] @%" PRId64 ": bad history record skipped (%" PRIu64 " so far): %s",
              lh->topic, (int)m->partition, m->offset, bad, err.msg);
}

sf_livehist *sf_livehist_start(const sf_kafka_conn *conn, const sf_livehist_opts *opts, sf_err *err)
{
    sf_livehist *lh = calloc(1, sizeof *lh);
    const char **props =
        conn ? calloc((size_t)conn->n_props + N_PREFETCH + 1, sizeof *props) : NULL;
    if (!lh || !props || !(lh->hist = sf_history_new())) {
        if (lh)
            sf_history_free(lh->hist);
        free(lh);
        free(props);
        sf_errf(err, "history follower: out of memory");
        return NULL;
    }
    if (opts)
        lh->o = *opts;
    snprintf(lh->topic, sizeof lh->topic, "%s", lh->o.topic ? lh->o.topic : SF_TOPIC_HISTORY);
    lh->newest_ts = -1;
    static const char *const prefetch[N_PREFETCH] = {PREFETCH_PROPS};
    int np = 0;
    for (int i = 0; i < N_PREFETCH; i++)
        props[np++] = prefetch[i];
    if (lh->o.embedded)
        props[np++] = FETCH_WAIT_EMBEDDED;
    for (int i = 0; i < conn->n_props; i++)
        props[np++] = conn->props[i];
    lh->props = props;
    pthread_rwlock_init(&lh->rw, NULL);
    pthread_mutex_init(&lh->mu, NULL);
    sf_follow_opts fo = {.role = SF_KAFKA_MODEL_WATCHER, /* a follower's defaults */
                         .conn = {.brokers = conn->brokers, .props = props, .n_props = np},
                         .topic = lh->topic,
                         .on_message = handle,
                         .arg = lh,
                         .log = lh->o.log,
                         .log_arg = lh->o.log_arg};
    if (!(lh->follow = sf_follow_start(&fo, err))) {
        sf_err_wrap(err, "history follower");
        sf_livehist_stop(lh);
        return NULL;
    }
    return lh;
}

void sf_livehist_stop(sf_livehist *lh)
{
    if (!lh)
        return;
    sf_follow_stop(lh->follow);
    sf_history_free(lh->hist);
    pthread_rwlock_destroy(&lh->rw);
    pthread_mutex_destroy(&lh->mu);
    free(lh->props);
    free(lh);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int sf_livehist_wait(sf_livehist *lh, double seconds, const volatile sig_atomic_t *stop)
{
    double t0 = sf_mono_s(), end = t0 + seconds;
    int64_t hi[MAX_PARTS];
    int n = 0;
    int64_t behind = -1;
    sf_err err = {{0}};
    err.msg[0] = '\0';
    while (!(stop && *stop) && sf_mono_s() < end) {
        if (n <= 0) { /* the topic's partitions, then their watermarks, once */
            if (sf_follow_partitions(lh->follow) > 0)
                n = sf_follow_watermarks(lh->follow, hi, MAX_PARTS, 2000, &err);
            if (n <= 0) {
                nap_ms(50);
                continue;
            }
        }
        int64_t total = 0;
        for (int p = 0; p < n; p++)
            total += hi[p];
        pthread_mutex_lock(&lh->mu);
        lh->offsets = total;
        pthread_mutex_unlock(&lh->mu);
        if (total == 0 || (behind = sf_follow_behind(lh->follow, hi, n)) == 0) {
            sf_livehist_counts c;
            sf_livehist_get(lh, &c);
            logf_(lh,
                  "%s: history rebuilt in %.2f s: %" PRIu64 " records (%" PRIu64 " bad), %" PRIu64
                  " sellers, %" PRIu64 " customers, %d partition(s)",
                  lh->topic, sf_mono_s() - t0, c.records, c.bad, c.sellers, c.customers, n);
#ifdef __GLIBC__
            /* the fetched messages of the rebuild are freed but their pages
             * stay in the arenas: 150 -> 129 MB at a million customers */
            malloc_trim(0);
#endif
            sf_livehist_publish(lh);
            return 1;
        }
        nap_ms(20);
    }
    sf_livehist_counts c;
    sf_livehist_get(lh, &c);
    logf_(lh,
          "WARNING: %s: history not caught up after %.1f s (%s%s; %" PRId64
          " messages behind): scoring with %" PRIu64 " records applied so far, %" PRIu64
          " customers; the rest is applied as it arrives",
          lh->topic, sf_mono_s() - t0, n > 0 ? "read to the watermarks of start" : "no partitions",
          err.msg[0] ? err.msg : "", behind, c.records, c.customers);
    sf_livehist_publish(lh);
    return 0;
}

const sf_history *sf_livehist_lock(sf_livehist *lh)
{
    pthread_rwlock_rdlock(&lh->rw);
    return lh->hist;
}

void sf_livehist_unlock(sf_livehist *lh)
{
    pthread_rwlock_unlock(&lh->rw);
}

int sf_livehist_seed(sf_livehist *lh, const sf_history *snapshot, int64_t version, sf_err *err)
{
    uint8_t *buf;
    size_t len;
    if (sf_history_save(snapshot, &buf, &len, err) < 0)
        return sf_err_wrap(err, "seeding the history from model %" PRId64, version);
    sf_history *copy = sf_history_load(buf, len, err);
    free(buf);
    if (!copy)
        return sf_err_wrap(err, "seeding the history from model %" PRId64, version);
    /* format 1 refuses records: a tombstone of an unseen order is otherwise a no-op */
    uint8_t probe[SF_HISTORY_KEY_LEN] = {SF_HISTORY_ORDER};
    sf_err perr;
    int key32 = sf_history_apply(copy, probe, sizeof probe, NULL, 0, &perr) != 0;
    pthread_rwlock_wrlock(&lh->rw);
    pthread_mutex_lock(&lh->mu);
    uint64_t records = lh->records;
    int seeded = records == 0;
    if (seeded) {
        lh->seeded = 1;
        lh->seed_key32 = key32;
        lh->seed_version = version;
    }
    pthread_mutex_unlock(&lh->mu);
    if (seeded) {
        sf_history *old = lh->hist;
        lh->hist = copy;
        copy = old;
    }
    pthread_rwlock_unlock(&lh->rw);
    sf_history_free(copy);
    if (seeded)
        logf_(lh,
              "%s holds no record yet: the history is seeded from model %" PRId64
              "'s snapshot (%zu sellers, %zu customers); live records override it",
              lh->topic, version, sf_history_sellers(snapshot), sf_history_customers(snapshot));
    else
        logf_(lh,
              "model %" PRId64 "'s history snapshot is not used: %" PRIu64
              " live records from %s are applied",
              version, records, lh->topic);
    sf_livehist_publish(lh);
    return seeded;
}

void sf_livehist_get(sf_livehist *lh, sf_livehist_counts *out)
{
    pthread_rwlock_rdlock(&lh->rw);
    out->sellers = sf_history_sellers(lh->hist);
    out->customers = sf_history_customers(lh->hist);
    pthread_rwlock_unlock(&lh->rw);
    pthread_mutex_lock(&lh->mu);
    out->records = lh->records;
    out->bad = lh->bad;
    out->newest_ts_ms = lh->newest_ts;
    out->seeded = lh->seeded;
    pthread_mutex_unlock(&lh->mu);
    out->behind = sf_follow_behind(lh->follow, NULL, 0);
}

void sf_livehist_publish(sf_livehist *lh)
{
    if (!lh->o.stats)
        return;
    sf_livehist_counts c;
    sf_livehist_get(lh, &c);
    sf_stats_history h = {.records = c.records,
                          .bad = c.bad,
                          .sellers = c.sellers,
                          .customers = c.customers,
                          .behind = c.behind,
                          .newest_ts_ms = c.newest_ts_ms};
    sf_stats_set_history(lh->o.stats, &h);
}
