/*
 * model.c - one front for both learners (see satisfy/model.h):
 * training dispatch, the probability of a 1-2 star review, prediction,
 * reasons, and the scorer's one-event entry point.
 *
 * Probability: training fits both candidates, a second model on the binary
 * label (GBDT binary:logistic or L2 logistic regression) and a logistic
 * calibration p = sigmoid(a + b * score) of the score model fitted on the
 * validation rows, then keeps the one with the higher validation AUC (the
 * calibration's AUC is the score's own, since it is monotone). The unused
 * candidate is dropped so the artifact stays small.
 */
#include "model_impl.h"
#include "satisfy/evaluate.h"
#include "satisfy/clock.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const algo_names[SF_ALGO_COUNT] = {"ridge", "gbdt"};

const char *sf_algo_name(sf_algo a)
{
    return (unsigned)a < SF_ALGO_COUNT ? algo_names[a] : "?";
}

int sf_algo_parse(const char *name, sf_algo *out, sf_err *err)
{
    for (int i = 0; i < SF_ALGO_COUNT; i++)
        if (name && strcmp(name, algo_names[i]) == 0) {
            *out = (sf_algo)i;
            return 0;
        }
    return sf_errf(err, "unknown algorithm '%s' (expected gbdt or ridge)", name ? name : "(null)");
}

double sf_sigmoid(double z)
{
    if (z >= 0)
        return 1 / (1 + exp(-z));
    double e = exp(z);
    return e / (1 + e);
}

void sf_model_params_default(sf_model_params *p)
{
    memset(p, 0, sizeof *p);
    p->nthread = 2;
    p->max_depth = 4;
    p->eta = 0.1;
    p->rounds = 400;
    p->early_stopping = 30;
    p->min_child_weight = 5;
    p->subsample = 0.8;
    p->colsample = 0.8;
    p->reg_lambda = 1;
    p->max_bin = 256;
    p->seed = 42;
    p->prob = SF_PROB_AUTO;
    p->valid_frac = 0.15;
}

static const char *const prob_names[] = {"auto", "objective", "calibration"};

char *sf_model_params_json(const sf_model_params *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "nthread", p->nthread);
    cJSON_AddNumberToObject(o, "max_depth", p->max_depth);
    cJSON_AddNumberToObject(o, "eta", p->eta);
    cJSON_AddNumberToObject(o, "rounds", p->rounds);
    cJSON_AddNumberToObject(o, "early_stopping", p->early_stopping);
    cJSON_AddNumberToObject(o, "min_child_weight", p->min_child_weight);
    cJSON_AddNumberToObject(o, "subsample", p->subsample);
    cJSON_AddNumberToObject(o, "colsample_bytree", p->colsample);
    cJSON_AddNumberToObject(o, "reg_lambda", p->reg_lambda);
    cJSON_AddNumberToObject(o, "max_bin", p->max_bin);
    cJSON_AddNumberToObject(o, "seed", (double)p->seed);
    cJSON *g = cJSON_AddArrayToObject(o, "lambdas");
    for (int i = 0; g && i < p->n_lambdas && i < 16; i++)
        cJSON_AddItemToArray(g, cJSON_CreateNumber(p->lambdas[i]));
    cJSON_AddStringToObject(o, "prob", prob_names[p->prob <= SF_PROB_CALIBRATION ? p->prob : 0]);
    cJSON_AddNumberToObject(o, "valid_frac", p->valid_frac);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

sf_model *sf_model_alloc(void)
{
    sf_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->info.auc_objective = m->info.auc_calibration = NAN;
    m->info.valid_rmse = NAN;
    m->info.train_from = m->info.train_to = SF_TIME_NONE;
    m->cal_a = 0;
    m->cal_b = 0;
    return m;
}

