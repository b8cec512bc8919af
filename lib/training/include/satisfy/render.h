/*
 * render.h - the release layer's records as JSON: the training report
 * (`satisfy-retrainer train --report`, stored with its run), the metrics and
 * params stored with a version and its run, and the registry's versions and
 * runs as `satisfy-retrainer registry list|show --json` prints them.
 *
 * The pipeline (train.c) and the registry (registry.c) work on structs; this
 * file is the one place that decides their JSON shape. NaN metrics are null
 * (json_field.h), report times are "YYYY-MM-DD HH:MM:SS" strings, registry
 * times are ms since the epoch (null when not recorded).
 */
#ifndef SATISFY_RENDER_H
#define SATISFY_RENDER_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "satisfy/error.h"
#include "satisfy/registry.h"
#include "satisfy/train.h"

/* The report: params, data (counts, split times), rows -> stages -> {rmse,
 * mae, r2, auc, pr_auc, n, n_dissatisfied}, the candidate, the gate
 * decision, version, champion before, run id, spec hash, artifact bytes and
 * step seconds. */
cJSON *sf_train_report_json(const sf_train_report *rep, const sf_train_opts *opts);

/* What is stored with the candidate version: its holdout metrics per stage
 * and the gate decision (malloc'd text, NULL when out of memory). */
char *sf_train_version_metrics_json(const sf_train_report *rep);

/* The run's params: the report's "params" plus the learner's params under
 * "model" (model_params is a JSON object text, may be NULL). Malloc'd. */
char *sf_train_params_json(const sf_train_opts *opts, const char *model_params);

/* All versions, newest first, as a JSON array of objects (no artifacts):
 * version, run_id, algorithm, spec_hash, sha256, status, champion (bool),
 * reason, created, train_from, train_to, size. NULL with err on failure. */
cJSON *sf_registry_list_json(sf_registry *r, sf_err *err);

/* One version as in the list plus its stored metrics, and, when it has a
 * run: the run (experiment, status, times, params, window, counts), its
 * steps and its metric rows. NULL with err set when missing or on failure. */
cJSON *sf_registry_show_json(sf_registry *r, int64_t version, sf_err *err);

#endif
