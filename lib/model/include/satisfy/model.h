/*
 * model.h - the learners (ridge with GSL, GBDT with XGBoost), the probability
 * of a 1-2 star review, the top reasons of a prediction, and the model
 * artifact that travels in a release.
 *
 * A model predicts the review score (clipped to 1..5) of a feature row laid
 * out by its spec, and p = P(score <= 2). p comes either from a second model
 * trained on the binary label (GBDT binary:logistic, or L2 logistic regression
 * for ridge) or from a logistic calibration of the predicted score; training
 * fits both on the training rows and keeps the one with the higher AUC on the
 * validation rows (recorded in sf_model_info).
 *
 * Reasons: for GBDT, path attribution over the trees (Saabas): walking each
 * tree's decision path, every split credits the change in the expected node
 * value (cover-weighted mean of the leaves below) to its split feature; the
 * contributions plus the bias sum exactly to the predicted score. Prediction
 * and reasons run on our own flattened copy of the trees (no XGBoost call at
 * scoring). For ridge, a feature's contribution is coefficient x standardised
 * value (missing-indicator columns are named "<feature>_missing"). The top
 * SF_REASONS by absolute contribution are returned, positive = pushes the
 * score up.
 *
 * Artifact: sf_model_save writes a self-describing byte string (magic,
 * format version, algorithm, spec name and hash, sha256 of the body, body
 * zlib-compressed when large) holding params, training window, metrics JSON,
 * the learner payload (our own forest section, or ridge coefficients with
 * the standardisation and imputation), the probability method, and, in
 * releases made before the live history (livehistory.h), a history
 * snapshot: training no longer attaches one, so a release does not grow
 * with the history; the section is still read (a scorer seeds its live
 * history with it while satisfy.history is empty). sf_model_load validates all of it (see there)
 * and never calls XGBoost: an artifact is untrusted input (a release from Kafka).
 *
 * XGBoost is called (training, reference predictions, converting a format 1
 * artifact of the retrainer's own registry) with an explicit nthread.
 * OMP_WAIT_POLICY=passive must be in the environment when the process starts
 * (libgomp reads it at load; the library never sets it): see omp.h.
 */
#ifndef SATISFY_MODEL_H
#define SATISFY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/event.h"
#include "satisfy/features.h"
#include "satisfy/history.h"
#include "satisfy/training_rows.h"

typedef enum sf_algo { SF_ALGO_RIDGE = 0, SF_ALGO_GBDT = 1, SF_ALGO_COUNT } sf_algo;

const char *sf_algo_name(sf_algo a); /* "ridge", "gbdt" */
/* 0, or -1 with err set ("unknown algorithm 'x' (expected gbdt or ridge)"). */
int sf_algo_parse(const char *name, sf_algo *out, sf_err *err);

/* How p(dissatisfied) is produced. */
typedef enum sf_prob_method {
    SF_PROB_AUTO = 0,    /* train both, keep the better validation AUC */
    SF_PROB_OBJECTIVE,   /* second model on the binary label */
    SF_PROB_CALIBRATION, /* logistic on the predicted score */
} sf_prob_method;

typedef struct sf_model_params {
    /* GBDT */
    int nthread;             /* default 2 */
    int max_depth;           /* default 4 */
    double eta;              /* default 0.1 */
    int rounds;              /* maximum boosting rounds, default 400 */
    int early_stopping;      /* rounds without validation improvement, default 30 */
    double min_child_weight; /* default 5 */
    double subsample;        /* default 0.8 */
    double colsample;        /* colsample_bytree, default 0.8 */
    double reg_lambda;       /* default 1 */
    int max_bin;             /* default 256 */
    uint64_t seed;           /* default 42 */
    /* ridge: lambda is chosen on the validation rows among this grid
     * (n_lambdas == 0: the default grid 1e-3 .. 1e4, log-spaced) */
    double lambdas[16];
    int n_lambdas;
    /* both */
    sf_prob_method prob; /* default SF_PROB_AUTO */
    double valid_frac;   /* when no validation rows are given: most recent
                          * share of the training orders, default 0.15 */
    /* memory, not the model (not recorded in the params JSON): the caller
     * reads the training rows' features no more once sf_model_train
     * returns; GBDT hands their pages back to the OS as soon as its
     * quantile matrix holds them (they read as zeros afterwards). Default 0. */
    int release_train_rows;
    /* memory, not the model: rows per batch of the quantile matrix (0 = the
     * default, 131072; the bins are the same whatever the batch) */
    size_t quantile_batch_rows;
} sf_model_params;