void sf_model_free(sf_model *m)
{
    if (!m)
        return;
    free(m->metrics_json);
    sf_history_free(m->hist);
    sf_linear_free(m->lin);
    sf_linear_free(m->lin_p);
    free(m->ubj);
    free(m->ubj_p);
    free(m->tres);
    free(m->tres_p);
    sf_forest_free(m->forest);
    sf_forest_free(m->forest_p);
    free(m);
}

const sf_model_info *sf_model_get_info(const sf_model *m)
{
    return &m->info;
}

const sf_model_params *sf_model_get_params(const sf_model *m)
{
    return &m->params;
}

void sf_model_set_window(sf_model *m, int64_t train_from, int64_t train_to)
{
    m->info.train_from = train_from;
    m->info.train_to = train_to;
}

int sf_model_set_metrics(sf_model *m, const char *metrics_json, sf_err *err)
{
    char *c = NULL;
    if (metrics_json && !(c = strdup(metrics_json)))
        return sf_errf(err, "model: out of memory storing metrics");
    free(m->metrics_json);
    m->metrics_json = c;
    return 0;
}

const char *sf_model_metrics(const sf_model *m)
{
    return m->metrics_json;
}

int sf_model_set_history(sf_model *m, const sf_history *h, sf_err *err)
{
    uint8_t *buf;
    size_t len;
    if (sf_history_save(h, &buf, &len, err) < 0)
        return sf_err_wrap(err, "model: attaching history");
    sf_history *copy = sf_history_load(buf, len, err);
    free(buf);
    if (!copy)
        return sf_err_wrap(err, "model: attaching history");
    sf_history_free(m->hist);
    m->hist = copy;
    return 0;
}

const sf_history *sf_model_history(const sf_model *m)
{
    return m->hist;
}

/* Raw score (unclipped) of n rows. */
static void raw_scores(const sf_model *m, const float *x, size_t n, double *out)
{
    size_t d = (size_t)m->info.n_inputs;
    if (m->forest) {
        sf_forest_margin(m->forest, x, n, d, out);
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = sf_linear_margin(m->lin, x + i * d);
    }
}

static double clip(double s)
{
    return s < 1 ? 1 : s > 5 ? 5 : s;
}

/* p for n rows given their clipped scores. */
static void probs(const sf_model *m, const float *x, size_t n, const double *score, double *p)
{
    size_t d = (size_t)m->info.n_inputs;
    if (m->info.prob == SF_PROB_OBJECTIVE && m->forest_p) {
        sf_forest_margin(m->forest_p, x, n, d, p);
        for (size_t i = 0; i < n; i++)
            p[i] = sf_sigmoid(p[i]);
    } else if (m->info.prob == SF_PROB_OBJECTIVE && m->lin_p) {
        for (size_t i = 0; i < n; i++)
            p[i] = sf_sigmoid(sf_linear_margin(m->lin_p, x + i * d));
    } else {
        for (size_t i = 0; i < n; i++)
            p[i] = sf_sigmoid(m->cal_a + m->cal_b * score[i]);
    }
}

void sf_model_predict(const sf_model *m, const float *x, size_t n, double *score, double *p)
{
    raw_scores(m, x, n, score);
    for (size_t i = 0; i < n; i++)
        score[i] = clip(score[i]);
    if (p)
        probs(m, x, n, score, p);
}

/* name + suffix into r->feature, truncated like snprintf would. This runs
 * three times per scored event, on names of 5-30 bytes: one inline copy,
 * no format parsing and no strlen/memcpy calls. */
static void set_reason(sf_reason *r, const char *name, const char *suffix, double value, double c)
{
    const size_t cap = sizeof r->feature - 1;
    size_t n = 0;
    for (; n < cap && *name; n++)
        r->feature[n] = *name++;
    for (; n < cap && *suffix; n++)
        r->feature[n] = *suffix++;
    r->feature[n] = '\0';
    r->value = value;
    r->contribution = c;
}

/* Rows explained together: enough independent tree walks to overlap, and
 * their contributions (EXPLAIN_BLOCK x SF_SPEC_MAX_FEATURES doubles) stay
 * in L1. */
