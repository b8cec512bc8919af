/*
 * test_artifact.c - a trained model as bytes and back: identical predictions
 * after a round trip (gbdt and ridge, history snapshot included), releases,
 * and each rejection with its message: bad magic, truncated, checksum,
 * unknown algorithm, feature spec hash mismatch; a format 1 artifact (the
 * trees only as an XGBoost booster) refused by the scorer's load and
 * converted to the same trees by the retrainer's trusted load. (Hostile
 * artifacts: test_artifact_hostile.c.)
 */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact_edit.h"
#include "model_impl.h"
#include "satisfy/lifecycle.h"
#include "satisfy/model.h"

static void roundtrip(sf_algo algo)
{
    sf_examples ex, te;
    tu_synth_examples(&ex, 3000, 0.5);
    tu_synth_examples(&te, 500, 0.5);
    sf_model *m, *l;
    sf_err err;
    assert_int_equal(sf_model_train(algo, &ex, NULL, NULL, &m, &err), 0);
    sf_model_set_window(m, 1000, 2000);
    assert_int_equal(sf_model_set_metrics(m, "{\"rmse\":1.5}", &err), 0);
    sf_history *h = sf_history_new();
    assert_int_equal(sf_model_set_history(m, h, &err), 0);
    sf_history_free(h);
    uint8_t *buf;
    size_t len;
    assert_int_equal(sf_model_save(m, &buf, &len, &err), 0);
    char hash[17];
    sf_spec_hash(sf_spec_seed(), hash);
    assert_int_equal(sf_model_load(buf, len, hash, &l, &err), 0);
    const sf_model_info *a = sf_model_get_info(m), *b = sf_model_get_info(l);
    assert_int_equal(a->algo, b->algo);
    assert_int_equal(a->prob, b->prob);
    assert_int_equal(a->rounds, b->rounds);
    assert_true(b->train_from == 1000 && b->train_to == 2000);
    assert_string_equal(sf_model_metrics(l), "{\"rmse\":1.5}");
    assert_non_null(sf_model_history(l));
    double *s1 = malloc(te.n * 8), *s2 = malloc(te.n * 8), *p1 = malloc(te.n * 8),
           *p2 = malloc(te.n * 8);
    sf_model_predict(m, te.x, te.n, s1, p1);
    sf_model_predict(l, te.x, te.n, s2, p2);
    assert_memory_equal(s1, s2, te.n * 8);
    assert_memory_equal(p1, p2, te.n * 8);

    /* release wrap and unwrap; corrupted payload rejected */
    sf_model_release r;
    assert_int_equal(sf_model_release_make(m, 7, 123, &r, &err), 0);
    assert_string_equal(r.algorithm, sf_algo_name(algo));
    assert_string_equal(r.spec_hash, hash);
    sf_model *k;
    assert_int_equal(sf_model_from_release(&r, &k, &err), 0);
    sf_model_free(k);
    ((uint8_t *)r.payload)[r.payload_len / 2] ^= 1;
    assert_int_equal(sf_model_from_release(&r, &k, &err), -1);
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    sf_model_release_clear(&r);

    free(s1), free(s2), free(p1), free(p2), free(buf);
    sf_model_free(m);
    sf_model_free(l);
    sf_examples_free(&ex);
    sf_examples_free(&te);
}

static void test_roundtrip_gbdt(void **state)
{
    (void)state;
    roundtrip(SF_ALGO_GBDT);
}

static void test_roundtrip_ridge(void **state)
{
    (void)state;
    roundtrip(SF_ALGO_RIDGE);
}

