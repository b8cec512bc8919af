/*
 * retrainer.c - the streaming retrainer (retrainer.h): consume, store,
 * retrain, gate, publish, measure online accuracy.
 *
 * Kept in the library so that `satisfy-retrainer run` is a thin loop: it
 * parses options, installs signal handlers and turns the result into an
 * exit status. See retrainer.h for the guarantees (store commit before the
 * offset commit, publication of a missing champion and of every stored gate
 * decision at startup, retrains deferred while catching up on a backlog).
 * The live judge of a shadow challenger (challenge.h) runs here too, on the
 * store's join of satisfy.shadow with the champion's predictions and the
 * reviews.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>

#include "satisfy/catchup.h"
#include "satisfy/codec.h"
#include "satisfy/decision.h"
#include "satisfy/drift.h"
#include "satisfy/drift_detect.h"
#include "satisfy/history_pub.h"
#include "satisfy/kafka.h"
#include "satisfy/model.h"
#include "satisfy/online.h"
#include "satisfy/registry.h"
#include "satisfy/release_topic.h"
#include "satisfy/serving.h"
#include "satisfy/retrainer.h"
#include "satisfy/stats.h"
#include "satisfy/store.h"
#include "satisfy/train.h"
#include "satisfy/window.h"
#include "satisfy/clock.h"

#define DAY_MS (86400LL * 1000)

struct sf_retrainer {
    sf_retrainer_opts opts; /* the caller's, with defaults filled in */
    const sf_retrainer_opts *c;
    char store_path[1024];
    rd_kafka_t *cons, *prod;
    sf_kafka_stats pstats, cstats; /* the producer's and the consumer's */
    sf_store *store;
    sf_history_pub *hist; /* the live history on satisfy.history (history_pub.h) */
    sf_registry *reg;
    sf_online *online;
    sf_buf buf;
    rd_kafka_message_t **msgs; /* SF_RETRAINER_BATCH_MAX */
    int64_t dirty[64];         /* versions whose online window changed in this batch */
    int n_dirty;
    uint64_t n_orders, n_reviews, n_preds, n_bad, n_new_orders, n_new_reviews, n_pairs;
    uint64_t unlogged_reported; /* bad messages not logged, as last reported */
    double unlogged_at;         /* sf_mono_s() of that report, 0 = none yet */
    int retrains, released, rejected, failed;
    double train_seconds_max;
    int64_t pending_publish; /* champion version still to publish, 0 = none */
    bool announced;          /* the "consuming ..." line was logged */
    double last_status;      /* sf_mono_s() of the last progress line */
    sf_catchup *catchup;     /* has the consumer caught up? (catchup.h) */
    double due_since;        /* sf_mono_s() since a due retrain waits to catch up, 0 = none */
    double due_logged;       /* sf_mono_s() of the last line about that wait */
    double last_message;     /* sf_mono_s() of the last batch that had messages */
    sf_store_counts sc;      /* store counters after the last batch */
    sf_release_key *sign;    /* opts.signing_key loaded, NULL = unsigned releases */
    sf_window *win;          /* the training window's checkpoint (opts.train_window > 0) */
    sf_ph ph;                /* outcome drift on the joined pairs' absolute error */
    bool ph_dirty;           /* pairs added since its state was last published */
    int64_t ph_alarm_time;   /* event time of the pair that raised the last alarm */
    bool drift_due;          /* --retrain-on-drift: an alarm waits for its retrain */
    char drift_cause[16];    /* its kind: outcome-drift | input-drift */
    int drift_retrains;      /* retrains an alarm triggered */
    sf_input_alarm input;    /* the last input drift alarm taken */
    int64_t input_version;   /* the model version it was about: one retrain per version */
    uint64_t n_input_msgs, n_input_alarms;
    int64_t started_ms; /* wall time at open: older PSI messages are history */
    /* shadow challengers (challenge.h) */
    sf_challenge ch;           /* the judge of the open challenge (ch_on) */
    int64_t ch_id;             /* its registry row */
    bool ch_on, ch_dirty;      /* judging; orders added since the last publication */
    int64_t pending_challenge; /* a rejected candidate to start as challenger, 0 = none */
    uint64_t n_shadow, n_shadow_pairs;
    int ch_promoted, ch_retired;
};

static void logf_(const sf_retrainer *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(const sf_retrainer *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_logv(r->c->log, r->c->log_arg, fmt, ap);
    va_end(ap);
}

/* ---- Kafka handles ---------------------------------------------------- */

/* The retrainer's connection and -X, for every client it creates. */
static sf_kafka_conn conn_of(const sf_retrainer *r)
{
    return (sf_kafka_conn){
        .brokers = r->c->brokers, .props = r->c->props, .n_props = r->c->n_props};
}

/* The consumer (its group) or the producer (deliveries counted in pstats). */
static rd_kafka_t *make_handle(sf_retrainer *r, sf_kafka_role role, sf_err *err)
{
    sf_kafka_client_opts ko = {.role = role,
                               .conn = conn_of(r),
                               .group = r->c->group,
                               .stats = role == SF_KAFKA_RELEASE_PRODUCER ? &r->pstats : &r->cstats,
                               .log = r->c->log,
                               .log_arg = r->c->log_arg};
    return sf_kafka_client_new(&ko, err);
}

/* Publishes version from the registry and waits for its delivery report. */
static int publish(sf_retrainer *r, int64_t version, sf_err *err)
{
    sf_version_row row;
    memset(&row, 0, sizeof row);
    int found = sf_registry_get_version(r->reg, version, true, &row, err);
    if (found == 0)
        sf_errf(err, "version %lld is not in the registry", (long long)version);
    uint32_t len = 0;
    char sha[65];
    int rc = found > 0 ? sf_release_publish(r->prod, &r->pstats, row.artifact, row.artifact_len,
                                            version, sf_wall_ms(), 30000, r->sign, &len, sha, err)
                       : -1;
    sf_version_row_clear(&row);
    if (rc == 0)
        logf_(r, "published release v%lld (%u bytes, sha256 %.12s, %s) to %s", (long long)version,
              len, sha, r->sign ? "signed" : "unsigned", SF_TOPIC_MODELS);
    return rc;
}

/* Publishes the champion if satisfy.models does not have it yet, or has it
 * as its newest release in a form the scorers refuse (an older format, no
 * signature or another key's): after an upgrade or a key rotation they
 * would otherwise wait for the next released retrain. */
static int publish_champion_if_missing(sf_retrainer *r, sf_err *err)
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
    sf_kafka_conn conn = conn_of(r);
    int64_t last = sf_release_last_version(&conn, 15000, r->sign, &bad, err);
    if (last < 0)
        return -1;
    if (last > v || (last == v && !bad.msg[0]))
        return 0;
    if (last == v) {
        logf_(r, "champion v%lld is on %s in a form the scorers refuse (%s): publishing it again",
              (long long)v, SF_TOPIC_MODELS, bad.msg);
        return publish(r, v, err);
    }
    if (bad.msg[0])
        logf_(r, "the newest message on %s is refused: %s", SF_TOPIC_MODELS, bad.msg);
    logf_(r, "champion v%lld is not on %s (last release there: %s%lld): publishing it",
          (long long)v, SF_TOPIC_MODELS, last ? "v" : "none ", (long long)last);
    return publish(r, v, err);
}

