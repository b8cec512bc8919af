/*
 * test_scorer_loop.c - the scoring loop (sf_scorer_run, exactly-once mode)
 * in a thread against librdkafka's mock cluster, with faults pushed through
 * the mock's request-error API (sf_mockbroker_control) once the loop has
 * made observed progress (committed events), never after a sleep:
 *   - an abortable error in produce (Produce refused with
 *     TOPIC_AUTHORIZATION_FAILED) and in the commit (TxnOffsetCommit refused
 *     with GROUP_AUTHORIZATION_FAILED): the batch is aborted and rewound,
 *     counted once, and the run ends with every event committed;
 *   - a fenced producer: a second scorer with the same transactional id
 *     fences the first, which ends with -1 and the reason; the second
 *     finishes the stream;
 *   - partitions revoked mid-stream: a second scorer (another instance id)
 *     joins the group; between them every event is committed;
 *   - the broker down while a batch is being committed: it comes back once
 *     the loop logs that it is retrying, and the run completes;
 *   - a refusal that persists (Produce refused six times in a row): the
 *     loop backs off between tries, /metrics counts the batches aborted in
 *     a row while it lasts, and the run completes.
 * Exact counts: the group's committed offsets equal the high watermarks
 * (satisfy-broker mode commits through the consumer too), the committed
 * events of a run equal the events on the topic, and no order event id lacks
 * a prediction (consume_predictions). What the mock cannot show: it has no
 * transactional isolation (aborted batches stay visible), so duplicates on
 * satisfy.predictions are only bounded, by batch_max per aborted batch or
 * rebalance, not zero as on real Kafka.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/clock.h"
#include "satisfy/kafka.h"
#include "satisfy/mockbroker.h"
#include "satisfy/scorer.h"
#include "satisfy/stats.h"

#define PARTITIONS 4
#define BATCH      50

static char *data_dir;

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
    sf_stats *st;
    volatile sig_atomic_t stop;
    pthread_t th;
    sf_err err;
    int rc, done;
    pthread_mutex_t mu;
    /* every line the run logged, librdkafka's included (a broker that is down
     * makes it log a few hundred): large enough that the lines the tests look
     * for are never cut off by earlier ones */
    size_t log_len;
    char log[4 << 20];
} scorer_run;

static void log_line(void *arg, const char *line)
{
    scorer_run *r = arg;
    if (strstr(line, "librdkafka warning COMMITFAIL"))
        return; /* the auto-commit timer during a rebalance: many, and not checked */
    pthread_mutex_lock(&r->mu);
    int w = snprintf(r->log + r->log_len, sizeof r->log - r->log_len, "%s\n", line);
    if (w > 0)
        r->log_len +=
            (size_t)w < sizeof r->log - r->log_len ? (size_t)w : sizeof r->log - r->log_len - 1;
    pthread_mutex_unlock(&r->mu);
}

static void *scorer_thread(void *arg)
{
    scorer_run *r = arg;
    r->rc = sf_scorer_run(&r->o, &r->err);
    r->done = 1;
    return NULL;
}

static scorer_run *start(const char *bs, const char *instance)
{
    scorer_run *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->st = sf_stats_new();
    r->o = (sf_scorer_opts){.brokers = bs,
                            .group = "loop",
                            .instance_id = instance,
                            .batch_max = BATCH,
                            .stats = r->st,
                            .log = log_line,
                            .log_arg = r,
                            .stop = &r->stop,
                            .cluster = SF_SCORER_CLUSTER_EMBEDDED};
    assert_int_equal(pthread_create(&r->th, NULL, scorer_thread, r), 0);
    return r;
}

static uint64_t events(scorer_run *r)
{
    sf_stats_snapshot s;
    sf_stats_get(r->st, &s);
    return s.events;
}

