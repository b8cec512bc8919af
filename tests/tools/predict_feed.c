/*
 * predict_feed.c - a stand-in for the scorer in the retrainer tests: loads
 * the newest release on satisfy.models, reads satisfy.orders from the start
 * to its high watermarks and, for every DELIVERED order event, produces the
 * model's prediction (sf_model_score_event, model_version = the release) to
 * satisfy.predictions, key = order_id. Prints "predictions N version V".
 * Lets the online-accuracy path of `satisfy-retrainer run` be tested without
 * depending on satisfy-scorer.
 *
 * usage: predict_feed --brokers LIST [--timeout S]
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
#include "tool_args.h"

static rd_kafka_t *consumer(const char *brokers)
{
    sf_err err;
    const char *props[] = {"enable.partition.eof=true"};
    sf_kafka_client_opts ko = {.role = SF_KAFKA_TOOL_CONSUMER,
                               .conn = {.brokers = brokers, .props = props, .n_props = 1},
                               .group = "predict-feed"};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
    if (!rk)
        fprintf(stderr, "predict_feed: %s\n", err.msg);
    return rk;
}

/* Assigns every partition of topic from its low watermark; returns the
 * number of messages up to the high watermarks, or -1. */
static int64_t assign_all(rd_kafka_t *rk, const char *topic, int n_parts)
{
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(n_parts);
    int64_t total = 0;
    for (int p = 0; p < n_parts; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000))
            return -1;
        rd_kafka_topic_partition_list_add(tp, topic, p)->offset = lo;
        total += hi - lo;
    }
    rd_kafka_assign(rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    return total;
}

static int partitions(rd_kafka_t *rk, const char *topic)
{
    const rd_kafka_metadata_t *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    int n = -1;
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) == 0) {
        if (md->topic_cnt == 1)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    return n;
}

int main(int argc, char **argv)
{
    const char *brokers = NULL;
    double timeout_arg = 120;
    if (tool_brokers_args(argc, argv, "predict_feed --brokers LIST [--timeout S]", &brokers,
                          &timeout_arg) != 0)
        return 2;
    int timeout_s = (int)timeout_arg;
    setenv("OMP_WAIT_POLICY", "passive", 0);
    sf_err err;
    rd_kafka_t *rk = consumer(brokers);
    if (!rk)
        return 1;
    time_t until = time(NULL) + timeout_s;

    /* the newest release (read from the start: ServingState messages, key
     * "serving", may follow it) */
    int64_t lo, hi;
    if (rd_kafka_query_watermark_offsets(rk, SF_TOPIC_MODELS, 0, &lo, &hi, 10000) || hi <= lo) {
        fprintf(stderr, "predict_feed: no release on %s\n", SF_TOPIC_MODELS);
        return 1;
    }
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, SF_TOPIC_MODELS, 0)->offset = lo;
    rd_kafka_assign(rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    sf_model *model = NULL;
    int64_t version = 0, next = lo;
    while (next < hi && time(NULL) < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err && m->offset >= next) {
            next = m->offset + 1;
            if (m->key && m->key_len == 7 && memcmp(m->key, "serving", 7) == 0) {
                rd_kafka_message_destroy(m);
                continue;
            }
            sf_model_release rel;
            sf_model_free(model);
            model = NULL;
            if (sf_decode_release(m->payload, m->len, &rel, &err) != 0 ||
                sf_model_from_release(&rel, &model, &err) != 0) {
                fprintf(stderr, "predict_feed: release @%" PRId64 ": %s\n", m->offset, err.msg);
                return 1;
            }
            version = rel.version;
            sf_model_release_clear(&rel);
        }
        rd_kafka_message_destroy(m);
    }
    if (!model) {
        fprintf(stderr, "predict_feed: could not read the release\n");
        return 1;
    }

    /* a producer for the predictions */
    const char *pprops[] = {"enable.idempotence=true", "linger.ms=20"};
    sf_kafka_stats st;
    sf_kafka_client_opts po = {.role = SF_KAFKA_TOOL_PRODUCER,
                               .conn = {.brokers = brokers, .props = pprops, .n_props = 2},
                               .stats = &st};
    rd_kafka_t *prod = sf_kafka_client_new(&po, &err);
    if (!prod) {
        fprintf(stderr, "predict_feed: %s\n", err.msg);
        return 1;
    }

    int np = partitions(rk, SF_TOPIC_ORDERS);
    int64_t want = np > 0 ? assign_all(rk, SF_TOPIC_ORDERS, np) : -1;
    if (want < 0) {
        fprintf(stderr, "predict_feed: cannot read %s\n", SF_TOPIC_ORDERS);
        return 1;
    }
    int64_t seen = 0, produced = 0;
    sf_buf buf = {0};
    while (seen < want && time(NULL) < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        seen++;
        sf_order_event ev;
        if (sf_decode_order(m->payload, m->len, &ev, &err) == 0) {
            if (ev.stage == SF_STAGE_DELIVERED) {
                sf_prediction p;
                sf_model_score_event(model, &ev, &p);
                p.model_version = version;
                p.scored_at = (int64_t)time(NULL) * 1000;
                if (sf_encode_prediction(&p, &buf, &err) != 0) {
                    fprintf(stderr, "predict_feed: %s\n", err.msg);
                    return 1;
                }
                while (rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(SF_TOPIC_PREDICTIONS),
                                         RD_KAFKA_V_KEY(p.order_id, SF_ID_LEN),
                                         RD_KAFKA_V_VALUE(buf.data, buf.len),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                    rd_kafka_poll(prod, 50);
                produced++;
            }
            sf_order_event_clear(&ev);
        }
        rd_kafka_message_destroy(m);
        rd_kafka_poll(prod, 0);
    }
    int left = sf_kafka_drain(prod, 30000);
    int rc = seen < want || left || sf_kafka_stats_failed(&st) ? 1 : 0;
    if (rc)
        fprintf(stderr,
                "predict_feed: read %" PRId64 " of %" PRId64 ", %d undelivered, %" PRIu64
                " failed\n",
                seen, want, left, sf_kafka_stats_failed(&st));
    printf("predictions %" PRId64 " version %" PRId64 "\n", produced, version);
    sf_buf_free(&buf);
    rd_kafka_destroy(prod);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    sf_model_free(model);
    return rc;
}
