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
 *
 * Shadow scoring: with a ServingState naming a challenger, every event
 * scored gets one challenger prediction on satisfy.shadow (its version in
 * value and header, same key and event id) beside the champion's on
 * satisfy.predictions, and none of either kind on the other topic
 * (consume_predictions --shadow); /metrics has the challenger's version and
 * the shadow count. Twice: a challenger of the champion's feature spec
 * (scored on the champion's rows), exactly-once, and one of another spec
 * (its own rows), at-least-once.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/kafka.h"
#include "satisfy/mockbroker.h"
#include "satisfy/model.h"
#include "satisfy/release_topic.h"
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

/* A mock cluster with model 1 (ridge, trained on data_dir) released. */
static sf_mockbroker *mock_with_model(void)
{
    sf_err err;
    sf_mockbroker *mb = sf_mockbroker_start(1, PARTITIONS, &err);
    if (!mb)
        fail_msg("%s", err.msg);
    tu_run("publish_model --brokers %s --version 1 --data %s --algo ridge >/dev/null 2>&1",
           sf_mockbroker_bootstraps(mb), data_dir);
    return mb;
}

/* Runs the scorer with opts o (instance "t", batches of 50, stats st) in a
 * thread until it has committed total events and, with shadow, as many
 * challenger predictions as predictions (at most 60 s); stops it, checks
 * it ended well and leaves the last counters in *snap. */
static void run_until(sf_scorer_opts *o, sf_stats *st, int64_t total, int shadow,
                      sf_stats_snapshot *snap)
{
    static volatile sig_atomic_t stop;
    stop = 0;
    scorer_run r = {.o = *o};
    r.o.instance_id = "t";
    r.o.batch_max = 50;
    r.o.stats = st;
    r.o.stop = &stop;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, scorer_thread, &r), 0);
    memset(snap, 0, sizeof *snap);
    struct timespec tick = {0, 20 * 1000000};
    for (double until = now_s() + 60; ((int64_t)snap->events < total ||
                                       (shadow && snap->shadow_predictions < snap->predictions)) &&
                                      now_s() < until;) {
        nanosleep(&tick, NULL);
        sf_stats_get(st, snap);
    }
    stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    if (r.rc != 0)
        fail_msg("scorer: %s", r.err.msg);
    sf_stats_get(st, snap);
}

/* A mock cluster with a model and the order events of data_dir; the scorer
 * (cluster as given) scores all of them and stops; then the group's
 * committed offsets of satisfy.orders go to committed[]. */
static void score_all(int cluster, const char *group, int64_t hi[PARTITIONS],
                      int64_t committed[PARTITIONS])
{
    sf_err err = {{0}};
    sf_mockbroker *mb = mock_with_model();
    const char *bs = sf_mockbroker_bootstraps(mb);
    tu_run("satisfy-producer --brokers %s --data %s --max-events 600 --no-progress >/dev/null 2>&1",
           bs, data_dir);

    sf_kafka_client_opts co = {
        .role = SF_KAFKA_TOOL_CONSUMER, .conn = {.brokers = bs}, .group = group};
    rd_kafka_t *probe = sf_kafka_client_new(&co, &err);
    assert_non_null(probe);
    int64_t total = ends(probe, hi);
    assert_true(total > 100);

    sf_stats *st = sf_stats_new();
    sf_scorer_opts o = {.brokers = bs, .group = group, .cluster = cluster};
    sf_stats_snapshot snap;
    run_until(&o, st, total, 0, &snap);
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

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char shadow_log[65536];

static void log_line(void *arg, const char *line)
{
    (void)arg;
    pthread_mutex_lock(&log_mu);
    size_t n = strlen(shadow_log);
    snprintf(shadow_log + n, sizeof shadow_log - n, "%s\n", line);
    pthread_mutex_unlock(&log_mu);
}

/* The number after "name " on a line of file path (-1 when absent). */
static long long value_of(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    long long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ' ')
            v = atoll(line + n + 1);
    fclose(f);
    return v;
}

/* Model 1 (ridge, full spec) the champion and model 2 the challenger: a
 * GBDT of the same spec, or (other_spec) a ridge model of the seed spec;
 * every event scored by both, exactly-once or (alo) at-least-once. */