/* Stops and joins r; returns its rc, its snapshot in *snap. */
static int finish(scorer_run *r, sf_stats_snapshot *snap)
{
    r->stop = 1;
    assert_int_equal(pthread_join(r->th, NULL), 0);
    if (getenv("LOOP_LOG"))
        fprintf(stderr, "--- scorer %s:\n%s", r->o.instance_id, r->log);
    sf_stats_get(r->st, snap);
    int rc = r->rc;
    if (rc != 0)
        printf("# scorer %s: %s\n", r->o.instance_id, r->err.msg);
    sf_stats_free(r->st);
    pthread_mutex_destroy(&r->mu);
    free(r);
    return rc;
}

typedef int (*cond_fn)(void *arg);

/* Waits (20 ms ticks, at most secs) until cond holds. */
static int wait_until(cond_fn cond, void *arg, double secs)
{
    struct timespec tick = {0, 20 * 1000000};
    for (int i = 0; i < (int)(secs * 50); i++) {
        if (cond(arg))
            return 1;
        nanosleep(&tick, NULL);
    }
    return cond(arg);
}

typedef struct cluster {
    sf_mockbroker *mb;
    const char *bs;
    rd_kafka_t *probe;
    int64_t hi[PARTITIONS], total; /* messages on satisfy.orders */
    int64_t distinct;              /* distinct order event ids among them */
} cluster;

/* The high watermarks of satisfy.orders into c->hi and c->total. */
static void watermarks(cluster *c)
{
    c->total = 0;
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t lo;
        assert_int_equal(
            rd_kafka_query_watermark_offsets(c->probe, SF_TOPIC_ORDERS, p, &lo, &c->hi[p], 10000),
            0);
        c->total += c->hi[p];
    }
}

/* The same replay once more (the same event ids at new offsets), so that a
 * scorer that caught up has to make another transaction. */
static void replay(cluster *c)
{
    tu_run(
        "satisfy-producer --brokers %s --data %s --max-events 1200 --no-progress >/dev/null 2>&1",
        c->bs, data_dir);
    watermarks(c);
}

static void ctl(cluster *c, const char *line)
{
    char reply[256];
    sf_err err;
    if (sf_mockbroker_control(c->mb, line, reply, sizeof reply, &err) != 0)
        fail_msg("control '%s': %s", line, err.msg);
}

static void cluster_start(cluster *c)
{
    sf_err err;
    c->mb = sf_mockbroker_start(1, PARTITIONS, &err);
    if (!c->mb)
        fail_msg("%s", err.msg);
    c->bs = sf_mockbroker_bootstraps(c->mb);
    tu_run("publish_model --brokers %s --version 1 --data %s --algo ridge >/dev/null 2>&1", c->bs,
           data_dir);
    tu_run(
        "satisfy-producer --brokers %s --data %s --max-events 1200 --no-progress >/dev/null 2>&1",
        c->bs, data_dir);
    sf_kafka_client_opts co = {
        .role = SF_KAFKA_TOOL_CONSUMER, .conn = {.brokers = c->bs}, .group = "loop"};
    c->probe = sf_kafka_client_new(&co, &err);
    assert_non_null(c->probe);
    watermarks(c);
    c->distinct = c->total;
    assert_true(c->total > 8 * BATCH);
    /* 20 ms per request from now on: a batch takes a few round trips, so a
     * stream lasts seconds and a fault pushed at a quarter lands mid-stream
     * also when a loaded machine wakes the test's thread late (seen in CI:
     * the whole stream scored between two looks of wait_until) */
    ctl(c, "rtt 1 20");
}

/* The group's committed offsets must be the high watermarks, and every order
 * event id must have a prediction; returns the duplicates on the topic. */
