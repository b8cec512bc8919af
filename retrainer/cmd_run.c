/*
 * cmd_run.c - `satisfy-retrainer run`: the streaming retrainer.
 *
 * One consumer group on satisfy.orders, satisfy.reviews and
 * satisfy.predictions (read_committed). Per batch: decode, upsert into the
 * example store (store.h) in one SQLite transaction, commit the store, then
 * commit the Kafka offsets - so a crash replays at most the batch in flight
 * into idempotent upserts (no loss, no double count). Reviews that meet the
 * champion's delivered-stage prediction feed the online accuracy windows
 * (online.h), published to satisfy.metrics after the batch.
 *
 * Every N new reviews and/or every D days of event time, it rebuilds the
 * dataset from the store and runs the batch pipeline (train.h): train, gate
 * against the registry's champion, register the run. A released version is
 * published to satisfy.models (key = version, value = the encoded release)
 * by an idempotent producer, waiting for the delivery report. Consumption
 * pauses while training (the loop simply does not poll; max.poll.interval.ms
 * is raised so the group keeps us); while the consumer is catching up on a
 * backlog (full batches) a due retrain waits, at most a minute, so it does
 * not train on reviews whose orders are still queued. On startup a champion newer than the
 * last release on satisfy.models is published, so a retrainer killed between
 * promotion and publication leaves no scorer without its model.
 *
 * SIGTERM/SIGINT: the batch in hand is finished and committed, then the
 * consumer leaves the group and the producer is flushed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "cmd.h"
#include "satisfy/codec.h"
#include "satisfy/kafka.h"
#include "satisfy/model.h"
#include "satisfy/online.h"
#include "satisfy/registry.h"
#include "satisfy/release_topic.h"
#include "satisfy/store.h"
#include "satisfy/train.h"

#define MAX_PROPS     256
#define BATCH_MAX     5000
#define BATCH_WAIT_MS 500
#define CATCHUP_MAX_S 60
#define MAX_BAD_LOGS  20
#define NPROPS(a)     ((int)(sizeof(a) / sizeof((a)[0])))
#define DAY_MS        (86400LL * 1000)

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct cfg {
    const char *brokers, *registry, *store, *group, *stats_file;
    const char *props[MAX_PROPS];
    int n_props;
    long every;       /* retrain every N new reviews (0 = off) */
    double days;      /* retrain every D days of event time (0 = off) */
    long min_reviews; /* reviews needed before the first retrain */
    long window;      /* online accuracy window */
    sf_train_opts train;
    int quiet;
} cfg;

