/*
 * cmd_registry.c - `satisfy-retrainer registry list|show N|history`: the
 * versions in registry.db as aligned tables for people, or as JSON (--json)
 * for tools; and `registry promote N` / `registry rollback`, the two hand
 * changes of the served model, and `registry challenge N`, which starts a
 * shadow challenger by hand (serving.h): recorded with their reason in the
 * registry's serving history, then published as a ServingState that every
 * scorer obeys within seconds.
 *
 * The list and show views come from render.h's JSON of the registry
 * records, so the table and the JSON cannot disagree.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "satisfy/cli.h"
#include "satisfy/olist.h"
#include "satisfy/registry.h"
#include "satisfy/render.h"
#include "satisfy/serving.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: satisfy-retrainer registry list [--registry FILE] [--json]\n"
               "       satisfy-retrainer registry show N [--registry FILE] [--json]\n"
               "       satisfy-retrainer registry history [--registry FILE] [--json]\n"
               "       satisfy-retrainer registry challenges [--registry FILE] [--json]\n"
               "       satisfy-retrainer registry promote N --brokers LIST --reason TEXT\n"
               "                         [--registry FILE] [--signing-key FILE] [-X k=v]\n"
               "       satisfy-retrainer registry rollback --brokers LIST --reason TEXT\n"
               "                         [--registry FILE] [--signing-key FILE] [-X k=v]\n"
               "       satisfy-retrainer registry challenge N --brokers LIST --reason TEXT\n"
               "                         [--registry FILE] [--signing-key FILE] [-X k=v]\n"
               "\n"
               "  list        every model version, newest first: status, algorithm, spec hash,\n"
               "              size, training window and the gate's reason\n"
               "  show N      version N with its run: params, data window, row counts, step\n"
               "              durations and the metrics of every model row per stage\n"
               "  history     the serving history: every change of the served model (epoch,\n"
               "              champion, challenger, cause gate/promote/rollback/live/\n"
               "              challenger/retire, reason, time)\n"
               "  challenges  every shadow challenge: challenger, champion, start, outcome\n"
               "              (promoted, retired, ended) with its reason; --json adds the\n"
               "              live test's numbers\n"
               "  promote N   serve version N (it must have been released before): records\n"
               "              it, publishes its release again and a ServingState to\n"
               "              satisfy.models; every scorer switches to it within seconds\n"
               "  rollback    the same, back to the champion before the current one (per\n"
               "              the serving history)\n"
               "  challenge N shadow version N against the champion: every scorer also\n"
               "              scores with it, to satisfy.shadow, and a running `satisfy-\n"
               "              retrainer run` promotes or retires it on live orders (one\n"
               "              challenger at a time; docs/operations.md)\n"
               "  --brokers LIST     bootstrap servers (promote, rollback, challenge)\n"
               "  --reason TEXT      who asks and why (promote, rollback, challenge;\n"
               "                     required)\n"
               "  --signing-key FILE sign the release and the ServingState (PEM Ed25519\n"
               "              private key, as `run --signing-key`); scorers with a verify\n"
               "              key refuse an unsigned one\n"
               "  -X key=value       librdkafka property (repeatable)\n"
               "  --registry FILE  registry.db (default ./registry.db)\n"
               "  --json      print JSON instead of tables\n");
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static void ftime(const cJSON *o, const char *k, char *buf, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNumber(v) && v->valuedouble != 0.0)
        sf_time_format((int64_t)v->valuedouble, buf, len);
    else
        snprintf(buf, len, "-");
}

static void print_list(const cJSON *arr)
{
    printf("%7s  %-9s  %-5s  %-16s  %9s  %-19s  %-10s  %-10s  %s\n", "version", "status", "algo",
           "spec_hash", "bytes", "created", "train_from", "train_to", "reason");
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        char cr[32], tf[32], tt[32];
        ftime(v, "created", cr, sizeof cr);
        ftime(v, "train_from", tf, sizeof tf);
        ftime(v, "train_to", tt, sizeof tt);
        tf[10] = tt[10] = '\0'; /* the date is enough here */
        const char *reason = str(v, "reason");
        printf("%7.0f  %-9s  %-5s  %-16s  %9.0f  %-19s  %-10s  %-10s  %.90s%s\n", num(v, "version"),
               str(v, "status"), str(v, "algorithm"), str(v, "spec_hash"), num(v, "size"), cr, tf,
               tt, reason, strlen(reason) > 90 ? "..." : "");
    }
    if (cJSON_GetArraySize(arr) == 0)
        printf("(no versions)\n");
}

