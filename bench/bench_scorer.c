/*
 * bench_scorer.c - the scorer benchmark's programs in one:
 *
 *   bench_scorer run --brokers B [--group G] [--batch N] [--batch-ms MS]
 *                    [--http ADDR] [--at-least-once] [-X k=v ...]
 *       the scorer loop (sf_scorer_run) exactly as satisfy-scorer runs it,
 *       counters on --http /metrics (the scorer's HTTP server, without a
 *       model or web app). Stops on SIGTERM/SIGINT. The baseline it is
 *       compared with is bench_relay (bench/bench_relay.c).
 *
 *   bench_scorer load --brokers B --rate R --count N [--seconds S]
 *       re-produces the first N messages of satisfy.orders to satisfy.orders
 *       at R messages per second with the current time as timestamp, so the
 *       scorer's e2e histogram measures append -> committed prediction;
 *       prints "load N SECONDS APPEND_P99_MS" (APPEND: producev -> delivery
 *       report, the part of the latency before any consumer can see it).
 *       With --seconds S, cycles through those messages until S seconds
 *       have passed (a steady load for a soak without holding more than N
 *       messages); APPEND_P99_MS is then over the last N appends.
 *
 *   bench_scorer serve --brokers B --epoch E --champion C [--challenger X]
 *       publishes an unsigned ServingState (serving_state.h) to
 *       satisfy.models: champion C, challenger X (0 = none), so that the
 *       shadow benchmark (bench_shadow.sh) runs the scorer with and without
 *       a challenger.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/cli.h"
#include "satisfy/clock.h"
#include "satisfy/http.h"
#include "satisfy/kafka.h"
#include "satisfy/release_topic.h"
#include "satisfy/scorer.h"
#include "satisfy/stats.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    sf_cli_stop_signal(&stop_flag);
}

static void log_line(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "bench_scorer: %s\n", line);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"group", required_argument, NULL, 'g'},
        {"batch", required_argument, NULL, 'n'},
        {"batch-ms", required_argument, NULL, 'm'},
        {"http", required_argument, NULL, 'h'},
        {"at-least-once", no_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    sf_scorer_opts o = {0};
    const char *http = NULL;
    static sf_cli cli = {.prog = "bench_scorer run"};
    sf_err err;
    int c, rc;
    while ((c = getopt_long(argc, argv, "X:", opts, NULL)) != -1) {
        switch (c) {
        case 'X':
            if ((rc = sf_cli_prop(&cli, optarg)))
                return rc;
            break;
        case 'b':
            o.brokers = optarg;
            break;
        case 'g':
            o.group = optarg;
            break;
        case 'n':
            if (sf_cli_int("--batch", optarg, 1, 100000, &o.batch_max, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case 'm':
            if (sf_cli_int("--batch-ms", optarg, 1, 60000, &o.batch_ms, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case 'h':
            http = optarg;
            break;
        case 'a':
            o.at_least_once = 1;
            break;
        default:
            return 2;
        }
    }
    if ((rc = sf_cli_require(&cli, "--brokers", o.brokers)) ||
        (rc = sf_cli_require(&cli, "--http", http)))
        return rc;
    sf_cli_signals(on_signal, SF_CLI_SIG_NO_SIGPIPE);
    sf_stats *st = sf_stats_new();
    sf_http_opts ho = {.addr = http, .stats = st};
    sf_http *h = st ? sf_http_start(&ho, &err) : NULL;
    if (!h) {
        fprintf(stderr, "bench_scorer: --http %s: %s\n", http, err.msg);
        return 1;
    }
    fprintf(stderr, "bench_scorer: serving /metrics on port %d\n", sf_http_port(h));
    o.instance_id = "bench-scorer";
    o.props = cli.props;
    o.n_props = cli.n_props;
    o.stats = st;
    o.log = log_line;
    o.stop = &stop_flag;
    rc = sf_scorer_run(&o, &err);
    sf_http_stop(h);
    sf_stats_free(st);
    if (rc < 0) {
        fprintf(stderr, "bench_scorer: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* by offset, then partition: interleaves the partitions as keyed traffic
 * would, instead of replaying one partition's whole fetch at a time */
