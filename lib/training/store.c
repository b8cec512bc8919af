/*
 * store.c - the streaming retrainer's example store in SQLite (see
 * satisfy/store.h): idempotent upserts of order events, reviews and
 * delivered-stage predictions, retrain bookkeeping, and reading back the
 * events training learns from: all of them, or by event time (the range
 * reads of a training window, on the event-time indexes).
 *
 * "Insert or ignore, then update" gives each upsert a cheap answer to "was
 * this key new?", which the counters need, and never moves a row's sequence
 * number. Statements are prepared once and bound, never built from values.
 *
 * It also keeps the live history's records (the table history and its
 * published-through mark, for satisfy.history; history_pub.h).
 */
#include "satisfy/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "satisfy/codec.h"
#include "satisfy/grow.h"

enum {
    Q_ORD_INS,
    Q_ORD_UPD,
    Q_REV_INS,
    Q_REV_UPD,
    Q_PRED_FIND,
    Q_PRED_INS,
    Q_PRED_UPD,
    Q_PRED_PAIR,
    Q_REV_LATEST,
    Q_MAX_TIME,
    Q_MIN_TIME,
    Q_CHANGED,
    Q_SH_INS,
    Q_SH_FIND,
    Q_SH_MARK,
    Q_SH_JUDGED,
    Q_COUNT
};