static void print_cell(const cJSON *m, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);
    if (cJSON_IsNumber(v))
        printf(" %8.4f", v->valuedouble);
    else
        printf(" %8s", "-");
}

static void print_show(const cJSON *o)
{
    char cr[32], tf[32], tt[32];
    ftime(o, "created", cr, sizeof cr);
    ftime(o, "train_from", tf, sizeof tf);
    ftime(o, "train_to", tt, sizeof tt);
    printf("version     %.0f%s\n", num(o, "version"),
           cJSON_IsTrue(cJSON_GetObjectItem(o, "champion")) ? "  (champion)" : "");
    printf("status      %s\n", str(o, "status"));
    printf("algorithm   %s\n", str(o, "algorithm"));
    printf("spec_hash   %s\n", str(o, "spec_hash"));
    printf("sha256      %s\n", str(o, "sha256"));
    printf("bytes       %.0f\n", num(o, "size"));
    printf("created     %s\n", cr);
    printf("training    %s .. %s\n", tf, tt);
    printf("reason      %s\n", str(o, "reason"));
    const cJSON *run = cJSON_GetObjectItem(o, "run");
    if (run) {
        char st[32], en[32], df[32], dt[32];
        ftime(run, "started", st, sizeof st);
        ftime(run, "ended", en, sizeof en);
        ftime(run, "data_from", df, sizeof df);
        ftime(run, "data_to", dt, sizeof dt);
        char *params = cJSON_PrintUnformatted(cJSON_GetObjectItem(run, "params"));
        printf("run         %.0f (%s, %s) %s .. %s\n", num(run, "id"), str(run, "experiment"),
               str(run, "status"), st, en);
        printf(
            "data        purchases %s .. %s: %.0f orders (train %.0f, holdout %.0f), %.0f rows\n",
            df, dt, num(run, "n_orders"), num(run, "n_train"), num(run, "n_test"),
            num(run, "n_rows"));
        printf("params      %s\n", params ? params : "null");
        free(params);
    }
    const cJSON *steps = cJSON_GetObjectItem(o, "steps");
    if (steps && cJSON_GetArraySize(steps) > 0) {
        printf("steps      ");
        const cJSON *s;
        cJSON_ArrayForEach(s, steps) printf(" %s %.2fs", s->string, s->valuedouble);
        printf("\n");
    }
    const cJSON *rows = cJSON_GetObjectItem(o, "run_metrics");
    if (rows && cJSON_GetArraySize(rows) > 0) {
        printf("\n%-10s %-11s %7s %8s %8s %8s %8s %8s\n", "model", "stage", "n", "rmse", "mae",
               "r2", "auc", "pr_auc");
        const cJSON *m;
        cJSON_ArrayForEach(m, rows)
        {
            printf("%-10s %-11s %7.0f", str(m, "model"), str(m, "stage"), num(m, "n"));
            print_cell(m, "rmse");
            print_cell(m, "mae");
            print_cell(m, "r2");
            print_cell(m, "auc");
            print_cell(m, "pr_auc");
            printf("\n");
        }
    }
}

/* What promote and rollback need beyond the registry. */
struct serve_args {
    sf_cli cli; /* its -X list */
    const char *brokers, *reason, *sign_key;
};

