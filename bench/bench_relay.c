/*
 * bench_relay.c - the scorer benchmark's baseline: a plain librdkafka
 * consume-and-produce relay at librdkafka's default settings, written as
 * librdkafka's examples/transactions.c (exactly-once) and
 * examples/consumer.c + producer.c (at-least-once), with no decoding, no
 * features, no model.
 *
 *   bench_relay --brokers B --group G --http ADDR [--out TOPIC] [--batch N]
 *               [--batch-ms MS] [--at-least-once] [-X k=v ...]
 *
 * Every message of satisfy.orders has its key and value (not its headers or
 * timestamp: the cheapest forward, so the strictest baseline) produced to
 * TOPIC (default satisfy.metrics, which no scorer reads). A batch closes at
 * N messages (default 10,000: the size that maximised the exactly-once
 * relay's own rate on satisfy-broker, docs/benchmarks.md), MS ms after its
 * first message (default 100), or when nothing more is fetched.
 * Exactly-once commits each batch as one transaction with its offsets;
 * at-least-once (an idempotent producer) commits the batch's offsets after
 * every message of it is delivered.
 * The clients are librdkafka's defaults (the tool roles of kafka.h), not
 * the scorer's: only what the loop needs is set - group.id,
 * enable.auto.commit=false, auto.offset.reset=earliest (a new group reads
 * the backlog), the transactional.id or enable.idempotence - then the -X
 * given, so bench_scorer.sh can set the same prefetch on both sides. On
 * satisfy-broker, which keeps no transactional offsets, a transaction's
 * offsets are also committed through the consumer (asynchronously).
 * The event counter is served as satisfy_scorer_events_total on --http
 * /metrics (the scorer's server), so bench_scorer.sh reads both sides the
 * same way. Stops on SIGTERM/SIGINT.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/clock.h"
#include "satisfy/cli.h"
#include "satisfy/http.h"
#include "satisfy/kafka.h"
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
    fprintf(stderr, "bench_relay: %s\n", line);
}

/* the relay's own batching (see the top) */
#define RELAY_BATCH    10000
#define RELAY_BATCH_MS 100

typedef struct relay {
    const char *out;
    int batch_max, batch_ms, eos, embedded;
    rd_kafka_t *cons, *prod;
    rd_kafka_topic_t *rkt; /* kept, as the scorer keeps its output topic's */
    sf_kafka_stats cst, pst;
    rd_kafka_message_t **msg;
    double *rx;       /* monotonic receive time of msg[i] */
    double *e2e, *rp; /* per message: created -> committed, received -> committed (ms) */
    int n;
    sf_stats *stats;
} relay;

/* Collects a batch: up to batch_max, what is fetched
 * (no waiting for more), at most batch_ms after the first message, or
 * after 100 ms of nothing; -1 on a fatal consumer error. */
