/*
 * registry.h - the model registry and run tracking in one SQLite file
 * (registry.db): experiments, training runs with their parameters, metrics
 * per model row and stage, step durations and data window, model versions
 * with their artifact and its sha256, and the alias "champion".
 *
 * The database runs in WAL mode with a busy timeout, every write is one
 * transaction, and every statement is prepared with bound values (no SQL is
 * built from values). The schema version lives in PRAGMA user_version and
 * opening applies the missing migrations in order, each in its own
 * transaction; a file newer than this build is refused.
 *
 * Versions have a status: candidate, champion, archived, rejected. Promoting
 * a version archives the previous champion and moves the alias in the same
 * transaction, so at most one version is champion (a partial unique index
 * enforces it). Loading an artifact recomputes its sha256 and refuses a blob
 * that does not match the recorded one.
 *
 * The serving history (schema 4) records every ServingState written
 * (serving_state.h): epoch, champion, challenger, cause, reason, time. A
 * gate release, `registry promote N` and `registry rollback` each add one
 * row in the same transaction that moves the champion alias.
 */
#ifndef SATISFY_REGISTRY_H
#define SATISFY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/evaluate.h"
#include "satisfy/serving_state.h"

#define SF_REGISTRY_SCHEMA 5 /* latest schema version (PRAGMA user_version) */

typedef struct sf_registry sf_registry;

typedef struct sf_registry_opts {
    int busy_timeout_ms; /* default 5000 */
    int target_version;  /* migrate up to this version; 0 = latest (tests use 1) */
} sf_registry_opts;

/* Opens (creating if needed) and migrates. NULL opts = defaults. */
int sf_registry_open(sf_registry **out, const char *path, const sf_registry_opts *opts,
                     sf_err *err);
void sf_registry_close(sf_registry *r);

/* PRAGMA user_version of the open file. */
int sf_registry_schema_version(sf_registry *r);

/* PRAGMA integrity_check: 0 when "ok", else -1 with the first problem. */
int sf_registry_integrity_check(sf_registry *r, sf_err *err);

/* The id of the named experiment, created if missing; -1 on error. */
int64_t sf_registry_experiment(sf_registry *r, const char *name, int64_t now, sf_err *err);

/* Starts a run (status "running"); returns its id or -1. */
int64_t sf_registry_run_start(sf_registry *r, int64_t experiment_id, int64_t started,
                              const char *params_json, sf_err *err);

typedef struct sf_run_metric {
    const char *model; /* "mean", "seed", "ridge", "gbdt", "champion" ... */
    const char *stage; /* "PURCHASED", ..., or "ALL" */
    sf_metrics m;
} sf_run_metric;

typedef struct sf_run_step {
    const char *step; /* ingest, features, train, evaluate, gate, register */
    double seconds;
} sf_run_step;

typedef struct sf_run_end {
    bool failed;
    int64_t ended;
    int64_t data_from, data_to; /* purchase window of the labeled orders */
    int64_t n_orders, n_train, n_test, n_rows;
    const sf_run_metric *metrics;
    size_t n_metrics;
    const sf_run_step *steps;
    size_t n_steps;
    const char *report_json; /* may be NULL */
} sf_run_end;

/* Finishes a run: status, end time, window, counts, metrics and steps, all
 * in one transaction. */
int sf_registry_run_finish(sf_registry *r, int64_t run_id, const sf_run_end *end, sf_err *err);

typedef struct sf_version_new {
    int64_t run_id;          /* 0 = none */
    const char *algorithm;   /* "gbdt", "ridge" */
    const char *spec_hash;   /* 16 hex digits */
    const uint8_t *artifact; /* the model artifact bytes */
    size_t artifact_len;
    const char *status;       /* "candidate" or "rejected" */
    const char *reason;       /* the gate decision, may be NULL */
    const char *metrics_json; /* may be NULL */
    int64_t train_from, train_to, created;
} sf_version_new;