/* ---- one batch -------------------------------------------------------- */

static void note_dirty(sf_retrainer *r, int64_t v)
{
    for (int i = 0; i < r->n_dirty; i++)
        if (r->dirty[i] == v)
            return;
    if (r->n_dirty < (int)(sizeof r->dirty / sizeof r->dirty[0]))
        r->dirty[r->n_dirty++] = v;
}

static void bad_message(sf_retrainer *r, const rd_kafka_message_t *m, const char *why)
{
    r->n_bad++;
    if (r->n_bad <= SF_RETRAINER_MAX_BAD_LOGS)
        logf_(r, "skipping %s [%d] @%" PRId64 ": %s%s", rd_kafka_topic_name(m->rkt),
              (int)m->partition, m->offset, why,
              r->n_bad == SF_RETRAINER_MAX_BAD_LOGS
                  ? " (further bad messages are counted, and how many every 30 s)"
                  : "");
}

static uint64_t unlogged(const sf_retrainer *r)
{
    return r->n_bad > SF_RETRAINER_MAX_BAD_LOGS ? r->n_bad - SF_RETRAINER_MAX_BAD_LOGS : 0;
}

/* Says how many bad messages went unlogged since the last time it said so:
 * at once the first time, then at most every 30 s. */
static void report_unlogged(sf_retrainer *r)
{
    uint64_t n = unlogged(r);
    if (n == r->unlogged_reported || (r->unlogged_at && sf_mono_s() - r->unlogged_at < 30))
        return;
    logf_(r,
          "%" PRIu64 " more bad messages not logged (%" PRIu64 " bad in all, the first %d logged)",
          n - r->unlogged_reported, r->n_bad, SF_RETRAINER_MAX_BAD_LOGS);
    r->unlogged_reported = n;
    r->unlogged_at = sf_mono_s();
}

/* The decoded event's order id against the message key; counted as bad when
 * they differ. 0 when they match. */
static int wrong_key(sf_retrainer *r, const rd_kafka_message_t *m, const char *order_id)
{
    sf_err why;
    if (sf_check_key(m->key, m->key_len, order_id, &why) == 0)
        return 0;
    bad_message(r, m, why.msg);
    return -1;
}

/* A JSON body needs a NUL: copies it into r->buf. */
static const char *as_text(sf_retrainer *r, const rd_kafka_message_t *m, sf_err *err)
{
    if (sf_buf_reserve(&r->buf, m->len + 1, err) != 0)
        return NULL;
    memcpy(r->buf.data, m->payload, m->len);
    r->buf.data[m->len] = 0;
    return (const char *)r->buf.data;
}

/* Feeds a joined pair's absolute error to the Page-Hinkley detector; an
 * alarm is logged and, with --retrain-on-drift, makes a retrain due. */
static void outcome_drift(sf_retrainer *r, const sf_store_pair *pair)
{
    r->ph_dirty = true;
    double mean = r->ph.mean;
    if (!sf_ph_add(&r->ph, fabs(pair->label - pair->score)))
        return;
    r->ph_alarm_time = pair->event_time;
    char when[24];
    sf_time_format(pair->event_time, when, sizeof when);
    logf_(r,
          "outcome drift: Page-Hinkley alarm %" PRIu64 " at pair %" PRIu64
          " (v%lld, review of %s): mean absolute error %.3f since the last reset, threshold "
          "%g exceeded%s",
          r->ph.alarms, r->ph.total, (long long)pair->model_version, when, mean, r->c->drift.lambda,
          r->c->retrain_on_drift ? "; --retrain-on-drift: a retrain is due" : "");
    if (r->c->retrain_on_drift && !r->drift_due) {
        r->drift_due = true;
        snprintf(r->drift_cause, sizeof r->drift_cause, "outcome-drift");
    }
}

/* A scorer's PSI message (drift.h, key "drift/<scorer>", with
 * --retrain-on-drift): an alarm on a watched feature (drift_detect.h) makes
 * a retrain due, once per model version (the scorers go on publishing the
 * same drift until a new release carries a new reference; a rejected
 * retrain must not start another every interval). Messages from before this
 * retrainer started are history and skipped. */
static void input_drift(sf_retrainer *r, const rd_kafka_message_t *m, const char *text)
{
    sf_input_alarm a;
    sf_err why;
    int rc = sf_input_drift_check(text, r->c->input_drift_psi, &a, &why);
    if (rc < 0) {
        bad_message(r, m, why.msg);
        return;
    }
    if (a.at < r->started_ms)
        return;
    r->n_input_msgs++;
    if (rc == 0 || a.model_version == r->input_version)
        return;
    r->n_input_alarms++;
    r->input = a;
    r->input_version = a.model_version;
    logf_(r, "input drift: alarm from scorer %s (model v%lld): PSI of %s = %.3f >= %g%s%s%s",
          a.scorer, (long long)a.model_version, a.feature, a.psi, r->c->input_drift_psi,
          a.ignored[0] ? " (larger, not watched: " : "", a.ignored, a.ignored[0] ? ")" : "");
    if (!r->drift_due) {
        r->drift_due = true;
        snprintf(r->drift_cause, sizeof r->drift_cause, "input-drift");
        logf_(r, "input drift: --retrain-on-drift: a retrain is due");
    }
}

/* The detector's state to satisfy.metrics (key SF_OUTCOME_DRIFT_KEY), when
 * pairs were added since the last time. */
static void publish_outcome_drift(sf_retrainer *r)
{
    if (!r->ph_dirty)
        return;
    r->ph_dirty = false;
    char *ph = sf_ph_json(&r->ph);
    char js[1024];
    if (!ph)
        return;
    /* the detector's object with the retrainer's fields added at its end */
    snprintf(js, sizeof js,
             "%.*s,\"retrain_on_drift\":%s,\"drift_due\":%s,\"drift_retrains\":%d,"
             "\"last_alarm_time\":%lld,\"at\":%lld}",
             (int)strlen(ph) - 1, ph, r->c->retrain_on_drift ? "true" : "false",
             r->drift_due ? "true" : "false", r->drift_retrains, (long long)r->ph_alarm_time,
             (long long)sf_wall_ms());
    free(ph);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        r->prod, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS),
        RD_KAFKA_V_KEY(SF_OUTCOME_DRIFT_KEY, strlen(SF_OUTCOME_DRIFT_KEY)),
        RD_KAFKA_V_VALUE(js, strlen(js)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("schema", SF_OUTCOME_DRIFT_SCHEMA, -1), RD_KAFKA_V_END);
    if (e)
        logf_(r, "%s: produce outcome drift: %s", SF_TOPIC_METRICS, rd_kafka_err2str(e));
}

