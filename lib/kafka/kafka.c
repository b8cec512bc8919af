/*
 * kafka.c - the client factory and the helpers around it (see
 * satisfy/kafka.h): topic names, each role's defaults in one table,
 * -X key=value passed straight through (as kcat does), the log, error and
 * delivery-report callbacks, the bounded reachability check and the
 * embedded-broker test.
 *
 * The defaults are today's values, each explained in docs/operations.md
 * ("Kafka client defaults"); a change to any of them happens here and
 * nowhere else.
 */
#include "satisfy/kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sf_topics[SF_TOPIC_COUNT] = {
    SF_TOPIC_ORDERS,  SF_TOPIC_REVIEWS, SF_TOPIC_PREDICTIONS, SF_TOPIC_MODELS, SF_TOPIC_DLQ,
    SF_TOPIC_METRICS, SF_TOPIC_HISTORY, SF_TOPIC_ALERTS,      SF_TOPIC_SHADOW,
};

/* ------------------------------------------------------------ the roles */

static const char *const scorer_consumer[] = {"enable.auto.commit=false",
                                              "enable.auto.offset.store=false",
                                              "auto.offset.reset=earliest",
                                              "isolation.level=read_committed",
                                              "enable.partition.eof=false",
                                              "queued.max.messages.kbytes=131072",
                                              "queued.min.messages=1000000",
                                              "socket.nagle.disable=true",
                                              "partition.assignment.strategy=cooperative-sticky",
                                              NULL};
static const char *const scorer_producer[] = {"linger.ms=5", "socket.nagle.disable=true", NULL};
/* enable.partition.eof: the retrainer's catch-up rule reads its EOF events
 * (lib/workers/catchup.c) */
static const char *const retrainer_consumer[] = {
    "enable.auto.commit=false",       "auto.offset.reset=earliest",
    "isolation.level=read_committed", "max.poll.interval.ms=1800000",
    "session.timeout.ms=10000",       "heartbeat.interval.ms=2000",
    "enable.partition.eof=true",      NULL};
static const char *const release_producer[] = {"enable.idempotence=true", "linger.ms=5", NULL};
static const char *const release_probe[] = {"group.id=satisfy-release-probe",
                                            "enable.auto.commit=false", NULL};
/* The followers read from the beginning, and a position that falls out of
 * the retained log (a burst of releases past retention) goes on from the
 * earliest kept message: librdkafka's default, latest, skipped every later
 * release. */
static const char *const model_watcher[] = {
    "group.id=satisfy-modelwatch", "enable.auto.commit=false", "enable.partition.eof=false",
    "auto.offset.reset=earliest", NULL};
static const char *const metrics_follower[] = {
    "group.id=satisfy-http-online", "enable.auto.commit=false", "enable.partition.eof=false",
    "auto.offset.reset=earliest", NULL};
static const char *const replay_producer[] = {"enable.idempotence=true",
                                              "linger.ms=20",
                                              "batch.num.messages=10000",
                                              "batch.size=1000000",
                                              "compression.codec=lz4",
                                              "queue.buffering.max.messages=200000",
                                              NULL};
/* The scorer reads the alerts of the partitions it is assigned to their end
 * (the EOF events), committed ones only, outside any group (assign), inside
 * the rebalance: a fetch of an empty partition waits fetch.wait.max.ms before
 * the EOF (librdkafka's 500 ms made reading an empty topic take 1 s on
 * satisfy-broker; 10 ms: 0.02 s). */
static const char *const alerts_reader[] = {"group.id=satisfy-alerts-reader",
                                            "enable.auto.commit=false",
                                            "enable.partition.eof=true",
                                            "auto.offset.reset=earliest",
                                            "isolation.level=read_committed",
                                            "fetch.wait.max.ms=10",
                                            NULL};
static const char *const tool_consumer[] = {"enable.auto.commit=false", NULL};
static const char *const none[] = {NULL};
static const char *const embedded_broker[] = {"log_level=4", "socket.nagle.disable=true", NULL};

