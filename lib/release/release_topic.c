/*
 * release_topic.c - publishing model releases to satisfy.models and finding
 * the newest one (see satisfy/release_topic.h).
 */
#include "satisfy/release_topic.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "satisfy/event.h"
#include "satisfy/model.h"
#include "satisfy/clock.h"
#include "satisfy/release_sign.h"
#include "satisfy/serving_state.h"

/* Produces value (signed when sig is not NULL) under key to satisfy.models
 * partition 0 and waits up to timeout_ms for its delivery report; what
 * names it in messages ("release v3"). */
static int produce_wait(rd_kafka_t *prod, sf_kafka_stats *st, const char *key, const sf_buf *value,
                        const uint8_t *sig, int timeout_ms, const char *what, sf_err *err)
{
    uint64_t failed0 = sf_kafka_stats_failed(st), ok0 = sf_kafka_stats_delivered(st);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
    if (sig)
        rd_kafka_header_add(hdrs, SF_RELEASE_SIG_HEADER, -1, sig, SF_RELEASE_SIG_LEN);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        prod, RD_KAFKA_V_TOPIC(SF_TOPIC_MODELS), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(value->data, value->len),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e) {
        rd_kafka_headers_destroy(hdrs); /* owned by the message only on success */
        return sf_errf(err, "%s [0]: produce %s: %s", SF_TOPIC_MODELS, what, rd_kafka_err2str(e));
    }
    if (sf_kafka_drain(prod, timeout_ms) != 0)
        return sf_errf(err, "%s [0]: %s not delivered within %d ms", SF_TOPIC_MODELS, what,
                       timeout_ms);
    if (sf_kafka_stats_failed(st) != failed0 || sf_kafka_stats_delivered(st) == ok0)
        return sf_errf(err, "%s [0]: %s failed: %s", SF_TOPIC_MODELS, what,
                       st->last_failure[0] ? st->last_failure : "no delivery report");
    return 0;
}

int sf_release_publish(rd_kafka_t *prod, sf_kafka_stats *st, const uint8_t *artifact,
                       size_t artifact_len, int64_t version, int64_t released_at, int timeout_ms,
                       const sf_release_key *key, uint32_t *payload_len, char sha256[65],
                       sf_err *err)
{
    sf_model *m = NULL;
    sf_model_release rel;
    sf_buf buf = {0};
    memset(&rel, 0, sizeof rel);
    int rc = -1;
    if (sf_model_load_trusted(artifact, artifact_len, NULL, &m, err) != 0 ||
        sf_model_release_make(m, version, released_at, &rel, err) != 0 ||
        sf_encode_release(&rel, &buf, err) != 0) {
        sf_err_wrap(err, "release v%lld", (long long)version);
        goto done;
    }
    uint8_t sig[SF_RELEASE_SIG_LEN];
    if (key && sf_release_sign(key, version, buf.data, buf.len, sig, err) != 0) {
        sf_err_wrap(err, "release v%lld", (long long)version);
        goto done;
    }
    char kbuf[24], what[40];
    snprintf(kbuf, sizeof kbuf, "%lld", (long long)version);
    snprintf(what, sizeof what, "release v%lld", (long long)version);
    if (produce_wait(prod, st, kbuf, &buf, key ? sig : NULL, timeout_ms, what, err) != 0)
        goto done;
    if (payload_len)
        *payload_len = rel.payload_len;
    if (sha256)
        memcpy(sha256, rel.sha256, 65);
    rc = 0;
done:
    sf_buf_free(&buf);
    sf_model_release_clear(&rel);
    sf_model_free(m);
    return rc;
}

int sf_serving_publish(rd_kafka_t *prod, sf_kafka_stats *st, const sf_serving_state *s,
                       int timeout_ms, const sf_release_key *key, sf_err *err)
{
    sf_buf buf = {0};
    uint8_t sig[SF_RELEASE_SIG_LEN];
    char what[64];
    snprintf(what, sizeof what, "serving state epoch %lld", (long long)s->epoch);
    int rc = sf_encode_serving(s, &buf, err);
    if (rc == 0 && key)
        rc = sf_release_sign(key, SF_SERVING_SIG_VERSION, buf.data, buf.len, sig, err);
    if (rc != 0)
        sf_err_wrap(err, "%s", what);
    else
        rc = produce_wait(prod, st, SF_SERVING_KEY, &buf, key ? sig : NULL, timeout_ms, what, err);
    sf_buf_free(&buf);
    return rc;
}

/* 1 when m is a ServingState by its key. */
int sf_serving_is_message(const rd_kafka_message_t *m)
{
    return m->key && m->key_len == strlen(SF_SERVING_KEY) &&
           memcmp(m->key, SF_SERVING_KEY, m->key_len) == 0;
}

/* Whether a scorer (verifying with key, if any) would load release message m
 * that decoded as rel: -1 with why set if not. */
static int refused(const sf_release_key *key, const rd_kafka_message_t *m,
                   const sf_model_release *rel, sf_err *why)
{
    int64_t signed_v = 0;
    if (key && sf_release_check_message(key, m, &signed_v, why) != 0)
        return -1;
    sf_model *model = NULL;
    if (sf_model_from_release(rel, &model, why) != 0)
        return -1;
    sf_model_free(model);
    return 0;
}

