/*
 * history_pub.c - the retrainer's side of satisfy.history (history_pub.h):
 * applies each new order event and review to the live history as the
 * training replay does, persists the changed records in the batch's store
 * transaction and publishes them after the commit.
 *
 * Delivery is tracked by chunks: every record produced carries its chunk's
 * number as the message opaque; a chunk is the records of one batch (or up
 * to CHUNK_ROWS rows produced again from the store) and knows the highest
 * sequence number in it. Chunks complete in any order, the mark only moves
 * over the oldest completed ones, so "every record up to the mark is on the
 * topic" holds. After a failed delivery the mark stops before it; nothing
 * new is produced until the chunks in flight are done, then every row above
 * the mark is produced again from the store (their current values), which
 * is also what start-up does.
 */
#include "satisfy/history_pub.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/buf.h"
#include "satisfy/clock.h"
#include "satisfy/features.h"
#include "satisfy/grow.h"

#define CHUNK_ROWS      10000 /* rows per chunk when producing again from the store */
#define MAX_REVIEWS     64    /* reviews of one order applied when it arrives */
#define MAX_FAIL_LOGS   5
#define QUEUE_FULL_WAIT 600 /* polls of 100 ms before a full queue counts as a failure */

typedef struct chunk {
    uint64_t id;
    int64_t max_seq;
    size_t pending;
    bool failed;
} chunk;

typedef struct out_rec {
    uint8_t key[SF_HISTORY_KEY_LEN];
    int64_t seq;
    size_t off, len; /* the value in outval; len 0: a tombstone */
} out_rec;

struct sf_history_pub {
    sf_store *store;
    sf_history *h;
    rd_kafka_t *prod;
    sf_kafka_stats st;
    sf_log_fn log;
    void *log_arg;
    sf_vec out; /* out_rec: the records of the batch being committed */
    sf_buf outval, val;
    sf_vec chunks; /* chunk: [head .. n) in flight or done but not passed by the mark */
    size_t head;
    uint64_t next_id;
    int64_t mark_stored; /* the mark as stored */
    bool resend;         /* rows above the mark must be produced again */
    sf_history_pub_counts c;
};

