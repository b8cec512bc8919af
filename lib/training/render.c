/*
 * render.c - JSON renderings of training reports and registry records (see
 * satisfy/render.h), kept out of the pipeline and the storage code
 * so that each of those works on plain structs.
 */
#include "satisfy/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/json_field.h"
#include "satisfy/olist.h"

/* ---- the training report ------------------------------------------------ */

static cJSON *metrics_json(const sf_metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    sf_json_add_number(o, "rmse", m->rmse);
    sf_json_add_number(o, "mae", m->mae);
    sf_json_add_number(o, "r2", m->r2);
    sf_json_add_number(o, "auc", m->auc);
    sf_json_add_number(o, "pr_auc", m->pr_auc);
    cJSON_AddNumberToObject(o, "n", (double)m->n);
    cJSON_AddNumberToObject(o, "n_dissatisfied", (double)m->n_pos);
    return o;
}

static cJSON *row_stages_json(const sf_train_row *r)
{
    cJSON *st = cJSON_CreateObject();
    for (int s = 0; s < SF_STAGE_COUNT; s++)
        if (r->has_stage[s])
            cJSON_AddItemToObject(st, sf_stage_name((sf_stage)s), metrics_json(&r->stage[s]));
    cJSON_AddItemToObject(st, "ALL", metrics_json(&r->all));
    return st;
}

static cJSON *gate_json(const sf_gate_decision *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "released", g->released);
    cJSON_AddStringToObject(o, "reference", g->reference);
    cJSON_AddBoolToObject(o, "has_champion", g->has_champion);
    sf_json_add_number(o, "rmse_reference", g->rmse_champion);
    sf_json_add_number(o, "rmse_candidate", g->rmse_candidate);
    sf_json_add_number(o, "gain", g->gain);
    sf_json_add_number(o, "margin", g->margin);
    sf_json_add_number(o, "diff_mean", g->diff_mean);
    sf_json_add_number(o, "boot_mean", g->boot_mean);
    sf_json_add_number(o, "boot_lower", g->boot_lower);
    sf_json_add_number(o, "boot_upper", g->boot_upper);
    cJSON_AddNumberToObject(o, "n_rows", (double)g->n_rows);
    cJSON_AddNumberToObject(o, "n_orders", (double)g->n_clusters);
    cJSON_AddNumberToObject(o, "resamples", g->resamples);
    cJSON_AddNumberToObject(o, "seed", (double)g->seed);
    cJSON_AddStringToObject(o, "reason", g->reason);
    return o;
}

static void add_time(cJSON *o, const char *k, int64_t t)
{
    char buf[32];
    sf_time_format(t, buf, sizeof buf);
    cJSON_AddStringToObject(o, k, buf);
}

static void add_params(cJSON *o, const sf_train_opts *opts)
{
    cJSON *pa = cJSON_AddObjectToObject(o, "params");
    cJSON_AddStringToObject(pa, "algorithm", sf_algo_name(opts->algo));
    cJSON_AddStringToObject(pa, "features", opts->features);
    cJSON_AddNumberToObject(pa, "holdout", opts->holdout);
    cJSON_AddNumberToObject(pa, "margin", opts->gate.margin);
    cJSON_AddNumberToObject(pa, "resamples", opts->gate.resamples);
    cJSON_AddNumberToObject(pa, "gate_seed", (double)opts->gate.seed);
    cJSON_AddNumberToObject(pa, "seed", (double)opts->seed);
    cJSON_AddNumberToObject(pa, "threads", opts->threads);
    if (opts->alert_precision > 0)
        cJSON_AddNumberToObject(pa, "alert_precision", opts->alert_precision);
    if (opts->source)
        cJSON_AddStringToObject(pa, "source", opts->source);
}

