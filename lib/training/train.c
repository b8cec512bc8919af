/*
 * train.c - the batch training pipeline (see satisfy/train.h):
 * training rows, time-ordered holdout, model rows, evaluation per stage,
 * gate against the registry's champion, the artifact, registration, and the
 * run's report.
 *
 * sf_train_run calls one function per step, each reading and filling the
 * pipeline struct. Everything that decides (split, gate) lives in gate.c,
 * everything that learns in model.c and every JSON shape in render.c; this
 * file only wires them together and keeps the books, so the streaming
 * retrainer calls the very same sequence.
 */
#include "satisfy/train.h"
#include "satisfy/render.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "satisfy/drift_profile.h"
#include "satisfy/lifecycle.h"
#include "satisfy/training_rows.h"
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
    o->rows_from = SF_TIME_NONE;
    o->start_time = SF_TIME_NONE;
    o->alert_precision = SF_ALERT_PRECISION_DEFAULT;
}

/* Holdout predictions of one model row. */
typedef struct row_pred {
    double *score, *p; /* p NULL for the mean row */
} row_pred;

typedef struct pipeline {
    const sf_training_events *ev;
    sf_registry *reg;
    const sf_train_opts *opts;
    int64_t now;    /* wall clock ms for the records */
    double t_start; /* monotonic start of the run */
    bool cand_seed; /* the candidate uses the seed spec */
    bool has_champ; /* the registry had a champion */
    sf_model_params mp;
    sf_examples full, seed; /* every labeled row: [training | holdout] after the split */
    sf_examples tr_full, te_full, tr_seed, te_seed;   /* views of full and seed */
    sf_examples fit_full, va_full, fit_seed, va_seed; /* views: training = [fit | valid] */
    sf_model *model[SF_ROW_MAX];                      /* seed, ridge, gbdt, champion */
    row_pred pred[SF_ROW_MAX];
    double *label; /* holdout labels */
    size_t *cluster;
    size_t n_clusters;
    uint8_t *artifact;
    size_t artifact_len;
    char *params_json, *model_params_json, *metrics_json, *report_json;
    sf_drift_profile *drift; /* the candidate's training distribution (drift_profile.h) */
} pipeline;

static void pipeline_free(pipeline *p)
{
    sf_examples_free(&p->full);
    sf_examples_free(&p->seed);
    sf_examples_free(&p->tr_full);
    sf_examples_free(&p->te_full);
    sf_examples_free(&p->tr_seed);
    sf_examples_free(&p->te_seed);
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
    free(p->drift);
}