/* Reads satisfy.models partition 0 from its low to its high watermark with
 * a short-lived consumer (no group) and calls fn on each message, in offset
 * order; fn keeps a message by returning 1 (it then owns it, and must have
 * destroyed it when finish, if any, returns: the consumer cannot be closed
 * while a message of it lives). finish is called after the last message,
 * whatever happened. 0, or -1 with err set. */
typedef int (*scan_fn)(void *arg, rd_kafka_message_t *m);

static int scan(const sf_kafka_conn *conn, int timeout_ms, scan_fn fn, void (*finish)(void *),
                void *arg, sf_err *err)
{
    sf_kafka_client_opts ko = {.role = SF_KAFKA_RELEASE_PROBE, .conn = *conn};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, err);
    if (!rk)
        return sf_err_wrap(err, "%s", SF_TOPIC_MODELS);
    int64_t lo = 0, hi = 0, next = 0;
    int rc = -1;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(rk, SF_TOPIC_MODELS, 0, &lo, &hi, timeout_ms);
    if (e) {
        sf_errf(err, "%s [0]: watermarks: %s", SF_TOPIC_MODELS, rd_kafka_err2str(e));
        goto done;
    }
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, SF_TOPIC_MODELS, 0)->offset = lo;
    e = hi > lo ? rd_kafka_assign(rk, tp) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(tp);
    if (e) {
        sf_errf(err, "%s [0]: assign: %s", SF_TOPIC_MODELS, rd_kafka_err2str(e));
        goto done;
    }
    next = lo;
    double until = sf_mono_s() + timeout_ms / 1000.0;
    while (next < hi && sf_mono_s() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err && m->offset >= next) {
            next = m->offset + 1;
            if (fn(arg, m))
                continue;
        }
        rd_kafka_message_destroy(m);
    }
    if (next < hi)
        sf_errf(err, "%s [0]: could not read offsets %" PRId64 "..%" PRId64 " within %d ms",
                SF_TOPIC_MODELS, next, hi - 1, timeout_ms);
    else
        rc = 0;
done:
    if (finish)
        finish(arg);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

struct last_release {
    const sf_release_key *key;
    sf_err *bad;
    rd_kafka_message_t *m; /* the last message that is not a ServingState */
    int64_t version;
};

static int keep_last_release(void *arg, rd_kafka_message_t *m)
{
    struct last_release *lr = arg;
    if (sf_serving_is_message(m))
        return 0;
    if (lr->m)
        rd_kafka_message_destroy(lr->m);
    lr->m = m;
    return 1;
}

/* Judges the kept message as a scorer would, then lets it go. */
static void judge_last_release(void *arg)
{
    struct last_release *lr = arg;
    rd_kafka_message_t *m = lr->m;
    if (!m)
        return;
    sf_model_release rel;
    sf_err why;
    if (sf_decode_release(m->payload, m->len, &rel, &why) == 0) {
        lr->version = rel.version;
        if (refused(lr->key, m, &rel, &why) != 0 && lr->bad)
            sf_errf(lr->bad, "%s [0] @%" PRId64 ": release v%" PRId64 ": %s", SF_TOPIC_MODELS,
                    m->offset, lr->version, why.msg);
        sf_model_release_clear(&rel);
    } else {
        lr->version = 0;
        if (lr->bad)
            sf_errf(lr->bad, "%s [0] @%" PRId64 ": %s", SF_TOPIC_MODELS, m->offset, why.msg);
    }
    rd_kafka_message_destroy(m);
    lr->m = NULL;
}

int64_t sf_release_last_version(const sf_kafka_conn *conn, int timeout_ms,
                                const sf_release_key *key, sf_err *bad, sf_err *err)
{
    if (bad)
        bad->msg[0] = 0;
    struct last_release lr = {.key = key, .bad = bad};
    if (scan(conn, timeout_ms, keep_last_release, judge_last_release, &lr, err) != 0)
        return -1;
    return lr.version;
}

struct serving_scan {
    const sf_release_key *key;
    sf_serving_state *best;
    int found;
};

/* Keeps the highest epoch of the valid (and, with a key, signed) states. */
static int keep_serving(void *arg, rd_kafka_message_t *m)
{
    struct serving_scan *sc = arg;
    sf_serving_state s;
    sf_err why;
    if (!sf_serving_is_message(m) || (sc->key && sf_serving_check_message(sc->key, m, &why)) ||
        sf_decode_serving(m->payload, m->len, &s, &why) != 0)
        return 0;
    if (!sc->found || s.epoch > sc->best->epoch)
        *sc->best = s;
    sc->found = 1;
    return 0;
}

int sf_serving_current(const sf_kafka_conn *conn, int timeout_ms, const sf_release_key *key,
                       sf_serving_state *out, sf_err *err)
{
    memset(out, 0, sizeof *out);
    struct serving_scan sc = {.key = key, .best = out};
    if (scan(conn, timeout_ms, keep_serving, NULL, &sc, err) != 0)
        return -1;
    return sc.found;
}
