/*
 * train.c - the batch training pipeline (see include/satisfy/train.h):
 * examples, time-ordered holdout, model rows, evaluation per stage, gate
 * against the registry's champion, registration, and the JSON report.
 *
 * Everything that decides (split, gate) lives in gate.c and everything that
 * learns in model.c; this file only wires them together and keeps the books,
 * so the streaming retrainer can call the very same sequence.
 */
#include "satisfy/train.h"
#include "satisfy/json_field.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/features.h"
#include "satisfy/clock.h"

static const char *const STEP_NAMES[SF_STEP_COUNT] = {"ingest",   "features", "train",
                                                      "evaluate", "gate",     "register"};

const char *sf_train_step_name(sf_train_step s)
{
    return s < SF_STEP_COUNT ? STEP_NAMES[s] : "?";
}

void sf_train_opts_default(sf_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->algo = SF_ALGO_GBDT;
    o->features = "full";
    o->holdout = SF_HOLDOUT_DEFAULT;
    sf_gate_opts_default(&o->gate);
    o->threads = 2;
    o->seed = 42;
    o->experiment = "batch";
}

/* Holdout predictions of one model row. */
typedef struct row_pred {
    double *score, *p; /* p NULL for the mean row */
} row_pred;

typedef struct pipeline {
    sf_examples full, seed; /* every labeled row */
    sf_examples tr_full, te_full, tr_seed, te_seed;
    sf_history *hist;            /* history at the end of the replay */
    sf_model *model[SF_ROW_MAX]; /* seed, ridge, gbdt, champion */
    row_pred pred[SF_ROW_MAX];
    double *label; /* holdout labels */
    size_t *cluster;
    size_t n_clusters;
    uint8_t *artifact;
    size_t artifact_len;
    char *params_json, *model_params_json, *metrics_json, *report_json;
} pipeline;

static void pipeline_free(pipeline *p)
{
    sf_examples_free(&p->full);
    sf_examples_free(&p->seed);
    sf_examples_free(&p->tr_full);
    sf_examples_free(&p->te_full);
    sf_examples_free(&p->tr_seed);
    sf_examples_free(&p->te_seed);
    sf_history_free(p->hist);
    for (int i = 0; i < SF_ROW_MAX; i++) {
        sf_model_free(p->model[i]);
        free(p->pred[i].score);
        free(p->pred[i].p);
    }
    free(p->label);
    free(p->cluster);
    free(p->artifact);
    free(p->params_json);
    free(p->model_params_json);
    free(p->metrics_json);
    free(p->report_json);
}

/* Splits both example sets at the cutoff of the labeled orders' purchase times. */
static int split_examples(const sf_dataset *ds, pipeline *p, double frac, sf_train_report *rep,
                          sf_err *err)
{
    const sf_examples *ex = &p->full;
    if (ex->n == 0)
        return sf_errf(err, "no labeled order events to train on (%zu orders)", ds->n_orders);
    if (p->seed.n != ex->n)
        return sf_errf(err, "seed and full examples disagree: %zu vs %zu rows", p->seed.n, ex->n);
    for (size_t i = 0; i < ex->n; i++)
        if (p->seed.order[i] != ex->order[i] || p->seed.stage[i] != ex->stage[i])
            return sf_errf(err, "seed and full examples disagree at row %zu", i);

    unsigned char *seen = calloc(ds->n_orders ? ds->n_orders : 1, 1);
    int64_t *times = malloc(ex->n * sizeof *times);
    size_t *itr = malloc(ex->n * sizeof *itr), *ite = malloc(ex->n * sizeof *ite);
    int rc = -1;
    if (!seen || !times || !itr || !ite) {
        sf_errf(err, "out of memory splitting %zu rows", ex->n);
        goto done;
    }
    size_t n_orders = 0;
    for (size_t i = 0; i < ex->n; i++)
        if (!seen[ex->order[i]]) {
            seen[ex->order[i]] = 1;
            times[n_orders++] = ex->purchase[i];
        }
    rep->n_labeled = n_orders;
    if (sf_holdout_split(times, n_orders, frac, &rep->split, err) != 0)
        goto done;
    size_t ntr = 0, nte = 0;
    for (size_t i = 0; i < ex->n; i++) {
        if (sf_holdout_is_test(&rep->split, ex->purchase[i]))
            ite[nte++] = i;
        else
            itr[ntr++] = i;
    }
    if (sf_examples_select(&p->full, itr, ntr, &p->tr_full, err) != 0 ||
        sf_examples_select(&p->full, ite, nte, &p->te_full, err) != 0 ||
        sf_examples_select(&p->seed, itr, ntr, &p->tr_seed, err) != 0 ||
        sf_examples_select(&p->seed, ite, nte, &p->te_seed, err) != 0)
        goto done;
    rep->n_rows = ex->n;
    rep->n_train_rows = ntr;
    rep->n_test_rows = nte;
    rc = 0;
done:
    free(seen);
    free(times);
    free(itr);
    free(ite);
    return rc;
}