typedef struct run {
    cfg *c;
    rd_kafka_t *cons, *prod;
    sf_kafka_stats pstats;
    sf_codec *codec;
    sf_store *store;
    sf_registry *reg;
    sf_online *online;
    sf_buf buf;
    int64_t dirty[64]; /* versions whose online window changed in this batch */
    int n_dirty;
    uint64_t n_orders, n_reviews, n_preds, n_bad, n_new_orders, n_new_reviews, n_pairs;
    int retrains, released, rejected, failed;
    double train_seconds_max;
    int64_t pending_publish; /* champion version still to publish, 0 = none */
} run;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s satisfy-retrainer run: ", ts);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
            "  --holdout F            most recent share of labeled orders held out (default %.2f)\n"
            "  --margin M             minimum RMSE gain to release (default %.3f)\n"
            "  --algorithm gbdt|ridge candidate learner (default gbdt)\n"
            "  --threads N            XGBoost nthread (default 2)\n"
            "  --window N             online accuracy window per version (default %d)\n"
            "  --group G              consumer group (default satisfy-retrainer)\n"
            "  --stats-file FILE      rewrite FILE (atomically) after every batch with the\n"
            "                         counters as one line of JSON, for scripts and probes\n"
            "  -X key=value           librdkafka property for consumer and producer (repeatable)\n"
            "  --help                 this text\n"
            "\n"
            "Exit status: 0 stopped by SIGTERM/SIGINT after committing, 1 error, 2 usage.\n",
            SF_HOLDOUT_DEFAULT, SF_GATE_MARGIN, SF_ONLINE_WINDOW);
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "satisfy-retrainer run: %s '%s' is not a number in [%g, %g]\n", opt, s, lo,
                hi);
        return -1;
    }
    *out = v;
    return 0;
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
        {"holdout", required_argument, NULL, 'H'},
        {"margin", required_argument, NULL, 'M'},
        {"algorithm", required_argument, NULL, 'a'},
        {"threads", required_argument, NULL, 't'},
        {"window", required_argument, NULL, 'w'},
        {"group", required_argument, NULL, 'g'},
        {"stats-file", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(c, 0, sizeof *c);
    c->group = "satisfy-retrainer";
    c->every = 2000;
    c->min_reviews = 500;
    c->window = SF_ONLINE_WINDOW;
    sf_train_opts_default(&c->train);
    c->train.experiment = "stream";
    optind = 1;
    int ch;
    double v;
    sf_err err;
    while ((ch = getopt_long(argc, argv, "X:", LONG, NULL)) != -1) {
        switch (ch) {
        case 'b':
            c->brokers = optarg;
            break;
        case 'r':
            c->registry = optarg;
            break;
        case 's':
            c->store = optarg;
            break;
        case 'n':
            if (parse_num("--retrain-every", optarg, 0, 1e9, &v))
                return 2;
            c->every = (long)v;
            break;
        case 'd':
            if (parse_num("--retrain-interval", optarg, 0, 3650, &c->days))
                return 2;
            break;
        case 'm':
            if (parse_num("--min-reviews", optarg, 0, 1e9, &v))
                return 2;
            c->min_reviews = (long)v;
            break;
        case 'H':
            if (parse_num("--holdout", optarg, 0.01, 0.9, &c->train.holdout))
                return 2;
            break;
        case 'M':
            if (parse_num("--margin", optarg, 0, 5, &c->train.gate.margin))
                return 2;
            break;
        case 'a':
            if (sf_algo_parse(optarg, &c->train.algo, &err) != 0) {
                fprintf(stderr, "satisfy-retrainer run: --algorithm: %s\n", err.msg);
                return 2;
            }
            break;
        case 't':
            if (parse_num("--threads", optarg, 1, 64, &v))
                return 2;
            c->train.threads = (int)v;
            break;
        case 'w':
            if (parse_num("--window", optarg, 1, 1e7, &v))
                return 2;
            c->window = (long)v;
            break;
        case 'g':
            c->group = optarg;
            break;
        case 'S':
            c->stats_file = optarg;
            break;
        case 'q':
            c->quiet = 1;
            break;
        case 'X':
            if (c->n_props >= MAX_PROPS) {
                fprintf(stderr, "satisfy-retrainer run: too many -X properties\n");
                return 2;
            }
            c->props[c->n_props++] = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "satisfy-retrainer run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!c->brokers || !c->registry) {
        fprintf(stderr, "satisfy-retrainer run: --brokers and --registry are required\n");
        usage(stderr);
        return 2;
    }
    if (c->every == 0 && c->days == 0) {
        fprintf(stderr,
                "satisfy-retrainer run: --retrain-every and --retrain-interval are both off\n");
        return 2;
    }
    return -1;
}

/* ---- Kafka handles ---------------------------------------------------- */

static rd_kafka_t *make_handle(run *r, rd_kafka_type_t type, const char *const *pre, int n_pre,
                               sf_err *err)
{
    const char *props[MAX_PROPS + 16];
    int n = 0;
    for (int i = 0; i < n_pre; i++)
        props[n++] = pre[i];
    for (int i = 0; i < r->c->n_props; i++)
        props[n++] = r->c->props[i];
    rd_kafka_conf_t *conf = sf_kafka_conf_new(r->c->brokers, props, n, err);
    if (!conf)
        return NULL;
    char group[300];
    if (type == RD_KAFKA_CONSUMER) {
        snprintf(group, sizeof group, "group.id=%s", r->c->group);
        if (sf_kafka_conf_set(conf, group, err) != 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    } else {
        sf_kafka_conf_stats(conf, &r->pstats);
    }
    char es[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, es, sizeof es);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        sf_errf(err, "cannot create the %s: %s",
                type == RD_KAFKA_CONSUMER ? "consumer" : "producer", es);
    }
    return rk;
}

/* Publishes version from the registry and waits for its delivery report. */
static int publish(run *r, int64_t version, sf_err *err)
{
    sf_version_row row;
    memset(&row, 0, sizeof row);
    int found = sf_registry_get_version(r->reg, version, true, &row, err);
    if (found == 0)
        sf_errf(err, "version %lld is not in the registry", (long long)version);
    uint32_t len = 0;
    char sha[65];
    int rc = found > 0
                 ? sf_release_publish(r->prod, &r->pstats, r->codec, row.artifact, row.artifact_len,
                                      version, wall_ms(), 30000, &len, sha, err)
                 : -1;
    sf_version_row_clear(&row);
    if (rc == 0)
        logf_("published release v%lld (%u bytes, sha256 %.12s) to %s", (long long)version, len,
              sha, SF_TOPIC_MODELS);
    return rc;
}

/* Publishes the champion if satisfy.models does not have it yet. */
static int publish_champion_if_missing(run *r, sf_err *err)
{
    sf_version_row ch;
    memset(&ch, 0, sizeof ch);
    int has = sf_registry_champion(r->reg, &ch, err);
    int64_t v = ch.version;
    sf_version_row_clear(&ch);
    if (has < 0)
        return -1;
    if (!has)
        return 0;
    sf_err bad;
    int64_t last = sf_release_last_version(r->c->brokers, r->c->props, r->c->n_props, r->codec,
                                           15000, &bad, err);
    if (bad.msg[0])
        logf_("the newest message on %s does not decode: %s", SF_TOPIC_MODELS, bad.msg);
    if (last < 0)
        return -1;
    if (last >= v)
        return 0;
    logf_("champion v%lld is not on %s (last release there: %s%lld): publishing it", (long long)v,
          SF_TOPIC_MODELS, last ? "v" : "none ", (long long)last);
    return publish(r, v, err);
}

/* ---- one batch -------------------------------------------------------- */

static void note_dirty(run *r, int64_t v)
{
    for (int i = 0; i < r->n_dirty; i++)
        if (r->dirty[i] == v)
            return;
    if (r->n_dirty < (int)(sizeof r->dirty / sizeof r->dirty[0]))
        r->dirty[r->n_dirty++] = v;
}

static void bad_message(run *r, const rd_kafka_message_t *m, const char *why)
{
    r->n_bad++;
    if (r->n_bad <= MAX_BAD_LOGS)
        logf_("skipping %s [%d] @%" PRId64 ": %s%s", rd_kafka_topic_name(m->rkt), (int)m->partition,
              m->offset, why,
              r->n_bad == MAX_BAD_LOGS ? " (further bad messages are only counted)" : "");
}

/* A JSON body needs a NUL: copies it into r->buf. */
static const char *as_text(run *r, const rd_kafka_message_t *m, sf_err *err)
{
    if (sf_buf_reserve(&r->buf, m->len + 1, err) != 0)
        return NULL;
    memcpy(r->buf.data, m->payload, m->len);
    r->buf.data[m->len] = 0;
    return (const char *)r->buf.data;
}

/* Stores one message. Returns 0 (stored or skipped as bad input), -1 when
 * the store failed (the batch must not be committed). */
static int handle(run *r, const rd_kafka_message_t *m, sf_err *err)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    bool json = m->len > 0 && ((const char *)m->payload)[0] == '{';
    sf_err why;
    if (!m->payload || m->len == 0) {
        bad_message(r, m, "empty message");
        return 0;
    }
    sf_store_pair pair;
    int paired = 0, rc;
    if (strcmp(topic, SF_TOPIC_ORDERS) == 0) {
        sf_order_event ev;
        const char *t = json ? as_text(r, m, &why) : NULL;
        int d = json ? (t ? sf_order_from_json(t, &ev, &why) : -1)
                     : sf_decode_order(r->codec, m->payload, m->len, &ev, &why);
        if (d != 0) {
            bad_message(r, m, why.msg);
            return 0;
        }
        rc = sf_store_put_order(r->store, &ev, err);
        sf_order_event_clear(&ev);
        r->n_orders++;
        if (rc > 0)
            r->n_new_orders++;
    } else if (strcmp(topic, SF_TOPIC_REVIEWS) == 0) {
        sf_review_event ev;
        const char *t = json ? as_text(r, m, &why) : NULL;
        int d = json ? (t ? sf_review_from_json(t, &ev, &why) : -1)
                     : sf_decode_review(r->codec, m->payload, m->len, &ev, &why);
        if (d != 0) {
            bad_message(r, m, why.msg);
            return 0;
        }
        rc = sf_store_put_review(r->store, &ev, &pair, &paired, err);
        sf_review_event_clear(&ev);
        r->n_reviews++;
        if (rc > 0)
            r->n_new_reviews++;
    } else if (strcmp(topic, SF_TOPIC_PREDICTIONS) == 0) {
        sf_prediction p;
        const char *t = json ? as_text(r, m, &why) : NULL;
        int d = json ? (t ? sf_prediction_from_json(t, &p, &why) : -1)
                     : sf_decode_prediction(r->codec, m->payload, m->len, &p, &why);
        if (d != 0) {
            bad_message(r, m, why.msg);
            return 0;
        }
        rc = sf_store_put_prediction(r->store, &p, &pair, &paired, err);
        r->n_preds++;
    } else {
        bad_message(r, m, "unexpected topic");
        return 0;
    }
    if (rc == SF_STORE_INVALID) { /* bad input: skipped, counted */
        bad_message(r, m, err->msg);
        return 0;
    }
    if (rc < 0) /* a database failure: the batch is not committed */
        return sf_err_wrap(err, "%s [%d] @%" PRId64, topic, (int)m->partition, m->offset);
    if (paired) {
        if (sf_online_add(r->online, pair.model_version, pair.label, pair.score, pair.p,
                          pair.event_time, &why) == 0) {
            r->n_pairs++;
            note_dirty(r, pair.model_version);
        } else {
            bad_message(r, m, why.msg);
        }
    }
    return 0;
}

