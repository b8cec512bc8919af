/*
 * test_store_window.c - the streaming retrainer's training window (window.h)
 * and the store's range reads under it: a range read returns exactly the
 * events in range, a "touching" read every event of the orders touched in
 * range, and the rows built from the history checkpoint plus the window's
 * events equal, bit for bit, the rows of a full build restricted to the same
 * window - on generated data and on the real sample when OLIST_DIR is set.
 * A late event before the checkpoint makes the next advance rebuild it.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/datagen.h"
#include "satisfy/features.h"
#include "satisfy/lifecycle.h"
#include "satisfy/store.h"
#include "satisfy/training_rows.h"
#include "satisfy/window.h"

typedef struct fixture {
    char *dir;
    char path[512];
    sf_dataset ds;
    sf_training_events ev; /* every event of the dataset (borrowing ds) */
    int64_t first, last;   /* event time range */
} fixture;

static void fill(sf_store *s, const sf_training_events *ev)
{
    sf_err err;
    assert_int_equal(sf_store_begin(s, &err), 0);
    for (size_t i = 0; i < ev->n_orders; i++)
        if (sf_store_put_order(s, &ev->orders[i], &err) < 0)
            fail_msg("put order %zu: %s", i, err.msg);
    for (size_t i = 0; i < ev->n_reviews; i++)
        if (sf_store_put_review(s, &ev->reviews[i], NULL, NULL, &err) < 0)
            fail_msg("put review %zu: %s", i, err.msg);
    assert_int_equal(sf_store_commit(s, &err), 0);
}

static void time_span(fixture *f)
{
    f->first = INT64_MAX;
    f->last = INT64_MIN;
    for (size_t i = 0; i < f->ev.n_orders; i++) {
        int64_t t = f->ev.orders[i].event_time;
        f->first = t < f->first ? t : f->first;
        f->last = t > f->last ? t : f->last;
    }
    for (size_t i = 0; i < f->ev.n_reviews; i++) {
        int64_t t = f->ev.reviews[i].created;
        f->first = t < f->first ? t : f->first;
        f->last = t > f->last ? t : f->last;
    }
}

/* The dataset in dir as events, stored in f->path. */
static fixture *make(const char *dir, const char *tmp)
{
    fixture *f = calloc(1, sizeof *f);
    tu_dataset_load(&f->ds, dir);
    sf_err err;
    if (sf_lifecycle_events(&f->ds, &f->ev.orders, &f->ev.n_orders, &f->ev.reviews,
                            &f->ev.n_reviews, &err) != 0)
        fail_msg("lifecycle: %s", err.msg);
    time_span(f);
    snprintf(f->path, sizeof f->path, "%s/store.db", tmp);
    sf_store *s;
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    fill(s, &f->ev);
    sf_store_close(s);
    return f;
}

