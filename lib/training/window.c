/*
 * window.c - the streaming retrainer's training window and its history
 * checkpoint (see satisfy/window.h).
 *
 * The checkpoint moves forward in slices of SF_WINDOW_SLICE_DAYS of event
 * time, each read with sf_store_events_touching (every event of the orders
 * touched in the slice, for their identity) and applied with
 * sf_training_history_advance, which applies only the slice's own events in
 * the order a full replay would. Slices partition time and a replay applies
 * the updates of one time together, so slice after slice is the full
 * replay's sequence of updates. Empty stretches are skipped with the
 * event-time indexes (sf_store_next_time), so a store whose first event is
 * years before its last costs nothing for the gap.
 */
#include "satisfy/window.h"

#include <stdlib.h>
#include <string.h>

#include "satisfy/clock.h"

#define DAY_MS (86400LL * 1000)

struct sf_window {
    sf_history *h; /* NULL until the first advance, or after a failure */
    int64_t at;    /* h holds every stored event strictly before at */
};

sf_window *sf_window_new(void)
{
    sf_window *w = calloc(1, sizeof *w);
    if (w)
        w->at = SF_TIME_NONE;
    return w;
}

void sf_window_free(sf_window *w)
{
    if (!w)
        return;
    sf_history_free(w->h);
    free(w);
}

const sf_history *sf_window_history(const sf_window *w, int64_t *at)
{
    if (at)
        *at = w->h ? w->at : SF_TIME_NONE;
    return w->h;
}

int64_t sf_window_start(int64_t newest, double days)
{
    if (!(days > 0) || newest == SF_TIME_NONE)
        return SF_TIME_NONE;
    return newest - (int64_t)(days * (double)DAY_MS);
}

static void reset(sf_window *w)
{
    sf_history_free(w->h);
    w->h = NULL;
    w->at = SF_TIME_NONE;
}

int sf_window_advance(sf_window *w, sf_store *s, int64_t to, sf_window_info *info, sf_err *err)
{
    sf_window_info local;
    if (!info)
        info = &local;
    info->rebuilt = 0;
    info->advance_orders = info->advance_reviews = 0;
    double t0 = sf_mono_s();
    int64_t changed;
    if (sf_store_take_changed_from(s, &changed, err) != 0)
        return sf_err_wrap(err, "window checkpoint");
    if (w->h && ((changed != SF_TIME_NONE && changed < w->at) || to < w->at))
        reset(w); /* an event stored late, before the checkpoint, or a window moved back */
    if (!w->h) {
        if (!(w->h = sf_history_new()))
            return sf_errf(err, "window checkpoint: out of memory");
        w->at = SF_TIME_NONE;
        info->rebuilt = 1;
    }
    const int64_t slice = SF_WINDOW_SLICE_DAYS * DAY_MS;
    int64_t cur = w->at;
    while (cur < to) {
        int64_t next;
        if (sf_store_next_time(s, cur, &next, err) != 0)
            goto fail;
        if (next == SF_TIME_NONE || next >= to)
            break;
        int64_t end = next < to - slice ? next + slice : to;
        sf_training_events ev;
        if (sf_store_events_touching(s, next, end, &ev, err) != 0)
            goto fail;
        int rc = sf_training_history_advance(w->h, &ev, next, end, err);
        info->advance_orders += ev.n_orders;
        info->advance_reviews += ev.n_reviews;
        sf_training_events_free(&ev);
        if (rc != 0)
            goto fail;
        cur = end;
    }
    w->at = to;
    info->advance_seconds = sf_mono_s() - t0;
    return 0;
fail:
    reset(w); /* half moved: the next advance rebuilds it */
    return sf_err_wrap(err, "window checkpoint");
}

int sf_window_retrain(sf_window *w, sf_store *s, double days, sf_registry *reg,
                      const sf_train_opts *opts, sf_train_report *rep, sf_window_info *info,
                      sf_err *err)
{
    sf_window_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof *info);
    double t0 = sf_mono_s();
    sf_store_counts c;
    if (sf_store_progress(s, &c, err) != 0)
        return -1;
    sf_train_opts o = *opts;
    int64_t start = sf_window_start(c.max_event_time, days);
    info->start = start;
    sf_training_events ev;
    if (start != SF_TIME_NONE) {
        if (!w)
            return sf_errf(err, "train window: no checkpoint");
        if (sf_window_advance(w, s, start, info, err) != 0)
            return -1;
        double t1 = sf_mono_s();
        if (sf_store_events_touching(s, start, SF_TIME_NONE, &ev, err) != 0)
            return -1;
        info->read_seconds = sf_mono_s() - t1;
        o.rows_from = start;
        o.start_history = w->h;
        o.start_time = start;
    } else {
        if (sf_store_events(s, &ev, err) != 0)
            return -1;
        info->read_seconds = sf_mono_s() - t0;
        o.rows_from = SF_TIME_NONE;
        o.start_history = NULL;
        o.start_time = SF_TIME_NONE;
    }
    info->n_orders = ev.n_orders;
    info->n_reviews = ev.n_reviews;
    o.ingest_seconds = opts->ingest_seconds + (sf_mono_s() - t0);
    info->trained = 1;
    int rc = sf_train_run(&ev, reg, &o, rep, err);
    sf_training_events_free(&ev);
    return rc;
}
