/*
 * consume_count.c - reads satisfy.orders and satisfy.reviews from the start
 * to their high watermarks, decodes every message (Avro framing or JSON) and
 * prints the counts per topic and per stage, in the format expect_counts
 * prints, so the replay test can compare the two.
 *
 * It also checks what the replay promises and exits 1 on any violation,
 * naming topic/partition/offset: nothing dropped by retention (low watermark
 * 0); key = order_id; message timestamp = event time; an order event carries
 * no timestamp later than its own event time, and none of a later stage; per
 * order, events are in one partition, in non-decreasing event time and
 * increasing stage in offset order.
 *
 * usage: consume_count --brokers LIST [--timeout S]
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/codec.h"
#include "satisfy/kafka.h"
#include "tool_args.h"

typedef struct seen {
    sf_id order_id;
    int kind; /* 0 order, 1 review */
    int partition;
    int64_t offset;
    int64_t time;
    int stage;
} seen;

typedef struct state {
    seen *v;
    size_t n, cap;
    uint64_t topic[2];
    uint64_t stage[SF_STAGE_COUNT];
    uint64_t violations;
} state;

static void violation(state *s, const char *topic, int part, int64_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void violation(state *s, const char *topic, int part, int64_t off, const char *fmt, ...)
{
    if (s->violations++ < 20) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "consume_count: %s [%d] @%" PRId64 ": ", topic, part, off);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

static void remember(state *s, const char *id, int kind, int part, int64_t off, int64_t t,
                     int stage)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) {
            fprintf(stderr, "consume_count: out of memory\n");
            exit(1);
        }
    }
    seen *e = &s->v[s->n++];
    snprintf(e->order_id, sizeof e->order_id, "%s", id);
    e->kind = kind;
    e->partition = part;
    e->offset = off;
    e->time = t;
    e->stage = stage;
}

static int key_is(const rd_kafka_message_t *m, const char *id)
{
    return m->key && m->key_len == strlen(id) && memcmp(m->key, id, m->key_len) == 0;
}

static char *json_copy(const rd_kafka_message_t *m)
{
    char *js = malloc(m->len + 1);
    if (!js) {
        fprintf(stderr, "consume_count: out of memory\n");
        exit(1);
    }
    memcpy(js, m->payload, m->len);
    js[m->len] = '\0';
    return js;
}

static void check_message(state *s, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    int part = (int)m->partition;
    int64_t off = m->offset;
    int is_json = m->len > 0 && ((const char *)m->payload)[0] == '{';
    rd_kafka_timestamp_type_t tst;
    int64_t ts = rd_kafka_message_timestamp(m, &tst);
    sf_err err = {{0}};

    if (strcmp(topic, SF_TOPIC_ORDERS) == 0) {
        sf_order_event ev;
        int rc;
        if (is_json) {
            char *js = json_copy(m);
            rc = sf_order_from_json(js, &ev, &err);
            free(js);
        } else {
            rc = sf_decode_order(m->payload, m->len, &ev, &err);
        }
        if (rc != 0) {
            violation(s, topic, part, off, "cannot decode: %s", err.msg);
            return;
        }
        s->topic[0]++;
        if ((unsigned)ev.stage < SF_STAGE_COUNT)
            s->stage[ev.stage]++;
        if (!key_is(m, ev.order_id))
            violation(s, topic, part, off, "key is not the order id %s", ev.order_id);
        if (tst != RD_KAFKA_TIMESTAMP_CREATE_TIME || ts != ev.event_time)
            violation(s, topic, part, off, "message timestamp %" PRId64 " != event time %" PRId64,
                      ts, ev.event_time);
        const int64_t carried[4] = {ev.purchase, ev.approved, ev.carrier, ev.delivered};
        static const char *const names[4] = {"purchase", "approved", "carrier", "delivered"};
        for (int i = 0; i < 4; i++)
            if (carried[i] != SF_TIME_NONE && carried[i] > ev.event_time)
                violation(s, topic, part, off,
                          "%s %s time %" PRId64 " is after event time %" PRId64,
                          sf_stage_name(ev.stage), names[i], carried[i], ev.event_time);
        /* What each stage may know: nothing of a later stage. */
        if ((ev.stage == SF_STAGE_PURCHASED && ev.approved != SF_TIME_NONE) ||
            (ev.stage <= SF_STAGE_APPROVED && ev.carrier != SF_TIME_NONE) ||
            (ev.stage <= SF_STAGE_SHIPPED && ev.delivered != SF_TIME_NONE))
            violation(s, topic, part, off, "%s event of %s carries a later stage's time",
                      sf_stage_name(ev.stage), ev.order_id);
        remember(s, ev.order_id, 0, part, off, ev.event_time, (int)ev.stage);
        sf_order_event_clear(&ev);
    } else {
        sf_review_event ev;
        int rc;
        if (is_json) {
            char *js = json_copy(m);
            rc = sf_review_from_json(js, &ev, &err);
            free(js);
        } else {
            rc = sf_decode_review(m->payload, m->len, &ev, &err);
        }
        if (rc != 0) {
            violation(s, topic, part, off, "cannot decode: %s", err.msg);
            return;
        }
        s->topic[1]++;
        if (!key_is(m, ev.order_id))
            violation(s, topic, part, off, "key is not the order id %s", ev.order_id);
        if (tst != RD_KAFKA_TIMESTAMP_CREATE_TIME || ts != ev.created)
            violation(s, topic, part, off,
                      "message timestamp %" PRId64 " != review creation time %" PRId64, ts,
                      ev.created);
        remember(s, ev.order_id, 1, part, off, ev.created, -1);
        sf_review_event_clear(&ev);
    }
}

