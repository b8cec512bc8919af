/*
 * cmd_train.c - `satisfy-retrainer train`: load the Olist tables, run the
 * batch pipeline (train.h) against a registry, print a readable report and
 * optionally write the JSON report.
 *
 * The printed report is a table per metric (model rows x stages), the gate
 * decision with its reason, the registered version and the step durations.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "satisfy/cli.h"
#include "satisfy/lifecycle.h"
#include "satisfy/olist.h"
#include "satisfy/render.h"
#include "satisfy/train.h"
#include "satisfy/window.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: satisfy-retrainer train --data DIR --registry FILE [options]\n"
            "\n"
            "Builds the lifecycle events of the Olist tables in DIR, trains the model rows\n"
            "(mean, seed baseline, ridge, gbdt) on all but the most recent orders, evaluates\n"
            "them and the current champion on that holdout per stage, and releases the\n"
            "candidate only if it passes the gate (RMSE gain >= margin and the lower 95%%\n"
            "bootstrap bound of the squared-error difference > 0). Every run and version is\n"
            "recorded in the registry with the decision's reason.\n"
            "\n"
            "  --data DIR             directory of the Olist .csv or .csv.gz files\n"
            "  --registry FILE        registry.db (created if missing)\n"
            "  --algorithm gbdt|ridge candidate learner (default gbdt)\n"
            "  --features full|seed   candidate feature spec (default full)\n"
            "  --holdout F            most recent share of labeled orders held out (default %.2f)\n"
            "  --margin M             minimum RMSE gain to release (default %.3f)\n"
            "  --alert-precision P    target precision of the at-risk alert threshold, chosen\n"
            "                         on the holdout (default %.2f; docs/model.md)\n"
            "  --seed S               learner and bootstrap seed (default 42)\n"
            "  --resamples N          bootstrap resamples (default %d)\n"
            "  --threads N            XGBoost nthread (default 2)\n"
            "  --train-window DAYS    learn only from the orders purchased in the last DAYS\n"
            "                         days of the data, as `run --train-window` does (default\n"
            "                         0 = every order); the holdout is the most recent share\n"
            "                         of those\n"
            "  --strict               fail on the first bad input row (default: skip, count)\n"
            "  --report FILE.json     write the JSON report\n"
            "  --quiet                no printed report (errors still go to stderr)\n"
            "  --help                 this text\n"
            "\n"
            "Exit status: 0 trained and recorded (released or rejected), 1 error, 2 usage.\n",
            SF_HOLDOUT_DEFAULT, SF_GATE_MARGIN, SF_ALERT_PRECISION_DEFAULT, SF_GATE_RESAMPLES);
}

/* The newest order event or review time of the events (the data's end). */
static int64_t newest_time(const sf_training_events *ev)
{
    int64_t t = SF_TIME_NONE;
    for (size_t i = 0; i < ev->n_orders; i++)
        if (ev->orders[i].event_time > t)
            t = ev->orders[i].event_time;
    for (size_t i = 0; i < ev->n_reviews; i++)
        if (ev->reviews[i].created > t)
            t = ev->reviews[i].created;
    return t;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The tables and the events built from them: freed as soon as the training
 * rows are built (sf_train_opts.events_done), not held through the learning. */
typedef struct train_inputs {
    sf_dataset *ds;
    sf_training_events *ev;
} train_inputs;

static void free_inputs(void *arg)
{
    train_inputs *in = arg;
    sf_training_events_free(in->ev);
    sf_dataset_free(in->ds);
}

/* A bad option value: its message (cli.h) and the usage exit status. */
static int usage_error(const sf_err *err)
{
    fprintf(stderr, "satisfy-retrainer train: %s\n", err->msg);
    return 2;
}

typedef double (*metric_fn)(const sf_metrics *m);
static double m_rmse(const sf_metrics *m)
{
    return m->rmse;
}
static double m_mae(const sf_metrics *m)
{
    return m->mae;
}
static double m_r2(const sf_metrics *m)
{
    return m->r2;
}
static double m_auc(const sf_metrics *m)
{
    return m->auc;
}
static double m_prauc(const sf_metrics *m)
{
    return m->pr_auc;
}

static void print_cell(double v)
{
    if (isfinite(v))
        printf(" %10.4f", v);
    else
        printf(" %10s", "-");
}

static void print_report(const sf_train_report *rep, const sf_train_opts *o)
{
    char a[32], b[32], c[32];
    printf("data: %zu orders, %zu labeled; %zu order events (rows)\n", rep->n_orders,
           rep->n_labeled, rep->n_rows);
    sf_time_format(rep->split.train_from, a, sizeof a);
    sf_time_format(rep->split.cutoff, b, sizeof b);
    sf_time_format(rep->split.test_to, c, sizeof c);
    printf("split: train %zu orders (%zu rows) purchased %s .. before %s;\n"
           "       holdout %zu orders (%zu rows) purchased %s .. %s (most recent %.0f%%)\n",
           rep->split.n_train, rep->n_train_rows, a, b, rep->split.n_test, rep->n_test_rows, b, c,
           o->holdout * 100.0);
    printf("candidate: %s (%s, features %s, spec %s)\n\n", rep->rows[rep->candidate].name,
           sf_algo_name(o->algo), o->features, rep->spec_hash);

    bool stages[SF_STAGE_COUNT] = {0};
    for (int r = 0; r < SF_ROW_MAX; r++)
        for (int s = 0; s < SF_STAGE_COUNT; s++)
            stages[s] |= rep->rows[r].present && rep->rows[r].has_stage[s];
    static const struct {
        const char *name;
        metric_fn fn;
    } metrics[] = {
        {"rmse", m_rmse}, {"mae", m_mae}, {"r2", m_r2}, {"auc", m_auc}, {"pr_auc", m_prauc}};
    printf("%-7s %-16s", "metric", "model");
    for (int s = 0; s < SF_STAGE_COUNT; s++)
        if (stages[s])
            printf(" %10s", sf_stage_name((sf_stage)s));
    printf(" %10s\n", "ALL");
    for (size_t k = 0; k < sizeof metrics / sizeof metrics[0]; k++) {
        for (int r = 0; r < SF_ROW_MAX; r++) {
            const sf_train_row *row = &rep->rows[r];
            if (!row->present)
                continue;
            char label[40];
            snprintf(label, sizeof label, "%s%s", row->name, r == rep->candidate ? " *" : "");
            printf("%-7s %-16s", metrics[k].name, label);
            for (int s = 0; s < SF_STAGE_COUNT; s++)
                if (stages[s])
                    print_cell(row->has_stage[s] ? metrics[k].fn(&row->stage[s]) : NAN);
            print_cell(metrics[k].fn(&row->all));
            printf("\n");
        }
    }
    const sf_train_row *m = &rep->rows[SF_ROW_MEAN];
    printf("%-7s %-16s", "n", "(holdout rows)");
    for (int s = 0; s < SF_STAGE_COUNT; s++)
        if (stages[s])
            printf(" %10zu", m->has_stage[s] ? m->stage[s].n : 0);
    printf(" %10zu\n", m->all.n);
    printf(
        "(* = candidate; mean = constant %.4f; seed = the originating project's 12 features)\n\n",
        rep->mean_label);

    const sf_alert_choice *al = &rep->alert;
    if (al->found)
        printf("alert: threshold %.4f for precision >= %.2f: precision %.3f, recall %.3f "
               "(%zu of %zu holdout orders alerted, %zu with 1-2 stars)\n",
               al->threshold, al->target, al->precision, al->recall, al->n_alerted, al->n_orders,
               al->n_positive);
    else
        printf("alert: no threshold reaches precision %.2f on %zu holdout orders: no alerts\n",
               al->target, al->n_orders);
    printf("gate: %s\n  %s\n", rep->released ? "RELEASED" : "REJECTED", rep->gate.reason);
    if (rep->released)
        printf("version %lld registered and promoted to champion", (long long)rep->version);
    else
        printf("version %lld registered as rejected", (long long)rep->version);
    if (rep->champion_before)
        printf(" (champion before: v%lld)", (long long)rep->champion_before);
    printf("; run %lld; artifact %zu bytes\n", (long long)rep->run_id, rep->artifact_bytes);
    printf("steps:");
    for (int s = 0; s < SF_STEP_COUNT; s++)
        printf(" %s %.2fs", sf_train_step_name((sf_train_step)s), rep->seconds[s]);
    printf("\n");
}

int cmd_train(int argc, char **argv)
{
    enum {
        O_DATA = 1,
        O_REG,
        O_ALGO,
        O_FEAT,
        O_HOLD,
        O_MARGIN,
        O_ALERT,
        O_SEED,
        O_RES,
        O_THREADS,
        O_WINDOW,
        O_STRICT,
        O_REPORT,
        O_QUIET,
        O_HELP
    };
    static const struct option opts[] = {{"data", required_argument, 0, O_DATA},
                                         {"registry", required_argument, 0, O_REG},
                                         {"algorithm", required_argument, 0, O_ALGO},
                                         {"features", required_argument, 0, O_FEAT},
                                         {"holdout", required_argument, 0, O_HOLD},
                                         {"margin", required_argument, 0, O_MARGIN},
                                         {"alert-precision", required_argument, 0, O_ALERT},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"resamples", required_argument, 0, O_RES},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"train-window", required_argument, 0, O_WINDOW},
                                         {"strict", no_argument, 0, O_STRICT},
                                         {"report", required_argument, 0, O_REPORT},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"help", no_argument, 0, O_HELP},
                                         {0, 0, 0, 0}};
    const char *data = NULL, *regpath = NULL, *report = NULL;
    bool strict = false, quiet = false;
    sf_train_opts o;
    sf_train_opts_default(&o);
    double window = 0;
    sf_err err = {{0}};
    long l;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA:
            data = optarg;
            break;
        case O_REG:
            regpath = optarg;
            break;
        case O_ALGO:
            if (sf_algo_parse(optarg, &o.algo, &err) != 0) {
                fprintf(stderr, "satisfy-retrainer train: --algorithm: %s\n", err.msg);
                return 2;
            }
            break;
        case O_FEAT:
            if (strcmp(optarg, "full") != 0 && strcmp(optarg, "seed") != 0) {
                fprintf(stderr,
                        "satisfy-retrainer train: --features '%s' (expected full or seed)\n",
                        optarg);
                return 2;
            }
            o.features = optarg;
            break;
        case O_HOLD:
            if (sf_cli_double("--holdout", optarg, 0.01, 0.9, &o.holdout, &err) < 0)
                return usage_error(&err);
            break;
        case O_MARGIN:
            if (sf_cli_double("--margin", optarg, 0.0, 5.0, &o.gate.margin, &err) < 0)
                return usage_error(&err);
            break;
        case O_ALERT:
            if (sf_cli_double("--alert-precision", optarg, 0.01, 1.0, &o.alert_precision, &err) < 0)
                return usage_error(&err);
            break;
        case O_SEED:
            if (sf_cli_long("--seed", optarg, 0, 2147483647L, &l, &err) < 0)
                return usage_error(&err);
            o.seed = (uint64_t)l;
            o.gate.seed = (unsigned long)l;
            break;
        case O_RES:
            if (sf_cli_int("--resamples", optarg, 10, 1000000, &o.gate.resamples, &err) < 0)
                return usage_error(&err);
            break;
        case O_THREADS:
            if (sf_cli_int("--threads", optarg, 1, 256, &o.threads, &err) < 0)
                return usage_error(&err);
            break;
        case O_WINDOW:
            if (sf_cli_double("--train-window", optarg, 0, 36500, &window, &err) < 0)
                return usage_error(&err);
            break;
        case O_STRICT:
            strict = true;
            break;
        case O_REPORT:
            report = optarg;
            break;
        case O_QUIET:
            quiet = true;
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "satisfy-retrainer train: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!data || !regpath) {
        fprintf(stderr, "satisfy-retrainer train: --data and --registry are required\n");
        usage(stderr);
        return 2;
    }
    o.source = data;

    double t0 = mono();
    sf_dataset ds;
    sf_training_events ev = {0};
    train_inputs in = {&ds, &ev};
    o.events_done = free_inputs;
    o.events_done_arg = &in;
    sf_load_opts lo = {.strict = strict, .report = stderr};
    if (sf_dataset_load(&ds, data, &lo, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer train: %s\n", err.msg);
        return 1;
    }
    /* training learns from the events the producer would publish (in their
     * compact form: one event per order and its stages) */
    if (sf_lifecycle_events_compact(&ds, &ev.orders, &ev.n_orders, &ev.stages, &ev.n_stages,
                                    &ev.reviews, &ev.n_reviews, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer train: %s\n", err.msg);
        sf_dataset_free(&ds);
        return 1;
    }
    sf_dataset_drop_orders(&ds); /* the events hold copies of them */
    ev.drop_as_read = 1;         /* read only by the replay, then freed (free_inputs) */
    o.ingest_seconds = mono() - t0;
    o.rows_from = sf_window_start(newest_time(&ev), window);
    size_t skipped = sf_dataset_skipped(&ds);
    if (skipped && !quiet)
        printf("ingest: %zu bad input rows skipped (see stderr)\n", skipped);

    sf_registry *reg;
    sf_train_report rep;
    int rc = sf_registry_open(&reg, regpath, NULL, &err);
    if (rc == 0) {
        rc = sf_train_run(&ev, reg, &o, &rep, &err);
        sf_registry_close(reg);
    }
    sf_training_events_free(&ev);
    sf_dataset_free(&ds);
    if (rc != 0) {
        fprintf(stderr, "satisfy-retrainer train: %s\n", err.msg);
        return 1;
    }
    if (!quiet)
        print_report(&rep, &o);
    if (report) {
        cJSON *j = sf_train_report_json(&rep, &o);
        char *s = cJSON_Print(j);
        cJSON_Delete(j);
        FILE *f = fopen(report, "w");
        int ok = f && s && fputs(s, f) >= 0 && fputc('\n', f) != EOF;
        if (f && fclose(f) != 0)
            ok = 0;
        free(s);
        if (!ok) {
            fprintf(stderr, "satisfy-retrainer train: cannot write report %s: %s\n", report,
                    strerror(errno));
            return 1;
        }
    }
    return 0;
}