static long check_end(cluster *c)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(l, SF_TOPIC_ORDERS, p);
    assert_int_equal(rd_kafka_committed(c->probe, l, 10000), 0);
    for (int p = 0; p < PARTITIONS; p++)
        assert_int_equal(l->elems[p].offset, c->hi[p]);
    rd_kafka_topic_partition_list_destroy(l);
    char *dir = tu_mkdtemp();
    tu_run(
        "consume_predictions --brokers %s --orders --idle 1 --timeout 120 >%s/report 2>/dev/null",
        c->bs, dir);
    char path[1100], key[64];
    snprintf(path, sizeof path, "%s/report", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long v, missing = -1, dup = -1, expected = -1, bad = -1;
    while (fscanf(f, "%63s %ld%*[^\n]", key, &v) == 2) {
        if (!strcmp(key, "missing"))
            missing = v;
        else if (!strcmp(key, "duplicates"))
            dup = v;
        else if (!strcmp(key, "expected"))
            expected = v;
        else if (!strcmp(key, "bad"))
            bad = v;
    }
    fclose(f);
    tu_rmtree(dir);
    free(dir);
    assert_int_equal(expected, c->distinct);
    assert_int_equal(missing, 0);
    assert_int_equal(bad, 0);
    return dup;
}

static void cluster_stop(cluster *c)
{
    rd_kafka_destroy(c->probe);
    sf_mockbroker_stop(c->mb);
}

static int assigned(void *arg)
{
    scorer_run *r = arg;
    pthread_mutex_lock(&r->mu);
    int yes = strstr(r->log, "assigned") != NULL;
    pthread_mutex_unlock(&r->mu);
    return yes || r->done;
}

typedef struct progress {
    scorer_run *a, *b;
    uint64_t n;
} progress;

static int reached(void *arg)
{
    progress *p = arg;
    return events(p->a) + (p->b ? events(p->b) : 0) >= p->n || p->a->done;
}

/* The group's committed offsets are the high watermarks: every event is
 * through. (A sum of the two scorers' counts can reach the total earlier:
 * a batch in flight at the revocation is counted by both.) */
static int all_committed(void *arg)
{
    cluster *c = arg;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(l, SF_TOPIC_ORDERS, p);
    int done = rd_kafka_committed(c->probe, l, 10000) == 0;
    for (int p = 0; done && p < PARTITIONS; p++)
        done = l->elems[p].offset == c->hi[p];
    rd_kafka_topic_partition_list_destroy(l);
    return done;
}

/* Starts a scorer and waits until a quarter of the events are committed,
 * with some still to go: what a fault pushed next lands mid-stream. */
static scorer_run *start_quarter(cluster *c, const char *instance)
{
    scorer_run *r = start(c->bs, instance);
    progress p = {.a = r, .n = (uint64_t)c->total / 4};
    assert_true(wait_until(reached, &p, 60));
    assert_true(events(r) < (uint64_t)c->total);
    return r;
}

/* One scorer, one fault pushed after a quarter of the events are committed:
 * exactly `aborts` aborted batches and every event committed once. */
static void one_fault(const char *fault, uint64_t aborts, const char *logged)
{
    cluster c;
    cluster_start(&c);
    scorer_run *r = start_quarter(&c, "a");
    progress p = {.a = r};
    ctl(&c, fault);
    p.n = (uint64_t)c.total;
    assert_true(wait_until(reached, &p, 90));
    assert_true(wait_until(all_committed, &c, 60)); /* committed asynchronously on satisfy-broker */
    int has = strstr(r->log, logged) != NULL;
    sf_stats_snapshot s;
    assert_int_equal(finish(r, &s), 0);
    assert_true(has);
    assert_int_equal(s.events, (uint64_t)c.total);
    /* a failed ProduceRequest can leave a gap in the idempotent sequence
     * that costs a second abort (OUT_OF_ORDER_SEQUENCE_NUMBER, epoch bump) */
    assert_true(s.aborts >= 1 && s.aborts <= aborts);
    long dup = check_end(&c);
    printf("# %s: %llu events, %llu batches, %llu aborted, %ld duplicates\n", fault,
           (unsigned long long)s.events, (unsigned long long)s.batches,
           (unsigned long long)s.aborts, dup);
    assert_true(dup <= (long)(aborts * BATCH));
    cluster_stop(&c);
}