/* An order whose challenger prediction, champion prediction and review are
 * all stored now is judged once (store.h): the open challenge's judge takes
 * it when the versions are its own. 0, or -1 on a store failure. */
static int shadow_join(sf_retrainer *r, const char *order_id, sf_err *err)
{
    sf_store_shadow_pair sp;
    int rc = sf_store_shadow_join(r->store, order_id, &sp, err);
    if (rc <= 0)
        return rc;
    r->n_shadow_pairs++;
    if (!r->ch_on || sp.challenger_version != r->ch.challenger ||
        sp.champion_version != r->ch.champion)
        return 0; /* kept in the store: a judge that starts later reads it back */
    sf_err why;
    if (sf_challenge_add(&r->ch, sp.label, sp.champion_score, sp.challenger_score, sp.event_time,
                         &why) != 0)
        logf_(r, "challenge: order %s not judged: %s", sp.order_id, why.msg);
    else
        r->ch_dirty = true;
    return 0;
}

/* A prediction of satisfy.predictions or satisfy.shadow, Avro or JSON: 0,
 * or -1 when it is bad (counted and logged as such). */
static int decode_prediction(sf_retrainer *r, const rd_kafka_message_t *m, bool json,
                             sf_prediction *p)
{
    sf_err why;
    const char *t = json ? as_text(r, m, &why) : NULL;
    int d = json ? (t ? sf_prediction_from_json(t, p, &why) : -1)
                 : sf_decode_prediction(m->payload, m->len, p, &why);
    if (d != 0)
        bad_message(r, m, why.msg);
    return d != 0 ? -1 : 0;
}

/* Stores one message. Returns 0 (stored or skipped as bad input), -1 when
 * the store failed (the batch must not be committed). */
static int handle(sf_retrainer *r, const rd_kafka_message_t *m, sf_err *err)
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
                     : sf_decode_order(m->payload, m->len, &ev, &why);
        if (d != 0) {
            bad_message(r, m, why.msg);
            return 0;
        }
        if (wrong_key(r, m, ev.order_id)) {
            sf_order_event_clear(&ev);
            return 0;
        }
        rc = sf_store_put_order(r->store, &ev, err);
        if (rc > 0 && sf_history_pub_order(r->hist, &ev, err) != 0)
            rc = -1;
        sf_order_event_clear(&ev);
        r->n_orders++;
        if (rc > 0)
            r->n_new_orders++;
    } else if (strcmp(topic, SF_TOPIC_REVIEWS) == 0) {
        sf_review_event ev;
        const char *t = json ? as_text(r, m, &why) : NULL;
        int d = json ? (t ? sf_review_from_json(t, &ev, &why) : -1)
                     : sf_decode_review(m->payload, m->len, &ev, &why);
        if (d != 0) {
            bad_message(r, m, why.msg);
            return 0;
        }
        if (wrong_key(r, m, ev.order_id)) {
            sf_review_event_clear(&ev);
            return 0;
        }
        rc = sf_store_put_review(r->store, &ev, &pair, &paired, err);
        if (rc > 0 && sf_history_pub_review(r->hist, &ev, err) != 0)
            rc = -1;
        if (rc >= 0 && shadow_join(r, ev.order_id, err) != 0)
            rc = -1;
        sf_review_event_clear(&ev);
        r->n_reviews++;
        if (rc > 0)
            r->n_new_reviews++;
    } else if (strcmp(topic, SF_TOPIC_PREDICTIONS) == 0) {
        sf_prediction p;
        if (decode_prediction(r, m, json, &p) != 0)
            return 0;
        rc = sf_store_put_prediction(r->store, &p, &pair, &paired, err);
        if (rc > 0 && shadow_join(r, p.order_id, err) != 0)
            rc = -1;
        r->n_preds++;
    } else if (strcmp(topic, SF_TOPIC_METRICS) == 0) { /* --retrain-on-drift */
        size_t kl = strlen(SF_DRIFT_KEY);
        if (!json || !m->key || m->key_len <= kl || memcmp(m->key, SF_DRIFT_KEY, kl) != 0)
            return 0; /* the other metrics: not for the retrainer */
        const char *t = as_text(r, m, &why);
        if (!t) {
            bad_message(r, m, why.msg);
            return 0;
        }
        input_drift(r, m, t);
        return 0;
    } else if (strcmp(topic, SF_TOPIC_SHADOW) == 0) {
        sf_prediction p;
        if (decode_prediction(r, m, json, &p) != 0)
            return 0;
        rc = sf_store_put_shadow(r->store, &p, err);
        if (rc > 0 && shadow_join(r, p.order_id, err) != 0)
            rc = -1;
        r->n_shadow++;
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
            outcome_drift(r, &pair);
        } else {
            bad_message(r, m, why.msg);
        }
    }
    return 0;
}

/* Publishes the online accuracy of the versions touched by the batch. */
static void publish_online(sf_retrainer *r)
{
    for (int i = 0; i < r->n_dirty; i++) {
        sf_err err;
        char *js = sf_online_json(r->online, r->dirty[i], &err);
        if (!js) {
            logf_(r, "online accuracy v%lld: %s", (long long)r->dirty[i], err.msg);
            continue;
        }
        char key[24];
        int klen = snprintf(key, sizeof key, "%lld", (long long)r->dirty[i]);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            r->prod, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS), RD_KAFKA_V_KEY(key, (size_t)klen),
            RD_KAFKA_V_VALUE(js, strlen(js)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("schema", "satisfy.v1.OnlineAccuracy+json", -1), RD_KAFKA_V_END);
        if (e)
            logf_(r, "%s: produce online accuracy v%lld: %s", SF_TOPIC_METRICS,
                  (long long)r->dirty[i], rd_kafka_err2str(e));
        free(js);
    }
    r->n_dirty = 0;
    publish_outcome_drift(r);
    rd_kafka_poll(r->prod, 0);
}

/* Produces one stored decision message (decision.h) to satisfy.metrics: key
 * "decision-<version>", so compaction keeps one per version. Asynchronous. */
static int produce_decision(sf_retrainer *r, int64_t version, const char *js, sf_err *err)
{
    char key[40];
    int klen = sf_decision_key(version, key, sizeof key);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        r->prod, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS), RD_KAFKA_V_KEY(key, (size_t)klen),
        RD_KAFKA_V_VALUE((void *)js, strlen(js)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("schema", SF_DECISION_SCHEMA, -1), RD_KAFKA_V_END);
    if (e)
        return sf_errf(err, "%s: produce decision v%lld: %s", SF_TOPIC_METRICS, (long long)version,
                       rd_kafka_err2str(e));
    rd_kafka_poll(r->prod, 0);
    return 0;
}