/* A scorer that commits through its consumer (at-least-once, and the
 * embedded broker's copy of a transaction's offsets) stores each batch's
 * offsets and lets librdkafka commit them: its committer holds back while
 * the group rebalances (a commit sent behind a pending JoinGroup comes back
 * with an illegal generation, and librdkafka then takes the whole
 * assignment as lost), and commits a partition's offsets when it is
 * revoked and on close. Every 100 ms: measured on satisfy-broker, 20 ms
 * cost the scorer about 1 us more CPU per event on a backlog (5.3 against
 * 4.3-4.7 us at 100-1000 ms), and a kill -9 re-scores a little more (62
 * duplicates in scorer_kill.sh's two kills at 100 ms, 16 at 20 ms; bound
 * 400). */
#define COMMIT_STORED "enable.auto.commit=true", "auto.commit.interval.ms=100"

/* How long a scorer's fetch may wait for data. Kafka answers a fetch as
 * soon as data arrives (fetch.min.bytes=1), so there the wait only paces
 * idle polling. librdkafka's mock cluster (satisfy-broker) holds an empty
 * fetch for the whole wait even when data arrives meanwhile: there the wait
 * is added to the latency of every event that lands during it. */
#define FETCH_WAIT_KAFKA    "fetch.wait.max.ms=100"
#define FETCH_WAIT_EMBEDDED "fetch.wait.max.ms=2"

static const struct role {
    const char *name;
    rd_kafka_type_t type;
    const char *const *defaults;
} roles[SF_KAFKA_ROLE_COUNT] = {
    [SF_KAFKA_SCORER_CONSUMER] = {"scorer consumer", RD_KAFKA_CONSUMER, scorer_consumer},
    [SF_KAFKA_SCORER_PRODUCER] = {"scorer producer", RD_KAFKA_PRODUCER, scorer_producer},
    [SF_KAFKA_RETRAINER_CONSUMER] = {"retrainer consumer", RD_KAFKA_CONSUMER, retrainer_consumer},
    [SF_KAFKA_RELEASE_PRODUCER] = {"release producer", RD_KAFKA_PRODUCER, release_producer},
    [SF_KAFKA_RELEASE_PROBE] = {"release probe", RD_KAFKA_CONSUMER, release_probe},
    [SF_KAFKA_MODEL_WATCHER] = {"model watcher", RD_KAFKA_CONSUMER, model_watcher},
    [SF_KAFKA_METRICS_FOLLOWER] = {"metrics follower", RD_KAFKA_CONSUMER, metrics_follower},
    [SF_KAFKA_REPLAY_PRODUCER] = {"replay producer", RD_KAFKA_PRODUCER, replay_producer},
    [SF_KAFKA_TOOL_CONSUMER] = {"tool consumer", RD_KAFKA_CONSUMER, tool_consumer},
    [SF_KAFKA_TOOL_PRODUCER] = {"tool producer", RD_KAFKA_PRODUCER, none},
    [SF_KAFKA_EMBEDDED_BROKER] = {"embedded broker", RD_KAFKA_PRODUCER, embedded_broker},
    [SF_KAFKA_ALERTS_READER] = {"alerts reader", RD_KAFKA_CONSUMER, alerts_reader},
};

static const struct role *role_of(sf_kafka_role r)
{
    return (unsigned)r < SF_KAFKA_ROLE_COUNT ? &roles[r] : NULL;
}

const char *sf_kafka_role_name(sf_kafka_role role)
{
    const struct role *r = role_of(role);
    return r ? r->name : "unknown role";
}

const char *const *sf_kafka_role_defaults(sf_kafka_role role)
{
    const struct role *r = role_of(role);
    return r ? r->defaults : none;
}

/* ------------------------------------------------------- configuration */

int sf_kafka_conf_set(rd_kafka_conf_t *conf, const char *kv, sf_err *err)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return sf_errf(err, "-X %s: expected key=value", kv);
    char key[256];
    size_t klen = (size_t)(eq - kv);
    if (klen >= sizeof key)
        return sf_errf(err, "-X %.40s...: key too long", kv);
    memcpy(key, kv, klen);
    key[klen] = '\0';
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, eq + 1, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return sf_errf(err, "-X %s: %s", key, errstr);
    return 0;
}