static void shadow_run(int other_spec, int alo)
{
    sf_err err = {{0}};
    sf_mockbroker *mb = mock_with_model();
    const char *bs = sf_mockbroker_bootstraps(mb);
    sf_kafka_stats pst;
    sf_kafka_client_opts po = {
        .role = SF_KAFKA_RELEASE_PRODUCER, .conn = {.brokers = bs}, .stats = &pst};
    rd_kafka_t *prod = sf_kafka_client_new(&po, &err);
    assert_non_null(prod);
    if (other_spec) {
        sf_examples ex;
        tu_synth_examples(&ex, 400, 0.5);
        sf_model *m = NULL;
        uint8_t *art = NULL;
        size_t alen = 0;
        if (sf_model_train(SF_ALGO_RIDGE, &ex, NULL, NULL, &m, &err) != 0)
            fail_msg("challenger: %s", err.msg);
        sf_model_set_window(m, 1000, 2000);
        if (sf_model_save(m, &art, &alen, &err) != 0 ||
            sf_release_publish(prod, &pst, art, alen, 2, 2000, 10000, NULL, NULL, NULL, &err) != 0)
            fail_msg("challenger: %s", err.msg);
        sf_model_free(m);
        sf_examples_free(&ex);
        free(art);
    } else {
        tu_run("publish_model --brokers %s --version 2 --data %s --algo gbdt >/dev/null 2>&1", bs,
               data_dir);
    }
    sf_serving_state ss = {.epoch = 1, .champion = 1, .challenger = 2, .at = 1500000000000};
    snprintf(ss.cause, sizeof ss.cause, "challenger");
    if (sf_serving_publish(prod, &pst, &ss, 10000, NULL, &err) != 0)
        fail_msg("serving state: %s", err.msg);
    rd_kafka_destroy(prod);
    tu_run("satisfy-producer --brokers %s --data %s --max-events 600 --no-progress >/dev/null 2>&1",
           bs, data_dir);
    sf_kafka_client_opts co = {.role = SF_KAFKA_TOOL_CONSUMER, .conn = {.brokers = bs}};
    rd_kafka_t *probe = sf_kafka_client_new(&co, &err);
    assert_non_null(probe);
    int64_t hi[PARTITIONS];
    int64_t total = ends(probe, hi);
    rd_kafka_destroy(probe);
    assert_true(total > 100);

    shadow_log[0] = '\0';
    sf_stats *st = sf_stats_new();
    sf_scorer_opts o = {.brokers = bs, .log = log_line, .at_least_once = alo};
    sf_stats_snapshot snap;
    run_until(&o, st, total, 1, &snap);
    assert_int_equal((int64_t)snap.events, total);
    assert_int_equal((int64_t)snap.predictions, total);
    assert_int_equal(snap.shadow_predictions, snap.predictions);
    assert_int_equal(snap.shadow_skipped, 0);
    assert_int_equal(snap.challenger_version, 2);
    assert_int_equal(snap.model_version, 1);
    char *prom = sf_stats_prometheus(&snap);
    char want[128];
    snprintf(want, sizeof want, "satisfy_scorer_shadow_predictions_total %lld\n", (long long)total);
    assert_non_null(strstr(prom, "satisfy_scorer_challenger_version 2\n"));
    assert_non_null(strstr(prom, want));
    free(prom);
    assert_non_null(strstr(
        shadow_log, "shadow: scoring with challenger model 2 as well (to satisfy.shadow)\n"));
    assert_true((strstr(shadow_log, "its features are made separately") != NULL) == other_spec);
    assert_non_null(strstr(shadow_log, alo ? "at-least-once: " : "exactly-once: "));
    sf_stats_free(st);

    /* the topics: one of each per event, neither kind on the other topic */
    char *dir = tu_mkdtemp(), out[600];
    snprintf(out, sizeof out, "%s/consume.out", dir);
    tu_run("consume_predictions --brokers %s --idle 1 --shadow %s/shadow.txt >%s 2>/dev/null", bs,
           dir, out);
    assert_int_equal(value_of(out, "predictions"), total);
    assert_int_equal(value_of(out, "duplicates"), 0);
    assert_int_equal(value_of(out, "bad"), 0);
    assert_int_equal(value_of(out, "version 1"), total);
    assert_int_equal(value_of(out, "shadow"), total);
    assert_int_equal(value_of(out, "shadow_unique"), total);
    assert_int_equal(value_of(out, "shadow_bad"), 0);
    assert_int_equal(value_of(out, "shadow_missing"), 0);
    assert_int_equal(value_of(out, "shadow_overlap"), 0);
    assert_int_equal(value_of(out, "shadow_version 2"), total);
    tu_rmtree(dir);
    free(dir);
    sf_mockbroker_stop(mb);
}

static void test_shadow_same_spec(void **state)
{
    (void)state;
    shadow_run(0, 0);
}

static void test_shadow_other_spec(void **state)
{
    (void)state;
    shadow_run(1, 1); /* and at-least-once: the same flush for both */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_commits_through_the_consumer),
        cmocka_unit_test(test_kafka_commits_only_in_the_transaction),
        cmocka_unit_test(test_shadow_same_spec),
        cmocka_unit_test(test_shadow_other_spec),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
