/*
 * train.h - the batch training pipeline as a library call: training rows from
 * order and review events (training_rows.h), the time-ordered holdout, the model rows, evaluation
 * per stage, the release gate against the registry's champion, and registration.
 *
 * `satisfy-retrainer train` calls it on the lifecycle events of a dataset
 * loaded from CSV files (sf_lifecycle_events); the streaming retrainer calls
 * it on the events it has stored (sf_store_events). Steps and
 * what each one does:
 *   ingest    (the caller's load, timed by the caller: opts.ingest_seconds)
 *   features  sf_training_rows_build for the "full" and "seed" specs, then the
 *             holdout split (sf_holdout_split over the labeled orders'
 *             purchase times; all stages of an order on one side)
 *   train     the model rows on the training side:
 *               mean   the constant training-mean score
 *               seed   the seed spec with the candidate's learner
 *               ridge  the full spec with ridge
 *               gbdt   the full spec with GBDT
 *             the candidate is the row of opts.algo x opts.features
 *             (features "seed" makes the seed row the candidate; the other
 *             rows are trained anyway, they are the report's context)
 *   evaluate  every row (and the champion, when there is one) predicts the
 *             same holdout rows; metrics per stage present and over ALL rows
 *   alert     the candidate's alert threshold on the holdout for the target
 *             precision (alert_threshold.h), recorded as "alert" in the
 *             release's metrics_json and in the report
 *   gate      sf_gate_decide on ALL holdout rows, clusters = orders, against
 *             the champion (or the mean row when there is none)
 *   register  the run (params, window, counts, metrics, step durations) and
 *             the candidate version (released -> promoted to champion, else
 *             stored as rejected), with the decision's reason
 *
 * The champion is scored with its own feature spec on these rows.
 * If the champion was trained on data that overlaps this holdout the
 * comparison favours the champion, i.e. errs on the side of not releasing.
 */
#ifndef SATISFY_TRAIN_H
#define SATISFY_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "satisfy/alert_threshold.h"
#include "satisfy/error.h"
#include "satisfy/event.h"
#include "satisfy/decision.h"
#include "satisfy/gate.h"
#include "satisfy/evaluate.h"
#include "satisfy/model.h"
#include "satisfy/olist.h"
#include "satisfy/registry.h"
#include "satisfy/training_rows.h"

typedef enum sf_train_step {
    SF_STEP_INGEST = 0,
    SF_STEP_FEATURES,
    SF_STEP_TRAIN,
    SF_STEP_EVALUATE,
    SF_STEP_GATE,
    SF_STEP_REGISTER,
    SF_STEP_COUNT
} sf_train_step;

const char *sf_train_step_name(sf_train_step s); /* "ingest", ... */

typedef struct sf_train_opts {
    sf_algo algo;           /* candidate learner; default GBDT */
    const char *features;   /* candidate spec "full" or "seed"; default "full" */
    double holdout;         /* default SF_HOLDOUT_DEFAULT */
    sf_gate_opts gate;      /* margin, resamples, seed */
    int threads;            /* XGBoost nthread; default 2 */
    uint64_t seed;          /* learner seed; default 42 */
    const char *experiment; /* default "batch" */
    const char *source;     /* where the data came from (recorded in params) */
    double ingest_seconds;  /* the caller's load time, recorded as step "ingest" */
    int64_t now;            /* wall clock ms for the records; 0 = current time */
    /* A training window: rows only for orders purchased at or after rows_from
     * (SF_TIME_NONE = every order; the holdout is the most recent share of
     * those). start_history, when not NULL, is the history of every event
     * before start_time (a window checkpoint, window.h): the rows are built
     * from copies of it, skipping the events before start_time
     * (sf_training_rows_build_from); the caller keeps it unchanged. */
    int64_t rows_from;
    const sf_history *start_history;
    int64_t start_time;
    /* Called once, as soon as the training rows are built: the events are not
     * read after that, so a caller that owns them (and what they borrow) can
     * free them there instead of holding them through the learning. */
    void (*events_done)(void *arg);
    void *events_done_arg;
    /* The alert threshold's target precision on the holdout, in (0, 1]
     * (alert_threshold.h); 0 = SF_ALERT_PRECISION_DEFAULT */
    double alert_precision;
} sf_train_opts;

void sf_train_opts_default(sf_train_opts *o);

enum { SF_ROW_MEAN = 0, SF_ROW_SEED, SF_ROW_RIDGE, SF_ROW_GBDT, SF_ROW_CHAMPION, SF_ROW_MAX };

/* One model row of the report: metrics per stage and over all rows. */
typedef struct sf_train_row {
    char name[24]; /* "mean", "seed", "ridge", "gbdt", "champion" */
    char algo[8];  /* "-", "ridge", "gbdt" */
    char spec[8];  /* "-", "full", "seed" */
    bool present;
    sf_metrics stage[SF_STAGE_COUNT];
    bool has_stage[SF_STAGE_COUNT];
    sf_metrics all;
} sf_train_row;

typedef struct sf_train_report {
    sf_train_row rows[SF_ROW_MAX];
    int candidate; /* index into rows */
    sf_gate_decision gate;
    int64_t run_id;
    int64_t version;         /* the candidate's version number */
    int64_t champion_before; /* champion version before this run, 0 if none */
    bool released;
    char spec_hash[17];      /* candidate's spec hash */
    sf_split split;          /* over labeled orders */
    size_t n_orders;         /* distinct orders in the events */
    size_t n_orphan_reviews; /* reviews of orders without an order event, left out */
    size_t n_labeled;        /* labeled orders with at least one row */
    size_t n_rows, n_train_rows, n_test_rows;
    size_t artifact_bytes;
    double seconds[SF_STEP_COUNT];
    double mean_label;     /* the mean row's constant */
    sf_alert_choice alert; /* the candidate's alert threshold (alert_threshold.h) */
} sf_train_report;

/* Runs the pipeline on the events and records it in reg. Returns 0 with *rep filled
 * (released or not), or -1 with err set. */
int sf_train_run(const sf_training_events *ev, sf_registry *reg, const sf_train_opts *opts,
                 sf_train_report *rep, sf_err *err);

/* Training rows of a dataset loaded from CSV files, as `satisfy-retrainer
 * train` makes them: its lifecycle events (sf_lifecycle_events), then
 * sf_training_rows_build. For tools, benchmarks and tests. */
int sf_train_rows_of_dataset(sf_examples *ex, const sf_dataset *ds, const sf_feature_spec *spec,
                             int64_t from, int64_t to, sf_history **hist_out, sf_err *err);

/* The report as JSON: sf_train_report_json in render.h. */

/* The decision of a finished sf_train_run (rep as it was registered). */
void sf_decision_from_report(const sf_train_report *rep, int64_t data_until, int64_t decided_at,
                             sf_decision *out);

#endif