static const char *const SQL[Q_COUNT] = {
    [Q_ORD_INS] = "INSERT OR IGNORE INTO order_events(order_id, stage, event_time, body) "
                  "VALUES (?1, ?2, ?3, ?4)",
    [Q_ORD_UPD] = "UPDATE order_events SET event_time = ?3, body = ?4 "
                  "WHERE order_id = ?1 AND stage = ?2 AND body IS NOT ?4",
    [Q_REV_INS] = "INSERT OR IGNORE INTO reviews(review_id, order_id, score, created, "
                  "answered, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_REV_UPD] = "UPDATE reviews SET score = ?3, created = ?4, answered = ?5, body = ?6 "
                  "WHERE review_id = ?1 AND order_id = ?2 AND body IS NOT ?6",
    [Q_PRED_FIND] = "SELECT model_version, score, p, paired FROM predictions WHERE order_id = ?1",
    [Q_PRED_INS] = "INSERT INTO predictions(order_id, model_version, score, p, event_time, "
                   "paired) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
    [Q_PRED_UPD] = "UPDATE predictions SET model_version = ?2, score = ?3, p = ?4, "
                   "event_time = ?5 WHERE order_id = ?1 AND paired = 0",
    [Q_PRED_PAIR] = "UPDATE predictions SET paired = 1, label = ?2 WHERE order_id = ?1",
    [Q_REV_LATEST] = "SELECT score, created FROM reviews WHERE order_id = ?1 "
                     "ORDER BY created DESC, answered DESC, review_id DESC LIMIT 1",
    [Q_MAX_TIME] = "INSERT INTO meta(key, value) VALUES ('max_event_time', ?1) "
                   "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
    [Q_MIN_TIME] = "INSERT INTO meta(key, value) VALUES ('min_event_time', ?1) "
                   "ON CONFLICT(key) DO UPDATE SET value = min(value, excluded.value)",
    [Q_CHANGED] = "INSERT INTO meta(key, value) VALUES ('changed_from', ?1) "
                  "ON CONFLICT(key) DO UPDATE SET value = min(value, excluded.value)",
    /* the challenger's delivered-stage predictions (satisfy.shadow) */
    [Q_SH_INS] = "INSERT INTO shadow(order_id, model_version, score, event_time, judged) "
                 "VALUES (?1, ?2, ?3, ?4, 0) ON CONFLICT(order_id) DO UPDATE SET "
                 "model_version = excluded.model_version, score = excluded.score, "
                 "event_time = excluded.event_time WHERE judged = 0",
    [Q_SH_FIND] = "SELECT s.model_version, s.score, p.model_version, p.score FROM shadow s "
                  "JOIN predictions p ON p.order_id = s.order_id "
                  "WHERE s.order_id = ?1 AND s.judged = 0",
    [Q_SH_MARK] = "UPDATE shadow SET judged = 1, label = ?2, champion_version = ?3, "
                  "champion_score = ?4, review_time = ?5 WHERE order_id = ?1",
    [Q_SH_JUDGED] = "SELECT order_id, label, champion_score, score, review_time FROM shadow "
                    "WHERE judged = 1 AND model_version = ?1 AND champion_version = ?2 "
                    "ORDER BY review_time, order_id",
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS order_events("
    " order_id TEXT NOT NULL, stage INTEGER NOT NULL, event_time INTEGER NOT NULL,"
    " body BLOB NOT NULL, PRIMARY KEY (order_id, stage)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS reviews("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, review_id TEXT NOT NULL, order_id TEXT NOT NULL,"
    " score INTEGER NOT NULL, created INTEGER NOT NULL, answered INTEGER,"
    " body BLOB NOT NULL, UNIQUE (review_id, order_id));"
    "CREATE INDEX IF NOT EXISTS reviews_order ON reviews(order_id);"
    "CREATE TABLE IF NOT EXISTS predictions("
    " order_id TEXT PRIMARY KEY, model_version INTEGER NOT NULL, score REAL NOT NULL,"
    " p REAL NOT NULL, event_time INTEGER NOT NULL, paired INTEGER NOT NULL DEFAULT 0,"
    " label REAL);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER);"
    /* event-time indexes: the range reads of a windowed retrain (added
     * without a schema version: an older build ignores them) */
    "CREATE INDEX IF NOT EXISTS order_events_time ON order_events(event_time);"
    "CREATE INDEX IF NOT EXISTS reviews_created ON reviews(created);"
    /* shadow challengers (challenge.h), added without a schema version too */
    "CREATE TABLE IF NOT EXISTS shadow("
    " order_id TEXT PRIMARY KEY, model_version INTEGER NOT NULL, score REAL NOT NULL,"
    " event_time INTEGER NOT NULL, judged INTEGER NOT NULL DEFAULT 0, label REAL,"
    " champion_version INTEGER, champion_score REAL, review_time INTEGER);"
    "CREATE INDEX IF NOT EXISTS shadow_judged ON shadow(model_version, champion_version)"
    " WHERE judged = 1;"
    "PRAGMA user_version = 1;";

/* The live history's records (satisfy.history), see store.h. Its own
 * statements (HQ_*) are prepared at open like the others. */
enum {
    HQ_PUT,
    HQ_HAS,
    HQ_PUBLISHED,
    HQ_SET_PUBLISHED,
    HQ_DROP_TOMBSTONES,
    HQ_ORDER,
    HQ_REVIEWS,
    HQ_COUNT
};

static const char HISTORY_SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS history("
    " key BLOB PRIMARY KEY, value BLOB, seq INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS history_seq ON history(seq);";

static const char *const HSQL[HQ_COUNT] = {
    [HQ_PUT] = "INSERT INTO history(key, value, seq) VALUES (?1, ?2, ?3) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value, seq = excluded.seq",
    [HQ_HAS] = "SELECT 1 FROM history WHERE key = ?1 AND value IS NOT NULL",
    [HQ_PUBLISHED] = "SELECT max(coalesce((SELECT max(seq) FROM history), 0),"
                     " coalesce((SELECT value FROM meta WHERE key = 'history_published'), 0)),"
                     " coalesce((SELECT value FROM meta WHERE key = 'history_published'), 0)",
    [HQ_SET_PUBLISHED] = "INSERT INTO meta(key, value) VALUES ('history_published', ?1) "
                         "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
    [HQ_DROP_TOMBSTONES] = "DELETE FROM history WHERE seq > ?1 AND seq <= ?2 AND value IS NULL",
    [HQ_ORDER] = "SELECT stage, body FROM order_events WHERE order_id = ?1 ORDER BY stage DESC",
    [HQ_REVIEWS] = "SELECT score FROM reviews WHERE order_id = ?1 ORDER BY created, answered, "
                   "review_id",
};

struct sf_store {
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
    sqlite3_stmt *hq[HQ_COUNT];
    int64_t hist_seq; /* the last seq given to a history row (-1: not read yet) */
    sf_buf buf;
    char path[256];
};

static int db_fail(sf_store *s, sf_err *err, const char *what)
{
    return sf_errf(err, "store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

void sf_store_close(sf_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    for (int i = 0; i < HQ_COUNT; i++)
        sqlite3_finalize(s->hq[i]);
    sqlite3_close(s->db);
    sf_buf_free(&s->buf);
    free(s);
}

int sf_store_open(sf_store **out, const char *path, sf_err *err)
{
    *out = NULL;
    sf_store *s = calloc(1, sizeof *s);
    if (!s)
        return sf_errf(err, "store %s: out of memory", path);
    snprintf(s->path, sizeof s->path, "%s", path);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        db_fail(s, err, "open");
        sf_store_close(s);
        return -1;
    }
    sqlite3_busy_timeout(s->db, 5000);
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL,
                          NULL, &msg);
    if (rc == SQLITE_OK) {
        sqlite3_free(msg);
        msg = NULL;
        /* refuse a file that is some other database */
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        int ver = 0;
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            ver = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (rc == SQLITE_OK && ver > 1) {
            sf_errf(err, "store %s: schema version %d is newer than this build's (1)", path, ver);
            sf_store_close(s);
            return -1;
        }
        rc = sqlite3_exec(s->db, SCHEMA, NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(s->db, HISTORY_SCHEMA, NULL, NULL, &msg);
    }
    if (rc != SQLITE_OK) {
        sf_errf(err, "store %s: cannot set up the schema: %s", path,
                msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        sf_store_close(s);
        return -1;
    }
    for (int i = 0; i < Q_COUNT; i++)
        if (sqlite3_prepare_v2(s->db, SQL[i], -1, &s->q[i], NULL) != SQLITE_OK) {
            db_fail(s, err, "prepare");
            sf_store_close(s);
            return -1;
        }
    for (int i = 0; i < HQ_COUNT; i++)
        if (sqlite3_prepare_v2(s->db, HSQL[i], -1, &s->hq[i], NULL) != SQLITE_OK) {
            db_fail(s, err, "prepare");
            sf_store_close(s);
            return -1;
        }
    s->hist_seq = -1;
    *out = s;
    return 0;
}

static int exec(sf_store *s, const char *sql, sf_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sf_errf(err, "store %s: %s: %s", s->path, sql, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int sf_store_begin(sf_store *s, sf_err *err)
{
    return exec(s, "BEGIN IMMEDIATE", err);
}

int sf_store_commit(sf_store *s, sf_err *err)
{
    return exec(s, "COMMIT", err);
}

void sf_store_rollback(sf_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs a prepared write; returns rows changed or -1. */
static int step_write(sf_store *s, sqlite3_stmt *st, sf_err *err, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_fail(s, err, what);
    return sqlite3_changes(s->db);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t t)
{
    if (t == SF_TIME_NONE)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, t);
}

/* Keeps the oldest event time of a row inserted or changed since the last
 * sf_store_take_changed_from: a window checkpoint older than it is stale. */
static int note_changed(sf_store *s, int64_t t, sf_err *err)
{
    if (t == SF_TIME_NONE) /* no event of the replay */
        return 0;
    sqlite3_stmt *st = s->q[Q_CHANGED];
    sqlite3_bind_int64(st, 1, t);
    return step_write(s, st, err, "meta changed_from") < 0 ? -1 : 0;
}

/* Keeps the newest event time seen, and the oldest order event time. */
static int note_time(sf_store *s, int64_t t, int is_order, sf_err *err)
{
    sqlite3_stmt *st = s->q[Q_MAX_TIME];
    sqlite3_bind_int64(st, 1, t);
    if (step_write(s, st, err, "meta max_event_time") < 0)
        return -1;
    if (!is_order)
        return 0;
    st = s->q[Q_MIN_TIME];
    sqlite3_bind_int64(st, 1, t);
    return step_write(s, st, err, "meta min_event_time") < 0 ? -1 : 0;
}

int sf_store_put_order(sf_store *s, const sf_order_event *ev, sf_err *err)
{
    if (sf_encode_order(ev, &s->buf, err) != 0) {
        sf_err_wrap(err, "store: order %.32s stage %d", ev->order_id, (int)ev->stage);
        return SF_STORE_INVALID;
    }
    for (int pass = 0; pass < 2; pass++) {
        sqlite3_stmt *st = s->q[pass ? Q_ORD_UPD : Q_ORD_INS];
        sqlite3_bind_text(st, 1, ev->order_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)ev->stage);
        sqlite3_bind_int64(st, 3, ev->event_time);
        sqlite3_bind_blob(st, 4, s->buf.data, (int)s->buf.len, SQLITE_STATIC);
        int n = step_write(s, st, err, "upsert order event");
        if (n < 0)
            return sf_err_wrap(err, "order %.32s", ev->order_id);
        if (n > 0 && note_changed(s, ev->event_time, err) != 0)
            return -1;
        if (n > 0 && pass == 0)
            return note_time(s, ev->event_time, 1, err) ? -1 : 1;
        if (pass == 1)
            break;
    }
    return note_time(s, ev->event_time, 1, err) ? -1 : 0;
}

/* Pairs the order's stored delivered prediction (unpaired) with label. */
static int try_pair(sf_store *s, const char *order_id, double label, int64_t t, sf_store_pair *pair,
                    int *paired, sf_err *err)
{
    if (paired)
        *paired = 0;
    if (!pair || !paired)
        return 0;
    sqlite3_stmt *st = s->q[Q_PRED_FIND];
    sqlite3_bind_text(st, 1, order_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_int(st, 3) == 0) {
        memset(pair, 0, sizeof *pair);
        snprintf(pair->order_id, sizeof pair->order_id, "%s", order_id);
        pair->model_version = sqlite3_column_int64(st, 0);
        pair->score = sqlite3_column_double(st, 1);
        pair->p = sqlite3_column_double(st, 2);
        pair->label = label;
        pair->event_time = t;
        *paired = 1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, err, "find prediction");
    if (!*paired)
        return 0;
    st = s->q[Q_PRED_PAIR];
    sqlite3_bind_text(st, 1, order_id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, label);
    return step_write(s, st, err, "pair prediction") < 0 ? -1 : 0;
}

int sf_store_put_review(sf_store *s, const sf_review_event *ev, sf_store_pair *pair, int *paired,
                        sf_err *err)
{
    if (paired)
        *paired = 0;
    if (sf_encode_review(ev, &s->buf, err) != 0) {
        sf_err_wrap(err, "store: review %.32s of order %.32s", ev->review_id, ev->order_id);
        return SF_STORE_INVALID;
    }
    int isnew = 0;
    for (int pass = 0; pass < 2; pass++) {
        sqlite3_stmt *st = s->q[pass ? Q_REV_UPD : Q_REV_INS];
        sqlite3_bind_text(st, 1, ev->review_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, ev->order_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, ev->score);
        sqlite3_bind_int64(st, 4, ev->created);
        bind_time(st, 5, ev->answered);
        sqlite3_bind_blob(st, 6, s->buf.data, (int)s->buf.len, SQLITE_STATIC);
        int n = step_write(s, st, err, "upsert review");
        if (n < 0)
            return sf_err_wrap(err, "review %.32s", ev->review_id);
        if (n > 0 && note_changed(s, ev->created, err) != 0)
            return -1;
        if (pass == 0 && n > 0) {
            isnew = 1;
            break;
        }
    }
    if (note_time(s, ev->created, 0, err) != 0 ||
        try_pair(s, ev->order_id, ev->score, ev->created, pair, paired, err) != 0)
        return -1;
    return isnew;
}

int sf_store_put_prediction(sf_store *s, const sf_prediction *p, sf_store_pair *pair, int *paired,
                            sf_err *err)
{
    if (paired)
        *paired = 0;
    if (sf_check_prediction(p, err) != 0) {
        sf_err_wrap(err, "store: prediction %.47s", p->event_id);
        return SF_STORE_INVALID;
    }
    if (p->stage != SF_STAGE_DELIVERED)
        return 0;
    sqlite3_stmt *st = s->q[Q_PRED_FIND];
    sqlite3_bind_text(st, 1, p->order_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, err, "find prediction");
    st = s->q[rc == SQLITE_ROW ? Q_PRED_UPD : Q_PRED_INS];
    sqlite3_bind_text(st, 1, p->order_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, p->model_version);
    sqlite3_bind_double(st, 3, p->score);
    sqlite3_bind_double(st, 4, p->p_dissatisfied);
    sqlite3_bind_int64(st, 5, p->event_time);
    if (step_write(s, st, err, "upsert prediction") < 0)
        return sf_err_wrap(err, "prediction %s", p->event_id);

    /* the order's latest review, if it has arrived already */
    st = s->q[Q_REV_LATEST];
    sqlite3_bind_text(st, 1, p->order_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    double label = 0;
    int64_t created = 0;
    if (rc == SQLITE_ROW) {
        label = sqlite3_column_int(st, 0);
        created = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, err, "find review");
    if (rc == SQLITE_ROW && try_pair(s, p->order_id, label, created, pair, paired, err) != 0)
        return -1;
    return 1;
}

/* ---- shadow challengers ---------------------------------------------- */

int sf_store_put_shadow(sf_store *s, const sf_prediction *p, sf_err *err)
{
    if (sf_check_prediction(p, err) != 0) {
        sf_err_wrap(err, "store: shadow prediction %.47s", p->event_id);
        return SF_STORE_INVALID;
    }
    if (p->stage != SF_STAGE_DELIVERED)
        return 0;
    sqlite3_stmt *st = s->q[Q_SH_INS];
    sqlite3_bind_text(st, 1, p->order_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, p->model_version);
    sqlite3_bind_double(st, 3, p->score);
    sqlite3_bind_int64(st, 4, p->event_time);
    if (step_write(s, st, err, "upsert shadow prediction") < 0)
        return sf_err_wrap(err, "shadow prediction %s", p->event_id);
    return 1;
}

int sf_store_shadow_join(sf_store *s, const char *order_id, sf_store_shadow_pair *out, sf_err *err)
{
    sqlite3_stmt *st = s->q[Q_SH_FIND];
    sqlite3_bind_text(st, 1, order_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        snprintf(out->order_id, sizeof out->order_id, "%s", order_id);
        out->challenger_version = sqlite3_column_int64(st, 0);
        out->challenger_score = sqlite3_column_double(st, 1);
        out->champion_version = sqlite3_column_int64(st, 2);
        out->champion_score = sqlite3_column_double(st, 3);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_fail(s, err, "find shadow prediction");
    st = s->q[Q_REV_LATEST];
    sqlite3_bind_text(st, 1, order_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->label = sqlite3_column_int(st, 0);
        out->event_time = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_fail(s, err, "find review");
    st = s->q[Q_SH_MARK];
    sqlite3_bind_text(st, 1, order_id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, out->label);
    sqlite3_bind_int64(st, 3, out->champion_version);
    sqlite3_bind_double(st, 4, out->champion_score);
    sqlite3_bind_int64(st, 5, out->event_time);
    return step_write(s, st, err, "judge shadow prediction") < 0 ? -1 : 1;
}

int64_t sf_store_shadow_judged(sf_store *s, int64_t challenger, int64_t champion,
                               sf_store_shadow_fn fn, void *arg, sf_err *err)
{
    sqlite3_stmt *st = s->q[Q_SH_JUDGED];
    sqlite3_bind_int64(st, 1, challenger);
    sqlite3_bind_int64(st, 2, champion);
    int64_t n = 0;
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        sf_store_shadow_pair p;
        memset(&p, 0, sizeof p);
        snprintf(p.order_id, sizeof p.order_id, "%s", (const char *)sqlite3_column_text(st, 0));
        p.challenger_version = challenger;
        p.champion_version = champion;
        p.label = sqlite3_column_double(st, 1);
        p.champion_score = sqlite3_column_double(st, 2);
        p.challenger_score = sqlite3_column_double(st, 3);
        p.event_time = sqlite3_column_int64(st, 4);
        n++;
        stop = fn(arg, &p, err) != 0;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (stop)
        return -1;
    if (rc != SQLITE_DONE)
        return db_fail(s, err, "read judged shadow predictions");
    return n;
}

static int64_t scalar(sf_store *s, const char *sql, int64_t dflt, sf_err *err, int *fail)
{
    sqlite3_stmt *st = NULL;
    int64_t v = dflt;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, sql);
        *fail = 1;
        return dflt;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_fail(s, err, sql);
        *fail = 1;
    }
    sqlite3_finalize(st);
    return v;
}

int sf_store_progress(sf_store *s, sf_store_counts *c, sf_err *err)
{
    int fail = 0;
    memset(c, 0, sizeof *c);
    c->reviews = scalar(s, "SELECT count(*) FROM reviews", 0, err, &fail);
    c->new_reviews = scalar(s,
                            "SELECT count(*) FROM reviews WHERE seq > "
                            "coalesce((SELECT value FROM meta WHERE key = 'retrain_seq'), 0)",
                            0, err, &fail);
    c->min_event_time =
        scalar(s, "SELECT value FROM meta WHERE key = 'min_event_time'", SF_TIME_NONE, err, &fail);
    c->max_event_time =
        scalar(s, "SELECT value FROM meta WHERE key = 'max_event_time'", SF_TIME_NONE, err, &fail);
    c->last_retrain_time =
        scalar(s, "SELECT value FROM meta WHERE key = 'retrain_time'", SF_TIME_NONE, err, &fail);
    c->retrains = scalar(s, "SELECT value FROM meta WHERE key = 'retrains'", 0, err, &fail);
    return fail ? -1 : 0;
}

int sf_store_counts_get(sf_store *s, sf_store_counts *c, sf_err *err)
{
    if (sf_store_progress(s, c, err) != 0)
        return -1;
    int fail = 0;
    c->orders = scalar(s, "SELECT count(DISTINCT order_id) FROM order_events", 0, err, &fail);
    c->order_events = scalar(s, "SELECT count(*) FROM order_events", 0, err, &fail);
    c->labeled_orders = scalar(s,
                               "SELECT count(DISTINCT r.order_id) FROM reviews r WHERE EXISTS "
                               "(SELECT 1 FROM order_events o WHERE o.order_id = r.order_id)",
                               0, err, &fail);
    c->predictions = scalar(s, "SELECT count(*) FROM predictions", 0, err, &fail);
    c->paired = scalar(s, "SELECT count(*) FROM predictions WHERE paired = 1", 0, err, &fail);
    return fail ? -1 : 0;
}

int sf_store_mark_retrain(sf_store *s, int64_t event_time, sf_err *err)
{
    if (sf_store_begin(s, err) != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    const char *sql =
        "INSERT INTO meta(key, value) VALUES"
        " ('retrain_seq', (SELECT coalesce(max(seq), 0) FROM reviews)), ('retrain_time', ?1),"
        " ('retrains', 1)"
        " ON CONFLICT(key) DO UPDATE SET value = CASE key WHEN 'retrains' THEN value + 1"
        " ELSE excluded.value END";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "mark retrain");
        sf_store_rollback(s);
        return -1;
    }
    sqlite3_bind_int64(st, 1, event_time);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        db_fail(s, err, "mark retrain");
        sf_store_rollback(s);
        return -1;
    }
    if (sf_store_commit(s, err) != 0) {
        sf_store_rollback(s);
        return -1;
    }
    return 0;
}

/* Decodes the order events, then the reviews, the two statements select
 * (order_id, stage, body) and (review_id, order_id, body), parameters ?1 ?2
 * bound to from and to, inside one read transaction. */
static int read_events(sf_store *s, const char *sql_ord, const char *sql_rev, int64_t from,
                       int64_t to, sf_training_events *out, sf_err *err)
{
    memset(out, 0, sizeof *out);
    sf_vec ords = SF_VEC(sf_order_event), revs = SF_VEC(sf_review_event);
    int rc = -1, began = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_get_autocommit(s->db)) {
        if (exec(s, "BEGIN", err) != 0)
            return -1;
        began = 1;
    }
    if (sqlite3_prepare_v2(s->db, sql_ord, -1, &st, NULL) != SQLITE_OK) {
        st = NULL;
        db_fail(s, err, "read order events");
        goto done;
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        sf_order_event *ev = sf_vec_push(&ords);
        if (!ev) {
            sf_errf(err, "store: out of memory reading order events");
            goto done;
        }
        if (sf_decode_order(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), ev,
                            err) != 0) {
            ords.n--;
            sf_err_wrap(err, "store %s: order_events row order_id=%s stage=%d", s->path,
                        (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1));
            goto done;
        }
    }
    if (r != SQLITE_DONE) {
        db_fail(s, err, "read order events");
        goto done;
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(s->db, sql_rev, -1, &st, NULL) != SQLITE_OK) {
        st = NULL;
        db_fail(s, err, "read reviews");
        goto done;
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        sf_review_event *ev = sf_vec_push(&revs);
        if (!ev) {
            sf_errf(err, "store: out of memory reading reviews");
            goto done;
        }
        if (sf_decode_review(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), ev,
                             err) != 0) {
            revs.n--;
            sf_err_wrap(err, "store %s: reviews row review_id=%s order_id=%s", s->path,
                        (const char *)sqlite3_column_text(st, 0),
                        (const char *)sqlite3_column_text(st, 1));
            goto done;
        }
    }
    if (r != SQLITE_DONE) {
        db_fail(s, err, "read reviews");
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(st);
    if (began)
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    out->orders = ords.p;
    out->n_orders = ords.n;
    out->reviews = revs.p;
    out->n_reviews = revs.n;
    if (rc != 0)
        sf_training_events_free(out);
    return rc;
}

int sf_store_events(sf_store *s, sf_training_events *out, sf_err *err)
{
    return read_events(s, "SELECT order_id, stage, body FROM order_events ORDER BY order_id, stage",
                       "SELECT review_id, order_id, body FROM reviews ORDER BY seq", 0, 0, out,
                       err);
}

/* [from, to) as the bound parameters ?1 ?2: SF_TIME_NONE is INT64_MIN, so
 * only an open end needs a value */
static void range_bounds(int64_t *to)
{
    if (*to == SF_TIME_NONE)
        *to = INT64_MAX;
}

int sf_store_events_range(sf_store *s, int64_t from, int64_t to, sf_training_events *out,
                          sf_err *err)
{
    range_bounds(&to);
    return read_events(s,
                       "SELECT order_id, stage, body FROM order_events"
                       " WHERE event_time >= ?1 AND event_time < ?2 ORDER BY event_time",
                       "SELECT review_id, order_id, body FROM reviews"
                       " WHERE created >= ?1 AND created < ?2 ORDER BY created",
                       from, to, out, err);
}

#define TOUCHED                                                                                    \
    "(SELECT order_id FROM order_events WHERE event_time >= ?1 AND event_time < ?2"                \
    " UNION SELECT order_id FROM reviews WHERE created >= ?1 AND created < ?2)"

int sf_store_events_touching(sf_store *s, int64_t from, int64_t to, sf_training_events *out,
                             sf_err *err)
{
    range_bounds(&to);
    return read_events(
        s, "SELECT order_id, stage, body FROM order_events WHERE order_id IN " TOUCHED,
        "SELECT review_id, order_id, body FROM reviews WHERE order_id IN " TOUCHED " ORDER BY seq",
        from, to, out, err);
}

int sf_store_next_time(sf_store *s, int64_t from, int64_t *next, sf_err *err)
{
    static const char *const q[2] = {
        "SELECT min(event_time) FROM order_events WHERE event_time >= ?1",
        "SELECT min(created) FROM reviews WHERE created >= ?1"};
    *next = SF_TIME_NONE;
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, q[i], -1, &st, NULL) != SQLITE_OK)
            return db_fail(s, err, "next event time");
        sqlite3_bind_int64(st, 1, from);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            int64_t v = sqlite3_column_int64(st, 0);
            if (*next == SF_TIME_NONE || v < *next)
                *next = v;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return db_fail(s, err, "next event time");
    }
    return 0;
}