static int print_history(sf_registry *r, bool json)
{
    sf_err err;
    sf_serving_state *h;
    size_t n;
    if (sf_registry_serving_history(r, &h, &n, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer registry history: %s\n", err.msg);
        return 1;
    }
    if (json)
        printf("[");
    else
        printf("%5s  %8s  %10s  %-10s  %-19s  %s\n", "epoch", "champion", "challenger", "cause",
               "at", "reason");
    for (size_t i = 0; i < n; i++) {
        if (json) {
            char *j = sf_serving_to_json(&h[i], &err);
            printf("%s%s", i ? ",\n " : "", j ? j : "null");
            free(j);
            continue;
        }
        char at[32];
        sf_time_format(h[i].at, at, sizeof at);
        printf("%5lld  %8lld  %10lld  %-10s  %-19s  %s\n", (long long)h[i].epoch,
               (long long)h[i].champion, (long long)h[i].challenger, h[i].cause, at, h[i].reason);
    }
    if (json)
        printf("]\n");
    else if (n == 0)
        printf("(no serving history)\n");
    free(h);
    return 0;
}

static int print_challenges(sf_registry *r, bool json)
{
    sf_err err;
    sf_challenge_row *c;
    size_t n;
    if (sf_registry_challenges(r, &c, &n, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer registry challenges: %s\n", err.msg);
        return 1;
    }
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    if (!json)
        printf("%10s  %8s  %-19s  %-8s  %s\n", "challenger", "champion", "started", "outcome",
               "reason");
    for (size_t i = 0; i < n; i++) {
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "challenger", (double)c[i].challenger);
            cJSON_AddNumberToObject(o, "champion", (double)c[i].champion);
            cJSON_AddNumberToObject(o, "started", (double)c[i].started);
            cJSON_AddStringToObject(o, "reason", c[i].reason ? c[i].reason : "");
            if (c[i].outcome[0]) {
                cJSON_AddNumberToObject(o, "ended", (double)c[i].ended);
                cJSON_AddStringToObject(o, "outcome", c[i].outcome);
                cJSON_AddStringToObject(o, "outcome_reason",
                                        c[i].outcome_reason ? c[i].outcome_reason : "");
            } else {
                cJSON_AddStringToObject(o, "outcome", "running");
            }
            cJSON *res = c[i].result_json ? cJSON_Parse(c[i].result_json) : NULL;
            if (res)
                cJSON_AddItemToObject(o, "result", res);
            cJSON_AddItemToArray(arr, o);
        } else {
            char at[32];
            sf_time_format(c[i].started, at, sizeof at);
            printf("%10lld  %8lld  %-19s  %-8s  %s\n", (long long)c[i].challenger,
                   (long long)c[i].champion, at, c[i].outcome[0] ? c[i].outcome : "running",
                   c[i].outcome_reason ? c[i].outcome_reason
                   : c[i].reason       ? c[i].reason
                                       : "");
        }
        sf_challenge_row_clear(&c[i]);
    }
    free(c);
    if (json) {
        char *s = cJSON_Print(arr);
        printf("%s\n", s ? s : "[]");
        free(s);
        cJSON_Delete(arr);
    } else if (n == 0) {
        printf("(no challenge)\n");
    }
    return 0;
}

