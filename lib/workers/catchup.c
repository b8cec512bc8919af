/*
 * catchup.c - whether a consumer has caught up (catchup.h): its reach on
 * each assigned partition of the tracked topics against the high watermark
 * that partition had when first asked.
 *
 * Kept apart from the retrainer's loop so that the rule is one small thing
 * to read and to test: it uses only the consumer's own view (assignment,
 * position, the EOF events it was given) plus one watermark and committed
 * offset query per set of targets.
 */
#include "satisfy/catchup.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct sf_catchup {
    const char *const *topics;
    int n_topics;
    rd_kafka_topic_partition_list_t *eof;    /* end offset of the last EOF per partition */
    rd_kafka_topic_partition_list_t *target; /* high watermarks to reach; NULL = none yet */
    rd_kafka_topic_partition_list_t *start;  /* where reading started, same order as target */
};

sf_catchup *sf_catchup_new(const char *const *topics, int n)
{
    sf_catchup *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->topics = topics;
    c->n_topics = n;
    c->eof = rd_kafka_topic_partition_list_new(16);
    return c;
}

void sf_catchup_reset(sf_catchup *c)
{
    if (c->target)
        rd_kafka_topic_partition_list_destroy(c->target);
    if (c->start)
        rd_kafka_topic_partition_list_destroy(c->start);
    c->target = c->start = NULL;
}

void sf_catchup_free(sf_catchup *c)
{
    if (!c)
        return;
    sf_catchup_reset(c);
    rd_kafka_topic_partition_list_destroy(c->eof);
    free(c);
}

static bool tracked(const sf_catchup *c, const char *topic)
{
    for (int i = 0; i < c->n_topics; i++)
        if (strcmp(c->topics[i], topic) == 0)
            return true;
    return false;
}

void sf_catchup_eof(sf_catchup *c, const rd_kafka_message_t *m)
{
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF || !m->rkt)
        return;
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (!tracked(c, topic))
        return;
    rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(c->eof, topic, m->partition);
    if (!p)
        p = rd_kafka_topic_partition_list_add(c->eof, topic, m->partition);
    if (m->offset > p->offset)
        p->offset = m->offset;
}

/* The assigned partitions of the tracked topics (maybe none); NULL on error. */
static rd_kafka_topic_partition_list_t *assigned(const sf_catchup *c, rd_kafka_t *cons, sf_err *err)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    rd_kafka_resp_err_t e = rd_kafka_assignment(cons, &a);
    if (e) {
        sf_errf(err, "cannot read the consumer's assignment: %s", rd_kafka_err2str(e));
        return NULL;
    }
    rd_kafka_topic_partition_list_t *out = rd_kafka_topic_partition_list_new(a->cnt);
    for (int i = 0; i < a->cnt; i++)
        if (tracked(c, a->elems[i].topic))
            rd_kafka_topic_partition_list_add(out, a->elems[i].topic, a->elems[i].partition);
    rd_kafka_topic_partition_list_destroy(a);
    return out;
}

static bool same_partitions(const rd_kafka_topic_partition_list_t *a,
                            const rd_kafka_topic_partition_list_t *b)
{
    if (a->cnt != b->cnt)
        return false;
    for (int i = 0; i < a->cnt; i++)
        if (!rd_kafka_topic_partition_list_find(b, a->elems[i].topic, a->elems[i].partition))
            return false;
    return true;
}

/* Takes parts as the targets: each partition's high watermark now, and where
 * reading starts (the committed offset, else the log start). */
static int set_targets(sf_catchup *c, rd_kafka_t *cons, rd_kafka_topic_partition_list_t *parts,
                       int timeout_ms, sf_err *err)
{
    rd_kafka_topic_partition_list_t *start = rd_kafka_topic_partition_list_copy(parts);
    if (rd_kafka_committed(cons, start, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < start->cnt; i++) /* not known: the log start below */
            start->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(cons, p->topic, p->partition, &lo, &hi, timeout_ms);
        if (e) {
            rd_kafka_topic_partition_list_destroy(start);
            rd_kafka_topic_partition_list_destroy(parts);
            return sf_errf(err, "cannot read the high watermark of %s [%d]: %s", p->topic,
                           (int)p->partition, rd_kafka_err2str(e));
        }
        p->offset = hi;
        if (start->elems[i].offset < lo)
            start->elems[i].offset = lo;
    }
    sf_catchup_reset(c);
    c->target = parts;
    c->start = start;
    return 0;
}

int sf_catchup_check(sf_catchup *c, rd_kafka_t *cons, int timeout_ms, sf_catchup_status *st,
                     sf_err *err)
{
    memset(st, 0, sizeof *st);
    rd_kafka_topic_partition_list_t *parts = assigned(c, cons, err);
    if (!parts)
        return -1;
    st->partitions = parts->cnt;
    if (parts->cnt == 0) { /* not joined yet, or nothing to read: cannot tell it is done */
        rd_kafka_topic_partition_list_destroy(parts);
        sf_catchup_reset(c);
        return 0;
    }
    if (c->target && same_partitions(c->target, parts))
        rd_kafka_topic_partition_list_destroy(parts);
    else if (set_targets(c, cons, parts, timeout_ms, err) != 0)
        return -1;
    rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_copy(c->target);
    rd_kafka_position(cons, pos);
    for (int i = 0; i < c->target->cnt; i++) {
        const rd_kafka_topic_partition_t *t = &c->target->elems[i];
        const rd_kafka_topic_partition_t *eof =
            rd_kafka_topic_partition_list_find(c->eof, t->topic, t->partition);
        int64_t at = c->start->elems[i].offset;
        if (pos->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && pos->elems[i].offset > at)
            at = pos->elems[i].offset;
        if (eof && eof->offset > at)
            at = eof->offset;
        if (at < t->offset) {
            st->behind++;
            st->lag += t->offset - (at > 0 ? at : 0);
        }
    }
    rd_kafka_topic_partition_list_destroy(pos);
    return st->behind == 0;
}