static int setup(void **state)
{
    char *dir = tu_mkdtemp();
    sf_datagen_opts o = {.n_orders = 600, .seed = 11, .from = SF_TIME_NONE, .to = SF_TIME_NONE};
    sf_err err;
    if (sf_datagen_write(&o, dir, NULL, &err) != 0)
        fail_msg("datagen: %s", err.msg);
    fixture *f = make(dir, dir);
    f->dir = dir;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sf_training_events_free(&f->ev);
    sf_dataset_free(&f->ds);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int in_range(int64_t t, int64_t from, int64_t to)
{
    return t >= from && (to == SF_TIME_NONE || t < to);
}

static int has_order_event(const sf_training_events *ev, const char *id, sf_stage st)
{
    for (size_t i = 0; i < ev->n_orders; i++)
        if (ev->orders[i].stage == st && strcmp(ev->orders[i].order_id, id) == 0)
            return 1;
    return 0;
}

static int has_review(const sf_training_events *ev, const char *rid, const char *oid)
{
    for (size_t i = 0; i < ev->n_reviews; i++)
        if (strcmp(ev->reviews[i].review_id, rid) == 0 && strcmp(ev->reviews[i].order_id, oid) == 0)
            return 1;
    return 0;
}

/* Is order id touched in [from, to) in all? */
static int touched(const sf_training_events *all, const char *id, int64_t from, int64_t to)
{
    for (size_t i = 0; i < all->n_orders; i++)
        if (strcmp(all->orders[i].order_id, id) == 0 &&
            in_range(all->orders[i].event_time, from, to))
            return 1;
    for (size_t i = 0; i < all->n_reviews; i++)
        if (strcmp(all->reviews[i].order_id, id) == 0 &&
            in_range(all->reviews[i].created, from, to))
            return 1;
    return 0;
}

/* A range read returns exactly the events in range; a touching read every
 * event (and review) of the orders touched in range, and nothing else. */
static void test_range_reads(void **state)
{
    fixture *f = *state;
    sf_store *s;
    sf_err err;
    assert_int_equal(sf_store_open(&s, f->path, &err), 0);
    int64_t span = f->last - f->first;
    const int64_t cuts[][2] = {
        {f->first, f->first + span / 3},     {f->first + span / 3, f->first + span / 2},
        {f->first + span / 2, SF_TIME_NONE}, {SF_TIME_NONE, f->first + span / 4},
        {f->last + 1, SF_TIME_NONE}, /* empty */
    };
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
        int64_t from = cuts[c][0], to = cuts[c][1];
        sf_training_events r, t;
        assert_int_equal(sf_store_events_range(s, from, to, &r, &err), 0);
        assert_int_equal(sf_store_events_touching(s, from, to, &t, &err), 0);
        size_t want_o = 0, want_r = 0, touch_o = 0, touch_r = 0;
        for (size_t i = 0; i < f->ev.n_orders; i++) {
            const sf_order_event *e = &f->ev.orders[i];
            int in = in_range(e->event_time, from, to);
            want_o += in;
            assert_int_equal(has_order_event(&r, e->order_id, e->stage), in);
            int tch = touched(&f->ev, e->order_id, from, to);
            touch_o += tch;
            assert_int_equal(has_order_event(&t, e->order_id, e->stage), tch);
        }
        for (size_t i = 0; i < f->ev.n_reviews; i++) {
            const sf_review_event *e = &f->ev.reviews[i];
            int in = in_range(e->created, from, to);
            want_r += in;
            assert_int_equal(has_review(&r, e->review_id, e->order_id), in);
            int tch = touched(&f->ev, e->order_id, from, to);
            touch_r += tch;
            assert_int_equal(has_review(&t, e->review_id, e->order_id), tch);
        }
        assert_int_equal(r.n_orders, want_o);
        assert_int_equal(r.n_reviews, want_r);
        assert_int_equal(t.n_orders, touch_o);
        assert_int_equal(t.n_reviews, touch_r);
        if (c < 3)
            assert_true(want_o > 0 && want_r > 0 && touch_o >= want_o && touch_r >= want_r);
        if (c == 2) /* an open end: labels that arrive after every order event */
            assert_true(touch_r > 0);
        sf_training_events_free(&r);
        sf_training_events_free(&t);
    }
    int64_t next;
    assert_int_equal(sf_store_next_time(s, SF_TIME_NONE, &next, &err), 0);
    assert_int_equal(next, f->first);
    assert_int_equal(sf_store_next_time(s, f->last + 1, &next, &err), 0);
    assert_int_equal(next, SF_TIME_NONE);
    sf_store_close(s);
}

/* The rows of the window [start, ...) built from the checkpoint (moved in
 * steps through `steps` earlier starts) and the touching read equal the rows
 * of a full build restricted to purchases from start: features bit for bit,
 * labels, stages, times, the orders' relative order, and the history at the
 * end. Returns the number of rows. */