/* Publishes the online accuracy of the versions touched by the batch. */
static void publish_online(run *r)
{
    for (int i = 0; i < r->n_dirty; i++) {
        sf_err err;
        char *js = sf_online_json(r->online, r->dirty[i], &err);
        if (!js) {
            logf_("online accuracy v%lld: %s", (long long)r->dirty[i], err.msg);
            continue;
        }
        char key[24];
        int klen = snprintf(key, sizeof key, "%lld", (long long)r->dirty[i]);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            r->prod, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS), RD_KAFKA_V_KEY(key, (size_t)klen),
            RD_KAFKA_V_VALUE(js, strlen(js)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("schema", "satisfy.v1.OnlineAccuracy+json", -1), RD_KAFKA_V_END);
        if (e)
            logf_("%s: produce online accuracy v%lld: %s", SF_TOPIC_METRICS, (long long)r->dirty[i],
                  rd_kafka_err2str(e));
        free(js);
    }
    r->n_dirty = 0;
    rd_kafka_poll(r->prod, 0);
}

/* Polls up to BATCH_MAX messages (or BATCH_WAIT_MS), stores them in one
 * transaction and commits the offsets. Returns the number of messages, or
 * -1 on a fatal error. */
static int batch(run *r, rd_kafka_message_t **msgs, sf_err *err)
{
    int n = 0;
    double until = mono() + BATCH_WAIT_MS / 1000.0;
    while (n < BATCH_MAX && !stop_flag) {
        double left = until - mono();
        if (left <= 0)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->cons, n ? 0 : (int)(left * 1000) + 1);
        if (!m) {
            if (n)
                break;
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                logf_("consumer: %s%s%s", rd_kafka_message_errstr(m), m->rkt ? " on " : "",
                      m->rkt ? rd_kafka_topic_name(m->rkt) : "");
            int fatal = m->err == RD_KAFKA_RESP_ERR__FATAL;
            rd_kafka_message_destroy(m);
            if (fatal)
                return sf_errf(err, "consumer: fatal error");
            continue;
        }
        msgs[n++] = m;
    }
    if (n == 0)
        return 0;
    int rc = -1;
    if (sf_store_begin(r->store, err) != 0)
        goto done;
    for (int i = 0; i < n; i++)
        if (handle(r, msgs[i], err) != 0) {
            sf_store_rollback(r->store);
            goto done;
        }
    if (sf_store_commit(r->store, err) != 0) {
        sf_store_rollback(r->store);
        goto done;
    }
    /* only now: a crash before this line replays the batch into the same keys */
    rd_kafka_resp_err_t e = rd_kafka_commit(r->cons, NULL, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        logf_("offset commit failed (%s): the batch will be replayed, harmlessly",
              rd_kafka_err2str(e));
    publish_online(r);
    rc = n;
done:
    for (int i = 0; i < n; i++)
        rd_kafka_message_destroy(msgs[i]);
    return rc;
}