static int by_offset(const void *a, const void *b)
{
    const rd_kafka_message_t *x = *(rd_kafka_message_t *const *)a;
    const rd_kafka_message_t *y = *(rd_kafka_message_t *const *)b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/* the load producer's append latencies: producev -> delivery report, ms;
 * with ring set, the last cap of them (n counts all) */
typedef struct {
    double *ms;
    long n, cap;
    int ring;
} appends;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    appends *a = ((sf_kafka_stats *)opaque)->user;
    if (m->err || (a->n >= a->cap && !a->ring))
        return;
    a->ms[(a->n++) % a->cap] = (now() - *(double *)m->_private) * 1000;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int load(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"rate", required_argument, NULL, 'r'},
        {"count", required_argument, NULL, 'n'},
        {"seconds", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *brokers = NULL;
    double rate = 5000, seconds = 0;
    long count = 20000;
    sf_cli cli = {.prog = "bench_scorer load"};
    sf_err err;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b') {
            brokers = optarg;
        } else if (c == 'r') {
            if (sf_cli_double("--rate", optarg, 1, 1e7, &rate, &err) < 0)
                return sf_cli_bad(&cli, &err);
        } else if (c == 'n') {
            if (sf_cli_long("--count", optarg, 1, 100000000, &count, &err) < 0)
                return sf_cli_bad(&cli, &err);
        } else if (c == 's') {
            if (sf_cli_double("--seconds", optarg, 0, 1e6, &seconds, &err) < 0)
                return sf_cli_bad(&cli, &err);
        } else {
            return 2;
        }
    }
    if (!brokers)
        return 2;
    const char *cprops[] = {"auto.offset.reset=earliest"};
    /* linger.ms: librdkafka's default, spelled out. Shorter lingers append
     * sooner but in smaller record batches, and the mock cluster finds the
     * batch a fetch starts at by walking the partition's list of batches
     * from the oldest: at 1 ms, the walks slowed every request it served and
     * the p99 doubled (docs/benchmarks.md). */
    const char *pprops[] = {"enable.idempotence=true", "linger.ms=5", "socket.nagle.disable=true"};
    appends app = {calloc((size_t)count, sizeof(double)), 0, count, seconds > 0};
    double *sent = calloc((size_t)count, sizeof *sent); /* producev times */
    if (!app.ms || !sent) {
        fprintf(stderr, "bench_scorer: out of memory\n");
        return 1;
    }
    sf_kafka_stats pst;
    sf_kafka_client_opts co = {.role = SF_KAFKA_TOOL_CONSUMER,
                               .conn = {.brokers = brokers, .props = cprops, .n_props = 1},
                               .group = "bench-load"};
    sf_kafka_client_opts po = {.role = SF_KAFKA_TOOL_PRODUCER,
                               .conn = {.brokers = brokers, .props = pprops, .n_props = 3},
                               .stats = &pst,
                               .dr = on_delivery,
                               .user = &app};
    rd_kafka_t *cons = sf_kafka_client_new(&co, &err);
    rd_kafka_t *prod = cons ? sf_kafka_client_new(&po, &err) : NULL;
    if (!cons || !prod) {
        fprintf(stderr, "bench_scorer: %s\n", err.msg);
        return 1;
    }
    /* read the messages to replay first, so reading does not pace the load */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(cons, SF_TOPIC_ORDERS, NULL);
    if (rd_kafka_metadata(cons, 0, t, &md, 10000) != 0 || md->topic_cnt != 1) {
        fprintf(stderr, "bench_scorer: no metadata for %s\n", SF_TOPIC_ORDERS);
        return 1;
    }
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(l, SF_TOPIC_ORDERS, md->topics[0].partitions[i].id)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_assign(cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_message_t **msgs = calloc((size_t)count, sizeof *msgs);
    long n = 0;
    double last = now();
    while (n < count && now() - last < 5) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 100);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        msgs[n++] = m;
        last = now();
    }
    /* stop the reader before the load: its background fetches would compete */
    rd_kafka_assign(cons, NULL);
    /* A producer learns a topic's partitions at its first message, and
     * librdkafka only asks for them at its next 1 s topic scan: without this
     * lookup the first second of the load would wait up to 1 s in the
     * producer (measured: p99 ~960 ms, all in the producer, the broker and
     * the scorer not involved). */
    t = rd_kafka_topic_new(prod, SF_TOPIC_ORDERS, NULL);
    if (rd_kafka_metadata(prod, 0, t, &md, 10000) != 0) {
        fprintf(stderr, "bench_scorer: producer: no metadata for %s\n", SF_TOPIC_ORDERS);
        return 1;
    }
    rd_kafka_metadata_destroy(md);
    qsort(msgs, (size_t)n, sizeof *msgs, by_offset);
    if (n == 0) {
        fprintf(stderr, "bench_scorer: no messages on %s to replay\n", SF_TOPIC_ORDERS);
        return 1;
    }
    double t0 = now();
    long i;
    /* one pass, or (--seconds) passes until the time is up; sent[] is
     * reused each pass: a message is delivered long before its slot's turn */
    for (i = 0; seconds > 0 ? now() - t0 < seconds : i < n; i++) {
        double due = t0 + (double)i / rate;
        double wait;
        while ((wait = due - now()) > 0)
            rd_kafka_poll(prod, wait > 0.001 ? 1 : 0);
        rd_kafka_message_t *m = msgs[i % n];
        sent[i % n] = now();
        while (rd_kafka_producev(
                   prod, RD_KAFKA_V_TOPIC(SF_TOPIC_ORDERS), RD_KAFKA_V_PARTITION(m->partition),
                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(m->key, m->key_len),
                   RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_OPAQUE(&sent[i % n]),
                   RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(prod, 1);
        rd_kafka_poll(prod, 0);
    }
    double secs = now() - t0;
    rd_kafka_flush(prod, 30000);
    rd_kafka_topic_destroy(t);
    long kept = app.n < app.cap ? app.n : app.cap;
    qsort(app.ms, (size_t)kept, sizeof *app.ms, by_value);
    printf("load %ld %.3f %.1f\n", i, secs, kept ? app.ms[(kept * 99) / 100] : -1.0);
    free(app.ms);
    free(sent);
    for (long i = 0; i < n; i++)
        rd_kafka_message_destroy(msgs[i]);
    free(msgs);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    rd_kafka_destroy(prod);
    return 0;
}

static int serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"epoch", required_argument, NULL, 'e'},
        {"champion", required_argument, NULL, 'c'},
        {"challenger", required_argument, NULL, 'x'},
        {NULL, 0, NULL, 0},
    };
    const char *brokers = NULL;
    long epoch = 0, champion = 0, challenger = 0;
    sf_cli cli = {.prog = "bench_scorer serve"};
    sf_err err;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        if (c == 'b')
            brokers = optarg;
        else if (c == 'e')
            rc = sf_cli_long("--epoch", optarg, 1, 1000000000, &epoch, &err);
        else if (c == 'c')
            rc = sf_cli_long("--champion", optarg, 1, 1000000000, &champion, &err);
        else if (c == 'x')
            rc = sf_cli_long("--challenger", optarg, 0, 1000000000, &challenger, &err);
        else
            return 2;
        if (rc < 0)
            return sf_cli_bad(&cli, &err);
    }
    if (!brokers || !epoch || !champion)
        return 2;
    sf_kafka_stats st;
    sf_kafka_client_opts po = {
        .role = SF_KAFKA_RELEASE_PRODUCER, .conn = {.brokers = brokers}, .stats = &st};
    rd_kafka_t *prod = sf_kafka_client_new(&po, &err);
    sf_serving_state s = {
        .epoch = epoch, .champion = champion, .challenger = challenger, .at = sf_wall_ms()};
    snprintf(s.cause, sizeof s.cause, "%s", challenger ? "challenger" : "retire");
    snprintf(s.reason, sizeof s.reason, "bench_shadow.sh");
    if (!prod || sf_serving_publish(prod, &st, &s, 10000, NULL, &err) != 0) {
        fprintf(stderr, "bench_scorer serve: %s\n", err.msg);
        if (prod)
            rd_kafka_destroy(prod);
        return 1;
    }
    rd_kafka_destroy(prod);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return run(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "load") == 0)
        return load(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    fprintf(stderr, "usage: bench_scorer run|load|serve ... (see the comment at the top)\n");
    return 2;
}
