/*
 * window.h - the streaming retrainer's training window: a retrain learns from
 * the orders purchased in the last DAYS days of the stored data, and its time
 * and memory are bounded by that window, not by everything ever stored.
 *
 * Features need the history of everything strictly before each event
 * (history.h), which a window alone does not hold. So the window keeps a
 * history checkpoint at its start: the updates of every stored event before
 * that time, applied in the replay's order. A retrain
 *   1. moves the checkpoint forward to the new window start, reading only
 *      the events between the old and the new start (sf_store_events_touching,
 *      in slices of SF_WINDOW_SLICE_DAYS) and applying them
 *      (sf_training_history_advance); the first retrain builds it once by
 *      reading up to the window start, in the same slices;
 *   2. reads the orders touched since the window start, with every event and
 *      review of each (labels that arrive later included), and trains on
 *      them from copies of the checkpoint (sf_train_opts.start_history), so
 *      the rows equal those of a full replay restricted to the window.
 * An event stored late, at a time before the checkpoint (a backlog, a
 * replay that changed a body), makes the checkpoint stale: the store says so
 * (sf_store_take_changed_from) and the checkpoint is rebuilt.
 */
#ifndef SATISFY_WINDOW_H
#define SATISFY_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/history.h"
#include "satisfy/registry.h"
#include "satisfy/store.h"
#include "satisfy/train.h"

#define SF_WINDOW_SLICE_DAYS 7 /* checkpoint reads, in days of event time */

typedef struct sf_window sf_window;

/* An empty window (no checkpoint yet); NULL when out of memory. */
sf_window *sf_window_new(void);
void sf_window_free(sf_window *w);

/* The checkpoint: the history of every stored event before *at (NULL and
 * SF_TIME_NONE before the first advance). */
const sf_history *sf_window_history(const sf_window *w, int64_t *at);

/* What one sf_window_advance or sf_window_retrain did. */
typedef struct sf_window_info {
    int64_t start;              /* window start (SF_TIME_NONE = no window) */
    int rebuilt;                /* the checkpoint was (re)built from the beginning */
    size_t advance_orders;      /* order events read to move the checkpoint */
    size_t advance_reviews;     /* reviews read to move the checkpoint */
    double advance_seconds;     /* time to move it */
    size_t n_orders, n_reviews; /* events read for training */
    double read_seconds;        /* time to read them */
    int trained;                /* sf_train_run was called (else the store failed) */
} sf_window_info;

/* Moves the checkpoint to `to`, rebuilding it from the beginning first when
 * the store changed before it or `to` is before it (a window moved back). info may be NULL
 * (else its advance_* fields and rebuilt are set). */
int sf_window_advance(sf_window *w, sf_store *s, int64_t to, sf_window_info *info, sf_err *err);

/* One retrain through sf_train_run on the store: with days > 0 on the
 * window [newest event time - days, ...) through the checkpoint (w required),
 * with days <= 0 on every stored event (w unused). opts is copied; its
 * window fields are set here. info may be NULL. */
int sf_window_retrain(sf_window *w, sf_store *s, double days, sf_registry *reg,
                      const sf_train_opts *opts, sf_train_report *rep, sf_window_info *info,
                      sf_err *err);

/* The window start for the data up to newest: newest - days (SF_TIME_NONE
 * when days <= 0 or newest is SF_TIME_NONE). */
int64_t sf_window_start(int64_t newest, double days);

#endif
