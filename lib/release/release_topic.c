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
    char kbuf[24];
    int klen = snprintf(kbuf, sizeof kbuf, "%lld", (long long)version);
    uint64_t failed0 = sf_kafka_stats_failed(st), ok0 = sf_kafka_stats_delivered(st);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
    if (key)
        rd_kafka_header_add(hdrs, SF_RELEASE_SIG_HEADER, -1, sig, sizeof sig);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        prod, RD_KAFKA_V_TOPIC(SF_TOPIC_MODELS), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(kbuf, (size_t)klen), RD_KAFKA_V_VALUE(buf.data, buf.len),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e)
        rd_kafka_headers_destroy(hdrs); /* owned by the message only on success */
    if (e) {
        sf_errf(err, "%s [0]: produce release v%lld: %s", SF_TOPIC_MODELS, (long long)version,
                rd_kafka_err2str(e));
        goto done;
    }
    if (sf_kafka_drain(prod, timeout_ms) != 0) {
        sf_errf(err, "%s [0]: release v%lld not delivered within %d ms", SF_TOPIC_MODELS,
                (long long)version, timeout_ms);
        goto done;
    }
    if (sf_kafka_stats_failed(st) != failed0 || sf_kafka_stats_delivered(st) == ok0) {
        sf_errf(err, "%s [0]: release v%lld failed: %s", SF_TOPIC_MODELS, (long long)version,
                st->last_failure[0] ? st->last_failure : "no delivery report");
        goto done;
    }
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

int64_t sf_release_last_version(const sf_kafka_conn *conn, int timeout_ms,
                                const sf_release_key *key, sf_err *bad, sf_err *err)
{
    if (bad)
        bad->msg[0] = 0;
    sf_kafka_client_opts ko = {.role = SF_KAFKA_RELEASE_PROBE, .conn = *conn};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, err);
    if (!rk)
        return sf_err_wrap(err, "%s", SF_TOPIC_MODELS);
    int64_t lo = 0, hi = 0, version = -1;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(rk, SF_TOPIC_MODELS, 0, &lo, &hi, timeout_ms);
    if (e) {
        sf_errf(err, "%s [0]: watermarks: %s", SF_TOPIC_MODELS, rd_kafka_err2str(e));
        goto done;
    }
    if (hi <= lo) {
        version = 0;
        goto done;
    }
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, SF_TOPIC_MODELS, 0)->offset = hi - 1;
    e = rd_kafka_assign(rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    if (e) {
        sf_errf(err, "%s [0]: assign: %s", SF_TOPIC_MODELS, rd_kafka_err2str(e));
        goto done;
    }
    double until = sf_mono_s() + timeout_ms / 1000.0;
    while (version < 0 && sf_mono_s() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err && m->offset == hi - 1) {
            sf_model_release rel;
            sf_err why;
            if (sf_decode_release(m->payload, m->len, &rel, &why) == 0) {
                version = rel.version;
                if (refused(key, m, &rel, &why) != 0 && bad)
                    sf_errf(bad, "%s [0] @%" PRId64 ": release v%" PRId64 ": %s", SF_TOPIC_MODELS,
                            m->offset, version, why.msg);
                sf_model_release_clear(&rel);
            } else {
                version = 0;
                if (bad)
                    sf_errf(bad, "%s [0] @%" PRId64 ": %s", SF_TOPIC_MODELS, m->offset, why.msg);
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (version < 0)
        sf_errf(err, "%s [0]: could not read offset %" PRId64 " within %d ms", SF_TOPIC_MODELS,
                hi - 1, timeout_ms);
done:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return version;
}
