/*
 * test_kafka_scorer.c - the scorer's Kafka behaviour, in process: the
 * scoring loop (sf_scorer_run) in a thread against librdkafka's mock
 * cluster, fed by the real programs (satisfy-datagen, publish_model and
 * satisfy-producer from SATISFY_BIN_DIR, so the test does not depend on how
 * models are trained).
 *
 * Offsets after each transaction: the mock keeps no transactional offsets
 * (it acknowledges TxnOffsetCommit without storing it), so what the group
 * has committed after a run shows whether the scorer also committed through
 * its consumer. On the embedded broker it must (else a restart there would
 * start over): the committed offsets are the ends of the partitions. On
 * real Kafka it must not (a second, asynchronous commit on another
 * connection that can land after the next transaction's offsets): with the
 * mock taken for Kafka (SF_SCORER_CLUSTER_KAFKA), nothing is committed.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/kafka.h"
#include "satisfy/mockbroker.h"
#include "satisfy/scorer.h"
#include "satisfy/stats.h"

#define PARTITIONS 4

static char *data_dir;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int setup(void **state)
{
    (void)state;
    data_dir = tu_mkdtemp();
    tu_run("satisfy-datagen --orders 300 --seed 5 --out %s >/dev/null 2>&1", data_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(data_dir);
    free(data_dir);
    return 0;
}

typedef struct scorer_run {
    sf_scorer_opts o;
    sf_err err;
    int rc;
} scorer_run;

static void *scorer_thread(void *arg)
{
    scorer_run *r = arg;
    r->rc = sf_scorer_run(&r->o, &r->err);
    return NULL;
}

/* The high watermark of each partition of satisfy.orders, and their sum. */
static int64_t ends(rd_kafka_t *rk, int64_t hi[PARTITIONS])
{
    int64_t total = 0;
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t lo;
        assert_int_equal(
            rd_kafka_query_watermark_offsets(rk, SF_TOPIC_ORDERS, p, &lo, &hi[p], 10000), 0);
        total += hi[p];
    }
    return total;
}

/* A mock cluster with a model and the order events of data_dir; the scorer
 * (cluster as given) scores all of them and stops; then the group's
 * committed offsets of satisfy.orders go to committed[]. */
static void score_all(int cluster, const char *group, int64_t hi[PARTITIONS],
                      int64_t committed[PARTITIONS])
{
    sf_err err = {{0}};
    sf_mockbroker *mb = sf_mockbroker_start(1, PARTITIONS, &err);
    if (!mb)
        fail_msg("%s", err.msg);
    const char *bs = sf_mockbroker_bootstraps(mb);
    tu_run("publish_model --brokers %s --version 1 --data %s --algo ridge >/dev/null 2>&1", bs,
           data_dir);
    tu_run("satisfy-producer --brokers %s --data %s --max-events 600 --no-progress >/dev/null 2>&1",
           bs, data_dir);

    sf_kafka_client_opts co = {
        .role = SF_KAFKA_TOOL_CONSUMER, .conn = {.brokers = bs}, .group = group};
    rd_kafka_t *probe = sf_kafka_client_new(&co, &err);
    assert_non_null(probe);
    int64_t total = ends(probe, hi);
    assert_true(total > 100);

    static volatile sig_atomic_t stop;
    stop = 0;
    sf_stats *st = sf_stats_new();
    scorer_run r = {.o = {.brokers = bs,
                          .group = group,
                          .instance_id = "t",
                          .batch_max = 50,
                          .stats = st,
                          .stop = &stop,
                          .cluster = cluster}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, scorer_thread, &r), 0);
    sf_stats_snapshot snap = {0};
    struct timespec tick = {0, 20 * 1000000};
    for (double until = now_s() + 60; (int64_t)snap.events < total && now_s() < until;) {
        nanosleep(&tick, NULL);
        sf_stats_get(st, &snap);
    }
    stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    if (r.rc != 0)
        fail_msg("scorer: %s", r.err.msg);
    assert_int_equal((int64_t)snap.events, total);

    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(l, SF_TOPIC_ORDERS, p);
    assert_int_equal(rd_kafka_committed(probe, l, 10000), 0);
    for (int p = 0; p < PARTITIONS; p++)
        committed[p] = l->elems[p].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(probe);
    sf_stats_free(st);
    sf_mockbroker_stop(mb);
}

static void test_embedded_commits_through_the_consumer(void **state)
{
    (void)state;
    int64_t hi[PARTITIONS], committed[PARTITIONS];
    score_all(SF_SCORER_CLUSTER_EMBEDDED, "embedded", hi, committed);
    for (int p = 0; p < PARTITIONS; p++)
        assert_int_equal(committed[p], hi[p]);
}

static void test_kafka_commits_only_in_the_transaction(void **state)
{
    (void)state;
    int64_t hi[PARTITIONS], committed[PARTITIONS];
    score_all(SF_SCORER_CLUSTER_KAFKA, "kafka", hi, committed);
    for (int p = 0; p < PARTITIONS; p++)
        if (committed[p] != RD_KAFKA_OFFSET_INVALID)
            fail_msg("partition %d: committed %lld through the consumer (end %lld), want none", p,
                     (long long)committed[p], (long long)hi[p]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_commits_through_the_consumer),
        cmocka_unit_test(test_kafka_commits_only_in_the_transaction),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
