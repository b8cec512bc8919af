/*
 * test_kafka.c - the Kafka helpers, the in-process mock broker and the
 * replay loop: -X key=value pass-through and its errors, the bounded
 * reachability check, delivery-report counting (success and failure), the
 * satisfy topics on the mock cluster, and a replay of hand-made orders read
 * back with a consumer (key, timestamp, payload), with pacing, stop and
 * encoding errors.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/codec.h"
#include "satisfy/kafka.h"
#include "satisfy/lifecycle.h"
#include "satisfy/mockbroker.h"
#include "satisfy/replay.h"

#define HOUR 3600000LL
#define DAY  (24 * HOUR)
#define T0   1500000000000LL

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static rd_kafka_t *new_client(sf_kafka_role role, const char *brokers, const char *const *props,
                              int n, sf_kafka_stats *st)
{
    sf_err err = {{0}};
    sf_kafka_client_opts o = {
        .role = role, .conn = {.brokers = brokers, .props = props, .n_props = n}, .stats = st};
    rd_kafka_t *rk = sf_kafka_client_new(&o, &err);
    if (!rk)
        fail_msg("%s", err.msg);
    return rk;
}

static rd_kafka_t *new_producer(const char *brokers, const char *const *props, int n,
                                sf_kafka_stats *st)
{
    return new_client(SF_KAFKA_TOOL_PRODUCER, brokers, props, n, st);
}

static void conf_is(rd_kafka_t *rk, const char *key, const char *want)
{
    char v[256];
    size_t vlen = sizeof v;
    assert_int_equal(rd_kafka_conf_get(rd_kafka_conf(rk), key, v, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(v, want);
}

static void test_conf_set(void **state)
{
    (void)state;
    sf_err err = {{0}};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(sf_kafka_conf_set(conf, "linger.ms=7", &err), 0);
    char v[128];
    size_t vlen = sizeof v;
    assert_int_equal(rd_kafka_conf_get(conf, "linger.ms", v, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "7");
    /* The value may itself contain '='. */
    assert_int_equal(sf_kafka_conf_set(conf, "client.id=a=b", &err), 0);
    vlen = sizeof v;
    assert_int_equal(rd_kafka_conf_get(conf, "client.id", v, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "a=b");

    assert_int_equal(sf_kafka_conf_set(conf, "linger.ms", &err), -1);
    assert_non_null(strstr(err.msg, "-X linger.ms: expected key=value"));
    assert_int_equal(sf_kafka_conf_set(conf, "=5", &err), -1);
    assert_non_null(strstr(err.msg, "expected key=value"));
    assert_int_equal(sf_kafka_conf_set(conf, "no.such.thing=1", &err), -1);
    assert_non_null(strstr(err.msg, "-X no.such.thing: "));
    assert_non_null(strstr(err.msg, "No such configuration property"));
    assert_int_equal(sf_kafka_conf_set(conf, "linger.ms=soon", &err), -1);
    assert_non_null(strstr(err.msg, "-X linger.ms: "));
    rd_kafka_conf_destroy(conf);

    /* Later properties win; bootstrap.servers from --brokers. */
    const char *props[] = {"linger.ms=1", "linger.ms=9", "log_level=0"};
    rd_kafka_t *rk = new_producer("h1:9092,h2:9092", props, 3, NULL);
    conf_is(rk, "linger.ms", "9");
    conf_is(rk, "bootstrap.servers", "h1:9092,h2:9092");
    rd_kafka_destroy(rk);

    const char *bad[] = {"linger.ms=1", "acks"};
    sf_kafka_client_opts o = {.role = SF_KAFKA_TOOL_PRODUCER,
                              .conn = {.brokers = "h1:9092", .props = bad, .n_props = 2}};
    assert_null(sf_kafka_client_new(&o, &err));
    assert_non_null(strstr(err.msg, "tool producer: -X acks: expected key=value"));
    assert_int_equal(sf_kafka_props_check(bad, 1, &err), 0);
    assert_int_equal(sf_kafka_props_check(bad, 2, &err), -1);
    assert_non_null(strstr(err.msg, "-X acks: expected key=value"));

    /* The replay defaults: idempotent, and -X still wins over them. */
    const char *quiet[] = {"log_level=0", "linger.ms=50"};
    rk = new_client(SF_KAFKA_REPLAY_PRODUCER, NULL, quiet, 2, NULL);
    conf_is(rk, "enable.idempotence", "true");
    conf_is(rk, "compression.codec", "lz4");
    conf_is(rk, "linger.ms", "50");
    rd_kafka_destroy(rk);
}

