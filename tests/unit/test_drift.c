/*
 * test_drift.c - drift detection: the PSI and the bins against hand-computed
 * values, the training profile's JSON through a release's metrics and back,
 * a scorer's sliding window (drift.h), the Page-Hinkley detector (a step
 * fires within a bound, a stationary stream stays quiet), and the offline
 * replay of the real sample in time order (OLIST_DIR; skipped without it):
 * a model trained on the older half scores the newer half's delivered-stage
 * rows, their absolute errors go through the detector in event-time order;
 * unchanged, the sample raises at most SAMPLE_MAX_ALARMS alarms; with the
 * delivery times doubled from a date, the detector fires within
 * INJECT_MAX_DELAY delivered orders of it and the delivery features' PSI
 * passes SF_DRIFT_PSI_ALARM. The scorer's PSI message of that replay is read
 * as the retrainer does for input drift alarms (drift_detect.h), counted; and
 * the alarm rule itself: watched features only, at the threshold. The
 * figures go to docs/model.md ("Drift").
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "satisfy/drift.h"
#include "satisfy/drift_detect.h"
#include "satisfy/drift_profile.h"
#include "satisfy/model.h"
#include "satisfy/olist.h"
#include "satisfy/train.h"
#include "satisfy/training_rows.h"

#define SAMPLE_MAX_ALARMS 3
#define INJECT_MAX_DELAY  1500

static void test_psi_hand_computed(void **state)
{
    (void)state;
    double e[2] = {0.5, 0.5}, a[2] = {0.7, 0.3};
    /* (0.7-0.5) ln(0.7/0.5) + (0.3-0.5) ln(0.3/0.5) = 0.2*0.336472 + 0.2*0.510826 */
    assert_true(fabs(sf_drift_psi(e, a, 2, SF_DRIFT_EPS) - 0.1694596) < 1e-6);
    assert_true(fabs(sf_drift_psi(e, e, 2, SF_DRIFT_EPS)) < 1e-12);
    /* an empty live bin counts as eps: (1e-4 - 0.5) ln(1e-4/0.5) + (0.9999 - 0.5) ln(0.9999/0.5) */
    double one[2] = {0, 1};
    double want = (1e-4 - 0.5) * log(1e-4 / 0.5) + (1 - 0.5) * log(1 / 0.5);
    assert_true(fabs(sf_drift_psi(e, one, 2, SF_DRIFT_EPS) - want) < 1e-9);
    assert_true(isfinite(sf_drift_psi(one, e, 2, SF_DRIFT_EPS)));
    uint32_t c[3] = {7, 3, 0};
    double e3[3] = {0.5, 0.5, 0};
    assert_true(fabs(sf_drift_psi_counts(e3, c, 3, SF_DRIFT_EPS) - 0.1694596) < 1e-6);
    uint32_t z[3] = {0, 0, 0};
    assert_true(isnan(sf_drift_psi_counts(e3, z, 3, SF_DRIFT_EPS)));
}

static const sf_feature_def defs[] = {{"x", SF_STAGE_PURCHASED, "test"},
                                      {"flag", SF_STAGE_PURCHASED, "test"}};
static const sf_feature_spec spec2 = {"test", 1, 2, defs, 0};

