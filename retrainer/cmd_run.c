/*
 * cmd_run.c - `satisfy-retrainer run`: the command line of the streaming
 * retrainer (retrainer.h).
 *
 * Parses the options, installs the SIGTERM/SIGINT handlers once the
 * retrainer is subscribed, and turns the outcome into the exit status. The
 * retrainer itself (consume, store, retrain, gate, publish, online accuracy,
 * stats file) is sf_retrainer_open/run/close in libsatisfy; its lines go to
 * stderr with a UTC timestamp.
 *
 * SIGTERM/SIGINT: the batch in hand is finished and committed, then the
 * consumer leaves the group and the producer is flushed.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "satisfy/cli.h"
#include "satisfy/drift_detect.h"
#include "satisfy/gate.h"
#include "satisfy/kafka.h"
#include "satisfy/online.h"
#include "satisfy/retrainer.h"
#include "satisfy/train.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    sf_cli_stop_signal(&stop_flag);
}

typedef struct cfg {
    sf_retrainer_opts o;
    sf_cli cli; /* its -X list is the retrainer's props */
} cfg;

/* sf_log_fn: one line on stderr, after a UTC timestamp and the command. */
static void log_line(void *arg, const char *line)
{
    (void)arg;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s satisfy-retrainer run: %s\n", ts, line);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: satisfy-retrainer run --brokers LIST --registry FILE [options]\n"
            "\n"
            "Consumes satisfy.orders, satisfy.reviews and satisfy.predictions as a consumer\n"
            "group, keeps every order event and review in an SQLite store with idempotent\n"
            "upserts (a replay or a restart counts nothing twice), retrains through the same\n"
            "pipeline as `train` every N new reviews and/or every D days of event time, gates\n"
            "against the champion, records every run in the registry and publishes released\n"
            "models to satisfy.models. Online accuracy of each released version (its\n"
            "delivered-stage predictions against the reviews) goes to satisfy.metrics.\n"
            "Consumption pauses while a model trains.\n"
            "\n"
            "  --brokers LIST         bootstrap servers\n"
            "  --registry FILE        registry.db (created if missing)\n"
            "  --store FILE           example store (default: registry path + \".store\")\n"
            "  --retrain-every N      retrain after N new reviews (default 2000; 0 = off)\n"
            "  --retrain-interval D   retrain after D days of event time (default 0 = off)\n"
            "  --min-reviews M        reviews stored before the first retrain (default 500)\n"
            "  --train-window DAYS    a retrain learns from the orders purchased in the last\n"
            "                         DAYS days of the stored data (default %g; 0 = every\n"
            "                         stored order), reading only those from the store plus\n"
            "                         the events since the last retrain's window start\n"
            "  --holdout F            most recent share of labeled orders held out (default %.2f)\n"
            "  --margin M             minimum RMSE gain to release (default %.3f)\n"
            "  --alert-precision P    target precision of the at-risk alert threshold, chosen\n"
            "                         on the holdout (default %.2f; docs/model.md)\n"
            "  --algorithm gbdt|ridge candidate learner (default gbdt)\n"
            "  --threads N            XGBoost nthread (default 2)\n"
            "  --window N             online accuracy window per version (default %d)\n"
            "  --group G              consumer group (default satisfy-retrainer)\n"
            "  --stats-file FILE      rewrite FILE (atomically) after every batch with the\n"
            "                         counters as one line of JSON, for scripts and probes\n"
            "  --signing-key FILE     sign every release with this PEM Ed25519 private key\n"
            "                         (satisfy-retrainer keygen); without it releases are\n"
            "                         unsigned (demo only, warned at start)\n"
            "  --drift-delta D        outcome drift (Page-Hinkley on the champion's absolute\n"
            "                         error as reviews arrive): tolerated increase of the\n"
            "                         mean error, stars (default %g)\n"
            "  --drift-lambda L       accumulated excess error that raises an alarm (default %g)\n"
            "  --drift-min-samples N  errors after a reset before an alarm can fire (default %d)\n"
            "  --retrain-on-drift     a drift alarm makes a retrain due at once (once the\n"
            "                         minimum of reviews is stored): an outcome drift alarm, or an\n"
            "                         input drift alarm of a scorer (it then also reads the\n"
            "                         scorers' PSI on satisfy.metrics; one retrain per model\n"
            "                         version); the run's log and the decision on\n"
            "                         satisfy.metrics and in the registry say which\n"
            "  --input-drift-psi T    PSI of a watched feature that raises an input drift\n"
            "                         alarm (default %.2f; calendar and history features are\n"
            "                         not watched: docs/model.md)\n"
            "  --challengers          a candidate the gate rejects but that is not clearly worse\n"
            "                         (docs/model.md) becomes the shadow challenger when none\n"
            "                         is running: scorers also score with it (satisfy.shadow)\n"
            "                         and this retrainer promotes or retires it on live orders\n"
            "                         (a challenger started by `registry challenge N` is judged\n"
            "                         with or without this option)\n"
            "  --challenge-min-orders M  live orders joined before a decision (default %d)\n"
            "  --challenge-max-orders N  retire a challenger undecided after N orders\n"
            "                         (default %d)\n"
            "  --challenge-confidence C  level of the live paired bootstrap's interval\n"
            "                         (default %.2f; margin, resamples and seed: the gate's)\n"
            "  -X key=value           librdkafka property for consumer and producer (repeatable)\n"
            "  --help                 this text\n"
            "\n"
            "Exit status: 0 stopped by SIGTERM/SIGINT after committing, 1 error, 2 usage.\n",
            (double)SF_RETRAINER_TRAIN_WINDOW, SF_HOLDOUT_DEFAULT, SF_GATE_MARGIN,
            SF_ALERT_PRECISION_DEFAULT, SF_ONLINE_WINDOW, SF_PH_DELTA, (double)SF_PH_LAMBDA,
            SF_PH_MIN_SAMPLES, SF_INPUT_DRIFT_PSI, SF_CHALLENGE_MIN_ORDERS, SF_CHALLENGE_MAX_ORDERS,
            SF_GATE_CONFIDENCE);
}