static void add_data(cJSON *o, const sf_train_report *rep)
{
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddNumberToObject(d, "orders", (double)rep->n_orders);
    cJSON_AddNumberToObject(d, "labeled_orders", (double)rep->n_labeled);
    cJSON_AddNumberToObject(d, "train_orders", (double)rep->split.n_train);
    cJSON_AddNumberToObject(d, "test_orders", (double)rep->split.n_test);
    cJSON_AddNumberToObject(d, "rows", (double)rep->n_rows);
    cJSON_AddNumberToObject(d, "train_rows", (double)rep->n_train_rows);
    cJSON_AddNumberToObject(d, "test_rows", (double)rep->n_test_rows);
    add_time(d, "cutoff", rep->split.cutoff);
    add_time(d, "train_from", rep->split.train_from);
    add_time(d, "train_to", rep->split.train_to);
    add_time(d, "test_from", rep->split.test_from);
    add_time(d, "test_to", rep->split.test_to);
    sf_json_add_number(d, "mean_label", rep->mean_label);
}

cJSON *sf_train_report_json(const sf_train_report *rep, const sf_train_opts *opts)
{
    cJSON *o = cJSON_CreateObject();
    add_params(o, opts);
    add_data(o, rep);
    cJSON *rows = cJSON_AddObjectToObject(o, "rows");
    for (int i = 0; i < SF_ROW_MAX; i++) {
        const sf_train_row *r = &rep->rows[i];
        if (!r->present)
            continue;
        cJSON *rj = cJSON_AddObjectToObject(rows, r->name);
        cJSON_AddStringToObject(rj, "algorithm", r->algo);
        cJSON_AddStringToObject(rj, "features", r->spec);
        cJSON_AddBoolToObject(rj, "candidate", i == rep->candidate);
        cJSON_AddItemToObject(rj, "stages", row_stages_json(r));
    }
    cJSON_AddStringToObject(o, "candidate", rep->rows[rep->candidate].name);
    cJSON_AddItemToObject(o, "gate", gate_json(&rep->gate));
    cJSON_AddItemToObject(o, "alert", sf_alert_choice_json(&rep->alert));
    cJSON_AddBoolToObject(o, "released", rep->released);
    cJSON_AddNumberToObject(o, "version", (double)rep->version);
    cJSON_AddNumberToObject(o, "champion_before", (double)rep->champion_before);
    cJSON_AddNumberToObject(o, "run_id", (double)rep->run_id);
    cJSON_AddStringToObject(o, "spec_hash", rep->spec_hash);
    cJSON_AddNumberToObject(o, "artifact_bytes", (double)rep->artifact_bytes);
    cJSON *sec = cJSON_AddObjectToObject(o, "seconds");
    for (int s = 0; s < SF_STEP_COUNT; s++)
        cJSON_AddNumberToObject(sec, sf_train_step_name((sf_train_step)s), rep->seconds[s]);
    return o;
}

char *sf_train_version_metrics_json(const sf_train_report *rep)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "holdout", row_stages_json(&rep->rows[rep->candidate]));
    cJSON_AddItemToObject(o, "gate", gate_json(&rep->gate));
    cJSON_AddItemToObject(o, "alert", sf_alert_choice_json(&rep->alert));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *sf_train_params_json(const sf_train_opts *opts, const char *model_params)
{
    cJSON *o = cJSON_CreateObject();
    add_params(o, opts);
    cJSON *pa = cJSON_DetachItemFromObject(o, "params");
    cJSON_Delete(o);
    cJSON *mp = model_params ? cJSON_Parse(model_params) : NULL;
    if (mp)
        cJSON_AddItemToObject(pa, "model", mp);
    char *s = cJSON_PrintUnformatted(pa);
    cJSON_Delete(pa);
    return s;
}

/* ---- registry records ----------------------------------------------------- */

/* An integer column: a number, or null when the column is NULL. */
static void add_int(cJSON *o, const char *k, int64_t v)
{
    if (v == SF_REGISTRY_NULL)
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, (double)v);
}

static void add_text(cJSON *o, const char *k, const char *s)
{
    if (s)
        cJSON_AddStringToObject(o, k, s);
    else
        cJSON_AddNullToObject(o, k);
}

