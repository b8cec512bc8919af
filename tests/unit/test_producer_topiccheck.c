/*
 * test_producer_topiccheck.c - satisfy-producer's end-of-run topic check
 * (producer/producer_topiccheck.c) on the mock cluster: the high watermarks
 * read before and after 30 messages add up to 30 per topic; a delivery
 * count above what the topic holds is a shortfall, reported with a loud
 * warning that names the topic, both counts and each partition's growth
 *; a count at or below is "ok" and silent.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "producer_topiccheck.h"
#include "satisfy/kafka.h"
#include "satisfy/mockbroker.h"

static void test_marks_and_shortfall(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_mockbroker *mb = sf_mockbroker_start(1, 3, &err);
    assert_non_null(mb);
    sf_kafka_client_opts po = {.role = SF_KAFKA_TOOL_PRODUCER,
                               .conn = {.brokers = sf_mockbroker_bootstraps(mb)}};
    rd_kafka_t *p = sf_kafka_client_new(&po, &err);
    assert_non_null(p);
    static topic_marks before, after;
    if (topic_marks_read(p, SF_TOPIC_ORDERS, &before, 10000, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(before.n, 3);
    for (int i = 0; i < 30; i++)
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(SF_TOPIC_ORDERS),
                                           RD_KAFKA_V_PARTITION(i % 3), RD_KAFKA_V_VALUE("x", 1),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         0);
    assert_int_equal(sf_kafka_drain(p, 10000), 0);
    if (topic_marks_read(p, SF_TOPIC_ORDERS, &after, 10000, &err) != 0)
        fail_msg("%s", err.msg);

    char *o = NULL, *w = NULL;
    size_t ol = 0, wl = 0;
    FILE *out = open_memstream(&o, &ol), *warn = open_memstream(&w, &wl);
    assert_int_equal(topic_marks_check(&before, &after, 30, out, warn), 0);
    assert_int_equal(topic_marks_check(&before, &after, 29, out, warn), 0);
    fflush(out);
    fflush(warn);
    assert_non_null(strstr(o, "satisfy.orders           30 appended         30 delivered: ok"));
    assert_int_equal(wl, 0);
    /* 5 acknowledged that the topic does not hold */
    assert_int_equal(topic_marks_check(&before, &after, 35, out, warn), 5);
    fclose(out);
    fclose(warn);
    assert_non_null(strstr(o, "35 delivered: SHORTFALL"));
    assert_non_null(strstr(w, "WARNING: satisfy.orders holds 30 new messages but 35 were "
                              "acknowledged as delivered: 5 acknowledged writes are missing"));
    assert_non_null(strstr(w, "[0] +10 [1] +10 [2] +10)"));
    free(o);
    free(w);
    rd_kafka_destroy(p);
    sf_mockbroker_stop(mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marks_and_shortfall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