static void test_mockbroker_topics(void **state)
{
    (void)state;
    sf_err err = {{0}};
    assert_null(sf_mockbroker_start(0, 3, &err));
    assert_non_null(strstr(err.msg, "--brokers 0: expected 1..16"));
    assert_null(sf_mockbroker_start(1, 0, &err));
    assert_non_null(strstr(err.msg, "--partitions 0: expected 1..1000"));

    sf_mockbroker *mb = sf_mockbroker_start(2, 3, &err);
    assert_non_null(mb);
    const char *bs = sf_mockbroker_bootstraps(mb);
    assert_non_null(strstr(bs, "127.0.0.1:"));
    assert_non_null(strchr(bs, ',')); /* two brokers */

    rd_kafka_t *rk = new_producer(bs, NULL, 0, NULL);
    assert_int_equal(sf_kafka_check_reachable(rk, bs, 10000, &err), 0);
    assert_int_equal(sf_kafka_is_embedded(rk, 10000), 1);
    const struct rd_kafka_metadata *md = NULL;
    assert_int_equal(rd_kafka_metadata(rk, 1, NULL, &md, 10000), 0);
    int found = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        for (int t = 0; t < SF_TOPIC_COUNT; t++)
            if (strcmp(md->topics[i].topic, sf_topics[t]) == 0) {
                found++;
                int want = strcmp(sf_topics[t], SF_TOPIC_MODELS) == 0 ? 1 : 3;
                assert_int_equal(md->topics[i].partition_cnt, want);
            }
    assert_int_equal(found, SF_TOPIC_COUNT);
    assert_int_equal(md->broker_cnt, 2);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    sf_mockbroker_stop(mb);
}

static void test_unreachable(void **state)
{
    (void)state;
    sf_err err = {{0}};
    const char *quiet[] = {"log_level=0"};
    rd_kafka_t *rk = new_producer("127.0.0.1:1", quiet, 1, NULL);
    double t = now_s();
    assert_int_equal(sf_kafka_check_reachable(rk, "127.0.0.1:1", 500, &err), -1);
    assert_true(now_s() - t < 5.0);
    assert_non_null(strstr(err.msg, "cannot reach brokers 127.0.0.1:1 within 0.5 s"));
    assert_int_equal(sf_kafka_is_embedded(rk, 200), 0); /* no cluster id: not the mock */
    rd_kafka_destroy(rk);
}

static void test_delivery_counter(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_mockbroker *mb = sf_mockbroker_start(1, 2, &err);
    assert_non_null(mb);
    sf_kafka_stats st;
    rd_kafka_t *rk = new_producer(sf_mockbroker_bootstraps(mb), NULL, 0, &st);
    const uintptr_t slots[] = {0, 1, 1, 2, 99};
    for (int i = 0; i < 5; i++)
        assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS),
                                           RD_KAFKA_V_VALUE("abc", 3),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_OPAQUE((void *)slots[i]), RD_KAFKA_V_END),
                         0);
    assert_int_equal(sf_kafka_drain(rk, 10000), 0);
    assert_true(st.delivered[0] == 1 && st.delivered[1] == 2 && st.delivered[2] == 1);
    assert_true(st.delivered[SF_DR_SLOTS - 1] == 1); /* out of range: last slot */
    assert_true(sf_kafka_stats_delivered(&st) == 5 && sf_kafka_stats_failed(&st) == 0);
    assert_true(st.delivered_bytes == 15);
    assert_string_equal(st.last_failure, "");
    rd_kafka_destroy(rk);
    sf_mockbroker_stop(mb);

    /* Nobody listening: the message times out and is counted as failed. */
    const char *props[] = {"message.timeout.ms=300", "log_level=0"};
    rk = new_producer("127.0.0.1:1", props, 2, &st);
    assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(SF_TOPIC_ORDERS),
                                       RD_KAFKA_V_VALUE("x", 1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_OPAQUE((void *)(uintptr_t)3), RD_KAFKA_V_END),
                     0);
    assert_int_equal(sf_kafka_drain(rk, 10000), 0);
    assert_true(st.failed[3] == 1 && sf_kafka_stats_delivered(&st) == 0);
    assert_non_null(strstr(st.last_failure, SF_TOPIC_ORDERS));
    assert_non_null(strstr(st.last_failure, "timed out"));
    rd_kafka_destroy(rk);
}

