/*
 * test_artifact_hostile.c - artifacts an attacker or a broken trainer could
 * publish, each with a correct checksum (a checksum proves integrity, not
 * origin): the load must return an error, never crash, never hand release
 * bytes to XGBoost, never accept a model that yields NaN, and never inflate
 * more than the documented limit.
 *
 * Linked with -Wl,--wrap=XGBoosterCreate (tests/CMakeLists.txt): every
 * XGBoost booster the library creates is counted, so a test can prove a
 * load created none.
 */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <xgboost/c_api.h>

#include "artifact_edit.h"
#include "satisfy/model.h"

static int boosters_created;

int __real_XGBoosterCreate(const DMatrixHandle dmats[], bst_ulong len, BoosterHandle *out);
int __wrap_XGBoosterCreate(const DMatrixHandle dmats[], bst_ulong len, BoosterHandle *out)
{
    boosters_created++;
    return __real_XGBoosterCreate(dmats, len, out);
}

static sf_model *train(sf_algo algo, sf_prob_method prob)
{
    sf_examples ex;
    tu_synth_examples(&ex, 1500, 0.5);
    sf_model_params p;
    sf_model_params_default(&p);
    p.prob = prob;
    p.rounds = 30;
    sf_model *m = NULL;
    sf_err err;
    if (sf_model_train(algo, &ex, NULL, &p, &m, &err) != 0)
        fail_msg("%s", err.msg);
    sf_examples_free(&ex);
    return m;
}

static void parse_model(const sf_model *m, ae_artifact *a)
{
    uint8_t *buf;
    size_t len;
    sf_err err;
    assert_int_equal(sf_model_save(m, &buf, &len, &err), 0);
    assert_int_equal(ae_parse(buf, len, a), 0);
    free(buf);
}

/* Loads the rebuilt artifact a; returns sf_model_load's status, err set. */
static int load_edited(const ae_artifact *a, sf_err *err)
{
    size_t len;
    uint8_t *buf = ae_build(a, &len);
    sf_model *l = NULL;
    int rc = sf_model_load(buf, len, NULL, &l, err);
    sf_model_free(l);
    free(buf);
    return rc;
}

/* The edited artifact a must be refused with an error naming `why`. */
static void expect_rejected(const ae_artifact *a, const char *what, const char *why)
{
    sf_err err;
    int rc = load_edited(a, &err);
    if (rc == 0)
        fail_msg("a hostile artifact (%s) was loaded", what);
    print_message("%s: %s\n", what, err.msg);
    if (!strstr(err.msg, why))
        fail_msg("the error does not name '%s'", why);
}

/* The UBJSON of the report: {"learner": [$d#(2^24) + 8 bytes]} - a typed
 * array that claims 16M float32 values and holds two. */
static size_t crafted_ubjson(uint8_t *out)
{
    size_t n = 0;
    out[n++] = '{';
    out[n++] = 'L';
    for (int i = 7; i >= 0; i--)
        out[n++] = (uint8_t)((uint64_t)7 >> (8 * i));
    memcpy(out + n, "learner", 7);
    n += 7;
    memcpy(out + n, "[$d#L", 5);
    n += 5;
    for (int i = 7; i >= 0; i--)
        out[n++] = (uint8_t)((1ull << 24) >> (8 * i));
    memset(out + n, 0, 8);
    n += 8;
    out[n++] = '}';
    return n;
}

/* Defect: release v1 whose XGBoost section is the crafted UBJSON, both
 * checksums recomputed. The scorer's load (sf_model_from_release, what the
 * model watcher calls) used to hand it to XGBoosterLoadModelFromBuffer,
 * which read out of bounds (SEGV). Now it is refused with the version
 * named, and no booster is ever created. */
static void test_crafted_xgboost_release(void **state)
{
    (void)state;
    sf_model *m = train(SF_ALGO_GBDT, SF_PROB_CALIBRATION);
    ae_artifact a;
    parse_model(m, &a);
    uint8_t ubj[64];
    size_t ulen = crafted_ubjson(ubj);
    /* a format 1 artifact: the trees only as an XGBoost booster */
    ae_drop(&a, "TRES");
    ae_drop(&a, "TREP");
    ae_drop(&a, "XGBP");
    ae_set(&a, "XGBS", ubj, ulen);
    ae_put(a.hdr + 8, 1, 4);
    size_t len;
    uint8_t *art = ae_build(&a, &len);
    sf_model_release r;
    sf_err err;
    assert_int_equal(sf_model_release_make(m, 1, 123, &r, &err), 0);
    free(r.alloc);
    r.alloc = art;
    r.payload = art;
    r.payload_len = (uint32_t)len;
    sf_sha256_hex(art, len, r.sha256);
    int before = boosters_created;
    sf_model *k = NULL;
    assert_int_equal(sf_model_from_release(&r, &k, &err), -1);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "release 1"));
    assert_non_null(strstr(err.msg, "XGBoost"));
    assert_null(k);
    assert_int_equal(boosters_created, before);
    r.params_json = r.metrics_json = NULL;
    sf_model_release_clear(&r);
    ae_free(&a);
    sf_model_free(m);
}

