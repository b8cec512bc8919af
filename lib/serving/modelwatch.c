/*
 * modelwatch.c - follows satisfy.models, keeps every valid release and hands
 * the scorer the one to serve: the champion of the highest-epoch
 * ServingState, else the newest; and the challenger of that state, to score
 * with as well (see satisfy/modelwatch.h).
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

#include "satisfy/clock.h"
#include "satisfy/codec.h"
#include "satisfy/kafka.h"
#include "satisfy/kafka_follow.h"
#include "satisfy/release_topic.h"

/* A valid release seen, kept by version: its message value (30-80 KB
 * normally), loaded again when a ServingState names it. */
struct kept {
    int64_t version;
    uint8_t *bytes;
    size_t len;
};

#define SF_MODELWATCH_CATCHUP_S 10 /* longest wait for the topic's history at start */

struct sf_modelwatch {
    sf_follow *follow; /* the thread and its consumer */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sf_model *pending; /* the model to serve, not yet taken */
    int64_t pending_version;
    int64_t served_version; /* handed out last (pending or taken), 0 = none */
    struct kept *kept;      /* every valid release, by version (ascending) */
    size_t n_kept, cap_kept;
    sf_serving_state state; /* the highest epoch obeyed (epoch 0 = none yet) */
    sf_serving_state hist[SF_MODELWATCH_HISTORY]; /* accepted states, ring */
    uint64_t n_hist;
    int64_t waiting_for; /* a named champion not seen yet (logged once), 0 = none */
    /* The challenger (shadow scoring): the same mailbox idea with one more
     * state, "changed", since "no challenger any more" is news too. */
    sf_model *ch_pending;       /* the challenger to use, NULL = none (when ch_changed) */
    int64_t ch_pending_version; /* 0 = none */
    int ch_changed;             /* not taken yet since the challenger to use changed */
    int64_t ch_served;          /* the challenger handed out last, 0 = none */
    int64_t ch_waiting_for;     /* a named challenger not seen yet (logged once) */
    /* Nothing is handed out before the messages that were on the topic at
     * start are read (partition 0 up to start_hi), so that a restarted
     * scorer scores nothing with a release a later ServingState rolled back;
     * bounded by SF_MODELWATCH_CATCHUP_S. */
    int64_t start_hi;
    int caught_up;
    double started;
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

/* Counts one ignored message (OLD: nothing new, not a rejection; BAD: does
 * not load; BAD_SIGNATURE: refused for its signature) and says why. */
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

/* The kept release of version v, or NULL. Under mu. */
static struct kept *find_kept(sf_modelwatch *mw, int64_t v)
{
    for (size_t i = 0; i < mw->n_kept; i++)
        if (mw->kept[i].version == v)
            return &mw->kept[i];
    return NULL;
}

/* With a verify key: the signature over (key-version, value), then whether
 * that version is already kept, before anything of the value is parsed.
 * 0 with *signed_v, or -1 (counted and logged). */
static int check_signed(sf_modelwatch *mw, const rd_kafka_message_t *m, int64_t *signed_v)
{
    sf_err err = {{0}};
    if (sf_release_check_message(mw->opts.verify_key, m, signed_v, &err) != 0) {
        ignore(mw, m, BAD_SIGNATURE, "unsigned or wrongly signed release", err.msg);
        return -1;
    }
    pthread_mutex_lock(&mw->mu);
    int known = find_kept(mw, *signed_v) != NULL;
    pthread_mutex_unlock(&mw->mu);
    if (known) {
        char what[64];
        snprintf(what, sizeof what, "model release %" PRId64, *signed_v);
        ignore(mw, m, OLD, what, "version already kept (signed, not parsed)");
        return -1;
    }
    return 0;
}

/* Which version to serve: the champion of the highest-epoch ServingState,
 * or, with none (a deployment before ServingState), the newest kept. Under
 * mu. */
static int64_t target_locked(const sf_modelwatch *mw)
{
    if (mw->state.epoch > 0)
        return mw->state.champion;
    return mw->n_kept ? mw->kept[mw->n_kept - 1].version : 0;
}

/* Loads kept release k again: copies its bytes under mu (held on entry),
 * releases mu and loads outside it, so that the scorer's take never waits
 * for a load. The model, or NULL (logged as "<what> N could not be loaded
 * again: ..."). */
static sf_model *load_kept_unlock(sf_modelwatch *mw, const struct kept *k, const char *what)
{
    int64_t want = k->version;
    size_t len = k->len;
    uint8_t *copy = malloc(len);
    if (copy)
        memcpy(copy, k->bytes, len);
    pthread_mutex_unlock(&mw->mu);
    sf_model *model = NULL;
    int64_t v = 0;
    sf_err err = {{0}};
    if (!copy)
        sf_errf(&err, "out of memory");
    if (!copy || sf_modelwatch_load(copy, len, &model, &v, &err) != 0) {
        free(copy);
        logf_(mw, "%s %" PRId64 " could not be loaded again: %s", what, want, err.msg);
        return NULL;
    }
    free(copy);
    return model;
}

/* Which challenger to score with as well: the challenger of the
 * highest-epoch ServingState when it is set and is not the champion, else
 * 0. Under mu. */
static int64_t challenger_locked(const sf_modelwatch *mw)
{
    const sf_serving_state *st = &mw->state;
    return st->epoch > 0 && st->challenger > 0 && st->challenger != st->champion ? st->challenger
                                                                                 : 0;
}

/* Parks the challenger to use (model of version v, or NULL and 0 for none)
 * for sf_modelwatch_take_challenger, replacing one not taken. Takes
 * ownership of model. Under mu. */
static void park_challenger(sf_modelwatch *mw, sf_model *model, int64_t v)
{
    sf_model_free(mw->ch_pending);
    mw->ch_pending = model;
    mw->ch_pending_version = v;
    mw->ch_changed = 1;
    mw->ch_served = v;
}

/* Hands the scorer the challenger to use when it is not the one handed out
 * last: its kept release loaded again (outside the lock), or "none" when
 * the state names none. A challenger not seen yet is waited for (logged
 * once); meanwhile the scorer has none, not the one of an older state.
 * Nothing before the topic's history at start is read. Under no lock. */
static void retarget_challenger(sf_modelwatch *mw)
{
    for (;;) {
        pthread_mutex_lock(&mw->mu);
        int64_t t = challenger_locked(mw), epoch = mw->state.epoch, was = mw->ch_served;
        if (!mw->caught_up || t == was) {
            pthread_mutex_unlock(&mw->mu);
            return;
        }
        struct kept *k = t ? find_kept(mw, t) : NULL;
        if (!k) {
            int say = t && mw->ch_waiting_for != t;
            mw->ch_waiting_for = t;
            if (was)
                park_challenger(mw, NULL, 0);
            pthread_mutex_unlock(&mw->mu);
            if (say)
                logf_(mw,
                      "serving state epoch %" PRId64 " names challenger %" PRId64
                      ", not seen yet on %s: waiting for its release",
                      epoch, t, mw->topic);
            if (was)
                logf_(mw, "no challenger now (was model %" PRId64 "): serving state epoch %" PRId64,
                      was, epoch);
            return;
        }
        sf_model *model = load_kept_unlock(mw, k, "challenger");
        if (!model)
            return;
        pthread_mutex_lock(&mw->mu);
        if (challenger_locked(mw) != t || mw->ch_served == t) { /* moved on meanwhile */
            pthread_mutex_unlock(&mw->mu);
            sf_model_free(model);
            continue;
        }
        park_challenger(mw, model, t);
        mw->ch_waiting_for = 0;
        pthread_mutex_unlock(&mw->mu);
        logf_(mw,
              "model %" PRId64 " is the challenger: scored as well, to satisfy.shadow (serving "
              "state epoch %" PRId64 ")",
              t, epoch);
        return;
    }
}

/* Hands the target to the scorer when it is not what it serves: model (the
 * release just loaded, version v; may be NULL) when it is the target, else
 * the kept bytes loaded again. Takes ownership of model. Under no lock. */
static void retarget(sf_modelwatch *mw, sf_model *model, int64_t v)
{
    for (;;) {
        pthread_mutex_lock(&mw->mu);
        int64_t t = target_locked(mw);
        if (t == 0 || t == mw->served_version || (!mw->caught_up && !mw->served_version)) {
            pthread_mutex_unlock(&mw->mu);
            sf_model_free(model);
            return;
        }
        struct kept *k = find_kept(mw, t);
        if (!k) {
            int say = mw->waiting_for != t;
            mw->waiting_for = t;
            int64_t served = mw->served_version, epoch = mw->state.epoch;
            pthread_mutex_unlock(&mw->mu);
            sf_model_free(model);
            if (say)
                logf_(mw,
                      "serving state epoch %" PRId64 " names model %" PRId64
                      ", not seen yet on %s: waiting for its release (serving %" PRId64
                      " meanwhile)",
                      epoch, t, mw->topic, served);
            return;
        }
        if (!model || v != t) {
            /* load the kept bytes again, outside the lock (the scorer's take
             * must not wait for it), then look at the target once more */
            sf_model_free(model);
            model = load_kept_unlock(mw, k, "model");
            if (!model)
                return;
            v = t;
            continue;
        }
        if (mw->pending)
            sf_model_free(mw->pending); /* superseded before the scorer took it */
        mw->pending = model;
        mw->pending_version = t;
        int64_t from = mw->served_version;
        mw->served_version = t;
        mw->waiting_for = 0;
        sf_serving_state st = mw->state;
        pthread_cond_broadcast(&mw->cv);
        pthread_mutex_unlock(&mw->mu);
        if (st.epoch > 0 && from)
            logf_(mw,
                  "serving model %" PRId64 " (was %" PRId64 "): serving state epoch %" PRId64
                  " (%s)",
                  t, from, st.epoch, st.cause);
        return;
    }
}

/* Keeps a copy of a valid release's bytes under its version (replacing an
 * older copy of the same version). 0, or -1 out of memory. */
static int keep(sf_modelwatch *mw, int64_t v, const void *bytes, size_t len)
{
    uint8_t *copy = malloc(len);
    if (!copy)
        return -1;
    memcpy(copy, bytes, len);
    pthread_mutex_lock(&mw->mu);
    struct kept *k = find_kept(mw, v);
    if (k) {
        free(k->bytes);
    } else {
        if (mw->n_kept == mw->cap_kept) {
            size_t cap = mw->cap_kept ? 2 * mw->cap_kept : 8;
            struct kept *nk = realloc(mw->kept, cap * sizeof *nk);
            if (!nk) {
                pthread_mutex_unlock(&mw->mu);
                free(copy);
                return -1;
            }
            mw->kept = nk;
            mw->cap_kept = cap;
        }
        size_t i = mw->n_kept; /* ascending by version */
        while (i > 0 && mw->kept[i - 1].version > v) {
            mw->kept[i] = mw->kept[i - 1];
            i--;
        }
        k = &mw->kept[i];
        k->version = v;
        mw->n_kept++;
    }
    k->bytes = copy;
    k->len = len;
    mw->loaded++;
    pthread_mutex_unlock(&mw->mu);
    return 0;
}

/* 1 when message m ends what was on the topic at start. */
static int note_position(sf_modelwatch *mw, const rd_kafka_message_t *m)
{
    int flipped = 0;
    pthread_mutex_lock(&mw->mu);
    if (!mw->caught_up && m->partition == 0 && m->offset + 1 >= mw->start_hi)
        mw->caught_up = flipped = 1;
    pthread_mutex_unlock(&mw->mu);
    return flipped;
}

/* A ServingState (key "serving"), on the follower's thread. */
static void handle_serving(sf_modelwatch *mw, const rd_kafka_message_t *m)
{
    sf_err err = {{0}};
    if (mw->opts.verify_key && sf_serving_check_message(mw->opts.verify_key, m, &err) != 0) {
        ignore(mw, m, BAD_SIGNATURE, "unsigned or wrongly signed serving state", err.msg);
        return;
    }
    sf_serving_state s;
    if (sf_decode_serving(m->payload, m->len, &s, &err) != 0) {
        ignore(mw, m, BAD, "bad serving state", err.msg);
        return;
    }
    pthread_mutex_lock(&mw->mu);
    int64_t have = mw->state.epoch;
    if (s.epoch <= have) {
        pthread_mutex_unlock(&mw->mu);
        char what[64], why[96];
        snprintf(what, sizeof what, "serving state epoch %" PRId64, s.epoch);
        snprintf(why, sizeof why, "not above epoch %" PRId64, have);
        ignore(mw, m, OLD, what, why);
        return;
    }
    mw->state = s;
    mw->hist[mw->n_hist++ % SF_MODELWATCH_HISTORY] = s;
    pthread_mutex_unlock(&mw->mu);
    if (mw->opts.stats)
        sf_stats_serving(mw->opts.stats, s.epoch, s.champion);
    logf_(mw,
          "serving state epoch %" PRId64 ": model %" PRId64 " is the champion (%s: %s) from %s "
          "[%d] @%" PRId64,
          s.epoch, s.champion, s.cause, s.reason, mw->topic, (int)m->partition, m->offset);
    retarget(mw, NULL, 0);
    retarget_challenger(mw);
}

/* A release (any other key), on the follower's thread. */
static void handle_release(sf_modelwatch *mw, const rd_kafka_message_t *m)
{
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
    if (keep(mw, v, m->payload, m->len) != 0) {
        sf_model_free(model);
        ignore(mw, m, OLD, "model release", "out of memory keeping it");
        return;
    }
    pthread_mutex_lock(&mw->mu);
    int64_t t = target_locked(mw);
    pthread_mutex_unlock(&mw->mu);
    const sf_model_info *in = sf_model_get_info(model);
    logf_(mw, "model %" PRId64 " %s (%s, spec %s %s) from %s [%d] @%" PRId64, v,
          v == t ? "loaded" : "kept", sf_algo_name(in->algo), in->spec->name, in->spec_hash,
          mw->topic, (int)m->partition, m->offset);
    retarget(mw, model, v);
    retarget_challenger(mw); /* a challenger waited for may be this one */
}

/* One message of the models topic, on the follower's thread. */
static void handle(void *arg, const rd_kafka_message_t *m)
{
    sf_modelwatch *mw = arg;
    int history_read = note_position(mw, m);
    if (sf_serving_is_message(m))
        handle_serving(mw, m);
    else
        handle_release(mw, m);
    if (history_read) {
        retarget(mw, NULL, 0);
        retarget_challenger(mw);
    }
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
    /* what is on the topic now: read it all before handing out a model */
    mw->started = sf_mono_s();
    mw->caught_up = 1;
    sf_kafka_client_opts ko = {.role = SF_KAFKA_RELEASE_PROBE, .conn = *conn};
    sf_err perr;
    rd_kafka_t *probe = sf_kafka_client_new(&ko, &perr);
    if (probe) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(probe, mw->topic, 0, &lo, &hi, 2000) == 0 && hi > lo) {
            mw->start_hi = hi;
            mw->caught_up = 0;
        }
        rd_kafka_destroy(probe);
    }
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
    sf_model_free(mw->ch_pending);
    for (size_t i = 0; i < mw->n_kept; i++)
        free(mw->kept[i].bytes);
    free(mw->kept);
    pthread_mutex_destroy(&mw->mu);
    pthread_cond_destroy(&mw->cv);
    free(mw);
}