/* Records the gate decision of a registered retrain in the registry, then
 * publishes that same text (produce_decision). The registry copy is what
 * republish_decisions sends again at startup, so a decision whose message
 * was lost (killed before delivery, a new or restarted broker) reappears. */
static void publish_decision(sf_retrainer *r, const sf_train_report *rep, int64_t data_until)
{
    sf_decision d;
    sf_decision_from_report(rep, data_until, sf_wall_ms(), &d);
    sf_err err;
    char *js = sf_decision_json(&d, &err);
    if (!js) {
        logf_(r, "%s: decision v%lld: %s", SF_TOPIC_METRICS, (long long)rep->version, err.msg);
        return;
    }
    if (r->drift_due) { /* this retrain's cause: a drift alarm */
        cJSON *o = cJSON_Parse(js);
        char *with = NULL;
        bool input = strcmp(r->drift_cause, "input-drift") == 0;
        if (o && cJSON_AddStringToObject(o, "trigger", r->drift_cause) &&
            cJSON_AddNumberToObject(o, "drift_alarms",
                                    (double)(input ? r->n_input_alarms : r->ph.alarms)) &&
            (!input || (cJSON_AddStringToObject(o, "drift_feature", r->input.feature) &&
                        cJSON_AddNumberToObject(o, "drift_psi", r->input.psi) &&
                        cJSON_AddStringToObject(o, "drift_scorer", r->input.scorer))))
            with = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (with) {
            free(js);
            js = with;
        }
    }
    if (r->pending_challenge == rep->version) { /* it starts a challenge (start_challenge) */
        cJSON *o = cJSON_Parse(js);
        char *with = NULL;
        if (o && cJSON_AddBoolToObject(o, "challenger", 1))
            with = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (with) {
            free(js);
            js = with;
        }
    }
    if (sf_registry_set_decision(r->reg, rep->version, js, &err) != 0)
        logf_(r, "decision v%lld not stored (it will not be republished): %s",
              (long long)rep->version, err.msg);
    if (produce_decision(r, rep->version, js, &err) != 0)
        logf_(r, "%s", err.msg);
    free(js);
}

static int republish_one(void *arg, int64_t version, const char *json, sf_err *err)
{
    return produce_decision(arg, version, json, err);
}

/* Publishes every decision stored in the registry to satisfy.metrics again
 * and waits (bounded) for their delivery. Repeats are harmless: the key is
 * per version, so compaction and the web page keep one. */
static int republish_decisions(sf_retrainer *r, sf_err *err)
{
    uint64_t failed0 = sf_kafka_stats_failed(&r->pstats);
    int64_t n = sf_registry_decisions(r->reg, republish_one, r, err);
    if (n < 0)
        return sf_err_wrap(err, "republishing the gate decisions");
    if (n == 0)
        return 0;
    int left = sf_kafka_drain(r->prod, 30000);
    uint64_t failed = sf_kafka_stats_failed(&r->pstats) - failed0;
    if (left > 0 || failed > 0)
        return sf_errf(err,
                       "republishing %lld gate decisions to %s: %d not delivered after 30 s, "
                       "%llu failed%s%s",
                       (long long)n, SF_TOPIC_METRICS, left, (unsigned long long)failed,
                       r->pstats.last_failure[0] ? ": " : "", r->pstats.last_failure);
    logf_(r, "republished %lld gate decisions from the registry to %s", (long long)n,
          SF_TOPIC_METRICS);
    return 0;
}

/* Polls up to SF_RETRAINER_BATCH_MAX messages (or SF_RETRAINER_BATCH_WAIT
 * ms), stores them in one transaction and commits the offsets. Returns the
 * number of messages, or -1 on a fatal error. */
static int batch(sf_retrainer *r, sf_err *err)
{
    int n = 0;
    double until = sf_mono_s() + SF_RETRAINER_BATCH_WAIT / 1000.0;
    while (n < SF_RETRAINER_BATCH_MAX && !*r->c->stop) {
        double left = until - sf_mono_s();
        if (left <= 0)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->cons, n ? 0 : (int)(left * 1000) + 1);
        if (!m) {
            if (n)
                break;
            continue;
        }
        if (m->err) {
            sf_catchup_eof(r->catchup, m);
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                logf_(r, "consumer: %s%s%s", rd_kafka_message_errstr(m), m->rkt ? " on " : "",
                      m->rkt ? rd_kafka_topic_name(m->rkt) : "");
            int fatal = sf_kafka_consumer_fatal(r->cons, m, err) < 0;
            rd_kafka_message_destroy(m);
            if (fatal)
                return sf_err_wrap(err, "consumer");
            continue;
        }
        r->msgs[n++] = m;
    }
    if (n == 0)
        return 0;
    int rc = -1;
    if (sf_store_begin(r->store, err) != 0)
        goto done;
    for (int i = 0; i < n; i++)
        if (handle(r, r->msgs[i], err) != 0)
            goto rollback;
    if (sf_history_pub_persist(r->hist, err) != 0 || sf_store_commit(r->store, err) != 0)
        goto rollback;
    sf_history_pub_publish(r->hist); /* after the commit: the store has them first */
    /* only now: a crash before this line replays the batch into the same keys */
    rd_kafka_resp_err_t e = rd_kafka_commit(r->cons, NULL, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        logf_(r, "offset commit failed (%s): the batch will be replayed, harmlessly",
              rd_kafka_err2str(e));
    publish_online(r);
    rc = n;
    goto done;
rollback:
    sf_store_rollback(r->store);
    sf_err reload;
    if (sf_history_pub_abort(r->hist, &reload) != 0)
        logf_(r, "%s", reload.msg);
done:
    for (int i = 0; i < n; i++)
        rd_kafka_message_destroy(r->msgs[i]);
    return rc;
}

/* ---- retraining ------------------------------------------------------- */

static void fmt_day(int64_t t, char *buf, size_t len)
{
    char full[24];
    sf_time_format(t, full, sizeof full);
    snprintf(buf, len, "%.10s", t == SF_TIME_NONE ? "-" : full);
}

