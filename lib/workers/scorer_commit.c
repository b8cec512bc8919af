/*
 * scorer_commit.c - how the scorer ends a batch (see scorer_impl.h): exactly
 * once, the batch's transaction (begin, produce, send the offsets, commit)
 * with every transactional call retried in 1 s slices for at most the
 * transaction timeout and given up at a second stop; an abortable error
 * aborts and rewinds the consumer. At least once, the predictions are
 * flushed and the offsets stored for the consumer's committer.
 */
#include "scorer_impl.h"

#include <inttypes.h>
#include <string.h>

static const char *const txn_names[] = {"init_transactions", "send_offsets_to_transaction",
                                        "commit_transaction", "abort_transaction"};

static rd_kafka_error_t *txn_attempt(scorer *s, const txn_call *c, int timeout_ms)
{
    switch (c->what) {
    case TXN_INIT:
        return rd_kafka_init_transactions(s->producer, timeout_ms);
    case TXN_SEND_OFFSETS: /* retried with the same offsets, as librdkafka asks */
        return rd_kafka_send_offsets_to_transaction(s->producer, c->offs, c->md, timeout_ms);
    case TXN_COMMIT:
        return rd_kafka_commit_transaction(s->producer, timeout_ms);
    default:
        return rd_kafka_abort_transaction(s->producer, timeout_ms);
    }
}

/* Runs a transactional call to its end, retrying while librdkafka says
 * retriable, in slices of TXN_SLICE_MS so that the stop flag is seen: it
 * gives up when *stop reaches give_up_at (1 for init_transactions, which
 * has nothing to finish; 2, a second signal, for the calls that finish a
 * batch) or after SF_SCORER_TXN_WAIT_S. Returns NULL when done, else the
 * last error (the caller's to destroy) with *gave_up set when it stopped
 * retrying a retriable error (1 = the stop flag, 2 = the bound). */
#define TXN_SLICE_MS 1000

rd_kafka_error_t *scorer_txn_wait(scorer *s, const txn_call *c, int give_up_at, int *gave_up)
{
    double t0 = sf_mono_s(), next_log = t0 + 1;
    *gave_up = 0;
    for (;;) {
        rd_kafka_error_t *e = txn_attempt(s, c, TXN_SLICE_MS);
        if (!e || !rd_kafka_error_is_retriable(e))
            return e;
        double waited = sf_mono_s() - t0;
        if (*s->o->stop >= give_up_at || waited >= SF_SCORER_TXN_WAIT_S) {
            *gave_up = *s->o->stop >= give_up_at ? 1 : 2;
            return e;
        }
        if (sf_mono_s() >= next_log) { /* after 1 s, then every 10 s */
            scorer_logf(
                s, "%s: %s; still trying after %.0f s (at most %d s; a %s stop signal gives up)",
                txn_names[c->what], rd_kafka_error_string(e), waited, SF_SCORER_TXN_WAIT_S,
                give_up_at > 1 ? "second" : "");
            next_log += 10;
        }
        rd_kafka_error_destroy(e);
    }
}

/* Aborts the open transaction and rewinds the consumer to the batch's first
 * offsets: 1 = done (retry the batch), -1 = the abort failed (err set). */
static int abort_and_rewind(scorer *s, sf_err *err)
{
    txn_call abort = {.what = TXN_ABORT};
    int gave_up;
    rd_kafka_error_t *ae = scorer_txn_wait(s, &abort, 2, &gave_up);
    s->txn_open = 0;
    if (ae) {
        sf_errf(err, "abort_transaction: %s", rd_kafka_error_string(ae));
        rd_kafka_error_destroy(ae);
        return -1;
    }
    if (s->o->stats)
        sf_stats_abort(s->o->stats);
    return scorer_rewind_consumer(s, err) < 0 ? -1 : 1;
}

/* Handles a transactional API error: 1 = aborted and rewound (retry the
 * batch), -1 = fatal (err set). */
