/*
 * test_registry.c - registry.db: create, migrate from schema 1 and reopen;
 * refuse a newer schema; record runs (metrics, steps) and versions; promote
 * (the old champion is archived, the alias moves); refuse a corrupted
 * artifact; and survive a writer killed with SIGKILL mid-write (the file
 * reopens, integrity_check is ok, and what was committed is consistent).
 * Decisions: stored per version, listed in version order, a schema-2 file
 * migrates with its old versions listed without a decision, and the error
 * paths (unknown version, empty text, a callback that stops) say why.
 */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "satisfy/registry.h"
#include "satisfy/render.h"

static char *db_path(const char *dir)
{
    char *p = malloc(strlen(dir) + 32);
    sprintf(p, "%s/registry.db", dir);
    return p;
}

/* Direct SQL for the test's own checks and tampering. */
static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t add(sf_registry *r, int64_t run, const char *status, const uint8_t *art, size_t n,
                   const char *reason)
{
    sf_version_new v = {.run_id = run,
                        .algorithm = "gbdt",
                        .spec_hash = "0123456789abcdef",
                        .artifact = art,
                        .artifact_len = n,
                        .status = status,
                        .reason = reason,
                        .metrics_json = "{\"rmse\":1.05}",
                        .train_from = 1000,
                        .train_to = 2000,
                        .created = 3000};
    sf_err err = {{0}};
    int64_t ver = sf_registry_add_version(r, &v, &err);
    if (ver < 0)
        fail_msg("%s", err.msg);
    return ver;
}