/* Produces one message to satisfy.metrics [0] after the broker was told to
 * refuse the next Produce with error name e; waits for its report. */
static void produce_refused(sf_mockbroker *mb, rd_kafka_t *rk, const char *e)
{
    char cmd[128], reply[256];
    sf_err err = {{0}};
    snprintf(cmd, sizeof cmd, "errors Produce %s 1", e);
    if (sf_mockbroker_control(mb, cmd, reply, sizeof reply, &err) < 0)
        fail_msg("%s: %s", cmd, err.msg);
    assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS),
                                       RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE("x", 1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    assert_int_equal(sf_kafka_drain(rk, 10000), 0);
}

/* Two delivery failures with different causes: the cause the callers
 * report (after seeing the failure count move) is the current one, not the
 * first one since the start. */
static void test_delivery_failure_is_current(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_mockbroker *mb = sf_mockbroker_start(1, 1, &err);
    assert_non_null(mb);
    sf_kafka_stats st;
    const char *props[] = {"linger.ms=0", "log_level=0"};
    rd_kafka_t *rk = new_producer(sf_mockbroker_bootstraps(mb), props, 2, &st);
    produce_refused(mb, rk, "MSG_SIZE_TOO_LARGE");
    assert_int_equal(sf_kafka_stats_failed(&st), 1);
    if (!strstr(st.last_failure, "too large"))
        fail_msg("first cause: %s", st.last_failure);
    produce_refused(mb, rk, "INVALID_RECORD");
    assert_int_equal(sf_kafka_stats_failed(&st), 2);
    if (!strstr(st.last_failure, "satisfy.metrics [0]: ") ||
        !strstr(st.last_failure, "validate record"))
        fail_msg("the cause reported after the second failure is \"%s\"", st.last_failure);
    rd_kafka_destroy(rk);
    sf_mockbroker_stop(mb);
}

/* A consumer's fatal error is reported with its current cause, from
 * rd_kafka_fatal_error; other consumer errors are not fatal. */
static void test_consumer_fatal(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_mockbroker *mb = sf_mockbroker_start(1, 1, &err);
    assert_non_null(mb);
    const char *props[] = {"group.id=fatal", "log_level=0"};
    rd_kafka_t *rk =
        new_client(SF_KAFKA_TOOL_CONSUMER, sf_mockbroker_bootstraps(mb), props, 2, NULL);
    rd_kafka_message_t other = {.err = RD_KAFKA_RESP_ERR__TRANSPORT};
    assert_int_equal(sf_kafka_consumer_fatal(rk, &other, &err), 0);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, SF_TOPIC_METRICS, 0);
    assert_int_equal(rd_kafka_subscribe(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    assert_int_equal(
        rd_kafka_test_fatal_error(rk, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID, "the test fences it"),
        0);
    int seen = 0;
    for (int i = 0; i < 100 && !seen; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m && m->err == RD_KAFKA_RESP_ERR__FATAL) {
            assert_int_equal(sf_kafka_consumer_fatal(rk, m, &err), -1);
            seen = 1;
        }
        if (m)
            rd_kafka_message_destroy(m);
    }
    assert_true(seen);
    if (!strstr(err.msg, "fatal error: FENCED_INSTANCE_ID: ") ||
        !strstr(err.msg, "the test fences it"))
        fail_msg("%s", err.msg);
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); /* fenced: no leaving */
    sf_mockbroker_stop(mb);
}

/* Hand-made orders the codec accepts: 32-hex ids, required times. */
static void mk_id(sf_id out, int kind, int i)
{
    snprintf(out, sizeof(sf_id), "%02x%030d", kind, i);
}

typedef struct fixture {
    sf_order orders[3];
    sf_review_event revs[1];
    sf_dataset ds;
} fixture;

static void mk_fixture(fixture *f, int64_t span)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < 3; i++) {
        sf_order *o = &f->orders[i];
        mk_id(o->order_id, 1, i);
        mk_id(o->customer_id, 2, i);
        mk_id(o->customer_unique_id, 3, i);
        o->status = SF_STATUS_DELIVERED;
        o->purchase = T0 + i * span / 4;
        o->approved = o->purchase + span / 8;
        o->carrier = SF_TIME_NONE;
        o->delivered = o->purchase + span / 2;
        o->estimated = o->purchase + span;
        o->customer.lat = o->customer.lng = NAN;
    }
    mk_id(f->revs[0].review_id, 4, 0);
    memcpy(f->revs[0].order_id, f->orders[1].order_id, sizeof(sf_id));
    f->revs[0].score = 4;
    f->revs[0].created = f->orders[1].delivered + 1000;
    f->revs[0].answered = f->revs[0].created + HOUR;
    f->orders[1].reviews = f->revs;
    f->orders[1].n_reviews = 1;
    f->ds.orders = f->orders;
    f->ds.n_orders = 3;
}

