/*
 * test_kafka_follow.c - the topic follower (kafka_follow.h) on the mock
 * cluster: every message of every partition, those produced before the
 * start and after, reaches the callback exactly once; the partition count
 * is reported; a stop is prompt. Against nobody: the failure reaches
 * on_error each time and the log once per distinct error, and the client's
 * error callback is served (its main queue is polled through the consumer
 * queue), so its errors reach the log with the role's name. A follower
 * whose position fell out of the retained log (the mock cluster keeps 5 MiB
 * per partition) goes on from the earliest kept message, not from the end
 * (librdkafka's default auto.offset.reset=latest made
 * the model watchers skip every release after a burst).
 */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/kafka_follow.h"
#include "satisfy/mockbroker.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct seen {
    pthread_mutex_t mu;
    int n;
    int per_value[64]; /* times the message with value "<i>" arrived */
    int errors, error_lines, client_error_lines;
} seen;

static void on_message(void *arg, const rd_kafka_message_t *m)
{
    seen *s = arg;
    char v[16];
    snprintf(v, sizeof v, "%.*s", (int)(m->len < 15 ? m->len : 15), (const char *)m->payload);
    int i = atoi(v);
    pthread_mutex_lock(&s->mu);
    s->n++;
    if (i >= 0 && i < 64)
        s->per_value[i]++;
    pthread_mutex_unlock(&s->mu);
}

static void on_error(void *arg, const char *why)
{
    (void)why;
    seen *s = arg;
    pthread_mutex_lock(&s->mu);
    s->errors++;
    pthread_mutex_unlock(&s->mu);
}

static void on_log(void *arg, const char *line)
{
    seen *s = arg;
    pthread_mutex_lock(&s->mu);
    if (strstr(line, "satisfy.metrics: consumer error: "))
        s->error_lines++;
    if (strncmp(line, "metrics follower: _", 19) == 0)
        s->client_error_lines++;
    pthread_mutex_unlock(&s->mu);
}