static void test_abortable_produce(void **state)
{
    (void)state;
    one_fault("errors Produce INVALID_RECORD 1", 2, "aborting the transaction and rewinding");
}

static void test_abortable_commit(void **state)
{
    (void)state;
    one_fault("errors TxnOffsetCommit GROUP_AUTHORIZATION_FAILED 1", 1,
              "aborting the transaction and rewinding");
}

static int stalled(void *arg)
{
    scorer_run *r = arg;
    sf_stats_snapshot s;
    sf_stats_get(r->st, &s);
    return s.aborts_in_row >= 3 || r->done;
}

static void test_persistent_refusal(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    scorer_run *r = start_quarter(&c, "a");
    progress p = {.a = r};
    ctl(&c, "errors Produce INVALID_RECORD 6");
    double t0 = sf_mono_s();
    assert_true(wait_until(stalled, r, 60)); /* seen in the gauge while it lasts */
    assert_false(r->done);
    p.n = (uint64_t)c.total;
    assert_true(wait_until(reached, &p, 120));
    assert_true(wait_until(all_committed, &c, 60));
    double took = sf_mono_s() - t0;
    sf_stats_snapshot s;
    assert_int_equal(finish(r, &s), 0);
    printf("# persistent refusal: %llu aborted batches over %.1f s, back-off %.1f s\n",
           (unsigned long long)s.aborts, took, 0.001 * (double)s.backoff_ms);
    assert_int_equal(s.events, (uint64_t)c.total);
    assert_int_equal(s.aborts_in_row, 0); /* progressing again */
    /* Six refused Produce requests make several aborts, not always six (two
     * requests of one transaction cost one abort; 5 and 7 were seen under
     * ASan in CI), and a batch that gets through between them ends a run.
     * The gauge showed at least 3 aborts in a row, so the back-off asked at
     * least 100 + 200 ms, and the run took at least what it asked: retried
     * at once, the same faults passed in 1.9 s (7 aborted batches; with
     * the back-off 8.1 s). A TOPIC_AUTHORIZATION_FAILED refusal, which librdkafka keeps until its
     * next metadata refresh, cost 2,024 aborted batches in 5.5 s without
     * the back-off; it is not the fault here because under ASan and load
     * it once left messages in flight that no abort could flush in 60 s
     * (the mock's and librdkafka's, not the loop's). */
    assert_true(s.aborts >= 3);
    assert_true(s.backoff_ms >= 300);
    assert_true(took >= 0.001 * (double)s.backoff_ms);
    check_end(&c);
    cluster_stop(&c);
}

/* The mock does not fence a second producer with the same transactional id
 * (its InitProducerId bumps no epoch that the first one sees), so the fence
 * is the broker's answer, pushed on EndTxn: the run ends with -1 and the
 * reason, the fenced batch is not counted, and a restart with the same id
 * finishes from the committed offsets. */
static void test_fenced(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    scorer_run *a = start_quarter(&c, "same");
    ctl(&c, "errors EndTxn PRODUCER_FENCED 1");
    progress pa = {.a = a, .n = UINT64_MAX};
    assert_true(wait_until(reached, &pa, 90)); /* a ends by itself */
    int rca = a->rc;
    char why[SF_ERR_MAX];
    snprintf(why, sizeof why, "%s", a->err.msg);
    sf_stats_snapshot sa, sb;
    finish(a, &sa);
    printf("# fenced: %s\n", why);
    assert_int_equal(rca, -1);
    assert_non_null(strstr(why, "fenced"));
    assert_true(sa.events < (uint64_t)c.total);
    scorer_run *b = start(c.bs, "same");
    assert_true(wait_until(all_committed, &c, 90));
    assert_int_equal(finish(b, &sb), 0);
    assert_true(sa.events + sb.events >= (uint64_t)c.total);
    long dup = check_end(&c);
    printf("# fenced: a %llu events, restarted %llu, total %lld, %ld duplicates\n",
           (unsigned long long)sa.events, (unsigned long long)sb.events, (long long)c.total, dup);
    assert_true(dup <= 2 * BATCH);
    cluster_stop(&c);
}

