/*
 * modelwatch.c - follows satisfy.models and keeps the newest valid model
 * for the scorer (see satisfy/modelwatch.h).
 *
 * The Kafka side is a topic follower (kafka_follow.h): every partition (one,
 * normally) from the beginning, so a scorer that starts late still finds the
 * current model, and on a compacted topic the newest release per key is all
 * it needs. Loading (decompression, tree flattening, history snapshot)
 * happens on the follower's thread, off the scoring thread, so the swap
 * itself is a pointer move under a mutex.
 */
#include "satisfy/modelwatch.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/codec.h"
#include "satisfy/kafka.h"
#include "satisfy/kafka_follow.h"

struct sf_modelwatch {
    sf_follow *follow; /* the thread and its consumer */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sf_model *pending; /* newest valid model not yet taken */
    int64_t pending_version;
    int64_t best_version; /* newest valid version seen (taken or pending) */
    uint64_t loaded, ignored, bad_signature;
    sf_modelwatch_opts opts;
    char topic[128];
};

static void logf_(sf_modelwatch *mw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(sf_modelwatch *mw, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_logv(mw->opts.log, mw->opts.log_arg, fmt, ap);
    va_end(ap);
}

int sf_modelwatch_load(const void *buf, size_t len, sf_model **model, int64_t *version, sf_err *err)
{
    if (!buf || len == 0)
        return sf_errf(err, "empty release message");
    sf_model_release r;
    if (sf_decode_release(buf, len, &r, err) < 0)
        return -1;
    sf_model *m;
    int rc = sf_model_from_release(&r, &m, err);
    int64_t v = r.version;
    sf_model_release_clear(&r);
    if (rc < 0)
        return -1;
    if (v <= 0) {
        sf_model_free(m);
        return sf_errf(err, "release version %" PRId64 " is not positive", v);
    }
    *model = m;
    *version = v;
    return 0;
}

enum { OLD, BAD, BAD_SIGNATURE };

/* Counts one ignored release (OLD: not newer, not a rejection; BAD: does not
 * load; BAD_SIGNATURE: refused for its signature) and says why. */
static void ignore(sf_modelwatch *mw, const rd_kafka_message_t *m, int kind, const char *what,
                   const char *why)
{
    pthread_mutex_lock(&mw->mu);
    mw->ignored++;
    if (kind == BAD_SIGNATURE)
        mw->bad_signature++;
    pthread_mutex_unlock(&mw->mu);
    if (mw->opts.stats && kind == BAD_SIGNATURE)
        sf_stats_release_rejected_signature(mw->opts.stats);
    else if (mw->opts.stats && kind == BAD)
        sf_stats_model_rejected(mw->opts.stats);
    logf_(mw, "ignoring %s at %s [%d] @%" PRId64 ": %s", what, mw->topic, (int)m->partition,
          m->offset, why);
}

/* With a verify key: the signature over (key-version, value), then that
 * version against the best one, before anything of the value is parsed.
 * 0 with *signed_v, or -1 (counted and logged). */
static int check_signed(sf_modelwatch *mw, const rd_kafka_message_t *m, int64_t *signed_v)
{
    sf_err err = {{0}};
    if (sf_release_check_message(mw->opts.verify_key, m, signed_v, &err) != 0) {
        ignore(mw, m, BAD_SIGNATURE, "unsigned or wrongly signed release", err.msg);
        return -1;
    }
    pthread_mutex_lock(&mw->mu);
    int64_t best = mw->best_version;
    pthread_mutex_unlock(&mw->mu);
    if (*signed_v <= best) {
        char why[96];
        snprintf(why, sizeof why, "not newer than version %" PRId64 " (signed, not parsed)", best);
        char what[64];
        snprintf(what, sizeof what, "model release %" PRId64, *signed_v);
        ignore(mw, m, OLD, what, why);
        return -1;
    }
    return 0;
}

/* One message of the models topic, on the follower's thread. */
static void handle(void *arg, const rd_kafka_message_t *m)
{
    sf_modelwatch *mw = arg;
    sf_err err = {{0}};
    sf_model *model = NULL;
    int64_t v = 0, signed_v = 0;
    if (mw->opts.verify_key && check_signed(mw, m, &signed_v) != 0)
        return;
    if (sf_modelwatch_load(m->payload, m->len, &model, &v, &err) < 0) {
        ignore(mw, m, BAD, "bad model release", err.msg);
        return;
    }
    if (mw->opts.verify_key && v != signed_v) {
        sf_model_free(model);
        snprintf(err.msg, sizeof err.msg, "release says version %" PRId64 ", signed as %" PRId64, v,
                 signed_v);
        ignore(mw, m, BAD_SIGNATURE, "unsigned or wrongly signed release", err.msg);
        return;
    }
    pthread_mutex_lock(&mw->mu);
    if (v <= mw->best_version) {
        int64_t best = mw->best_version;
        mw->ignored++;
        pthread_mutex_unlock(&mw->mu);
        sf_model_free(model);
        logf_(mw,
              "ignoring model release %" PRId64 " at %s [%d] @%" PRId64
              ": not newer than version %" PRId64,
              v, mw->topic, (int)m->partition, m->offset, best);
        return;
    }
    if (mw->pending)
        sf_model_free(mw->pending); /* superseded before the scorer took it */
    mw->pending = model;
    mw->pending_version = v;
    mw->best_version = v;
    mw->loaded++;
    pthread_cond_broadcast(&mw->cv);
    pthread_mutex_unlock(&mw->mu);
    const sf_model_info *in = sf_model_get_info(model);
    logf_(mw, "model %" PRId64 " loaded (%s, spec %s %s) from %s [%d] @%" PRId64, v,
          sf_algo_name(in->algo), in->spec->name, in->spec_hash, mw->topic, (int)m->partition,
          m->offset);
}

sf_modelwatch *sf_modelwatch_start(const sf_kafka_conn *conn, const sf_modelwatch_opts *opts,
                                   sf_err *err)
{
    sf_modelwatch *mw = calloc(1, sizeof *mw);
    if (!mw) {
        sf_errf(err, "model watcher: out of memory");
        return NULL;
    }
    if (opts)
        mw->opts = *opts;
    snprintf(mw->topic, sizeof mw->topic, "%s", mw->opts.topic ? mw->opts.topic : SF_TOPIC_MODELS);
    if (!mw->opts.verify_key)
        logf_(mw,
              "WARNING: release signatures are not checked (no verify key): any release "
              "written to %s is loaded; unsigned mode is for the demo only",
              mw->topic);
    pthread_mutex_init(&mw->mu, NULL);
    pthread_cond_init(&mw->cv, NULL);
    sf_follow_opts fo = {.role = SF_KAFKA_MODEL_WATCHER,
                         .conn = *conn,
                         .topic = mw->topic,
                         .on_message = handle,
                         .arg = mw,
                         .log = mw->opts.log,
                         .log_arg = mw->opts.log_arg};
    mw->follow = sf_follow_start(&fo, err);
    if (!mw->follow) {
        pthread_mutex_destroy(&mw->mu);
        pthread_cond_destroy(&mw->cv);
        free(mw);
        sf_err_wrap(err, "model watcher");
        return NULL;
    }
    return mw;
}

void sf_modelwatch_stop(sf_modelwatch *mw)
{
    if (!mw)
        return;
    sf_follow_stop(mw->follow);
    sf_model_free(mw->pending);
    pthread_mutex_destroy(&mw->mu);
    pthread_cond_destroy(&mw->cv);
    free(mw);
}

int sf_modelwatch_take(sf_modelwatch *mw, int timeout_ms, sf_model **model, int64_t *version)
{
    pthread_mutex_lock(&mw->mu);
    if (!mw->pending && timeout_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!mw->pending)
            if (pthread_cond_timedwait(&mw->cv, &mw->mu, &ts) == ETIMEDOUT)
                break;
    }
    int got = 0;
    if (mw->pending) {
        *model = mw->pending;
        *version = mw->pending_version;
        mw->pending = NULL;
        got = 1;
    }
    pthread_mutex_unlock(&mw->mu);
    return got;
}

void sf_modelwatch_counts(sf_modelwatch *mw, uint64_t *loaded, uint64_t *ignored)
{
    pthread_mutex_lock(&mw->mu);
    *loaded = mw->loaded;
    *ignored = mw->ignored;
    pthread_mutex_unlock(&mw->mu);
}

uint64_t sf_modelwatch_rejected_signature(sf_modelwatch *mw)
{
    pthread_mutex_lock(&mw->mu);
    uint64_t n = mw->bad_signature;
    pthread_mutex_unlock(&mw->mu);
    return n;
}