/* Metrics of one row: per stage present in the holdout, and over all rows. */
static int eval_row(const sf_examples *te, const double *y, const row_pred *pr, sf_train_row *row,
                    sf_err *err)
{
    size_t n = te->n;
    double *ys = malloc(n * sizeof *ys), *ps = malloc(n * sizeof *ps);
    double *ds = pr->p ? malloc(n * sizeof *ds) : NULL;
    if (!ys || !ps || (pr->p && !ds)) {
        free(ys);
        free(ps);
        free(ds);
        return sf_errf(err, "out of memory evaluating %s", row->name);
    }
    int rc = sf_metrics_compute(y, pr->score, pr->p, n, &row->all, err);
    for (int s = 0; rc == 0 && s < SF_STAGE_COUNT; s++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (te->stage[i] == (sf_stage)s) {
                ys[k] = y[i];
                ps[k] = pr->score[i];
                if (ds)
                    ds[k] = pr->p[i];
                k++;
            }
        row->has_stage[s] = k > 0;
        if (k)
            rc = sf_metrics_compute(ys, ps, ds, k, &row->stage[s], err);
    }
    free(ys);
    free(ps);
    free(ds);
    if (rc != 0)
        return sf_err_wrap(err, "evaluating %s", row->name);
    return 0;
}

static int predict_row(const sf_model *m, const sf_examples *te, row_pred *pr, sf_err *err)
{
    pr->score = malloc((te->n ? te->n : 1) * sizeof *pr->score);
    pr->p = malloc((te->n ? te->n : 1) * sizeof *pr->p);
    if (!pr->score || !pr->p)
        return sf_errf(err, "out of memory predicting %zu rows", te->n);
    sf_model_predict(m, te->x, te->n, pr->score, pr->p);
    return 0;
}

static void set_row(sf_train_row *r, const char *name, const char *algo, const char *spec)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->algo, sizeof r->algo, "%s", algo);
    snprintf(r->spec, sizeof r->spec, "%s", spec);
    r->present = true;
}

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

cJSON *sf_train_report_json(const sf_train_report *rep, const sf_train_opts *opts)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *pa = cJSON_AddObjectToObject(o, "params");
    cJSON_AddStringToObject(pa, "algorithm", sf_algo_name(opts->algo));
    cJSON_AddStringToObject(pa, "features", opts->features);
    cJSON_AddNumberToObject(pa, "holdout", opts->holdout);
    cJSON_AddNumberToObject(pa, "margin", opts->gate.margin);
    cJSON_AddNumberToObject(pa, "resamples", opts->gate.resamples);
    cJSON_AddNumberToObject(pa, "gate_seed", (double)opts->gate.seed);
    cJSON_AddNumberToObject(pa, "seed", (double)opts->seed);
    cJSON_AddNumberToObject(pa, "threads", opts->threads);
    if (opts->source)
        cJSON_AddStringToObject(pa, "source", opts->source);

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
    cJSON_AddBoolToObject(o, "released", rep->released);
    cJSON_AddNumberToObject(o, "version", (double)rep->version);
    cJSON_AddNumberToObject(o, "champion_before", (double)rep->champion_before);
    cJSON_AddNumberToObject(o, "run_id", (double)rep->run_id);
    cJSON_AddStringToObject(o, "spec_hash", rep->spec_hash);
    cJSON_AddNumberToObject(o, "artifact_bytes", (double)rep->artifact_bytes);
    cJSON *sec = cJSON_AddObjectToObject(o, "seconds");
    for (int s = 0; s < SF_STEP_COUNT; s++)
        cJSON_AddNumberToObject(sec, STEP_NAMES[s], rep->seconds[s]);
    return o;
}