#define EXPLAIN_BLOCK 16

/* Top reasons of one row from its contributions (2 * d of them for ridge:
 * value then missing indicator): the SF_REASONS largest |c|, largest first,
 * the lower index first among equals; 0 and NaN never count. One pass that
 * keeps the three largest in locals, with no call per candidate: 1.47M ->
 * 1.62M rows/s in bench_predict. (Branch-free mask arithmetic measured
 * slower, 1.38M: it puts a serial chain of ~8 operations on every
 * contribution, where a compare that mostly fails is predicted.) */
_Static_assert(SF_REASONS == 3, "top_reasons keeps exactly three");
static int top_reasons(const sf_model *m, const float *row, const double *contrib, int nc,
                       sf_reason *r)
{
    int d = m->info.n_inputs;
    const sf_feature_def *defs = m->info.spec->defs;
    double a1 = 0, a2 = 0, a3 = 0;
    int i1 = -1, i2 = -1, i3 = -1;
    for (int j = 0; j < nc; j++) {
        double a = fabs(contrib[j]);
        int g1 = a > a1, g2 = a > a2, g3 = a > a3;
        a3 = g2 ? a2 : g3 ? a : a3;
        i3 = g2 ? i2 : g3 ? j : i3;
        a2 = g1 ? a1 : g2 ? a : a2;
        i2 = g1 ? i1 : g2 ? j : i2;
        a1 = g1 ? a : a1;
        i1 = g1 ? j : i1;
    }
    const int idx[SF_REASONS] = {i1, i2, i3};
    int n = 0;
    for (; n < SF_REASONS && idx[n] >= 0; n++) {
        int j = idx[n];
        if (j < d)
            set_reason(&r[n], defs[j].name, "", row[j], contrib[j]);
        else
            set_reason(&r[n], defs[j - d].name, "_missing", isnan(row[j - d]) ? 1 : 0, contrib[j]);
    }
    return n;
}

void sf_model_explain(const sf_model *m, const float *x, size_t n, double *score, double *p,
                      sf_reason *reasons, int *n_reasons)
{
    int d = m->info.n_inputs;
    double contrib[EXPLAIN_BLOCK * 2 * SF_SPEC_MAX_FEATURES];
    for (size_t b = 0; b < n; b += EXPLAIN_BLOCK) {
        size_t k = n - b < EXPLAIN_BLOCK ? n - b : EXPLAIN_BLOCK;
        const float *xb = x + b * (size_t)d;
        if (m->forest) {
            sf_forest_contrib_block(m->forest, xb, k, (size_t)d, score + b, contrib);
            for (size_t i = 0; i < k; i++)
                n_reasons[b + i] = top_reasons(m, xb + i * (size_t)d, contrib + i * (size_t)d, d,
                                               reasons + (b + i) * SF_REASONS);
        } else {
            for (size_t i = 0; i < k; i++) {
                const float *row = xb + i * (size_t)d;
                sf_linear_contrib(m->lin, row, contrib, contrib + d);
                score[b + i] = sf_linear_margin(m->lin, row);
                n_reasons[b + i] =
                    top_reasons(m, row, contrib, 2 * d, reasons + (b + i) * SF_REASONS);
            }
        }
        for (size_t i = 0; i < k; i++)
            score[b + i] = clip(score[b + i]);
        if (p)
            probs(m, xb, k, score + b, p + b);
    }
}

void sf_model_contributions(const sf_model *m, const float *row, double *contrib, double *bias)
{
    int d = m->info.n_inputs;
    if (m->forest) {
        double margin;
        sf_forest_contrib_block(m->forest, row, 1, (size_t)d, &margin, contrib);
        *bias = m->forest->bias;
    } else {
        double ind[SF_SPEC_MAX_FEATURES];
        sf_linear_contrib(m->lin, row, contrib, ind);
        double b = m->lin->intercept;
        for (int j = 0; j < d; j++) {
            contrib[j] += ind[j];
            /* the indicator's constant part for a present value is its own
             * contribution too (it is not centred at 0 per row) */
        }
        *bias = b;
    }
}

