/*
 * test_store.c - the retrainer's example store and the events read back from
 * it: upserts are idempotent (a second replay changes no count), the stored
 * events give the very same training rows as the CSV tables they came from
 * (train/serve parity of the training input), a partial stream reads back
 * what was known, the retrain
 * mark counts new reviews, bad input and corrupt rows are refused with
 * context, predictions pair with reviews exactly once, and the online
 * accuracy window computes its RMSE over the last pairs only; the live
 * history's table gives each upsert a new sequence number, keeps the
 * published-through mark across a reopen (never lowered), drops published
 * tombstones only, lists the rows above a mark in sequence order, and an
 * order's stored events and reviews are found for the history's updates.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "satisfy/codec.h"
#include "satisfy/datagen.h"
#include "satisfy/features.h"
#include "satisfy/lifecycle.h"
#include "satisfy/online.h"
#include "satisfy/store.h"
#include "satisfy/train.h"
#include "satisfy/training_rows.h"

typedef struct fixture {
    char *dir;
    char path[512];
    sf_dataset ds;
    sf_event_ref *refs;
    size_t n_refs, n_order_events, n_reviews;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = tu_mkdtemp();
    sf_datagen_opts o = {.n_orders = 400, .seed = 5, .from = SF_TIME_NONE, .to = SF_TIME_NONE};
    sf_err err;
    if (sf_datagen_write(&o, f->dir, NULL, &err) != 0)
        fail_msg("datagen: %s", err.msg);
    sf_load_opts lo = {.strict = true};
    if (sf_dataset_load(&f->ds, f->dir, &lo, &err) != 0)
        fail_msg("load: %s", err.msg);
    f->n_refs = sf_lifecycle_build(&f->ds, SF_TIME_NONE, SF_TIME_NONE, &f->refs, &err);
    assert_true(f->n_refs != (size_t)-1);
    for (size_t i = 0; i < f->n_refs; i++) {
        if (f->refs[i].kind == SF_EV_ORDER)
            f->n_order_events++;
        else
            f->n_reviews++;
    }
    snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free(f->refs);
    sf_dataset_free(&f->ds);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* A new store file for one test (a removed file's -wal must not be reused). */
static void fresh_path(fixture *f, const char *name)
{
    snprintf(f->path, sizeof f->path, "%s/%s.db", f->dir, name);
}

/* Puts events [0, n) of the replay in one transaction; counts the "new" answers. */
static void put_events(sf_store *s, const fixture *f, size_t n, size_t *new_orders,
                       size_t *new_reviews)
{
    sf_err err;
    *new_orders = *new_reviews = 0;
    assert_int_equal(sf_store_begin(s, &err), 0);
    for (size_t i = 0; i < n; i++) {
        const sf_event_ref *r = &f->refs[i];
        int rc;
        if (r->kind == SF_EV_ORDER) {
            sf_order_event ev;
            assert_int_equal(sf_lifecycle_event(r->order, r->stage, &ev), 0);
            rc = sf_store_put_order(s, &ev, &err);
            *new_orders += rc == 1;
        } else {
            sf_review_event ev;
            sf_lifecycle_review(r->order, r->review, &ev);
            rc = sf_store_put_review(s, &ev, NULL, NULL, &err);
            *new_reviews += rc == 1;
        }
        if (rc < 0)
            fail_msg("event %zu: %s", i, err.msg);
    }
    assert_int_equal(sf_store_commit(s, &err), 0);
}

