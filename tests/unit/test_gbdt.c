/*
 * test_gbdt.c - the XGBoost learner and our own trees: our predictions equal
 * XGBoost's (1e-5, missing values included), path attributions sum to the
 * prediction, reasons are the largest contributions (the same whether rows
 * are explained together or one by one), the integer keys the trees
 * compare order floats exactly as float compares do, early stopping works,
 * the probability method is chosen and recorded, and on the real sample
 * (OLIST_DIR) the delivered-stage model beats the mean; the quantile
 * matrix fed in small batches that hand their pages back as it is built
 * learns the same trees as one batch.
 */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"
#include "satisfy/evaluate.h"
#include "satisfy/model.h"

static sf_model *train_synth(sf_examples *ex, size_t n, double noise, sf_model_params *p)
{
    tu_synth_examples(ex, n, noise);
    sf_model *m = NULL;
    sf_err err;
    int rc = sf_model_train(SF_ALGO_GBDT, ex, NULL, p, &m, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    return m;
}

/* Our trees give XGBoost's predictions on te (1e-5), and each row's
 * attributions plus the bias give its raw prediction. */
static void check_against_xgboost(const sf_model *m, const sf_examples *te)
{
    float *ref = malloc(te->n * sizeof *ref);
    double *s = malloc(te->n * sizeof *s);
    double contrib[12];
    sf_err err;
    assert_int_equal(sf_model_predict_xgboost(m, te->x, te->n, ref, &err), 0);
    sf_model_predict(m, te->x, te->n, s, NULL);
    size_t differ = 0;
    for (size_t i = 0; i < te->n; i++) {
        double r = ref[i] < 1 ? 1 : ref[i] > 5 ? 5 : ref[i];
        if (fabs(s[i] - r) > 1e-5)
            differ++;
        double bias, sum = 0;
        sf_model_contributions(m, te->x + i * 12, contrib, &bias);
        for (int j = 0; j < 12; j++)
            sum += contrib[j];
        assert_true(fabs(bias + sum - ref[i]) < 1e-4);
    }
    assert_int_equal(differ, 0);
    free(ref);
    free(s);
}

static void test_trees_match_xgboost(void **state)
{
    (void)state;
    sf_examples ex, te;
    sf_model *m = train_synth(&ex, 4000, 0.5, NULL);
    tu_synth_examples(&te, 2000, 0.5);
    for (size_t i = 0; i < te.n; i += 7) /* more missing values, in every column */
        te.x[i * 12 + i % 12] = NAN;
    double *contrib = malloc(12 * sizeof *contrib);
    const sf_model_info *in = sf_model_get_info(m);
    assert_true(in->rounds > 5);
    check_against_xgboost(m, &te);
    /* the informative inputs get most of the credit */
    double tot[12] = {0};
    for (size_t i = 0; i < te.n; i++) {
        double bias;
        sf_model_contributions(m, te.x + i * 12, contrib, &bias);
        for (int j = 0; j < 12; j++)
            tot[j] += fabs(contrib[j]);
    }
    for (int j = 3; j < 12; j++)
        assert_true(tot[0] > 3 * tot[j] && tot[1] > 2 * tot[j]);
    free(contrib);
    sf_model_free(m);
    sf_examples_free(&ex);
    sf_examples_free(&te);
}

/* Deep trees whose leaves sit at many depths (a large min_child_weight
 * stops some branches early): the level-by-level walk, where a leaf loops
 * to itself until the tree's depth, must still land on XGBoost's leaves. */
static void test_unbalanced_trees_match_xgboost(void **state)
{
    (void)state;
    sf_model_params p;
    sf_model_params_default(&p);
    p.max_depth = 9;
    p.min_child_weight = 40;
    p.rounds = 40;
    sf_examples ex, te;
    sf_model *m = train_synth(&ex, 4000, 0.5, &p);
    tu_synth_examples(&te, 1000, 0.5);
    for (size_t i = 0; i < te.n; i += 5)
        te.x[i * 12 + i % 12] = NAN;
    check_against_xgboost(m, &te);
    sf_model_free(m);
    sf_examples_free(&ex);
    sf_examples_free(&te);
}

/* Inputs on a grid of 0.25 (missing ones too): XGBoost's thresholds are
 * grid values, so rows exactly at a threshold, one float below and one
 * above it must each take XGBoost's way, for both default directions. */
static void to_grid(sf_examples *ex)
{
    for (size_t i = 0; i < ex->n * 12; i++)
        ex->x[i] = roundf(ex->x[i] * 4) / 4;
    for (size_t i = 0; i < ex->n; i += 9)
        ex->x[i * 12 + (i / 9) % 12] = NAN;
}

static void test_trees_at_thresholds(void **state)
{
    (void)state;
    sf_examples ex, te;
    tu_synth_examples(&ex, 4000, 0.5);
    to_grid(&ex);
    sf_model *m = NULL;
    sf_err err;
    if (sf_model_train(SF_ALGO_GBDT, &ex, NULL, NULL, &m, &err) != 0)
        fail_msg("%s", err.msg);
    tu_synth_examples(&te, 3000, 0.5);
    to_grid(&te);
    for (size_t i = 0; i < te.n; i++)
        for (size_t j = 0; j < 12; j++) {
            float *v = &te.x[i * 12 + j];
            if ((i + j) % 3 == 1)
                *v = nextafterf(*v, -INFINITY);
            else if ((i + j) % 3 == 2)
                *v = nextafterf(*v, INFINITY);
        }
    check_against_xgboost(m, &te);
    sf_model_free(m);
    sf_examples_free(&ex);
    sf_examples_free(&te);
}

static void test_reasons(void **state)
{
    (void)state;
    sf_examples ex, te;
    sf_model *m = train_synth(&ex, 3000, 0.3, NULL);
    tu_synth_examples(&te, 200, 0.3);
    double *s = malloc(te.n * sizeof *s), *p = malloc(te.n * sizeof *p);
    double *s2 = malloc(te.n * sizeof *s2), *p2 = malloc(te.n * sizeof *p2);
    sf_reason *r = malloc(te.n * SF_REASONS * sizeof *r);
    int *nr = malloc(te.n * sizeof *nr);
    sf_model_explain(m, te.x, te.n, s, p, r, nr);
    sf_model_predict(m, te.x, te.n, s2, p2);
    double contrib[12], bias;
    for (size_t i = 0; i < te.n; i++) {
        assert_true(s[i] == s2[i] && p[i] == p2[i]);
        assert_true(p[i] >= 0 && p[i] <= 1);
        assert_true(nr[i] >= 1 && nr[i] <= SF_REASONS);
        sf_model_contributions(m, te.x + i * 12, contrib, &bias);
        for (int k = 0; k < nr[i]; k++) {
            const sf_reason *q = &r[i * SF_REASONS + k];
            int j = sf_spec_index(sf_spec_seed(), q->feature);
            assert_true(j >= 0);
            assert_true(fabs(contrib[j] - q->contribution) < 1e-12);
            assert_true(isnan(q->value) ? isnan(te.x[i * 12 + j]) : q->value == te.x[i * 12 + j]);
            if (k > 0)
                assert_true(fabs(q->contribution) <= fabs(r[i * SF_REASONS + k - 1].contribution));
            /* nothing outside the top is larger */
            for (int o = 0; o < 12; o++) {
                int in_top = 0;
                for (int t = 0; t < nr[i]; t++)
                    in_top |= sf_spec_index(sf_spec_seed(), r[i * SF_REASONS + t].feature) == o;
                if (!in_top)
                    assert_true(fabs(contrib[o]) <=
                                fabs(r[i * SF_REASONS + nr[i] - 1].contribution));
            }
        }
    }
    /* one row at a time gives exactly what the blocked walk over all rows gave */
    for (size_t i = 0; i < te.n; i++) {
        double s1, p1;
        sf_reason r1[SF_REASONS];
        int n1;
        sf_model_explain(m, te.x + i * 12, 1, &s1, &p1, r1, &n1);
        assert_true(s1 == s[i] && p1 == p[i]);
        assert_int_equal(n1, nr[i]);
        for (int k = 0; k < n1; k++) {
            assert_string_equal(r1[k].feature, r[i * SF_REASONS + k].feature);
            assert_true(r1[k].contribution == r[i * SF_REASONS + k].contribution);
        }
    }
    /* a row with a high x0 is pushed up by payment_sequential */
    float row[12] = {1.9f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    sf_model_explain(m, row, 1, s, p, r, nr);
    assert_string_equal(r[0].feature, "payment_sequential");
    assert_true(r[0].contribution > 0);
    row[0] = -1.9f;
    sf_model_explain(m, row, 1, s, p, r, nr);
    assert_string_equal(r[0].feature, "payment_sequential");
    assert_true(r[0].contribution < 0);
    free(s), free(p), free(s2), free(p2), free(r), free(nr);
    sf_model_free(m);
    sf_examples_free(&ex);
    sf_examples_free(&te);
}

static void test_early_stopping_and_prob(void **state)
{
    (void)state;
    sf_model_params p;
    sf_model_params_default(&p);
    p.rounds = 300;
    p.eta = 0.3;
    p.early_stopping = 5;
    sf_examples ex;
    sf_model *m = train_synth(&ex, 2000, 1.0, &p);
    const sf_model_info *in = sf_model_get_info(m);
    assert_true(in->rounds > 0 && in->rounds < 300);
    assert_true(in->prob == SF_PROB_OBJECTIVE || in->prob == SF_PROB_CALIBRATION);
    assert_false(isnan(in->auc_objective));
    assert_false(isnan(in->auc_calibration));
    double best = in->auc_objective > in->auc_calibration ? in->auc_objective : in->auc_calibration;
    assert_true((in->prob == SF_PROB_OBJECTIVE ? in->auc_objective : in->auc_calibration) == best);
    assert_true(best > 0.75);
    assert_true(in->n_valid > 0 && in->n_train + in->n_valid == ex.n);
    sf_model_free(m);
    sf_examples_free(&ex);

    /* forced calibration: p falls as the score rises */
    p.prob = SF_PROB_CALIBRATION;
    m = train_synth(&ex, 2000, 0.5, &p);
    assert_int_equal(sf_model_get_info(m)->prob, SF_PROB_CALIBRATION);
    assert_true(isnan(sf_model_get_info(m)->auc_objective));
    float rows[24] = {0};
    rows[0] = -1.9f;
    rows[12] = 1.9f;
    double s[2], pr[2];
    sf_model_predict(m, rows, 2, s, pr);
    assert_true(s[0] < s[1] && pr[0] > pr[1]);
    sf_model_free(m);
    sf_examples_free(&ex);

    sf_err err;
    tu_synth_examples(&ex, 5, 0.5);
    assert_int_equal(sf_model_train(SF_ALGO_GBDT, &ex, NULL, NULL, &m, &err), -1);
    assert_non_null(strstr(err.msg, "at least 10 training rows"));
    assert_int_equal(sf_algo_parse("forest", &(sf_algo){0}, &err), -1);
    assert_non_null(strstr(err.msg, "unknown algorithm 'forest'"));
    sf_examples_free(&ex);
}

/* Batches of 333 rows whose pages go once the histogram index holds them
 * (the column pass reading presence notes): the same trees as one batch. */
static void test_batched_release_same_trees(void **state)
{
    (void)state;
    sf_examples a, b, te;
    sf_model_params p;
    sf_model_params_default(&p);
    tu_synth_examples(&a, 4000, 0.5);
    tu_synth_examples(&b, 4000, 0.5); /* the same rows as a */
    memcpy(b.x, a.x, a.n * a.d * sizeof *a.x);
    memcpy(b.label, a.label, a.n * sizeof *a.label);
    for (size_t i = 0; i < a.n; i += 3) /* missing cells in every column */
        a.x[i * 12 + i % 12] = b.x[i * 12 + i % 12] = NAN;
    for (size_t i = 0; i < a.n; i++) /* one column mostly missing */
        if (i % 10)
            a.x[i * 12 + 11] = b.x[i * 12 + 11] = NAN;
    sf_examples fa, va, fb, vb; /* training = [fit | valid], as train.c views them */
    sf_examples_view(&a, 0, 3400, &fa);
    sf_examples_view(&a, 3400, 600, &va);
    sf_examples_view(&b, 0, 3400, &fb);
    sf_examples_view(&b, 3400, 600, &vb);
    sf_model *ma = NULL, *mb = NULL;
    sf_err err;
    assert_int_equal(sf_model_train(SF_ALGO_GBDT, &fa, &va, &p, &ma, &err), 0);
    p.quantile_batch_rows = 333;
    p.release_train_rows = 1;
    assert_int_equal(sf_model_train(SF_ALGO_GBDT, &fb, &vb, &p, &mb, &err), 0);
    /* the fit rows' pages went: their cells read as zeros */
    size_t zeros = 0;
    for (size_t i = 0; i < 2000 * 12; i++)
        zeros += b.x[i] == 0.0f;
    if (p.release_train_rows)
        assert_true(zeros > 1000 * 12);
    assert_int_equal(sf_model_get_info(ma)->rounds, sf_model_get_info(mb)->rounds);
    tu_synth_examples(&te, 2000, 0.5);
    for (size_t i = 0; i < te.n; i += 4)
        te.x[i * 12 + i % 12] = NAN;
    double *sa = malloc(te.n * sizeof *sa), *sb = malloc(te.n * sizeof *sb);
    double *pa = malloc(te.n * sizeof *pa), *pb = malloc(te.n * sizeof *pb);
    sf_model_predict(ma, te.x, te.n, sa, pa);
    sf_model_predict(mb, te.x, te.n, sb, pb);
    assert_memory_equal(sa, sb, te.n * sizeof *sa);
    assert_memory_equal(pa, pb, te.n * sizeof *pa);
    free(sa), free(sb), free(pa), free(pb);
    sf_model_free(ma);
    sf_model_free(mb);
    sf_examples_free(&a);
    sf_examples_free(&b);
    sf_examples_free(&te);
}

/* Real sample: time-ordered 80/20 split, delivered stage beats the mean. */
static void test_real_sample(void **state)
{
    (void)state;
    const char *dir = tu_olist_dir();
    if (!dir)
        return; /* the synthetic tests above cover the learner */
    sf_dataset ds;
    sf_examples ex, tr, ho;
    tu_real_examples(dir, &ds, &ex, NULL);
    sf_err err;
    assert_true(sf_examples_time_split(&ex, 0.2, &tr, &ho, &err) != SF_TIME_NONE);
    sf_model *m;
    assert_int_equal(sf_model_train(SF_ALGO_GBDT, &tr, NULL, NULL, &m, &err), 0);
    size_t *idx, n = sf_examples_stage_rows(&ho, SF_STAGE_DELIVERED, &idx);
    assert_true(n > 1000);
    double *lab = malloc(n * sizeof *lab), *s = malloc(n * sizeof *s), *p = malloc(n * sizeof *p);
    double *ps = malloc(n * sizeof *ps), *mean = malloc(n * sizeof *mean);
    float *rows = malloc(n * ex.d * sizeof *rows);
    double mu = 0;
    for (size_t i = 0; i < tr.n; i++)
        mu += tr.label[i];
    mu /= (double)tr.n;
    for (size_t i = 0; i < n; i++) {
        memcpy(rows + i * ex.d, ho.x + idx[i] * ex.d, ex.d * sizeof *rows);
        lab[i] = ho.label[idx[i]];
        mean[i] = mu;
    }
    sf_model_predict(m, rows, n, s, p);
    sf_metrics mg, mm;
    assert_int_equal(sf_metrics_compute(lab, s, p, n, &mg, &err), 0);
    assert_int_equal(sf_metrics_compute(lab, mean, NULL, n, &mm, &err), 0);
    print_message("delivered: gbdt rmse %.4f auc %.4f, mean rmse %.4f (n %zu, %d rounds)\n",
                  mg.rmse, mg.auc, mm.rmse, n, sf_model_get_info(m)->rounds);
    assert_true(mg.rmse < mm.rmse);
    assert_true(mg.auc > 0.62);
    (void)ps;
    free(lab), free(s), free(p), free(ps), free(mean), free(rows), free(idx);
    sf_model_free(m);
    sf_examples_free(&ex);
    sf_examples_free(&tr);
    sf_examples_free(&ho);
    sf_dataset_free(&ds);
}

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* The trees compare sf_tkey(x) >= key(threshold) where XGBoost compares
 * !(x < threshold): the keys must order every pair of floats as < and ==
 * do (-0 equals +0), and put a missing value above every number with room
 * for the +1 of the missing-goes-left keys. */
static void test_tree_keys(void **state)
{
    (void)state;
    const float up[] = {-INFINITY, -FLT_MAX,     -1.5f,   -FLT_MIN, -FLT_TRUE_MIN, -0.0f,
                        0.0f,      FLT_TRUE_MIN, FLT_MIN, 1.0f,     FLT_MAX,       INFINITY};
    const size_t n = sizeof up / sizeof up[0];
    for (size_t i = 0; i + 1 < n; i++)
        if (up[i] == up[i + 1])
            assert_true(sf_tkey(up[i]) == sf_tkey(up[i + 1]));
        else
            assert_true(sf_tkey(up[i]) < sf_tkey(up[i + 1]));
    assert_true(sf_tkey(INFINITY) < UINT32_MAX - 1);
    assert_true(sf_tkey(-INFINITY) + 1 > 0);
    assert_true(sf_tkey(NAN) == UINT32_MAX);
    assert_true(sf_tkey(-NAN) == UINT32_MAX);
    assert_true(sf_tkey(from_bits(0x7f800001u)) == UINT32_MAX); /* a signalling NaN */
    uint64_t r = 88172645463325252ULL;
    size_t pairs = 0;
    while (pairs < 200000) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        float a = from_bits((uint32_t)r), b = from_bits((uint32_t)(r >> 32));
        if (isnan(a) || isnan(b))
            continue;
        if ((r & 0xff) == 0)
            b = a; /* equal values too */
        assert_true((a < b) == (sf_tkey(a) < sf_tkey(b)));
        assert_true((a == b) == (sf_tkey(a) == sf_tkey(b)));
        pairs++;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trees_match_xgboost),
        cmocka_unit_test(test_unbalanced_trees_match_xgboost),
        cmocka_unit_test(test_trees_at_thresholds),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_tree_keys),
        cmocka_unit_test(test_early_stopping_and_prob),
        cmocka_unit_test(test_batched_release_same_trees),
        cmocka_unit_test(test_real_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
