/*
 * scorer.c - the consume-score-produce loop of satisfy-scorer (see
 * satisfy/scorer.h for the contract).
 *
 * The shape follows librdkafka's examples/transactions.c: a batch is
 * collected by polling the consumer with no transaction open (so rebalance
 * callbacks never meet an open transaction), then scored and produced inside
 * one transaction together with the batch's offsets. Errors are classified
 * as librdkafka does: fatal ends the run, "requires abort" aborts and rewinds
 * the consumer to its committed offsets, retriable retries the same call.
 */
#include "scorer_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void scorer_logf(scorer *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_logv(s->o->log, s->o->log_arg, fmt, ap);
    va_end(ap);
}

int sf_scorer_transactional_id(const char *group, const char *instance_id, char *buf, size_t len,
                               sf_err *err)
{
    if (!instance_id || !*instance_id)
        return sf_errf(err, "exactly-once needs a non-empty instance id");
    int n =
        snprintf(buf, len, "satisfy-scorer.%s.%s", group ? group : SF_SCORER_GROUP, instance_id);
    if (n < 0 || (size_t)n >= len)
        return sf_errf(err, "transactional.id for group '%s' and instance '%s' is too long", group,
                       instance_id);
    return 0;
}

/* Drops the collected messages of the given partitions (they were revoked:
 * their new owner will consume them from the committed offsets). */
static void drop_partitions(scorer *s, const rd_kafka_topic_partition_list_t *parts)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        rd_kafka_message_t *m = s->msg[i];
        int revoked = 0;
        for (int j = 0; j < parts->cnt && !revoked; j++)
            revoked = parts->elems[j].partition == m->partition &&
                      strcmp(parts->elems[j].topic, rd_kafka_topic_name(m->rkt)) == 0;
        if (revoked) {
            rd_kafka_message_destroy(m);
        } else {
            s->rx[k] = s->rx[i];
            s->msg[k++] = m;
        }
    }
    s->n = k;
}

/* The scorer's connection and -X, for every client it creates. */
static sf_kafka_conn conn_of(const sf_scorer_opts *o)
{
    return (sf_kafka_conn){.brokers = o->brokers, .props = o->props, .n_props = o->n_props};
}

/* Partitions of satisfy.orders assigned: the orders already alerted there
 * are read back from the same partitions of satisfy.alerts (alerts.h). */
static void rebuild_alerts(scorer *s, const rd_kafka_topic_partition_list_t *parts)
{
    int32_t *ps = malloc((size_t)(parts->cnt ? parts->cnt : 1) * sizeof *ps);
    if (!ps)
        return;
    for (int i = 0; i < parts->cnt; i++)
        ps[i] = parts->elems[i].partition;
    sf_kafka_conn conn = conn_of(s->o);
    sf_err err;
    if (sf_alerts_rebuild(s->o->alerts, &conn, ps, parts->cnt, &err) < 0)
        scorer_logf(s, "%s", err.msg);
    free(ps);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    scorer *s = ((sf_kafka_stats *)opaque)->user;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        scorer_logf(s, "assigned %d partition(s) of %s", parts->cnt, SF_TOPIC_ORDERS);
        if (s->alerts_out)
            rebuild_alerts(s, parts);
        if (coop)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            ret = rd_kafka_assign(rk, parts);
    } else {
        scorer_logf(s, "revoked %d partition(s)%s", parts->cnt,
                    rd_kafka_assignment_lost(rk) ? " (lost)" : "");
        if (s->txn_open) {
            /* cannot happen with the collect-then-commit loop, kept as a guard */
            rd_kafka_error_t *ae = rd_kafka_abort_transaction(s->producer, -1);
            if (ae)
                rd_kafka_error_destroy(ae);
            s->txn_open = 0;
        }
        drop_partitions(s, parts);
        if (coop)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            ret = rd_kafka_assign(rk, NULL);
    }
    if (error) {
        snprintf(s->fatal, sizeof s->fatal, "rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (ret) {
        snprintf(s->fatal, sizeof s->fatal, "rebalance: %s", rd_kafka_err2str(ret));
    }
}

/* Seeks every assigned partition back to its committed offset (the start
 * when nothing is committed), discarding what was fetched after it. */