static void test_idempotent_upserts(void **state)
{
    fixture *f = *state;
    sf_store *s;
    sf_err err;
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    size_t no, nr;
    put_events(s, f, f->n_refs, &no, &nr);
    assert_int_equal(no, f->n_order_events);
    assert_int_equal(nr, f->n_reviews);
    sf_store_counts c1;
    assert_int_equal(sf_store_counts_get(s, &c1, &err), 0);
    assert_int_equal(c1.order_events, (int64_t)f->n_order_events);
    assert_int_equal(c1.orders, (int64_t)f->ds.n_orders);
    assert_int_equal(c1.reviews, (int64_t)f->n_reviews);
    assert_int_equal(c1.new_reviews, (int64_t)f->n_reviews);
    assert_true(c1.max_event_time >= f->refs[f->n_refs - 1].time);
    assert_int_equal(c1.min_event_time, f->refs[0].time);

    /* the whole replay again, then after a reopen: nothing is new */
    put_events(s, f, f->n_refs, &no, &nr);
    assert_int_equal(no, 0);
    assert_int_equal(nr, 0);
    sf_store_close(s);
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    put_events(s, f, f->n_refs, &no, &nr);
    assert_int_equal(no + nr, 0);
    sf_store_counts c2;
    assert_int_equal(sf_store_counts_get(s, &c2, &err), 0);
    assert_memory_equal(&c1, &c2, sizeof c1);
    assert_int_equal(sf_store_integrity_check(s, &err), 0);

    /* retrain mark: new reviews restart from zero, and a replay adds none */
    assert_int_equal(sf_store_mark_retrain(s, c2.max_event_time, &err), 0);
    put_events(s, f, f->n_refs, &no, &nr);
    sf_store_counts c3;
    assert_int_equal(sf_store_progress(s, &c3, &err), 0);
    assert_int_equal(c3.new_reviews, 0);
    assert_int_equal(c3.retrains, 1);
    assert_int_equal(c3.last_retrain_time, c2.max_event_time);
    assert_int_equal(c3.reviews, (int64_t)f->n_reviews);
    sf_store_close(s);
}

/* Asserts two row sets are equal: features bit for bit, labels, stages,
 * times, order ranks and the history at the end. */
static void assert_rows_eq(const sf_examples *a, const sf_history *ha, const sf_examples *b,
                           const sf_history *hb)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->d, b->d);
    assert_int_equal(a->n_orders, b->n_orders);
    assert_memory_equal(a->x, b->x, a->n * a->d * sizeof(float));
    assert_memory_equal(a->label, b->label, a->n * sizeof(float));
    assert_memory_equal(a->stage, b->stage, a->n * sizeof(sf_stage));
    assert_memory_equal(a->purchase, b->purchase, a->n * sizeof(int64_t));
    assert_memory_equal(a->event_time, b->event_time, a->n * sizeof(int64_t));
    assert_memory_equal(a->order, b->order, a->n * sizeof(size_t));
    uint8_t *sa, *sb;
    size_t la, lb;
    sf_err err;
    assert_int_equal(sf_history_save(ha, &sa, &la, &err), 0);
    assert_int_equal(sf_history_save(hb, &sb, &lb, &err), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(sa, sb, la);
    free(sa);
    free(sb);
}

/* Train/serve parity of the training input: the rows `satisfy-retrainer
 * train` builds from the CSV tables (through the lifecycle events) equal the
 * rows the streaming retrainer builds from the same events stored, encoded,
 * read back and decoded (in the store's order, not the replay's). */
static void test_store_events_same_rows(void **state)
{
    fixture *f = *state;
    sf_store *s;
    sf_err err;
    fresh_path(f, "t1");
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    size_t no, nr;
    put_events(s, f, f->n_refs, &no, &nr);
    sf_training_events ev;
    if (sf_store_events(s, &ev, &err) != 0)
        fail_msg("read back: %s", err.msg);
    assert_int_equal(ev.n_orders, f->n_order_events);
    assert_int_equal(ev.n_reviews, f->n_reviews);

    const sf_feature_spec *specs[2] = {sf_spec_full(), sf_spec_seed()};
    for (int k = 0; k < 2; k++) {
        sf_examples ea, eb;
        sf_history *ha, *hb;
        if (sf_train_rows_of_dataset(&ea, &f->ds, specs[k], SF_TIME_NONE, SF_TIME_NONE, &ha,
                                     &err) != 0 ||
            sf_training_rows_build(&eb, &ev, specs[k], SF_TIME_NONE, SF_TIME_NONE, &hb, &err) != 0)
            fail_msg("rows: %s", err.msg);
        assert_true(ea.n > 100);
        assert_int_equal(ea.n_orders, f->ds.n_orders);
        assert_int_equal(eb.n_orphan_reviews, 0);
        assert_rows_eq(&ea, ha, &eb, hb);
        for (size_t i = 0; i < ea.n; i++) /* the rank is the dataset's order */
            assert_int_equal(ea.label[i], sf_order_label(&f->ds.orders[ea.order[i]]));
        sf_examples_free(&ea);
        sf_examples_free(&eb);
        sf_history_free(ha);
        sf_history_free(hb);
    }
    sf_training_events_free(&ev);
    sf_store_close(s);
}