static void test_revoked_mid_stream(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    scorer_run *a = start_quarter(&c, "a");
    scorer_run *b = start(c.bs, "b"); /* joins: a loses some partitions */
    assert_true(wait_until(assigned, b, 60));
    replay(&c);
    assert_true(wait_until(all_committed, &c, 120));
    int revoked = strstr(a->log, "revoked") != NULL;
    sf_stats_snapshot sa, sb;
    assert_int_equal(finish(a, &sa), 0);
    assert_int_equal(finish(b, &sb), 0);
    assert_true(revoked);
    assert_true(sa.events + sb.events >= (uint64_t)c.total);
    long dup = check_end(&c);
    /* the replay sent every id twice; beyond that, at most one batch per
     * partition moved between the two scorers */
    assert_true(dup - (c.total - c.distinct) <= PARTITIONS * BATCH);
    printf("# revoked: a %llu events, b %llu, total %lld, %ld duplicates\n",
           (unsigned long long)sa.events, (unsigned long long)sb.events, (long long)c.total, dup);
    cluster_stop(&c);
}

static int retrying(void *arg)
{
    scorer_run *r = arg;
    pthread_mutex_lock(&r->mu);
    int yes = strstr(r->log, "still trying after") != NULL;
    pthread_mutex_unlock(&r->mu);
    return yes || r->done;
}

/* The only broker goes down mid-stream (the consumer has events
 * prefetched, so the next batch is scored and its commit waits); it comes
 * back once the loop says it is retrying a transactional call. The broker
 * can go down between two batches with nothing left to score (nothing then
 * waits on it): it is brought back after 30 s without a retry and taken
 * down again at the next quarter of the events, three times at most. */
static void test_broker_down_during_commit(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    scorer_run *r = start(c.bs, "a");
    progress p = {.a = r};
    int seen = 0;
    uint64_t during = 0;
    for (int q = 1; q <= 3 && !seen; q++) {
        p.n = (uint64_t)c.total * (uint64_t)q / 4;
        assert_true(wait_until(reached, &p, 120));
        if (events(r) >= (uint64_t)c.total)
            break;
        ctl(&c, "down 1");
        seen = wait_until(retrying, r, 30);
        during = events(r);
        ctl(&c, "up 1");
    }
    assert_true(seen); /* a commit waited on the broker and was retried */
    p.n = (uint64_t)c.total;
    assert_true(wait_until(reached, &p, 120));
    assert_true(wait_until(all_committed, &c, 60)); /* committed asynchronously on satisfy-broker */
    char what[200] = "";
    const char *w = strstr(r->log, "still trying after");
    const char *l = w;
    while (l && l > r->log && l[-1] != '\n')
        l--;
    if (l)
        snprintf(what, sizeof what, "%.*s", (int)(w - l), l);
    sf_stats_snapshot s;
    assert_int_equal(finish(r, &s), 0);
    assert_true(during < (uint64_t)c.total);
    assert_int_equal(s.events, (uint64_t)c.total);
    long dup = check_end(&c);
    printf("# broker down at %llu events; the loop waited in: %s\n# %llu events, %llu aborted, "
           "%ld duplicates\n",
           (unsigned long long)during, what, (unsigned long long)s.events,
           (unsigned long long)s.aborts, dup);
    assert_true(dup <= (long)((s.aborts + 1) * BATCH));
    cluster_stop(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abortable_produce),
        cmocka_unit_test(test_abortable_commit),
        cmocka_unit_test(test_fenced),
        cmocka_unit_test(test_revoked_mid_stream),
        cmocka_unit_test(test_broker_down_during_commit),
        cmocka_unit_test(test_persistent_refusal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