int sf_model_probe(const sf_model *m, sf_err *err)
{
    static const char *const what[3] = {"zeros", "missing values", "ones"};
    size_t d = (size_t)m->info.n_inputs;
    float rows[3 * SF_SPEC_MAX_FEATURES];
    for (size_t j = 0; j < d; j++) {
        rows[j] = 0;
        rows[d + j] = NAN;
        rows[2 * d + j] = 1;
    }
    double s[3], p[3];
    sf_reason r[3 * SF_REASONS];
    int nr[3];
    sf_model_explain(m, rows, 3, s, p, r, nr);
    for (int i = 0; i < 3; i++) {
        int ok = s[i] >= 1 && s[i] <= 5 && p[i] >= 0 && p[i] <= 1;
        for (int k = 0; k < nr[i]; k++)
            ok &= isfinite(r[i * SF_REASONS + k].contribution);
        if (!ok)
            return sf_errf(err,
                           "model probe: a row of %s scores %g with p %g (or a non-finite "
                           "reason): the model does not yield numbers in range",
                           what[i], s[i], p[i]);
    }
    return 0;
}

int sf_model_predict_xgboost(const sf_model *m, const float *x, size_t n, float *out, sf_err *err)
{
    if (!m->ubj)
        return sf_errf(err,
                       "predict with xgboost: no XGBoost booster (a %s model, or a loaded one: "
                       "artifacts carry only our forest)",
                       sf_algo_name(m->info.algo));
    return sf_gbdt_xgb_predict(m->ubj, m->ubj_len, x, n, (size_t)m->info.n_inputs,
                               m->params.nthread, out, err);
}

const uint8_t *sf_model_xgb_payload(const sf_model *m, size_t *len)
{
    *len = m->ubj_len;
    return m->ubj;
}

int sf_model_n_inputs(const sf_model *m)
{
    return m->info.n_inputs;
}

void sf_model_prepare_event(const sf_model *m, const sf_order_event *ev, sf_prediction *out,
                            float *row)
{
    sf_model_prepare_event_with(m, m->hist, ev, out, row);
}

void sf_model_prepare_event_with(const sf_model *m, const sf_history *hist,
                                 const sf_order_event *ev, sf_prediction *out, float *row)
{
    sf_features_compute(m->info.spec, ev, hist, row);
    memset(out, 0, sizeof *out);
    memcpy(out->order_id, ev->order_id, sizeof out->order_id);
    sf_event_id(ev, out->event_id, sizeof out->event_id);
    out->stage = ev->stage;
    out->event_time = ev->event_time;
}

void sf_model_score_rows(const sf_model *m, const float *rows, size_t n, sf_prediction *out)
{
    double score[EXPLAIN_BLOCK], p[EXPLAIN_BLOCK];
    sf_reason reasons[EXPLAIN_BLOCK * SF_REASONS];
    int nr[EXPLAIN_BLOCK];
    size_t d = (size_t)m->info.n_inputs;
    for (size_t b = 0; b < n; b += EXPLAIN_BLOCK) {
        size_t k = n - b < EXPLAIN_BLOCK ? n - b : EXPLAIN_BLOCK;
        sf_model_explain(m, rows + b * d, k, score, p, reasons, nr);
        for (size_t i = 0; i < k; i++) {
            sf_prediction *o = &out[b + i];
            o->score = score[i];
            o->p_dissatisfied = p[i];
            o->n_reasons = nr[i];
            memcpy(o->reasons, reasons + i * SF_REASONS, sizeof o->reasons);
        }
    }
}

void sf_model_score_event(const sf_model *m, const sf_order_event *ev, sf_prediction *out)
{
    float row[SF_SPEC_MAX_FEATURES];
    sf_model_prepare_event(m, ev, out, row);
    sf_model_score_rows(m, row, 1, out);
}

