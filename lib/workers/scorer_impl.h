/*
 * scorer_impl.h - what the scorer loop's two files share: scorer.c (the
 * clients, the batch: collect, decode, score, produce, the model swap, the
 * run) and scorer_commit.c (ending a batch: the transaction with its retries
 * and the at-least-once commit). Private to lib/workers.
 */
#ifndef SATISFY_SCORER_IMPL_H
#define SATISFY_SCORER_IMPL_H

#include "satisfy/scorer.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/codec.h"
#include "satisfy/dlq.h"
#include "satisfy/kafka.h"
#include "satisfy/livehistory.h"
#include "satisfy/model.h"
#include "satisfy/clock.h"

#define SLOT_PRED   0
#define SLOT_DLQ    1
#define SLOT_ALERT  2
#define SLOT_SHADOW 3

/* A batch is scored a block of SF_SCORER_BLOCK events at a time, through
 * every step (decode, features, model, encode, produce) before the next
 * block: the rows and predictions in flight take about 10 KB, where those of
 * a whole batch of 1,000 took about 600 KB and went through the caches three
 * times. 16 is also the model's block (its tree walks overlap 16 rows). */
#define SF_SCORER_BLOCK 16

struct work {
    sf_prediction pred[SF_SCORER_BLOCK];
    float rows[SF_SCORER_BLOCK * SF_SPEC_MAX_FEATURES]; /* SF_SPEC_MAX_FEATURES apart */
    size_t src[SF_SCORER_BLOCK];                        /* pred[k] scores msg[src[k]] */
    /* the challenger's predictions of the same events (shadow scoring), and
     * its own rows when its feature spec differs from the champion's */
    sf_prediction shadow[SF_SCORER_BLOCK];
    float ch_rows[SF_SCORER_BLOCK * SF_SPEC_MAX_FEATURES];
    /* the batch's newest predictions, its i-th at recent[i % SF_STATS_RECENT]
     * (as sf_stats_batch takes them) */
    sf_prediction recent[SF_STATS_RECENT];
};

typedef struct scorer {
    const sf_scorer_opts *o;
    rd_kafka_t *consumer, *producer;
    rd_kafka_topic_t *out;         /* satisfy.predictions */
    rd_kafka_topic_t *alerts_out;  /* satisfy.alerts (with o->alerts) */
    sf_kafka_stats pstats, cstats; /* the producer's and the consumer's */
    sf_modelwatch *mw;
    sf_livehist *lh; /* the live history the features read */
    double last_hist;
    FILE *hist_out;   /* --history-features */
    int hist_cols[8]; /* the model's history feature columns */
    int n_hist_cols;
    sf_model *model;
    int64_t version;
    char version_text[24]; /* the model_version header */
    size_t version_len;
    /* shadow scoring (modelwatch.h): the challenger scored with as well,
     * its predictions to satisfy.shadow in the batch's transaction */
    sf_model *ch; /* NULL = none */
    int64_t ch_version;
    char ch_version_text[24];
    size_t ch_version_len;
    rd_kafka_topic_t *shadow_out;      /* satisfy.shadow, once a challenger came */
    int ch_rows;                       /* this batch: the challenger needs rows of its own */
    size_t n_shadow, n_shadow_skipped; /* this batch's */
    char shadow_skip_why[SF_ERR_MAX];  /* the batch's first skip */
    int eos;
    int embedded;      /* the cluster is satisfy-broker (librdkafka's mock) */
    int commit_stored; /* offsets go through the consumer (at-least-once, or embedded) */
    int txn_open;
    /* the batch being collected/processed */
    rd_kafka_message_t **msg;
    double *rx; /* monotonic receive time of msg[i] */
    size_t n, cap;
    struct work *w; /* the block being scored and the newest predictions */
    size_t n_pred, n_dlq;
    double *e2e, *proc;
    sf_buf buf;
    double last_lag;
    /* batches aborted and rewound in a row, since when, last said when */
    uint64_t aborts_in_row;
    double stall_since, stall_said;
    char fatal[SF_ERR_MAX]; /* set by callbacks */
} scorer;

/* Logs through the run's log callback. */
void scorer_logf(scorer *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Seeks every assigned partition back to its committed offset. */
int scorer_rewind_consumer(scorer *s, sf_err *err);

/* Decodes, scores and produces the collected batch (scorer.c). */
int scorer_process(scorer *s, sf_err *err);

/* The next offsets of the batch's partitions; stores them for the consumer's
 * committer (commit_stored). */
rd_kafka_topic_partition_list_t *scorer_batch_offsets(scorer *s);
void scorer_store_offsets(scorer *s, rd_kafka_topic_partition_list_t *offs);

/* The transactional calls that wait on the coordinator, one attempt of at
 * most timeout_ms each (all resumable or retriable, librdkafka says). */
typedef struct txn_call {
    enum { TXN_INIT, TXN_SEND_OFFSETS, TXN_COMMIT, TXN_ABORT } what;
    rd_kafka_topic_partition_list_t *offs;  /* TXN_SEND_OFFSETS */
    rd_kafka_consumer_group_metadata_t *md; /* TXN_SEND_OFFSETS */
} txn_call;

/* Runs a transactional call to its end (scorer_commit.c), retrying while
 * librdkafka says retriable, until *stop reaches give_up_at or the bound.
 * NULL when done, else the last error (the caller's to destroy) with
 * *gave_up 1 (the stop flag) or 2 (the bound) when it stopped retrying. */
rd_kafka_error_t *scorer_txn_wait(scorer *s, const txn_call *c, int give_up_at, int *gave_up);

/* Ends the collected batch: 0 done, 1 aborted and rewound, -1 fatal with err
 * set (scorer_commit.c). */
int scorer_commit_eos(scorer *s, sf_err *err);
int scorer_commit_alo(scorer *s, sf_err *err);

#endif