static int cmp_seen(const void *pa, const void *pb)
{
    const seen *a = pa, *b = pb;
    if (a->kind != b->kind)
        return a->kind - b->kind;
    int c = strcmp(a->order_id, b->order_id);
    if (c)
        return c;
    if (a->partition != b->partition)
        return a->partition - b->partition;
    return (a->offset > b->offset) - (a->offset < b->offset);
}

static void check_order(state *s)
{
    qsort(s->v, s->n, sizeof *s->v, cmp_seen);
    for (size_t i = 1; i < s->n; i++) {
        const seen *p = &s->v[i - 1], *e = &s->v[i];
        if (p->kind != e->kind || strcmp(p->order_id, e->order_id) != 0)
            continue;
        const char *topic = e->kind ? SF_TOPIC_REVIEWS : SF_TOPIC_ORDERS;
        if (p->partition != e->partition)
            violation(s, topic, e->partition, e->offset, "order %s is in partitions %d and %d",
                      e->order_id, p->partition, e->partition);
        else if (e->time < p->time)
            violation(s, topic, e->partition, e->offset,
                      "order %s: event time %" PRId64 " before the previous %" PRId64
                      " (offset %" PRId64 ")",
                      e->order_id, e->time, p->time, p->offset);
        else if (e->kind == 0 && e->stage <= p->stage)
            violation(s, topic, e->partition, e->offset, "order %s: stage %s after %s", e->order_id,
                      sf_stage_name((sf_stage)e->stage), sf_stage_name((sf_stage)p->stage));
    }
}

int main(int argc, char **argv)
{
    const char *brokers = NULL;
    double timeout_s = 120;
    if (tool_brokers_args(argc, argv, "consume_count --brokers LIST [--timeout S]", &brokers,
                          &timeout_s) != 0)
        return 2;
    sf_err err = {{0}};
    const char *props[] = {"enable.partition.eof=false"};
    sf_kafka_client_opts ko = {.role = SF_KAFKA_TOOL_CONSUMER,
                               .conn = {.brokers = brokers, .props = props, .n_props = 1},
                               .group = "satisfy-consume-count"};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
    if (!rk) {
        fprintf(stderr, "consume_count: %s\n", err.msg);
        return 1;
    }
    if (sf_kafka_check_reachable(rk, brokers, 10000, &err) != 0) {
        fprintf(stderr, "consume_count: %s\n", err.msg);
        rd_kafka_destroy(rk);
        return 1;
    }
    state s;
    memset(&s, 0, sizeof s);

    /* Every partition of both topics, with the offset to reach. */
    const char *topics[2] = {SF_TOPIC_ORDERS, SF_TOPIC_REVIEWS};
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(64);
    int64_t want_total = 0;
    for (int t = 0; t < 2; t++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[t], NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        rd_kafka_topic_destroy(rkt);
        if (e || md->topic_cnt != 1 || md->topics[0].err) {
            fprintf(stderr, "consume_count: no metadata for %s: %s\n", topics[t],
                    rd_kafka_err2str(e ? e : md->topics[0].err));
            return 1;
        }
        for (int p = 0; p < md->topics[0].partition_cnt; p++) {
            int32_t id = md->topics[0].partitions[p].id;
            int64_t lo = 0, hi = 0;
            e = rd_kafka_query_watermark_offsets(rk, topics[t], id, &lo, &hi, 10000);
            if (e) {
                fprintf(stderr, "consume_count: watermarks of %s [%d]: %s\n", topics[t], id,
                        rd_kafka_err2str(e));
                return 1;
            }
            if (lo != 0)
                violation(&s, topics[t], id, lo,
                          "retention dropped %" PRId64 " messages (low watermark is not 0)", lo);
            if (hi > lo) {
                rd_kafka_topic_partition_t *tp =
                    rd_kafka_topic_partition_list_add(parts, topics[t], id);
                tp->offset = lo;
                want_total += hi - lo;
            }
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    if (e) {
        fprintf(stderr, "consume_count: assign: %s\n", rd_kafka_err2str(e));
        return 1;
    }

    int64_t got = 0;
    time_t deadline = time(NULL) + (time_t)timeout_s;
    while (got < want_total) {
        if (time(NULL) > deadline) {
            fprintf(stderr,
                    "consume_count: timed out after %g s with %" PRId64 " of %" PRId64
                    " messages\n",
                    timeout_s, got, want_total);
            s.violations++;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "consume_count: consumer error: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        got++;
        check_message(&s, m);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    check_order(&s);

    printf("topic %s %llu\n", SF_TOPIC_ORDERS, (unsigned long long)s.topic[0]);
    printf("topic %s %llu\n", SF_TOPIC_REVIEWS, (unsigned long long)s.topic[1]);
    for (int i = 0; i < SF_STAGE_COUNT; i++)
        printf("stage %s %llu\n", sf_stage_name((sf_stage)i), (unsigned long long)s.stage[i]);
    if (s.violations)
        fprintf(stderr, "consume_count: %llu violation(s)\n", (unsigned long long)s.violations);

    free(s.v);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return s.violations ? 1 : 0;
}