int sf_kafka_props_check(const char *const *props, int n_props, sf_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = 0;
    for (int i = 0; i < n_props && rc == 0; i++)
        rc = sf_kafka_conf_set(conf, props[i], err);
    rd_kafka_conf_destroy(conf);
    return rc;
}

/* One "key=value" the factory sets; it names the role when librdkafka
 * refuses it. */
static int set_kv(rd_kafka_conf_t *conf, const char *role, const char *kv, sf_err *err)
{
    if (sf_kafka_conf_set(conf, kv, err) < 0)
        return sf_err_wrap(err, "%s", role);
    return 0;
}

static int set_pair(rd_kafka_conf_t *conf, const char *role, const char *key, const char *value,
                    sf_err *err)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return sf_errf(err, "%s: %s %s: %s", role, key, value, errstr);
    return 0;
}

/* The role's defaults and what depends on the options: the one place the
 * values of docs/operations.md are set. */
static int apply_defaults(rd_kafka_conf_t *conf, const struct role *r,
                          const sf_kafka_client_opts *o, sf_err *err)
{
    for (const char *const *d = r->defaults; *d; d++)
        if (set_kv(conf, r->name, *d, err) < 0)
            return -1;
    switch (o->role) {
    case SF_KAFKA_SCORER_CONSUMER:
    case SF_KAFKA_RETRAINER_CONSUMER:
        if (o->role == SF_KAFKA_SCORER_CONSUMER) {
            static const char *const stored[] = {COMMIT_STORED};
            for (size_t i = 0; o->commit_stored && i < sizeof stored / sizeof *stored; i++)
                if (set_kv(conf, r->name, stored[i], err) < 0)
                    return -1;
            if (set_kv(conf, r->name, o->embedded ? FETCH_WAIT_EMBEDDED : FETCH_WAIT_KAFKA, err) <
                0)
                return -1;
        }
        if (!o->group || !*o->group)
            return sf_errf(err, "%s: no group.id", r->name);
        return set_pair(conf, r->name, "group.id", o->group, err);
    case SF_KAFKA_SCORER_PRODUCER:
        if (o->transactional_id)
            return set_pair(conf, r->name, "transactional.id", o->transactional_id, err);
        return set_kv(conf, r->name, "enable.idempotence=true", err);
    case SF_KAFKA_TOOL_CONSUMER:
        return o->group ? set_pair(conf, r->name, "group.id", o->group, err) : 0;
    default:
        return 0;
    }
}

/* ----------------------------------------------------------- callbacks */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    sf_kafka_stats *st = opaque;
    uintptr_t slot = (uintptr_t)m->_private;
    if (slot >= SF_DR_SLOTS)
        slot = SF_DR_SLOTS - 1;
    if (m->err) {
        snprintf(st->last_failure, sizeof st->last_failure, "%s [%d]: %s",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "?", (int)m->partition,
                 rd_kafka_err2str(m->err));
        st->failed[slot]++;
    } else {
        st->delivered[slot]++;
        st->delivered_bytes += m->len;
    }
}