static void test_profile_bins(void **state)
{
    (void)state;
    /* x = 1..100 (every 10th missing), flag = 1 for 5 rows of 100 */
    float x[200];
    for (int i = 0; i < 100; i++) {
        x[2 * i] = i % 10 == 9 ? NAN : (float)(i + 1);
        x[2 * i + 1] = i < 5 ? 1.0f : 0.0f;
    }
    sf_drift_profile p;
    sf_err err;
    assert_int_equal(sf_drift_profile_build(&spec2, x, 100, 2, &p, &err), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.f[0].name, "x");
    /* 90 values: edges at sorted[9k] */
    assert_int_equal(p.f[0].n_edges, 9);
    assert_true(p.f[0].edges[0] == 11.0f); /* the values: 1..9, 11..19, ... */
    assert_true(fabs(p.f[0].shares[sf_drift_n_bins(&p.f[0]) - 1] - 0.1) < 1e-12);
    double sum = 0;
    for (int b = 0; b < sf_drift_n_bins(&p.f[0]); b++)
        sum += p.f[0].shares[b];
    assert_true(fabs(sum - 1) < 1e-9);
    /* a 0/1 feature mostly 0: one edge at 0, bins {<= 0, > 0, missing} */
    assert_int_equal(p.f[1].n_edges, 1);
    assert_true(p.f[1].edges[0] == 0.0f);
    assert_true(fabs(p.f[1].shares[0] - 0.95) < 1e-12);
    assert_true(fabs(p.f[1].shares[1] - 0.05) < 1e-12);
    assert_int_equal(sf_drift_bin(&p.f[1], 0.0f), 0);
    assert_int_equal(sf_drift_bin(&p.f[1], 1.0f), 1);
    assert_int_equal(sf_drift_bin(&p.f[1], NAN), 2);
    assert_int_equal(sf_drift_bin(&p.f[0], -5.0f), 0);
    assert_int_equal(sf_drift_bin(&p.f[0], 1e9f), 9);

    /* through a release's metrics and back */
    sf_drift_profile q;
    char *m = sf_drift_metrics_with("{\"holdout\":{\"rmse\":1}}", &p, &err);
    assert_non_null(m);
    cJSON *j = cJSON_Parse(m);
    assert_non_null(cJSON_GetObjectItem(j, "holdout"));
    assert_non_null(cJSON_GetObjectItem(j, "drift"));
    cJSON_Delete(j);
    assert_int_equal(sf_drift_profile_parse(m, &q, &err), 1);
    free(m);
    assert_int_equal(q.n, 2);
    for (int f = 0; f < 2; f++) {
        assert_int_equal(q.f[f].n_edges, p.f[f].n_edges);
        for (int k = 0; k < p.f[f].n_edges; k++)
            assert_true(q.f[f].edges[k] == p.f[f].edges[k]);
        for (int b = 0; b < sf_drift_n_bins(&p.f[f]); b++)
            assert_true(fabs(q.f[f].shares[b] - p.f[f].shares[b]) < 1e-4);
    }
    /* older releases: no drift; malformed: refused with a reason */
    assert_int_equal(sf_drift_profile_parse("{\"holdout\":{}}", &q, &err), 0);
    assert_int_equal(sf_drift_profile_parse(NULL, &q, &err), 0);
    assert_int_equal(
        sf_drift_profile_parse(
            "{\"drift\":{\"features\":[{\"name\":\"x\",\"edges\":[2,1],\"shares\":[0,0,0,1]}]}}",
            &q, &err),
        -1);
    assert_non_null(strstr(err.msg, "increasing"));
    assert_int_equal(
        sf_drift_profile_parse(
            "{\"drift\":{\"features\":[{\"name\":\"x\",\"edges\":[1],\"shares\":[1]}]}}", &q, &err),
        -1);
}