int sf_store_take_changed_from(sf_store *s, int64_t *t, sf_err *err)
{
    int fail = 0;
    *t = scalar(s, "SELECT value FROM meta WHERE key = 'changed_from'", SF_TIME_NONE, err, &fail);
    if (fail)
        return -1;
    return exec(s, "DELETE FROM meta WHERE key = 'changed_from'", err);
}

int sf_store_integrity_check(sf_store *s, sf_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "integrity_check");
    int rc = sqlite3_step(st);
    const char *v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int ok = v && strcmp(v, "ok") == 0;
    if (!ok)
        sf_errf(err, "store %s: integrity_check: %s", s->path, v ? v : sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

/* ---- the live history's records (satisfy.history) ---- */

int sf_store_history_marks(sf_store *s, int64_t *last_seq, int64_t *published, sf_err *err)
{
    sqlite3_stmt *st = s->hq[HQ_PUBLISHED];
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        s->hist_seq = sqlite3_column_int64(st, 0);
        if (last_seq)
            *last_seq = s->hist_seq;
        if (published)
            *published = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : db_fail(s, err, "history marks");
}

int sf_store_put_history(sf_store *s, const void *key, size_t klen, const void *val, size_t vlen,
                         int64_t *seq, sf_err *err)
{
    if (s->hist_seq < 0 && sf_store_history_marks(s, NULL, NULL, err) != 0)
        return -1;
    sqlite3_stmt *st = s->hq[HQ_PUT];
    sqlite3_bind_blob(st, 1, key, (int)klen, SQLITE_STATIC);
    if (vlen > 0)
        sqlite3_bind_blob(st, 2, val, (int)vlen, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, s->hist_seq + 1);
    if (step_write(s, st, err, "upsert history record") < 0)
        return -1;
    *seq = ++s->hist_seq; /* a rolled-back batch leaves a gap: harmless */
    return 0;
}

int sf_store_history_has(sf_store *s, const void *key, size_t klen, sf_err *err)
{
    sqlite3_stmt *st = s->hq[HQ_HAS];
    sqlite3_bind_blob(st, 1, key, (int)klen, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, err, "find history record");
    return rc == SQLITE_ROW;
}

int sf_store_set_history_published(sf_store *s, int64_t from, int64_t seq, sf_err *err)
{
    sqlite3_stmt *st = s->hq[HQ_SET_PUBLISHED];
    sqlite3_bind_int64(st, 1, seq);
    if (step_write(s, st, err, "history published mark") < 0)
        return -1;
    st = s->hq[HQ_DROP_TOMBSTONES];
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, seq);
    return step_write(s, st, err, "drop published tombstones") < 0 ? -1 : 0;
}

