/*
 * test_kafka_client.c - consumer and producer handles in one call: the
 * properties they set (group, no auto-commit, later properties win), the
 * delivery counter wiring, a message produced and read back through the mock
 * cluster, and each failure with its message: a bad property, and a
 * configuration rd_kafka_new itself refuses (for both handle types).
 */
#include "testutil.h"

#include <string.h>

#include "satisfy/kafka_client.h"
#include "satisfy/mockbroker.h"

static void conf_is(rd_kafka_t *rk, const char *key, const char *want)
{
    char v[256];
    size_t vlen = sizeof v;
    assert_int_equal(rd_kafka_conf_get(rd_kafka_conf(rk), key, v, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(v, want);
}

static void test_consumer_properties(void **state)
{
    (void)state;
    sf_err err = {{0}};
    const char *props[] = {"enable.partition.eof=true", "client.id=a=b", "log_level=0"};
    rd_kafka_t *rk = sf_kafka_consumer_new("127.0.0.1:1", "tools", props, 3, &err);
    if (!rk)
        fail_msg("%s", err.msg);
    conf_is(rk, "bootstrap.servers", "127.0.0.1:1");
    conf_is(rk, "group.id", "tools");
    conf_is(rk, "enable.auto.commit", "false");
    conf_is(rk, "enable.partition.eof", "true");
    conf_is(rk, "client.id", "a=b");
    rd_kafka_destroy(rk);

    /* no group given: none set; a later property overrides ours */
    const char *on[] = {"enable.auto.commit=true", "log_level=0"};
    rk = sf_kafka_consumer_new("127.0.0.1:1", NULL, on, 2, &err);
    if (!rk)
        fail_msg("%s", err.msg);
    char v[64];
    size_t vlen = sizeof v;
    assert_int_not_equal(rd_kafka_conf_get(rd_kafka_conf(rk), "group.id", v, &vlen),
                         RD_KAFKA_CONF_OK);
    conf_is(rk, "enable.auto.commit", "true");
    rd_kafka_destroy(rk);
}

static void test_errors(void **state)
{
    (void)state;
    sf_err err = {{0}};
    const char *bad[] = {"enable.partition.eof=true", "no.such.property=1"};
    assert_null(sf_kafka_consumer_new("127.0.0.1:1", "g", bad, 2, &err));
    assert_non_null(strstr(err.msg, "-X no.such.property"));
    assert_null(sf_kafka_producer_new("127.0.0.1:1", bad + 1, 1, NULL, &err));
    assert_non_null(strstr(err.msg, "-X no.such.property"));
    assert_null(sf_kafka_consumer_new("127.0.0.1:1", NULL, (const char *[]){"novalue"}, 1, &err));
    assert_non_null(strstr(err.msg, "-X novalue: expected key=value"));

    /* accepted one by one, refused together by rd_kafka_new */
    const char *idem[] = {"enable.idempotence=true", "acks=1"};
    assert_null(sf_kafka_producer_new("127.0.0.1:1", idem, 2, NULL, &err));
    assert_non_null(strstr(err.msg, "cannot create a Kafka producer: "));
    assert_non_null(strstr(err.msg, "acks"));
    const char *fetch[] = {"fetch.max.bytes=1000", "fetch.min.bytes=2000"};
    assert_null(sf_kafka_consumer_new("127.0.0.1:1", "g", fetch, 2, &err));
    assert_non_null(strstr(err.msg, "cannot create a Kafka consumer: "));
    assert_non_null(strstr(err.msg, "fetch."));
}

/* A message produced with the counter installed, then read back by a
 * consumer that assigns the partition itself. */
static void test_round_trip(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_mockbroker *mb = sf_mockbroker_start(1, 1, &err);
    if (!mb)
        fail_msg("%s", err.msg);
    const char *bs = sf_mockbroker_bootstraps(mb);
    sf_kafka_stats st;
    const char *pp[] = {"linger.ms=0"};
    rd_kafka_t *p = sf_kafka_producer_new(bs, pp, 1, &st, &err);
    if (!p)
        fail_msg("%s", err.msg);
    assert_ptr_equal(rd_kafka_opaque(p), &st);
    assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS),
                                       RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE("hello", 5),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(sf_kafka_drain(p, 10000), 0);
    assert_int_equal(sf_kafka_stats_delivered(&st), 1);
    assert_int_equal(sf_kafka_stats_failed(&st), 0);
    rd_kafka_destroy(p);

    rd_kafka_t *c = sf_kafka_consumer_new(bs, "round-trip", NULL, 0, &err);
    if (!c)
        fail_msg("%s", err.msg);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, SF_TOPIC_METRICS, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(c, tp), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(tp);
    int got = 0;
    for (int i = 0; i < 100 && !got; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (m && !m->err) {
            assert_int_equal(m->len, 5);
            assert_memory_equal(m->payload, "hello", 5);
            got = 1;
        }
        if (m)
            rd_kafka_message_destroy(m);
    }
    assert_true(got);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    sf_mockbroker_stop(mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consumer_properties),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
