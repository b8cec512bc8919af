/*
 * test_decision.c - the gate decision message of satisfy.metrics
 * (lib/release/decision.c): built from a training report (with and without a
 * champion) it carries the gate's outcome, reason and figures, survives a
 * JSON round trip, and its key can never be an online accuracy key; the
 * parser refuses every malformed variant with the field and why.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "satisfy/decision.h"
#include "satisfy/train.h"
#include "satisfy/event.h"

#define T0 1514764800000LL /* 2018-01-01 */

static void set_row(sf_train_row *r, const char *name, const char *algo, const char *spec,
                    double rmse, double auc)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->algo, sizeof r->algo, "%s", algo);
    snprintf(r->spec, sizeof r->spec, "%s", spec);
    r->present = true;
    r->all.n = 400;
    r->all.rmse = rmse;
    r->all.mae = rmse * 0.8;
    r->all.r2 = 0.1;
    r->all.r2_ok = true;
    r->all.auc = auc;
    r->all.pr_auc = auc / 2;
    r->all.binary_ok = !isnan(auc);
}

/* A report as sf_train_run leaves it: candidate gbdt, against champion v4
 * (or the mean when champion is false). */
static void report(sf_train_report *rep, bool champion, bool released)
{
    memset(rep, 0, sizeof *rep);
    set_row(&rep->rows[SF_ROW_MEAN], "mean", "-", "-", 1.35, NAN);
    set_row(&rep->rows[SF_ROW_GBDT], "gbdt", "gbdt", "full", 1.1, 0.74);
    rep->candidate = SF_ROW_GBDT;
    if (champion) {
        set_row(&rep->rows[SF_ROW_CHAMPION], "champion v4", "gbdt", "full", 1.12, 0.73);
        rep->champion_before = 4;
    }
    sf_gate_decision *g = &rep->gate;
    g->released = released;
    g->has_champion = champion;
    snprintf(g->reference, sizeof g->reference, "%s", champion ? "champion v4" : "mean");
    g->rmse_candidate = 1.1;
    g->rmse_champion = champion ? 1.12 : 1.35;
    g->gain = g->rmse_champion - g->rmse_candidate;
    g->margin = 0.005;
    g->boot_lower = released ? 0.01 : -0.02;
    g->boot_upper = 0.09;
    snprintf(g->reason, sizeof g->reason, "%s (test): RMSE 1.1000 vs %s",
             released ? "released" : "rejected", g->reference);
    rep->released = released;
    rep->version = 5;
    rep->run_id = 9;
    rep->n_train_rows = 1600;
    rep->n_test_rows = 400;
    rep->split.n_train = 800;
    rep->split.n_test = 200;
    rep->split.train_from = T0;
    rep->split.train_to = T0 + 86400000LL * 200;
}

static void test_from_report(void **state)
{
    (void)state;
    sf_train_report rep;
    report(&rep, true, false);
    sf_decision d;
    sf_decision_from_report(&rep, T0 + 86400000LL * 260, 1700000000000LL, &d);
    assert_int_equal(d.version, 5);
    assert_int_equal(d.run_id, 9);
    assert_false(d.released);
    assert_string_equal(d.reason, rep.gate.reason);
    assert_string_equal(d.candidate.name, "gbdt");
    assert_string_equal(d.reference.name, "champion v4");
    assert_int_equal(d.reference.version, 4);
    assert_true(d.candidate.rmse == 1.1 && d.reference.rmse == 1.12);
    assert_true(d.candidate.auc == 0.74 && d.reference.auc == 0.73);
    assert_int_equal(d.holdout_rows, 400);
    assert_int_equal(d.holdout_orders, 200);
    assert_int_equal(d.train_rows, 1600);
    assert_int_equal(d.data_until, T0 + 86400000LL * 260);

    /* JSON round trip, with its key */
    sf_err err = {{0}};
    char *js = sf_decision_json(&d, &err);
    assert_non_null(js);
    char key[40];
    int klen = sf_decision_key(5, key, sizeof key);
    assert_string_equal(key, "decision-5");
    sf_decision back;
    if (sf_decision_parse(key, (size_t)klen, js, strlen(js), &back, &err) != 0)
        fail_msg("%s: %s", js, err.msg);
    assert_int_equal(back.version, 5);
    assert_false(back.released);
    assert_string_equal(back.reason, d.reason);
    assert_string_equal(back.reference.name, "champion v4");
    assert_int_equal(back.reference.version, 4);
    assert_true(back.candidate.rmse == 1.1 && back.reference.rmse == 1.12);
    assert_true(fabs(back.gain - 0.02) < 1e-12 && back.margin == 0.005);
    assert_true(back.boot_lower == -0.02 && back.boot_upper == 0.09);
    assert_int_equal(back.train_from, T0);
    assert_int_equal(back.decided_at, 1700000000000LL);
    free(js);

    /* no champion yet: the reference is the mean row, version 0, AUC null */
    report(&rep, false, true);
    sf_decision_from_report(&rep, SF_TIME_NONE, 1700000000000LL, &d);
    assert_true(d.released);
    assert_string_equal(d.reference.name, "mean");
    assert_int_equal(d.reference.version, 0);
    assert_true(d.reference.rmse == 1.35);
    js = sf_decision_json(&d, &err);
    assert_non_null(js);
    assert_non_null(strstr(js, "\"data_until\":null"));
    assert_non_null(strstr(js, "\"auc\":null"));
    assert_int_equal(sf_decision_parse(NULL, 0, js, strlen(js), &back, &err), 0);
    assert_true(back.released);
    assert_true(isnan(back.reference.auc));
    assert_int_equal(back.data_until, SF_TIME_NONE);
    free(js);
}