static int collect(relay *r)
{
    double deadline = 0;
    while (r->n < r->batch_max) {
        int timeout = 100;
        if (r->n > 0) {
            if (deadline - sf_mono_s() <= 0)
                break;
            timeout = 0;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->cons, timeout);
        if (!m)
            break;
        if (m->err) {
            sf_err err;
            int fatal = sf_kafka_consumer_fatal(r->cons, m, &err) < 0;
            fprintf(stderr, "bench_relay: consumer: %s\n",
                    fatal ? err.msg : rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            if (fatal)
                return -1;
            continue;
        }
        if (r->n == 0)
            deadline = sf_mono_s() + r->batch_ms / 1000.0;
        r->rx[r->n] = sf_mono_s();
        r->msg[r->n++] = m;
        if (stop_flag)
            break;
    }
    return 0;
}

static rd_kafka_topic_partition_list_t *offsets(const relay *r)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < r->n; i++) {
        const rd_kafka_message_t *m = r->msg[i];
        const char *t = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(l, t, m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(l, t, m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    return l;
}

static int forward(relay *r)
{
    for (int i = 0; i < r->n; i++) {
        const rd_kafka_message_t *m = r->msg[i];
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(
                    r->prod, RD_KAFKA_V_RKT(r->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(r->prod, 10);
        if (e) {
            fprintf(stderr, "bench_relay: produce: %s\n", rd_kafka_err2str(e));
            return -1;
        }
    }
    return 0;
}

/* One batch through: a transaction, or produce-deliver-commit. */
static int commit_batch(relay *r)
{
    rd_kafka_topic_partition_list_t *offs = offsets(r);
    rd_kafka_error_t *e = NULL;
    int rc = 0;
    if (r->eos) {
        rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(r->cons);
        if (!(e = rd_kafka_begin_transaction(r->prod)) && forward(r) == 0 &&
            !(e = rd_kafka_send_offsets_to_transaction(r->prod, offs, md, -1)))
            e = rd_kafka_commit_transaction(r->prod, -1);
        rd_kafka_consumer_group_metadata_destroy(md);
        if (!e && r->embedded) /* the mock keeps no transactional offsets */
            rd_kafka_commit(r->cons, offs, 1);
    } else {
        rc = forward(r);
        if (rc == 0 && sf_kafka_drain(r->prod, 60000) == 0 && !sf_kafka_stats_failed(&r->pst))
            rd_kafka_commit(r->cons, offs, 1); /* after delivery; asynchronous */
        else
            rc = -1;
    }
    rd_kafka_topic_partition_list_destroy(offs);
    if (e) {
        fprintf(stderr, "bench_relay: transaction: %s\n", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rc = -1;
    }
    if (rc == 0) { /* the same latency histograms as the scorer's */
        int64_t now = sf_wall_ms();
        double t = sf_mono_s();
        for (int i = 0; i < r->n; i++) {
            int64_t ts = rd_kafka_message_timestamp(r->msg[i], NULL);
            r->e2e[i] = ts >= 0 ? (double)(now - ts) : 1e300;
            r->rp[i] = (t - r->rx[i]) * 1000.0;
        }
        sf_stats_batch(r->stats, (uint64_t)r->n, 0, NULL, 0, r->e2e, r->rp, (size_t)r->n);
    }
    for (int i = 0; i < r->n; i++)
        rd_kafka_message_destroy(r->msg[i]);
    r->n = 0;
    return rc;
}

static int setup(relay *r, const sf_cli *cli, const char *brokers, const char *group, sf_err *err)
{
    char txn[SF_SCORER_TXN_ID_MAX];
    snprintf(txn, sizeof txn, "transactional.id=bench-relay.%s", group);
    /* what the loop needs, then the user's -X (which win) */
    const char *pp[SF_CLI_MAX_PROPS + 1] = {r->eos ? txn : "enable.idempotence=true"};
    const char *cp[SF_CLI_MAX_PROPS + 1] = {"auto.offset.reset=earliest"};
    for (int i = 0; i < cli->n_props; i++)
        pp[i + 1] = cp[i + 1] = cli->props[i];
    sf_kafka_conn pconn = {.brokers = brokers, .props = pp, .n_props = cli->n_props + 1};
    sf_kafka_conn cconn = {.brokers = brokers, .props = cp, .n_props = cli->n_props + 1};
    sf_kafka_client_opts po = {
        .role = SF_KAFKA_TOOL_PRODUCER, .conn = pconn, .stats = &r->pst, .log = log_line};
    if (!(r->prod = sf_kafka_client_new(&po, err)) ||
        sf_kafka_check_reachable(r->prod, brokers, 10000, err) < 0)
        return -1;
    r->embedded = sf_kafka_is_embedded(r->prod, 10000);
    /* the output topic's partitions now, not at the first batch (as the scorer) */
    const struct rd_kafka_metadata *md = NULL;
    if (!(r->rkt = rd_kafka_topic_new(r->prod, r->out, NULL)))
        return sf_errf(err, "%s: %s", r->out, rd_kafka_err2str(rd_kafka_last_error()));
    if (rd_kafka_metadata(r->prod, 0, r->rkt, &md, 10000) == 0)
        rd_kafka_metadata_destroy(md);
    rd_kafka_error_t *e = r->eos ? rd_kafka_init_transactions(r->prod, 60000) : NULL;
    if (e) {
        sf_errf(err, "init_transactions: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return -1;
    }
    /* the tool consumer: librdkafka's defaults with enable.auto.commit=false */
    sf_kafka_client_opts co = {.role = SF_KAFKA_TOOL_CONSUMER,
                               .conn = cconn,
                               .group = group,
                               .stats = &r->cst,
                               .log = log_line};
    if (!(r->cons = sf_kafka_client_new(&co, err)))
        return -1;
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, SF_TOPIC_ORDERS, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(r->cons, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (se)
        return sf_errf(err, "subscribe: %s", rd_kafka_err2str(se));
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'}, {"group", required_argument, NULL, 'g'},
        {"http", required_argument, NULL, 'h'},    {"out", required_argument, NULL, 'o'},
        {"batch", required_argument, NULL, 'n'},   {"batch-ms", required_argument, NULL, 'm'},
        {"at-least-once", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0},
    };
    static sf_cli cli = {.prog = "bench_relay"};
    relay r = {
        .out = SF_TOPIC_METRICS, .batch_max = RELAY_BATCH, .batch_ms = RELAY_BATCH_MS, .eos = 1};
    const char *brokers = NULL, *group = NULL, *http = NULL;
    sf_err err = {{0}};
    int c, rc;
    while ((c = getopt_long(argc, argv, "X:", opts, NULL)) != -1) {
        if (c == 'X' && (rc = sf_cli_prop(&cli, optarg)))
            return rc;
        else if (c == 'b')
            brokers = optarg;
        else if (c == 'g')
            group = optarg;
        else if (c == 'h')
            http = optarg;
        else if (c == 'o')
            r.out = optarg;
        else if (c == 'n' && sf_cli_int("--batch", optarg, 1, 100000, &r.batch_max, &err) < 0)
            return sf_cli_bad(&cli, &err);
        else if (c == 'm' && sf_cli_int("--batch-ms", optarg, 1, 60000, &r.batch_ms, &err) < 0)
            return sf_cli_bad(&cli, &err);
        else if (c == 'a')
            r.eos = 0;
        else if (c == '?')
            return SF_CLI_USAGE;
    }
    if ((rc = sf_cli_operands(&cli, argc, argv, optind)) ||
        (rc = sf_cli_require(&cli, "--brokers", brokers)) ||
        (rc = sf_cli_require(&cli, "--group", group)) ||
        (rc = sf_cli_require(&cli, "--http", http)))
        return rc;
    sf_cli_signals(on_signal, SF_CLI_SIG_NO_SIGPIPE);
    r.stats = sf_stats_new();
    r.msg = calloc((size_t)r.batch_max, sizeof *r.msg);
    r.rx = calloc((size_t)r.batch_max, sizeof *r.rx);
    r.e2e = calloc((size_t)r.batch_max, sizeof *r.e2e);
    r.rp = calloc((size_t)r.batch_max, sizeof *r.rp);
    sf_http_opts ho = {.addr = http, .stats = r.stats};
    sf_http *h = r.stats && r.msg && r.rx && r.e2e && r.rp ? sf_http_start(&ho, &err) : NULL;
    if (!h) {
        fprintf(stderr, "bench_relay: --http %s: %s\n", http, err.msg);
        return 1;
    }
    fprintf(stderr, "bench_relay: serving /metrics on port %d\n", sf_http_port(h));
    rc = setup(&r, &cli, brokers, group, &err);
    if (rc < 0)
        fprintf(stderr, "bench_relay: %s\n", err.msg);
    while (rc == 0 && !stop_flag) {
        if (collect(&r) < 0 || (r.n && commit_batch(&r) < 0))
            rc = -1;
    }
    if (r.cons) {
        rd_kafka_consumer_close(r.cons);
        rd_kafka_destroy(r.cons);
    }
    if (r.rkt)
        rd_kafka_topic_destroy(r.rkt);
    if (r.prod) {
        rd_kafka_flush(r.prod, 10000);
        rd_kafka_destroy(r.prod);
    }
    for (int i = 0; i < r.n; i++)
        rd_kafka_message_destroy(r.msg[i]);
    sf_http_stop(h);
    sf_stats_free(r.stats);
    free(r.msg);
    free(r.rx);
    free(r.e2e);
    free(r.rp);
    return rc < 0 ? 1 : 0;
}
