/*
 * registry.c - registry.db over SQLite (see satisfy/registry.h).
 *
 * Every statement is prepared with bound values; each public write runs in
 * one BEGIN IMMEDIATE ... COMMIT so a crash (even SIGKILL mid-write) leaves
 * either all or none of it, which WAL and SQLite's journal guarantee. The
 * migrations below are append-only: a released database is only ever moved
 * forward by the steps it has not seen yet.
 */
#include "satisfy/registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "satisfy/grow.h"
#include "satisfy/serving_state.h"

struct sf_registry {
    sqlite3 *db;
    char *path;
};

/* Schema steps: MIGRATIONS[i] moves user_version i to i + 1. */
static const char *const MIGRATIONS[SF_REGISTRY_SCHEMA] = {
    /* 1: experiments, runs, versions, aliases. */
    "CREATE TABLE experiments("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE runs("
    "  id INTEGER PRIMARY KEY,"
    "  experiment_id INTEGER NOT NULL REFERENCES experiments(id),"
    "  status TEXT NOT NULL CHECK(status IN ('running','finished','failed')),"
    "  started INTEGER NOT NULL,"
    "  ended INTEGER,"
    "  params_json TEXT,"
    "  data_from INTEGER, data_to INTEGER,"
    "  n_orders INTEGER, n_train INTEGER, n_test INTEGER,"
    "  report_json TEXT);"
    "CREATE TABLE model_versions("
    "  version INTEGER PRIMARY KEY,"
    "  run_id INTEGER REFERENCES runs(id),"
    "  algorithm TEXT NOT NULL,"
    "  spec_hash TEXT NOT NULL,"
    "  artifact BLOB NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  status TEXT NOT NULL"
    "    CHECK(status IN ('candidate','champion','archived','rejected')),"
    "  reason TEXT,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE aliases("
    "  name TEXT PRIMARY KEY,"
    "  version INTEGER NOT NULL REFERENCES model_versions(version),"
    "  updated INTEGER NOT NULL);",
    /* 2: metrics and step durations as rows, training window and metrics on
     * versions, row counts of a run, one champion at most. */
    "CREATE TABLE run_metrics("
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  model TEXT NOT NULL, stage TEXT NOT NULL, n INTEGER NOT NULL,"
    "  rmse REAL, mae REAL, r2 REAL, auc REAL, pr_auc REAL,"
    "  PRIMARY KEY(run_id, model, stage));"
    "CREATE TABLE run_steps("
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  step TEXT NOT NULL, seconds REAL NOT NULL,"
    "  PRIMARY KEY(run_id, step));"
    "ALTER TABLE runs ADD COLUMN n_rows INTEGER;"
    "ALTER TABLE model_versions ADD COLUMN train_from INTEGER;"
    "ALTER TABLE model_versions ADD COLUMN train_to INTEGER;"
    "ALTER TABLE model_versions ADD COLUMN metrics_json TEXT;"
    "CREATE UNIQUE INDEX one_champion ON model_versions(status) WHERE status = 'champion';"
    "CREATE INDEX runs_experiment ON runs(experiment_id);",
    /* 3: the gate decision message of a version, to republish it (NULL for
     * versions registered before). */
    "ALTER TABLE model_versions ADD COLUMN decision_json TEXT;",
    /* 4: the serving history: every ServingState written (serving_state.h),
     * by epoch, so that a rollback knows where to go back to. */
    "CREATE TABLE serving("
    "epoch INTEGER PRIMARY KEY, champion INTEGER NOT NULL, "
    "challenger INTEGER NOT NULL DEFAULT 0, cause TEXT NOT NULL, reason TEXT NOT NULL, "
    "at INTEGER NOT NULL);",
    /* 5: shadow challenges (challenge.h): one row per challenge, open while
     * ended IS NULL. */
    "CREATE TABLE challenges("
    "id INTEGER PRIMARY KEY, challenger INTEGER NOT NULL, champion INTEGER NOT NULL, "
    "started INTEGER NOT NULL, reason TEXT NOT NULL, ended INTEGER, "
    "outcome TEXT CHECK(outcome IN ('promoted','retired','ended')), outcome_reason TEXT, "
    "result_json TEXT);",
};

static int db_fail(sf_registry *r, sf_err *err, const char *what)
{
    return sf_errf(err, "registry %s: %s: %s", r->path, what, sqlite3_errmsg(r->db));
}

static int exec(sf_registry *r, const char *sql, sf_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sf_errf(err, "registry %s: %s", r->path, msg ? msg : sqlite3_errmsg(r->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int begin(sf_registry *r, sf_err *err)
{
    return exec(r, "BEGIN IMMEDIATE", err);
}

static int commit(sf_registry *r, sf_err *err)
{
    return exec(r, "COMMIT", err);
}

static void rollback(sf_registry *r)
{
    if (!sqlite3_get_autocommit(r->db))
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Ends the transaction begin() opened: commits when rc is 0, and rolls back
 * when rc is not 0 or the commit fails. Returns 0, or -1 with err set. */
static int end_tx(sf_registry *r, int rc, sf_err *err)
{
    if (rc == 0 && commit(r, err) == 0)
        return 0;
    rollback(r);
    return -1;
}

static sqlite3_stmt *prep(sf_registry *r, const char *sql, sf_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(r, err, "prepare");
        return NULL;
    }
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i); /* NaN (undefined metric) is stored as NULL */
}

/* Runs a statement that returns no rows, then finalizes it. */
static int step_done(sf_registry *r, sqlite3_stmt *st, const char *what, sf_err *err)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : db_fail(r, err, what);
    sqlite3_finalize(st);
    return ret;
}

/* Runs sql, which returns no rows, with ?1 = a and, when it has a second
 * parameter, ?2 = b. */
static int exec_int64(sf_registry *r, const char *sql, int64_t a, int64_t b, const char *what,
                      sf_err *err)
{
    sqlite3_stmt *st = prep(r, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, b);
    return step_done(r, st, what, err);
}

static int user_version(sf_registry *r, int *out, sf_err *err)
{
    sqlite3_stmt *st = prep(r, "PRAGMA user_version", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return db_fail(r, err, "reading user_version");
    }
    *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return 0;
}

static int migrate(sf_registry *r, int target, sf_err *err)
{
    int v = 0;
    if (user_version(r, &v, err) != 0)
        return -1;
    if (v > SF_REGISTRY_SCHEMA)
        return sf_errf(err, "registry %s: schema version %d is newer than this build supports (%d)",
                       r->path, v, SF_REGISTRY_SCHEMA);
    for (; v < target; v++) {
        /* PRAGMA takes no bound parameters; the value is a compile-time
         * integer of ours, not input. */
        char set[64];
        snprintf(set, sizeof set, "PRAGMA user_version = %d", v + 1);
        if (begin(r, err) != 0)
            return -1;
        int rc = exec(r, MIGRATIONS[v], err) != 0 || exec(r, set, err) != 0;
        if (rc)
            sf_err_wrap(err, "migrating schema %d -> %d", v, v + 1);
        if (end_tx(r, rc, err) != 0)
            return -1;
    }
    return 0;
}

int sf_registry_open(sf_registry **out, const char *path, const sf_registry_opts *opts, sf_err *err)
{
    *out = NULL;
    int timeout = opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
    int target = opts && opts->target_version > 0 ? opts->target_version : SF_REGISTRY_SCHEMA;
    if (target > SF_REGISTRY_SCHEMA)
        return sf_errf(err, "registry: target schema %d is above the latest (%d)", target,
                       SF_REGISTRY_SCHEMA);
    sf_registry *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return sf_errf(err, "registry %s: out of memory", path);
    }
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        sf_errf(err, "registry %s: cannot open: %s", path,
                r->db ? sqlite3_errmsg(r->db) : "out of memory");
        sf_registry_close(r);
        return -1;
    }
    sqlite3_busy_timeout(r->db, timeout);
    sqlite3_extended_result_codes(r->db, 1);
    /* journal_mode returns a row; check that WAL was really taken. */
    sqlite3_stmt *st = prep(r, "PRAGMA journal_mode = WAL", err);
    if (!st) {
        sf_registry_close(r);
        return -1;
    }
    int rc = sqlite3_step(st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (!mode || strcmp(mode, "wal") != 0) {
        sf_errf(err, "registry %s: cannot enable WAL (%s)", path,
                mode ? mode : sqlite3_errmsg(r->db));
        sqlite3_finalize(st);
        sf_registry_close(r);
        return -1;
    }
    sqlite3_finalize(st);
    if (exec(r, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", err) != 0 ||
        migrate(r, target, err) != 0) {
        sf_registry_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

void sf_registry_close(sf_registry *r)
{
    if (!r)
        return;
    sqlite3_close(r->db);
    free(r->path);
    free(r);
}

int sf_registry_schema_version(sf_registry *r)
{
    int v = -1;
    if (user_version(r, &v, NULL) != 0)
        return -1;
    return v;
}

int sf_registry_integrity_check(sf_registry *r, sf_err *err)
{
    sqlite3_stmt *st = prep(r, "PRAGMA integrity_check", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return db_fail(r, err, "integrity_check");
    }
    const char *res = (const char *)sqlite3_column_text(st, 0);
    int ok = res && strcmp(res, "ok") == 0;
    if (!ok)
        sf_errf(err, "registry %s: integrity_check: %s", r->path, res ? res : "(null)");
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

/* The experiment's id into *id, inserting it first when missing. */
static int experiment_id(sf_registry *r, const char *name, int64_t now, int64_t *id, sf_err *err)
{
    sqlite3_stmt *st = prep(
        r, "INSERT INTO experiments(name, created) VALUES(?1, ?2) ON CONFLICT(name) DO NOTHING",
        err);
    if (!st)
        return -1;
    bind_text(st, 1, name);
    sqlite3_bind_int64(st, 2, now);
    if (step_done(r, st, "insert experiment", err) != 0)
        return -1;
    st = prep(r, "SELECT id FROM experiments WHERE name = ?1", err);
    if (!st)
        return -1;
    bind_text(st, 1, name);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : db_fail(r, err, "select experiment");
    if (rc == 0)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int64_t sf_registry_experiment(sf_registry *r, const char *name, int64_t now, sf_err *err)
{
    int64_t id = -1;
    if (begin(r, err) != 0 || end_tx(r, experiment_id(r, name, now, &id, err), err) != 0)
        return -1;
    return id;
}

int64_t sf_registry_run_start(sf_registry *r, int64_t experiment_id, int64_t started,
                              const char *params_json, sf_err *err)
{
    sqlite3_stmt *st = prep(r,
                            "INSERT INTO runs(experiment_id, status, started, params_json) "
                            "VALUES(?1, 'running', ?2, ?3)",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, experiment_id);
    sqlite3_bind_int64(st, 2, started);
    bind_text(st, 3, params_json);
    if (step_done(r, st, "insert run", err) != 0)
        return -1;
    return sqlite3_last_insert_rowid(r->db);
}

static int run_update(sf_registry *r, int64_t run_id, const sf_run_end *e, sf_err *err)
{
    sqlite3_stmt *st = prep(r,
                            "UPDATE runs SET status = ?2, ended = ?3, data_from = ?4, "
                            "data_to = ?5, n_orders = ?6, n_train = ?7, n_test = ?8, "
                            "n_rows = ?9, report_json = ?10 WHERE id = ?1",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, e->failed ? "failed" : "finished");
    sqlite3_bind_int64(st, 3, e->ended);
    sqlite3_bind_int64(st, 4, e->data_from);
    sqlite3_bind_int64(st, 5, e->data_to);
    sqlite3_bind_int64(st, 6, e->n_orders);
    sqlite3_bind_int64(st, 7, e->n_train);
    sqlite3_bind_int64(st, 8, e->n_test);
    sqlite3_bind_int64(st, 9, e->n_rows);
    bind_text(st, 10, e->report_json);
    if (step_done(r, st, "update run", err) != 0)
        return -1;
    if (sqlite3_changes(r->db) != 1)
        return sf_errf(err, "registry %s: no run %lld to finish", r->path, (long long)run_id);
    return 0;
}

static int run_metric_insert(sf_registry *r, int64_t run_id, const sf_run_metric *m, sf_err *err)
{
    sqlite3_stmt *st = prep(r,
                            "INSERT OR REPLACE INTO run_metrics(run_id, model, stage, n, rmse, "
                            "mae, r2, auc, pr_auc) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, m->model);
    bind_text(st, 3, m->stage);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)m->m.n);
    bind_real(st, 5, m->m.rmse);
    bind_real(st, 6, m->m.mae);
    bind_real(st, 7, m->m.r2);
    bind_real(st, 8, m->m.auc);
    bind_real(st, 9, m->m.pr_auc);
    return step_done(r, st, "insert run metric", err);
}

static int run_step_insert(sf_registry *r, int64_t run_id, const sf_run_step *s, sf_err *err)
{
    sqlite3_stmt *st =
        prep(r, "INSERT OR REPLACE INTO run_steps(run_id, step, seconds) VALUES(?1, ?2, ?3)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, s->step);
    sqlite3_bind_double(st, 3, s->seconds);
    return step_done(r, st, "insert run step", err);
}

static int run_write(sf_registry *r, int64_t run_id, const sf_run_end *e, sf_err *err)
{
    if (run_update(r, run_id, e, err) != 0)
        return -1;
    for (size_t i = 0; i < e->n_metrics; i++)
        if (run_metric_insert(r, run_id, &e->metrics[i], err) != 0)
            return -1;
    for (size_t i = 0; i < e->n_steps; i++)
        if (run_step_insert(r, run_id, &e->steps[i], err) != 0)
            return -1;
    return 0;
}

int sf_registry_run_finish(sf_registry *r, int64_t run_id, const sf_run_end *e, sf_err *err)
{
    if (begin(r, err) != 0)
        return -1;
    return end_tx(r, run_write(r, run_id, e, err), err);
}

static void sha256_hex(const uint8_t *buf, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

static bool status_ok(const char *s)
{
    return s && (strcmp(s, "candidate") == 0 || strcmp(s, "archived") == 0 ||
                 strcmp(s, "rejected") == 0);
}

int64_t sf_registry_add_version(sf_registry *r, const sf_version_new *v, sf_err *err)
{
    const char *status = v->status ? v->status : "candidate";
    if (!status_ok(status))
        return sf_errf(err,
                       "registry: cannot add a version with status '%s' "
                       "(candidate, archived or rejected; promote makes a champion)",
                       status);
    if (!v->artifact || v->artifact_len == 0)
        return sf_errf(err, "registry: empty artifact");
    if (!v->algorithm || !v->spec_hash)
        return sf_errf(err, "registry: version needs an algorithm and a spec hash");
    char sha[65];
    sha256_hex(v->artifact, v->artifact_len, sha);
    sqlite3_stmt *st =
        prep(r,
             "INSERT INTO model_versions(run_id, algorithm, spec_hash, artifact, sha256, status, "
             "reason, created, train_from, train_to, metrics_json) "
             "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
             err);
    if (!st)
        return -1;
    if (v->run_id > 0)
        sqlite3_bind_int64(st, 1, v->run_id);
    else
        sqlite3_bind_null(st, 1);
    bind_text(st, 2, v->algorithm);
    bind_text(st, 3, v->spec_hash);
    sqlite3_bind_blob64(st, 4, v->artifact, v->artifact_len, SQLITE_STATIC);
    bind_text(st, 5, sha);
    bind_text(st, 6, status);
    bind_text(st, 7, v->reason);
    sqlite3_bind_int64(st, 8, v->created);
    sqlite3_bind_int64(st, 9, v->train_from);
    sqlite3_bind_int64(st, 10, v->train_to);
    bind_text(st, 11, v->metrics_json);
    if (step_done(r, st, "insert version", err) != 0)
        return -1;
    return sqlite3_last_insert_rowid(r->db);
}

/* Status of a version into buf; 1 found, 0 missing, -1 error. */
static int version_status(sf_registry *r, int64_t version, char buf[12], sf_err *err)
{
    sqlite3_stmt *st = prep(r, "SELECT status FROM model_versions WHERE version = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version);
    int rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW) {
        snprintf(buf, 12, "%s", (const char *)sqlite3_column_text(st, 0));
        ret = 1;
    } else if (rc == SQLITE_DONE) {
        ret = 0;
    } else {
        ret = db_fail(r, err, "select version status");
    }
    sqlite3_finalize(st);
    return ret;
}

static int promote(sf_registry *r, int64_t version, int64_t now, sf_err *err)
{
    char status[12];
    int found = version_status(r, version, status, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return sf_errf(err, "registry %s: no version %lld to promote", r->path, (long long)version);
    if (strcmp(status, "rejected") == 0)
        return sf_errf(err, "registry %s: version %lld was rejected and cannot be promoted",
                       r->path, (long long)version);
    if (exec_int64(r,
                   "UPDATE model_versions SET status = 'archived' "
                   "WHERE status = 'champion' AND version <> ?1",
                   version, 0, "archive champion", err) != 0 ||
        exec_int64(r, "UPDATE model_versions SET status = 'champion' WHERE version = ?1", version,
                   0, "set champion", err) != 0 ||
        exec_int64(r,
                   "INSERT INTO aliases(name, version, updated) VALUES('champion', ?1, ?2) "
                   "ON CONFLICT(name) DO UPDATE SET version = excluded.version, "
                   "updated = excluded.updated",
                   version, now, "set alias", err) != 0)
        return -1;
    return 0;
}

int sf_registry_promote(sf_registry *r, int64_t version, int64_t now, sf_err *err)
{
    if (begin(r, err) != 0)
        return -1;
    return end_tx(r, promote(r, version, now, err), err);
}

static int set_status(sf_registry *r, int64_t version, const char *status, const char *reason,
                      sf_err *err)
{
    char cur[12];
    int found = version_status(r, version, cur, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return sf_errf(err, "registry %s: no version %lld", r->path, (long long)version);
    if (strcmp(cur, "champion") == 0)
        return sf_errf(err,
                       "registry %s: version %lld is the champion; promote another version first",
                       r->path, (long long)version);
    sqlite3_stmt *st = prep(r,
                            "UPDATE model_versions SET status = ?2, "
                            "reason = coalesce(?3, reason) WHERE version = ?1",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version);
    bind_text(st, 2, status);
    bind_text(st, 3, reason);
    return step_done(r, st, "set status", err);
}

int sf_registry_set_status(sf_registry *r, int64_t version, const char *status, const char *reason,
                           sf_err *err)
{
    if (!status_ok(status))
        return sf_errf(err, "registry: status '%s' cannot be set directly", status ? status : "");
    if (begin(r, err) != 0)
        return -1;
    return end_tx(r, set_status(r, version, status, reason, err), err);
}

static int set_decision(sf_registry *r, int64_t version, const char *json, sf_err *err)
{
    sqlite3_stmt *st =
        prep(r, "UPDATE model_versions SET decision_json = ?2 WHERE version = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version);
    bind_text(st, 2, json);
    if (step_done(r, st, "set decision", err) != 0)
        return -1;
    if (sqlite3_changes(r->db) != 1)
        return sf_errf(err, "registry %s: no version %lld to store a decision for", r->path,
                       (long long)version);
    return 0;
}

int sf_registry_set_decision(sf_registry *r, int64_t version, const char *json, sf_err *err)
{
    if (!json || !json[0])
        return sf_errf(err, "registry %s: empty decision for version %lld", r->path,
                       (long long)version);
    if (begin(r, err) != 0)
        return -1;
    return end_tx(r, set_decision(r, version, json, err), err);
}

int64_t sf_registry_decisions(sf_registry *r, sf_registry_decision_fn fn, void *arg, sf_err *err)
{
    sqlite3_stmt *st = prep(r,
                            "SELECT version, decision_json FROM model_versions "
                            "WHERE decision_json IS NOT NULL ORDER BY version",
                            err);
    if (!st)
        return -1;
    int64_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        if (fn(arg, v, (const char *)sqlite3_column_text(st, 1), err) != 0) {
            sqlite3_finalize(st);
            return sf_err_wrap(err, "registry %s: decision of version %lld", r->path, (long long)v);
        }
        n++;
    }
    if (rc != SQLITE_DONE)
        n = db_fail(r, err, "list decisions");
    sqlite3_finalize(st);
    return n;
}

void sf_version_row_clear(sf_version_row *v)
{
    free(v->reason);
    free(v->metrics_json);
    free(v->artifact);
    memset(v, 0, sizeof *v);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? strdup((const char *)s) : NULL;
}

static void col_copy(sqlite3_stmt *st, int i, char *buf, size_t len)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(buf, len, "%s", s ? (const char *)s : "");
}

#define VERSION_COLS                                                                               \
    "version, coalesce(run_id, 0), algorithm, spec_hash, sha256, status, reason, metrics_json, "   \
    "created, coalesce(train_from, 0), coalesce(train_to, 0), length(artifact)"

static int read_version(sf_registry *r, sqlite3_stmt *st, bool with_artifact, sf_version_row *out,
                        sf_err *err)
{
    memset(out, 0, sizeof *out);
    out->version = sqlite3_column_int64(st, 0);
    out->run_id = sqlite3_column_int64(st, 1);
    col_copy(st, 2, out->algorithm, sizeof out->algorithm);
    col_copy(st, 3, out->spec_hash, sizeof out->spec_hash);
    col_copy(st, 4, out->sha256, sizeof out->sha256);
    col_copy(st, 5, out->status, sizeof out->status);
    out->reason = col_dup(st, 6);
    out->metrics_json = col_dup(st, 7);
    out->created = sqlite3_column_int64(st, 8);
    out->train_from = sqlite3_column_int64(st, 9);
    out->train_to = sqlite3_column_int64(st, 10);
    out->artifact_len = (size_t)sqlite3_column_int64(st, 11);
    if (!with_artifact)
        return 0;
    const void *blob = sqlite3_column_blob(st, 12);
    size_t len = (size_t)sqlite3_column_bytes(st, 12);
    out->artifact = malloc(len ? len : 1);
    if (!out->artifact) {
        sf_version_row_clear(out);
        return sf_errf(err, "registry %s: out of memory for an artifact of %zu bytes", r->path,
                       len);
    }
    if (len)
        memcpy(out->artifact, blob, len);
    out->artifact_len = len;
    char sha[65];
    sha256_hex(out->artifact, len, sha);
    if (strcmp(sha, out->sha256) != 0) {
        sf_errf(err,
                "registry %s: artifact of version %lld is corrupt: sha256 %s does not match the "
                "recorded %s (%zu bytes)",
                r->path, (long long)out->version, sha, out->sha256, len);
        sf_version_row_clear(out);
        return -1;
    }
    return 0;
}

int sf_registry_get_version(sf_registry *r, int64_t version, bool with_artifact,
                            sf_version_row *out, sf_err *err)
{
    sqlite3_stmt *st = prep(r,
                            "SELECT " VERSION_COLS ", artifact FROM model_versions "
                            "WHERE version = ?1",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version);
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW)
        ret = read_version(r, st, with_artifact, out, err) == 0 ? 1 : -1;
    else if (rc == SQLITE_DONE)
        ret = 0;
    else
        ret = db_fail(r, err, "select version");
    sqlite3_finalize(st);
    return ret;
}

int sf_registry_champion(sf_registry *r, sf_version_row *out, sf_err *err)
{
    sqlite3_stmt *st = prep(r, "SELECT version FROM aliases WHERE name = 'champion'", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return db_fail(r, err, "select champion alias");
    }
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    int found = sf_registry_get_version(r, v, true, out, err);
    if (found == 0)
        return sf_errf(err, "registry %s: alias champion points to missing version %lld", r->path,
                       (long long)v);
    if (found < 0)
        return sf_err_wrap(err, "loading the champion");
    return 1;
}

const char *sf_registry_path(const sf_registry *r)
{
    return r->path;
}

int sf_registry_versions(sf_registry *r, sf_version_row **out, size_t *n, sf_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st =
        prep(r, "SELECT " VERSION_COLS " FROM model_versions ORDER BY version DESC", err);
    if (!st)
        return -1;
    sf_vec rows = SF_VEC(sf_version_row);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sf_version_row *v = sf_vec_push(&rows);
        if (!v)
            break;
        read_version(r, st, false, v, err);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        *out = rows.p;
        *n = rows.n;
        return 0;
    }
    if (rc == SQLITE_ROW)
        sf_errf(err, "registry %s: out of memory listing versions", r->path);
    else
        db_fail(r, err, "list versions");
    for (size_t i = 0; i < rows.n; i++)
        sf_version_row_clear(&((sf_version_row *)rows.p)[i]);
    sf_vec_free(&rows);
    return -1;
}

void sf_run_row_clear(sf_run_row *run)
{
    free(run->experiment);
    free(run->params_json);
    for (size_t i = 0; i < run->n_steps; i++)
        free(run->steps[i].step);
    for (size_t i = 0; i < run->n_metrics; i++) {
        free(run->metrics[i].model);
        free(run->metrics[i].stage);
    }
    free(run->steps);
    free(run->metrics);
    memset(run, 0, sizeof *run);
}

static int64_t col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? SF_REGISTRY_NULL
                                                     : sqlite3_column_int64(st, i);
}

static double col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* The runs row itself: 1 found, 0 missing, -1 error. */
static int read_run(sf_registry *r, int64_t run_id, sf_run_row *out, sf_err *err)
{
    sqlite3_stmt *st = prep(r,
                            "SELECT r.id, e.name, r.status, r.started, r.ended, r.params_json, "
                            "r.data_from, r.data_to, r.n_orders, r.n_train, r.n_test, r.n_rows "
                            "FROM runs r JOIN experiments e ON e.id = r.experiment_id "
                            "WHERE r.id = ?1",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st), found = rc == SQLITE_ROW;
    if (found) {
        out->id = sqlite3_column_int64(st, 0);
        out->experiment = col_dup(st, 1);
        col_copy(st, 2, out->status, sizeof out->status);
        out->started = col_int(st, 3);
        out->ended = col_int(st, 4);
        out->params_json = col_dup(st, 5);
        out->data_from = col_int(st, 6);
        out->data_to = col_int(st, 7);
        out->n_orders = col_int(st, 8);
        out->n_train = col_int(st, 9);
        out->n_test = col_int(st, 10);
        out->n_rows = col_int(st, 11);
    }
    sqlite3_finalize(st);
    if (!found && rc != SQLITE_DONE)
        return db_fail(r, err, "reading run");
    return found;
}

/* How a read loop ended: SQLITE_DONE is success, SQLITE_ROW means a row did
 * not fit in memory, anything else is the database's error. */
static int read_end(sf_registry *r, int rc, sf_err *err)
{
    if (rc == SQLITE_DONE)
        return 0;
    if (rc == SQLITE_ROW)
        return sf_errf(err, "registry %s: out of memory reading a run", r->path);
    return db_fail(r, err, "reading run");
}

static int read_steps(sf_registry *r, int64_t run_id, sf_run_row *out, sf_err *err)
{
    sqlite3_stmt *st =
        prep(r, "SELECT step, seconds FROM run_steps WHERE run_id = ?1 ORDER BY rowid", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    sf_vec v = SF_VEC(sf_run_step_row);
    int rc;
    sf_run_step_row *s;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && (s = sf_vec_push(&v))) {
        s->step = col_dup(st, 0);
        s->seconds = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    out->steps = v.p; /* sf_run_row_clear frees what was read */
    out->n_steps = v.n;
    return read_end(r, rc, err);
}

static int read_metrics(sf_registry *r, int64_t run_id, sf_run_row *out, sf_err *err)
{
    sqlite3_stmt *st = prep(r,
                            "SELECT model, stage, n, rmse, mae, r2, auc, pr_auc FROM run_metrics "
                            "WHERE run_id = ?1 ORDER BY rowid",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    sf_vec v = SF_VEC(sf_run_metric_row);
    int rc;
    sf_run_metric_row *m;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && (m = sf_vec_push(&v))) {
        m->model = col_dup(st, 0);
        m->stage = col_dup(st, 1);
        m->m.n = (size_t)sqlite3_column_int64(st, 2);
        m->m.rmse = col_real(st, 3);
        m->m.mae = col_real(st, 4);
        m->m.r2 = col_real(st, 5);
        m->m.auc = col_real(st, 6);
        m->m.pr_auc = col_real(st, 7);
    }
    sqlite3_finalize(st);
    out->metrics = v.p;
    out->n_metrics = v.n;
    return read_end(r, rc, err);
}

int sf_registry_get_run(sf_registry *r, int64_t run_id, sf_run_row *out, sf_err *err)
{
    memset(out, 0, sizeof *out);
    int found = read_run(r, run_id, out, err);
    if (found < 0 || read_steps(r, run_id, out, err) != 0 ||
        read_metrics(r, run_id, out, err) != 0) {
        sf_run_row_clear(out);
        return -1;
    }
    return found;
}

/* ---- serving history ------------------------------------------------- */

int sf_registry_serving_history(sf_registry *r, sf_serving_state **out, size_t *n, sf_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st =
        prep(r, "SELECT epoch, champion, challenger, cause, reason, at FROM serving ORDER BY epoch",
             err);
    if (!st)
        return -1;
    sf_vec v = SF_VEC(sf_serving_state);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sf_serving_state *s = sf_vec_push(&v);
        if (!s) {
            sqlite3_finalize(st);
            sf_vec_free(&v);
            return sf_errf(err, "registry %s: serving history: out of memory", r->path);
        }
        s->epoch = sqlite3_column_int64(st, 0);
        s->champion = sqlite3_column_int64(st, 1);
        s->challenger = sqlite3_column_int64(st, 2);
        col_copy(st, 3, s->cause, sizeof s->cause);
        col_copy(st, 4, s->reason, sizeof s->reason);
        s->at = sqlite3_column_int64(st, 5);
    }
    *out = v.p;
    *n = v.n;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_fail(r, err, "select serving history");
    }
    return 0;
}

int64_t sf_serving_rollback_target(const sf_serving_state *h, size_t n)
{
    /* The champions as a stack: a gate, promote or live change pushes its
     * champion, a rollback pops back to its own; the target is the entry
     * below the current champion. */
    int64_t *stack = malloc((n ? n : 1) * sizeof *stack);
    if (!stack)
        return -1;
    size_t top = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t c = h[i].champion;
        if (strcmp(h[i].cause, "rollback") == 0) {
            while (top > 0 && stack[top - 1] != c)
                top--;
            if (top == 0)
                stack[top++] = c;
        } else if (top == 0 || stack[top - 1] != c) {
            stack[top++] = c;
        }
    }
    int64_t target = 0;
    for (size_t i = top; i-- > 0;)
        if (top > 0 && stack[i] != stack[top - 1]) {
            target = stack[i];
            break;
        }
    free(stack);
    return target;
}

/* The newest epoch recorded (0 = none). */
static int last_epoch(sf_registry *r, int64_t *epoch, sf_err *err)
{
    sqlite3_stmt *st = prep(r, "SELECT COALESCE(MAX(epoch), 0) FROM serving", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *epoch = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(r, err, "select last epoch");
}

/* Cuts s (a NUL-terminated buffer) at the last whole UTF-8 character. */
static void cut_utf8(char *s)
{
    size_t rl = strlen(s), j = rl;
    while (j > 0 && ((unsigned char)s[j - 1] & 0xc0) == 0x80)
        j--;
    if (j > 0) {
        unsigned char c = (unsigned char)s[j - 1];
        size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (rl - (j - 1) < need)
            s[j - 1] = '\0';
    }
}

/* Adds a serving history row (epoch max(last + 1, min_epoch)) and fills
 * *out with it. Inside the caller's transaction. */
static int insert_state(sf_registry *r, int64_t champion, int64_t challenger, const char *cause,
                        const char *reason, int64_t min_epoch, int64_t at, sf_serving_state *out,
                        sf_err *err)
{
    int64_t last = 0;
    if (last_epoch(r, &last, err) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->epoch = last + 1 > min_epoch ? last + 1 : min_epoch;
    out->champion = champion;
    out->challenger = challenger;
    snprintf(out->cause, sizeof out->cause, "%s", cause);
    snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : "");
    cut_utf8(out->reason);
    out->at = at;
    if (sf_check_serving(out, err) != 0)
        return sf_err_wrap(err, "registry %s: serving state", r->path);
    sqlite3_stmt *st = prep(r,
                            "INSERT INTO serving(epoch, champion, challenger, cause, reason, at) "
                            "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, out->epoch);
    sqlite3_bind_int64(st, 2, out->champion);
    sqlite3_bind_int64(st, 3, out->challenger);
    bind_text(st, 4, out->cause);
    bind_text(st, 5, out->reason);
    sqlite3_bind_int64(st, 6, out->at);
    return step_done(r, st, "insert serving state", err);
}

/* Closes the open challenge (if any) with outcome, reason and numbers. */
static int close_challenge(sf_registry *r, const char *outcome, const char *reason,
                           const char *result_json, int64_t at, sf_err *err)
{
    sqlite3_stmt *st = prep(r,
                            "UPDATE challenges SET ended = ?1, outcome = ?2, outcome_reason = ?3, "
                            "result_json = ?4 WHERE ended IS NULL",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, at);
    bind_text(st, 2, outcome);
    bind_text(st, 3, reason);
    bind_text(st, 4, result_json);
    return step_done(r, st, "close challenge", err);
}

static int serve(sf_registry *r, int64_t version, const char *cause, const char *reason,
                 int64_t min_epoch, int64_t at, sf_serving_state *out, sf_err *err)
{
    char status[12];
    int found = version_status(r, version, status, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return sf_errf(err, "registry %s: no version %lld", r->path, (long long)version);
    bool by_hand = strcmp(cause, "promote") == 0 || strcmp(cause, "rollback") == 0;
    if (by_hand && strcmp(status, "champion") != 0 && strcmp(status, "archived") != 0)
        return sf_errf(err,
                       "registry %s: version %lld was never released (status %s): only a "
                       "version that has been champion can be served again",
                       r->path, (long long)version, status);
    char why[96];
    snprintf(why, sizeof why, "v%lld served (%s) before a decision", (long long)version, cause);
    if (promote(r, version, at, err) != 0 || close_challenge(r, "ended", why, NULL, at, err) != 0)
        return -1;
    return insert_state(r, version, 0, cause, reason, min_epoch, at, out, err);
}

int sf_registry_serve(sf_registry *r, int64_t version, const char *cause, const char *reason,
                      int64_t min_epoch, int64_t at, sf_serving_state *out, sf_err *err)
{
    if (begin(r, err) != 0)
        return -1;
    return end_tx(r, serve(r, version, cause, reason, min_epoch, at, out, err), err);
}

/* ---- shadow challenges ------------------------------------------------- */

void sf_challenge_row_clear(sf_challenge_row *c)
{
    free(c->reason);
    free(c->outcome_reason);
    free(c->result_json);
    memset(c, 0, sizeof *c);
}

static void read_challenge(sqlite3_stmt *st, sf_challenge_row *c)
{
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    c->challenger = sqlite3_column_int64(st, 1);
    c->champion = sqlite3_column_int64(st, 2);
    c->started = sqlite3_column_int64(st, 3);
    c->reason = col_dup(st, 4);
    c->ended = sqlite3_column_int64(st, 5);
    const char *o = (const char *)sqlite3_column_text(st, 6);
    snprintf(c->outcome, sizeof c->outcome, "%s", o ? o : "");
    c->outcome_reason = col_dup(st, 7);
    c->result_json = col_dup(st, 8);
}

#define CHALLENGE_COLS                                                                             \
    "SELECT id, challenger, champion, started, reason, COALESCE(ended, 0), outcome, "              \
    "outcome_reason, result_json FROM challenges "

int sf_registry_challenge_open(sf_registry *r, sf_challenge_row *out, sf_err *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = prep(r, CHALLENGE_COLS "WHERE ended IS NULL ORDER BY id DESC LIMIT 1", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        read_challenge(st, out);
        ret = out->reason ? 1 : sf_errf(err, "registry %s: out of memory", r->path);
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(r, err, "select open challenge");
    }
    sqlite3_finalize(st);
    return ret;
}

int sf_registry_challenges(sf_registry *r, sf_challenge_row **out, size_t *n, sf_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = prep(r, CHALLENGE_COLS "ORDER BY id", err);
    if (!st)
        return -1;
    sf_vec v = SF_VEC(sf_challenge_row);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sf_challenge_row *c = sf_vec_push(&v);
        if (!c) {
            rc = SQLITE_NOMEM;
            break;
        }
        read_challenge(st, c);
    }
    sqlite3_finalize(st);
    sf_challenge_row *rows = v.p;
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < v.n; i++)
            sf_challenge_row_clear(&rows[i]);
        free(rows);
        return rc == SQLITE_NOMEM ? sf_errf(err, "registry %s: out of memory", r->path)
                                  : db_fail(r, err, "select challenges");
    }
    *out = rows;
    *n = v.n;
    return 0;
}

/* The champion's version (0 when none). */
static int champion_version(sf_registry *r, int64_t *v, sf_err *err)
{
    sqlite3_stmt *st = prep(
        r, "SELECT COALESCE(MAX(version), 0) FROM model_versions WHERE status = 'champion'", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(r, err, "select champion");
}

static int challenge_start(sf_registry *r, int64_t version, const char *reason, int64_t min_epoch,
                           int64_t at, sf_serving_state *out, sf_err *err)
{
    char status[12];
    int found = version_status(r, version, status, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return sf_errf(err, "registry %s: no version %lld", r->path, (long long)version);
    int64_t champ = 0;
    if (champion_version(r, &champ, err) != 0)
        return -1;
    if (champ == 0)
        return sf_errf(err, "registry %s: no champion for v%lld to challenge", r->path,
                       (long long)version);
    if (champ == version)
        return sf_errf(err, "registry %s: v%lld is the champion: it cannot challenge itself",
                       r->path, (long long)version);
    sf_challenge_row open;
    int has = sf_registry_challenge_open(r, &open, err);
    int64_t running = open.challenger;
    sf_challenge_row_clear(&open);
    if (has < 0)
        return -1;
    if (has)
        return sf_errf(err,
                       "registry %s: the challenge of v%lld is still running (at most one "
                       "challenger at a time)",
                       r->path, (long long)running);
    sqlite3_stmt *st = prep(r,
                            "INSERT INTO challenges(challenger, champion, started, reason) "
                            "VALUES(?1, ?2, ?3, ?4)",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version);
    sqlite3_bind_int64(st, 2, champ);
    sqlite3_bind_int64(st, 3, at);
    bind_text(st, 4, reason ? reason : "");
    if (step_done(r, st, "insert challenge", err) != 0 ||
        exec_int64(r, "UPDATE model_versions SET status = 'candidate' WHERE version = ?1", version,
                   0, "set challenger candidate", err) != 0)
        return -1;
    return insert_state(r, champ, version, "challenger", reason, min_epoch, at, out, err);
}

int sf_registry_challenge_start(sf_registry *r, int64_t version, const char *reason,
                                int64_t min_epoch, int64_t at, sf_serving_state *out, sf_err *err)
{
    if (begin(r, err) != 0)
        return -1;
    return end_tx(r, challenge_start(r, version, reason, min_epoch, at, out, err), err);
}

static int challenge_end(sf_registry *r, int64_t version, const char *outcome, const char *reason,
                         const char *result_json, int64_t min_epoch, int64_t at,
                         sf_serving_state *out, sf_err *err)
{
    bool promoted = strcmp(outcome, "promoted") == 0;
    if (!promoted && strcmp(outcome, "retired") != 0)
        return sf_errf(err, "registry %s: challenge outcome '%s' is not promoted or retired",
                       r->path, outcome);
    sf_challenge_row open;
    int has = sf_registry_challenge_open(r, &open, err);
    int64_t running = open.challenger, champ = open.champion;
    sf_challenge_row_clear(&open);
    if (has < 0)
        return -1;
    if (!has || running != version)
        return has ? sf_errf(err, "registry %s: no open challenge of v%lld (v%lld's is open)",
                             r->path, (long long)version, (long long)running)
                   : sf_errf(err, "registry %s: no open challenge of v%lld (none is open)", r->path,
                             (long long)version);
    if (close_challenge(r, outcome, reason, result_json, at, err) != 0)
        return -1;
    if (promoted)
        return promote(r, version, at, err) != 0
                   ? -1
                   : insert_state(r, version, 0, "live", reason, min_epoch, at, out, err);
    if (champion_version(r, &champ, err) != 0 ||
        exec_int64(r, "UPDATE model_versions SET status = 'rejected' WHERE version = ?1", version,
                   0, "set retired rejected", err) != 0)
        return -1;
    return insert_state(r, champ, 0, "retire", reason, min_epoch, at, out, err);
}

int sf_registry_challenge_end(sf_registry *r, int64_t version, const char *outcome,
                              const char *reason, const char *result_json, int64_t min_epoch,
                              int64_t at, sf_serving_state *out, sf_err *err)
{
    if (begin(r, err) != 0)
        return -1;
    return end_tx(
        r, challenge_end(r, version, outcome, reason, result_json, min_epoch, at, out, err), err);
}