/* Half the stream: the events read back are what had happened, and the rows
 * built from them use only those. */
static void test_store_events_partial(void **state)
{
    fixture *f = *state;
    sf_store *s;
    sf_err err;
    fresh_path(f, "t2");
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    size_t half = f->n_refs / 2, no, nr;
    put_events(s, f, half, &no, &nr);
    int64_t cut = f->refs[half - 1].time;
    sf_training_events ev;
    assert_int_equal(sf_store_events(s, &ev, &err), 0);
    assert_int_equal(ev.n_orders + ev.n_reviews, half);
    size_t done = 0;
    for (size_t i = 0; i < ev.n_orders; i++) {
        assert_true(ev.orders[i].event_time <= cut);
        assert_true(ev.orders[i].delivered == SF_TIME_NONE || ev.orders[i].delivered <= cut);
        done += ev.orders[i].stage >= SF_STAGE_DELIVERED;
    }
    for (size_t i = 0; i < ev.n_reviews; i++)
        assert_true(ev.reviews[i].created <= cut);
    sf_store_counts c;
    assert_int_equal(sf_store_counts_get(s, &c, &err), 0);
    sf_examples ex;
    assert_int_equal(
        sf_training_rows_build(&ex, &ev, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, NULL, &err),
        0);
    assert_int_equal(ex.n_orders, (size_t)c.orders);
    assert_true(ex.n_orders < f->ds.n_orders);
    assert_true(done < ex.n_orders); /* some orders are still in flight */
    assert_true(ex.n > 0);
    for (size_t i = 0; i < ex.n; i++)
        assert_true(ex.event_time[i] <= cut);
    sf_examples_free(&ex);
    sf_training_events_free(&ev);
    sf_store_close(s);
}