int64_t sf_store_history_each(sf_store *s, int64_t after, sf_store_history_fn fn, void *arg,
                              sf_err *err)
{
    sqlite3_stmt *st = NULL;
    const char *sql = after < 0 ? "SELECT key, value, seq FROM history WHERE value IS NOT NULL"
                                : "SELECT key, value, seq FROM history WHERE seq > ?1 ORDER BY seq";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "read history records");
    if (after >= 0)
        sqlite3_bind_int64(st, 1, after);
    int64_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *k = sqlite3_column_blob(st, 0);
        size_t klen = (size_t)sqlite3_column_bytes(st, 0);
        const void *v = sqlite3_column_blob(st, 1);
        size_t vlen = (size_t)sqlite3_column_bytes(st, 1);
        if (fn(arg, k, klen, v, vlen, sqlite3_column_int64(st, 2), err) != 0) {
            sqlite3_finalize(st);
            return -1;
        }
        n++;
    }
    if (rc != SQLITE_DONE)
        n = db_fail(s, err, "read history records");
    sqlite3_finalize(st);
    return n;
}

int sf_store_order_latest(sf_store *s, const char *order_id, sf_order_event *ev, int *ended,
                          sf_err *err)
{
    sqlite3_stmt *st = s->hq[HQ_ORDER];
    sqlite3_bind_text(st, 1, order_id, -1, SQLITE_STATIC);
    int n = 0, rc;
    *ended = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int stage = sqlite3_column_int(st, 0);
        *ended |= stage == SF_STAGE_DELIVERED || stage == SF_STAGE_CANCELED ||
                  stage == SF_STAGE_UNAVAILABLE;
        if (n++ == 0 && ev &&
            sf_decode_order(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), ev,
                            err) != 0) {
            sf_err_wrap(err, "store %s: order_events row order_id=%s stage=%d", s->path, order_id,
                        stage);
            n = -1;
            break;
        }
    }
    if (n >= 0 && rc != SQLITE_DONE) {
        if (n > 0 && ev)
            sf_order_event_clear(ev);
        n = db_fail(s, err, "read order events");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return n;
}

int sf_store_order_reviews(sf_store *s, const char *order_id, int *scores, int max, sf_err *err)
{
    sqlite3_stmt *st = s->hq[HQ_REVIEWS];
    sqlite3_bind_text(st, 1, order_id, -1, SQLITE_STATIC);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (n < max)
            scores[n++] = sqlite3_column_int(st, 0);
    if (rc != SQLITE_DONE)
        n = db_fail(s, err, "read reviews of an order");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return n;
}