/* ---- training ---- */

/* Logistic calibration p = sigmoid(a + b s) by Newton's method (2x2). */
static void fit_calibration(const double *s, const float *label, size_t n, double *a, double *b)
{
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += label[i] <= 2;
    double prior = ((double)pos + 0.5) / ((double)n + 1);
    *a = log(prior / (1 - prior));
    *b = 0;
    for (int it = 0; it < 50; it++) {
        double g0 = 0, g1 = 0, h00 = 1e-9, h01 = 0, h11 = 1e-9;
        for (size_t i = 0; i < n; i++) {
            double mu = sf_sigmoid(*a + *b * s[i]);
            double y = label[i] <= 2 ? 1 : 0, w = mu * (1 - mu);
            g0 += y - mu;
            g1 += (y - mu) * s[i];
            h00 += w;
            h01 += w * s[i];
            h11 += w * s[i] * s[i];
        }
        double det = h00 * h11 - h01 * h01;
        if (!(fabs(det) > 1e-12))
            break;
        double da = (h11 * g0 - h01 * g1) / det, db = (h00 * g1 - h01 * g0) / det;
        *a += da;
        *b += db;
        if (fabs(da) + fabs(db) < 1e-10)
            break;
    }
}

static double auc_of(const double *score, const float *label, size_t n)
{
    unsigned char *pos = malloc(n ? n : 1);
    if (!pos)
        return NAN;
    for (size_t i = 0; i < n; i++)
        pos[i] = label[i] <= 2;
    double auc = NAN;
    if (sf_auc(score, pos, n, &auc, NULL) < 0)
        auc = NAN;
    free(pos);
    return auc;
}