static int retrain_due(sf_retrainer *r, const sf_store_counts *c)
{
    if (c->reviews < r->c->min_reviews || c->new_reviews == 0)
        return 0;
    if (r->drift_due) /* --retrain-on-drift after a drift alarm */
        return 1;
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

/* The catch-up rule (retrainer.h, catchup.h): a due retrain waits until the
 * consumer has read satisfy.orders and satisfy.reviews up to where they
 * ended when it fell due, so that it never trains on part of a backlog
 * (reviews ahead of their orders, a store behind the topics after a
 * restart). Says so when the wait starts, every 30 s while it lasts, and
 * when it ends. If nothing at all arrives for SF_RETRAINER_CATCHUP_MAX s
 * while partitions are assigned and still behind (what is left cannot be
 * read: an open transaction of another producer), it retrains on the store. */
static bool caught_up(sf_retrainer *r)
{
    sf_catchup_status st;
    sf_err e;
    int rc = sf_catchup_check(r->catchup, r->cons, 5000, &st, &e);
    double now = sf_mono_s(), waited = r->due_since ? now - r->due_since : 0;
    if (rc == 1) {
        if (r->due_since)
            logf_(r, "caught up after %.1f s: the due retrain runs", waited);
        r->due_since = 0;
        return true;
    }
    if (!r->due_since)
        r->due_since = now;
    char what[640];
    if (rc < 0)
        snprintf(what, sizeof what, "cannot tell yet: %s", e.msg);
    else if (st.partitions == 0)
        snprintf(what, sizeof what, "no partition of %s or %s assigned yet", SF_TOPIC_ORDERS,
                 SF_TOPIC_REVIEWS);
    else
        snprintf(what, sizeof what,
                 "%" PRId64 " messages behind on %d of %d partitions of %s and %s", st.lag,
                 st.behind, st.partitions, SF_TOPIC_ORDERS, SF_TOPIC_REVIEWS);
    double idle = now - (r->last_message > r->due_since ? r->last_message : r->due_since);
    if (rc == 0 && st.partitions > 0 && idle >= SF_RETRAINER_CATCHUP_MAX) {
        logf_(r,
              "retrain due for %.0f s and no message for %.0f s, still %s: retraining on "
              "what is stored",
              waited, idle, what);
        r->due_since = 0;
        return true;
    }
    if (waited == 0)
        logf_(r, "retrain due: waiting to catch up (%s)", what);
    else if (now - r->due_logged >= 30)
        logf_(r, "retrain due for %.0f s: still waiting to catch up (%s)", waited, what);
    else
        return false;
    r->due_logged = now;
    return false;
}

static int retrain(sf_retrainer *r, const sf_store_counts *c, sf_err *err)
{
    double t0 = sf_mono_s();
    int k = r->retrains + 1;
    double days = r->c->train_window;
    if (days > 0 && !r->win && !(r->win = sf_window_new()))
        return sf_errf(err, "retrain %d: out of memory", k);
    logf_(r,
          "retrain %d: started on %s (%" PRId64
          " new reviews since the last retrain%s%s%s); consumption paused",
          k, days > 0 ? "the training window" : "every stored event", c->new_reviews,
          r->drift_due ? "; cause: " : "", r->drift_due ? r->drift_cause : "",
          r->drift_due ? " alarm, --retrain-on-drift" : "");
    sf_train_opts o = r->c->train;
    char source[300];
    snprintf(source, sizeof source, "stream:%s", r->c->store);
    o.source = source;
    sf_train_report rep;
    char upto[16];
    fmt_day(c->max_event_time, upto, sizeof upto);
    sf_window_info wi;
    memset(&rep, 0, sizeof rep);
    int rc = sf_window_retrain(r->win, r->store, days, r->reg, &o, &rep, &wi, err);
    if (rc != 0 && !wi.trained) /* the store could not be read: fatal, as before windows */
        return sf_err_wrap(err, "retrain %d", k);
    if (days > 0 && wi.start != SF_TIME_NONE) {
        char ws[16];
        fmt_day(wi.start, ws, sizeof ws);
        logf_(r,
              "retrain %d: read the training window (%g days from %s): checkpoint %s (%zu "
              "order events, %zu reviews read, %.1f s), window %zu order events and %zu reviews "
              "read (%.1f s)",
              k, days, ws, wi.rebuilt ? "built" : "moved", wi.advance_orders, wi.advance_reviews,
              wi.advance_seconds, wi.n_orders, wi.n_reviews, wi.read_seconds);
    } else {
        logf_(r, "retrain %d: read %zu order events and %zu reviews (%.1f s)", k, wi.n_orders,
              wi.n_reviews, wi.read_seconds);
    }
    size_t n_orders = rep.n_orders, orphans = rep.n_orphan_reviews;
    double secs = sf_mono_s() - t0;
    r->retrains++;
    if (secs > r->train_seconds_max)
        r->train_seconds_max = secs;
    if (rc != 0) {
        r->failed++;
        logf_(r, "retrain %d (data up to %s, %zu orders): FAILED after %.1f s: %s", k, upto,
              n_orders, secs, err->msg);
    } else {
        char from[16], to[16];
        fmt_day(rep.split.train_from, from, sizeof from);
        fmt_day(rep.split.test_to, to, sizeof to);
        const sf_train_row *cand = &rep.rows[rep.candidate];
        logf_(r,
              "retrain %d: window %s .. %s (data up to %s), %zu examples from %zu labeled "
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
            if (r->c->challengers && sf_gate_challenger_ok(&rep.gate))
                r->pending_challenge = rep.version;
        }
        publish_decision(r, &rep, c->max_event_time);
    }
    if (r->drift_due) { /* said on satisfy.metrics now: no batch may follow soon */
        r->drift_due = false;
        r->drift_retrains++;
        r->ph_dirty = true;
        publish_outcome_drift(r);
    }
    /* the mark comes after registration: a crash before it retrains again */
    if (sf_store_mark_retrain(r->store, c->max_event_time, err) != 0)
        return -1;
    return 0;
}

/* After a gate release: the ServingState naming it (cause gate), recorded
 * in the registry's serving history and published (serving.h). */
static int publish_serving(sf_retrainer *r, int64_t version, sf_err *err)
{
    sf_version_row row;
    memset(&row, 0, sizeof row);
    if (sf_registry_get_version(r->reg, version, false, &row, err) < 0)
        return -1;
    sf_kafka_conn conn = conn_of(r);
    sf_serving_change ch = {.conn = &conn,
                            .prod = r->prod,
                            .st = &r->pstats,
                            .sign = r->sign,
                            .reg = r->reg,
                            .version = version,
                            .cause = "gate",
                            .reason = row.reason ? row.reason : "released by the gate",
                            .timeout_ms = 30000};
    sf_serving_state s;
    int rc = sf_serving_change_apply(&ch, &s, err);
    sf_version_row_clear(&row);
    if (rc == 0)
        logf_(r, "serving state epoch %lld: v%lld is the champion (gate) on %s", (long long)s.epoch,
              (long long)version, SF_TOPIC_MODELS);
    return rc;
}

/* ---- shadow challengers ---------------------------------------------- */

/* The judge's state to satisfy.metrics, key "challenge-<challenger>". */
static void publish_challenge(sf_retrainer *r, const char *status, int64_t decided_at)
{
    int64_t now = sf_wall_ms();
    char *js = sf_challenge_json(&r->ch, status, decided_at, now);
    if (!js) {
        logf_(r, "challenge v%lld: out of memory for its JSON", (long long)r->ch.challenger);
        return;
    }
    char key[48];
    int kn =
        snprintf(key, sizeof key, "%s%lld", SF_CHALLENGE_KEY_PREFIX, (long long)r->ch.challenger);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        r->prod, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS), RD_KAFKA_V_KEY(key, (size_t)kn),
        RD_KAFKA_V_VALUE(js, strlen(js)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("schema", SF_CHALLENGE_SCHEMA, -1), RD_KAFKA_V_END);
    if (e)
        logf_(r, "%s: produce challenge v%lld: %s", SF_TOPIC_METRICS, (long long)r->ch.challenger,
              rd_kafka_err2str(e));
    free(js);
    rd_kafka_poll(r->prod, 0);
}