/* A stored JSON text as a value (null when absent or not JSON). */
static void add_parsed(cJSON *o, const char *k, const char *text)
{
    cJSON *v = text ? cJSON_Parse(text) : NULL;
    cJSON_AddItemToObject(o, k, v ? v : cJSON_CreateNull());
}

static cJSON *version_json(const sf_version_row *v)
{
    cJSON *o = cJSON_CreateObject();
    add_int(o, "version", v->version);
    add_int(o, "run_id", v->run_id);
    add_text(o, "algorithm", v->algorithm);
    add_text(o, "spec_hash", v->spec_hash);
    add_text(o, "sha256", v->sha256);
    add_text(o, "status", v->status);
    cJSON_AddBoolToObject(o, "champion", strcmp(v->status, "champion") == 0);
    add_text(o, "reason", v->reason);
    add_int(o, "created", v->created);
    add_int(o, "train_from", v->train_from);
    add_int(o, "train_to", v->train_to);
    add_int(o, "size", (int64_t)v->artifact_len);
    return o;
}

cJSON *sf_registry_list_json(sf_registry *r, sf_err *err)
{
    sf_version_row *rows;
    size_t n;
    if (sf_registry_versions(r, &rows, &n, err) != 0)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(arr, version_json(&rows[i]));
        sf_version_row_clear(&rows[i]);
    }
    free(rows);
    return arr;
}

static void add_run(cJSON *o, const sf_run_row *run, int found)
{
    if (found) {
        cJSON *rj = cJSON_AddObjectToObject(o, "run");
        add_int(rj, "id", run->id);
        add_text(rj, "experiment", run->experiment);
        add_text(rj, "status", run->status);
        add_int(rj, "started", run->started);
        add_int(rj, "ended", run->ended);
        add_parsed(rj, "params", run->params_json);
        add_int(rj, "data_from", run->data_from);
        add_int(rj, "data_to", run->data_to);
        add_int(rj, "n_orders", run->n_orders);
        add_int(rj, "n_train", run->n_train);
        add_int(rj, "n_test", run->n_test);
        add_int(rj, "n_rows", run->n_rows);
    }
    cJSON *steps = cJSON_AddObjectToObject(o, "steps");
    for (size_t i = 0; i < run->n_steps; i++)
        cJSON_AddNumberToObject(steps, run->steps[i].step, run->steps[i].seconds);
    cJSON *rows = cJSON_AddArrayToObject(o, "run_metrics");
    for (size_t i = 0; i < run->n_metrics; i++) {
        const sf_run_metric_row *m = &run->metrics[i];
        cJSON *mj = cJSON_CreateObject();
        add_text(mj, "model", m->model);
        add_text(mj, "stage", m->stage);
        add_int(mj, "n", (int64_t)m->m.n);
        sf_json_add_number(mj, "rmse", m->m.rmse);
        sf_json_add_number(mj, "mae", m->m.mae);
        sf_json_add_number(mj, "r2", m->m.r2);
        sf_json_add_number(mj, "auc", m->m.auc);
        sf_json_add_number(mj, "pr_auc", m->m.pr_auc);
        cJSON_AddItemToArray(rows, mj);
    }
}

cJSON *sf_registry_show_json(sf_registry *r, int64_t version, sf_err *err)
{
    sf_version_row v;
    int found = sf_registry_get_version(r, version, false, &v, err);
    if (found <= 0) {
        if (found == 0)
            sf_errf(err, "registry %s: no version %lld", sf_registry_path(r), (long long)version);
        return NULL;
    }
    cJSON *o = version_json(&v);
    add_parsed(o, "metrics", v.metrics_json);
    int64_t run_id = v.run_id;
    sf_version_row_clear(&v);
    if (run_id <= 0)
        return o;
    sf_run_row run;
    int has_run = sf_registry_get_run(r, run_id, &run, err);
    if (has_run < 0) {
        cJSON_Delete(o);
        return NULL;
    }
    add_run(o, &run, has_run);
    sf_run_row_clear(&run);
    return o;
}