static void test_bad_input(void **state)
{
    fixture *f = *state;
    sf_store *s;
    sf_err err;
    fresh_path(f, "t3");
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    const sf_order *o = &f->ds.orders[0];
    sf_order_event ev;
    assert_int_equal(sf_lifecycle_event(o, SF_STAGE_PURCHASED, &ev), 0);
    snprintf(ev.order_id, sizeof ev.order_id, "not-hex");
    assert_int_equal(sf_store_put_order(s, &ev, &err), SF_STORE_INVALID);
    assert_non_null(strstr(err.msg, "store: order not-hex"));
    assert_non_null(strstr(err.msg, "order_id"));

    sf_review_event rv;
    memset(&rv, 0, sizeof rv);
    memcpy(rv.review_id, o->order_id, sizeof rv.review_id);
    memcpy(rv.order_id, o->order_id, sizeof rv.order_id);
    rv.score = 7;
    rv.created = o->purchase;
    rv.answered = SF_TIME_NONE;
    assert_int_equal(sf_store_put_review(s, &rv, NULL, NULL, &err), SF_STORE_INVALID);
    assert_non_null(strstr(err.msg, "score: 7 out of range"));
    assert_non_null(strstr(err.msg, o->order_id));

    sf_prediction p;
    memset(&p, 0, sizeof p);
    memcpy(p.order_id, o->order_id, sizeof p.order_id);
    snprintf(p.event_id, sizeof p.event_id, "%s:DELIVERED", o->order_id);
    p.stage = SF_STAGE_DELIVERED;
    p.score = 4;
    p.p_dissatisfied = 1.5;
    assert_int_equal(sf_store_put_prediction(s, &p, NULL, NULL, &err), SF_STORE_INVALID);
    assert_non_null(strstr(err.msg, "p_dissatisfied"));
    assert_non_null(strstr(err.msg, ":DELIVERED"));

    sf_store_counts c;
    assert_int_equal(sf_store_counts_get(s, &c, &err), 0);
    assert_int_equal(c.order_events + c.reviews + c.predictions, 0);

    /* a corrupt stored body: the rebuild names the row */
    assert_int_equal(sf_lifecycle_event(o, SF_STAGE_PURCHASED, &ev), 0);
    assert_int_equal(sf_store_put_order(s, &ev, &err), 1);
    sf_store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE order_events SET body = x'0000000001ff'", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    sf_training_events tev;
    assert_int_equal(sf_store_events(s, &tev, &err), -1);
    assert_non_null(strstr(err.msg, "order_events row order_id="));
    assert_non_null(strstr(err.msg, o->order_id));
    sf_store_close(s);

    /* not a store: refused at open */
    char other[600];
    snprintf(other, sizeof other, "%s/other.db", f->dir);
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 9", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sf_store_open(&s, other, &err), -1);
    assert_non_null(strstr(err.msg, "schema version 9 is newer"));

    /* the rows builder refuses a stage given twice */
    sf_order_event two[2];
    assert_int_equal(sf_lifecycle_event(o, SF_STAGE_PURCHASED, &two[0]), 0);
    two[1] = two[0];
    sf_training_events in = {.orders = two, .n_orders = 2};
    sf_examples ex;
    assert_int_equal(
        sf_training_rows_build(&ex, &in, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, NULL, &err),
        -1);
    assert_non_null(strstr(err.msg, "stage PURCHASED given twice"));
    assert_non_null(strstr(err.msg, o->order_id));
    /* and counts reviews of unknown orders, which label nothing */
    rv.score = 5;
    memset(rv.order_id, 'f', SF_ID_LEN);
    in = (sf_training_events){.orders = two, .n_orders = 1, .reviews = &rv, .n_reviews = 1};
    assert_int_equal(
        sf_training_rows_build(&ex, &in, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, NULL, &err),
        0);
    assert_int_equal(ex.n_orphan_reviews, 1);
    assert_int_equal(ex.n_orders, 1);
    assert_int_equal(ex.n, 0);
    sf_examples_free(&ex);
}

static sf_prediction mk_pred(const sf_order *o, sf_stage st, int64_t version, double score)
{
    sf_prediction p;
    memset(&p, 0, sizeof p);
    memcpy(p.order_id, o->order_id, sizeof p.order_id);
    snprintf(p.event_id, sizeof p.event_id, "%s:%s", o->order_id, sf_stage_name(st));
    p.stage = st;
    p.score = score;
    p.p_dissatisfied = 0.25;
    p.model_version = version;
    p.event_time = o->purchase;
    return p;
}

static void test_pairing_once(void **state)
{
    fixture *f = *state;
    sf_store *s;
    sf_err err;
    fresh_path(f, "t4");
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    const sf_order *a = NULL, *b = NULL;
    for (size_t i = 0; i < f->ds.n_orders && !b; i++)
        if (f->ds.orders[i].n_reviews == 1) {
            if (!a)
                a = &f->ds.orders[i];
            else
                b = &f->ds.orders[i];
        }
    assert_non_null(b);
    sf_store_pair pair;
    int paired;
    sf_review_event rv;

    /* a: prediction first, then the review */
    sf_prediction p = mk_pred(a, SF_STAGE_SHIPPED, 3, 4.0);
    assert_int_equal(sf_store_put_prediction(s, &p, &pair, &paired, &err), 0); /* not delivered */
    p = mk_pred(a, SF_STAGE_DELIVERED, 3, 4.5);
    assert_int_equal(sf_store_put_prediction(s, &p, &pair, &paired, &err), 1);
    assert_int_equal(paired, 0);
    sf_lifecycle_review(a, 0, &rv);
    assert_int_equal(sf_store_put_review(s, &rv, &pair, &paired, &err), 1);
    assert_int_equal(paired, 1);
    assert_string_equal(pair.order_id, a->order_id);
    assert_int_equal(pair.model_version, 3);
    assert_true(pair.score == 4.5 && pair.label == rv.score && pair.p == 0.25);
    assert_int_equal(pair.event_time, rv.created);
    /* replays pair nothing more, and a paired prediction is not replaced */
    assert_int_equal(sf_store_put_review(s, &rv, &pair, &paired, &err), 0);
    assert_int_equal(paired, 0);
    p = mk_pred(a, SF_STAGE_DELIVERED, 4, 2.0);
    assert_int_equal(sf_store_put_prediction(s, &p, &pair, &paired, &err), 1);
    assert_int_equal(paired, 0);

    /* b: review first, then the prediction */
    sf_lifecycle_review(b, 0, &rv);
    assert_int_equal(sf_store_put_review(s, &rv, &pair, &paired, &err), 1);
    assert_int_equal(paired, 0);
    p = mk_pred(b, SF_STAGE_DELIVERED, 5, 3.0);
    assert_int_equal(sf_store_put_prediction(s, &p, &pair, &paired, &err), 1);
    assert_int_equal(paired, 1);
    assert_int_equal(pair.model_version, 5);
    assert_true(pair.label == rv.score);
    assert_int_equal(sf_store_put_prediction(s, &p, &pair, &paired, &err), 1);
    assert_int_equal(paired, 0);

    sf_store_counts c;
    assert_int_equal(sf_store_counts_get(s, &c, &err), 0);
    assert_int_equal(c.predictions, 2);
    assert_int_equal(c.paired, 2);
    sf_store_close(s);
}

