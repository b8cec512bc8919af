/*
 * release_list.c - reads satisfy.models from the start to its high watermark
 * and prints one line per release, so the retrainer tests can count and
 * check what was published:
 *
 *   offset version algorithm payload_bytes sha256 train_from train_to
 *
 * ServingState messages (key "serving") are checked to decode and are not
 * printed. Each release must decode (sf_decode_release), carry key = its version as
 * text, and load as a model (sf_model_from_release checks the payload sha256
 * and the feature spec hash). Any violation is printed to stderr with its
 * offset and the exit status is 1.
 *
 * usage: release_list --brokers LIST [--timeout S]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/codec.h"
#include "satisfy/kafka.h"
#include "satisfy/model.h"
#include "satisfy/serving_state.h"
#include "tool_args.h"

int main(int argc, char **argv)
{
    const char *brokers = NULL;
    double timeout_arg = 60;
    if (tool_brokers_args(argc, argv, "release_list --brokers LIST [--timeout S]", &brokers,
                          &timeout_arg) != 0)
        return 2;
    int timeout_s = (int)timeout_arg;
    setenv("OMP_WAIT_POLICY", "passive", 0);
    sf_err err;
    sf_kafka_client_opts ko = {
        .role = SF_KAFKA_TOOL_CONSUMER, .conn = {.brokers = brokers}, .group = "release-list"};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
    if (!rk) {
        fprintf(stderr, "release_list: %s\n", err.msg);
        return 1;
    }
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(rk, SF_TOPIC_MODELS, 0, &lo, &hi, timeout_s * 1000);
    int bad = 0;
    if (e) {
        fprintf(stderr, "release_list: %s\n", rd_kafka_err2str(e));
        bad = 1;
        hi = lo;
    }
    if (hi > lo) {
        rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(tp, SF_TOPIC_MODELS, 0)->offset = lo;
        rd_kafka_assign(rk, tp);
        rd_kafka_topic_partition_list_destroy(tp);
    }
    int64_t next = lo;
    time_t until = time(NULL) + timeout_s;
    while (next < hi && time(NULL) < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "release_list: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        next = m->offset + 1;
        if (m->key && m->key_len == strlen(SF_SERVING_KEY) &&
            memcmp(m->key, SF_SERVING_KEY, m->key_len) == 0) {
            sf_serving_state s;
            if (sf_decode_serving(m->payload, m->len, &s, &err) != 0) {
                fprintf(stderr, "release_list: %s [0] @%" PRId64 ": %s\n", SF_TOPIC_MODELS,
                        m->offset, err.msg);
                bad = 1;
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        sf_model_release rel;
        if (sf_decode_release(m->payload, m->len, &rel, &err) != 0) {
            fprintf(stderr, "release_list: %s [0] @%" PRId64 ": %s\n", SF_TOPIC_MODELS, m->offset,
                    err.msg);
            bad = 1;
            rd_kafka_message_destroy(m);
            continue;
        }
        char key[24];
        int kl = snprintf(key, sizeof key, "%lld", (long long)rel.version);
        if (!m->key || m->key_len != (size_t)kl || memcmp(m->key, key, (size_t)kl) != 0) {
            fprintf(stderr, "release_list: @%" PRId64 ": key '%.*s' is not the version %s\n",
                    m->offset, (int)m->key_len, m->key ? (const char *)m->key : "", key);
            bad = 1;
        }
        sf_model *model = NULL;
        if (sf_model_from_release(&rel, &model, &err) != 0) {
            fprintf(stderr, "release_list: @%" PRId64 ": release v%lld does not load: %s\n",
                    m->offset, (long long)rel.version, err.msg);
            bad = 1;
        }
        sf_model_free(model);
        printf("%" PRId64 " %lld %s %u %s %lld %lld %lld\n", m->offset, (long long)rel.version,
               rel.algorithm, rel.payload_len, rel.sha256, (long long)rel.train_from,
               (long long)rel.train_to, (long long)rel.released_at);
        sf_model_release_clear(&rel);
        rd_kafka_message_destroy(m);
    }
    if (next < hi) {
        fprintf(stderr, "release_list: read up to offset %" PRId64 " of %" PRId64 " in %d s\n",
                next, hi, timeout_s);
        bad = 1;
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return bad;
}