static int count(seen *s, const int *field)
{
    pthread_mutex_lock(&s->mu);
    int n = *field;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Waits (bounded) until *field reaches want; returns its value. */
static int wait_count(seen *s, const int *field, int want, double secs)
{
    double until = now_s() + secs;
    struct timespec tick = {0, 10 * 1000000};
    while (count(s, field) < want && now_s() < until)
        nanosleep(&tick, NULL);
    return count(s, field);
}

static void produce(rd_kafka_t *p, int from, int to)
{
    for (int i = from; i < to; i++) {
        char v[16];
        int len = snprintf(v, sizeof v, "%d", i);
        assert_int_equal(
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS), RD_KAFKA_V_PARTITION(i % 3),
                              RD_KAFKA_V_VALUE(v, (size_t)len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            0);
    }
    assert_int_equal(sf_kafka_drain(p, 10000), 0);
}

static void test_follows_every_partition(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_mockbroker *mb = sf_mockbroker_start(1, 3, &err);
    assert_non_null(mb);
    const char *bs = sf_mockbroker_bootstraps(mb);
    sf_kafka_client_opts po = {.role = SF_KAFKA_TOOL_PRODUCER, .conn = {.brokers = bs}};
    rd_kafka_t *p = sf_kafka_client_new(&po, &err);
    assert_non_null(p);
    produce(p, 0, 30); /* before the follower starts */

    seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    sf_follow_opts fo = {.role = SF_KAFKA_METRICS_FOLLOWER,
                         .conn = {.brokers = bs},
                         .topic = SF_TOPIC_METRICS,
                         .on_message = on_message,
                         .on_error = on_error,
                         .arg = &s};
    sf_follow *f = sf_follow_start(&fo, &err);
    if (!f)
        fail_msg("%s", err.msg);
    assert_int_equal(wait_count(&s, &s.n, 30, 20), 30);
    produce(p, 30, 60); /* while it follows */
    assert_int_equal(wait_count(&s, &s.n, 60, 20), 60);
    for (int i = 0; i < 60; i++)
        assert_int_equal(s.per_value[i], 1);
    assert_int_equal(sf_follow_partitions(f), 3);
    assert_int_equal(count(&s, &s.errors), 0);
    double t = now_s();
    sf_follow_stop(f);
    assert_true(now_s() - t < 2.0);
    rd_kafka_destroy(p);
    sf_mockbroker_stop(mb);
}

static void test_nobody_listening(void **state)
{
    (void)state;
    sf_err err = {{0}};
    seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const char *props[] = {"reconnect.backoff.ms=10", "reconnect.backoff.max.ms=50", "log_level=0"};
    sf_follow_opts fo = {.role = SF_KAFKA_METRICS_FOLLOWER,
                         .conn = {.brokers = "127.0.0.1:1", .props = props, .n_props = 3},
                         .topic = SF_TOPIC_METRICS,
                         .on_message = on_message,
                         .on_error = on_error,
                         .arg = &s,
                         .log = on_log,
                         .log_arg = &s};
    sf_follow *f = sf_follow_start(&fo, &err);
    if (!f)
        fail_msg("%s", err.msg);
    assert_true(wait_count(&s, &s.errors, 3, 20) >= 3); /* each metadata timeout */
    assert_int_equal(count(&s, &s.error_lines), 1);     /* the same error is logged once */
    /* the client's error callback ran */
    assert_true(wait_count(&s, &s.client_error_lines, 1, 20) >= 1);
    assert_int_equal(sf_follow_partitions(f), 0);
    sf_follow_stop(f);
    sf_follow_stop(NULL);

    fo.on_message = NULL;
    assert_null(sf_follow_start(&fo, &err));
    assert_non_null(strstr(err.msg, "satisfy.metrics follower: no topic or no message callback"));
}

/* ------------------------------------------ position out of range */

#define BIG_N   12 /* messages of BIG_LEN: 10.8 MB, more than the 5 MiB kept */
#define BIG_LEN 900000

typedef struct held {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, holding, release, max_value;
} held;

/* Holds the follower's thread in its first message until released, so
 * that the log moves past its position meanwhile. */
static void on_held(void *arg, const rd_kafka_message_t *m)
{
    held *h = arg;
    char v[16];
    snprintf(v, sizeof v, "%.*s", (int)(m->len < 15 ? m->len : 15), (const char *)m->payload);
    int i = atoi(v);
    pthread_mutex_lock(&h->mu);
    h->n++;
    if (i > h->max_value)
        h->max_value = i;
    if (h->n == 1) {
        h->holding = 1;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 60; /* bounded: the test releases it much sooner */
        while (!h->release && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&h->mu);
}

static int held_field(held *h, const int *field)
{
    pthread_mutex_lock(&h->mu);
    int n = *field;
    pthread_mutex_unlock(&h->mu);
    return n;
}

static void produce_big(rd_kafka_t *p, int from, int to)
{
    char *v = malloc(BIG_LEN);
    assert_non_null(v);
    for (int i = from; i < to; i++) {
        memset(v, ' ', BIG_LEN);
        int len = snprintf(v, 16, "%d", i);
        v[len] = ' ';
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(SF_TOPIC_MODELS),
                                           RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE(v, BIG_LEN),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         0);
        assert_int_equal(sf_kafka_drain(p, 10000), 0); /* one message set each */
    }
    free(v);
}

static void test_out_of_range_reads_from_earliest(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_mockbroker *mb = sf_mockbroker_start(1, 1, &err);
    assert_non_null(mb);
    const char *bs = sf_mockbroker_bootstraps(mb);
    sf_kafka_client_opts po = {.role = SF_KAFKA_TOOL_PRODUCER, .conn = {.brokers = bs}};
    rd_kafka_t *p = sf_kafka_client_new(&po, &err);
    assert_non_null(p);
    produce_big(p, 0, 1);

    held h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .max_value = -1};
    /* fetch little ahead, so that the position stays near the held message */
    const char *props[] = {"queued.min.messages=1", "fetch.error.backoff.ms=10"};
    sf_kafka_role roles[] = {SF_KAFKA_MODEL_WATCHER, SF_KAFKA_METRICS_FOLLOWER};
    for (size_t r = 0; r < 2; r++) {
        sf_follow_opts fo = {.role = roles[r],
                             .conn = {.brokers = bs, .props = props, .n_props = 2},
                             .topic = SF_TOPIC_MODELS,
                             .on_message = on_held,
                             .arg = &h};
        h.n = h.holding = h.release = 0;
        h.max_value = -1;
        int first = (int)r * BIG_N; /* the values produced before this follower */
        sf_follow *f = sf_follow_start(&fo, &err);
        if (!f)
            fail_msg("%s", err.msg);
        double until = now_s() + 20;
        struct timespec tick = {0, 10 * 1000000};
        while (!held_field(&h, &h.holding) && now_s() < until)
            nanosleep(&tick, NULL);
        assert_int_equal(held_field(&h, &h.holding), 1);
        produce_big(p, first + 1, first + BIG_N + 1); /* the log moves past the position */
        int64_t lo = 0, hi = 0;
        assert_int_equal(rd_kafka_query_watermark_offsets(p, SF_TOPIC_MODELS, 0, &lo, &hi, 5000),
                         0);
        assert_true(lo > 3); /* the held position (1 or 2) is no longer kept */
        pthread_mutex_lock(&h.mu);
        h.release = 1;
        pthread_cond_signal(&h.cv);
        pthread_mutex_unlock(&h.mu);
        /* the newest message arrives: read on from the earliest kept one */
        until = now_s() + 20;
        while (held_field(&h, &h.max_value) < first + BIG_N && now_s() < until)
            nanosleep(&tick, NULL);
        if (held_field(&h, &h.max_value) != first + BIG_N)
            fail_msg("%s: newest value seen %d, want %d (kept from offset %lld): it skipped "
                     "to the end",
                     sf_kafka_role_name(roles[r]), held_field(&h, &h.max_value), first + BIG_N,
                     (long long)lo);
        /* the kept ones from the earliest: every offset in [lo, hi) */
        assert_true(held_field(&h, &h.n) >= (int)(hi - lo));
        sf_follow_stop(f);
    }
    rd_kafka_destroy(p);
    sf_mockbroker_stop(mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follows_every_partition),
        cmocka_unit_test(test_nobody_listening),
        cmocka_unit_test(test_out_of_range_reads_from_earliest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