static int reload_one(void *arg, const sf_store_shadow_pair *p, sf_err *err)
{
    sf_challenge *ch = arg;
    return sf_challenge_add(ch, p->label, p->champion_score, p->challenger_score, p->event_time,
                            err);
}

/* A ServingState of a challenge (cause challenger, live or retire)
 * recorded in the registry and published (after the version's release with
 * republish); result_json goes into the registry's row. */
static int serve_challenge(sf_retrainer *r, int64_t version, const char *cause, const char *reason,
                           const char *result_json, int republish, sf_serving_state *s, sf_err *err)
{
    sf_kafka_conn conn = conn_of(r);
    sf_serving_change chg = {.conn = &conn,
                             .prod = r->prod,
                             .st = &r->pstats,
                             .sign = r->sign,
                             .reg = r->reg,
                             .version = version,
                             .cause = cause,
                             .reason = reason,
                             .result_json = result_json,
                             .republish = republish,
                             .timeout_ms = 30000};
    return sf_serving_change_apply(&chg, s, err);
}

/* Follows the registry's open challenge (the gate's or `registry challenge
 * N`'s): a new one gets a judge, fed with the orders the store has judged
 * already; one that ended elsewhere (a gate release, promote, rollback) is
 * dropped with a last message. Then, when orders were added, looks (when it
 * is time, challenge.h), publishes the state, and carries out a decision. */
static void challenge_tick(sf_retrainer *r)
{
    sf_err err;
    sf_challenge_row open;
    int has = sf_registry_challenge_open(r->reg, &open, &err);
    if (has < 0) {
        logf_(r, "challenge: %s", err.msg);
        return;
    }
    if (r->ch_on && (!has || open.id != r->ch_id)) {
        logf_(r,
              "challenge: v%lld's challenge was ended outside the judge (a release, promote "
              "or rollback served another champion) after %zu live orders",
              (long long)r->ch.challenger, r->ch.n);
        publish_challenge(r, "ended", sf_wall_ms());
        sf_challenge_free(&r->ch);
        r->ch_on = false;
    }
    if (has && !r->ch_on) {
        if (sf_challenge_init(&r->ch, open.challenger, open.champion, open.started,
                              &r->c->challenge, &err) != 0 ||
            sf_store_shadow_judged(r->store, open.challenger, open.champion, reload_one, &r->ch,
                                   &err) < 0) {
            logf_(r, "challenge of v%lld: %s", (long long)open.challenger, err.msg);
            sf_challenge_free(&r->ch);
            sf_challenge_row_clear(&open);
            return;
        }
        r->ch_on = r->ch_dirty = true;
        r->ch_id = open.id;
        logf_(r,
              "challenge: judging challenger v%lld against champion v%lld on live orders (%zu "
              "joined so far; a decision from %zu orders, retired undecided at %zu)",
              (long long)open.challenger, (long long)open.champion, r->ch.n, r->ch.opts.min_orders,
              r->ch.opts.max_orders);
    }
    sf_challenge_row_clear(&open);
    if (!r->ch_on || !r->ch_dirty)
        return;
    r->ch_dirty = false;
    bool force = !r->ch.looked || r->ch.n >= r->ch.n_looked + r->ch.opts.check_every;
    int v = sf_challenge_judge(&r->ch, force, &err);
    if (v < 0) {
        logf_(r, "challenge: %s", err.msg);
        return;
    }
    if (v == SF_CHALLENGE_RUNNING) {
        publish_challenge(r, NULL, 0);
        return;
    }
    bool promote = v == SF_CHALLENGE_PROMOTE;
    int64_t now = sf_wall_ms();
    char *final = sf_challenge_json(&r->ch, NULL, now, now);
    sf_serving_state s;
    if (serve_challenge(r, r->ch.challenger, promote ? "live" : "retire", r->ch.reason, final, 0,
                        &s, &err) != 0) {
        logf_(r, "challenge: v%lld %s, but the change failed (will retry): %s",
              (long long)r->ch.challenger, promote ? "wins" : "is retired", err.msg);
        r->ch_dirty = true;
        free(final);
        return;
    }
    free(final);
    logf_(r, "challenge: challenger v%lld %s (serving state epoch %lld): %s",
          (long long)r->ch.challenger, promote ? "PROMOTED on live outcomes" : "RETIRED",
          (long long)s.epoch, r->ch.reason);
    publish_challenge(r, NULL, now);
    if (promote)
        r->ch_promoted++;
    else
        r->ch_retired++;
    sf_challenge_free(&r->ch);
    r->ch_on = false;
}

/* A candidate the gate rejected but that may challenge (retrain): starts
 * its challenge unless one is open. Retried after a failure. */
static void start_challenge(sf_retrainer *r)
{
    if (!r->pending_challenge)
        return;
    int64_t v = r->pending_challenge;
    sf_err err;
    sf_challenge_row open;
    int has = sf_registry_challenge_open(r->reg, &open, &err);
    int64_t running = open.challenger;
    sf_challenge_row_clear(&open);
    if (has < 0) {
        logf_(r, "challenge: %s", err.msg);
        return;
    }
    r->pending_challenge = 0;
    if (has) {
        logf_(r,
              "challenge: v%lld could challenge, but v%lld's challenge is running (one at a "
              "time): not shadowed",
              (long long)v, (long long)running);
        return;
    }
    sf_serving_state s;
    if (serve_challenge(r, v, "challenger",
                        "the gate could not confirm it and it is not clearly worse", NULL, 1, &s,
                        &err) != 0) {
        logf_(r, "challenge: starting v%lld failed (will retry): %s", (long long)v, err.msg);
        r->pending_challenge = v;
        return;
    }
    logf_(r, "challenge: v%lld shadows champion v%lld (serving state epoch %lld on %s)",
          (long long)v, (long long)s.champion, (long long)s.epoch, SF_TOPIC_MODELS);
}