static int collect_judged(void *arg, const sf_store_shadow_pair *p, sf_err *err)
{
    (void)err;
    sf_store_shadow_pair *out = arg;
    size_t i = 0;
    while (out[i].order_id[0])
        i++;
    out[i] = *p;
    return 0;
}

/* The shadow join: an order is judged once, when its challenger prediction,
 * the champion's and a review are all stored, in whatever order they come;
 * only delivered-stage shadow predictions count; the judged orders read
 * back by versions. */
static void test_shadow_join(void **state)
{
    fixture *f = *state;
    sf_store *s;
    sf_err err;
    fresh_path(f, "t_shadow");
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    const sf_order *o[3] = {NULL, NULL, NULL};
    size_t k = 0;
    for (size_t i = 0; i < f->ds.n_orders && k < 3; i++)
        if (f->ds.orders[i].n_reviews == 1)
            o[k++] = &f->ds.orders[i];
    assert_int_equal(k, 3);
    sf_store_pair pair;
    int paired;
    sf_review_event rv;
    sf_store_shadow_pair sp;

    /* o0: shadow, champion, review */
    sf_prediction sh = mk_pred(o[0], SF_STAGE_SHIPPED, 2, 3.0);
    assert_int_equal(sf_store_put_shadow(s, &sh, &err), 0); /* not delivered */
    sh = mk_pred(o[0], SF_STAGE_DELIVERED, 2, 3.5);
    assert_int_equal(sf_store_put_shadow(s, &sh, &err), 1);
    assert_int_equal(sf_store_shadow_join(s, o[0]->order_id, &sp, &err), 0);
    sf_prediction p = mk_pred(o[0], SF_STAGE_DELIVERED, 1, 4.5);
    assert_int_equal(sf_store_put_prediction(s, &p, &pair, &paired, &err), 1);
    assert_int_equal(sf_store_shadow_join(s, o[0]->order_id, &sp, &err), 0); /* no review */
    sf_lifecycle_review(o[0], 0, &rv);
    assert_int_equal(sf_store_put_review(s, &rv, &pair, &paired, &err), 1);
    assert_int_equal(sf_store_shadow_join(s, o[0]->order_id, &sp, &err), 1);
    assert_string_equal(sp.order_id, o[0]->order_id);
    assert_int_equal(sp.challenger_version, 2);
    assert_int_equal(sp.champion_version, 1);
    assert_true(sp.challenger_score == 3.5 && sp.champion_score == 4.5 && sp.label == rv.score);
    assert_int_equal(sp.event_time, rv.created);
    /* once only, and a judged one is not replaced */
    assert_int_equal(sf_store_shadow_join(s, o[0]->order_id, &sp, &err), 0);
    sh = mk_pred(o[0], SF_STAGE_DELIVERED, 2, 1.0);
    assert_int_equal(sf_store_put_shadow(s, &sh, &err), 1);
    assert_int_equal(sf_store_shadow_join(s, o[0]->order_id, &sp, &err), 0);

    /* o1: review, champion, shadow */
    sf_lifecycle_review(o[1], 0, &rv);
    assert_int_equal(sf_store_put_review(s, &rv, &pair, &paired, &err), 1);
    p = mk_pred(o[1], SF_STAGE_DELIVERED, 1, 2.0);
    assert_int_equal(sf_store_put_prediction(s, &p, &pair, &paired, &err), 1);
    assert_int_equal(sf_store_shadow_join(s, o[1]->order_id, &sp, &err), 0);
    sh = mk_pred(o[1], SF_STAGE_DELIVERED, 2, 2.5);
    assert_int_equal(sf_store_put_shadow(s, &sh, &err), 1);
    assert_int_equal(sf_store_shadow_join(s, o[1]->order_id, &sp, &err), 1);
    assert_true(sp.champion_score == 2.0 && sp.challenger_score == 2.5);

    /* o2: another challenger's (v3): judged, but not read back as v2's */
    sf_lifecycle_review(o[2], 0, &rv);
    assert_int_equal(sf_store_put_review(s, &rv, &pair, &paired, &err), 1);
    p = mk_pred(o[2], SF_STAGE_DELIVERED, 1, 2.0);
    assert_int_equal(sf_store_put_prediction(s, &p, &pair, &paired, &err), 1);
    sh = mk_pred(o[2], SF_STAGE_DELIVERED, 3, 2.5);
    assert_int_equal(sf_store_put_shadow(s, &sh, &err), 1);
    assert_int_equal(sf_store_shadow_join(s, o[2]->order_id, &sp, &err), 1);

    /* a bad prediction is refused with its reason */
    sh.score = 9;
    assert_int_equal(sf_store_put_shadow(s, &sh, &err), SF_STORE_INVALID);

    sf_store_shadow_pair got[4];
    memset(got, 0, sizeof got);
    assert_int_equal(sf_store_shadow_judged(s, 2, 1, collect_judged, got, &err), 2);
    assert_true(got[0].challenger_score == 3.5 || got[1].challenger_score == 3.5);
    assert_int_equal(sf_store_shadow_judged(s, 3, 1, collect_judged, got + 2, &err), 1);
    assert_int_equal(sf_store_shadow_judged(s, 2, 7, collect_judged, got + 3, &err), 0);
    sf_store_close(s);
}