int scorer_rewind_consumer(scorer *s, sf_err *err)
{
    for (size_t i = 0; i < s->n; i++)
        rd_kafka_message_destroy(s->msg[i]);
    s->n = 0;
    if (s->commit_stored) /* the stored offsets first: rewind to the last finished batch */
        rd_kafka_commit(s->consumer, NULL, 0);
    rd_kafka_topic_partition_list_t *a = NULL;
    rd_kafka_resp_err_t e = rd_kafka_assignment(s->consumer, &a);
    if (e)
        return sf_errf(err, "rewind: cannot get the assignment: %s", rd_kafka_err2str(e));
    if (a->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(a);
        return 0;
    }
    e = rd_kafka_committed(s->consumer, a, 30000);
    if (e) {
        rd_kafka_topic_partition_list_destroy(a);
        return sf_errf(err, "rewind: cannot read committed offsets: %s", rd_kafka_err2str(e));
    }
    for (int i = 0; i < a->cnt; i++)
        if (a->elems[i].offset < 0)
            a->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_error_t *error = rd_kafka_seek_partitions(s->consumer, a, 30000);
    rd_kafka_topic_partition_list_destroy(a);
    if (error) {
        sf_errf(err, "rewind: seek failed: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return -1;
    }
    return 0;
}

/* Collects a batch: returns when batch_max messages are in, when the
 * consumer has nothing more fetched (the batch takes what is there, it does
 * not wait for more: under a backlog batches fill up, under a light load
 * they stay small and fast), at the latest batch_ms after the first message,
 * or after ~100 ms of nothing. -1 on a fatal consumer error. */
static int collect(scorer *s, sf_err *err)
{
    double deadline = 0;
    while (s->n < s->cap) {
        int timeout = 100;
        if (s->n > 0) {
            if (deadline - sf_mono_s() <= 0)
                break;
            timeout = 0;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, timeout);
        if (s->fatal[0])
            return sf_errf(err, "%s", s->fatal);
        if (!m)
            break;
        if (m->err) {
            if (sf_kafka_consumer_fatal(s->consumer, m, err) < 0) {
                rd_kafka_message_destroy(m);
                return sf_err_wrap(err, "consumer");
            }
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                scorer_logf(s, "consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (s->n == 0)
            deadline = sf_mono_s() + s->o->batch_ms / 1000.0;
        s->rx[s->n] = sf_mono_s();
        s->msg[s->n++] = m;
        if (*s->o->stop)
            break;
    }
    return 0;
}

/* Produces s->buf (an encoded prediction or alert of p's order) to rkt,
 * partition part (RD_KAFKA_PARTITION_UA: by key), headers event_id and
 * model_version (the challenger's for slot SLOT_SHADOW); a full queue is
 * waited out. 0, or -1 with err. */
static int produce_buf(scorer *s, rd_kafka_topic_t *rkt, int32_t part, uintptr_t slot,
                       const sf_prediction *p, sf_err *err)
{
    const int ch = slot == SLOT_SHADOW; /* the challenger's version, else the champion's */
    for (;;) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(2);
        rd_kafka_header_add(h, "event_id", sizeof "event_id" - 1, p->event_id,
                            (ssize_t)strlen(p->event_id));
        rd_kafka_header_add(h, "model_version", sizeof "model_version" - 1,
                            ch ? s->ch_version_text : s->version_text,
                            (ssize_t)(ch ? s->ch_version_len : s->version_len));
        rd_kafka_resp_err_t e =
            rd_kafka_producev(s->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(part),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(p->order_id, SF_ID_LEN), /* checked by the encoder */
                              RD_KAFKA_V_VALUE(s->buf.data, s->buf.len), RD_KAFKA_V_HEADERS(h),
                              RD_KAFKA_V_OPAQUE((void *)slot), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        rd_kafka_headers_destroy(h);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || *s->o->stop > 1)
            return sf_errf(err, "cannot produce to %s: %s", rd_kafka_topic_name(rkt),
                           *s->o->stop > 1 ? "second stop signal while the queue is full"
                                           : rd_kafka_err2str(e));
        rd_kafka_poll(s->producer, 10);
    }
}

/* 0 produced, -1 produce error, -2 the prediction does not encode. */
static int produce_pred(scorer *s, const rd_kafka_message_t *src, const sf_prediction *p,
                        sf_err *err)
{
    if (sf_encode_prediction(p, &s->buf, err) < 0) {
        sf_err_wrap(err, "cannot encode the prediction of %s [%d] @%" PRId64,
                    rd_kafka_topic_name(src->rkt), (int)src->partition, src->offset);
        return -2; /* the input goes to the DLQ with this reason */
    }
    return produce_buf(s, s->out, RD_KAFKA_PARTITION_UA, SLOT_PRED, p, err);
}

/* The challenger's prediction q of the event whose champion prediction was
 * just produced: to satisfy.shadow, partitioned by key like the champion's,
 * in the same transaction. One that does not encode is counted and skipped
 * (the input is the champion's business: never to the DLQ for this). -1 on
 * a produce error. */
static int produce_shadow(scorer *s, const rd_kafka_message_t *src, const sf_prediction *q,
                          sf_err *err)
{
    sf_err why;
    if (sf_encode_prediction(q, &s->buf, &why) < 0) {
        if (s->n_shadow_skipped++ == 0)
            snprintf(s->shadow_skip_why, sizeof s->shadow_skip_why,
                     "%s [%d] @%" PRId64 ", event %s: %.300s", rd_kafka_topic_name(src->rkt),
                     (int)src->partition, src->offset, q->event_id, why.msg);
        return 0;
    }
    if (produce_buf(s, s->shadow_out, RD_KAFKA_PARTITION_UA, SLOT_SHADOW, q, err) < 0)
        return -1;
    s->n_shadow++;
    return 0;
}

/* The alert of a prediction that crosses the threshold for the first time
 * (alerts.h), to the partition of its order's message src: the partition a
 * rebuild reads when src's partition is assigned. -1 on a produce error. */
static int maybe_alert(scorer *s, const rd_kafka_message_t *src, const sf_prediction *p,
                       sf_err *err)
{
    sf_alert al;
    int rc = sf_alerts_check(s->o->alerts, p, &al);
    if (rc < 0)
        return sf_errf(err, "alerts: out of memory");
    if (rc == 0)
        return 0;
    if (sf_encode_alert(&al, &s->buf, err) < 0) /* p encoded: cannot happen */
        return sf_err_wrap(err, "alert of %s [%d] @%" PRId64, rd_kafka_topic_name(src->rkt),
                           (int)src->partition, src->offset);
    return produce_buf(s, s->alerts_out, src->partition, SLOT_ALERT, p, err);
}

/* Decodes an order event, Avro or JSON. The first byte decides, as in the
 * retrainer: '{' is JSON (satisfy-producer --format json, kcat, jq), since
 * Avro with Confluent framing starts with the magic byte 0; the `schema`
 * header is not needed. JSON is parsed from a NUL-terminated copy in
 * scratch (a value with a NUL byte in it is not JSON text). */
static int decode_order(const rd_kafka_message_t *m, sf_buf *scratch, sf_order_event *ev,
                        sf_err *err)
{
    const char *v = m->payload;
    if (v[0] != '{')
        return sf_decode_order(m->payload, m->len, ev, err);
    const char *nul = memchr(v, 0, m->len);
    if (nul)
        return sf_errf(err, "OrderEvent JSON: NUL byte at offset %ld", (long)(nul - v));
    if (sf_buf_reserve(scratch, m->len + 1, err) < 0)
        return -1;
    memcpy(scratch->data, v, m->len);
    scratch->data[m->len] = '\0';
    return sf_order_from_json((const char *)scratch->data, ev, err);
}

/* 0 and ev filled when m is a valid order event (Avro or JSON) keyed by its
 * order id; otherwise -1 with the reason in err. */
static int check_message(const rd_kafka_message_t *m, sf_buf *scratch, sf_order_event *ev,
                         sf_err *err)
{
    if (!m->payload || m->len == 0)
        return sf_errf(err, "empty message (no value)");
    if (decode_order(m, scratch, ev, err) < 0)
        return -1;
    size_t idlen = strlen(ev->order_id);
    if (!m->key || m->key_len != idlen || memcmp(m->key, ev->order_id, idlen) != 0) {
        sf_errf(err, "key '%.*s' does not match order_id %s",
                m->key ? (int)(m->key_len > 64 ? 64 : m->key_len) : 0,
                m->key ? (const char *)m->key : "", ev->order_id);
        sf_order_event_clear(ev);
        return -1;
    }
    return 0;
}

/* A message to the DLQ. The record is cut to fit if it must (dlq.h), and a
 * full queue is waited out as for a prediction: a per-message failure must
 * not abort the batch, which would rewind to the same message for ever. */
static int to_dlq(scorer *s, const rd_kafka_message_t *m, const char *why, sf_err *err)
{
    for (;;) {
        int rc = sf_dlq_produce(s->producer, m, why, (void *)(uintptr_t)SLOT_DLQ, err);
        if (rc == 0)
            break;
        if (rc != -2 || *s->o->stop > 1)
            return -1;
        rd_kafka_poll(s->producer, 10);
    }
    s->n_dlq++;
    return 0;
}

/* Scores a block of k rows (s->w->rows, from msg[src[]]) and produces their
 * predictions; a prediction that does not encode sends its input to the
 * DLQ. With a challenger (not the champion) the same events are scored
 * with it too, on the same rows when the feature specs agree, else on its
 * own (w->ch_rows), and its predictions go to satisfy.shadow. -1 on a
 * produce error. */
static int score_block(scorer *s, size_t k, sf_err *err)
{
    struct work *w = s->w;
    const int shadow = s->ch != NULL && s->ch_version != s->version;
    sf_model_score_rows(s->model, w->rows, k, w->pred);
    if (shadow && s->ch_rows) {
        sf_model_score_rows(s->ch, w->ch_rows, k, w->shadow);
    } else if (shadow) { /* the same features: the champion's rows, its event fields */
        memcpy(w->shadow, w->pred, k * sizeof *w->pred);
        sf_model_score_rows(s->ch, w->rows, k, w->shadow);
    }
    sf_drift_add(s->o->drift, w->rows, k, (size_t)sf_model_n_inputs(s->model));
    int64_t scored_at = sf_wall_ms(); /* the block's rows were scored together */
    for (size_t j = 0; j < k; j++) {
        sf_prediction *p = &w->pred[j];
        const rd_kafka_message_t *m = s->msg[w->src[j]];
        p->model_version = s->version;
        p->scored_at = scored_at;
        sf_err why; /* read only after a failure set it: no 512-byte clear per event */
        why.msg[0] = '\0';
        int rc = produce_pred(s, m, p, &why);
        if (rc == -1)
            return sf_errf(err, "%s", why.msg);
        if (rc == 0 && s->alerts_out && maybe_alert(s, m, p, err) < 0)
            return -1;
        if (rc == 0 && shadow) { /* only beside a champion prediction that went out */
            w->shadow[j].model_version = s->ch_version;
            w->shadow[j].scored_at = scored_at;
            if (produce_shadow(s, m, &w->shadow[j], err) < 0)
                return -1;
        }
        if (rc == 0)
            w->recent[s->n_pred++ % SF_STATS_RECENT] = *p;
        else if (to_dlq(s, m, why.msg, err) < 0) /* does not encode: keep the input */
            return -1;
    }
    return 0;
}

/* Scores the batch and produces predictions and DLQ messages, a block at a
 * time: decode and features per message, then the model over the block's
 * rows at once (the tree walks of different rows overlap), then encode and
 * produce. -1 on a produce error (the caller aborts/rewinds or fails). */
/* --history-features: the event id and the history columns of its row. */
static void write_hist_features(scorer *s, const sf_prediction *p, const float *row)
{
    fputs(p->event_id, s->hist_out);
    for (int c = 0; c < s->n_hist_cols; c++)
        fprintf(s->hist_out, " %.9g", (double)row[s->hist_cols[c]]);
    fputc('\n', s->hist_out);
}

/* The input drift's PSI (drift.h) to satisfy.metrics, in the batch's
 * transaction when there is one: an aborted batch loses it until the next
 * interval, which is all a gauge needs. */
static void publish_drift(scorer *s)
{
    char *js = sf_drift_json(s->o->drift);
    if (!js)
        return;
    char key[160];
    int kn = snprintf(key, sizeof key, "%s%s", SF_DRIFT_KEY,
                      s->o->instance_id ? s->o->instance_id : "-");
    rd_kafka_resp_err_t e = rd_kafka_producev(
        s->producer, RD_KAFKA_V_TOPIC(SF_TOPIC_METRICS), RD_KAFKA_V_KEY(key, (size_t)kn),
        RD_KAFKA_V_VALUE(js, strlen(js)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("schema", SF_DRIFT_SCHEMA, -1), RD_KAFKA_V_END);
    if (e)
        scorer_logf(s, "%s: produce input drift: %s", SF_TOPIC_METRICS, rd_kafka_err2str(e));
    free(js);
}

int scorer_process(scorer *s, sf_err *err)
{
    s->n_pred = s->n_dlq = 0;
    s->n_shadow = s->n_shadow_skipped = 0;
    struct work *w = s->w;
    const size_t d = (size_t)sf_model_n_inputs(s->model);
    /* features are made once: a challenger of another spec needs its own */
    s->ch_rows = s->ch && strcmp(sf_model_get_info(s->ch)->spec_hash,
                                 sf_model_get_info(s->model)->spec_hash) != 0;
    const size_t dc = s->ch_rows ? (size_t)sf_model_n_inputs(s->ch) : 0;
    size_t k = 0;
    const sf_history *hist = NULL; /* read-locked while a block's features are made */
    for (size_t i = 0; i < s->n; i++) {
        const rd_kafka_message_t *m = s->msg[i];
        sf_order_event ev;
        sf_err why; /* read only after a failure set it: no 512-byte clear per event */
        why.msg[0] = '\0';
        if (check_message(m, &s->buf, &ev, &why) == 0) { /* buf: free until encoding */
            if (!hist)
                hist = sf_livehist_lock(s->lh);
            sf_model_prepare_event_with(s->model, hist, &ev, &w->pred[k], w->rows + k * d);
            if (s->ch_rows)
                sf_model_prepare_event_with(s->ch, hist, &ev, &w->shadow[k], w->ch_rows + k * dc);
            if (s->hist_out)
                write_hist_features(s, &w->pred[k], w->rows + k * d);
            sf_order_event_clear(&ev);
            w->src[k++] = i;
        } else {
            if (hist) /* no produce under the read lock: a full queue waits */
                sf_livehist_unlock(s->lh);
            hist = NULL;
            if (to_dlq(s, m, why.msg, err) < 0)
                return -1;
        }
        if (k == SF_SCORER_BLOCK) {
            if (hist)
                sf_livehist_unlock(s->lh);
            hist = NULL;
            if (score_block(s, k, err) < 0)
                return -1;
            k = 0;
        }
    }
    if (hist)
        sf_livehist_unlock(s->lh);
    int rc = k ? score_block(s, k, err) : 0;
    if (s->n_shadow_skipped)
        scorer_logf(s,
                    "shadow: %zu challenger prediction(s) of the batch did not encode, skipped "
                    "(first: %s)",
                    s->n_shadow_skipped, s->shadow_skip_why);
    if (rc == 0 && sf_drift_due(s->o->drift))
        publish_drift(s);
    if (s->hist_out)
        fflush(s->hist_out); /* readable per batch: tests wait on it */
    return rc;
}

/* The next offset of each partition in the batch. */
rd_kafka_topic_partition_list_t *scorer_batch_offsets(scorer *s)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < s->n; i++) {
        const rd_kafka_message_t *m = s->msg[i];
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(m->rkt), m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    return l;
}

/* Hands a finished batch's offsets to librdkafka's committer (the consumer
 * role's commit_stored, kafka.c): it commits them every 100 ms while the
 * group is steady, before a partition is revoked, and on close. A commit
 * of our own could be sent behind a rejoin of the group and come back with
 * an illegal generation, which makes librdkafka give up the whole
 * assignment: the cooperative rebalance would stop this scorer after all. */
void scorer_store_offsets(scorer *s, rd_kafka_topic_partition_list_t *offs)
{
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(s->consumer, offs);
    if (e) /* a later owner may score these again */
        scorer_logf(s, "storing the batch's offsets failed: %s (messages may be scored again)",
                    rd_kafka_err2str(e));
}

static void record(scorer *s)
{
    if (!s->o->stats)
        return;
    int64_t now = sf_wall_ms();
    double t = sf_mono_s();
    for (size_t i = 0; i < s->n; i++) {
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(s->msg[i], &tt);
        s->e2e[i] = ts >= 0 ? (double)(now - ts) : 1e300;
        s->proc[i] = (t - s->rx[i]) * 1000.0;
    }
    sf_stats_batch(s->o->stats, s->n, s->n_dlq, s->w->recent, s->n_pred, s->e2e, s->proc, s->n);
    if (s->n_shadow || s->n_shadow_skipped)
        sf_stats_shadow(s->o->stats, s->n_shadow, s->n_shadow_skipped);
    if (t - s->last_lag >= 1.0) {
        s->last_lag = t;
        rd_kafka_topic_partition_list_t *a = NULL;
        if (rd_kafka_assignment(s->consumer, &a) == 0) {
            int64_t lag = 0;
            if (a->cnt > 0 && rd_kafka_position(s->consumer, a) == 0) {
                for (int i = 0; i < a->cnt; i++) {
                    int64_t lo, hi;
                    if (rd_kafka_get_watermark_offsets(s->consumer, a->elems[i].topic,
                                                       a->elems[i].partition, &lo, &hi) == 0 &&
                        hi >= 0 && a->elems[i].offset >= 0 && hi > a->elems[i].offset)
                        lag += hi - a->elems[i].offset;
                }
            }
            sf_stats_lag(s->o->stats, lag);
            rd_kafka_topic_partition_list_destroy(a);
        }
    }
}

static void clear_batch(scorer *s)
{
    for (size_t i = 0; i < s->n; i++)
        rd_kafka_message_destroy(s->msg[i]);
    s->n = 0;
}

/* The model_version header's text of version v into buf; its length. */
static size_t version_text(char *buf, size_t size, int64_t v)
{
    int n = snprintf(buf, size, "%" PRId64, v);
    return n > 0 ? (size_t)n : 0;
}

/* Makes m (version v) the model of the next batches. A release made
 * before the live history carries a snapshot: it seeds the live history
 * while satisfy.history has given no record (livehistory.h). */
static void use_model(scorer *s, sf_model *m, int64_t v)
{
    const sf_history *snap = sf_model_history(m);
    sf_err err;
    if (snap && sf_livehist_seed(s->lh, snap, v, &err) < 0)
        scorer_logf(s, "%s (scoring with the live history only)", err.msg);
    s->n_hist_cols = 0;
    const sf_feature_spec *spec = sf_model_get_info(m)->spec;
    static const char *const hist_names[] = {"seller_review_mean", "seller_review_count",
                                             "seller_late_rate",   "seller_delivered",
                                             "customer_orders",    "customer_review_mean"};
    for (size_t i = 0; i < sizeof hist_names / sizeof hist_names[0]; i++) {
        int c = sf_spec_index(spec, hist_names[i]);
        if (c >= 0)
            s->hist_cols[s->n_hist_cols++] = c;
    }
    if (s->o->drift) {
        sf_err derr;
        int dr = sf_drift_set_model(s->o->drift, spec, sf_model_metrics(m), v, &derr);
        if (dr < 0)
            scorer_logf(s, "%s", derr.msg);
        else if (dr == 0)
            scorer_logf(s, "model %" PRId64 " carries no training distribution: no input drift", v);
    }
    sf_model_free(s->model);
    s->model = m;
    s->version = v;
    s->version_len = version_text(s->version_text, sizeof s->version_text, v);
    if (s->o->stats)
        sf_stats_model(s->o->stats, v);
    scorer_logf(s, "scoring with model %" PRId64, v);
    if (s->o->alerts)
        sf_alerts_use_release(s->o->alerts, v, sf_model_metrics(m));
}

/* 1 when satisfy.shadow exists (its handle kept in s->shadow_out), else 0
 * (logged): producing to a topic that is not there would fail every batch. */
static int shadow_topic(scorer *s)
{
    if (s->shadow_out)
        return 1;
    rd_kafka_topic_t *t = rd_kafka_topic_new(s->producer, SF_TOPIC_SHADOW, NULL);
    if (!t) {
        scorer_logf(s, "shadow: cannot create a topic handle for %s: %s", SF_TOPIC_SHADOW,
                    rd_kafka_err2str(rd_kafka_last_error()));
        return 0;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(s->producer, 0, t, &md, s->o->connect_timeout_ms);
    if (!e && (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0))
        e = md->topic_cnt == 1 && md->topics[0].err ? md->topics[0].err
                                                    : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (e) {
        rd_kafka_topic_destroy(t);
        scorer_logf(s, "shadow: %s: %s (create it with the other topics)", SF_TOPIC_SHADOW,
                    rd_kafka_err2str(e));
        return 0;
    }
    s->shadow_out = t;
    return 1;
}

/* Makes m (version v) the challenger of the next batches, or none (m
 * NULL). A challenger whose topic is missing is not used. */
static void use_challenger(scorer *s, sf_model *m, int64_t v)
{
    if (m && !shadow_topic(s)) {
        scorer_logf(s, "shadow: not scoring with challenger model %" PRId64, v);
        sf_model_free(m);
        m = NULL;
        v = 0;
    }
    if (s->ch && s->ch_version != v)
        scorer_logf(s, "shadow: no challenger now (was model %" PRId64 ")", s->ch_version);
    sf_model_free(s->ch);
    s->ch = m;
    s->ch_version = v;
    s->ch_version_len = version_text(s->ch_version_text, sizeof s->ch_version_text, v);
    if (s->o->stats)
        sf_stats_challenger(s->o->stats, v);
    if (!m)
        return;
    scorer_logf(s, "shadow: scoring with challenger model %" PRId64 " as well (to %s)", v,
                SF_TOPIC_SHADOW);
    const sf_model_info *ci = sf_model_get_info(m), *mi = sf_model_get_info(s->model);
    if (strcmp(ci->spec_hash, mi->spec_hash) != 0)
        scorer_logf(s,
                    "shadow: challenger %" PRId64 " has feature spec %s %s, the champion %s %s: "
                    "its features are made separately (slower)",
                    v, ci->spec->name, ci->spec_hash, mi->spec->name, mi->spec_hash);
}

static void swap_model(scorer *s)
{
    sf_model *m;
    int64_t v;
    if (sf_modelwatch_take(s->mw, 0, &m, &v))
        use_model(s, m, v);
    if (sf_modelwatch_take_challenger(s->mw, &m, &v))
        use_challenger(s, m, v);
}

/* Counts a batch that was aborted and rewound (rc 1) or finished (rc 0):
 * batches that keep failing mean the assigned partitions make no progress,
 * which the lag gauge alone does not show; so it is said in the log after
 * SF_SCORER_STALL_S and then every 30 s, with the batch's first message,
 * `where` (its partition is the suspect), and /metrics has the count
 * (satisfy_scorer_aborts_in_row, from sf_stats). */
#define SF_SCORER_STALL_S 5

static void note_progress(scorer *s, int rc, const char *where)
{
    if (rc == 0) {
        if (s->aborts_in_row && sf_mono_s() - s->stall_since >= SF_SCORER_STALL_S)
            scorer_logf(s, "progress again after %" PRIu64 " aborted batches in a row",
                        s->aborts_in_row);
        s->aborts_in_row = 0;
        return;
    }
    double now = sf_mono_s();
    if (s->aborts_in_row++ == 0) {
        s->stall_since = now;
        s->stall_said = now - 30 + SF_SCORER_STALL_S;
    }
    if (now - s->stall_said >= 30) {
        s->stall_said = now;
        scorer_logf(s,
                    "no progress: %" PRIu64 " batches in a row aborted and rewound over %.0f s, "
                    "the last starting at %s (satisfy_scorer_aborts_total grows)",
                    s->aborts_in_row, now - s->stall_since, where);
    }
}

/* After the second aborted batch in a row, waits before the next try: 100
 * ms, doubling up to 5 s. A refusal that persists (an ACL, a deleted topic,
 * an oversized output) then costs one try every few seconds instead of a
 * hundred a second against the brokers; the producer's events are served
 * meanwhile and a stop ends the wait. The consumer is not polled for those
 * few seconds, far inside max.poll.interval.ms. */
static void backoff(scorer *s)
{
    if (s->aborts_in_row < 2)
        return;
    uint64_t shift = s->aborts_in_row - 2 < 6 ? s->aborts_in_row - 2 : 6;
    int64_t ms = (int64_t)100 << shift;
    if (ms > 5000)
        ms = 5000;
    if (s->o->stats)
        sf_stats_backoff(s->o->stats, (uint64_t)ms);
    int64_t until = sf_mono_ms() + ms;
    while (!*s->o->stop && sf_mono_ms() < until)
        rd_kafka_poll(s->producer, 50);
}

static int loop(scorer *s, sf_err *err)
{
    while (!*s->o->stop) {
        swap_model(s);
        if (sf_mono_s() - s->last_hist >= 1.0) { /* the history gauges, every second */
            s->last_hist = sf_mono_s();
            sf_livehist_publish(s->lh);
        }
        if (collect(s, err) < 0)
            return -1;
        if (s->n == 0)
            continue;
        const rd_kafka_message_t *first = s->msg[0];
        char where[96];
        snprintf(where, sizeof where, "%s [%d] @%" PRId64, rd_kafka_topic_name(first->rkt),
                 (int)first->partition, first->offset);
        int rc = s->eos ? scorer_commit_eos(s, err) : scorer_commit_alo(s, err);
        if (s->alerts_out && rc == 0) /* the batch's alerts are out */
            sf_alerts_commit(s->o->alerts);
        else if (s->alerts_out) /* they will be made again, or not at all */
            sf_alerts_abort(s->o->alerts);
        if (rc < 0)
            return -1;
        note_progress(s, rc, where);
        if (rc == 0)
            record(s);
        clear_batch(s);
        if (rc == 1)
            backoff(s);
    }
    return 0;
}

static int setup_producer(scorer *s, char *txn_id, sf_err *err)
{
    sf_kafka_client_opts ko = {.role = SF_KAFKA_SCORER_PRODUCER,
                               .conn = conn_of(s->o),
                               .transactional_id = s->eos ? txn_id : NULL,
                               .stats = &s->pstats,
                               .log = s->o->log,
                               .log_arg = s->o->log_arg};
    if (!(s->producer = sf_kafka_client_new(&ko, err)))
        return -1;
    if (sf_kafka_check_reachable(s->producer, s->o->brokers, s->o->connect_timeout_ms, err) < 0)
        return -1;
    s->embedded = s->o->cluster == SF_SCORER_CLUSTER_DETECT
                      ? sf_kafka_is_embedded(s->producer, s->o->connect_timeout_ms)
                      : s->o->cluster == SF_SCORER_CLUSTER_EMBEDDED;
    s->commit_stored = !s->eos || s->embedded;
    /* A producer learns a topic's partitions at its first message, and
     * librdkafka asks for them only at its next 1 s topic scan: the first
     * batch would wait up to 1 s. Ask now (a failure only costs that wait). */
    const char *out[] = {SF_TOPIC_PREDICTIONS, SF_TOPIC_DLQ};
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(s->producer, out[i], NULL);
        if (!t)
            return sf_errf(err, "cannot create a topic handle for %s: %s", out[i],
                           rd_kafka_err2str(rd_kafka_last_error()));
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(s->producer, 0, t, &md, s->o->connect_timeout_ms) == 0)
            rd_kafka_metadata_destroy(md);
        if (i == 0)
            s->out = t; /* kept: producing by name looks the topic up under a write lock */
        else
            rd_kafka_topic_destroy(t);
    }
    if (s->o->alerts &&
        sf_alerts_check_topics(s->o->alerts, s->producer, s->o->connect_timeout_ms) == 0 &&
        !(s->alerts_out = rd_kafka_topic_new(s->producer, SF_TOPIC_ALERTS, NULL)))
        return sf_errf(err, "cannot create a topic handle for %s: %s", SF_TOPIC_ALERTS,
                       rd_kafka_err2str(rd_kafka_last_error()));
    return 0;
}

static int setup_consumer(scorer *s, sf_err *err)
{
    sf_kafka_client_opts ko = {.role = SF_KAFKA_SCORER_CONSUMER,
                               .conn = conn_of(s->o),
                               .group = s->o->group,
                               .embedded = s->embedded,
                               .commit_stored = s->commit_stored,
                               .stats = &s->cstats,
                               .log = s->o->log,
                               .log_arg = s->o->log_arg,
                               .rebalance = rebalance_cb,
                               .user = s};
    if (!(s->consumer = sf_kafka_client_new(&ko, err)))
        return -1;
    char wait[32] = "?";
    size_t wlen = sizeof wait;
    rd_kafka_conf_get(rd_kafka_conf(s->consumer), "fetch.wait.max.ms", wait, &wlen);
    if (s->embedded)
        scorer_logf(s, "the cluster is satisfy-broker (librdkafka's mock): fetch.wait.max.ms=%s",
                    wait);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, SF_TOPIC_ORDERS, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(s->consumer, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (e)
        return sf_errf(err, "cannot subscribe to %s: %s", SF_TOPIC_ORDERS, rd_kafka_err2str(e));
    return 0;
}

static void free_scorer(scorer *s)
{
    clear_batch(s);
    int now = s->o->stop && *s->o->stop > 1; /* a second stop: no more waiting */
    /* a fenced or otherwise fatally failed consumer cannot leave its group */
    if (s->consumer)
        rd_kafka_destroy_flags(s->consumer, now || rd_kafka_fatal_error(s->consumer, NULL, 0)
                                                ? RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE
                                                : 0);
    if (s->out)
        rd_kafka_topic_destroy(s->out);
    if (s->alerts_out)
        rd_kafka_topic_destroy(s->alerts_out);
    if (s->shadow_out)
        rd_kafka_topic_destroy(s->shadow_out);
    if (s->producer) {
        if (now)
            rd_kafka_purge(s->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        else
            rd_kafka_flush(s->producer, 10000);
        rd_kafka_destroy(s->producer);
    }
    sf_modelwatch_stop(s->mw);
    if (s->lh && s->o->on_history)
        s->o->on_history(s->o->on_history_arg, NULL);
    sf_livehist_stop(s->lh);
    if (s->hist_out)
        fclose(s->hist_out);
    sf_model_free(s->model);
    sf_model_free(s->ch);
    sf_buf_free(&s->buf);
    free(s->msg);
    free(s->rx);
    free(s->w);
    free(s->e2e);
    free(s->proc);
}

int sf_scorer_run(const sf_scorer_opts *in, sf_err *err)
{
    sf_scorer_opts o = *in;
    if (!o.group || !*o.group)
        o.group = SF_SCORER_GROUP;
    if (o.batch_max <= 0)
        o.batch_max = SF_SCORER_BATCH;
    if (o.batch_ms <= 0)
        o.batch_ms = SF_SCORER_BATCH_MS;
    if (o.connect_timeout_ms <= 0)
        o.connect_timeout_ms = 10000;
    if (!o.stop)
        return sf_errf(err, "scorer: no stop flag");
    scorer s = {0};
    s.o = &o;
    s.eos = !o.at_least_once;
    char txn_id[SF_SCORER_TXN_ID_MAX];
    if (s.eos && sf_scorer_transactional_id(o.group, o.instance_id, txn_id, sizeof txn_id, err))
        return -1;
    s.cap = (size_t)o.batch_max;
    s.msg = calloc(s.cap, sizeof *s.msg);
    s.rx = calloc(s.cap, sizeof *s.rx);
    s.w = calloc(1, sizeof *s.w);
    s.e2e = calloc(s.cap, sizeof *s.e2e);
    s.proc = calloc(s.cap, sizeof *s.proc);
    int rc = -1;
    if (!s.msg || !s.rx || !s.w || !s.e2e || !s.proc) {
        sf_errf(err, "scorer: out of memory for a batch of %d", o.batch_max);
        goto out;
    }
    if (setup_producer(&s, txn_id, err) < 0)
        goto out;
    if (s.eos && s.embedded) /* the mock cluster does not fence (docs/operations.md) */
        scorer_logf(&s,
                    "satisfy-broker does not fence transactional producers: every scorer needs its "
                    "own --instance-id (this one: %s)",
                    o.instance_id);

    sf_kafka_conn conn = conn_of(&o);
    if (o.history_features && !(s.hist_out = fopen(o.history_features, "w"))) {
        sf_errf(err, "--history-features %s: %s", o.history_features, strerror(errno));
        goto out;
    }
    sf_livehist_opts ho = {
        .stats = o.stats, .log = o.log, .log_arg = o.log_arg, .embedded = s.embedded};
    if (!(s.lh = sf_livehist_start(&conn, &ho, err)))
        goto out;
    if (o.on_history)
        o.on_history(o.on_history_arg, s.lh);
    sf_modelwatch_opts wo = {
        .log = o.log, .log_arg = o.log_arg, .stats = o.stats, .verify_key = o.verify_key};
    if (!(s.mw = sf_modelwatch_start(&conn, &wo, err)))
        goto out;

    if (o.history_wait_s >= 0)
        sf_livehist_wait(s.lh, o.history_wait_s ? o.history_wait_s : SF_SCORER_HISTORY_WAIT_S,
                         o.stop);
    /* no model, no consumption: do not even join the group */
    double said = sf_mono_s() - 29; /* first said after 1 s: a model on the topic comes sooner */
    while (!*o.stop) {
        sf_model *m;
        int64_t v;
        if (sf_modelwatch_take(s.mw, 200, &m, &v)) {
            use_model(&s, m, v);
            break;
        }
        if (sf_mono_s() - said >= 30) {
            scorer_logf(&s, "waiting for a model release on %s; consuming nothing until then",
                        SF_TOPIC_MODELS);
            said = sf_mono_s();
        }
    }
    if (!s.model) {
        rc = 0;
        goto out;
    }
    if (s.eos) {
        txn_call init = {.what = TXN_INIT};
        int gave_up;
        rd_kafka_error_t *e = scorer_txn_wait(&s, &init, 1, &gave_up);
        if (e && gave_up == 1) { /* stopped: nothing consumed, nothing to finish */
            scorer_logf(&s, "stopped while waiting for init_transactions (%s)",
                        rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            rc = 0;
            goto out;
        }
        if (e) {
            sf_errf(err, "init_transactions (transactional.id %s): %s", txn_id,
                    rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            goto out;
        }
        scorer_logf(&s, "exactly-once: transactional.id %s", txn_id);
    } else {
        scorer_logf(&s, "at-least-once: offsets committed after delivery");
    }
    if (setup_consumer(&s, err) < 0)
        goto out;
    rc = loop(&s, err);
    if (rc == 0) {
        rd_kafka_resp_err_t e = rd_kafka_consumer_close(s.consumer);
        if (e)
            scorer_logf(&s, "consumer close: %s", rd_kafka_err2str(e));
    }
out:
    free_scorer(&s);
    return rc;
}