static int flush_publish(sf_retrainer *r)
{
    if (!r->pending_publish)
        return 0;
    sf_err err;
    if (publish(r, r->pending_publish, &err) != 0 ||
        publish_serving(r, r->pending_publish, &err) != 0) {
        logf_(r, "publishing v%lld failed (will retry): %s", (long long)r->pending_publish,
              err.msg);
        return -1;
    }
    r->pending_publish = 0;
    return 0;
}

/* The counters as one JSON line, written to a temporary file and renamed. */
static void write_stats(const sf_retrainer *r, const sf_store_counts *sc)
{
    if (!r->c->stats_file)
        return;
    sf_history_pub_counts hc;
    sf_history_pub_counts_get(r->hist, &hc);
    char line[2560];
    snprintf(line, sizeof line,
             "{\"order_events\":%" PRIu64 ",\"new_order_events\":%" PRIu64 ",\"reviews\":%" PRIu64
             ",\"new_reviews\":%" PRIu64 ",\"predictions\":%" PRIu64 ",\"pairs\":%" PRIu64
             ",\"bad\":%" PRIu64 ",\"retrains\":%d,\"released\":%d,\"rejected\":%d,"
             "\"failed\":%d,\"store_reviews\":%" PRId64 ",\"store_new_reviews\":%" PRId64
             ",\"history_published\":%" PRIu64 ",\"history_pending\":%" PRId64
             ",\"history_in_flight\":%" PRIu64 ",\"history_failed\":%" PRIu64
             ",\"history_republished\":%" PRIu64 ",\"history_seq\":%" PRId64
             ",\"history_published_mark\":%" PRId64 ",\"history_reviews_early\":%" PRIu64
             ",\"history_reviews_late\":%" PRIu64 ",\"history_skipped\":%" PRIu64
             ",\"drift_pairs\":%" PRIu64 ",\"drift_mean\":%.6g,\"drift_stat\":%.6g"
             ",\"drift_alarms\":%" PRIu64 ",\"drift_retrains\":%d,\"shadow\":%" PRIu64
             ",\"shadow_pairs\":%" PRIu64 ",\"challenge\":%lld,\"challenge_orders\":%zu"
             ",\"challenges_promoted\":%d,\"challenges_retired\":%d"
             ",\"input_drift_messages\":%" PRIu64 ",\"input_drift_alarms\":%" PRIu64 "}\n",
             r->n_orders, r->n_new_orders, r->n_reviews, r->n_new_reviews, r->n_preds, r->n_pairs,
             r->n_bad, r->retrains, r->released, r->rejected, r->failed, sc->reviews,
             sc->new_reviews, hc.published, hc.last_seq - hc.published_mark, hc.in_flight,
             hc.failed, hc.republished, hc.last_seq, hc.published_mark, hc.reviews_early,
             hc.reviews_late, hc.skipped, r->ph.total, r->ph.mean, sf_ph_stat(&r->ph), r->ph.alarms,
             r->drift_retrains, r->n_shadow, r->n_shadow_pairs,
             r->ch_on ? (long long)r->ch.challenger : 0LL, r->ch_on ? r->ch.n : (size_t)0,
             r->ch_promoted, r->ch_retired, r->n_input_msgs, r->n_input_alarms);
    sf_err err;
    if (sf_stats_write_file(r->c->stats_file, line, &err) != 0)
        logf_(r, "%s", err.msg);
}

/* The schedule in words: "2000 new reviews", "6 h of event time", "2000
 * new reviews or 7 days of event time, whichever comes first" (a trigger
 * that is off is not named; open refuses both off). */
static void schedule_words(const sf_retrainer_opts *c, char *out, size_t cap)
{
    char n[48] = "", d[64] = "";
    if (c->every > 0)
        snprintf(n, sizeof n, "%ld new reviews", c->every);
    if (c->days > 0 && c->days < 1)
        snprintf(d, sizeof d, "%g h of event time", c->days * 24);
    else if (c->days > 0)
        snprintf(d, sizeof d, "%g day%s of event time", c->days, c->days == 1 ? "" : "s");
    snprintf(out, cap, "%s%s%s%s", n, *n && *d ? " or " : "", d,
             *n && *d ? ", whichever comes first" : "");
}

/* ---- the public calls ------------------------------------------------- */

void sf_retrainer_opts_default(sf_retrainer_opts *o)
{
    memset(o, 0, sizeof *o);
    o->group = SF_RETRAINER_GROUP;
    o->every = SF_RETRAINER_EVERY;
    o->min_reviews = SF_RETRAINER_MIN_REVIEWS;
    o->window = SF_ONLINE_WINDOW;
    o->input_drift_psi = SF_INPUT_DRIFT_PSI;
    o->train_window = SF_RETRAINER_TRAIN_WINDOW;
    sf_ph_opts_default(&o->drift);
    sf_challenge_opts_default(&o->challenge);
    sf_train_opts_default(&o->train);
    o->train.experiment = "stream";
}

/* Frees what open made, without the shutdown steps of close. */
static void destroy(sf_retrainer *r)
{
    if (r->cons)
        rd_kafka_destroy(r->cons);
    if (r->prod)
        rd_kafka_destroy(r->prod);
    sf_history_pub_close(r->hist, 0); /* before the store it writes its mark to */
    sf_store_close(r->store);
    sf_registry_close(r->reg);
    sf_online_free(r->online);
    sf_catchup_free(r->catchup);
    sf_buf_free(&r->buf);
    free(r->msgs);
    sf_release_key_free(r->sign);
    sf_window_free(r->win);
    sf_challenge_free(&r->ch);
    free(r);
}

