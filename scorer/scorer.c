/*
 * scorer.c - satisfy-scorer: scores every order event on satisfy.orders with
 * the served model and writes predictions to satisfy.predictions (and, with
 * a challenger, the challenger's to satisfy.shadow).
 *
 * A thin main over libsatisfy (scorer.h): options, signals, stderr logging
 * and, with --http, the web app and HTTP API (http.h). Exactly-once by default
 * (transactions), --at-least-once as an option. SIGTERM/SIGINT finish and
 * commit the current batch, leave the group and exit 0; a second one stops
 * waiting on the brokers at once (cli.h counts them, scorer.h honours them).
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "satisfy/alerts.h"
#include "satisfy/cli.h"
#include "satisfy/http.h"
#include "satisfy/kafka.h"
#include "satisfy/release_sign.h"
#include "satisfy/scorer.h"
#include "satisfy/stats.h"

/* scorer/web/ *, compiled in by scorer/CMakeLists.txt (cmake/embed.cmake) */
extern const struct sf_embedded_file sf_web_files[];

static volatile sig_atomic_t stop_flag;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_signal(int sig)
{
    (void)sig;
    sf_cli_stop_signal(&stop_flag);
}

static void log_line(void *arg, const char *line)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "%02d:%02d:%02d.%03ld satisfy-scorer: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, line);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}

/* The run's live history to the HTTP API (POST /v1/predict), and back. */
static void give_history(void *arg, sf_livehist *lh)
{
    sf_http_set_history(arg, lh);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: satisfy-scorer --brokers LIST [options]\n"
            "\n"
            "Scores every order event of %s with the newest model released on\n"
            "%s and writes a Prediction (key = order_id, header event_id =\n"
            "\"<order_id>:<STAGE>\") to %s. Messages that cannot be decoded\n"
            "go to %s with headers reason, source_topic, source_partition,\n"
            "source_offset. Until a model is released it waits and consumes nothing.\n"
            "While the ServingState on %s names a challenger, every event is also\n"
            "scored with it and its prediction goes to %s (same schema and key,\n"
            "header model_version = the challenger's) in the same transaction; only the\n"
            "champion's reaches %s, alerts and drift (docs/operations.md,\n"
            "\"Shadow scoring\").\n"
            "\n"
            "  --brokers LIST        bootstrap servers (satisfy-broker's first line, or Kafka)\n"
            "  --group G             consumer group (default %s); scale out by running\n"
            "                        more instances in the same group\n"
            "  --instance-id ID      stable id of this instance (default: the host name);\n"
            "                        transactional.id = satisfy-scorer.<group>.<ID>. Keep it\n"
            "                        the same across restarts of one instance and distinct\n"
            "                        between instances running together\n"
            "  --at-least-once       idempotent producer, offsets committed after delivery\n"
            "                        (default: exactly-once with transactions)\n"
            "  --batch N             at most N messages per batch/transaction (default %d)\n"
            "  --batch-ms MS         close a batch MS ms after its first message (default %d)\n"
            "  --http ADDR           serve the web app (/), the JSON API (/v1/...), the\n"
            "                        MLflow protocol (/invocations) and /metrics on ADDR\n"
            "                        (host:port, 127.0.0.1 when no host; port 0 = any free\n"
            "                        port, logged); see docs/web.md\n"
            "  --connect-timeout S   fail if the brokers cannot be reached in S s (default 10)\n"
            "  --verify-key FILE     load only releases signed by this PEM Ed25519 public key\n"
            "                        (the retrainer's --signing-key pair); others are ignored\n"
            "                        and counted. Without it any release loads (demo only)\n"
            "  --history-wait S      at start, wait at most S s for the seller and customer\n"
            "                        history to be rebuilt from %s (default %d;\n"
            "                        0 = do not wait); then score with what is there\n"
            "  --alert-threshold T   alert an order (one Alert on %s) when a\n"
            "                        prediction's risk of 1-2 stars first reaches T (0..1),\n"
            "                        instead of the active release's threshold (chosen at\n"
            "                        training; a release without one makes no alerts)\n"
            "  --history-features FILE  diagnostic: write each scored event's id and the\n"
            "                        history features of its row to FILE (train/serve parity)\n"
            "  --drift-window N      input drift: PSI per feature over the last N scored\n"
            "                        events against the release's training distribution\n"
            "                        (default %d; 0 = off); see docs/model.md\n"
            "  --drift-interval S    publish the PSI to %s every S s (default %d)\n"
            "  -X key=value          librdkafka property for every client (repeatable)\n"
            "  --help                this text\n"
            "\n"
            "On satisfy-broker (librdkafka's mock cluster) transactions are accepted but\n"
            "not isolated, so the observable guarantee there is at-least-once; real Kafka\n"
            "gives exactly-once (see docs/operations.md).\n"
            "Exit status: 0 stopped by SIGINT/SIGTERM after committing, 1 fatal error,\n"
            "2 usage. A second SIGINT/SIGTERM stops waiting on the brokers at once (exit 1\n"
            "if the batch in hand was left uncommitted; it is scored again later).\n",
            SF_TOPIC_ORDERS, SF_TOPIC_MODELS, SF_TOPIC_PREDICTIONS, SF_TOPIC_DLQ, SF_TOPIC_MODELS,
            SF_TOPIC_SHADOW, SF_TOPIC_PREDICTIONS, SF_SCORER_GROUP, SF_SCORER_BATCH,
            SF_SCORER_BATCH_MS, SF_TOPIC_HISTORY, SF_SCORER_HISTORY_WAIT_S, SF_TOPIC_ALERTS,
            SF_DRIFT_WINDOW, SF_TOPIC_METRICS, SF_DRIFT_INTERVAL);
}