/* The candidate's evaluation plus the gate, stored with the version. */
static char *version_metrics_json(const sf_train_report *rep)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "holdout", row_stages_json(&rep->rows[rep->candidate]));
    cJSON_AddItemToObject(o, "gate", gate_json(&rep->gate));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static char *params_json(const sf_train_opts *opts, const char *model_params)
{
    sf_train_report dummy;
    memset(&dummy, 0, sizeof dummy);
    cJSON *full = sf_train_report_json(&dummy, opts);
    cJSON *pa = cJSON_DetachItemFromObject(full, "params");
    cJSON_Delete(full);
    cJSON *mp = model_params ? cJSON_Parse(model_params) : NULL;
    if (mp)
        cJSON_AddItemToObject(pa, "model", mp);
    char *s = cJSON_PrintUnformatted(pa);
    cJSON_Delete(pa);
    return s;
}

int sf_train_run(const sf_dataset *ds, sf_registry *reg, const sf_train_opts *opts,
                 sf_train_report *rep, sf_err *err)
{
    sf_train_opts def;
    if (!opts) {
        sf_train_opts_default(&def);
        opts = &def;
    }
    setenv("OMP_WAIT_POLICY", "passive", 0);
    memset(rep, 0, sizeof *rep);
    rep->seconds[SF_STEP_INGEST] = opts->ingest_seconds;
    rep->n_orders = ds->n_orders;
    int64_t now = opts->now ? opts->now : sf_wall_ms();
    double t_start = sf_mono_s(), t = t_start;
    pipeline p;
    memset(&p, 0, sizeof p);
    int rc = -1;

    const sf_feature_spec *cand_spec =
        sf_spec_by_name(opts->features ? opts->features : "full", err);
    if (!cand_spec)
        return sf_err_wrap(err, "train");
    bool cand_seed = strcmp(cand_spec->name, "seed") == 0;
    sf_spec_hash(cand_spec, rep->spec_hash);

    /* features */
    if (sf_examples_build(&p.full, ds, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, &p.hist, err) !=
            0 ||
        sf_examples_build(&p.seed, ds, sf_spec_seed(), SF_TIME_NONE, SF_TIME_NONE, NULL, err) !=
            0) {
        sf_err_wrap(err, "train: features");
        goto done;
    }
    if (split_examples(ds, &p, opts->holdout, rep, err) != 0) {
        sf_err_wrap(err, "train: holdout split");
        goto done;
    }
    rep->seconds[SF_STEP_FEATURES] = sf_mono_s() - t;
    t = sf_mono_s();

    /* train */
    sf_model_params mp;
    sf_model_params_default(&mp);
    mp.nthread = opts->threads > 0 ? opts->threads : 2;
    mp.seed = opts->seed;
    p.model_params_json = sf_model_params_json(&mp);
    double sum = 0;
    for (size_t i = 0; i < p.tr_full.n; i++)
        sum += p.tr_full.label[i];
    rep->mean_label = sum / (double)p.tr_full.n;
    set_row(&rep->rows[SF_ROW_MEAN], "mean", "-", "-");
    set_row(&rep->rows[SF_ROW_SEED], "seed", sf_algo_name(opts->algo), "seed");
    set_row(&rep->rows[SF_ROW_RIDGE], "ridge", "ridge", "full");
    set_row(&rep->rows[SF_ROW_GBDT], "gbdt", "gbdt", "full");
    if (sf_model_train(opts->algo, &p.tr_seed, NULL, &mp, &p.model[SF_ROW_SEED], err) != 0) {
        sf_err_wrap(err, "train: seed row (%s)", sf_algo_name(opts->algo));
        goto done;
    }
    if (sf_model_train(SF_ALGO_RIDGE, &p.tr_full, NULL, &mp, &p.model[SF_ROW_RIDGE], err) != 0) {
        sf_err_wrap(err, "train: ridge row");
        goto done;
    }
    if (sf_model_train(SF_ALGO_GBDT, &p.tr_full, NULL, &mp, &p.model[SF_ROW_GBDT], err) != 0) {
        sf_err_wrap(err, "train: gbdt row");
        goto done;
    }
    rep->candidate = cand_seed                     ? SF_ROW_SEED
                     : opts->algo == SF_ALGO_RIDGE ? SF_ROW_RIDGE
                                                   : SF_ROW_GBDT;
    rep->seconds[SF_STEP_TRAIN] = sf_mono_s() - t;
    t = sf_mono_s();

    /* evaluate: every row and the champion on the same holdout rows */
    size_t nt = p.te_full.n;
    p.label = malloc(nt * sizeof *p.label);
    p.pred[SF_ROW_MEAN].score = malloc(nt * sizeof(double));
    if (!p.label || !p.pred[SF_ROW_MEAN].score) {
        sf_errf(err, "train: out of memory for %zu holdout rows", nt);
        goto done;
    }
    for (size_t i = 0; i < nt; i++) {
        p.label[i] = p.te_full.label[i];
        p.pred[SF_ROW_MEAN].score[i] = rep->mean_label;
    }
    if (predict_row(p.model[SF_ROW_SEED], &p.te_seed, &p.pred[SF_ROW_SEED], err) != 0 ||
        predict_row(p.model[SF_ROW_RIDGE], &p.te_full, &p.pred[SF_ROW_RIDGE], err) != 0 ||
        predict_row(p.model[SF_ROW_GBDT], &p.te_full, &p.pred[SF_ROW_GBDT], err) != 0)
        goto done;

    sf_version_row champ_row;
    memset(&champ_row, 0, sizeof champ_row);
    int has_champ = sf_registry_champion(reg, &champ_row, err);
    if (has_champ < 0) {
        sf_err_wrap(err, "train");
        goto done;
    }
    if (has_champ) {
        rep->champion_before = champ_row.version;
        int lrc = sf_model_load_trusted(champ_row.artifact, champ_row.artifact_len, NULL,
                                        &p.model[SF_ROW_CHAMPION], err);
        if (lrc != 0) {
            sf_err_wrap(err, "train: loading champion v%lld", (long long)champ_row.version);
            sf_version_row_clear(&champ_row);
            goto done;
        }
        sf_version_row_clear(&champ_row);
        const sf_model_info *ci = sf_model_get_info(p.model[SF_ROW_CHAMPION]);
        bool champ_seed = strcmp(ci->spec->name, "seed") == 0;
        if (!champ_seed && strcmp(ci->spec->name, "full") != 0) {
            sf_errf(err, "train: champion v%lld uses feature spec '%s' this build cannot build",
                    (long long)rep->champion_before, ci->spec->name);
            goto done;
        }
        char name[24];
        snprintf(name, sizeof name, "champion v%lld", (long long)rep->champion_before);
        set_row(&rep->rows[SF_ROW_CHAMPION], name, sf_algo_name(ci->algo), ci->spec->name);
        if (predict_row(p.model[SF_ROW_CHAMPION], champ_seed ? &p.te_seed : &p.te_full,
                        &p.pred[SF_ROW_CHAMPION], err) != 0)
            goto done;
    }
    for (int i = 0; i < SF_ROW_MAX; i++)
        if (rep->rows[i].present &&
            eval_row(&p.te_full, p.label, &p.pred[i], &rep->rows[i], err) != 0) {
            sf_err_wrap(err, "train");
            goto done;
        }
    rep->seconds[SF_STEP_EVALUATE] = sf_mono_s() - t;
    t = sf_mono_s();

    /* gate on all holdout rows, orders as clusters */
    p.cluster = malloc(nt * sizeof *p.cluster);
    size_t *map = malloc((ds->n_orders ? ds->n_orders : 1) * sizeof *map);
    if (!p.cluster || !map) {
        free(map);
        sf_errf(err, "train: out of memory for clusters");
        goto done;
    }
    for (size_t i = 0; i < ds->n_orders; i++)
        map[i] = SIZE_MAX;
    for (size_t i = 0; i < nt; i++) {
        size_t o = p.te_full.order[i];
        if (map[o] == SIZE_MAX)
            map[o] = p.n_clusters++;
        p.cluster[i] = map[o];
    }
    free(map);
    int ref = has_champ ? SF_ROW_CHAMPION : SF_ROW_MEAN;
    if (sf_gate_decide(p.label, p.pred[ref].score, p.pred[rep->candidate].score, p.cluster,
                       p.n_clusters, nt, has_champ, has_champ ? rep->rows[ref].name : "mean",
                       &opts->gate, &rep->gate, err) != 0) {
        sf_err_wrap(err, "train: gate");
        goto done;
    }
    rep->released = rep->gate.released;
    rep->seconds[SF_STEP_GATE] = sf_mono_s() - t;
    t = sf_mono_s();

    /* register */
    sf_model *cand = p.model[rep->candidate];
    sf_model_set_window(cand, rep->split.train_from, rep->split.train_to);
    p.metrics_json = version_metrics_json(rep);
    if (sf_model_set_metrics(cand, p.metrics_json, err) != 0 ||
        sf_model_set_history(cand, p.hist, err) != 0 ||
        sf_model_save(cand, &p.artifact, &p.artifact_len, err) != 0) {
        sf_err_wrap(err, "train: saving the %s artifact", rep->rows[rep->candidate].name);
        goto done;
    }
    rep->artifact_bytes = p.artifact_len;
    p.params_json = params_json(opts, p.model_params_json);
    int64_t exp =
        sf_registry_experiment(reg, opts->experiment ? opts->experiment : "batch", now, err);
    int64_t started = now - (int64_t)((sf_mono_s() - t_start + opts->ingest_seconds) * 1000.0);
    rep->run_id = exp < 0 ? -1 : sf_registry_run_start(reg, exp, started, p.params_json, err);
    if (rep->run_id < 0) {
        sf_err_wrap(err, "train: recording the run");
        goto done;
    }
    sf_version_new v = {.run_id = rep->run_id,
                        .algorithm = sf_algo_name(sf_model_get_info(cand)->algo),
                        .spec_hash = rep->spec_hash,
                        .artifact = p.artifact,
                        .artifact_len = p.artifact_len,
                        .status = rep->released ? "candidate" : "rejected",
                        .reason = rep->gate.reason,
                        .metrics_json = p.metrics_json,
                        .train_from = rep->split.train_from,
                        .train_to = rep->split.train_to,
                        .created = now};
    rep->version = sf_registry_add_version(reg, &v, err);
    if (rep->version < 0 ||
        (rep->released && sf_registry_promote(reg, rep->version, now, err) != 0)) {
        sf_err_wrap(err, "train: registering the version");
        goto done;
    }
    rep->seconds[SF_STEP_REGISTER] = sf_mono_s() - t;

    sf_run_metric ms[SF_ROW_MAX * (SF_STAGE_COUNT + 1)];
    size_t nm = 0;
    for (int i = 0; i < SF_ROW_MAX; i++) {
        const sf_train_row *r = &rep->rows[i];
        if (!r->present)
            continue;
        const char *model = i == SF_ROW_CHAMPION ? "champion" : r->name;
        for (int s = 0; s < SF_STAGE_COUNT; s++)
            if (r->has_stage[s])
                ms[nm++] = (sf_run_metric){model, sf_stage_name((sf_stage)s), r->stage[s]};
        ms[nm++] = (sf_run_metric){model, "ALL", r->all};
    }
    sf_run_step steps[SF_STEP_COUNT];
    for (int s = 0; s < SF_STEP_COUNT; s++)
        steps[s] = (sf_run_step){STEP_NAMES[s], rep->seconds[s]};
    cJSON *rj = sf_train_report_json(rep, opts);
    p.report_json = cJSON_PrintUnformatted(rj);
    cJSON_Delete(rj);
    sf_run_end end = {.ended = opts->now ? now : sf_wall_ms(),
                      .data_from = rep->split.train_from,
                      .data_to = rep->split.test_to,
                      .n_orders = (int64_t)rep->n_labeled,
                      .n_train = (int64_t)rep->split.n_train,
                      .n_test = (int64_t)rep->split.n_test,
                      .n_rows = (int64_t)rep->n_rows,
                      .metrics = ms,
                      .n_metrics = nm,
                      .steps = steps,
                      .n_steps = SF_STEP_COUNT,
                      .report_json = p.report_json};
    if (sf_registry_run_finish(reg, rep->run_id, &end, err) != 0) {
        sf_err_wrap(err, "train: finishing run %lld", (long long)rep->run_id);
        goto done;
    }
    rc = 0;
done:
    pipeline_free(&p);
    return rc;
}