static void logf_(const sf_history_pub *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(const sf_history_pub *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_logv(p->log, p->log_arg, fmt, ap);
    va_end(ap);
}

/* ---- chunks and delivery reports ---------------------------------------- */

#define CHUNKS(p) ((chunk *)(p)->chunks.p)

static chunk *chunk_of(sf_history_pub *p, uint64_t id)
{
    if (p->head == p->chunks.n || id < CHUNKS(p)[p->head].id)
        return NULL;
    size_t i = p->head + (size_t)(id - CHUNKS(p)[p->head].id);
    return i < p->chunks.n ? &CHUNKS(p)[i] : NULL;
}

/* A new chunk at the end (the ones the mark has passed are dropped first
 * when the array is full); its index, or -1 when out of memory. */
static long chunk_new(sf_history_pub *p)
{
    if (p->head > 0 && (p->head == p->chunks.n || p->chunks.n == p->chunks.cap)) {
        memmove(CHUNKS(p), CHUNKS(p) + p->head, (p->chunks.n - p->head) * sizeof(chunk));
        p->chunks.n -= p->head;
        p->head = 0;
    }
    chunk *c = sf_vec_push(&p->chunks);
    if (!c)
        return -1;
    c->id = p->next_id++;
    return (long)(p->chunks.n - 1);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    sf_kafka_stats *st = opaque;
    sf_history_pub *p = st->user;
    chunk *c = chunk_of(p, (uint64_t)(uintptr_t)m->_private);
    if (p->c.in_flight > 0)
        p->c.in_flight--;
    if (c && c->pending > 0)
        c->pending--;
    if (!m->err) {
        p->c.published++;
        return;
    }
    p->c.failed++;
    if (c)
        c->failed = true;
    p->resend = true;
    if (p->c.failed <= MAX_FAIL_LOGS)
        logf_(p,
              "%s [%d]: a history record was not delivered (%s): the records above the "
              "published mark will be produced again%s",
              SF_TOPIC_HISTORY, (int)m->partition, rd_kafka_err2str(m->err),
              p->c.failed == MAX_FAIL_LOGS ? " (further failures are counted)" : "");
}

/* Produces one record in chunk ci. 0, or -1 (logged; the rows above the
 * mark will be produced again). */
static int produce(sf_history_pub *p, long ci, const void *key, const void *val, size_t vlen)
{
    for (int tries = 0;; tries++) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(p->prod, RD_KAFKA_V_TOPIC(SF_TOPIC_HISTORY),
                              RD_KAFKA_V_KEY((void *)key, SF_HISTORY_KEY_LEN),
                              RD_KAFKA_V_VALUE(vlen ? (void *)val : NULL, vlen),
                              RD_KAFKA_V_OPAQUE((void *)(uintptr_t)CHUNKS(p)[ci].id),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!e) {
            CHUNKS(p)[ci].pending++;
            p->c.in_flight++;
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries >= QUEUE_FULL_WAIT) {
            p->resend = true;
            CHUNKS(p)[ci].failed = true;
            logf_(p, "%s: produce a history record: %s (produced again later)", SF_TOPIC_HISTORY,
                  rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(p->prod, 100); /* chunk indexes stay valid: no chunk is added here */
    }
}

/* ---- producing the rows above the mark again ----------------------------- */

typedef struct resend_ctx {
    sf_history_pub *p;
    long ci;
    size_t rows;
} resend_ctx;

static int resend_row(void *arg, const void *key, size_t klen, const void *val, size_t vlen,
                      int64_t seq, sf_err *err)
{
    resend_ctx *x = arg;
    sf_history_pub *p = x->p;
    if (klen != SF_HISTORY_KEY_LEN)
        return 0; /* not a record this build writes */
    if (x->ci < 0 || x->rows % CHUNK_ROWS == 0) {
        if ((x->ci = chunk_new(p)) < 0)
            return sf_errf(err, "history: out of memory");
    }
    x->rows++;
    CHUNKS(p)[x->ci].max_seq = seq;
    if (produce(p, x->ci, key, val, vlen) != 0)
        return sf_errf(err, "producing again stopped");
    p->c.republished++;
    return 0;
}

/* Every row above the mark, in sequence order (nothing is in flight). */
static void resend(sf_history_pub *p, const char *why)
{
    p->resend = false;
    p->head = p->chunks.n = 0;
    resend_ctx x = {p, -1, 0};
    sf_err err;
    int64_t n = sf_store_history_each(p->store, p->c.published_mark, resend_row, &x, &err);
    if (n < 0) {
        p->resend = true;
        logf_(p, "history: producing the records above the published mark again: %s", err.msg);
        return;
    }
    if (n > 0)
        logf_(p,
              "history: producing %" PRId64 " records above the published mark %" PRId64
              " again (%s)",
              n, p->c.published_mark, why);
    rd_kafka_poll(p->prod, 0);
}

/* ---- the state ------------------------------------------------------------ */

static int apply_row(void *arg, const void *key, size_t klen, const void *val, size_t vlen,
                     int64_t seq, sf_err *err)
{
    (void)seq;
    return sf_history_apply(arg, key, klen, val, vlen, err);
}

/* The state as stored (tracking on, no change noted). */
static int load(sf_history_pub *p, sf_err *err)
{
    double t0 = sf_mono_s();
    sf_history_free(p->h);
    p->h = sf_history_new();
    if (!p->h)
        return sf_errf(err, "history: out of memory");
    int64_t n = sf_store_history_each(p->store, -1, apply_row, p->h, err);
    if (n < 0)
        return sf_err_wrap(err, "loading the live history from the store");
    sf_history_track_changes(p->h, true);
    p->c.loaded = (uint64_t)n;
    p->c.load_seconds = sf_mono_s() - t0;
    return sf_store_history_marks(p->store, &p->c.last_seq, &p->c.published_mark, err);
}

static bool last_stage(sf_stage s)
{
    return s == SF_STAGE_DELIVERED || s == SF_STAGE_CANCELED || s == SF_STAGE_UNAVAILABLE;
}

/* A store that has events but has never had a history record (written
 * before the history table: an upgrade): the training replay builds the
 * history from its events (no rows: a window no purchase falls in), ended
 * orders' own-review records are forgotten, and every record is stored in
 * one transaction; start-up then publishes them (above the mark). Returns
 * 0 (also when there are no events) or -1. */
static int build_from_events(sf_history_pub *p, sf_err *err)
{
    double t0 = sf_mono_s();
    sf_training_events ev;
    if (sf_store_events(p->store, &ev, err) != 0)
        return -1;
    if (ev.n_orders == 0) {
        sf_training_events_free(&ev);
        return 0;
    }
    sf_examples ex;
    sf_history *h = NULL;
    int rc = sf_training_rows_build(&ex, &ev, sf_spec_seed(), INT64_MAX - 1, INT64_MAX, &h, err);
    if (rc == 0) {
        sf_examples_free(&ex);
        for (size_t i = 0; i < ev.n_orders && rc == 0; i++)
            if (last_stage(ev.orders[i].stage))
                rc = sf_history_forget_order(h, ev.orders[i].order_id, err);
        if (rc == 0)
            rc = sf_history_note_all(h, err);
    }
    size_t n_orders = ev.n_orders, n_reviews = ev.n_reviews;
    sf_training_events_free(&ev);
    if (rc != 0) {
        sf_history_free(h);
        return sf_err_wrap(err, "building the live history from the stored events");
    }
    sf_history_free(p->h);
    p->h = h;
    if (sf_store_begin(p->store, err) != 0)
        return -1;
    if (sf_history_pub_persist(p, err) != 0 || sf_store_commit(p->store, err) != 0) {
        sf_store_rollback(p->store);
        return -1;
    }
    p->out.n = 0; /* published from the store below */
    logf_(p,
          "history: the store has no history records: built them from its %zu order events and "
          "%zu reviews in %.2f s (%" PRId64 " records)",
          n_orders, n_reviews, sf_mono_s() - t0, p->c.last_seq);
    return 0;
}

sf_history_pub *sf_history_pub_open(sf_store *store, const sf_kafka_conn *conn, sf_log_fn log,
                                    void *log_arg, sf_err *err)
{
    sf_history_pub *p = calloc(1, sizeof *p);
    if (!p) {
        sf_errf(err, "history: out of memory");
        return NULL;
    }
    p->store = store;
    p->out = SF_VEC(out_rec);
    p->chunks = SF_VEC(chunk);
    p->log = log;
    p->log_arg = log_arg;
    if (load(p, err) != 0 ||
        (p->c.loaded == 0 && p->c.last_seq == 0 && build_from_events(p, err) != 0)) {
        sf_history_pub_close(p, 0);
        return NULL;
    }
    p->mark_stored = p->c.published_mark;
    logf_(p,
          "history: loaded %" PRIu64 " records (%zu sellers, %zu customers) from the store in "
          "%.2f s; published through record %" PRId64 " of %" PRId64,
          p->c.loaded, sf_history_sellers(p->h), sf_history_customers(p->h), p->c.load_seconds,
          p->c.published_mark, p->c.last_seq);
    sf_kafka_client_opts ko = {.role = SF_KAFKA_RELEASE_PRODUCER,
                               .conn = *conn,
                               .stats = &p->st,
                               .log = log,
                               .log_arg = log_arg,
                               .dr = on_delivery,
                               .user = p};
    p->prod = sf_kafka_client_new(&ko, err);
    if (!p->prod) {
        sf_err_wrap(err, "history producer");
        sf_history_pub_close(p, 0);
        return NULL;
    }
    if (p->c.last_seq > p->c.published_mark)
        resend(p, "at start-up");
    return p;
}

const sf_history *sf_history_pub_state(const sf_history_pub *p)
{
    return p->h;
}

int sf_history_pub_order(sf_history_pub *p, const sf_order_event *ev, sf_err *err)
{
    int ended = 0;
    int n = sf_store_order_latest(p->store, ev->order_id, NULL, &ended, err);
    if (n < 0)
        return -1;
    if (n == 1) { /* the order's first event: the reviews that came before it */
        int scores[MAX_REVIEWS];
        int k = sf_store_order_reviews(p->store, ev->order_id, scores, MAX_REVIEWS, err);
        if (k < 0)
            return -1;
        for (int i = 0; i < k && i < MAX_REVIEWS; i++) {
            if (scores[i] < 1 || scores[i] > 5)
                continue;
            if (sf_history_add_review(p->h, ev, scores[i], err) != 0)
                return -1;
            p->c.reviews_late++;
        }
    }
    /* as training_rows.c's apply_update: timed PURCHASED and DELIVERED events */
    if (ev->event_time != SF_TIME_NONE) {
        if (ev->stage == SF_STAGE_PURCHASED && sf_history_add_purchase(p->h, ev, err) != 0)
            return -1;
        if (ev->stage == SF_STAGE_DELIVERED && sf_history_add_delivery(p->h, ev, err) != 0)
            return -1;
    }
    if (last_stage(ev->stage))
        return sf_history_forget_order(p->h, ev->order_id, err);
    return 0;
}

int sf_history_pub_review(sf_history_pub *p, const sf_review_event *ev, sf_err *err)
{
    if (ev->score < 1 || ev->score > 5 || ev->created == SF_TIME_NONE)
        return 0; /* training never applies these (the codec refuses them) */
    sf_order_event o;
    int ended = 0;
    int n = sf_store_order_latest(p->store, ev->order_id, &o, &ended, err);
    if (n < 0)
        return -1;
    if (n == 0) { /* applied when the order's first event arrives */
        p->c.reviews_early++;
        return 0;
    }
    int rc = sf_history_add_review(p->h, &o, ev->score, err);
    sf_order_event_clear(&o);
    if (rc == 0 && ended)
        rc = sf_history_forget_order(p->h, ev->order_id, err);
    return rc;
}

int sf_history_pub_persist(sf_history_pub *p, sf_err *err)
{
    const sf_history_ref *refs;
    size_t n = sf_history_changes(p->h, &refs);
    p->out.n = 0;
    sf_buf_reset(&p->outval);
    for (size_t i = 0; i < n; i++) {
        uint8_t key[SF_HISTORY_KEY_LEN];
        sf_history_record_key(refs[i], key);
        if (sf_history_record(p->h, refs[i], &p->val, err) != 0)
            return -1;
        if (p->val.len == 0) { /* a tombstone: only for what the topic has had */
            int has = sf_store_history_has(p->store, key, sizeof key, err);
            if (has < 0)
                return -1;
            if (!has) {
                p->c.skipped++;
                continue;
            }
        }
        int64_t seq;
        if (sf_store_put_history(p->store, key, sizeof key, p->val.data, p->val.len, &seq, err))
            return -1;
        out_rec *o = sf_vec_push(&p->out);
        if (!o)
            return sf_errf(err, "history: out of memory");
        if (sf_buf_reserve(&p->outval, p->outval.len + p->val.len + 1, err) != 0)
            return -1;
        memcpy(o->key, key, sizeof key);
        o->seq = seq;
        o->off = p->outval.len;
        o->len = p->val.len;
        if (p->val.len)
            memcpy(p->outval.data + o->off, p->val.data, p->val.len);
        p->outval.len += p->val.len;
        p->c.last_seq = seq;
    }
    sf_history_clear_changes(p->h);
    return 0;
}

void sf_history_pub_publish(sf_history_pub *p)
{
    size_t n = p->out.n;
    const out_rec *out = p->out.p;
    p->out.n = 0;
    if (n == 0 || p->resend) /* when resending, the store's rows go out then */
        return;
    long ci = chunk_new(p);
    if (ci < 0) {
        p->resend = true;
        logf_(p, "history: out of memory publishing %zu records (produced again later)", n);
        return;
    }
    CHUNKS(p)[ci].max_seq = out[n - 1].seq;
    for (size_t i = 0; i < n; i++)
        if (produce(p, ci, out[i].key, p->outval.data + out[i].off, out[i].len) != 0)
            break;
    rd_kafka_poll(p->prod, 0);
}

int sf_history_pub_abort(sf_history_pub *p, sf_err *err)
{
    p->out.n = 0;
    return load(p, err);
}

static void tick(sf_history_pub *p, bool may_resend)
{
    rd_kafka_poll(p->prod, 0);
    bool busy = false;
    chunk *c = CHUNKS(p);
    while (p->head < p->chunks.n && c[p->head].pending == 0 && !c[p->head].failed)
        p->c.published_mark = c[p->head++].max_seq;
    for (size_t i = p->head; i < p->chunks.n; i++)
        busy |= c[i].pending > 0;
    if (p->resend && !busy && may_resend)
        resend(p, "after a failed delivery");
    if (p->c.published_mark > p->mark_stored) {
        sf_err err;
        if (sf_store_set_history_published(p->store, p->mark_stored, p->c.published_mark, &err) !=
            0)
            logf_(p, "history: storing the published mark: %s (kept in memory)", err.msg);
        else
            p->mark_stored = p->c.published_mark;
    }
}

void sf_history_pub_tick(sf_history_pub *p)
{
    tick(p, true);
}

void sf_history_pub_counts_get(const sf_history_pub *p, sf_history_pub_counts *c)
{
    *c = p->c;
}

void sf_history_pub_close(sf_history_pub *p, int timeout_ms)
{
    if (!p)
        return;
    if (p->prod) {
        double until = sf_mono_s() + timeout_ms / 1000.0;
        while (p->c.in_flight > 0 && sf_mono_s() < until)
            rd_kafka_poll(p->prod, 100);
        tick(p, false);
        if (timeout_ms > 0)
            logf_(p,
                  "history: %" PRIu64 " records published in this run (%" PRIu64
                  " produced again, %" PRIu64 " failed), %" PRId64
                  " not confirmed (produced again at the next start)",
                  p->c.published, p->c.republished, p->c.failed,
                  p->c.last_seq - p->c.published_mark);
        rd_kafka_destroy(p->prod);
    }
    sf_history_free(p->h);
    sf_vec_free(&p->out);
    sf_vec_free(&p->chunks);
    sf_buf_free(&p->outval);
    sf_buf_free(&p->val);
    free(p);
}