static void test_rejections(void **state)
{
    (void)state;
    sf_examples ex;
    tu_synth_examples(&ex, 2000, 0.5);
    sf_model *m, *l = NULL;
    sf_err err;
    assert_int_equal(sf_model_train(SF_ALGO_GBDT, &ex, NULL, NULL, &m, &err), 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(sf_model_save(m, &buf, &len, &err), 0);
    uint8_t *c = malloc(len);

    memcpy(c, buf, len);
    c[0] = 'X';
    assert_int_equal(sf_model_load(c, len, NULL, &l, &err), -1);
    assert_non_null(strstr(err.msg, "not a satisfy model artifact"));

    assert_int_equal(sf_model_load(buf, len - 10, NULL, &l, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_int_equal(sf_model_load(buf, 40, NULL, &l, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));

    memcpy(c, buf, len);
    c[len - 5] ^= 0x40;
    assert_int_equal(sf_model_load(c, len, NULL, &l, &err), -1);
    assert_non_null(strstr(err.msg, "checksum mismatch"));

    memcpy(c, buf, len);
    memcpy(c + 16, "forest\0\0", 8);
    ae_resign(c, len);
    assert_int_equal(sf_model_load(c, len, NULL, &l, &err), -1);
    assert_non_null(strstr(err.msg, "unknown algorithm 'forest'"));

    memcpy(c, buf, len);
    memcpy(c + 32, "0123456789abcdef", 16);
    ae_resign(c, len);
    assert_int_equal(sf_model_load(c, len, NULL, &l, &err), -1);
    assert_non_null(strstr(err.msg, "feature spec hash mismatch"));

    char full[17];
    sf_spec_hash(sf_spec_full(), full);
    assert_int_equal(sf_model_load(buf, len, full, &l, &err), -1);
    assert_non_null(strstr(err.msg, "feature spec hash mismatch"));

    /* a re-signed artifact with an inconsistent body length is refused */
    memcpy(c, buf, len);
    c[48] ^= 0x01;
    ae_resign(c, len);
    assert_int_equal(sf_model_load(c, len, NULL, &l, &err), -1);
    assert_non_null(strstr(err.msg, "corrupt"));
    assert_null(l);

    free(c);
    free(buf);
    sf_model_free(m);
    sf_examples_free(&ex);
}

/* What builds before the forest section wrote: format 1, the trees only as
 * XGBoost UBJSON (XGBS, XGBP). */
static void test_format1_conversion(void **state)
{
    (void)state;
    sf_examples ex, te;
    tu_synth_examples(&ex, 2000, 0.5);
    tu_synth_examples(&te, 300, 0.5);
    sf_model_params p;
    sf_model_params_default(&p);
    p.prob = SF_PROB_OBJECTIVE;
    sf_model *m, *l = NULL, *c = NULL;
    sf_err err;
    assert_int_equal(sf_model_train(SF_ALGO_GBDT, &ex, NULL, &p, &m, &err), 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(sf_model_save(m, &buf, &len, &err), 0);
    ae_artifact a;
    assert_int_equal(ae_parse(buf, len, &a), 0);
    free(buf);
    assert_non_null(ae_find(&a, "TRES"));
    assert_non_null(ae_find(&a, "TREP"));
    assert_null(ae_find(&a, "XGBS"));
    ae_drop(&a, "TRES");
    ae_drop(&a, "TREP");
    ae_set(&a, "XGBS", m->ubj, m->ubj_len);
    ae_set(&a, "XGBP", m->ubj_p, m->ubj_p_len);
    ae_put(a.hdr + 8, 1, 4);
    buf = ae_build(&a, &len);
    ae_free(&a);

    assert_int_equal(sf_model_load(buf, len, NULL, &l, &err), -1);
    assert_non_null(strstr(err.msg, "XGBoost booster"));
    assert_null(l);
    if (sf_model_load_trusted(buf, len, NULL, &c, &err) != 0)
        fail_msg("%s", err.msg);
    double *s1 = malloc(te.n * 8), *s2 = malloc(te.n * 8), *p1 = malloc(te.n * 8),
           *p2 = malloc(te.n * 8);
    sf_model_predict(m, te.x, te.n, s1, p1);
    sf_model_predict(c, te.x, te.n, s2, p2);
    assert_memory_equal(s1, s2, te.n * 8);
    assert_memory_equal(p1, p2, te.n * 8);
    free(buf);
    /* saved again it is a format 2 artifact the scorer loads */
    assert_int_equal(sf_model_save(c, &buf, &len, &err), 0);
    assert_int_equal(ae_get(buf + 8, 4), 2);
    assert_int_equal(sf_model_load(buf, len, NULL, &l, &err), 0);
    sf_model_predict(l, te.x, te.n, s2, p2);
    assert_memory_equal(s1, s2, te.n * 8);
    assert_memory_equal(p1, p2, te.n * 8);
    free(s1), free(s2), free(p1), free(p2), free(buf);
    sf_model_free(m);
    sf_model_free(l);
    sf_model_free(c);
    sf_examples_free(&ex);
    sf_examples_free(&te);
}

/* The fuzzer's seeds (tests/fuzz/corpus/fuzz_release, written by
 * tests/tools/seed_artifacts) are artifacts this build loads: a seed it
 * refuses would only teach the fuzzer the first rejection. When a format
 * changes (artifact or history snapshot), regenerate them:
 * build/bin/seed_artifacts tests/fuzz/corpus/fuzz_release */
static void test_fuzz_seeds_load(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/fuzz_release", tu_source_dir());
    DIR *dd = opendir(dir);
    assert_non_null(dd);
    int n = 0;
    for (struct dirent *e; (e = readdir(dd));) {
        if (e->d_name[0] == '.')
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t buf[65536];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        sf_model *m;
        sf_err err;
        if (sf_model_load(buf, len, NULL, &m, &err) != 0)
            fail_msg("seed %s: %s", e->d_name, err.msg);
        sf_model_free(m);
        n++;
    }
    closedir(dd);
    assert_true(n >= 6);
}

/* Size of a model trained on the real sample (with its history): well under
 * Kafka's 1 MB message limit. */
static void test_real_size(void **state)
{
    (void)state;
    const char *dir = tu_olist_dir();
    if (!dir)
        return;
    sf_dataset ds;
    sf_examples ex;
    sf_history *h;
    tu_real_examples(dir, &ds, &ex, &h);
    sf_err err;
    sf_model *m, *l;
    assert_int_equal(sf_model_train(SF_ALGO_GBDT, &ex, NULL, NULL, &m, &err), 0);
    assert_int_equal(sf_model_set_history(m, h, &err), 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(sf_model_save(m, &buf, &len, &err), 0);
    print_message("artifact: %zu bytes (%zu sellers, %zu customers)\n", len, sf_history_sellers(h),
                  sf_history_customers(h));
    assert_true(len < 1000000);
    assert_int_equal(sf_model_load(buf, len, NULL, &l, &err), 0);
    /* the scorer computes the same row from the shipped history */
    size_t last = ex.n - 1;
    const sf_order *ord = &ds.orders[ex.order[last]];
    sf_order_event ev;
    assert_int_equal(sf_lifecycle_event(ord, ex.stage[last], &ev), 0);
    sf_prediction pr;
    sf_model_score_event(l, &ev, &pr);
    assert_true(pr.score >= 1 && pr.score <= 5 && pr.n_reasons > 0);
    free(buf);
    sf_model_free(m);
    sf_model_free(l);
    sf_history_free(h);
    sf_examples_free(&ex);
    sf_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_gbdt),  cmocka_unit_test(test_roundtrip_ridge),
        cmocka_unit_test(test_rejections),      cmocka_unit_test(test_format1_conversion),
        cmocka_unit_test(test_fuzz_seeds_load), cmocka_unit_test(test_real_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