/* The good message with one change: path "a" or "a.b", value NULL deletes. */
static char *mutate(const char *path, const char *value)
{
    sf_train_report rep;
    report(&rep, true, true);
    sf_decision d;
    sf_decision_from_report(&rep, T0 + 86400000LL * 260, 1700000000000LL, &d);
    cJSON *o = sf_decision_to_cjson(&d);
    char parent[32] = "", *dot = strchr(path, '.');
    const char *k = path;
    cJSON *at = o;
    if (dot) {
        snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
        at = cJSON_GetObjectItem(o, parent);
        k = dot + 1;
    }
    if (value)
        cJSON_ReplaceItemInObject(at, k, cJSON_Parse(value));
    else
        cJSON_DeleteItemFromObject(at, k);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void test_bad(void **state)
{
    (void)state;
    static const struct {
        const char *path, *value, *want;
    } bad[] = {
        {"version", NULL, "version: missing"},
        {"version", "0", "version: 0 is below 1"},
        {"version", "2.5", "version: 2.5 is not an integer"},
        {"version", "\"5\"", "version: expected an integer"},
        {"released", NULL, "released: missing"},
        {"released", "1", "released: expected true or false"},
        {"reason", NULL, "reason: missing"},
        {"reason", "\"\"", "reason: empty"},
        {"reason", "7", "reason: expected a string"},
        {"candidate", NULL, "candidate: missing"},
        {"candidate", "[]", "candidate: expected an object"},
        {"candidate.rmse", NULL, "candidate.rmse: missing"},
        {"candidate.rmse", "null", "candidate.rmse: expected a number"},
        {"candidate.rmse", "7", "candidate.rmse: 7 out of range 0..4"},
        {"candidate.auc", "1.5", "candidate.auc: 1.5 out of range 0..1"},
        {"candidate.name", "\"a-name-far-too-long-for-a-model-row\"",
         "candidate.name: 35 bytes, at most 31"},
        {"reference.version", NULL, "reference.version: missing"},
        {"reference.version", "-1", "reference.version: -1 is below 0"},
        {"reference.rmse", "\"x\"", "reference.rmse: expected a number"},
        {"gate", NULL, "gate: missing"},
        {"gate.margin", "-0.1", "gate.margin: -0.1 out of range 0..5"},
        {"gate.margin", "5.5", "gate.margin: 5.5 out of range 0..5"},
        {"gate.boot_lower", "99", "gate.boot_lower: 99 out of range -16..16"},
        {"holdout_rows", "0", "holdout_rows: 0 is below 1"},
        {"holdout_orders", "401", "holdout_orders 401 exceed holdout_rows 400"},
        {"train_from", "\"2018\"", "train_from: expected an integer or null"},
        {"train_to", "1000", "is after train_to 1000"},
        {"data_until", NULL, "data_until: missing"},
        {"decided_at", "null", "decided_at: expected an integer"},
    };
    sf_decision d;
    sf_err err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *js = mutate(bad[i].path, bad[i].value);
        err.msg[0] = '\0';
        assert_int_equal(sf_decision_parse(NULL, 0, js, strlen(js), &d, &err), -1);
        if (!strstr(err.msg, bad[i].want))
            fail_msg("%s=%s: '%s', want '%s'", bad[i].path, bad[i].value ? bad[i].value : "(none)",
                     err.msg, bad[i].want);
        free(js);
    }
    /* the largest margin satisfy-retrainer accepts (--margin 5) is fine */
    char *m5 = mutate("gate.margin", "5");
    assert_int_equal(sf_decision_parse(NULL, 0, m5, strlen(m5), &d, &err), 0);
    assert_true(d.margin == 5);
    free(m5);
    /* the mutation helper itself yields a good message */
    char *js = mutate("reason", "\"released (x)\"");
    assert_int_equal(sf_decision_parse("decision-5", 10, js, strlen(js), &d, &err), 0);
    assert_string_equal(d.reason, "released (x)");

    /* keys: exactly decision-<version>; the online accuracy key is refused */
    static const char *const keys[] = {"5", "decision-6", "decision-05", "decision-5 ", ""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        err.msg[0] = '\0';
        assert_int_equal(sf_decision_parse(keys[i], strlen(keys[i]), js, strlen(js), &d, &err), -1);
        char want[64];
        snprintf(want, sizeof want, "key '%s' is not decision-5", keys[i]);
        if (!strstr(err.msg, want))
            fail_msg("key '%s': '%s'", keys[i], err.msg);
    }
    free(js);

    static const struct {
        const char *text, *want;
    } raw[] = {{"", "empty message"},
               {"{\"version\":", "not JSON"},
               {"[1,2]", "expected a JSON object"},
               {"{\"model_version\":5,\"n\":1,\"rmse\":1,\"auc\":null,\"event_time\":5}",
                "version: missing"}};
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        err.msg[0] = '\0';
        assert_int_equal(sf_decision_parse(NULL, 0, raw[i].text, strlen(raw[i].text), &d, &err),
                         -1);
        if (!strstr(err.msg, raw[i].want))
            fail_msg("'%s': '%s', want '%s'", raw[i].text, err.msg, raw[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_report),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