int main(int argc, char **argv)
{
    enum {
        O_GROUP = 256,
        O_INSTANCE,
        O_ALO,
        O_BATCH,
        O_BATCH_MS,
        O_HTTP,
        O_CONNECT,
        O_VERIFY,
        O_HIST_WAIT,
        O_HIST_FEATURES,
        O_DRIFT_WINDOW,
        O_DRIFT_INTERVAL,
        O_ALERT,
        O_HELP
    };
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"group", required_argument, NULL, O_GROUP},
        {"instance-id", required_argument, NULL, O_INSTANCE},
        {"at-least-once", no_argument, NULL, O_ALO},
        {"batch", required_argument, NULL, O_BATCH},
        {"batch-ms", required_argument, NULL, O_BATCH_MS},
        {"http", required_argument, NULL, O_HTTP},
        {"connect-timeout", required_argument, NULL, O_CONNECT},
        {"verify-key", required_argument, NULL, O_VERIFY},
        {"history-wait", required_argument, NULL, O_HIST_WAIT},
        {"history-features", required_argument, NULL, O_HIST_FEATURES},
        {"drift-window", required_argument, NULL, O_DRIFT_WINDOW},
        {"drift-interval", required_argument, NULL, O_DRIFT_INTERVAL},
        {"alert-threshold", required_argument, NULL, O_ALERT},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    static sf_cli cli = {.prog = "satisfy-scorer"};
    sf_scorer_opts o = {0};
    const char *http = NULL, *verify = NULL;
    int drift_window = SF_DRIFT_WINDOW;
    double drift_interval = SF_DRIFT_INTERVAL;
    double alert_threshold = NAN; /* the release's */
    sf_err err = {{0}};
    int c, v, rc;
    while ((c = getopt_long(argc, argv, "b:X:", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o.brokers = optarg;
            break;
        case 'X':
            if ((rc = sf_cli_prop(&cli, optarg)))
                return rc;
            break;
        case O_GROUP:
            o.group = optarg;
            break;
        case O_INSTANCE:
            o.instance_id = optarg;
            break;
        case O_ALO:
            o.at_least_once = 1;
            break;
        case O_BATCH:
            if (sf_cli_int("--batch", optarg, 1, 100000, &o.batch_max, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case O_BATCH_MS:
            if (sf_cli_int("--batch-ms", optarg, 1, 60000, &o.batch_ms, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case O_HTTP:
            http = optarg;
            break;
        case O_CONNECT:
            if (sf_cli_int("--connect-timeout", optarg, 1, 3600, &v, &err) < 0)
                return sf_cli_bad(&cli, &err);
            o.connect_timeout_ms = v * 1000;
            break;
        case O_VERIFY:
            verify = optarg;
            break;
        case O_HIST_WAIT:
            if (sf_cli_double("--history-wait", optarg, 0, 86400, &o.history_wait_s, &err) < 0)
                return sf_cli_bad(&cli, &err);
            if (o.history_wait_s == 0)
                o.history_wait_s = -1; /* the library's "do not wait" */
            break;
        case O_HIST_FEATURES:
            o.history_features = optarg;
            break;
        case O_DRIFT_WINDOW:
            if (sf_cli_int("--drift-window", optarg, 0, 1000000, &drift_window, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case O_DRIFT_INTERVAL:
            if (sf_cli_double("--drift-interval", optarg, 0.1, 86400, &drift_interval, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case O_ALERT:
            if (sf_cli_double("--alert-threshold", optarg, 0, 1, &alert_threshold, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if ((rc = sf_cli_operands(&cli, argc, argv, optind)) ||
        (rc = sf_cli_require(&cli, "--brokers", o.brokers)))
        return rc;
    char host[256];
    if (!o.instance_id) {
        if (gethostname(host, sizeof host) != 0 || !host[0])
            snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
        o.instance_id = host;
    }
    /* check -X now, so a typo is a usage error and not a runtime failure */
    if (sf_kafka_props_check(cli.props, cli.n_props, &err) != 0)
        return sf_cli_bad(&cli, &err);
    o.props = cli.props;
    o.n_props = cli.n_props;
    sf_cli_signals(on_signal, SF_CLI_SIG_NO_SIGPIPE);

    sf_release_key *vkey = NULL;
    if (verify && !(vkey = sf_release_key_load(verify, 0, &err))) {
        fprintf(stderr, "satisfy-scorer: --verify-key: %s\n", err.msg);
        return 1;
    }
    o.verify_key = vkey;
    sf_stats *stats = sf_stats_new();
    sf_drift *drift =
        drift_window ? sf_drift_new((size_t)drift_window, drift_interval, o.instance_id) : NULL;
    sf_alerts *alerts = sf_alerts_new(alert_threshold, log_line, NULL);
    if (!stats || (drift_window && !drift) || !alerts) {
        fprintf(stderr, "satisfy-scorer: out of memory\n");
        sf_stats_free(stats);
        sf_drift_free(drift);
        sf_alerts_free(alerts);
        sf_release_key_free(vkey);
        return 1;
    }
    sf_http *srv = NULL;
    if (http) {
        sf_http_opts ho = {.addr = http,
                           .stats = stats,
                           .web = sf_web_files,
                           .version = SATISFY_VERSION,
                           .verify_key = vkey,
                           .drift = drift,
                           .alerts = alerts};
        srv = sf_http_start(&ho, &err);
        sf_kafka_conn conn = {.brokers = o.brokers, .props = o.props, .n_props = o.n_props};
        if (!srv || sf_http_watch(srv, &conn, &err) != 0) {
            fprintf(stderr, "satisfy-scorer: --http %s: %s\n", http, err.msg);
            sf_http_stop(srv);
            sf_stats_free(stats);
            sf_drift_free(drift);
            sf_alerts_free(alerts);
            sf_release_key_free(vkey);
            return 1;
        }
        char line[128];
        snprintf(line, sizeof line,
                 "serving /healthz and /metrics on port %d (web app at /, API at /v1/)",
                 sf_http_port(srv));
        log_line(NULL, line);
    }
    o.stats = stats;
    o.drift = drift;
    o.alerts = alerts;
    if (srv) {
        o.on_history = give_history;
        o.on_history_arg = srv;
    }
    o.log = log_line;
    o.stop = &stop_flag;
    rc = sf_scorer_run(&o, &err);
    sf_stats_snapshot snap;
    sf_stats_get(stats, &snap);
    sf_http_stop(srv);
    sf_stats_free(stats);
    sf_drift_free(drift);
    sf_alerts_counts ac;
    sf_alerts_get(alerts, &ac);
    sf_alerts_free(alerts);
    sf_release_key_free(vkey);
    if (rc < 0) {
        fprintf(stderr, "satisfy-scorer: %s\n", err.msg);
        return 1;
    }
    char line[256];
    snprintf(line, sizeof line,
             "stopped: %llu events, %llu predictions, %llu to dlq, %llu batches, %llu aborted, "
             "model %lld, %llu alerts",
             (unsigned long long)snap.events, (unsigned long long)snap.predictions,
             (unsigned long long)snap.dlq, (unsigned long long)snap.batches,
             (unsigned long long)snap.aborts, (long long)snap.model_version,
             (unsigned long long)ac.emitted);
    log_line(NULL, line);
    return 0;
}