/* Splits both example sets at the cutoff of the labeled orders' purchase times. */
static int split_examples(pipeline *p, double frac, sf_train_report *rep, sf_err *err)
{
    const sf_examples *ex = &p->full;
    if (ex->n == 0)
        return sf_errf(err, "no labeled order events to train on (%zu orders)", ex->n_orders);
    if (p->seed.n != ex->n)
        return sf_errf(err, "seed and full examples disagree: %zu vs %zu rows", p->seed.n, ex->n);
    for (size_t i = 0; i < ex->n; i++)
        if (p->seed.order[i] != ex->order[i] || p->seed.stage[i] != ex->stage[i])
            return sf_errf(err, "seed and full examples disagree at row %zu", i);

    unsigned char *seen = calloc(ex->n_orders ? ex->n_orders : 1, 1);
    int64_t *times = malloc(ex->n * sizeof *times);
    unsigned char *side = malloc(ex->n);
    int rc = -1;
    if (!seen || !times || !side) {
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
    /* the split reorders both row sets in place ([training | holdout], each in
     * its original order) and views them: the same rows as copies would
     * hold, without a second copy of every row */
    for (size_t i = 0; i < ex->n; i++)
        side[i] = sf_holdout_is_test(&rep->split, ex->purchase[i]);
    size_t ntr = sf_examples_partition(&p->full, side, err);
    if (ntr == (size_t)-1 || sf_examples_partition(&p->seed, side, err) == (size_t)-1)
        goto done;
    size_t nte = ex->n - ntr;
    sf_examples_view(&p->full, 0, ntr, &p->tr_full);
    sf_examples_view(&p->full, ntr, nte, &p->te_full);
    sf_examples_view(&p->seed, 0, ntr, &p->tr_seed);
    sf_examples_view(&p->seed, ntr, nte, &p->te_seed);
    rep->n_rows = ex->n;
    rep->n_train_rows = ntr;
    rep->n_test_rows = nte;
    rc = 0;
done:
    free(seen);
    free(times);
    free(side);
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

/* ---- the steps -------------------------------------------------------------- */

/* Training rows of both specs from the events, and the holdout split. */
static int step_features(pipeline *p, sf_train_report *rep, sf_err *err)
{
    /* a training window (opts.rows_from): with a checkpoint (window.h) the
     * replay starts from a copy of it */
    const sf_train_opts *o = p->opts;
#ifdef __GLIBC__
    malloc_trim(0); /* what loading and the events' building freed, before the replay grows */
#endif
    sf_examples rows[2];
    const sf_feature_spec *const specs[2] = {sf_spec_full(), sf_spec_seed()};
    int rc;
    if (o->start_history) { /* releases carry no history: it is dropped once the rows are built */
        sf_history *h = sf_history_clone(o->start_history);
        if (!h)
            return sf_errf(err, "train: features: out of memory copying the history checkpoint");
        rc = sf_training_rows_build2_from(rows, specs, p->ev, o->rows_from, SF_TIME_NONE, h,
                                          o->start_time, err);
        sf_history_free(h);
    } else {
        rc = sf_training_rows_build2(rows, specs, p->ev, o->rows_from, SF_TIME_NONE, NULL, err);
    }
    if (rc != 0)
        return sf_err_wrap(err, "train: features");
    p->full = rows[0];
    p->seed = rows[1];
    if (p->opts->events_done)
        p->opts->events_done(p->opts->events_done_arg);
    p->ev = NULL;
#ifdef __GLIBC__
    malloc_trim(0); /* glibc keeps the freed small blocks of the events and tables */
#endif
    rep->n_orders = p->full.n_orders;
    rep->n_orphan_reviews = p->full.n_orphan_reviews;
    if (split_examples(p, p->opts->holdout, rep, err) != 0)
        return sf_err_wrap(err, "train: holdout split");
    return 0;
}

/* Once the seed row is trained, only the seed rows of the holdout are read
 * (the seed row's and a seed champion's predictions): they move to an array
 * of their own and the training part goes (a quarter of a GB at 1M orders,
 * while the full rows train). */
static int shrink_seed(pipeline *p, sf_err *err)
{
    size_t ntr = p->tr_seed.n, nte = p->te_seed.n;
    size_t *idx = malloc((nte ? nte : 1) * sizeof *idx);
    if (!idx)
        return sf_errf(err, "out of memory keeping %zu holdout rows", nte);
    for (size_t i = 0; i < nte; i++)
        idx[i] = ntr + i;
    sf_examples held;
    int rc = sf_examples_select(&p->seed, idx, nte, &held, err);
    free(idx);
    if (rc != 0)
        return -1;
    sf_examples_free(&p->seed);
    p->seed = held;
    memset(&p->tr_seed, 0, sizeof p->tr_seed);
    memset(&p->fit_seed, 0, sizeof p->fit_seed);
    memset(&p->va_seed, 0, sizeof p->va_seed);
    sf_examples_view(&p->seed, 0, nte, &p->te_seed);
    return 0;
}

/* Hands the whole pages of a[0 .. n) (elements of `size` bytes) back to the
 * OS: the caller reads them no more; they read as zeros until freed. */
static void release_prefix(void *a, size_t n, size_t size)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || !a)
        return;
    uintptr_t b = (uintptr_t)a, e = b + n * size;
    b = (b + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    e &= ~((uintptr_t)pg - 1);
    if (e > b)
        madvise((void *)b, e - b, MADV_DONTNEED);
}

/* The model rows on the training side: mean, seed, ridge, gbdt. */
static int step_learners(pipeline *p, sf_train_report *rep, sf_err *err)
{
    const sf_train_opts *opts = p->opts;
    sf_model_params_default(&p->mp);
    p->mp.nthread = opts->threads > 0 ? opts->threads : 2;
    p->mp.seed = opts->seed;
    p->model_params_json = sf_model_params_json(&p->mp);
    /* the training distribution per feature of the candidate's spec, before
     * the learners hand the training rows' pages back (gbdt below) */
    const sf_examples *tr = p->cand_seed ? &p->tr_seed : &p->tr_full;
    if (!(p->drift = malloc(sizeof *p->drift)))
        return sf_errf(err, "train: out of memory for the drift profile");
    if (sf_drift_profile_build(tr->spec, tr->x, tr->n, tr->d, p->drift, err) != 0)
        return sf_err_wrap(err, "train");
    double sum = 0;
    for (size_t i = 0; i < p->tr_full.n; i++)
        sum += p->tr_full.label[i];
    rep->mean_label = sum / (double)p->tr_full.n;
    set_row(&rep->rows[SF_ROW_MEAN], "mean", "-", "-");
    set_row(&rep->rows[SF_ROW_SEED], "seed", sf_algo_name(opts->algo), "seed");
    set_row(&rep->rows[SF_ROW_RIDGE], "ridge", "ridge", "full");
    set_row(&rep->rows[SF_ROW_GBDT], "gbdt", "gbdt", "full");
    /* the validation slice sf_model_train would carve (a copy), as views */
    const sf_examples *fs = &p->tr_seed, *vs = NULL, *ff = &p->tr_full, *vf = NULL;
    if (p->tr_full.n >= 10) {
        double f = p->mp.valid_frac > 0 && p->mp.valid_frac < 1 ? p->mp.valid_frac : 0.15;
        if (sf_examples_time_partition(&p->tr_full, f, &p->fit_full, &p->va_full, err) ==
                SF_TIME_NONE ||
            sf_examples_time_partition(&p->tr_seed, f, &p->fit_seed, &p->va_seed, err) ==
                SF_TIME_NONE)
            return sf_err_wrap(err, "train: carving the validation slice");
        fs = &p->fit_seed, vs = &p->va_seed, ff = &p->fit_full, vf = &p->va_full;
    }
    if (sf_model_train(opts->algo, fs, vs, &p->mp, &p->model[SF_ROW_SEED], err) != 0)
        return sf_err_wrap(err, "train: seed row (%s)", sf_algo_name(opts->algo));
    if (shrink_seed(p, err) != 0)
        return sf_err_wrap(err, "train");
    if (sf_model_train(SF_ALGO_RIDGE, ff, vf, &p->mp, &p->model[SF_ROW_RIDGE], err) != 0)
        return sf_err_wrap(err, "train: ridge row");
    /* the last learner: the fit rows' features are read no more (only the
     * validation and holdout rows are), so gbdt hands their pages back once
     * its quantile matrix is built (0.44 GB at 1M orders) */
    sf_model_params gp = p->mp;
    gp.release_train_rows = 1;
    /* past the splits only the holdout's stages, times and orders are read
     * (evaluation, gate): the training rows' go (0.1 GB at 1M orders) */
    size_t ntr = p->tr_full.n;
    release_prefix(p->full.stage, ntr, sizeof *p->full.stage);
    release_prefix(p->full.purchase, ntr, sizeof *p->full.purchase);
    release_prefix(p->full.event_time, ntr, sizeof *p->full.event_time);
    release_prefix(p->full.order, ntr, sizeof *p->full.order);
#ifdef __GLIBC__
    malloc_trim(0); /* what the seed rows and the other learners freed */
#endif
    if (sf_model_train(SF_ALGO_GBDT, ff, vf, &gp, &p->model[SF_ROW_GBDT], err) != 0)
        return sf_err_wrap(err, "train: gbdt row");
    rep->candidate = p->cand_seed                  ? SF_ROW_SEED
                     : opts->algo == SF_ALGO_RIDGE ? SF_ROW_RIDGE
                                                   : SF_ROW_GBDT;
    return 0;
}

/* Every row predicts the same holdout rows. */
static int step_predict(pipeline *p, sf_train_report *rep, sf_err *err)
{
    size_t nt = p->te_full.n;
    p->label = malloc((nt ? nt : 1) * sizeof *p->label);
    p->pred[SF_ROW_MEAN].score = malloc((nt ? nt : 1) * sizeof(double));
    if (!p->label || !p->pred[SF_ROW_MEAN].score)
        return sf_errf(err, "train: out of memory for %zu holdout rows", nt);
    for (size_t i = 0; i < nt; i++) {
        p->label[i] = p->te_full.label[i];
        p->pred[SF_ROW_MEAN].score[i] = rep->mean_label;
    }
    if (predict_row(p->model[SF_ROW_SEED], &p->te_seed, &p->pred[SF_ROW_SEED], err) != 0 ||
        predict_row(p->model[SF_ROW_RIDGE], &p->te_full, &p->pred[SF_ROW_RIDGE], err) != 0 ||
        predict_row(p->model[SF_ROW_GBDT], &p->te_full, &p->pred[SF_ROW_GBDT], err) != 0)
        return -1;
    return 0;
}

/* Reloads the registry's champion, if any, and has it predict the holdout
 * with its own feature spec. */
static int step_champion(pipeline *p, sf_train_report *rep, sf_err *err)
{
    sf_version_row row;
    memset(&row, 0, sizeof row);
    int has = sf_registry_champion(p->reg, &row, err);
    if (has < 0)
        return sf_err_wrap(err, "train");
    p->has_champ = has;
    if (!has)
        return 0;
    rep->champion_before = row.version;
    /* the registry is our own store: a format 1 champion is converted */
    int lrc = sf_model_load_trusted(row.artifact, row.artifact_len, NULL,
                                    &p->model[SF_ROW_CHAMPION], err);
    sf_version_row_clear(&row);
    if (lrc != 0)
        return sf_err_wrap(err, "train: loading champion v%lld", (long long)rep->champion_before);
    const sf_model_info *ci = sf_model_get_info(p->model[SF_ROW_CHAMPION]);
    bool champ_seed = strcmp(ci->spec->name, "seed") == 0;
    if (!champ_seed && strcmp(ci->spec->name, "full") != 0)
        return sf_errf(err, "train: champion v%lld uses feature spec '%s' this build cannot build",
                       (long long)rep->champion_before, ci->spec->name);
    char name[24];
    snprintf(name, sizeof name, "champion v%lld", (long long)rep->champion_before);
    set_row(&rep->rows[SF_ROW_CHAMPION], name, sf_algo_name(ci->algo), ci->spec->name);
    return predict_row(p->model[SF_ROW_CHAMPION], champ_seed ? &p->te_seed : &p->te_full,
                       &p->pred[SF_ROW_CHAMPION], err);
}

/* Metrics of every row present, per stage and over ALL. */
static int step_evaluate(pipeline *p, sf_train_report *rep, sf_err *err)
{
    for (int i = 0; i < SF_ROW_MAX; i++)
        if (rep->rows[i].present &&
            eval_row(&p->te_full, p->label, &p->pred[i], &rep->rows[i], err) != 0)
            return sf_err_wrap(err, "train");
    return 0;
}

/* The candidate's alert threshold on the holdout (alert_threshold.h). */
static int step_alert(pipeline *p, sf_train_report *rep, sf_err *err)
{
    double target =
        p->opts->alert_precision > 0 ? p->opts->alert_precision : SF_ALERT_PRECISION_DEFAULT;
    if (sf_alert_choose(p->pred[rep->candidate].p, p->label, p->te_full.order, p->te_full.n,
                        p->te_full.n_orders, target, &rep->alert, err) != 0)
        return sf_err_wrap(err, "train");
    return 0;
}

/* The gate on all holdout rows, orders as clusters, against the champion
 * (or the mean row when there is none). */
static int step_gate(pipeline *p, sf_train_report *rep, sf_err *err)
{
    size_t nt = p->te_full.n, n_ord = p->te_full.n_orders;
    p->cluster = malloc((nt ? nt : 1) * sizeof *p->cluster);
    size_t *map = malloc((n_ord ? n_ord : 1) * sizeof *map);
    if (!p->cluster || !map) {
        free(map);
        return sf_errf(err, "train: out of memory for clusters");
    }
    for (size_t i = 0; i < n_ord; i++)
        map[i] = SIZE_MAX;
    for (size_t i = 0; i < nt; i++) {
        size_t o = p->te_full.order[i];
        if (map[o] == SIZE_MAX)
            map[o] = p->n_clusters++;
        p->cluster[i] = map[o];
    }
    free(map);
    int ref = p->has_champ ? SF_ROW_CHAMPION : SF_ROW_MEAN;
    if (sf_gate_decide(p->label, p->pred[ref].score, p->pred[rep->candidate].score, p->cluster,
                       p->n_clusters, nt, p->has_champ, p->has_champ ? rep->rows[ref].name : "mean",
                       &p->opts->gate, &rep->gate, err) != 0)
        return sf_err_wrap(err, "train: gate");
    rep->released = rep->gate.released;
    return 0;
}

/* "drift" (the profile step_learners built, drift_profile.h) into the
 * metrics: what the scorers measure their input drift against. */
static int add_drift_profile(pipeline *p, sf_err *err)
{
    char *with = sf_drift_metrics_with(p->metrics_json, p->drift, err);
    if (!with)
        return -1;
    free(p->metrics_json);
    p->metrics_json = with;
    return 0;
}

/* The candidate's artifact: window and metrics. No history snapshot: the
 * scorer's history is live state (satisfy.history, livehistory.h), so the
 * release stays the size of the model whatever the history holds. */
static int step_artifact(pipeline *p, sf_train_report *rep, sf_err *err)
{
    sf_model *cand = p->model[rep->candidate];
    sf_model_set_window(cand, rep->split.train_from, rep->split.train_to);
    p->metrics_json = sf_train_version_metrics_json(rep);
    if (add_drift_profile(p, err) != 0)
        return sf_err_wrap(err, "train");
    if (sf_model_set_metrics(cand, p->metrics_json, err) != 0 ||
        sf_model_save(cand, &p->artifact, &p->artifact_len, err) != 0)
        return sf_err_wrap(err, "train: saving the %s artifact", rep->rows[rep->candidate].name);
    rep->artifact_bytes = p->artifact_len;
    return 0;
}

/* The run and the candidate version (promoted when released). */
static int step_register(pipeline *p, sf_train_report *rep, sf_err *err)
{
    const sf_train_opts *opts = p->opts;
    p->params_json = sf_train_params_json(opts, p->model_params_json);
    int64_t exp =
        sf_registry_experiment(p->reg, opts->experiment ? opts->experiment : "batch", p->now, err);
    int64_t started =
        p->now - (int64_t)((sf_mono_s() - p->t_start + opts->ingest_seconds) * 1000.0);
    rep->run_id = exp < 0 ? -1 : sf_registry_run_start(p->reg, exp, started, p->params_json, err);
    if (rep->run_id < 0)
        return sf_err_wrap(err, "train: recording the run");
    sf_model *cand = p->model[rep->candidate];
    sf_version_new v = {.run_id = rep->run_id,
                        .algorithm = sf_algo_name(sf_model_get_info(cand)->algo),
                        .spec_hash = rep->spec_hash,
                        .artifact = p->artifact,
                        .artifact_len = p->artifact_len,
                        .status = rep->released ? "candidate" : "rejected",
                        .reason = rep->gate.reason,
                        .metrics_json = p->metrics_json,
                        .train_from = rep->split.train_from,
                        .train_to = rep->split.train_to,
                        .created = p->now};
    rep->version = sf_registry_add_version(p->reg, &v, err);
    if (rep->version < 0 ||
        (rep->released && sf_registry_promote(p->reg, rep->version, p->now, err) != 0))
        return sf_err_wrap(err, "train: registering the version");
    return 0;
}

/* Finishes the run: metrics per row and stage, step durations, the report. */
static int step_report(pipeline *p, sf_train_report *rep, sf_err *err)
{
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
    cJSON *rj = sf_train_report_json(rep, p->opts);
    p->report_json = cJSON_PrintUnformatted(rj);
    cJSON_Delete(rj);
    sf_run_end end = {.ended = p->opts->now ? p->now : sf_wall_ms(),
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
                      .report_json = p->report_json};
    if (sf_registry_run_finish(p->reg, rep->run_id, &end, err) != 0)
        return sf_err_wrap(err, "train: finishing run %lld", (long long)rep->run_id);
    return 0;
}

typedef int (*step_fn)(pipeline *p, sf_train_report *rep, sf_err *err);

/* The steps in order, each timed into the report step it belongs to (the
 * report step "register" ends before the run is finished, which records it). */
static const struct {
    sf_train_step step;
    step_fn fn;
} STEPS[] = {
    {SF_STEP_FEATURES, step_features}, {SF_STEP_TRAIN, step_learners},
    {SF_STEP_EVALUATE, step_predict},  {SF_STEP_EVALUATE, step_champion},
    {SF_STEP_EVALUATE, step_evaluate}, {SF_STEP_EVALUATE, step_alert},
    {SF_STEP_GATE, step_gate},         {SF_STEP_REGISTER, step_artifact},
    {SF_STEP_REGISTER, step_register}, {SF_STEP_COUNT, step_report},
};

int sf_train_run(const sf_training_events *ev, sf_registry *reg, const sf_train_opts *opts,
                 sf_train_report *rep, sf_err *err)
{
    sf_train_opts def;
    if (!opts) {
        sf_train_opts_default(&def);
        opts = &def;
    }
    memset(rep, 0, sizeof *rep);
    rep->seconds[SF_STEP_INGEST] = opts->ingest_seconds;
    pipeline p = {.ev = ev, .reg = reg, .opts = opts, .t_start = sf_mono_s()};
    p.now = opts->now ? opts->now : sf_wall_ms();
    const sf_feature_spec *cand = sf_spec_by_name(opts->features ? opts->features : "full", err);
    if (!cand)
        return sf_err_wrap(err, "train");
    p.cand_seed = strcmp(cand->name, "seed") == 0;
    sf_spec_hash(cand, rep->spec_hash);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof STEPS / sizeof *STEPS; i++) {
        double t = sf_mono_s();
        rc = STEPS[i].fn(&p, rep, err);
        if (STEPS[i].step < SF_STEP_COUNT)
            rep->seconds[STEPS[i].step] += sf_mono_s() - t;
    }
    pipeline_free(&p);
    return rc == 0 ? 0 : -1;
}

int sf_train_rows_of_dataset(sf_examples *ex, const sf_dataset *ds, const sf_feature_spec *spec,
                             int64_t from, int64_t to, sf_history **hist_out, sf_err *err)
{
    sf_training_events ev = {0};
    memset(ex, 0, sizeof *ex);
    if (hist_out)
        *hist_out = NULL;
    if (sf_lifecycle_events_compact(ds, &ev.orders, &ev.n_orders, &ev.stages, &ev.n_stages,
                                    &ev.reviews, &ev.n_reviews, err) != 0)
        return -1;
    int rc = sf_training_rows_build(ex, &ev, spec, from, to, hist_out, err);
    sf_training_events_free(&ev);
    return rc;
}