static void test_scorer_window(void **state)
{
    (void)state;
    float x[200];
    for (int i = 0; i < 100; i++) {
        x[2 * i] = (float)(i + 1);
        x[2 * i + 1] = i < 50 ? 1.0f : 0.0f;
    }
    sf_drift_profile p;
    sf_err err;
    assert_int_equal(sf_drift_profile_build(&spec2, x, 100, 2, &p, &err), 0);
    char *m = sf_drift_metrics_with("{}", &p, &err);
    sf_drift *d = sf_drift_new(100, 3600, "s1");
    assert_non_null(d);
    assert_null(sf_drift_json(d)); /* no model yet */
    assert_int_equal(sf_drift_set_model(d, &spec2, "{}", 1, &err), 0);
    assert_int_equal(sf_drift_set_model(d, &spec2, m, 2, &err), 1);
    free(m);
    char *prom = sf_drift_prometheus(d);
    assert_string_equal(prom, ""); /* no row yet */
    free(prom);
    /* the training rows themselves: PSI 0 */
    sf_drift_add(d, x, 100, 2);
    char *js = sf_drift_json(d);
    cJSON *j = cJSON_Parse(js);
    assert_true(cJSON_GetObjectItem(j, "psi_max")->valuedouble < 1e-3);
    assert_int_equal(cJSON_GetObjectItem(j, "n")->valueint, 100);
    cJSON_Delete(j);
    free(js);
    /* 100 rows of flag = 1 push the old ones out: flag's PSI from the hand
     * formula with shares (0.5, 0.5, 0) against (0, 1, 0) */
    for (int i = 0; i < 100; i++)
        x[2 * i + 1] = 1.0f;
    sf_drift_add(d, x, 100, 2);
    js = sf_drift_json(d);
    j = cJSON_Parse(js);
    double want = (1e-4 - 0.5) * log(1e-4 / 0.5) + (1 - 0.5) * log(1 / 0.5);
    assert_string_equal(cJSON_GetObjectItem(j, "feature_max")->valuestring, "flag");
    assert_true(fabs(cJSON_GetObjectItem(j, "psi_max")->valuedouble - want) < 1e-4);
    assert_int_equal(cJSON_GetObjectItem(j, "n")->valueint, 100);
    cJSON_Delete(j);
    free(js);
    prom = sf_drift_prometheus(d);
    assert_non_null(strstr(prom, "satisfy_scorer_drift_psi_max{feature=\"flag\"} "));
    assert_non_null(strstr(prom, "satisfy_scorer_drift_psi{feature=\"x\"} "));
    free(prom);
    /* a profile naming a feature the spec lacks: no PSI */
    assert_int_equal(
        sf_drift_set_model(
            d, &spec2,
            "{\"drift\":{\"features\":[{\"name\":\"nope\",\"edges\":[1],\"shares\":[0.5,0.5,0]}]}}",
            3, &err),
        -1);
    assert_non_null(strstr(err.msg, "nope"));
    assert_null(sf_drift_json(d));
    sf_drift_free(d);
}

