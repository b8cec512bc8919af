/*
 * replay.c - the replay loop of satisfy-producer (see satisfy/replay.h).
 *
 * Follows librdkafka's examples/producer.c: produce, serve delivery reports
 * with rd_kafka_poll(rk, 0) after each message, on a full queue poll and
 * retry, and flush at the end. Pacing uses a virtual clock: event i is due at
 * start + (time_i - time_0) / speed; a gap longer than max_sleep_ms is cut so
 * a quiet week of history never stalls the replay. Waiting is done inside
 * rd_kafka_poll() so deliveries keep flowing while we wait.
 */
#include "satisfy/replay.h"
#include "satisfy/clock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int stopping(const sf_replay_opts *o)
{
    return o->stop && *o->stop;
}

static void report(const sf_replay_opts *o, const sf_replay_result *res, uint64_t produced,
                   double t0)
{
    if (!o->progress)
        return;
    sf_replay_progress p = {
        .produced = produced,
        .delivered =
            o->stats ? sf_kafka_stats_delivered(o->stats) + sf_kafka_stats_failed(o->stats) : 0,
        .event_time = res->last_time,
        .elapsed = sf_mono_s() - t0,
    };
    o->progress(&p, o->progress_arg);
}

/* Encodes event e into b (Avro) or *json (JSON). */
static int encode(const sf_event_ref *e, sf_replay_format fmt, sf_buf *b, char **json, sf_err *err)
{
    *json = NULL;
    if (e->kind == SF_EV_ORDER) {
        sf_order_event oe;
        if (sf_lifecycle_event(e->order, e->stage, &oe) != 0)
            return sf_errf(err, "order %s has no %s stage", e->order->order_id,
                           sf_stage_name(e->stage));
        if (fmt == SF_FORMAT_JSON) {
            *json = sf_order_to_json(&oe, err);
            return *json ? 0 : -1;
        }
        return sf_encode_order(&oe, b, err);
    }
    sf_review_event re;
    sf_lifecycle_review(e->order, e->review, &re);
    if (fmt == SF_FORMAT_JSON) {
        *json = sf_review_to_json(&re, err);
        return *json ? 0 : -1;
    }
    return sf_encode_review(&re, b, err);
}

/* One replay in progress: what the steps of sf_replay_run share. */
typedef struct replay {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt[2]; /* orders, reviews */
    const sf_replay_opts *o;
    sf_replay_result *res;
    uint64_t produced;
    double t0;
    int progress_ms;
    int64_t next_progress, wall_base, ev_base, max_sleep;
} replay;

static const char *const schema_hdr[2][2] = {
    {"satisfy.v1.OrderEvent", "satisfy.v1.OrderEvent+json"},
    {"satisfy.v1.ReviewEvent", "satisfy.v1.ReviewEvent+json"},
};

static void progress_due(replay *r, int64_t now)
{
    if (now >= r->next_progress) {
        report(r->o, r->res, r->produced, r->t0);
        r->next_progress = now + r->progress_ms;
    }
}

/* Waits until event e is due at the replay's speed (long gaps in event time
 * are cut to max_sleep). Returns 0, or 1 when stopped meanwhile. */
static int pace(replay *r, const sf_event_ref *e)
{
    if (r->o->speed <= 0)
        return 0;
    int64_t due = r->wall_base + (int64_t)((double)(e->time - r->ev_base) / r->o->speed);
    int64_t now = sf_mono_ms();
    if (due - now > r->max_sleep) {
        r->wall_base -= (due - now) - r->max_sleep; /* cut the long gap */
        due = now + r->max_sleep;
    }
    while ((now = sf_mono_ms()) < due && !stopping(r->o)) {
        int64_t wait = due - now;
        rd_kafka_poll(r->rk, wait < 100 ? (int)wait : 100);
        progress_due(r, now);
    }
    return stopping(r->o) ? 1 : 0;
}

/* Hands one encoded event to librdkafka, serving delivery reports while its
 * queue is full. Returns 0, 1 when stopped meanwhile, or -1 with err set. */
