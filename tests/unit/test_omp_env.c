/*
 * test_omp_env.c - library calls leave OMP_WAIT_POLICY alone.
 *
 * libgomp reads the variable once, when it is loaded (omp.h), so a setenv
 * from library code changes nothing for XGBoost and is not thread-safe
 * besides: the workers re-exec themselves instead (sf_omp_passive_reexec).
 * With the variable unset, fitting and loading a GBDT model, the training
 * pipeline and opening the streaming retrainer must not set it.
 */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/datagen.h"
#include "satisfy/lifecycle.h"
#include "satisfy/model.h"
#include "satisfy/retrainer.h"
#include "satisfy/train.h"

static void assert_unset(const char *after)
{
    const char *v = getenv("OMP_WAIT_POLICY");
    if (v)
        fail_msg("%s set OMP_WAIT_POLICY=%s", after, v);
}

static void test_gbdt_leaves_env(void **state)
{
    (void)state;
    unsetenv("OMP_WAIT_POLICY");
    sf_examples ex;
    tu_synth_examples(&ex, 400, 0.3);
    sf_model_params p;
    sf_model_params_default(&p);
    p.rounds = 5;
    p.nthread = 1;
    sf_model *m;
    sf_err err;
    assert_int_equal(sf_model_train(SF_ALGO_GBDT, &ex, NULL, &p, &m, &err), 0);
    assert_unset("sf_model_train (gbdt)");
    uint8_t *buf;
    size_t len;
    assert_int_equal(sf_model_save(m, &buf, &len, &err), 0);
    sf_model *copy;
    assert_int_equal(sf_model_load(buf, len, NULL, &copy, &err), 0);
    assert_unset("sf_model_load (gbdt)");
    free(buf);
    sf_model_free(copy);
    sf_model_free(m);
    sf_examples_free(&ex);
}

static void test_train_run_leaves_env(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    sf_err err;
    sf_datagen_opts go = {.n_orders = 300, .seed = 3, .from = SF_TIME_NONE, .to = SF_TIME_NONE};
    assert_int_equal(sf_datagen_write(&go, dir, NULL, &err), 0);
    sf_dataset ds;
    tu_dataset_load(&ds, dir);
    sf_training_events ev = {0};
    assert_int_equal(
        sf_lifecycle_events(&ds, &ev.orders, &ev.n_orders, &ev.reviews, &ev.n_reviews, &err), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/registry.db", dir);
    sf_registry *reg;
    assert_int_equal(sf_registry_open(&reg, path, NULL, &err), 0);
    sf_train_opts o;
    sf_train_opts_default(&o);
    o.threads = 1;
    o.gate.resamples = 50;
    sf_train_report rep;
    unsetenv("OMP_WAIT_POLICY");
    if (sf_train_run(&ev, reg, &o, &rep, &err) != 0)
        fail_msg("train: %s", err.msg);
    assert_unset("sf_train_run");
    sf_registry_close(reg);
    sf_training_events_free(&ev);
    sf_dataset_free(&ds);
    tu_rmtree(dir);
    free(dir);
}

/* Opening fails (the registry's directory does not exist), after the point
 * where the retrainer used to set the variable. */
static void test_retrainer_open_leaves_env(void **state)
{
    (void)state;
    static volatile sig_atomic_t stop = 0;
    sf_retrainer_opts o;
    sf_retrainer_opts_default(&o);
    o.brokers = "127.0.0.1:1";
    o.registry = "/nonexistent-satisfy-dir/registry.db";
    o.stop = &stop;
    sf_retrainer *r = NULL;
    sf_err err;
    unsetenv("OMP_WAIT_POLICY");
    assert_int_equal(sf_retrainer_open(&r, &o, &err), -1);
    assert_null(r);
    assert_unset("sf_retrainer_open");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gbdt_leaves_env),
        cmocka_unit_test(test_train_run_leaves_env),
        cmocka_unit_test(test_retrainer_open_leaves_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
