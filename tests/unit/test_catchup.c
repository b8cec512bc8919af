/*
 * test_catchup.c - the retrainer's catch-up rule (catchup.h) in-process on
 * the mock cluster, with exact counts: nothing assigned is not caught up;
 * the lag counts down message by message to the high watermark taken when
 * first asked, and new messages after that do not move the target until a
 * reset; a partition is read once the consumer's position or the committed
 * offset it starts from reaches the target; partitions of other topics do
 * not count.
 */
#include "testutil.h"

#include <string.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/catchup.h"
#include "satisfy/kafka.h"
#include "satisfy/mockbroker.h"

static void produce_n(const char *bs, const char *topic, int partition, int n)
{
    sf_err err;
    const char *pp[] = {"linger.ms=0"};
    sf_kafka_client_opts o = {.role = SF_KAFKA_TOOL_PRODUCER,
                              .conn = {.brokers = bs, .props = pp, .n_props = 1}};
    rd_kafka_t *p = sf_kafka_client_new(&o, &err);
    if (!p)
        fail_msg("%s", err.msg);
    for (int i = 0; i < n; i++)
        assert_int_equal(
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_VALUE("x", 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(sf_kafka_drain(p, 10000), 0);
    rd_kafka_destroy(p);
}

/* A consumer with the retrainer's defaults (enable.partition.eof=true among
 * them), which assigns its partitions itself. */
static rd_kafka_t *consumer(const char *bs)
{
    sf_err err;
    sf_kafka_client_opts o = {
        .role = SF_KAFKA_RETRAINER_CONSUMER, .conn = {.brokers = bs}, .group = "catchup-test"};
    rd_kafka_t *c = sf_kafka_client_new(&o, &err);
    if (!c)
        fail_msg("%s", err.msg);
    return c;
}

/* Assigns partitions 0 and 1 of orders and reviews and 0 of predictions at
 * offset `at` (RD_KAFKA_OFFSET_STORED or _BEGINNING). */
static void assign(rd_kafka_t *c, int64_t at)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(5);
    for (int p = 0; p < 2; p++) {
        rd_kafka_topic_partition_list_add(l, SF_TOPIC_ORDERS, p)->offset = at;
        rd_kafka_topic_partition_list_add(l, SF_TOPIC_REVIEWS, p)->offset = at;
    }
    rd_kafka_topic_partition_list_add(l, SF_TOPIC_PREDICTIONS, 0)->offset = at;
    assert_int_equal(rd_kafka_assign(c, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
}

static int check(sf_catchup *k, rd_kafka_t *c, sf_catchup_status *st)
{
    sf_err err;
    int rc = sf_catchup_check(k, c, 5000, st, &err);
    if (rc < 0)
        fail_msg("%s", err.msg);
    return rc;
}

/* Polls one event: 1 a message of satisfy.orders, 0 anything else (an EOF
 * is given to the tracker), -1 none within 5 s. */
static int poll_one(sf_catchup *k, rd_kafka_t *c)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 5000);
    if (!m)
        return -1;
    int rc = !m->err && strcmp(rd_kafka_topic_name(m->rkt), SF_TOPIC_ORDERS) == 0;
    if (m->err)
        sf_catchup_eof(k, m);
    rd_kafka_message_destroy(m);
    return rc;
}

static void test_catchup(void **state)
{
    (void)state;
    sf_err err;
    sf_mockbroker *mb = sf_mockbroker_start(1, 2, &err);
    if (!mb)
        fail_msg("%s", err.msg);
    const char *bs = sf_mockbroker_bootstraps(mb);
    produce_n(bs, SF_TOPIC_ORDERS, 0, 6);
    produce_n(bs, SF_TOPIC_ORDERS, 1, 4);
    produce_n(bs, SF_TOPIC_PREDICTIONS, 0, 50); /* not tracked */

    static const char *const topics[] = {SF_TOPIC_ORDERS, SF_TOPIC_REVIEWS};
    sf_catchup *k = sf_catchup_new(topics, 2);
    assert_non_null(k);
    rd_kafka_t *c = consumer(bs);
    sf_catchup_status st;
    assert_int_equal(check(k, c, &st), 0); /* nothing assigned: not caught up */
    assert_int_equal(st.partitions, 0);

    assign(c, RD_KAFKA_OFFSET_BEGINNING);
    assert_int_equal(check(k, c, &st), 0);
    assert_int_equal(st.partitions, 4);
    assert_int_equal(st.behind, 2);
    assert_int_equal(st.lag, 10);
    produce_n(bs, SF_TOPIC_ORDERS, 0, 3); /* after the targets: not waited for */

    int messages = 0;
    int64_t last = st.lag;
    while (check(k, c, &st) == 0) { /* the lag only shrinks as messages are read */
        assert_true(st.lag <= last && st.lag > 0);
        last = st.lag;
        int got = poll_one(k, c);
        if (got < 0)
            fail_msg("nothing to poll with a lag of %lld", (long long)st.lag);
        messages += got;
    }
    assert_int_equal(st.behind, 0);
    assert_int_equal(st.lag, 0);
    assert_true(messages >= 10 && messages <= 13);

    sf_catchup_reset(k); /* new targets: the 3 later messages, unless read already */
    assert_int_equal(check(k, c, &st), messages == 13);
    assert_int_equal(st.lag, 13 - messages);
    while (messages < 13)
        messages += poll_one(k, c) == 1;
    assert_int_equal(check(k, c, &st), 1);
    assert_int_equal(rd_kafka_commit(c, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(c);

    /* a restarted consumer at its committed offsets, before reading anything
     * (no position, no EOF yet): caught up from where it starts */
    sf_catchup *k2 = sf_catchup_new(topics, 2);
    rd_kafka_t *c2 = consumer(bs);
    assign(c2, RD_KAFKA_OFFSET_STORED);
    assert_int_equal(check(k2, c2, &st), 1);
    assert_int_equal(st.partitions, 4);
    rd_kafka_destroy(c2);
    sf_catchup_free(k2);
    sf_catchup_free(k);
    sf_mockbroker_stop(mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_catchup)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