static int txn_failed(scorer *s, rd_kafka_error_t *e, const char *what, sf_err *err)
{
    if (rd_kafka_error_is_fatal(e) || !rd_kafka_error_txn_requires_abort(e)) {
        sf_errf(err, "%s: %s%s", what, rd_kafka_error_is_fatal(e) ? "fatal: " : "",
                rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return -1;
    }
    scorer_logf(s, "%s: %s; aborting the transaction and rewinding", what,
                rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return abort_and_rewind(s, err);
}

/* A transactional call that failed (e from txn_wait): 1 = aborted and
 * rewound (retry the batch), -1 = the run ends (err set). */
static int txn_end(scorer *s, const txn_call *c, rd_kafka_error_t *e, int gave_up, sf_err *err)
{
    const char *what = txn_names[c->what];
    if (gave_up == 1)
        sf_errf(err,
                "%s: second stop signal while waiting (%s): the transaction of the batch in "
                "hand is not committed, its events will be scored again",
                what, rd_kafka_error_string(e));
    else if (gave_up == 2)
        sf_errf(err, "%s: still failing after %d s: %s", what, SF_SCORER_TXN_WAIT_S,
                rd_kafka_error_string(e));
    if (gave_up) {
        rd_kafka_error_destroy(e);
        return -1;
    }
    return txn_failed(s, e, what, err);
}

int scorer_commit_eos(scorer *s, sf_err *err)
{
    rd_kafka_error_t *e = rd_kafka_begin_transaction(s->producer);
    if (e) {
        sf_errf(err, "begin_transaction: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return -1;
    }
    s->txn_open = 1;
    sf_err perr = {{0}};
    if (scorer_process(s, &perr) < 0) {
        char why[512];
        if (rd_kafka_fatal_error(s->producer, why, sizeof why))
            return sf_errf(err, "%s (fatal: %s)", perr.msg, why);
        scorer_logf(s, "%s; aborting the transaction and rewinding", perr.msg);
        return abort_and_rewind(s, err);
    }
    txn_call send = {.what = TXN_SEND_OFFSETS,
                     .offs = scorer_batch_offsets(s),
                     .md = rd_kafka_consumer_group_metadata(s->consumer)};
    txn_call commit = {.what = TXN_COMMIT};
    int gave_up = 0;
    const txn_call *failed = &send;
    e = scorer_txn_wait(s, &send, 2, &gave_up);
    if (!e) {
        failed = &commit;
        e = scorer_txn_wait(s, &commit, 2, &gave_up);
    }
    rd_kafka_consumer_group_metadata_destroy(send.md);
    rd_kafka_topic_partition_list_t *offs = send.offs;
    if (e) {
        rd_kafka_topic_partition_list_destroy(offs);
        return txn_end(s, failed, e, gave_up, err);
    }
    s->txn_open = 0;
    /* On satisfy-broker only, the same offsets once more through the
     * consumer: librdkafka's mock cluster acknowledges TxnOffsetCommit
     * without storing it, so without this a restart there would start over.
     * Never on real Kafka, where the transaction stored them: a second,
     * asynchronous, retried commit on another connection could land after
     * the next transaction's offsets and move the group back. Stored, for
     * librdkafka's committer (see store_offsets). */
    if (s->embedded)
        scorer_store_offsets(s, offs);
    rd_kafka_topic_partition_list_destroy(offs);
    return 0;
}

int scorer_commit_alo(scorer *s, sf_err *err)
{
    uint64_t failed0 = sf_kafka_stats_failed(&s->pstats);
    sf_err perr = {{0}};
    int rc = scorer_process(s, &perr);
    /* every delivery report, for at most SF_SCORER_TXN_WAIT_S or until a
     * second stop signal */
    for (double until = sf_mono_s() + SF_SCORER_TXN_WAIT_S;
         rd_kafka_outq_len(s->producer) > 0 && sf_mono_s() < until && *s->o->stop < 2;)
        rd_kafka_flush(s->producer, 100);
    int left = rd_kafka_outq_len(s->producer);
    if (left > 0 && *s->o->stop > 1)
        return sf_errf(err,
                       "second stop signal while %d predictions were in flight: the batch "
                       "is not committed, its events will be scored again",
                       left);
    char why[512];
    if (rd_kafka_fatal_error(s->producer, why, sizeof why)) {
        return sf_errf(err, "producer fatal error: %s", why);
    }
    if (rc < 0 || left > 0 || sf_kafka_stats_failed(&s->pstats) != failed0) {
        scorer_logf(s, "batch not fully delivered (%s); rewinding",
                    rc < 0     ? perr.msg
                    : left > 0 ? "timeout"
                               : s->pstats.last_failure);
        if (s->o->stats)
            sf_stats_abort(s->o->stats);
        return scorer_rewind_consumer(s, err) < 0 ? -1 : 1;
    }
    rd_kafka_topic_partition_list_t *offs = scorer_batch_offsets(s);
    scorer_store_offsets(s, offs); /* the predictions are out */
    rd_kafka_topic_partition_list_destroy(offs);
    return 0;
}