/* ---- retraining ------------------------------------------------------- */

static void fmt_day(int64_t t, char *buf, size_t len)
{
    char full[24];
    sf_time_format(t, full, sizeof full);
    snprintf(buf, len, "%.10s", t == SF_TIME_NONE ? "-" : full);
}

static int retrain_due(run *r, const sf_store_counts *c)
{
    if (c->reviews < r->c->min_reviews || c->new_reviews == 0)
        return 0;
    if (r->c->every > 0 && c->new_reviews >= r->c->every)
        return 1;
    if (r->c->days > 0 && c->max_event_time != SF_TIME_NONE) {
        int64_t base =
            c->last_retrain_time != SF_TIME_NONE ? c->last_retrain_time : c->min_event_time;
        if (base != SF_TIME_NONE && (double)(c->max_event_time - base) >= r->c->days * DAY_MS)
            return 1;
    }
    return 0;
}

static int retrain(run *r, const sf_store_counts *c, sf_err *err)
{
    double t0 = mono();
    int k = r->retrains + 1;
    sf_event_dataset eds;
    if (sf_store_dataset(r->store, &eds, err) != 0)
        return sf_err_wrap(err, "retrain %d", k);
    logf_("retrain %d: started on %zu orders and %" PRId64 " reviews (%" PRId64
          " new since the last retrain); consumption paused",
          k, eds.ds.n_orders, c->reviews, c->new_reviews);
    sf_train_opts o = r->c->train;
    char source[300];
    snprintf(source, sizeof source, "stream:%s", r->c->store);
    o.source = source;
    o.ingest_seconds = mono() - t0;
    sf_train_report rep;
    char upto[16];
    fmt_day(c->max_event_time, upto, sizeof upto);
    int rc = sf_train_run(&eds.ds, r->reg, &o, &rep, err);
    size_t n_orders = eds.ds.n_orders, orphans = eds.n_orphan_reviews;
    sf_event_dataset_free(&eds);
    double secs = mono() - t0;
    r->retrains++;
    if (secs > r->train_seconds_max)
        r->train_seconds_max = secs;
    if (rc != 0) {
        r->failed++;
        logf_("retrain %d (data up to %s, %zu orders): FAILED after %.1f s: %s", k, upto, n_orders,
              secs, err->msg);
    } else {
        char from[16], to[16];
        fmt_day(rep.split.train_from, from, sizeof from);
        fmt_day(rep.split.test_to, to, sizeof to);
        const sf_train_row *cand = &rep.rows[rep.candidate];
        logf_("retrain %d: window %s .. %s (data up to %s), %zu examples from %zu labeled "
              "orders of %zu (%zu reviews without an order), train %zu / holdout %zu orders; "
              "candidate %s RMSE %.4f vs %s %.4f: %s v%lld (%s), %.1f s",
              k, from, to, upto, rep.n_rows, rep.n_labeled, n_orders, orphans, rep.split.n_train,
              rep.split.n_test, cand->name, rep.gate.rmse_candidate, rep.gate.reference,
              rep.gate.rmse_champion, rep.released ? "RELEASED" : "REJECTED",
              (long long)rep.version, rep.gate.reason, secs);
        if (rep.released) {
            r->released++;
            r->pending_publish = rep.version;
        } else {
            r->rejected++;
        }
    }
    /* the mark comes after registration: a crash before it retrains again */
    if (sf_store_mark_retrain(r->store, c->max_event_time, err) != 0)
        return -1;
    return 0;
}