static void log_to(const sf_kafka_stats *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void log_to(const sf_kafka_stats *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_logv(st->log, st->log_arg, fmt, ap);
    va_end(ap);
}

static void error_cb(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    (void)rk;
    sf_kafka_stats *st = opaque;
    snprintf(st->last_error, sizeof st->last_error, "%s: %s",
             rd_kafka_err2name((rd_kafka_resp_err_t)e), reason);
    if (e == RD_KAFKA_RESP_ERR__FATAL)
        st->fatal = 1;
    log_to(st, "%s: %s", st->name, st->last_error);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const sf_kafka_stats *st = rk ? rd_kafka_opaque(rk) : NULL;
    if (!st)
        return;
    static const char *const names[] = {"emerg",   "alert",  "crit", "error",
                                        "warning", "notice", "info", "debug"};
    log_to(st, "%s: librdkafka %s %s: %s", st->name, names[level >= 0 && level < 8 ? level : 7],
           fac, buf);
}

static int install_callbacks(rd_kafka_conf_t *conf, const struct role *r,
                             const sf_kafka_client_opts *o, sf_err *err)
{
    sf_kafka_stats *st = o->stats;
    if (!st) {
        if (o->log || o->rebalance || o->dr)
            return sf_errf(err, "%s: a log, rebalance or delivery callback needs stats", r->name);
        return 0;
    }
    memset(st, 0, sizeof *st);
    st->name = r->name;
    st->log = o->log;
    st->log_arg = o->log_arg;
    st->user = o->user;
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    if (o->log)
        rd_kafka_conf_set_log_cb(conf, log_cb);
    if (r->type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, o->dr ? o->dr : dr_cb);
    if (o->rebalance)
        rd_kafka_conf_set_rebalance_cb(conf, o->rebalance);
    return 0;
}

rd_kafka_t *sf_kafka_client_new(const sf_kafka_client_opts *o, sf_err *err)
{
    const struct role *r = role_of(o->role);
    if (!r) {
        sf_errf(err, "kafka client: unknown role %d", (int)o->role);
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const sf_kafka_conn *c = &o->conn;
    if ((c->brokers && set_pair(conf, r->name, "bootstrap.servers", c->brokers, err) < 0) ||
        apply_defaults(conf, r, o, err) < 0)
        goto fail;
    for (int i = 0; i < c->n_props; i++)
        if (set_kv(conf, r->name, c->props[i], err) < 0)
            goto fail;
    if (install_callbacks(conf, r, o, err) < 0)
        goto fail;
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(r->type, conf, errstr, sizeof errstr);
    if (!rk) {
        sf_errf(err, "cannot create the %s: %s", r->name, errstr);
        goto fail; /* rd_kafka_new leaves conf to us on failure */
    }
    if (r->type == RD_KAFKA_CONSUMER)
        rd_kafka_poll_set_consumer(rk); /* callbacks are served by consumer_poll */
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* ---------------------------------------------------------------- checks */

int sf_kafka_check_reachable(rd_kafka_t *rk, const char *brokers, int timeout_ms, sf_err *err)
{
    const struct rd_kafka_metadata *md = NULL;
    /* all_topics = 0 and no topic: only the broker list, the cheapest request. */
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sf_errf(err, "cannot reach brokers %s within %g s (%s)", brokers ? brokers : "?",
                       timeout_ms / 1000.0, rd_kafka_err2str(e));
    int n = md->broker_cnt;
    rd_kafka_metadata_destroy(md);
    if (n <= 0)
        return sf_errf(err, "cannot reach brokers %s within %g s (no broker in metadata)",
                       brokers ? brokers : "?", timeout_ms / 1000.0);
    return 0;
}

int sf_kafka_is_embedded(rd_kafka_t *rk, int timeout_ms)
{
    char *id = rd_kafka_clusterid(rk, timeout_ms);
    int mock = id && strncmp(id, "mockCluster", 11) == 0;
    if (id)
        rd_kafka_mem_free(rk, id);
    return mock;
}

int sf_kafka_consumer_fatal(rd_kafka_t *rk, const rd_kafka_message_t *m, sf_err *err)
{
    if (m->err != RD_KAFKA_RESP_ERR__FATAL)
        return 0;
    char why[512];
    rd_kafka_resp_err_t fe = rd_kafka_fatal_error(rk, why, sizeof why);
    if (!fe) /* cannot happen: a fatal error stays raised */
        return sf_errf(err, "fatal error: %s", rd_kafka_message_errstr(m));
    return sf_errf(err, "fatal error: %s: %s", rd_kafka_err2name(fe), why);
}

/* -------------------------------------------------------------- counters */

uint64_t sf_kafka_stats_delivered(const sf_kafka_stats *st)
{
    uint64_t n = 0;
    for (int i = 0; i < SF_DR_SLOTS; i++)
        n += st->delivered[i];
    return n;
}

uint64_t sf_kafka_stats_failed(const sf_kafka_stats *st)
{
    uint64_t n = 0;
    for (int i = 0; i < SF_DR_SLOTS; i++)
        n += st->failed[i];
    return n;
}

int sf_kafka_drain(rd_kafka_t *rk, int timeout_ms)
{
    rd_kafka_flush(rk, timeout_ms);
    return rd_kafka_outq_len(rk);
}
