/*
 * producer_topiccheck.c - after a replay, satisfy-producer reads back what
 * the topics hold: the high watermark of each partition now minus at the
 * start is what was appended, and it must be at least what the delivery
 * reports said was delivered. Under combined broker faults on satisfy-broker
 * (librdkafka's mock cluster) the producer once reported 59,445 delivered
 * and 0 failed while the topic held 59,440-59,442: a
 * summary that only counts delivery reports cannot see that, so it says so
 * loudly. More than delivered is fine (another producer wrote too).
 */
#include "producer_topiccheck.h"

#include <inttypes.h>
#include <string.h>

int topic_marks_read(rd_kafka_t *rk, const char *topic, topic_marks *m, int timeout_ms, sf_err *err)
{
    memset(m, 0, sizeof *m);
    m->topic = topic;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt)
        return sf_errf(err, "%s: no topic handle", topic);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (e)
        return sf_errf(err, "%s: metadata: %s", topic, rd_kafka_err2str(e));
    int n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    if (n <= 0 || n > TOPICCHECK_MAX_PARTITIONS)
        return sf_errf(err, "%s: %d partitions", topic, n);
    for (int p = 0; p < n; p++) {
        int64_t lo, hi;
        e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, timeout_ms);
        if (e)
            return sf_errf(err, "%s [%d]: watermarks: %s", topic, p, rd_kafka_err2str(e));
        m->hi[p] = hi;
    }
    m->n = n;
    return 0;
}

uint64_t topic_marks_check(const topic_marks *before, const topic_marks *after, uint64_t delivered,
                           FILE *out, FILE *warn)
{
    uint64_t added = 0;
    for (int p = 0; p < after->n; p++) {
        int64_t d = after->hi[p] - (p < before->n ? before->hi[p] : 0);
        added += d > 0 ? (uint64_t)d : 0;
    }
    uint64_t short_by = added < delivered ? delivered - added : 0;
    fprintf(out, "  topic check: %-16s %10" PRIu64 " appended %10" PRIu64 " delivered: %s\n",
            after->topic, added, delivered, short_by ? "SHORTFALL" : "ok");
    if (!short_by)
        return 0;
    fprintf(warn,
            "satisfy-producer: WARNING: %s holds %" PRIu64 " new messages but %" PRIu64
            " were acknowledged as delivered: %" PRIu64
            " acknowledged writes are missing (high watermarks now minus at the start, per "
            "partition:",
            after->topic, added, delivered, short_by);
    for (int p = 0; p < after->n; p++)
        fprintf(warn, " [%d] +%" PRId64, p, after->hi[p] - (p < before->n ? before->hi[p] : 0));
    fprintf(warn, ")\n");
    return short_by;
}