/* registry promote N / rollback / challenge N. */
static int serve_change(sf_registry *r, const char *sub, int64_t version, struct serve_args *a)
{
    sf_err err;
    bool rollback = strcmp(sub, "rollback") == 0, challenge = strcmp(sub, "challenge") == 0;
    if (rollback) {
        sf_serving_state *h;
        size_t n;
        if (sf_registry_serving_history(r, &h, &n, &err) != 0) {
            fprintf(stderr, "satisfy-retrainer registry rollback: %s\n", err.msg);
            return 1;
        }
        version = sf_serving_rollback_target(h, n);
        free(h);
        if (version <= 0) {
            fprintf(stderr,
                    "satisfy-retrainer registry rollback: %s: the serving history has no "
                    "champion before the current one to go back to (see `registry history`)\n",
                    sf_registry_path(r));
            return 1;
        }
    }
    if (sf_kafka_props_check(a->cli.props, a->cli.n_props, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer registry %s: %s\n", sub, err.msg);
        return 2;
    }
    sf_release_key *key = NULL;
    if (a->sign_key && !(key = sf_release_key_load(a->sign_key, 1, &err))) {
        fprintf(stderr, "satisfy-retrainer registry %s: --signing-key %s\n", sub, err.msg);
        return 1;
    }
    sf_kafka_conn conn = {.brokers = a->brokers, .props = a->cli.props, .n_props = a->cli.n_props};
    sf_kafka_stats st;
    memset(&st, 0, sizeof st);
    sf_kafka_client_opts ko = {.role = SF_KAFKA_RELEASE_PRODUCER, .conn = conn, .stats = &st};
    rd_kafka_t *prod = sf_kafka_client_new(&ko, &err);
    int rc = 1;
    sf_serving_state s;
    if (prod) {
        sf_serving_change ch = {.conn = &conn,
                                .prod = prod,
                                .st = &st,
                                .sign = key,
                                .reg = r,
                                .version = version,
                                .cause = challenge ? "challenger" : sub,
                                .reason = a->reason,
                                .republish = 1,
                                .timeout_ms = 30000};
        rc = sf_serving_change_apply(&ch, &s, &err) == 0 ? 0 : 1;
        rd_kafka_destroy(prod);
    }
    sf_release_key_free(key);
    if (rc != 0) {
        fprintf(stderr, "satisfy-retrainer registry %s: %s\n", sub, err.msg);
        return 1;
    }
    if (challenge)
        printf("challenge: version %lld shadows champion %lld (epoch %lld, %s, reason: %s), "
               "published to %s\n",
               (long long)s.challenger, (long long)s.champion, (long long)s.epoch,
               key ? "signed" : "unsigned", s.reason, SF_TOPIC_MODELS);
    else
        printf("%s: version %lld is the champion (epoch %lld, %s, reason: %s), published to %s\n",
               sub, (long long)s.champion, (long long)s.epoch, key ? "signed" : "unsigned",
               s.reason, SF_TOPIC_MODELS);
    return 0;
}

int cmd_registry(int argc, char **argv)
{
    enum { O_REG = 1, O_JSON, O_HELP, O_BROKERS, O_REASON, O_SIGN };
    static const struct option opts[] = {{"registry", required_argument, 0, O_REG},
                                         {"json", no_argument, 0, O_JSON},
                                         {"help", no_argument, 0, O_HELP},
                                         {"brokers", required_argument, 0, O_BROKERS},
                                         {"reason", required_argument, 0, O_REASON},
                                         {"signing-key", required_argument, 0, O_SIGN},
                                         {0, 0, 0, 0}};
    const char *path = "registry.db";
    struct serve_args sa = {.cli = {.prog = "satisfy-retrainer registry"}};
    bool json = false;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "X:", opts, NULL)) != -1) {
        switch (c) {
        case O_REG:
            path = optarg;
            break;
        case O_BROKERS:
            sa.brokers = optarg;
            break;
        case O_REASON:
            sa.reason = optarg;
            break;
        case O_SIGN:
            sa.sign_key = optarg;
            break;
        case 'X':
            if ((rc = sf_cli_prop(&sa.cli, optarg)))
                return rc;
            break;
        case O_JSON:
            json = true;
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    long version = 0;
    static const char *const subs[] = {"list",    "show",     "history",  "challenges",
                                       "promote", "rollback", "challenge"};
    bool known = false;
    for (size_t i = 0; sub && i < sizeof subs / sizeof subs[0]; i++)
        known = known || strcmp(sub, subs[i]) == 0;
    if (!known) {
        fprintf(stderr, "satisfy-retrainer registry: expected 'list', 'show N', 'history', "
                        "'challenges', 'promote N', 'rollback' or 'challenge N'\n");
        usage(stderr);
        return 2;
    }
    bool show =
        strcmp(sub, "show") == 0 || strcmp(sub, "promote") == 0 || strcmp(sub, "challenge") == 0;
    bool serve = strcmp(sub, "promote") == 0 || strcmp(sub, "rollback") == 0 ||
                 strcmp(sub, "challenge") == 0;
    if (serve && (!sa.brokers || !sa.reason || !sa.reason[0])) {
        fprintf(stderr, "satisfy-retrainer registry %s: --brokers and --reason are required\n",
                sub);
        return 2;
    }
    if (show) {
        sf_err err;
        if (optind + 1 >= argc) {
            fprintf(stderr, "satisfy-retrainer registry %s: expected a version number\n", sub);
            return 2;
        }
        if (sf_cli_long(sub, argv[optind + 1], 1, LONG_MAX, &version, &err) < 0) {
            fprintf(stderr, "satisfy-retrainer registry %s\n", err.msg);
            return 2;
        }
    }
    if (optind + 1 + show < argc) {
        fprintf(stderr, "satisfy-retrainer registry: unexpected argument '%s'\n",
                argv[optind + 1 + show]);
        return 2;
    }
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "satisfy-retrainer registry: %s: %s\n", path, strerror(errno));
        return 1;
    }
    sf_err err = {{0}};
    sf_registry *r;
    if (sf_registry_open(&r, path, NULL, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer registry: %s\n", err.msg);
        return 1;
    }
    if (serve || strcmp(sub, "history") == 0 || strcmp(sub, "challenges") == 0) {
        rc = serve                         ? serve_change(r, sub, version, &sa)
             : strcmp(sub, "history") == 0 ? print_history(r, json)
                                           : print_challenges(r, json);
        sf_registry_close(r);
        return rc;
    }
    cJSON *j = show ? sf_registry_show_json(r, version, &err) : sf_registry_list_json(r, &err);
    sf_registry_close(r);
    if (!j) {
        fprintf(stderr, "satisfy-retrainer registry: %s\n", err.msg);
        return 1;
    }
    if (json) {
        char *s = cJSON_Print(j);
        printf("%s\n", s);
        free(s);
    } else if (show) {
        print_show(j);
    } else {
        print_list(j);
    }
    cJSON_Delete(j);
    return 0;
}