/* A release whose header names another algorithm than its (valid,
 * checksummed) artifact: refused with both named. The refusal used to free
 * the model before its error message read the model's algorithm (a
 * use-after-free in every watcher, found by ASan in test_release_topic). */
static void test_release_algorithm_mismatch(void **state)
{
    (void)state;
    sf_model *m = train(SF_ALGO_RIDGE, SF_PROB_CALIBRATION);
    sf_model_release r;
    sf_err err;
    assert_int_equal(sf_model_release_make(m, 2, 123, &r, &err), 0);
    snprintf(r.algorithm, sizeof r.algorithm, "gbdt");
    sf_model *k = NULL;
    assert_int_equal(sf_model_from_release(&r, &k, &err), -1);
    assert_non_null(strstr(err.msg, "release says algorithm 'gbdt', artifact is 'ridge'"));
    assert_null(k);
    sf_model_release_clear(&r);
    sf_model_free(m);
}

/* A current artifact that also carries the crafted UBJSON as XGBS/XGBP
 * loads from its own trees: the XGBoost sections are never parsed. */
static void test_xgboost_sections_never_parsed(void **state)
{
    (void)state;
    sf_model *m = train(SF_ALGO_GBDT, SF_PROB_OBJECTIVE);
    ae_artifact a;
    parse_model(m, &a);
    uint8_t ubj[64];
    size_t ulen = crafted_ubjson(ubj);
    ae_set(&a, "XGBS", ubj, ulen);
    ae_set(&a, "XGBP", ubj, ulen);
    int before = boosters_created;
    sf_err err;
    int rc = load_edited(&a, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(boosters_created, before);
    ae_free(&a);
    sf_model_free(m);
}

/* INFO with one member replaced by raw JSON text (e.g. "1e999", which
 * cJSON reads as infinity). */
static void set_info(ae_artifact *a, const char *key, const char *raw)
{
    ae_section *s = ae_find(a, "INFO");
    assert_non_null(s);
    cJSON *o = cJSON_ParseWithLength((const char *)s->data, s->len);
    assert_non_null(o);
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    size_t n = strlen(txt);
    char *out = malloc(n + strlen(key) + strlen(raw) + 8);
    txt[n - 1] = 0; /* drop the closing brace */
    sprintf(out, "%s,\"%s\":%s}", txt, key, raw);
    ae_set(a, "INFO", out, strlen(out));
    free(out);
    cJSON_free(txt);
}

/* Defect: a calibration of +-1e999 (or a NaN ridge intercept) was loaded and
 * then every event went to the DLQ ("p_dissatisfied: -nan out of range"). */
static void test_non_finite_numbers(void **state)
{
    (void)state;
    sf_model *m = train(SF_ALGO_RIDGE, SF_PROB_CALIBRATION);
    ae_artifact a;
    const char *cases[][3] = {{"cal_a", "1e999", "cal_a"},       {"cal_b", "-1e999", "cal_b"},
                              {"cal_a", "\"x\"", "calibration"}, {"rounds", "1e999", "rounds"},
                              {"n_train", "-1e999", "n_train"},  {"train_to", "1e300", "train_to"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parse_model(m, &a);
        set_info(&a, cases[i][0], cases[i][1]);
        char what[64];
        snprintf(what, sizeof what, "INFO %s = %s", cases[i][0], cases[i][1]);
        expect_rejected(&a, what, cases[i][2]);
        ae_free(&a);
    }

    parse_model(m, &a);
    ae_section *lins = ae_find(&a, "LINS");
    assert_non_null(lins);
    double nan = NAN;
    memcpy(lins->data + 8, &nan, 8); /* the intercept */
    expect_rejected(&a, "ridge intercept NaN", "intercept");
    ae_free(&a);

    parse_model(m, &a);
    const char *bad = "{\"nthread\":1e999,\"eta\":0.1}";
    ae_set(&a, "PARM", bad, strlen(bad));
    expect_rejected(&a, "PARM nthread = 1e999", "nthread");
    ae_free(&a);
    sf_model_free(m);
}

/* Every number finite, and still the model yields NaN: coefficients of
 * 1e300 over a standard deviation of 1e-300 make +inf and -inf, whose sum
 * is NaN. The probe (a fixed row and a row of NaNs scored at load) rejects
 * it. */
static void test_probe_rejects_nan_model(void **state)
{
    (void)state;
    sf_model *m = train(SF_ALGO_RIDGE, SF_PROB_CALIBRATION);
    ae_artifact a;
    parse_model(m, &a);
    ae_section *lins = ae_find(&a, "LINS");
    assert_non_null(lins);
    uint32_t d;
    memcpy(&d, lins->data + 4, 4);
    double *arr = (double *)malloc(6 * d * sizeof *arr);
    memcpy(arr, lins->data + 24, 6 * d * sizeof *arr);
    double *mean = arr, *sd = arr + d, *coef = arr + 2 * d;
    mean[0] = mean[1] = 1;
    sd[0] = sd[1] = 1e-300;
    coef[0] = 1e300;
    coef[1] = -1e300;
    memcpy(lins->data + 24, arr, 6 * d * sizeof *arr);
    free(arr);
    sf_err err;
    assert_int_equal(load_edited(&a, &err), -1);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "probe"));
    ae_free(&a);
    sf_model_free(m);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A valid artifact header whose body is a zlib stream of `inflated` bytes
 * (zeros, or incompressible noise), declared as `declared` bytes. */
static uint8_t *bomb(const sf_model *m, size_t inflated, size_t declared, int noise, size_t *len)
{
    uint8_t *good;
    size_t glen;
    sf_err err;
    assert_int_equal(sf_model_save(m, &good, &glen, &err), 0);
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit(&z, 9), Z_OK);
    size_t cap = noise ? inflated + inflated / 100 + 4096 : inflated / 500 + 4096, chunk = 1 << 20;
    uint8_t *out = malloc(AE_HDR + cap), *zeros = calloc(1, chunk);
    uint64_t r = 88172645463325252ULL;
    for (size_t i = 0; noise && i < chunk; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        zeros[i] = (uint8_t)r;
    }
    memcpy(out, good, AE_HDR);
    z.next_out = out + AE_HDR;
    z.avail_out = (uInt)cap;
    for (size_t done = 0; done < inflated;) {
        size_t k = inflated - done < chunk ? inflated - done : chunk;
        z.next_in = zeros;
        z.avail_in = (uInt)k;
        done += k;
        assert_int_not_equal(deflate(&z, done == inflated ? Z_FINISH : Z_NO_FLUSH), Z_STREAM_ERROR);
    }
    size_t stored = cap - z.avail_out;
    deflateEnd(&z);
    ae_put(out + 12, 1, 4);
    ae_put(out + 48, declared, 8);
    ae_put(out + 56, stored, 8);
    ae_resign(out, AE_HDR + stored);
    free(zeros);
    free(good);
    *len = AE_HDR + stored;
    return out;
}