static size_t check_window(sf_store *s, const sf_training_events *all, sf_window *w, int64_t start,
                           const sf_feature_spec *spec)
{
    sf_err err;
    sf_window_info info;
    if (sf_window_advance(w, s, start, &info, &err) != 0)
        fail_msg("advance: %s", err.msg);
    int64_t at;
    const sf_history *cp = sf_window_history(w, &at);
    assert_non_null(cp);
    assert_int_equal(at, start);

    sf_examples full, win;
    sf_history *hfull;
    if (sf_training_rows_build(&full, all, spec, start, SF_TIME_NONE, &hfull, &err) != 0)
        fail_msg("full build: %s", err.msg);
    sf_training_events ev;
    assert_int_equal(sf_store_events_touching(s, start, SF_TIME_NONE, &ev, &err), 0);
    assert_true(ev.n_orders < all->n_orders);
    sf_history *h = sf_history_clone(cp);
    assert_non_null(h);
    if (sf_training_rows_build_from(&win, &ev, spec, start, SF_TIME_NONE, h, start, NULL, &err) !=
        0)
        fail_msg("window build: %s", err.msg);

    assert_int_equal(win.n, full.n);
    assert_int_equal(win.d, full.d);
    assert_true(full.n > 0);
    assert_memory_equal(win.x, full.x, full.n * full.d * sizeof(float));
    assert_memory_equal(win.label, full.label, full.n * sizeof(float));
    assert_memory_equal(win.stage, full.stage, full.n * sizeof(sf_stage));
    assert_memory_equal(win.purchase, full.purchase, full.n * sizeof(int64_t));
    assert_memory_equal(win.event_time, full.event_time, full.n * sizeof(int64_t));
    for (size_t i = 1; i < full.n; i++) { /* ranks differ, their order does not */
        int a = (full.order[i] > full.order[i - 1]) - (full.order[i] < full.order[i - 1]);
        int b = (win.order[i] > win.order[i - 1]) - (win.order[i] < win.order[i - 1]);
        assert_int_equal(a, b);
    }
    uint8_t *sa, *sb;
    size_t la, lb;
    assert_int_equal(sf_history_save(h, &sa, &la, &err), 0);
    assert_int_equal(sf_history_save(hfull, &sb, &lb, &err), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(sa, sb, la);
    free(sa);
    free(sb);
    size_t n = full.n;
    sf_examples_free(&full);
    sf_examples_free(&win);
    sf_history_free(h);
    sf_history_free(hfull);
    sf_training_events_free(&ev);
    return n;
}

/* Windows at several starts, the checkpoint moved forward from one to the
 * next (as retrains do), for both feature specs. */
static void windows_equal_full(const char *path, const sf_training_events *all, int64_t first,
                               int64_t last)
{
    sf_store *s;
    sf_err err;
    assert_int_equal(sf_store_open(&s, path, &err), 0);
    const sf_feature_spec *specs[2] = {sf_spec_full(), sf_spec_seed()};
    for (int k = 0; k < 2; k++) {
        sf_window *w = sf_window_new();
        assert_non_null(w);
        int64_t span = last - first;
        for (int step = 1; step <= 4; step++) /* 20%, 40%, 60%, 80% of the span */
            check_window(s, all, w, first + span * step / 5, specs[k]);
        sf_window_free(w);
    }
    sf_store_close(s);
}

static void test_window_rows_generated(void **state)
{
    fixture *f = *state;
    windows_equal_full(f->path, &f->ev, f->first, f->last);
}

static void test_window_rows_real(void **state)
{
    (void)state;
    const char *dir = tu_olist_dir();
    if (!dir) {
        skip();
        return;
    }
    char *tmp = tu_mkdtemp();
    fixture *f = make(dir, tmp);
    windows_equal_full(f->path, &f->ev, f->first, f->last);
    sf_training_events_free(&f->ev);
    sf_dataset_free(&f->ds);
    free(f);
    tu_rmtree(tmp);
    free(tmp);
}

/* An event stored late, at a time before the checkpoint, is not in it: the
 * next advance notices (sf_store_take_changed_from) and rebuilds it, and the
 * rows again equal a full build. Moving forward without one does not. */
static void test_late_event_rebuilds(void **state)
{
    fixture *f = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/late.db", f->dir);
    sf_store *s;
    sf_err err;
    assert_int_equal(sf_store_open(&s, path, &err), 0);
    /* everything but the reviews of the first half of the orders' reviews */
    sf_training_events part = f->ev;
    size_t held = part.n_reviews / 2;
    part.reviews += held;
    part.n_reviews -= held;
    fill(s, &part);
    int64_t span = f->last - f->first;
    sf_window *w = sf_window_new();
    sf_window_info info;
    assert_int_equal(sf_window_advance(w, s, f->first + span / 2, &info, &err), 0);
    assert_int_equal(info.rebuilt, 1);
    assert_int_equal(sf_window_advance(w, s, f->first + span * 3 / 5, &info, &err), 0);
    assert_int_equal(info.rebuilt, 0);
    /* the held-back reviews arrive: some are older than the checkpoint */
    sf_training_events late = {.reviews = f->ev.reviews, .n_reviews = held};
    fill(s, &late);
    int64_t at = f->first + span * 4 / 5;
    check_window(s, &f->ev, w, at, sf_spec_full());
    /* check_window advanced it; the late reviews made that a rebuild */
    sf_window_free(w);
    w = sf_window_new();
    assert_int_equal(sf_window_advance(w, s, at, &info, &err), 0);
    sf_training_events again = {.reviews = f->ev.reviews, .n_reviews = 1};
    sf_review_event changed = f->ev.reviews[0];
    changed.score = changed.score == 5 ? 4 : 5; /* a changed body, before the checkpoint */
    again.reviews = &changed;
    fill(s, &again);
    assert_int_equal(sf_window_advance(w, s, at + 1, &info, &err), 0);
    assert_int_equal(info.rebuilt, 1);
    assert_int_equal(sf_window_advance(w, s, at + 2, &info, &err), 0);
    assert_int_equal(info.rebuilt, 0);
    sf_window_free(w);
    sf_store_close(s);
}

/* sf_history_clone copies everything, a customer's purchase times on the
 * heap (more than fit inline) included, and owns it: the copy answers as the
 * original did after the original is freed, and moves on its own. */
static void test_history_clone(void **state)
{
    fixture *f = *state;
    sf_history *h = sf_history_new();
    sf_err err;
    /* every event of the fixture, and one customer with 9 purchases */
    sf_examples ex;
    sf_history *full;
    assert_int_equal(sf_training_rows_build(&ex, &f->ev, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE,
                                            &full, &err),
                     0);
    sf_examples_free(&ex);
    sf_order_event ev = f->ev.orders[0];
    for (int i = 0; i < 9; i++) {
        ev.purchase = f->first + i * 1000;
        assert_int_equal(sf_history_add_purchase(h, &ev, &err), 0);
        assert_int_equal(sf_history_add_purchase(full, &ev, &err), 0);
    }
    sf_history *c = sf_history_clone(full), *c2 = sf_history_clone(h);
    assert_non_null(c);
    assert_non_null(c2);
    uint8_t *sa, *sb;
    size_t la, lb;
    assert_int_equal(sf_history_save(full, &sa, &la, &err), 0);
    sf_history_view va, vb;
    ev.purchase = f->first + 5500; /* counts 6 of the 9 */
    sf_history_view_of(h, &ev, &va);
    sf_history_free(full);
    sf_history_free(h);
    assert_int_equal(sf_history_save(c, &sb, &lb, &err), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(sa, sb, la);
    sf_history_view_of(c2, &ev, &vb);
    assert_true(va.customer_orders == 6 && vb.customer_orders == 6);
    ev.purchase = f->first + 100;
    assert_int_equal(sf_history_add_purchase(c2, &ev, &err), 0); /* grows its own copy */
    ev.purchase = f->first + 5500;
    sf_history_view_of(c2, &ev, &vb);
    assert_true(vb.customer_orders == 7);
    free(sa);
    free(sb);
    sf_history_free(c);
    sf_history_free(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_reads),      cmocka_unit_test(test_window_rows_generated),
        cmocka_unit_test(test_window_rows_real), cmocka_unit_test(test_late_event_rebuilds),
        cmocka_unit_test(test_history_clone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