/* Stores a version (sha256 computed here); returns its version number or -1. */
int64_t sf_registry_add_version(sf_registry *r, const sf_version_new *v, sf_err *err);

/* Makes version the champion: the previous champion becomes archived and the
 * alias "champion" points to version, in one transaction. A rejected or
 * unknown version is refused. */
int sf_registry_promote(sf_registry *r, int64_t version, int64_t now, sf_err *err);

/* Stores the gate decision message of version (decision.h: the exact JSON
 * text published to satisfy.metrics), replacing any earlier one, in one
 * transaction, so that it can be republished at startup. Refuses an empty
 * text ("empty decision") and an unknown version ("no version N"). */
int sf_registry_set_decision(sf_registry *r, int64_t version, const char *json, sf_err *err);

/* Called once per stored decision; non-zero stops the iteration (set err). */
typedef int (*sf_registry_decision_fn)(void *arg, int64_t version, const char *json, sf_err *err);

/* Calls fn for every version that has a stored decision, in increasing
 * version order (versions registered before schema 3, or whose decision was
 * never stored, have none and are skipped). Returns the number of calls, or
 * -1 on a database error or when fn returned non-zero (err from fn, wrapped
 * with the version). */
int64_t sf_registry_decisions(sf_registry *r, sf_registry_decision_fn fn, void *arg, sf_err *err);

/* Sets status (candidate/archived/rejected; use promote for champion) and
 * optionally replaces the reason (NULL keeps it). */
int sf_registry_set_status(sf_registry *r, int64_t version, const char *status, const char *reason,
                           sf_err *err);

typedef struct sf_version_row {
    int64_t version, run_id;
    char algorithm[16];
    char spec_hash[17];
    char sha256[65];
    char status[12];
    char *reason;       /* malloc'd, may be NULL */
    char *metrics_json; /* malloc'd, may be NULL */
    int64_t created, train_from, train_to;
    size_t artifact_len;
    uint8_t *artifact; /* malloc'd when loaded, else NULL */
} sf_version_row;

void sf_version_row_clear(sf_version_row *v);

/* Reads one version; with_artifact loads the blob and verifies its sha256
 * ("artifact of version N is corrupt: sha256 ... does not match"). Returns
 * 1 found, 0 no such version, -1 error. */
int sf_registry_get_version(sf_registry *r, int64_t version, bool with_artifact,
                            sf_version_row *out, sf_err *err);

/* The champion with its verified artifact: 1 found, 0 none, -1 error. */
int sf_registry_champion(sf_registry *r, sf_version_row *out, sf_err *err);

/* The registry file's path, for messages. */
const char *sf_registry_path(const sf_registry *r);

/* All versions, newest first, without artifacts: *out is a malloc'd array
 * of *n rows (clear each, then free the array). Returns 0 or -1. */
int sf_registry_versions(sf_registry *r, sf_version_row **out, size_t *n, sf_err *err);

#define SF_REGISTRY_NULL INT64_MIN /* an integer column that holds NULL */

typedef struct sf_run_step_row {
    char *step;
    double seconds;
} sf_run_step_row;

typedef struct sf_run_metric_row {
    char *model, *stage;
    sf_metrics m; /* n, rmse, mae, r2, auc, pr_auc; NaN where NULL */
} sf_run_metric_row;

/* A run as recorded, with its steps and metric rows (in insertion order).
 * Integers that are NULL (a run still running) are SF_REGISTRY_NULL. */
typedef struct sf_run_row {
    int64_t id;
    char *experiment;
    char status[12];
    int64_t started, ended;
    char *params_json; /* may be NULL */
    int64_t data_from, data_to, n_orders, n_train, n_test, n_rows;
    sf_run_step_row *steps;
    size_t n_steps;
    sf_run_metric_row *metrics;
    size_t n_metrics;
} sf_run_row;