/* Fills the defaults above. */
void sf_model_params_default(sf_model_params *p);
/* Params as a JSON object string (malloc'd), recorded in runs and artifacts. */
char *sf_model_params_json(const sf_model_params *p);

typedef struct sf_model sf_model;

/* What training chose and measured (valid after train or load). */
typedef struct sf_model_info {
    sf_algo algo;
    const sf_feature_spec *spec;
    char spec_hash[17];
    int n_inputs;         /* spec->n */
    int rounds;           /* GBDT: trees kept after early stopping */
    double lambda;        /* ridge: chosen lambda */
    sf_prob_method prob;  /* the method kept (OBJECTIVE or CALIBRATION) */
    double auc_objective; /* validation AUC of each candidate (NaN if not fitted) */
    double auc_calibration;
    double valid_rmse; /* validation RMSE of the score */
    size_t n_train, n_valid;
    int64_t train_from, train_to; /* training window (set by the caller) */
    double train_seconds;
} sf_model_info;

/* Trains a model on `train` (rows of `train->spec`). `valid` is the
 * time-ordered validation slice used for early stopping, lambda choice and
 * the probability method; NULL = carve the most recent params->valid_frac of
 * train's orders by purchase time. params NULL = defaults. Returns 0 and
 * *out, or -1 with err set. */
int sf_model_train(sf_algo algo, const sf_examples *train, const sf_examples *valid,
                   const sf_model_params *params, sf_model **out, sf_err *err);

void sf_model_free(sf_model *m);

const sf_model_info *sf_model_get_info(const sf_model *m);
const sf_model_params *sf_model_get_params(const sf_model *m);

/* Metadata the training pipeline attaches before saving. */
void sf_model_set_window(sf_model *m, int64_t train_from, int64_t train_to);
/* Copies the JSON text (may be NULL to clear). Returns 0 or -1. */
int sf_model_set_metrics(sf_model *m, const char *metrics_json, sf_err *err);
const char *sf_model_metrics(const sf_model *m); /* NULL if none */
/* Takes a copy of the history (via its snapshot) to ship with the model and
 * to score events with (sf_model_prepare_event, sf_model_score_event).
 * Training does not call it any more (the scorer's history is live state);
 * tests and tools make older-style releases with it. Returns 0 or -1. */
int sf_model_set_history(sf_model *m, const sf_history *h, sf_err *err);
const sf_history *sf_model_history(const sf_model *m); /* NULL if none */

/* Predicts n rows (row-major, d = spec->n floats each). score[i] is clipped
 * to [1,5]; p (may be NULL) gets P(score <= 2). Never fails. */
void sf_model_predict(const sf_model *m, const float *x, size_t n, double *score, double *p);

/* Predicts and explains: as sf_model_predict, plus reasons[i*SF_REASONS ..]
 * (top contributions by absolute value; n_reasons[i] <= SF_REASONS, fewer
 * when fewer features moved the score). */
void sf_model_explain(const sf_model *m, const float *x, size_t n, double *score, double *p,
                      sf_reason *reasons, int *n_reasons);

/* Full per-feature contributions of one row (n_inputs values, plus the bias
 * in *bias): they sum with the bias to the unclipped score. For ridge the
 * missing-indicator contribution is added to its feature. */
void sf_model_contributions(const sf_model *m, const float *row, double *contrib, double *bias);

/* The reference prediction of a GBDT model computed by XGBoost itself
 * (XGBoosterPredictFromDMatrix on the booster training produced, raw score,
 * not clipped), to check our own trees against it (tests, benchmarks).
 * Only for a model trained in this process: artifacts do not carry the
 * booster. Returns 0, or -1 with err set (ridge or loaded model, XGBoost
 * error). */