static void test_create_migrate_reopen(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *path = db_path(dir);
    sf_err err = {{0}};
    sf_registry *r;
    sf_registry_opts v1 = {.target_version = 1};
    assert_int_equal(sf_registry_open(&r, path, &v1, &err), 0);
    assert_int_equal(sf_registry_schema_version(r), 1);
    sf_registry_close(r);

    /* A row written by a schema-1 build. */
    sqlite3 *db = raw_open(path);
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO model_versions(algorithm, spec_hash, artifact, "
                     "sha256, status, reason, created) VALUES('ridge', "
                     "'00000000000000aa', x'616263', "
                     "'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',"
                     " 'candidate', 'old', 7)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(sf_registry_open(&r, path, NULL, &err), 0);
    assert_int_equal(sf_registry_schema_version(r), SF_REGISTRY_SCHEMA);
    sf_version_row row;
    assert_int_equal(sf_registry_get_version(r, 1, true, &row, &err), 1);
    assert_string_equal(row.algorithm, "ridge");
    assert_string_equal(row.status, "candidate");
    assert_int_equal(row.artifact_len, 3);
    assert_memory_equal(row.artifact, "abc", 3);
    assert_null(row.metrics_json);
    sf_version_row_clear(&row);
    sf_registry_close(r);

    /* Reopen: nothing to migrate, WAL on, data kept. */
    assert_int_equal(sf_registry_open(&r, path, NULL, &err), 0);
    assert_int_equal(sf_registry_schema_version(r), SF_REGISTRY_SCHEMA);
    assert_int_equal(sf_registry_get_version(r, 1, false, &row, &err), 1);
    sf_version_row_clear(&row);
    assert_int_equal(sf_registry_get_version(r, 2, false, &row, &err), 0);
    assert_int_equal(sf_registry_integrity_check(r, &err), 0);
    sf_registry_close(r);
    db = raw_open(path);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);

    /* A file from a newer build is refused. */
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sf_registry_open(&r, path, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "schema version 99 is newer than this build supports"));
    assert_null(r);

    /* A directory is not a database. */
    assert_int_equal(sf_registry_open(&r, dir, NULL, &err), -1);
    assert_non_null(strstr(err.msg, dir));
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_runs_versions_promote(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *path = db_path(dir);
    sf_err err = {{0}};
    sf_registry *r;
    assert_int_equal(sf_registry_open(&r, path, NULL, &err), 0);
    int64_t exp = sf_registry_experiment(r, "batch", 10, &err);
    assert_true(exp > 0);
    assert_int_equal(sf_registry_experiment(r, "batch", 11, &err), exp);
    assert_true(sf_registry_experiment(r, "streaming", 12, &err) != exp);

    int64_t run = sf_registry_run_start(r, exp, 100, "{\"algorithm\":\"gbdt\"}", &err);
    assert_true(run > 0);
    sf_run_metric ms[2] = {{.model = "gbdt", .stage = "DELIVERED"},
                           {.model = "mean", .stage = "DELIVERED"}};
    ms[0].m =
        (sf_metrics){.n = 500, .rmse = 1.1, .mae = 0.8, .r2 = 0.2, .auc = 0.77, .pr_auc = 0.5};
    ms[1].m = (sf_metrics){.n = 500, .rmse = 1.3, .mae = 1.0, .r2 = 0.0, .auc = NAN, .pr_auc = NAN};
    sf_run_step steps[2] = {{"ingest", 1.5}, {"train", 4.25}};
    sf_run_end end = {.ended = 200,
                      .data_from = 1000,
                      .data_to = 5000,
                      .n_orders = 900,
                      .n_train = 700,
                      .n_test = 200,
                      .n_rows = 3000,
                      .metrics = ms,
                      .n_metrics = 2,
                      .steps = steps,
                      .n_steps = 2};
    assert_int_equal(sf_registry_run_finish(r, run, &end, &err), 0);
    assert_int_equal(sf_registry_run_finish(r, 999, &end, &err), -1);
    assert_non_null(strstr(err.msg, "no run 999 to finish"));

    const uint8_t a1[] = "artifact one", a2[] = "artifact two", a3[] = "artifact three";
    int64_t v1 = add(r, run, "candidate", a1, sizeof a1, "released: first");
    int64_t v2 = add(r, run, "candidate", a2, sizeof a2, "released: second");
    int64_t v3 = add(r, run, "rejected", a3, sizeof a3, "rejected: no gain");
    assert_int_equal(v2, v1 + 1);
    sf_version_row row;
    assert_int_equal(sf_registry_champion(r, &row, &err), 0);

    assert_int_equal(sf_registry_promote(r, v1, 300, &err), 0);
    assert_int_equal(sf_registry_champion(r, &row, &err), 1);
    assert_int_equal(row.version, v1);
    assert_string_equal(row.status, "champion");
    assert_memory_equal(row.artifact, a1, sizeof a1);
    sf_version_row_clear(&row);

    assert_int_equal(sf_registry_promote(r, v2, 400, &err), 0);
    assert_int_equal(sf_registry_champion(r, &row, &err), 1);
    assert_int_equal(row.version, v2);
    assert_string_equal(row.reason, "released: second");
    assert_string_equal(row.metrics_json, "{\"rmse\":1.05}");
    assert_int_equal(row.train_to, 2000);
    sf_version_row_clear(&row);
    assert_int_equal(sf_registry_get_version(r, v1, false, &row, &err), 1);
    assert_string_equal(row.status, "archived");
    assert_null(row.artifact);
    assert_int_equal(row.artifact_len, sizeof a1);
    sf_version_row_clear(&row);

    /* Refusals, each with its reason. */
    assert_int_equal(sf_registry_promote(r, v3, 500, &err), -1);
    assert_non_null(strstr(err.msg, "was rejected and cannot be promoted"));
    assert_int_equal(sf_registry_promote(r, 77, 500, &err), -1);
    assert_non_null(strstr(err.msg, "no version 77 to promote"));
    assert_int_equal(sf_registry_set_status(r, v2, "archived", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "is the champion"));
    assert_int_equal(sf_registry_set_status(r, v1, "champion", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "cannot be set directly"));
    sf_version_new bad = {.algorithm = "gbdt",
                          .spec_hash = "x",
                          .artifact = a1,
                          .artifact_len = 3,
                          .status = "champion"};
    assert_int_equal(sf_registry_add_version(r, &bad, &err), -1);
    assert_non_null(strstr(err.msg, "cannot add a version with status 'champion'"));
    bad.status = NULL;
    bad.artifact_len = 0;
    assert_int_equal(sf_registry_add_version(r, &bad, &err), -1);
    assert_non_null(strstr(err.msg, "empty artifact"));
    assert_int_equal(sf_registry_set_status(r, v1, "rejected", "superseded", &err), 0);
    assert_int_equal(sf_registry_get_version(r, v1, false, &row, &err), 1);
    assert_string_equal(row.status, "rejected");
    assert_string_equal(row.reason, "superseded");
    sf_version_row_clear(&row);

    /* JSON views. */
    cJSON *list = sf_registry_list_json(r, &err);
    assert_non_null(list);
    assert_int_equal(cJSON_GetArraySize(list), 3);
    cJSON *first = cJSON_GetArrayItem(list, 0);
    assert_int_equal((int)cJSON_GetObjectItem(first, "version")->valuedouble, (int)v3);
    assert_string_equal(cJSON_GetObjectItem(first, "status")->valuestring, "rejected");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "champion")));
    cJSON_Delete(list);

    cJSON *show = sf_registry_show_json(r, v2, &err);
    assert_non_null(show);
    cJSON *runj = cJSON_GetObjectItem(show, "run");
    assert_non_null(runj);
    assert_string_equal(cJSON_GetObjectItem(runj, "experiment")->valuestring, "batch");
    assert_string_equal(cJSON_GetObjectItem(runj, "status")->valuestring, "finished");
    assert_int_equal((int)cJSON_GetObjectItem(runj, "n_test")->valuedouble, 200);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(runj, "params"), "algorithm")->valuestring, "gbdt");
    cJSON *st = cJSON_GetObjectItem(show, "steps");
    assert_float_equal(cJSON_GetObjectItem(st, "train")->valuedouble, 4.25, 1e-12);
    cJSON *rm = cJSON_GetObjectItem(show, "run_metrics");
    assert_int_equal(cJSON_GetArraySize(rm), 2);
    cJSON *m0 = cJSON_GetArrayItem(rm, 0);
    assert_float_equal(cJSON_GetObjectItem(m0, "auc")->valuedouble, 0.77, 1e-12);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(rm, 1), "auc")));
    cJSON_Delete(show);
    assert_null(sf_registry_show_json(r, 4242, &err));
    assert_non_null(strstr(err.msg, "no version 4242"));

    sf_registry_close(r);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_corrupted_artifact(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *path = db_path(dir);
    sf_err err = {{0}};
    sf_registry *r;
    assert_int_equal(sf_registry_open(&r, path, NULL, &err), 0);
    uint8_t art[4096];
    for (size_t i = 0; i < sizeof art; i++)
        art[i] = (uint8_t)(i * 31);
    int64_t v = add(r, 0, "candidate", art, sizeof art, NULL);
    assert_int_equal(sf_registry_promote(r, v, 1, &err), 0);

    /* Flip one byte of the stored blob behind the registry's back. */
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE model_versions SET artifact = ?1", -1, &st, NULL),
        SQLITE_OK);
    art[100] ^= 0x01;
    sqlite3_bind_blob(st, 1, art, sizeof art, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);

    sf_version_row row;
    assert_int_equal(sf_registry_champion(r, &row, &err), -1);
    assert_non_null(strstr(err.msg, "loading the champion"));
    assert_non_null(strstr(err.msg, "artifact of version 1 is corrupt"));
    assert_non_null(strstr(err.msg, "does not match the recorded"));
    assert_null(row.artifact);
    assert_int_equal(sf_registry_get_version(r, v, true, &row, &err), -1);
    assert_non_null(strstr(err.msg, "is corrupt"));
    /* Metadata alone is still readable. */
    assert_int_equal(sf_registry_get_version(r, v, false, &row, &err), 1);
    sf_version_row_clear(&row);
    sf_registry_close(r);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* The child writes runs and versions (64 KiB artifacts, promotions) forever;
 * the parent kills it with SIGKILL once it has committed a few. */