static void test_online_window(void **state)
{
    (void)state;
    sf_err err;
    sf_online *o = sf_online_new(3, &err);
    assert_non_null(o);
    sf_online_stats st;
    assert_int_equal(sf_online_stats_get(o, 7, &st, &err), 0);
    assert_null(sf_online_json(o, 7, &err));
    assert_non_null(strstr(err.msg, "no pairs for model version 7"));
    /* errors 4, 4 (pushed out of the window), then 1, 0, 2 */
    assert_int_equal(sf_online_add(o, 7, 1, 5, 0.1, 10, &err), 0);
    assert_int_equal(sf_online_add(o, 7, 5, 1, 0.9, 20, &err), 0);
    assert_int_equal(sf_online_add(o, 7, 2, 3, 0.7, 30, &err), 0);
    assert_int_equal(sf_online_add(o, 7, 4, 4, 0.2, 40, &err), 0);
    assert_int_equal(sf_online_add(o, 7, 5, 3, 0.3, 35, &err), 0);
    assert_int_equal(sf_online_add(o, 8, 5, 5, 0.1, 50, &err), 0);
    assert_int_equal(sf_online_stats_get(o, 7, &st, &err), 1);
    assert_int_equal(st.n, 3);
    assert_int_equal(st.total, 5);
    assert_int_equal(st.window, 3);
    assert_int_equal(st.event_time, 40);
    assert_true(fabs(st.rmse - sqrt(5.0 / 3.0)) < 1e-12);
    assert_true(fabs(st.auc - 1.0) < 1e-12); /* the one 2-star review has the highest p */
    char *js = sf_online_json(o, 7, &err);
    assert_non_null(js);
    assert_non_null(strstr(js, "\"model_version\":7"));
    assert_non_null(strstr(js, "\"n\":3"));
    assert_non_null(strstr(js, "\"window\":3"));
    assert_non_null(strstr(js, "\"event_time\":40"));
    free(js);
    js = sf_online_json(o, 8, &err);
    assert_non_null(strstr(js, "\"auc\":null")); /* one class */
    free(js);
    assert_int_equal(sf_online_add(o, 7, 0, 3, 0.5, 1, &err), -1);
    assert_non_null(strstr(err.msg, "review score 0 out of range"));
    assert_int_equal(sf_online_add(o, 7, 3, 3, NAN, 1, &err), -1);
    assert_non_null(strstr(err.msg, "p_dissatisfied"));
    sf_online_free(o);
}