/* Reads every message of topic (n_parts partitions) until want arrived. The
 * messages must be destroyed before the consumer *rkp (consumer_done). */
static int consume_all(const char *bs, const char *topic, int n_parts, int want,
                       rd_kafka_message_t **out, rd_kafka_t **rkp)
{
    const char *props[] = {"group.id=test-kafka"};
    rd_kafka_t *rk = new_client(SF_KAFKA_TOOL_CONSUMER, bs, props, 1, NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n_parts);
    for (int p = 0; p < n_parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    int got = 0;
    double deadline = now_s() + 20;
    while (got < want && now_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err)
            rd_kafka_message_destroy(m);
        else
            out[got++] = m;
    }
    *rkp = rk;
    return got;
}

static void consumer_done(rd_kafka_t *rk)
{
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void test_replay_roundtrip(void **state)
{
    (void)state;
    sf_err err = {{0}};
    fixture f;
    mk_fixture(&f, 8 * DAY);
    sf_event_ref *ev = NULL;
    size_t n = sf_lifecycle_build(&f.ds, SF_TIME_NONE, SF_TIME_NONE, &ev, &err);
    assert_int_equal(n, 10); /* 3 x (PURCHASED, APPROVED, DELIVERED) + 1 review */

    sf_mockbroker *mb = sf_mockbroker_start(1, 2, &err);
    assert_non_null(mb);
    const char *bs = sf_mockbroker_bootstraps(mb);
    sf_kafka_stats st;
    rd_kafka_t *rk = new_client(SF_KAFKA_REPLAY_PRODUCER, bs, NULL, 0, &st);
    sf_replay_opts ro = {.speed = 0, .stats = &st};
    sf_replay_result res;
    assert_int_equal(sf_replay_run(rk, ev, n, &ro, &res, &err), 0);
    assert_true(res.produced[SF_STAGE_PURCHASED] == 3 && res.produced[SF_STAGE_APPROVED] == 3 &&
                res.produced[SF_STAGE_DELIVERED] == 3 && res.produced[SF_STAGE_SHIPPED] == 0);
    assert_true(res.produced[SF_REPLAY_SLOT_REVIEW] == 1);
    assert_true(res.undelivered == 0 && !res.stopped);
    assert_true(res.first_time == ev[0].time && res.last_time == ev[n - 1].time);
    assert_true(sf_kafka_stats_delivered(&st) == 10 && sf_kafka_stats_failed(&st) == 0);
    assert_true(st.delivered[SF_REPLAY_SLOT_REVIEW] == 1);
    rd_kafka_destroy(rk);

    rd_kafka_message_t *msgs[16];
    rd_kafka_t *cons = NULL;
    int got = consume_all(bs, SF_TOPIC_ORDERS, 2, 9, msgs, &cons);
    assert_int_equal(got, 9);
    for (int i = 0; i < got; i++) {
        sf_order_event oe;
        assert_int_equal(sf_decode_order(msgs[i]->payload, msgs[i]->len, &oe, &err), 0);
        assert_int_equal(msgs[i]->key_len, SF_ID_LEN);
        assert_memory_equal(msgs[i]->key, oe.order_id, SF_ID_LEN);
        assert_true(rd_kafka_message_timestamp(msgs[i], NULL) == oe.event_time);
        rd_kafka_headers_t *h = NULL;
        const void *hv;
        size_t hl;
        assert_int_equal(rd_kafka_message_headers(msgs[i], &h), 0);
        assert_int_equal(rd_kafka_header_get_last(h, "schema", &hv, &hl), 0);
        assert_true(hl == strlen("satisfy.v1.OrderEvent") &&
                    memcmp(hv, "satisfy.v1.OrderEvent", hl) == 0);
        if (oe.stage == SF_STAGE_PURCHASED)
            assert_true(oe.approved == SF_TIME_NONE && oe.delivered == SF_TIME_NONE);
        sf_order_event_clear(&oe);
        rd_kafka_message_destroy(msgs[i]);
    }
    consumer_done(cons);
    got = consume_all(bs, SF_TOPIC_REVIEWS, 2, 1, msgs, &cons);
    assert_int_equal(got, 1);
    sf_review_event re;
    assert_int_equal(sf_decode_review(msgs[0]->payload, msgs[0]->len, &re, &err), 0);
    assert_string_equal(re.review_id, f.revs[0].review_id);
    assert_memory_equal(msgs[0]->key, f.orders[1].order_id, SF_ID_LEN);
    assert_true(rd_kafka_message_timestamp(msgs[0], NULL) == f.revs[0].created);
    sf_review_event_clear(&re);
    rd_kafka_message_destroy(msgs[0]);
    consumer_done(cons);

    free(ev);
    sf_mockbroker_stop(mb);
}

static void test_replay_pacing_stop_errors(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_mockbroker *mb = sf_mockbroker_start(1, 1, &err);
    assert_non_null(mb);
    const char *bs = sf_mockbroker_bootstraps(mb);
    sf_kafka_stats st;
    sf_replay_result res;

    /* 8 days of history at 32 days per second: at least 0.25 s. */
    fixture f;
    mk_fixture(&f, 8 * DAY);
    sf_event_ref *ev = NULL;
    size_t n = sf_lifecycle_build(&f.ds, SF_TIME_NONE, SF_TIME_NONE, &ev, &err);
    rd_kafka_t *rk = new_producer(bs, NULL, 0, &st);
    sf_replay_opts ro = {.speed = 32.0 * 86400};
    double t = now_s();
    assert_int_equal(sf_replay_run(rk, ev, n, &ro, &res, &err), 0);
    int64_t span = ev[n - 1].time - ev[0].time;
    assert_true(now_s() - t >= 0.9 * (double)span / 1000.0 / ro.speed);
    assert_true(sf_kafka_stats_delivered(&st) == n);
    rd_kafka_destroy(rk);
    free(ev);

    /* Years between events at speed 1: gaps are cut to max_sleep_ms. */
    mk_fixture(&f, 800 * DAY);
    n = sf_lifecycle_build(&f.ds, SF_TIME_NONE, SF_TIME_NONE, &ev, &err);
    rk = new_producer(bs, NULL, 0, &st);
    ro = (sf_replay_opts){.speed = 1, .max_sleep_ms = 50};
    t = now_s();
    assert_int_equal(sf_replay_run(rk, ev, n, &ro, &res, &err), 0);
    assert_true(now_s() - t >= 0.9 * 0.05 * (double)(n - 1) / 2); /* it did wait */
    assert_true(now_s() - t < 30);
    assert_true(sf_kafka_stats_delivered(&st) == n);

    /* max_events. */
    ro = (sf_replay_opts){.max_events = 4};
    assert_int_equal(sf_replay_run(rk, ev, n, &ro, &res, &err), 0);
    assert_true(res.produced[SF_STAGE_PURCHASED] + res.produced[SF_STAGE_APPROVED] +
                    res.produced[SF_STAGE_DELIVERED] + res.produced[SF_REPLAY_SLOT_REVIEW] ==
                4);

    /* A stop request before the start: nothing produced, stopped reported. */
    volatile sig_atomic_t stop = 1;
    ro = (sf_replay_opts){.stop = &stop};
    assert_int_equal(sf_replay_run(rk, ev, n, &ro, &res, &err), 0);
    assert_true(res.stopped == 1 && res.produced[SF_STAGE_PURCHASED] == 0);

    /* An order the codec rejects: the error names the event and the order. */
    memcpy(f.orders[0].order_id, "not-hex", 8);
    free(ev);
    n = sf_lifecycle_build(&f.ds, SF_TIME_NONE, SF_TIME_NONE, &ev, &err);
    ro = (sf_replay_opts){.speed = 0};
    assert_int_equal(sf_replay_run(rk, ev, n, &ro, &res, &err), -1);
    assert_non_null(strstr(err.msg, "event 0 (order not-hex)"));
    assert_non_null(strstr(err.msg, "order_id"));

    rd_kafka_destroy(rk);
    free(ev);
    sf_mockbroker_stop(mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_set),
        cmocka_unit_test(test_mockbroker_topics),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_delivery_counter),
        cmocka_unit_test(test_delivery_failure_is_current),
        cmocka_unit_test(test_consumer_fatal),
        cmocka_unit_test(test_replay_roundtrip),
        cmocka_unit_test(test_replay_pacing_stop_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