static void writer(const char *path)
{
    sf_err err;
    sf_registry *r;
    if (sf_registry_open(&r, path, NULL, &err) != 0)
        _exit(2);
    int64_t exp = sf_registry_experiment(r, "crash", 1, &err);
    static uint8_t art[65536];
    sf_run_step steps[6] = {{"ingest", 1},   {"features", 1}, {"train", 1},
                            {"evaluate", 1}, {"gate", 1},     {"register", 1}};
    sf_run_metric ms[8];
    for (int i = 0; i < 8; i++)
        ms[i] = (sf_run_metric){
            .model = i < 4 ? "gbdt" : "mean",
            .stage = (const char *[]){"PURCHASED", "APPROVED", "SHIPPED", "DELIVERED"}[i % 4],
            .m = {.n = 10, .rmse = 1, .mae = 1, .r2 = 0, .auc = .5, .pr_auc = .5}};
    for (int64_t k = 0;; k++) {
        for (size_t i = 0; i < sizeof art; i++)
            art[i] = (uint8_t)(k + i * 7);
        int64_t run = sf_registry_run_start(r, exp, k, "{}", &err);
        sf_run_end end = {.ended = k, .metrics = ms, .n_metrics = 8, .steps = steps, .n_steps = 6};
        if (run < 0 || sf_registry_run_finish(r, run, &end, &err) != 0)
            _exit(3);
        sf_version_new v = {.run_id = run,
                            .algorithm = "gbdt",
                            .spec_hash = "0123456789abcdef",
                            .artifact = art,
                            .artifact_len = sizeof art,
                            .created = k};
        int64_t ver = sf_registry_add_version(r, &v, &err);
        if (ver < 0 || (k % 2 == 0 && sf_registry_promote(r, ver, k, &err) != 0))
            _exit(4);
    }
}