int sf_retrainer_open(sf_retrainer **out, const sf_retrainer_opts *opts, sf_err *err)
{
    *out = NULL;
    if (!opts->brokers || !opts->registry)
        return sf_errf(err, "brokers and registry are required");
    if (!opts->stop)
        return sf_errf(err, "no stop flag");
    if (opts->every == 0 && opts->days == 0)
        return sf_errf(err, "retraining by count and by interval are both off");
    sf_retrainer *r = calloc(1, sizeof *r);
    if (!r)
        return sf_errf(err, "out of memory");
    r->opts = *opts;
    r->c = &r->opts;
    if (!r->opts.group)
        r->opts.group = SF_RETRAINER_GROUP;
    if (!r->opts.store) {
        snprintf(r->store_path, sizeof r->store_path, "%s.store", r->opts.registry);
        r->opts.store = r->store_path;
    }
    r->opts.train.threads = r->opts.train.threads > 0 ? r->opts.train.threads : 2;
    double conf = r->opts.challenge.gate.confidence; /* the live test: the gate's, at its level */
    r->opts.challenge.gate = r->opts.train.gate;
    r->opts.challenge.gate.confidence = conf;
    if (r->c->signing_key && !(r->sign = sf_release_key_load(r->c->signing_key, 1, err))) {
        sf_err_wrap(err, "--signing-key");
        goto fail;
    }
    if (!r->sign)
        logf_(r, "WARNING: releases are published unsigned (no --signing-key): scorers with a "
                 "verify key will ignore them; unsigned mode is for the demo only");

    r->msgs = malloc(SF_RETRAINER_BATCH_MAX * sizeof *r->msgs);
    if (!r->msgs) {
        sf_errf(err, "out of memory");
        goto fail;
    }
    static const char *const caught_up_on[] = {SF_TOPIC_ORDERS, SF_TOPIC_REVIEWS};
    r->catchup = sf_catchup_new(caught_up_on, 2);
    if (!r->catchup) {
        sf_errf(err, "out of memory");
        goto fail;
    }
    if (sf_ph_init(&r->ph, &r->c->drift, err) != 0) {
        sf_err_wrap(err, "outcome drift");
        goto fail;
    }
    r->online = sf_online_new((size_t)r->c->window, err);
    if (!r->online || sf_registry_open(&r->reg, r->c->registry, NULL, err) != 0 ||
        sf_store_open(&r->store, r->c->store, err) != 0)
        goto fail;
    r->prod = make_handle(r, SF_KAFKA_RELEASE_PRODUCER, err);
    if (!r->prod || sf_kafka_check_reachable(r->prod, r->c->brokers, 10000, err) != 0)
        goto fail;
    r->cons = make_handle(r, SF_KAFKA_RETRAINER_CONSUMER, err);
    if (!r->cons)
        goto fail;
    sf_kafka_conn conn = conn_of(r);
    r->hist = sf_history_pub_open(r->store, &conn, r->c->log, r->c->log_arg, err);
    if (!r->hist)
        goto fail;

    sf_store_counts sc;
    if (sf_store_counts_get(r->store, &sc, err) != 0)
        goto fail;
    logf_(r,
          "store %s: %" PRId64 " orders (%" PRId64 " events), %" PRId64 " reviews (%" PRId64
          " since the last retrain), %" PRId64 " retrains so far",
          r->c->store, sc.orders, sc.order_events, sc.reviews, sc.new_reviews, sc.retrains);
    int64_t newest = sc.max_event_time;
    if (newest != SF_TIME_NONE && (newest < SF_CODEC_TIME_MIN || newest >= SF_CODEC_TIME_MAX ||
                                   newest > sf_wall_ms() + SF_CODEC_TIME_SKEW))
        logf_(r,
              "store %s: its newest event time %" PRId64 " is not a valid event time (stored "
              "before times were range-checked): interval retraining waits for it; "
              "docs/operations.md says how to remove such events",
              r->c->store, newest);
    if (publish_champion_if_missing(r, err) != 0 || republish_decisions(r, err) != 0) {
        sf_err_wrap(err, "startup publication");
        goto fail;
    }

    r->started_ms = sf_wall_ms();
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(5);
    rd_kafka_topic_partition_list_add(topics, SF_TOPIC_ORDERS, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, SF_TOPIC_REVIEWS, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, SF_TOPIC_PREDICTIONS, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, SF_TOPIC_SHADOW, RD_KAFKA_PARTITION_UA);
    if (r->c->retrain_on_drift) /* the scorers' PSI (input drift) */
        rd_kafka_topic_partition_list_add(topics, SF_TOPIC_METRICS, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(r->cons, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        sf_errf(err, "subscribe: %s", rd_kafka_err2str(e));
        goto fail;
    }
    r->sc = sc;
    *out = r;
    return 0;
fail:
    destroy(r);
    return -1;
}

int sf_retrainer_run(sf_retrainer *r, sf_err *err)
{
    const sf_retrainer_opts *c = r->c;
    if (!r->announced) {
        r->announced = true;
        char when[160];
        schedule_words(c, when, sizeof when);
        logf_(r, "consuming %s, %s, %s, %s as group %s; retrain every %s (after %ld reviews)",
              SF_TOPIC_ORDERS, SF_TOPIC_REVIEWS, SF_TOPIC_PREDICTIONS, SF_TOPIC_SHADOW, c->group,
              when, c->min_reviews);
        r->last_status = sf_mono_s();
    }
    while (!*c->stop) {
        int n = batch(r, err);
        if (n < 0)
            return -1;
        if (n > 0)
            r->last_message = sf_mono_s();
        sf_history_pub_tick(r->hist);
        flush_publish(r);
        start_challenge(r);
        challenge_tick(r);
        if (sf_store_progress(r->store, &r->sc, err) != 0)
            return -1;
        bool due = !*c->stop && retrain_due(r, &r->sc) && caught_up(r);
        if (due) {
            sf_catchup_reset(r->catchup); /* the next due retrain asks anew */
            if (retrain(r, &r->sc, err) != 0)
                return -1;
            flush_publish(r);
            start_challenge(r);
        }
        if (n > 0 || c->stats_file)
            write_stats(r, &r->sc);
        report_unlogged(r);
        if (!c->quiet && sf_mono_s() - r->last_status >= 30) {
            r->last_status = sf_mono_s();
            sf_history_pub_counts hc;
            sf_history_pub_counts_get(r->hist, &hc);
            logf_(r,
                  "consumed %" PRIu64 " order events, %" PRIu64 " reviews, %" PRIu64
                  " predictions (%" PRIu64 " bad); store: %" PRId64 " reviews, %" PRId64
                  " new since the last retrain; history: %" PRIu64 " records published, %" PRId64
                  " pending",
                  r->n_orders, r->n_reviews, r->n_preds, r->n_bad, r->sc.reviews, r->sc.new_reviews,
                  hc.published, hc.last_seq - hc.published_mark);
        }
    }
    return 0;
}

int sf_retrainer_close(sf_retrainer *r)
{
    if (!r)
        return 0;
    int rc = 0;
    rd_kafka_consumer_close(r->cons);
    if (flush_publish(r) != 0)
        rc = -1;
    if (sf_kafka_drain(r->prod, 10000) != 0)
        logf_(r, "%d messages to %s not delivered at exit", rd_kafka_outq_len(r->prod),
              SF_TOPIC_METRICS);
    sf_history_pub_close(r->hist, 10000);
    r->hist = NULL;
    char not_logged[40] = "";
    if (unlogged(r))
        snprintf(not_logged, sizeof not_logged, " (%" PRIu64 " not logged)", unlogged(r));
    logf_(r,
          "stopped: consumed %" PRIu64 " order events (%" PRIu64 " new), %" PRIu64
          " reviews (%" PRIu64 " new), %" PRIu64 " predictions (%" PRIu64
          " paired with reviews), %" PRIu64 " bad%s; retrains %d: released %d, rejected %d, "
          "failed %d, longest %.1f s",
          r->n_orders, r->n_new_orders, r->n_reviews, r->n_new_reviews, r->n_preds, r->n_pairs,
          r->n_bad, not_logged, r->retrains, r->released, r->rejected, r->failed,
          r->train_seconds_max);
    destroy(r);
    return rc;
}