/* Defect: a ~260 KB zlib bomb declaring 256 MB made every watcher allocate
 * and inflate 256 MB (about 5 s) before rejecting it. Now the declared
 * size is checked against the limit and the compression ratio before any
 * allocation, and inflation never writes past the declared size. */
static void test_zlib_bomb(void **state)
{
    (void)state;
    sf_model *m = train(SF_ALGO_RIDGE, SF_PROB_CALIBRATION);
    size_t len;
    sf_err err;
    sf_model *l = NULL;
    long rss0 = max_rss_kb();
    uint8_t *b = bomb(m, 250u << 20, 250u << 20, 0, &len);
    print_message("bomb: %zu bytes declaring %u MiB\n", len, 250u);
    assert_int_equal(sf_model_load(b, len, NULL, &l, &err), -1);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "inflate"));
    long grown = max_rss_kb() - rss0;
    print_message("peak RSS grew by %ld KB\n", grown);
    assert_true(grown < 32 * 1024);
    free(b);

    /* declared small, the stream longer: inflation stops at the declared size */
    b = bomb(m, 2u << 20, 1u << 20, 1, &len);
    assert_int_equal(sf_model_load(b, len, NULL, &l, &err), -1);
    assert_non_null(strstr(err.msg, "corrupt"));
    free(b);
    assert_null(l);
    sf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zlib_bomb),
        cmocka_unit_test(test_crafted_xgboost_release),
        cmocka_unit_test(test_release_algorithm_mismatch),
        cmocka_unit_test(test_xgboost_sections_never_parsed),
        cmocka_unit_test(test_non_finite_numbers),
        cmocka_unit_test(test_probe_rejects_nan_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