static void test_sigkill_mid_write(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *path = db_path(dir);
    sf_err err = {{0}};
    sf_registry *r;
    assert_int_equal(sf_registry_open(&r, path, NULL, &err), 0); /* created before the fork */
    sf_registry_close(r);

    for (int round = 0; round < 3; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            writer(path);
        /* Wait until some versions are committed, then kill at an arbitrary point. */
        sqlite3 *db = raw_open(path);
        int64_t before = raw_int(db, "SELECT count(*) FROM model_versions");
        for (int i = 0; i < 2000; i++) {
            if (raw_int(db, "SELECT count(*) FROM model_versions") >= before + 5 + round)
                break;
            usleep(2000);
        }
        sqlite3_close(db);
        struct timespec ts = {0, 1000000L * (3 + 7 * round)};
        nanosleep(&ts, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        assert_int_equal(sf_registry_open(&r, path, NULL, &err), 0);
        if (sf_registry_integrity_check(r, &err) != 0)
            fail_msg("%s", err.msg);
        db = raw_open(path);
        int64_t n = raw_int(db, "SELECT count(*) FROM model_versions");
        assert_true(n >= before + 5);
        /* Every committed version's artifact matches its sha256. */
        for (int64_t v = 1; v <= raw_int(db, "SELECT max(version) FROM model_versions"); v++) {
            sf_version_row row;
            int got = sf_registry_get_version(r, v, true, &row, &err);
            if (got != 1)
                fail_msg("version %lld: %d %s", (long long)v, got, err.msg);
            assert_int_equal(row.artifact_len, 65536);
            sf_version_row_clear(&row);
        }
        /* One champion, the alias on it; finished runs have all their rows. */
        assert_int_equal(raw_int(db, "SELECT count(*) FROM model_versions "
                                     "WHERE status = 'champion'"),
                         1);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM aliases a JOIN model_versions v "
                                     "ON v.version = a.version WHERE a.name = 'champion' "
                                     "AND v.status = 'champion'"),
                         1);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM runs r WHERE status = 'finished' AND "
                                     "((SELECT count(*) FROM run_steps s WHERE s.run_id = r.id) "
                                     "<> 6 OR (SELECT count(*) FROM run_metrics m "
                                     "WHERE m.run_id = r.id) <> 8)"),
                         0);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM runs r WHERE status = 'running' AND "
                                     "EXISTS(SELECT 1 FROM run_steps s WHERE s.run_id = r.id)"),
                         0);
        sqlite3_close(db);
        sf_version_row champ;
        assert_int_equal(sf_registry_champion(r, &champ, &err), 1);
        sf_version_row_clear(&champ);
        sf_registry_close(r);
    }
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* Collects what sf_registry_decisions yields; stops at stop_at. */
typedef struct seen {
    int n;
    int64_t versions[8];
    char json[8][64];
    int64_t stop_at;
} seen;

static int collect(void *arg, int64_t version, const char *json, sf_err *err)
{
    seen *s = arg;
    if (version == s->stop_at)
        return sf_errf(err, "stopped at %lld", (long long)version);
    assert_true(s->n < 8);
    s->versions[s->n] = version;
    snprintf(s->json[s->n], sizeof s->json[0], "%s", json);
    s->n++;
    return 0;
}

