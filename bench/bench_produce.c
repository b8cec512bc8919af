/*
 * bench_produce.c - the baseline for satisfy-producer's throughput: a plain
 * librdkafka producer sending exactly the messages a replay sends (same
 * count, topics, keys, sizes, timestamps and header), with the same
 * configuration (kafka.h's replay producer role + -X), but encoded beforehand so that the
 * timed loop is nothing but rd_kafka_producev and delivery reports.
 *
 * usage: bench_produce --brokers LIST --data DIR [-X key=value ...]
 * Prints "messages N bytes B elapsed S rate R encode_rate E" on stdout, E
 * being the rate of the untimed encoding pass alone (copies included).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/cli.h"
#include "satisfy/codec.h"
#include "satisfy/kafka.h"
#include "satisfy/lifecycle.h"
#include "satisfy/olist.h"
#include "satisfy/replay.h"

typedef struct msg {
    size_t off, len;
    const char *key;
    int64_t ts;
    int topic;
} msg;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *brokers = NULL, *data = NULL;
    static sf_cli cli = {.prog = "bench_produce"};
    int c, rc;
    static const struct option lopts[] = {{"brokers", required_argument, NULL, 'b'},
                                          {"data", required_argument, NULL, 'd'},
                                          {NULL, 0, NULL, 0}};
    while ((c = getopt_long(argc, argv, "b:d:X:", lopts, NULL)) != -1) {
        if (c == 'b')
            brokers = optarg;
        else if (c == 'd')
            data = optarg;
        else if (c == 'X') {
            if ((rc = sf_cli_prop(&cli, optarg)))
                return rc;
        } else
            return SF_CLI_USAGE;
    }
    if (!brokers || !data) {
        fprintf(stderr, "usage: bench_produce --brokers LIST --data DIR [-X key=value ...]\n");
        return 2;
    }

    /* Untimed: load, build and encode every message once. */
    sf_err err = {{0}};
    sf_dataset ds;
    sf_load_opts lo = {.report = stderr};
    if (sf_dataset_load(&ds, data, &lo, &err) != 0) {
        fprintf(stderr, "bench_produce: %s\n", err.msg);
        return 1;
    }
    sf_event_ref *ev = NULL;
    size_t n = sf_lifecycle_build(&ds, SF_TIME_NONE, SF_TIME_NONE, &ev, &err);
    if (n == (size_t)-1) {
        fprintf(stderr, "bench_produce: %s\n", err.msg);
        return 1;
    }
    msg *msgs = calloc(n ? n : 1, sizeof *msgs);
    sf_buf all = {0}, one = {0};
    double te = now_s();
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (ev[i].kind == SF_EV_ORDER) {
            sf_order_event oe;
            sf_lifecycle_event(ev[i].order, ev[i].stage, &oe);
            rc = sf_encode_order(&oe, &one, &err);
        } else {
            sf_review_event re;
            sf_lifecycle_review(ev[i].order, ev[i].review, &re);
            rc = sf_encode_review(&re, &one, &err);
        }
        if (rc != 0 || sf_buf_reserve(&all, all.len + one.len, &err) != 0) {
            fprintf(stderr, "bench_produce: %s\n", err.msg);
            return 1;
        }
        memcpy(all.data + all.len, one.data, one.len);
        msgs[i] = (msg){.off = all.len,
                        .len = one.len,
                        .key = ev[i].order->order_id,
                        .ts = ev[i].time,
                        .topic = ev[i].kind == SF_EV_ORDER ? 0 : 1};
        all.len += one.len;
    }

    double encode_s = now_s() - te;

    sf_kafka_stats st;
    sf_kafka_client_opts ko = {
        .role = SF_KAFKA_REPLAY_PRODUCER,
        .conn = {.brokers = brokers, .props = cli.props, .n_props = cli.n_props},
        .stats = &st};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
    if (!rk || sf_kafka_check_reachable(rk, brokers, 10000, &err) != 0) {
        fprintf(stderr, "bench_produce: %s\n", err.msg);
        return 1;
    }
    rd_kafka_topic_t *rkt[2] = {rd_kafka_topic_new(rk, SF_TOPIC_ORDERS, NULL),
                                rd_kafka_topic_new(rk, SF_TOPIC_REVIEWS, NULL)};
    static const char *const hdr[2] = {"satisfy.v1.OrderEvent", "satisfy.v1.ReviewEvent"};

    /* Timed: the canonical produce loop of librdkafka's examples/producer.c. */
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        const msg *m = &msgs[i];
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_RKT(rkt[m->topic]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(m->key, strlen(m->key)), RD_KAFKA_V_VALUE(all.data + m->off, m->len),
                RD_KAFKA_V_TIMESTAMP(m->ts), RD_KAFKA_V_HEADER("schema", hdr[m->topic], -1),
                RD_KAFKA_V_OPAQUE((void *)(uintptr_t)m->topic), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "bench_produce: %s\n", rd_kafka_err2str(e));
                return 1;
            }
            rd_kafka_poll(rk, 100);
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    double elapsed = now_s() - t0;
    int left = rd_kafka_outq_len(rk);
    printf("messages %zu bytes %zu elapsed %.3f rate %.0f encode_rate %.0f\n", n, all.len, elapsed,
           elapsed > 0 ? n / elapsed : 0.0, encode_s > 0 ? n / encode_s : 0.0);
    int status = 0;
    if (left || sf_kafka_stats_failed(&st) || sf_kafka_stats_delivered(&st) != n) {
        fprintf(stderr, "bench_produce: %llu failed, %d undelivered (first: %s)\n",
                (unsigned long long)sf_kafka_stats_failed(&st), left, st.last_failure);
        status = 1;
    }
    rd_kafka_topic_destroy(rkt[0]);
    rd_kafka_topic_destroy(rkt[1]);
    rd_kafka_destroy(rk);
    sf_buf_free(&all);
    sf_buf_free(&one);
    free(msgs);
    free(ev);
    sf_dataset_free(&ds);
    return status;
}