static int produce_one(replay *r, const sf_event_ref *e, const void *val, size_t len, int json,
                       sf_err *err)
{
    const int t = e->kind == SF_EV_ORDER ? 0 : 1;
    const uintptr_t slot = e->kind == SF_EV_ORDER ? (uintptr_t)e->stage : SF_REPLAY_SLOT_REVIEW;
    for (;;) {
        rd_kafka_resp_err_t pe = rd_kafka_producev(
            r->rk, RD_KAFKA_V_RKT(r->rkt[t]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(e->order->order_id, strlen(e->order->order_id)),
            RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_TIMESTAMP(e->time),
            RD_KAFKA_V_HEADER("schema", schema_hdr[t][json], -1), RD_KAFKA_V_OPAQUE((void *)slot),
            RD_KAFKA_V_END);
        if (pe == RD_KAFKA_RESP_ERR_NO_ERROR) {
            r->produced++;
            r->res->produced[slot]++;
            r->res->bytes += len;
            if (r->res->first_time == SF_TIME_NONE)
                r->res->first_time = e->time;
            r->res->last_time = e->time;
            return 0;
        }
        if (pe == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* The local queue is full: serve delivery reports to make room. */
            rd_kafka_poll(r->rk, 100);
            if (stopping(r->o))
                return 1;
            continue;
        }
        char fe[256];
        if (pe == RD_KAFKA_RESP_ERR__FATAL && rd_kafka_fatal_error(r->rk, fe, sizeof fe))
            return sf_errf(err, "producing to %s: fatal producer error: %s",
                           rd_kafka_topic_name(r->rkt[t]), fe);
        return sf_errf(err, "producing to %s (order %s): %s", rd_kafka_topic_name(r->rkt[t]),
                       e->order->order_id, rd_kafka_err2str(pe));
    }
}

/* Encodes and produces event i. Returns 0, 1 when stopped, -1 with err set. */
static int replay_event(replay *r, const sf_event_ref *e, size_t i, sf_buf *buf, sf_err *err)
{
    const int json = r->o->format == SF_FORMAT_JSON;
    char *js = NULL;
    if (encode(e, r->o->format, buf, &js, err) != 0)
        return sf_err_wrap(err, "event %zu (order %s)", i, e->order->order_id);
    int rc = produce_one(r, e, json ? (const void *)js : (const void *)buf->data,
                         json ? strlen(js) : buf->len, json, err);
    free(js);
    if (rc != 0)
        return rc;
    rd_kafka_poll(r->rk, 0); /* delivery reports */
    if ((r->produced & 255) == 0) {
        char fe[256];
        if (rd_kafka_fatal_error(r->rk, fe, sizeof fe))
            return sf_errf(err, "fatal producer error: %s", fe);
        progress_due(r, sf_mono_ms());
    }
    return 0;
}

int sf_replay_run(rd_kafka_t *rk, const sf_event_ref *ev, size_t n, const sf_replay_opts *opts,
                  sf_replay_result *res, sf_err *err)
{
    memset(res, 0, sizeof *res);
    res->first_time = res->last_time = SF_TIME_NONE;
    const int flush_ms = opts->flush_timeout_ms > 0 ? opts->flush_timeout_ms : 60000;
    replay r = {.rk = rk,
                .rkt = {rd_kafka_topic_new(rk, SF_TOPIC_ORDERS, NULL),
                        rd_kafka_topic_new(rk, SF_TOPIC_REVIEWS, NULL)},
                .o = opts,
                .res = res,
                .t0 = sf_mono_s(),
                .progress_ms = opts->progress_ms > 0 ? opts->progress_ms : 250,
                .wall_base = sf_mono_ms(),
                .ev_base = n ? ev[0].time : 0,
                .max_sleep = opts->max_sleep_ms > 0 ? opts->max_sleep_ms : 1000};
    if (!r.rkt[0] || !r.rkt[1]) {
        if (r.rkt[0])
            rd_kafka_topic_destroy(r.rkt[0]);
        if (r.rkt[1])
            rd_kafka_topic_destroy(r.rkt[1]);
        return sf_errf(err, "cannot create topic handles: %s",
                       rd_kafka_err2str(rd_kafka_last_error()));
    }
    r.next_progress = sf_mono_ms() + r.progress_ms;
    size_t limit = n;
    if (opts->max_events && opts->max_events < limit)
        limit = (size_t)opts->max_events;

    sf_buf buf = {0};
    int rc = 0;
    for (size_t i = 0; i < limit && rc == 0; i++) {
        if (stopping(opts) || pace(&r, &ev[i]) != 0) {
            res->stopped = 1;
            break;
        }
        rc = replay_event(&r, &ev[i], i, &buf, err);
        if (rc == 1) {
            res->stopped = 1;
            rc = 0;
            break;
        }
    }

    /* Wait for every delivery report, also after an error or a stop: what was
     * handed over is delivered or reported as failed, never silently lost;
     * a second stop (*stop > 1) ends the wait, the rest counted undelivered. */
    for (int64_t until = sf_mono_ms() + flush_ms;
         rd_kafka_outq_len(rk) > 0 && sf_mono_ms() < until && !(opts->stop && *opts->stop > 1);)
        rd_kafka_flush(rk, 100);
    res->undelivered = (uint64_t)rd_kafka_outq_len(rk);
    res->elapsed = sf_mono_s() - r.t0;
    report(opts, res, r.produced, r.t0);
    if (rc == 0) {
        char fe[256];
        if (rd_kafka_fatal_error(rk, fe, sizeof fe))
            rc = sf_errf(err, "fatal producer error: %s", fe);
    }
    sf_buf_free(&buf);
    rd_kafka_topic_destroy(r.rkt[0]);
    rd_kafka_topic_destroy(r.rkt[1]);
    return rc;
}