int sf_modelwatch_take(sf_modelwatch *mw, int timeout_ms, sf_model **model, int64_t *version)
{
    pthread_mutex_lock(&mw->mu);
    int waiting = !mw->caught_up;
    pthread_mutex_unlock(&mw->mu);
    if (waiting) { /* the follower may have passed the end on a control record, or be stuck */
        int64_t hi = mw->start_hi;
        if (sf_follow_behind(mw->follow, &hi, 1) == 0 ||
            sf_mono_s() - mw->started > SF_MODELWATCH_CATCHUP_S) {
            pthread_mutex_lock(&mw->mu);
            mw->caught_up = 1;
            pthread_mutex_unlock(&mw->mu);
            retarget(mw, NULL, 0);
            retarget_challenger(mw);
        }
    }
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

int sf_modelwatch_take_challenger(sf_modelwatch *mw, sf_model **model, int64_t *version)
{
    pthread_mutex_lock(&mw->mu);
    int got = mw->ch_changed;
    if (got) {
        *model = mw->ch_pending;
        *version = mw->ch_pending_version;
        mw->ch_pending = NULL;
        mw->ch_changed = 0;
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

size_t sf_modelwatch_serving(sf_modelwatch *mw, sf_serving_state *cur, sf_serving_state *hist,
                             size_t max)
{
    pthread_mutex_lock(&mw->mu);
    *cur = mw->state;
    size_t n = mw->n_hist < SF_MODELWATCH_HISTORY ? (size_t)mw->n_hist : SF_MODELWATCH_HISTORY;
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++) /* oldest of the last n first */
        hist[i] = mw->hist[(mw->n_hist - n + i) % SF_MODELWATCH_HISTORY];
    pthread_mutex_unlock(&mw->mu);
    return n;
}

size_t sf_modelwatch_kept(sf_modelwatch *mw, int64_t *versions, size_t max)
{
    pthread_mutex_lock(&mw->mu);
    size_t n = mw->n_kept < max ? mw->n_kept : max;
    for (size_t i = 0; i < n; i++)
        versions[i] = mw->kept[mw->n_kept - n + i].version;
    pthread_mutex_unlock(&mw->mu);
    return n;
}