static int parse_args(int argc, char **argv, cfg *c)
{
    static const struct option LONG[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"registry", required_argument, NULL, 'r'},
        {"store", required_argument, NULL, 's'},
        {"retrain-every", required_argument, NULL, 'n'},
        {"retrain-interval", required_argument, NULL, 'd'},
        {"min-reviews", required_argument, NULL, 'm'},
        {"train-window", required_argument, NULL, 'T'},
        {"holdout", required_argument, NULL, 'H'},
        {"margin", required_argument, NULL, 'M'},
        {"alert-precision", required_argument, NULL, 'P'},
        {"algorithm", required_argument, NULL, 'a'},
        {"threads", required_argument, NULL, 't'},
        {"window", required_argument, NULL, 'w'},
        {"group", required_argument, NULL, 'g'},
        {"stats-file", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},
        {"signing-key", required_argument, NULL, 'K'},
        {"drift-delta", required_argument, NULL, 1001},
        {"drift-lambda", required_argument, NULL, 1002},
        {"drift-min-samples", required_argument, NULL, 1003},
        {"retrain-on-drift", no_argument, NULL, 1004},
        {"challengers", no_argument, NULL, 1005},
        {"input-drift-psi", required_argument, NULL, 1009},
        {"challenge-min-orders", required_argument, NULL, 1006},
        {"challenge-max-orders", required_argument, NULL, 1007},
        {"challenge-confidence", required_argument, NULL, 1008},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(c, 0, sizeof *c);
    sf_retrainer_opts_default(&c->o);
    c->cli.prog = "satisfy-retrainer run";
    optind = 1;
    int ch, rc;
    sf_err err;
    while ((ch = getopt_long(argc, argv, "X:", LONG, NULL)) != -1) {
        switch (ch) {
        case 'b':
            c->o.brokers = optarg;
            break;
        case 'r':
            c->o.registry = optarg;
            break;
        case 's':
            c->o.store = optarg;
            break;
        case 'n':
            if (sf_cli_long("--retrain-every", optarg, 0, 1000000000, &c->o.every, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 'd':
            if (sf_cli_double("--retrain-interval", optarg, 0, 3650, &c->o.days, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 'm':
            if (sf_cli_long("--min-reviews", optarg, 0, 1000000000, &c->o.min_reviews, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 'T':
            if (sf_cli_double("--train-window", optarg, 0, 36500, &c->o.train_window, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 'H':
            if (sf_cli_double("--holdout", optarg, 0.01, 0.9, &c->o.train.holdout, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 'M':
            if (sf_cli_double("--margin", optarg, 0, 5, &c->o.train.gate.margin, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 'P':
            if (sf_cli_double("--alert-precision", optarg, 0.01, 1, &c->o.train.alert_precision,
                              &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 'a':
            if (sf_algo_parse(optarg, &c->o.train.algo, &err) != 0)
                return sf_cli_usage(&c->cli, "--algorithm: %s", err.msg);
            break;
        case 't':
            if (sf_cli_int("--threads", optarg, 1, 64, &c->o.train.threads, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 'w':
            if (sf_cli_long("--window", optarg, 1, 10000000, &c->o.window, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 'g':
            c->o.group = optarg;
            break;
        case 'S':
            c->o.stats_file = optarg;
            break;
        case 'q':
            c->o.quiet = 1;
            break;
        case 'K':
            c->o.signing_key = optarg;
            break;
        case 1001:
            if (sf_cli_double("--drift-delta", optarg, 0, 4, &c->o.drift.delta, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 1002:
            if (sf_cli_double("--drift-lambda", optarg, 0.001, 1e9, &c->o.drift.lambda, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 1003:
            if (sf_cli_long("--drift-min-samples", optarg, 1, 1000000000, &c->o.drift.min_samples,
                            &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 1004:
            c->o.retrain_on_drift = 1;
            break;
        case 1005:
            c->o.challengers = 1;
            break;
        case 1009:
            if (sf_cli_double("--input-drift-psi", optarg, 0.001, 100, &c->o.input_drift_psi,
                              &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 1006:
        case 1007: {
            long v;
            if (sf_cli_long(ch == 1006 ? "--challenge-min-orders" : "--challenge-max-orders",
                            optarg, 10, 100000000, &v, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            *(ch == 1006 ? &c->o.challenge.min_orders : &c->o.challenge.max_orders) = (size_t)v;
            break;
        }
        case 1008:
            if (sf_cli_double("--challenge-confidence", optarg, 0.51, 0.9999,
                              &c->o.challenge.gate.confidence, &err) < 0)
                return sf_cli_bad(&c->cli, &err);
            break;
        case 'X':
            if ((rc = sf_cli_prop(&c->cli, optarg)))
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
    if ((rc = sf_cli_operands(&c->cli, argc, argv, optind)))
        return rc;
    if (c->o.challenge.max_orders < c->o.challenge.min_orders)
        return sf_cli_usage(&c->cli,
                            "--challenge-max-orders %zu is below --challenge-min-orders %zu",
                            c->o.challenge.max_orders, c->o.challenge.min_orders);
    if (!c->o.brokers || !c->o.registry) {
        rc = sf_cli_usage(&c->cli, "--brokers and --registry are required");
        usage(stderr);
        return rc;
    }
    if (c->o.every == 0 && c->o.days == 0)
        return sf_cli_usage(&c->cli, "--retrain-every and --retrain-interval are both off");
    if (sf_kafka_props_check(c->cli.props, c->cli.n_props, &err) != 0)
        return sf_cli_bad(&c->cli, &err);
    c->o.props = c->cli.props;
    c->o.n_props = c->cli.n_props;
    return -1;
}

int cmd_run(int argc, char **argv)
{
    cfg c;
    int prc = parse_args(argc, argv, &c);
    if (prc >= 0)
        return prc;
    c.o.log = log_line;
    c.o.stop = &stop_flag;
    sf_err err;
    sf_retrainer *rt;
    if (sf_retrainer_open(&rt, &c.o, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer run: %s\n", err.msg);
        return 1;
    }
    sf_cli_signals(on_signal, 0);
    int status = 0;
    if (sf_retrainer_run(rt, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer run: %s\n", err.msg);
        status = 1;
    }
    if (sf_retrainer_close(rt) != 0)
        status = 1;
    return status;
}