/* Reads run run_id: 1 found, 0 when the run row is missing (its steps and
 * metrics are still read: none, normally), -1 error. Clear with
 * sf_run_row_clear in every case. */
int sf_registry_get_run(sf_registry *r, int64_t run_id, sf_run_row *out, sf_err *err);
void sf_run_row_clear(sf_run_row *run);

/* Serves version: in one transaction it becomes the champion (as
 * sf_registry_promote) and a row is added to the serving history with epoch
 * max(last epoch + 1, min_epoch), champion version, challenger 0, cause
 * (gate, promote, rollback, live) and reason, at `at` (ms); *out is that row,
 * to publish. An open challenge ends with outcome "ended" (the state names
 * no challenger). For cause promote and rollback the version must have been
 * released (status champion or archived): "version N was never released
 * (status S)"; an unknown version: "no version N". */
int sf_registry_serve(sf_registry *r, int64_t version, const char *cause, const char *reason,
                      int64_t min_epoch, int64_t at, sf_serving_state *out, sf_err *err);

/* ---- shadow challenges (challenge.h) ----------------------------------
 *
 * The challenges table (schema 5) records every challenge: the challenger,
 * the champion it was shadowing, when and why it started, and, once ended,
 * when, its outcome (promoted, retired or ended: a gate release, promote or
 * rollback replaced the champion first) with the reason and the live test's
 * numbers (the judge's JSON). At most one challenge is open at a time. */

typedef struct sf_challenge_row {
    int64_t id, challenger, champion;
    int64_t started, ended; /* ms; ended 0 while open */
    char outcome[12];       /* "" while open, promoted | retired | ended */
    char *reason;           /* why it started (malloc'd) */
    char *outcome_reason;   /* why it ended, NULL while open */
    char *result_json;      /* the judge's numbers at the end, NULL while open */
} sf_challenge_row;

void sf_challenge_row_clear(sf_challenge_row *c);

/* The open challenge: 1 found (*out filled; clear it), 0 none, -1 error. */
int sf_registry_challenge_open(sf_registry *r, sf_challenge_row *out, sf_err *err);

/* Starts a challenge of version against the current champion, in one
 * transaction: a challenges row and a serving history row (cause
 * "challenger", the champion unchanged, challenger = version, epoch as
 * sf_registry_serve) in *out. The version's status becomes candidate (a
 * version the gate rejected may be shadowed). Refused: an unknown version,
 * no champion, the champion itself, a challenge already open. */
int sf_registry_challenge_start(sf_registry *r, int64_t version, const char *reason,
                                int64_t min_epoch, int64_t at, sf_serving_state *out,
                                sf_err *err);

/* Ends the open challenge of version: outcome "promoted" makes it the
 * champion (serving row cause "live"), "retired" keeps the champion (cause
 * "retire") and sets the version's status to rejected; either way the row
 * records reason and result_json (may be NULL) and *out is the state to
 * publish (challenger 0). Refused when version's challenge is not open. */
int sf_registry_challenge_end(sf_registry *r, int64_t version, const char *outcome,
                              const char *reason, const char *result_json, int64_t min_epoch,
                              int64_t at, sf_serving_state *out, sf_err *err);

/* Every challenge, oldest first: *out is a malloc'd array of *n rows (clear
 * each, then free it). 0 or -1. */
int sf_registry_challenges(sf_registry *r, sf_challenge_row **out, size_t *n, sf_err *err);

/* The serving history, oldest first: *out is a malloc'd array of *n rows
 * (free it). 0 or -1. */
int sf_registry_serving_history(sf_registry *r, sf_serving_state **out, size_t *n, sf_err *err);

/* Where `registry rollback` goes in history h (oldest first): the champions
 * form a stack (gate, promote and live push theirs, a rollback pops back to
 * its own); the target is the newest entry below the current champion that
 * differs from it. 0 when there is none, -1 out of memory. */
int64_t sf_serving_rollback_target(const sf_serving_state *h, size_t n);

#endif