/* A deterministic stream: uniform in [lo, hi) from an LCG. */
static double next_u(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static void test_page_hinkley(void **state)
{
    (void)state;
    sf_ph_opts o;
    sf_ph_opts_default(&o);
    sf_ph ph;
    sf_err err;
    assert_int_equal(sf_ph_init(&ph, &o, &err), 0);
    /* stationary: errors like the model's (mean 0.9, spread 0..1.8): 100,000 values, no alarm */
    uint64_t s = 1;
    for (int i = 0; i < 100000; i++)
        assert_int_equal(sf_ph_add(&ph, 1.8 * next_u(&s)), 0);
    assert_int_equal(ph.alarms, 0);
    /* a step of +0.5 in the mean: lambda / (0.5 - delta) = 100 values expected; within 200 */
    int fired = 0;
    for (int i = 0; i < 200 && !fired; i++)
        fired = sf_ph_add(&ph, 0.5 + 1.8 * next_u(&s)) ? i + 1 : 0;
    assert_true(fired > 0);
    assert_int_equal(ph.alarms, 1);
    assert_true(fabs(ph.mean_before - 0.9) < 0.1);
    assert_int_equal(ph.n, 0); /* reset */
    char *js = sf_ph_json(&ph);
    cJSON *j = cJSON_Parse(js);
    assert_int_equal(cJSON_GetObjectItem(j, "alarms")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItem(j, "detector")->valuestring, "page-hinkley");
    cJSON_Delete(j);
    free(js);
    /* a decrease of the error never fires */
    assert_int_equal(sf_ph_init(&ph, &o, &err), 0);
    for (int i = 0; i < 1000; i++)
        sf_ph_add(&ph, 1.0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(sf_ph_add(&ph, 0.2), 0);
    /* no alarm before min_samples */
    assert_int_equal(sf_ph_init(&ph, &o, &err), 0);
    for (long i = 0; i + 1 < o.min_samples; i++)
        assert_int_equal(sf_ph_add(&ph, i < 10 ? 0 : 4), 0);
    o.lambda = 0;
    assert_int_equal(sf_ph_init(&ph, &o, &err), -1);
}

/* The retrainer's input drift alarm on a scorer's PSI message: the largest
 * watched feature at the threshold; calendar and history features never. */
static void test_input_alarm(void **state)
{
    (void)state;
    sf_input_alarm a;
    sf_err err;
    const char *calendar =
        "{\"scorer\":\"s1\",\"model_version\":4,\"at\":1764900000000,\"features\":["
        "{\"name\":\"purchase_month\",\"psi\":7.2},{\"name\":\"seller_late_rate\",\"psi\":0.8},"
        "{\"name\":\"delivery_days\",\"psi\":0.2}]}";
    assert_int_equal(sf_input_drift_check(calendar, 0.25, &a, &err), 0);
    assert_string_equal(a.feature, "delivery_days");
    assert_true(a.psi == 0.2);
    assert_string_equal(a.ignored, "purchase_month");
    assert_int_equal(a.model_version, 4);
    assert_string_equal(a.scorer, "s1");
    assert_int_equal(sf_input_drift_check(calendar, 0.2, &a, &err), 1); /* at the threshold */
    const char *moved =
        "{\"scorer\":\"s2\",\"model_version\":5,\"at\":1,\"features\":["
        "{\"name\":\"delivery_days\",\"psi\":0.45},{\"name\":\"total_price\",\"psi\":0.3}]}";
    assert_int_equal(sf_input_drift_check(moved, SF_INPUT_DRIFT_PSI, &a, &err), 1);
    assert_string_equal(a.feature, "delivery_days");
    assert_string_equal(a.ignored, "");
    assert_int_equal(sf_input_drift_check("not json", 0.25, &a, &err), -1);
    assert_int_equal(sf_input_drift_check("{\"model_version\":1}", 0.25, &a, &err), -1);
    assert_non_null(strstr(err.msg, "missing"));
    assert_false(sf_input_drift_watched("customer_orders"));
    assert_true(sf_input_drift_watched("approval_hours"));
}

/* ---- the offline replay of the real sample ---------------------------- */

typedef struct replay_out {
    int alarms;
    int64_t alarm_time[64];
    long alarm_at[64]; /* delivered rows streamed when it fired */
    long first_after;  /* delivered rows streamed from inject time to the first alarm after it */
    double psi_max;    /* of the window of the rows after window_from */
    char psi_feature[SF_DRIFT_NAME];
    double psi_delivery; /* delivery_days' PSI in that window */
    long streamed;
    /* input drift alarms (drift_detect.h) on the scorer's PSI message, read
     * every INPUT_EVERY rows once the window is full */
    int input_checks, input_alarms;
    long input_first_after; /* rows from inject time to the first input alarm, -1 none */
    char input_feature[64]; /* the first alarm's */
    double input_psi;
    int delivery_over;         /* checks where delivery_days' PSI >= SF_INPUT_DRIFT_PSI */
    long delivery_first_after; /* rows from inject time to the first of them, -1 none */
} replay_out;

/* feature's PSI in a scorer's PSI message, -1 when absent. */
static double psi_of(const char *js, const char *feature)
{
    cJSON *j = cJSON_Parse(js);
    double v = -1;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(j, "features"))
    {
        if (strcmp(cJSON_GetObjectItem(f, "name")->valuestring, feature) == 0)
            v = cJSON_GetObjectItem(f, "psi")->valuedouble;
    }
    cJSON_Delete(j);
    return v;
}

#define INPUT_EVERY 500

/* Trains on the older half, streams the newer half's delivered-stage rows
 * in event-time order through Page-Hinkley, and the last `window` of them
 * from inject_at on through the PSI of drift.h. */
static void replay(const sf_dataset *ds, int64_t inject_at, int64_t window_from, replay_out *out)
{
    memset(out, 0, sizeof *out);
    out->first_after = -1;
    sf_err err;
    sf_examples all, older, newer;
    const sf_feature_spec *spec = sf_spec_full();
    assert_int_equal(
        sf_train_rows_of_dataset(&all, ds, spec, SF_TIME_NONE, SF_TIME_NONE, NULL, &err), 0);
    assert_true(sf_examples_time_split(&all, 0.5, &older, &newer, &err) != SF_TIME_NONE);
    sf_model_params mp;
    sf_model_params_default(&mp);
    mp.nthread = 2;
    sf_model *m = NULL;
    if (sf_model_train(SF_ALGO_GBDT, &older, NULL, &mp, &m, &err) != 0)
        fail_msg("%s", err.msg);
    sf_drift_profile prof;
    assert_int_equal(sf_drift_profile_build(spec, older.x, older.n, older.d, &prof, &err), 0);
    char *mj = sf_drift_metrics_with("{}", &prof, &err);
    sf_drift *dr = sf_drift_new(2000, 3600, "replay");
    assert_int_equal(sf_drift_set_model(dr, spec, mj, 1, &err), 1);
    free(mj);
    sf_ph_opts o;
    sf_ph_opts_default(&o);
    sf_ph ph;
    assert_int_equal(sf_ph_init(&ph, &o, &err), 0);
    long since_inject = -1, added = 0, rows_since_inject = -1;
    out->input_first_after = out->delivery_first_after = -1;
    for (size_t i = 0; i < newer.n; i++) {
        const float *row = newer.x + i * newer.d;
        if (inject_at != SF_TIME_NONE && newer.purchase[i] >= inject_at && rows_since_inject < 0)
            rows_since_inject = 0;
        if (rows_since_inject >= 0)
            rows_since_inject++;
        if (newer.event_time[i] >= window_from) {
            sf_drift_add(dr, row, 1, newer.d);
            if (++added >= 2000 && added % INPUT_EVERY == 0) {
                char *pj = sf_drift_json(dr);
                sf_input_alarm a;
                int rc = sf_input_drift_check(pj, SF_INPUT_DRIFT_PSI, &a, &err);
                if (psi_of(pj, "delivery_days") >= SF_INPUT_DRIFT_PSI && out->delivery_over++ == 0)
                    out->delivery_first_after = rows_since_inject;
                free(pj);
                assert_true(rc >= 0);
                out->input_checks++;
                if (rc == 1 && out->input_alarms++ == 0) {
                    out->input_first_after = rows_since_inject;
                    snprintf(out->input_feature, sizeof out->input_feature, "%s", a.feature);
                    out->input_psi = a.psi;
                }
            }
        }
        if (newer.stage[i] != SF_STAGE_DELIVERED)
            continue;
        sf_prediction p;
        sf_model_score_rows(m, row, 1, &p);
        out->streamed++;
        if (inject_at != SF_TIME_NONE && newer.purchase[i] >= inject_at && since_inject < 0)
            since_inject = 0;
        if (since_inject >= 0)
            since_inject++;
        if (sf_ph_add(&ph, fabs((double)newer.label[i] - p.score))) {
            if (out->alarms < 64) {
                out->alarm_time[out->alarms] = newer.event_time[i];
                out->alarm_at[out->alarms] = out->streamed;
            }
            out->alarms++;
            if (since_inject > 0 && out->first_after < 0)
                out->first_after = since_inject;
        }
    }
    char *js = sf_drift_json(dr);
    if (js) {
        cJSON *j = cJSON_Parse(js);
        out->psi_max = cJSON_GetObjectItem(j, "psi_max")->valuedouble;
        snprintf(out->psi_feature, sizeof out->psi_feature, "%s",
                 cJSON_GetObjectItem(j, "feature_max")->valuestring);
        const cJSON *f;
        cJSON_ArrayForEach(
            f, cJSON_GetObjectItem(
                   j, "features")) if (strcmp(cJSON_GetObjectItem(f, "name")->valuestring,
                                              "delivery_days") == 0) out->psi_delivery =
            cJSON_GetObjectItem(f, "psi")->valuedouble;
        cJSON_Delete(j);
        free(js);
    }
    sf_drift_free(dr);
    sf_model_free(m);
    sf_examples_free(&older);
    sf_examples_free(&newer);
    sf_examples_free(&all);
}

static void print_alarms(const char *what, const replay_out *r)
{
    print_message("%s: %ld delivered orders streamed, %d alarms\n", what, r->streamed, r->alarms);
    for (int k = 0; k < r->alarms && k < 64; k++) {
        char t[24];
        sf_time_format(r->alarm_time[k], t, sizeof t);
        print_message("  alarm %d at delivered order %ld, event time %s\n", k + 1, r->alarm_at[k],
                      t);
    }
}

static void test_sample_replay(void **state)
{
    (void)state;
    const char *dir = getenv("OLIST_DIR");
    if (!dir || !*dir) {
        print_message("OLIST_DIR not set: skipping the replay of the real sample\n");
        skip();
    }
    sf_dataset ds;
    sf_err err;
    sf_load_opts lo = {0};
    if (sf_dataset_load(&ds, dir, &lo, &err) != 0)
        fail_msg("%s", err.msg);
    replay_out r;
    int64_t at = ds.orders[ds.n_orders * 3 / 4].purchase;
    replay(&ds, SF_TIME_NONE, at, &r);
    print_alarms("unchanged sample", &r);
    print_message("unchanged: PSI of the last 2000 events max %.3f (%s), delivery_days %.3f\n",
                  r.psi_max, r.psi_feature, r.psi_delivery);
    print_message("unchanged: input drift alarms %d of %d checks (first: %s %.3f); "
                  "delivery_days at or above %.2f in %d\n",
                  r.input_alarms, r.input_checks, r.input_feature, r.input_psi, SF_INPUT_DRIFT_PSI,
                  r.delivery_over);
    /* the newer half differs from the older on watched features (docs/model.md):
     * alarms at the first check already; delivery_days stays below */
    assert_true(r.input_alarms > 0 && r.input_first_after == -1);
    assert_int_equal(r.delivery_over, 0);
    assert_true(r.alarms <= SAMPLE_MAX_ALARMS);
    double psi_unchanged = r.psi_delivery;

    /* drift injected: from the purchase time at 75% of the orders, every
     * delivery takes twice as long after purchase */
    for (size_t i = ds.n_orders * 3 / 4; i < ds.n_orders; i++) {
        sf_order *o = &ds.orders[i];
        if (o->delivered != SF_TIME_NONE && o->purchase != SF_TIME_NONE)
            o->delivered = o->purchase + 2 * (o->delivered - o->purchase);
    }
    replay(&ds, at, at, &r);
    char t[24];
    sf_time_format(at, t, sizeof t);
    print_alarms("delivery times doubled", &r);
    print_message("injected at %s: first alarm %ld delivered orders later; PSI of the last 2000 "
                  "events max %.3f (%s), delivery_days %.3f\n",
                  t, r.first_after, r.psi_max, r.psi_feature, r.psi_delivery);
    print_message("injected: input drift alarms %d of %d checks, the first %ld events after the "
                  "first affected purchase (%s %.3f); delivery_days at or above %.2f in %d "
                  "checks, the first %ld events after it\n",
                  r.input_alarms, r.input_checks, r.input_first_after, r.input_feature, r.input_psi,
                  SF_INPUT_DRIFT_PSI, r.delivery_over, r.delivery_first_after);
    assert_true(r.input_alarms > 0);
    assert_true(r.first_after > 0 && r.first_after <= INJECT_MAX_DELAY);
    assert_true(r.psi_delivery > SF_DRIFT_PSI_ALARM && r.psi_delivery > 2 * psi_unchanged);
    sf_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psi_hand_computed), cmocka_unit_test(test_profile_bins),
        cmocka_unit_test(test_scorer_window),     cmocka_unit_test(test_page_hinkley),
        cmocka_unit_test(test_sample_replay),     cmocka_unit_test(test_input_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
