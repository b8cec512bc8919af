/*
 * producer.c - satisfy-producer: replays the Olist history into Kafka.
 *
 * A thin main over libsatisfy: load the tables (olist.h), build the lifecycle
 * and review events in event-time order (lifecycle.h), and run the replay
 * loop (replay.h) on an idempotent producer configured from --brokers and
 * -X key=value. Prints a progress line on a terminal and a summary at the
 * end, with a check of what the topics hold against what was delivered
 * (producer_topiccheck.c); exits non-zero if any message was not delivered
 * or a delivered one is missing from its topic.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satisfy/cli.h"
#include "satisfy/codec.h"
#include "satisfy/kafka.h"
#include "satisfy/lifecycle.h"
#include "producer_topiccheck.h"
#include "satisfy/olist.h"
#include "satisfy/replay.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    sf_cli_stop_signal(&stop_flag);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: satisfy-producer --brokers LIST --data DIR [options]\n"
               "\n"
               "Replays the Olist tables in DIR as order lifecycle events (satisfy.orders)\n"
               "and review events (satisfy.reviews), key = order_id, message timestamp =\n"
               "event time, in event-time order.\n"
               "\n"
               "  --brokers LIST        bootstrap servers (satisfy-broker's first line, or Kafka)\n"
               "  --data DIR            directory of the Olist .csv or .csv.gz files\n"
               "  --speed X             0 = as fast as possible (default); 86400 = one day of\n"
               "                        history per second; gaps longer than 1 s are cut\n"
               "  --from T, --to T      only events with T_from <= time < T_to\n"
               "                        (\"YYYY-MM-DD\" or \"YYYY-MM-DD HH:MM:SS\")\n"
               "  --max-events N        stop after N events\n"
               "  --format avro|json    Avro with Confluent framing (default), or JSON\n"
               "  --strict              fail on the first bad input row (default: skip, count)\n"
               "  --connect-timeout S   fail if the brokers cannot be reached in S s (default 10)\n"
               "  --flush-timeout S     final wait for delivery reports (default 60)\n"
               "  --no-progress         no progress line, even on a terminal\n"
               "  -X key=value          librdkafka property, passed through (repeatable)\n"
               "  --help                this text\n"
               "\n"
               "Defaults (override with -X):");
    for (const char *const *d = sf_kafka_role_defaults(SF_KAFKA_REPLAY_PRODUCER); *d; d++)
        fprintf(f, " %s", *d);
    fprintf(f, "\nAt the end the summary checks that each topic's high watermarks grew by at\n"
               "least the number delivered (\"topic check\"), and warns on a shortfall.\n");
    fprintf(f, "\nExit status: 0 all delivered, 1 error, undelivered messages or delivered\n"
               "ones missing from their topic, 2 usage,\n"
               "130 stopped by SIGINT/SIGTERM after flushing what was produced (a second\n"
               "signal stops waiting for the flush).\n");
}

static int parse_time(const sf_cli *cli, const char *opt, const char *s, int64_t *out)
{
    if (sf_time_parse(s, out) != 0)
        return sf_cli_usage(cli, "%s %s: expected \"YYYY-MM-DD\" or \"YYYY-MM-DD HH:MM:SS\"", opt,
                            s);
    return 0;
}

static void progress_line(const sf_replay_progress *p, void *arg)
{
    (void)arg;
    char t[32];
    sf_time_format(p->event_time, t, sizeof t);
    double rate = p->elapsed > 0 ? p->produced / p->elapsed : 0;
    fprintf(stderr, "\r%12llu events  %9.0f ev/s  delivered %12llu  event time %s\033[K",
            (unsigned long long)p->produced, rate, (unsigned long long)p->delivered,
            t[0] ? t : "-");
    fflush(stderr);
}

static void summary(const sf_replay_result *r, const sf_kafka_stats *st)
{
    uint64_t prod_orders = 0;
    uint64_t deliv_orders = 0, fail_orders = 0;
    for (int s = 0; s < SF_STAGE_COUNT; s++) {
        prod_orders += r->produced[s];
        deliv_orders += st->delivered[s];
        fail_orders += st->failed[s];
    }
    const int rv = SF_REPLAY_SLOT_REVIEW;
    uint64_t total = prod_orders + r->produced[rv];
    char a[32], b[32];
    sf_time_format(r->first_time, a, sizeof a);
    sf_time_format(r->last_time, b, sizeof b);
    printf("summary:\n");
    printf("  %-16s %10llu produced %10llu delivered %6llu failed\n", SF_TOPIC_ORDERS,
           (unsigned long long)prod_orders, (unsigned long long)deliv_orders,
           (unsigned long long)fail_orders);
    for (int s = 0; s < SF_STAGE_COUNT; s++)
        printf("    %-14s %10llu produced %10llu delivered %6llu failed\n",
               sf_stage_name((sf_stage)s), (unsigned long long)r->produced[s],
               (unsigned long long)st->delivered[s], (unsigned long long)st->failed[s]);
    printf("  %-16s %10llu produced %10llu delivered %6llu failed\n", SF_TOPIC_REVIEWS,
           (unsigned long long)r->produced[rv], (unsigned long long)st->delivered[rv],
           (unsigned long long)st->failed[rv]);
    printf("  failures: %llu", (unsigned long long)sf_kafka_stats_failed(st));
    if (sf_kafka_stats_failed(st))
        printf(" (last: %s)", st->last_failure);
    if (r->undelivered)
        printf(", %llu still in flight after the flush timeout",
               (unsigned long long)r->undelivered);
    printf("\n  event time: %s .. %s\n", a[0] ? a : "-", b[0] ? b : "-");
    printf("  elapsed: %.3f s, rate: %.0f events/s, %.1f MB\n", r->elapsed,
           r->elapsed > 0 ? total / r->elapsed : 0.0, r->bytes / 1e6);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *brokers = NULL, *data = NULL;
    double speed = 0, connect_s = 10, flush_s = 60;
    uint64_t max_events = 0;
    int64_t from = SF_TIME_NONE, to = SF_TIME_NONE;
    sf_replay_format format = SF_FORMAT_AVRO;
    int strict = 0, no_progress = 0;
    static sf_cli cli = {.prog = "satisfy-producer"};
    sf_err err = {{0}};

    enum { O_FROM = 256, O_TO, O_MAX, O_FORMAT, O_STRICT, O_CONNECT, O_FLUSH, O_NOPROG };
    static const struct option lopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"data", required_argument, NULL, 'd'},
        {"speed", required_argument, NULL, 's'},
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"max-events", required_argument, NULL, O_MAX},
        {"format", required_argument, NULL, O_FORMAT},
        {"strict", no_argument, NULL, O_STRICT},
        {"connect-timeout", required_argument, NULL, O_CONNECT},
        {"flush-timeout", required_argument, NULL, O_FLUSH},
        {"no-progress", no_argument, NULL, O_NOPROG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc;
    while ((c = getopt_long(argc, argv, "b:d:s:X:h", lopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 's':
            if (sf_cli_double("--speed", optarg, 0, 1e15, &speed, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case O_FROM:
            if ((rc = parse_time(&cli, "--from", optarg, &from)))
                return rc;
            break;
        case O_TO:
            if ((rc = parse_time(&cli, "--to", optarg, &to)))
                return rc;
            break;
        case O_MAX:
            if (sf_cli_u64("--max-events", optarg, 1, UINT64_MAX, &max_events, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case O_FORMAT:
            if (strcmp(optarg, "avro") == 0)
                format = SF_FORMAT_AVRO;
            else if (strcmp(optarg, "json") == 0)
                format = SF_FORMAT_JSON;
            else
                return sf_cli_usage(&cli, "--format %s: expected avro or json", optarg);
            break;
        case O_STRICT:
            strict = 1;
            break;
        case O_CONNECT:
            if (sf_cli_double("--connect-timeout", optarg, 0.1, 86400, &connect_s, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case O_FLUSH:
            if (sf_cli_double("--flush-timeout", optarg, 0.1, 86400, &flush_s, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case O_NOPROG:
            no_progress = 1;
            break;
        case 'X':
            if ((rc = sf_cli_prop(&cli, optarg)))
                return rc;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if ((rc = sf_cli_operands(&cli, argc, argv, optind)))
        return rc;
    if ((rc = sf_cli_require(&cli, "--brokers", brokers)) ||
        (rc = sf_cli_require(&cli, "--data", data))) {
        usage(stderr);
        return rc;
    }
    if (sf_kafka_props_check(cli.props, cli.n_props, &err) != 0)
        return sf_cli_bad(&cli, &err);
    sf_kafka_stats stats;
    sf_kafka_client_opts ko = {
        .role = SF_KAFKA_REPLAY_PRODUCER,
        .conn = {.brokers = brokers, .props = cli.props, .n_props = cli.n_props},
        .stats = &stats};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
    if (!rk) {
        fprintf(stderr, "satisfy-producer: %s\n", err.msg);
        return 1;
    }
    /* Fail fast, before loading anything, when the brokers are not there. */
    if (sf_kafka_check_reachable(rk, brokers, (int)(connect_s * 1000), &err) != 0) {
        fprintf(stderr, "satisfy-producer: %s\n", err.msg);
        rd_kafka_destroy(rk);
        return 1;
    }

    sf_dataset ds;
    sf_load_opts lo = {.strict = strict, .report = stderr, .max_reports = 20};
    if (sf_dataset_load(&ds, data, &lo, &err) != 0) {
        fprintf(stderr, "satisfy-producer: %s\n", err.msg);
        rd_kafka_destroy(rk);
        return 1;
    }
    fprintf(stderr,
            "satisfy-producer: loaded %zu orders, %zu items, %zu payments, %zu reviews from %s; "
            "%zu bad rows skipped\n",
            ds.n_orders, ds.n_items, ds.n_payments, ds.n_reviews, data, sf_dataset_skipped(&ds));

    sf_event_ref *ev = NULL;
    size_t n = sf_lifecycle_build(&ds, from, to, &ev, &err);
    if (n == (size_t)-1) {
        fprintf(stderr, "satisfy-producer: %s\n", err.msg);
        free(ev);
        sf_dataset_free(&ds);
        rd_kafka_destroy(rk);
        return 1;
    }
    fprintf(stderr, "satisfy-producer: %zu events to replay to %s\n", n, brokers);

    /* the first signal stops producing and flushes, a second ends the flush */
    sf_cli_signals(on_signal, 0);

    int tty = !no_progress && isatty(STDERR_FILENO);
    sf_replay_opts ro = {
        .speed = speed,
        .max_events = max_events,
        .format = format,
        .stop = &stop_flag,
        .progress = tty ? progress_line : NULL,
        .progress_ms = 250,
        .flush_timeout_ms = (int)(flush_s * 1000),
        .stats = &stats,
    };
    /* what the topics hold before, to check against the delivery reports */
    static topic_marks before[2], after[2];
    const char *const topics[2] = {SF_TOPIC_ORDERS, SF_TOPIC_REVIEWS};
    int check = 1;
    for (int t = 0; t < 2 && check; t++)
        if (topic_marks_read(rk, topics[t], &before[t], (int)(connect_s * 1000), &err) != 0) {
            fprintf(stderr, "satisfy-producer: no topic check at the end: %s\n", err.msg);
            check = 0;
        }
    sf_replay_result res;
    rc = sf_replay_run(rk, ev, n, &ro, &res, &err);
    if (tty)
        fputc('\n', stderr);
    if (rc != 0)
        fprintf(stderr, "satisfy-producer: %s\n", err.msg);
    if (res.stopped)
        fprintf(stderr, "satisfy-producer: interrupted, flushed what was produced\n");
    summary(&res, &stats);
    uint64_t missing = 0;
    for (int t = 0; t < 2 && check; t++) {
        uint64_t delivered = 0;
        for (int s = 0; s < SF_STAGE_COUNT && t == 0; s++)
            delivered += stats.delivered[s];
        if (t == 1)
            delivered = stats.delivered[SF_REPLAY_SLOT_REVIEW];
        if (topic_marks_read(rk, topics[t], &after[t], (int)(connect_s * 1000), &err) == 0)
            missing += topic_marks_check(&before[t], &after[t], delivered, stdout, stderr);
        else {
            /* the brokers are gone (or refuse): one wait of --connect-timeout, not one per topic */
            fprintf(stderr, "satisfy-producer: no topic check: %s\n", err.msg);
            check = 0;
        }
    }
    fflush(stdout);

    int status = 0;
    if (rc != 0 || sf_kafka_stats_failed(&stats) || res.undelivered || missing)
        status = 1;
    else if (res.stopped)
        status = 130;
    if (sf_kafka_stats_failed(&stats))
        fprintf(stderr, "satisfy-producer: %llu messages failed; last: %s\n",
                (unsigned long long)sf_kafka_stats_failed(&stats), stats.last_failure);
    if (res.undelivered)
        fprintf(stderr, "satisfy-producer: %llu messages not delivered within %g s\n",
                (unsigned long long)res.undelivered, flush_s);

    free(ev);
    sf_dataset_free(&ds);
    rd_kafka_destroy(rk);
    return status;
}