/* Event times outside the valid range (codec.h) are refused and move none of
 * the times the retrain schedule reads: a review created at 2^60 once made
 * the store's newest event time 2^60 and held interval retraining for good. */
static void test_time_range(void **state)
{
    fixture *f = *state;
    sf_store *s;
    sf_err err;
    fresh_path(f, "t6");
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    const sf_order *o = &f->ds.orders[0];
    sf_order_event ev;
    assert_int_equal(sf_lifecycle_event(o, SF_STAGE_PURCHASED, &ev), 0);
    assert_int_equal(sf_store_put_order(s, &ev, &err), 1);
    sf_store_counts before, after;
    assert_int_equal(sf_store_counts_get(s, &before, &err), 0);
    assert_int_equal(before.max_event_time, o->purchase);

    const int64_t bad[] = {1LL << 60, -5, SF_CODEC_TIME_MAX};
    for (int i = 0; i < 3; i++) {
        sf_review_event rv;
        memset(&rv, 0, sizeof rv);
        memcpy(rv.review_id, o->order_id, sizeof rv.review_id);
        memcpy(rv.order_id, o->order_id, sizeof rv.order_id);
        rv.score = 4;
        rv.created = bad[i];
        rv.answered = SF_TIME_NONE;
        assert_int_equal(sf_store_put_review(s, &rv, NULL, NULL, &err), SF_STORE_INVALID);
        assert_non_null(strstr(err.msg, "created:"));
        assert_non_null(strstr(err.msg, "is not a valid event time"));
        sf_order_event later = ev;
        later.stage = SF_STAGE_APPROVED;
        later.event_time = later.approved = bad[i];
        assert_int_equal(sf_store_put_order(s, &later, &err), SF_STORE_INVALID);
        assert_non_null(strstr(err.msg, "event_time:"));
    }
    assert_int_equal(sf_store_counts_get(s, &after, &err), 0);
    assert_int_equal(after.max_event_time, before.max_event_time);
    assert_int_equal(after.min_event_time, before.min_event_time);
    assert_int_equal(after.reviews + after.order_events, 1);
    sf_store_close(s);
}

typedef struct rows {
    int n;
    int64_t seq[8];
    uint8_t key0[8];
    size_t vlen[8];
} rows;

static int note_row(void *arg, const void *key, size_t klen, const void *val, size_t vlen,
                    int64_t seq, sf_err *err)
{
    (void)val, (void)err;
    rows *r = arg;
    assert_int_equal(klen, 9);
    assert_true(r->n < 8);
    r->seq[r->n] = seq;
    r->key0[r->n] = ((const uint8_t *)key)[8];
    r->vlen[r->n++] = vlen;
    return 0;
}

