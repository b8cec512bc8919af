/*
 * decision.h - one gate decision of the retrainer as a message: what
 * `satisfy-retrainer run` publishes to satisfy.metrics after each retrain
 * (released or rejected), and what the scorer's web page reads back to list
 * every decision in its model timeline.
 *
 * The decision itself is made by the gate (gate.h) inside the batch pipeline
 * (train.h) and registered there; this file only carries the registered
 * outcome (the report of sf_train_run) over Kafka. It shares satisfy.metrics
 * with the online accuracy messages (online.h) and is told apart by its
 * header schema = SF_DECISION_SCHEMA and its key "decision-<version>", which
 * no online accuracy key (the bare version) can equal, so compaction keeps
 * one decision per version alongside the newest accuracy of that version.
 *
 * Value (JSON; times in ms since the epoch, null when unknown; metrics over
 * all holdout rows, null when undefined):
 *   {"version": 7, "released": false, "reason": "rejected (gain below ...",
 *    "run_id": 7,
 *    "candidate": {"name": "gbdt", "algorithm": "gbdt", "features": "full",
 *                  "rmse", "mae", "r2", "auc", "pr_auc"},
 *    "reference": {"name": "champion v5", "version": 5, "rmse", ...},
 *    "gate": {"gain", "margin", "boot_lower", "boot_upper"},
 *    "train_rows", "train_orders", "holdout_rows", "holdout_orders",
 *    "train_from", "train_to", "data_until", "decided_at"}
 * reference is the champion scored on the same holdout, or, before the first
 * release, the constant training mean (name "mean", version 0). data_until
 * is the event time of the newest event in the data the run was trained on
 * (the data cut-off); decided_at the wall clock of the decision.
 */
#ifndef SATISFY_DECISION_H
#define SATISFY_DECISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "satisfy/error.h"
#include "satisfy/gate.h"

#define SF_DECISION_SCHEMA     "satisfy.v1.ModelDecision+json" /* header "schema" */
#define SF_DECISION_KEY_PREFIX "decision-"

typedef struct sf_decision_model {
    char name[32];               /* "gbdt", "ridge", "seed"; "champion v5" or "mean" */
    char algorithm[8];           /* "gbdt", "ridge", "-" */
    char features[8];            /* "full", "seed", "-" */
    int64_t version;             /* reference only: the champion's version, 0 = the mean */
    double rmse;                 /* 0..4 */
    double mae, r2, auc, pr_auc; /* NaN when null */
} sf_decision_model;

typedef struct sf_decision {
    int64_t version; /* the candidate's version in the registry, >= 1 */
    int64_t run_id;
    bool released;
    char reason[SF_GATE_REASON_MAX];
    sf_decision_model candidate, reference;
    double gain, margin, boot_lower, boot_upper; /* NaN when null; margin 0..5, never null */
    int64_t train_rows, train_orders, holdout_rows, holdout_orders;
    int64_t train_from, train_to, data_until; /* event time; SF_TIME_NONE when null */
    int64_t decided_at;                       /* wall clock ms */
} sf_decision;

/* "decision-<version>" into buf; returns its length (truncated like
 * snprintf). */
int sf_decision_key(int64_t version, char *buf, size_t len);

/* The message value as a cJSON object (NULL when out of memory) or as
 * malloc'd text (NULL with err set). */
cJSON *sf_decision_to_cjson(const sf_decision *d);
char *sf_decision_json(const sf_decision *d, sf_err *err);

/* Parses and validates one message: every field above present with its type
 * and range (unknown fields are ignored), and, when key is not NULL, key ==
 * "decision-<version>". -1 with err naming the field and why ("reason:
 * missing", "candidate.rmse: 7 out of range 0..4", "key 'x' is not
 * decision-3"); out is then undefined. */
int sf_decision_parse(const void *key, size_t key_len, const void *value, size_t len,
                      sf_decision *out, sf_err *err);

#endif