static int flush_publish(run *r)
{
    if (!r->pending_publish)
        return 0;
    sf_err err;
    if (publish(r, r->pending_publish, &err) != 0) {
        logf_("publishing v%lld failed (will retry): %s", (long long)r->pending_publish, err.msg);
        return -1;
    }
    r->pending_publish = 0;
    return 0;
}

/* The counters as one JSON line, written to a temporary file and renamed. */
static void write_stats(const run *r, const sf_store_counts *sc)
{
    if (!r->c->stats_file)
        return;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", r->c->stats_file);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        logf_("cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    fprintf(f,
            "{\"order_events\":%" PRIu64 ",\"new_order_events\":%" PRIu64 ",\"reviews\":%" PRIu64
            ",\"new_reviews\":%" PRIu64 ",\"predictions\":%" PRIu64 ",\"pairs\":%" PRIu64
            ",\"bad\":%" PRIu64 ",\"retrains\":%d,\"released\":%d,\"rejected\":%d,"
            "\"failed\":%d,\"store_reviews\":%" PRId64 ",\"store_new_reviews\":%" PRId64 "}\n",
            r->n_orders, r->n_new_orders, r->n_reviews, r->n_new_reviews, r->n_preds, r->n_pairs,
            r->n_bad, r->retrains, r->released, r->rejected, r->failed, sc->reviews,
            sc->new_reviews);
    if (fclose(f) != 0 || rename(tmp, r->c->stats_file) != 0)
        logf_("cannot write %s: %s", r->c->stats_file, strerror(errno));
}