static void test_history_table(void **state)
{
    fixture *f = *state;
    fresh_path(f, "history");
    sf_store *s;
    sf_err err;
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    int64_t last = -1, mark = -1, seq;
    assert_int_equal(sf_store_history_marks(s, &last, &mark, &err), 0);
    assert_int_equal(last, 0);
    assert_int_equal(mark, 0);
    uint8_t k[3][9] = {{'s', 0, 0, 0, 0, 0, 0, 0, 1},
                       {'c', 0, 0, 0, 0, 0, 0, 0, 2},
                       {'o', 0, 0, 0, 0, 0, 0, 0, 3}};
    const uint8_t v[] = {1, 4, 1};
    assert_int_equal(sf_store_begin(s, &err), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sf_store_put_history(s, k[i], 9, v, sizeof v, &seq, &err), 0);
        assert_int_equal(seq, i + 1);
    }
    /* the seller again, the order as a tombstone */
    assert_int_equal(sf_store_put_history(s, k[0], 9, v, 2, &seq, &err), 0);
    assert_int_equal(seq, 4);
    assert_int_equal(sf_store_history_has(s, k[2], 9, &err), 1);
    assert_int_equal(sf_store_put_history(s, k[2], 9, NULL, 0, &seq, &err), 0);
    assert_int_equal(seq, 5);
    assert_int_equal(sf_store_history_has(s, k[2], 9, &err), 0);
    assert_int_equal(sf_store_commit(s, &err), 0);

    rows r = {0};
    assert_int_equal(sf_store_history_each(s, 2, note_row, &r, &err), 2);
    assert_int_equal(r.seq[0], 4);
    assert_int_equal(r.key0[0], 1);
    assert_int_equal(r.vlen[0], 2);
    assert_int_equal(r.seq[1], 5);
    assert_int_equal(r.vlen[1], 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(sf_store_history_each(s, -1, note_row, &r, &err), 2); /* no tombstone */

    /* published through 5: the tombstone goes, the others stay; the mark
     * survives a reopen and is never lowered; new rows come above it */
    assert_int_equal(sf_store_set_history_published(s, 0, 5, &err), 0);
    assert_int_equal(sf_store_set_history_published(s, 5, 3, &err), 0);
    sf_store_close(s);
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    assert_int_equal(sf_store_history_marks(s, &last, &mark, &err), 0);
    assert_int_equal(mark, 5);
    assert_int_equal(last, 5); /* the dropped tombstone's number is not given again */
    memset(&r, 0, sizeof r);
    assert_int_equal(sf_store_history_each(s, 0, note_row, &r, &err), 2);
    assert_int_equal(sf_store_begin(s, &err), 0);
    assert_int_equal(sf_store_put_history(s, k[1], 9, v, 3, &seq, &err), 0);
    assert_int_equal(seq, 6);
    assert_int_equal(sf_store_commit(s, &err), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(sf_store_history_each(s, mark, note_row, &r, &err), 1);
    assert_int_equal(r.key0[0], 2);

    /* an order's stored events and reviews */
    size_t no, nr;
    put_events(s, f, f->n_refs, &no, &nr);
    const sf_event_ref *rev = NULL;
    for (size_t i = 0; i < f->n_refs && !rev; i++)
        if (f->refs[i].kind != SF_EV_ORDER)
            rev = &f->refs[i];
    assert_non_null(rev);
    sf_review_event re;
    sf_lifecycle_review(rev->order, rev->review, &re);
    sf_order_event ev;
    int ended = -1;
    int n = sf_store_order_latest(s, re.order_id, &ev, &ended, &err);
    assert_true(n >= 1);
    assert_string_equal(ev.order_id, re.order_id);
    assert_int_equal(ended, ev.stage >= SF_STAGE_DELIVERED);
    sf_order_event_clear(&ev);
    assert_int_equal(sf_store_order_latest(s, "no such order", NULL, &ended, &err), 0);
    int scores[4];
    assert_true(sf_store_order_reviews(s, re.order_id, scores, 4, &err) >= 1);
    assert_true(scores[0] >= 1 && scores[0] <= 5);
    assert_int_equal(sf_store_order_reviews(s, "no such order", scores, 4, &err), 0);
    sf_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idempotent_upserts),   cmocka_unit_test(test_store_events_same_rows),
        cmocka_unit_test(test_store_events_partial), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_time_range),           cmocka_unit_test(test_pairing_once),
        cmocka_unit_test(test_shadow_join),          cmocka_unit_test(test_online_window),
        cmocka_unit_test(test_history_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
