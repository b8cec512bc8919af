/*
 * test_kafka_client.c - the client factory (kafka.h): every role gets its
 * type and its defaults, what depends on the options (group, transactional
 * id, the embedded broker's fetch wait) is set, the user's -X wins over all
 * of it, errors name the role, the log and error callbacks reach the
 * caller's log with the role's name, and a message produced by a counting
 * producer is read back by a tool consumer through the mock cluster.
 */
#include "testutil.h"

#include <string.h>

#include "satisfy/kafka.h"
#include "satisfy/mockbroker.h"

static const char *quiet[] = {"log_level=0"};

/* key's value in rk is want, as librdkafka spells it back ("earliest" reads
 * back as "smallest") */
static void conf_is(rd_kafka_t *rk, const char *key, const char *want)
{
    char v[256], w[256];
    size_t vlen = sizeof v, wlen = sizeof w;
    assert_int_equal(rd_kafka_conf_get(rd_kafka_conf(rk), key, v, &vlen), RD_KAFKA_CONF_OK);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char es[256];
    assert_int_equal(rd_kafka_conf_set(c, key, want, es, sizeof es), RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_get(c, key, w, &wlen), RD_KAFKA_CONF_OK);
    rd_kafka_conf_destroy(c);
    if (strcmp(v, w) != 0)
        fail_msg("%s = %s, want %s", key, v, want);
}

static rd_kafka_t *client(sf_kafka_client_opts *o)
{
    sf_err err = {{0}};
    if (!o->conn.brokers)
        o->conn.brokers = "127.0.0.1:1";
    if (!o->conn.props) {
        o->conn.props = quiet;
        o->conn.n_props = 1;
    }
    rd_kafka_t *rk = sf_kafka_client_new(o, &err);
    if (!rk)
        fail_msg("%s: %s", sf_kafka_role_name(o->role), err.msg);
    return rk;
}

/* Every role: its type, and each of its listed defaults in effect. */
static void test_role_defaults(void **state)
{
    (void)state;
    for (int r = 0; r < SF_KAFKA_ROLE_COUNT; r++) {
        sf_kafka_client_opts o = {.role = (sf_kafka_role)r, .group = "g", .transactional_id = "t"};
        rd_kafka_t *rk = client(&o);
        int consumer = r == SF_KAFKA_SCORER_CONSUMER || r == SF_KAFKA_RETRAINER_CONSUMER ||
                       r == SF_KAFKA_RELEASE_PROBE || r == SF_KAFKA_MODEL_WATCHER ||
                       r == SF_KAFKA_METRICS_FOLLOWER || r == SF_KAFKA_TOOL_CONSUMER ||
                       r == SF_KAFKA_ALERTS_READER;
        assert_int_equal(rd_kafka_type(rk), consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER);
        for (const char *const *d = sf_kafka_role_defaults((sf_kafka_role)r); *d; d++) {
            char key[128];
            const char *eq = strchr(*d, '=');
            assert_non_null(eq);
            snprintf(key, sizeof key, "%.*s", (int)(eq - *d), *d);
            if (strcmp(key, "log_level") != 0) /* the test's -X log_level=0 wins */
                conf_is(rk, key, eq + 1);
        }
        rd_kafka_destroy(rk);
    }
    assert_string_equal(sf_kafka_role_name(SF_KAFKA_SCORER_CONSUMER), "scorer consumer");
    assert_string_equal(sf_kafka_role_name(SF_KAFKA_ROLE_COUNT), "unknown role");
}

/* What depends on the options, and -X over everything. */
static void test_options_and_user_wins(void **state)
{
    (void)state;
    sf_kafka_client_opts o = {.role = SF_KAFKA_SCORER_CONSUMER, .group = "grp"};
    rd_kafka_t *rk = client(&o);
    conf_is(rk, "group.id", "grp");
    conf_is(rk, "fetch.wait.max.ms", "100");
    conf_is(rk, "isolation.level", "read_committed");
    /* the prefetch that does not stall a catch-up (docs/operations.md) */
    conf_is(rk, "queued.max.messages.kbytes", "131072");
    conf_is(rk, "queued.min.messages", "1000000");
    rd_kafka_destroy(rk);
    o.embedded = 1;
    rk = client(&o);
    conf_is(rk, "fetch.wait.max.ms", "2");
    rd_kafka_destroy(rk);

    const char *mine[] = {"log_level=0", "group.id=other", "fetch.wait.max.ms=7",
                          "queued.max.messages.kbytes=8192", "client.id=a=b"};
    sf_kafka_client_opts u = {.role = SF_KAFKA_SCORER_CONSUMER,
                              .conn = {.props = mine, .n_props = 5},
                              .group = "grp",
                              .embedded = 1};
    rk = client(&u);
    conf_is(rk, "group.id", "other");
    conf_is(rk, "fetch.wait.max.ms", "7");
    conf_is(rk, "queued.max.messages.kbytes", "8192");
    conf_is(rk, "client.id", "a=b");
    rd_kafka_destroy(rk);

    sf_kafka_client_opts p = {.role = SF_KAFKA_SCORER_PRODUCER, .transactional_id = "tx.1"};
    rk = client(&p);
    conf_is(rk, "transactional.id", "tx.1");
    conf_is(rk, "linger.ms", "5");
    rd_kafka_destroy(rk);
    p.transactional_id = NULL;
    rk = client(&p);
    conf_is(rk, "enable.idempotence", "true");
    rd_kafka_destroy(rk);

    /* a tool consumer without a group has none */
    sf_kafka_client_opts t = {.role = SF_KAFKA_TOOL_CONSUMER};
    rk = client(&t);
    char v[64];
    size_t vlen = sizeof v;
    assert_int_not_equal(rd_kafka_conf_get(rd_kafka_conf(rk), "group.id", v, &vlen),
                         RD_KAFKA_CONF_OK);
    conf_is(rk, "enable.auto.commit", "false");
    rd_kafka_destroy(rk);
}