int sf_model_train(sf_algo algo, const sf_examples *train, const sf_examples *valid,
                   const sf_model_params *params, sf_model **out, sf_err *err)
{
    double t0 = sf_mono_s();
    sf_model_params p;
    if (params)
        p = *params;
    else
        sf_model_params_default(&p);
    if ((unsigned)algo >= SF_ALGO_COUNT)
        return sf_errf(err, "train: unknown algorithm %d", (int)algo);
    if (!train->spec || train->d != (size_t)train->spec->n)
        return sf_errf(err, "train: rows do not follow a feature spec");
    if (valid && valid->n > 0 && (valid->spec != train->spec || valid->d != train->d))
        return sf_errf(err, "train: validation rows use spec '%s', training rows '%s'",
                       valid->spec ? valid->spec->name : "?", train->spec->name);
    if (train->n < 10)
        return sf_errf(err, "train: need at least 10 training rows (got %zu)", train->n);

    sf_examples own_tr = {0}, own_va = {0};
    const sf_examples *tr = train, *va = valid;
    if (!valid) {
        double f = p.valid_frac > 0 && p.valid_frac < 1 ? p.valid_frac : 0.15;
        if (sf_examples_time_split(train, f, &own_tr, &own_va, err) == SF_TIME_NONE)
            return sf_err_wrap(err, "train: carving the validation slice");
        tr = &own_tr;
        va = &own_va;
    }
    sf_model *m = sf_model_alloc();
    double *s = NULL, *po = NULL;
    if (!m) {
        sf_errf(err, "train: out of memory");
        goto fail;
    }
    m->params = p;
    m->params.release_train_rows = 0;
    m->info.algo = algo;
    m->info.spec = train->spec;
    sf_spec_hash(train->spec, m->info.spec_hash);
    m->info.n_inputs = train->spec->n;
    m->info.n_train = tr->n;
    m->info.n_valid = va ? va->n : 0;
    m->info.lambda = NAN;
    int want_obj = p.prob != SF_PROB_CALIBRATION;
    if (algo == SF_ALGO_RIDGE) {
        if (sf_ridge_fit(tr, va, &p, &m->lin, err) < 0)
            goto fail;
        m->info.lambda = m->lin->lambda;
        if (want_obj && sf_logit_fit(tr, m->lin->lambda, &m->lin_p, err) < 0)
            goto fail;
    } else {
        /* both objectives learn from one quantile matrix (sf_gbdt_fit); the
         * forest is read back from the section the artifact ships, so a
         * trained model and its loaded copy are the same trees */
        uint8_t *ubj[2] = {NULL, NULL};
        size_t len[2] = {0, 0};
        int rounds[2] = {0, 0};
        /* the calibration below reads the validation rows, or the training
         * rows when there are none: then they stay */
        p.release_train_rows = p.release_train_rows && va && va->n > 0;
        if (sf_gbdt_fit(tr, va, &p, want_obj ? 2 : 1, ubj, len, rounds, err) < 0)
            goto fail;
        m->ubj = ubj[0], m->ubj_len = len[0], m->info.rounds = rounds[0];
        m->ubj_p = ubj[1], m->ubj_p_len = len[1];
        if (sf_gbdt_trees(m->ubj, m->ubj_len, m->info.n_inputs, &m->tres, &m->tres_len, err) < 0 ||
            !(m->forest = sf_forest_read(m->tres, m->tres_len, m->info.n_inputs, 0, err)))
            goto fail;
        if (want_obj &&
            (sf_gbdt_trees(m->ubj_p, m->ubj_p_len, m->info.n_inputs, &m->tres_p, &m->tres_p_len,
                           err) < 0 ||
             !(m->forest_p = sf_forest_read(m->tres_p, m->tres_p_len, m->info.n_inputs, 1, err))))
            goto fail;
    }
    /* probability: calibration on the validation rows (training rows if none) */
    const sf_examples *cal = va && va->n > 0 ? va : tr;
    s = malloc(cal->n * sizeof *s);
    po = malloc(cal->n * sizeof *po);
    if (!s || !po) {
        sf_errf(err, "train: out of memory");
        goto fail;
    }
    m->info.prob = SF_PROB_CALIBRATION;
    sf_model_predict(m, cal->x, cal->n, s, NULL);
    double se = 0;
    for (size_t i = 0; i < cal->n; i++)
        se += (s[i] - cal->label[i]) * (s[i] - cal->label[i]);
    m->info.valid_rmse = sqrt(se / (double)cal->n);
    fit_calibration(s, cal->label, cal->n, &m->cal_a, &m->cal_b);
    probs(m, cal->x, cal->n, s, po);
    m->info.auc_calibration = auc_of(po, cal->label, cal->n);
    if (want_obj) {
        m->info.prob = SF_PROB_OBJECTIVE;
        probs(m, cal->x, cal->n, s, po);
        m->info.auc_objective = auc_of(po, cal->label, cal->n);
        int keep_obj =
            p.prob == SF_PROB_OBJECTIVE ||
            (m->info.auc_objective > m->info.auc_calibration || isnan(m->info.auc_calibration));
        m->info.prob = keep_obj ? SF_PROB_OBJECTIVE : SF_PROB_CALIBRATION;
        if (!keep_obj) {
            sf_linear_free(m->lin_p);
            m->lin_p = NULL;
            sf_forest_free(m->forest_p);
            m->forest_p = NULL;
            free(m->ubj_p);
            m->ubj_p = NULL;
            m->ubj_p_len = 0;
            free(m->tres_p);
            m->tres_p = NULL;
            m->tres_p_len = 0;
        }
    }
    free(s);
    free(po);
    sf_examples_free(&own_tr);
    sf_examples_free(&own_va);
    m->info.train_seconds = sf_mono_s() - t0;
    *out = m;
    return 0;
fail:
    free(s);
    free(po);
    sf_examples_free(&own_tr);
    sf_examples_free(&own_va);
    sf_model_free(m);
    return sf_err_wrap(err, "train %s", sf_algo_name(algo));
}