/* ---- main ------------------------------------------------------------- */

int cmd_run(int argc, char **argv)
{
    cfg c;
    int prc = parse_args(argc, argv, &c);
    if (prc >= 0)
        return prc;
    char store_path[1024];
    if (!c.store) {
        snprintf(store_path, sizeof store_path, "%s.store", c.registry);
        c.store = store_path;
    }
    c.train.threads = c.train.threads > 0 ? c.train.threads : 2;
    setenv("OMP_WAIT_POLICY", "passive", 0);

    run r;
    memset(&r, 0, sizeof r);
    r.c = &c;
    sf_err err;
    int status = 1;
    rd_kafka_message_t **msgs = malloc(BATCH_MAX * sizeof *msgs);
    r.codec = sf_codec_new(&err);
    if (!msgs || !r.codec) {
        fprintf(stderr, "satisfy-retrainer run: %s\n", msgs ? err.msg : "out of memory");
        goto out;
    }
    r.online = sf_online_new((size_t)c.window, &err);
    if (!r.online || sf_registry_open(&r.reg, c.registry, NULL, &err) != 0 ||
        sf_store_open(&r.store, c.store, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer run: %s\n", err.msg);
        goto out;
    }
    static const char *const prod_pre[] = {"enable.idempotence=true", "linger.ms=5"};
    static const char *const cons_pre[] = {
        "enable.auto.commit=false",       "auto.offset.reset=earliest",
        "isolation.level=read_committed", "max.poll.interval.ms=1800000",
        "session.timeout.ms=10000",       "heartbeat.interval.ms=2000",
        "enable.partition.eof=false"};
    r.prod = make_handle(&r, RD_KAFKA_PRODUCER, prod_pre, NPROPS(prod_pre), &err);
    if (!r.prod || sf_kafka_check_reachable(r.prod, c.brokers, 10000, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer run: %s\n", err.msg);
        goto out;
    }
    r.cons = make_handle(&r, RD_KAFKA_CONSUMER, cons_pre, NPROPS(cons_pre), &err);
    if (!r.cons) {
        fprintf(stderr, "satisfy-retrainer run: %s\n", err.msg);
        goto out;
    }
    rd_kafka_poll_set_consumer(r.cons);

    sf_store_counts sc;
    if (sf_store_counts_get(r.store, &sc, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer run: %s\n", err.msg);
        goto out;
    }
    logf_("store %s: %" PRId64 " orders (%" PRId64 " events), %" PRId64 " reviews (%" PRId64
          " since the last retrain), %" PRId64 " retrains so far",
          c.store, sc.orders, sc.order_events, sc.reviews, sc.new_reviews, sc.retrains);
    if (publish_champion_if_missing(&r, &err) != 0) {
        fprintf(stderr, "satisfy-retrainer run: startup publication: %s\n", err.msg);
        goto out;
    }

    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(3);
    rd_kafka_topic_partition_list_add(topics, SF_TOPIC_ORDERS, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, SF_TOPIC_REVIEWS, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, SF_TOPIC_PREDICTIONS, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(r.cons, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        fprintf(stderr, "satisfy-retrainer run: subscribe: %s\n", rd_kafka_err2str(e));
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    logf_("consuming %s, %s, %s as group %s; retrain every %ld new reviews%s%g days "
          "(after %ld reviews)",
          SF_TOPIC_ORDERS, SF_TOPIC_REVIEWS, SF_TOPIC_PREDICTIONS, c.group, c.every,
          " and/or every ", c.days, c.min_reviews);

    double last_status = mono(), deferred_since = 0;
    while (!stop_flag) {
        int n = batch(&r, msgs, &err);
        if (n < 0) {
            fprintf(stderr, "satisfy-retrainer run: %s\n", err.msg);
            goto close;
        }
        flush_publish(&r);
        if (sf_store_progress(r.store, &sc, &err) != 0) {
            fprintf(stderr, "satisfy-retrainer run: %s\n", err.msg);
            goto close;
        }
        /* A full batch means we are catching up (after a restart, say):
         * topics and partitions then arrive unevenly (reviews ahead of their
         * orders), so a due retrain waits until the backlog is drained, for
         * at most CATCHUP_MAX_S. */
        bool due = !stop_flag && retrain_due(&r, &sc);
        if (due && n == BATCH_MAX) {
            if (deferred_since == 0)
                deferred_since = mono();
            if (mono() - deferred_since < CATCHUP_MAX_S)
                due = false;
        }
        if (due) {
            deferred_since = 0;
            if (retrain(&r, &sc, &err) != 0) {
                fprintf(stderr, "satisfy-retrainer run: %s\n", err.msg);
                goto close;
            }
            flush_publish(&r);
        }
        if (n > 0 || c.stats_file)
            write_stats(&r, &sc);
        if (!c.quiet && mono() - last_status >= 30) {
            last_status = mono();
            logf_("consumed %" PRIu64 " order events, %" PRIu64 " reviews, %" PRIu64
                  " predictions (%" PRIu64 " bad); store: %" PRId64 " reviews, %" PRId64
                  " new since the last retrain",
                  r.n_orders, r.n_reviews, r.n_preds, r.n_bad, sc.reviews, sc.new_reviews);
        }
    }
    status = 0;
close:
    rd_kafka_consumer_close(r.cons);
    if (flush_publish(&r) != 0)
        status = 1;
    if (sf_kafka_drain(r.prod, 10000) != 0)
        logf_("%d messages to %s not delivered at exit", rd_kafka_outq_len(r.prod),
              SF_TOPIC_METRICS);
    logf_("stopped: consumed %" PRIu64 " order events (%" PRIu64 " new), %" PRIu64
          " reviews (%" PRIu64 " new), %" PRIu64 " predictions (%" PRIu64
          " paired with reviews), %" PRIu64 " bad; retrains %d: released %d, rejected %d, "
          "failed %d, longest %.1f s",
          r.n_orders, r.n_new_orders, r.n_reviews, r.n_new_reviews, r.n_preds, r.n_pairs, r.n_bad,
          r.retrains, r.released, r.rejected, r.failed, r.train_seconds_max);
out:
    if (r.cons)
        rd_kafka_destroy(r.cons);
    if (r.prod)
        rd_kafka_destroy(r.prod);
    sf_store_close(r.store);
    sf_registry_close(r.reg);
    sf_online_free(r.online);
    sf_codec_free(r.codec);
    sf_buf_free(&r.buf);
    free(msgs);
    return status;
}
