/*
 * kafka.c - topic names, configuration from --brokers and -X key=value, the
 * bounded reachability check (and whether the cluster is the embedded
 * broker) and the delivery-report counter shared by the satisfy workers (see
 * include/satisfy/kafka.h).
 *
 * Properties are passed straight to librdkafka as kcat does; we add nothing
 * of our own so that the librdkafka CONFIGURATION.md is the reference.
 */
#include "satisfy/kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sf_topics[SF_TOPIC_COUNT] = {
    SF_TOPIC_ORDERS, SF_TOPIC_REVIEWS, SF_TOPIC_PREDICTIONS,
    SF_TOPIC_MODELS, SF_TOPIC_DLQ,     SF_TOPIC_METRICS,
};

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

rd_kafka_conf_t *sf_kafka_conf_new(const char *brokers, const char *const *props, int n_props,
                                   sf_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    if (brokers && rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) !=
                       RD_KAFKA_CONF_OK) {
        sf_errf(err, "--brokers %s: %s", brokers, errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (int i = 0; i < n_props; i++)
        if (sf_kafka_conf_set(conf, props[i], err) != 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    return conf;
}

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

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    sf_kafka_stats *st = opaque;
    uintptr_t slot = (uintptr_t)m->_private;
    if (slot >= SF_DR_SLOTS)
        slot = SF_DR_SLOTS - 1;
    if (m->err) {
        if (sf_kafka_stats_failed(st) == 0)
            snprintf(st->first_failure, sizeof st->first_failure, "%s [%d]: %s",
                     m->rkt ? rd_kafka_topic_name(m->rkt) : "?", (int)m->partition,
                     rd_kafka_err2str(m->err));
        st->failed[slot]++;
    } else {
        st->delivered[slot]++;
        st->delivered_bytes += m->len;
    }
}

static void error_cb(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    (void)rk;
    sf_kafka_stats *st = opaque;
    snprintf(st->last_error, sizeof st->last_error, "%s: %s",
             rd_kafka_err2name((rd_kafka_resp_err_t)e), reason);
    if (e == RD_KAFKA_RESP_ERR__FATAL)
        st->fatal = 1;
}

void sf_kafka_conf_stats(rd_kafka_conf_t *conf, sf_kafka_stats *st)
{
    memset(st, 0, sizeof *st);
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
}

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