int sf_model_predict_xgboost(const sf_model *m, const float *x, size_t n, float *out, sf_err *err);

/* The XGBoost UBJSON of a GBDT score model trained in this process (NULL
 * for ridge and for a loaded model). */
const uint8_t *sf_model_xgb_payload(const sf_model *m, size_t *len);

/* One event at a time (the HTTP API): features of ev with the model's
 * history snapshot, then predict and explain into out (order_id, event_id,
 * stage, score, p, reasons, event_time; model_version and scored_at are left
 * to the caller). The scorer's loop does the same in blocks:
 * sf_model_prepare_event per event, then sf_model_score_rows. */
void sf_model_score_event(const sf_model *m, const sf_order_event *ev, sf_prediction *out);

/* The same in two steps, so that a batch is scored together (the tree walks
 * of different rows overlap): prepare fills out's event fields and the
 * feature row (sf_model_n_inputs() floats, at most SF_SPEC_MAX_FEATURES);
 * score_rows fills score, p and reasons of out[0..n) from rows[n * d]. */
int sf_model_n_inputs(const sf_model *m);
void sf_model_prepare_event(const sf_model *m, const sf_order_event *ev, sf_prediction *out,
                            float *row);
/* The same against the history hist (NULL: history features NaN) instead of
 * the model's snapshot: the scorer's live history (livehistory.h). */
void sf_model_prepare_event_with(const sf_model *m, const sf_history *hist,
                                 const sf_order_event *ev, sf_prediction *out, float *row);
void sf_model_score_rows(const sf_model *m, const float *rows, size_t n, sf_prediction *out);

/* Artifact bytes (malloc'd) of the whole model. Returns 0 or -1. */
int sf_model_save(const sf_model *m, uint8_t **buf, size_t *len, sf_err *err);

/* The most a compressed artifact body may inflate to, and the most it may
 * inflate relative to its stored size (zlib gives 2-5x on real artifacts;
 * a zlib bomb about 1000x). Checked on the declared size before anything is
 * allocated, so a hostile release costs at most this much memory. */
#define SF_MODEL_MAX_INFLATED (64u << 20)
#define SF_MODEL_MAX_RATIO    64

/* Reads an artifact. expect_spec_hash (NULL = no expectation) must equal the
 * artifact's hash; the artifact's hash must also equal this build's hash of
 * the spec it names. Every number is checked (finite, in range; the forest
 * by trees.c's rules), then the model is probed: a row of zeros, one of
 * missing values and one of ones must score in [1,5] with p in [0,1].
 * Never calls XGBoost: a format 1 gbdt artifact (trees only as an XGBoost
 * booster) is refused. Errors (substrings tests rely on): "not a satisfy
 * model artifact", "truncated", "checksum mismatch", "unknown algorithm",
 * "feature spec hash mismatch", "corrupt", "inflate", "out of range",
 * "probe", "XGBoost booster". */
int sf_model_load(const uint8_t *buf, size_t len, const char *expect_spec_hash, sf_model **out,
                  sf_err *err);

/* sf_model_load for artifacts this system wrote and kept (the retrainer's
 * registry): a format 1 gbdt artifact is converted to our forest with
 * XGBoost, whose parser is not hardened against hostile bytes. Never for
 * bytes from Kafka, HTTP or any other producer. */
int sf_model_load_trusted(const uint8_t *buf, size_t len, const char *expect_spec_hash,
                          sf_model **out, sf_err *err);

/* Wraps the artifact into a release (payload = artifact bytes, sha256 of the
 * payload, algorithm, spec hash, window, params and metrics JSON), all owned
 * by out->alloc (free with sf_model_release_clear). */
int sf_model_release_make(const sf_model *m, int64_t version, int64_t released_at,
                          sf_model_release *out, sf_err *err);

/* Loads the model of a release, checking the payload sha256 and that the
 * release's algorithm and spec hash agree with the artifact. */
int sf_model_from_release(const sf_model_release *r, sf_model **out, sf_err *err);

/* sha256 of bytes as 64 lowercase hex digits plus NUL. */
void sf_sha256_hex(const uint8_t *buf, size_t len, char out[65]);

#endif