static void test_errors(void **state)
{
    (void)state;
    sf_err err = {{0}};
    const char *bad[] = {"enable.partition.eof=true", "no.such.property=1"};
    sf_kafka_client_opts o = {.role = SF_KAFKA_RETRAINER_CONSUMER,
                              .conn = {.brokers = "127.0.0.1:1", .props = bad, .n_props = 2},
                              .group = "g"};
    assert_null(sf_kafka_client_new(&o, &err));
    assert_non_null(strstr(err.msg, "retrainer consumer: -X no.such.property"));
    o.conn.n_props = 0;
    o.group = NULL;
    assert_null(sf_kafka_client_new(&o, &err));
    assert_string_equal(err.msg, "retrainer consumer: no group.id");
    const char *novalue[] = {"novalue"};
    sf_kafka_client_opts t = {.role = SF_KAFKA_TOOL_CONSUMER,
                              .conn = {.brokers = "127.0.0.1:1", .props = novalue, .n_props = 1}};
    assert_null(sf_kafka_client_new(&t, &err));
    assert_non_null(strstr(err.msg, "-X novalue: expected key=value"));

    /* accepted one by one, refused together by rd_kafka_new */
    const char *idem[] = {"acks=1", "log_level=0"};
    sf_kafka_client_opts r = {.role = SF_KAFKA_RELEASE_PRODUCER,
                              .conn = {.brokers = "127.0.0.1:1", .props = idem, .n_props = 2}};
    assert_null(sf_kafka_client_new(&r, &err));
    assert_non_null(strstr(err.msg, "cannot create the release producer: "));
    assert_non_null(strstr(err.msg, "acks"));

    /* callbacks need somewhere to keep their context */
    sf_kafka_client_opts l = {.role = SF_KAFKA_TOOL_PRODUCER, .log = (sf_log_fn)1};
    assert_null(sf_kafka_client_new(&l, &err));
    assert_non_null(strstr(err.msg, "tool producer: a log, rebalance or delivery callback"));
    l.role = SF_KAFKA_ROLE_COUNT;
    assert_null(sf_kafka_client_new(&l, &err));
    assert_non_null(strstr(err.msg, "unknown role"));
}

typedef struct lines {
    int n, errors;
    char last[512];
} lines;

static void collect(void *arg, const char *line)
{
    lines *l = arg;
    l->n++;
    if (strncmp(line, "tool producer: _", 16) == 0) { /* "<role>: <error name>: reason" */
        l->errors++;
        snprintf(l->last, sizeof l->last, "%s", line);
    }
}

/* Nobody listening: the error callback names the role in the caller's log
 * ("tool producer: _TRANSPORT: ...") and keeps the error in stats. */
static void test_error_callback(void **state)
{
    (void)state;
    lines got = {0};
    sf_kafka_stats st;
    const char *props[] = {"reconnect.backoff.ms=10", "reconnect.backoff.max.ms=50"};
    sf_kafka_client_opts o = {.role = SF_KAFKA_TOOL_PRODUCER,
                              .conn = {.brokers = "127.0.0.1:1", .props = props, .n_props = 2},
                              .stats = &st,
                              .log = collect,
                              .log_arg = &got};
    rd_kafka_t *rk = client(&o);
    assert_ptr_equal(rd_kafka_opaque(rk), &st);
    assert_string_equal(st.name, "tool producer");
    for (int i = 0; i < 100 && got.errors == 0; i++)
        rd_kafka_poll(rk, 50);
    if (got.errors == 0)
        fail_msg("no error line in %d lines", got.n);
    assert_true(st.last_error[0] == '_');
    if (strcmp(got.last + strlen("tool producer: "), st.last_error) != 0)
        fail_msg("last_error %s; last line %s", st.last_error, got.last);
    rd_kafka_destroy(rk);
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
    sf_kafka_client_opts po = {.role = SF_KAFKA_TOOL_PRODUCER,
                               .conn = {.brokers = bs, .props = pp, .n_props = 1},
                               .stats = &st};
    rd_kafka_t *p = client(&po);
    assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS),
                                       RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE("hello", 5),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(sf_kafka_drain(p, 10000), 0);
    assert_int_equal(sf_kafka_stats_delivered(&st), 1);
    assert_int_equal(sf_kafka_stats_failed(&st), 0);
    rd_kafka_destroy(p);

    sf_kafka_client_opts co = {
        .role = SF_KAFKA_TOOL_CONSUMER, .conn = {.brokers = bs}, .group = "round-trip"};
    rd_kafka_t *c = client(&co);
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
        cmocka_unit_test(test_role_defaults), cmocka_unit_test(test_options_and_user_wins),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_error_callback),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