static void test_decisions(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *path = db_path(dir);
    sf_err err = {{0}};
    sf_registry *r;
    const uint8_t art[] = {1, 2, 3};

    /* A schema-2 file with one version: migrates, and that version has no decision. */
    sf_registry_opts v2 = {.target_version = 2};
    assert_int_equal(sf_registry_open(&r, path, &v2, &err), 0);
    assert_int_equal(sf_registry_schema_version(r), 2);
    assert_int_equal(add(r, 0, "candidate", art, 3, "old"), 1);
    sf_registry_close(r);
    sqlite3 *db = raw_open(path);
    assert_int_equal(sqlite3_exec(db, "SELECT decision_json FROM model_versions", NULL, NULL, NULL),
                     SQLITE_ERROR);
    sqlite3_close(db);
    assert_int_equal(sf_registry_open(&r, path, NULL, &err), 0);
    assert_int_equal(sf_registry_schema_version(r), SF_REGISTRY_SCHEMA);
    seen s = {0};
    assert_int_equal(sf_registry_decisions(r, collect, &s, &err), 0);
    assert_int_equal(s.n, 0);

    /* Stored out of order, listed in version order; a second store replaces. */
    assert_int_equal(add(r, 0, "rejected", art, 3, "rejected (x)"), 2);
    assert_int_equal(add(r, 0, "candidate", art, 3, "released (y)"), 3);
    assert_int_equal(add(r, 0, "rejected", art, 3, "rejected (z)"), 4);
    assert_int_equal(sf_registry_set_decision(r, 3, "{\"version\":3}", &err), 0);
    assert_int_equal(sf_registry_set_decision(r, 2, "{\"version\":2,\"first\":1}", &err), 0);
    assert_int_equal(sf_registry_set_decision(r, 2, "{\"version\":2}", &err), 0);
    assert_int_equal(sf_registry_decisions(r, collect, &s, &err), 2);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.versions[0], 2);
    assert_string_equal(s.json[0], "{\"version\":2}");
    assert_int_equal(s.versions[1], 3);
    assert_string_equal(s.json[1], "{\"version\":3}");

    /* Errors: unknown version, empty or missing text; nothing changed. */
    assert_int_equal(sf_registry_set_decision(r, 9, "{\"version\":9}", &err), -1);
    assert_non_null(strstr(err.msg, "no version 9 to store a decision for"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(sf_registry_set_decision(r, 4, "", &err), -1);
    assert_non_null(strstr(err.msg, "empty decision for version 4"));
    assert_int_equal(sf_registry_set_decision(r, 4, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "empty decision for version 4"));
    /* the failed writes left no transaction open: a write still works */
    assert_int_equal(sf_registry_set_decision(r, 4, "{\"version\":4}", &err), 0);

    /* A callback that stops: -1, its reason wrapped with the version. */
    seen stop = {.stop_at = 3};
    assert_int_equal(sf_registry_decisions(r, collect, &stop, &err), -1);
    assert_non_null(strstr(err.msg, "decision of version 3: stopped at 3"));
    assert_int_equal(stop.n, 1);
    sf_registry_close(r);

    /* Reopen: the decisions persist, other columns untouched. */
    assert_int_equal(sf_registry_open(&r, path, NULL, &err), 0);
    seen again = {0};
    assert_int_equal(sf_registry_decisions(r, collect, &again, &err), 3);
    assert_int_equal(again.versions[2], 4);
    assert_string_equal(again.json[2], "{\"version\":4}");
    sf_version_row row;
    assert_int_equal(sf_registry_get_version(r, 2, true, &row, &err), 1);
    assert_string_equal(row.status, "rejected");
    assert_string_equal(row.reason, "rejected (x)");
    sf_version_row_clear(&row);
    assert_int_equal(sf_registry_integrity_check(r, &err), 0);
    sf_registry_close(r);
    db = raw_open(path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM model_versions WHERE decision_json IS NULL"),
                     1);
    sqlite3_close(db);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_migrate_reopen),
        cmocka_unit_test(test_runs_versions_promote),
        cmocka_unit_test(test_corrupted_artifact),
        cmocka_unit_test(test_sigkill_mid_write),
        cmocka_unit_test(test_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
