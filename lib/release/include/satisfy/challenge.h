/*
 * challenge.h - the live judge of a shadow challenger: the same paired test
 * as the offline gate (gate.h), on live orders.
 *
 * While a ServingState names a challenger, every scorer scores each order
 * event with the champion (to satisfy.predictions) and the challenger (to
 * satisfy.shadow). The retrainer joins, per order, the delivered-stage
 * predictions of both with the order's review (store.h's shadow join) and
 * adds the triple (review score, champion's score, challenger's score) here.
 *
 * The decision, looked at every `check_every` new orders once there are
 * `min_orders` (and at `max_orders`):
 *   promote  when sf_gate_decide on the orders (one delivered-stage row per
 *            order, so the paired bootstrap resamples orders) releases the
 *            challenger: RMSE gain >= margin and the bootstrap's lower bound
 *            at `confidence` above 0;
 *   retire   when the bootstrap's upper bound is below 0 (the champion is
 *            better with that confidence), or at max_orders without a
 *            decision.
 * Looking again as orders arrive raises the chance of a false decision above
 * the per-look level; min_orders, check_every and max_orders bound the looks
 * (docs/model.md gives the figures).
 *
 * The state goes to satisfy.metrics as JSON (key "challenge-<challenger>",
 * sf_challenge_json) with each model's RMSE and its bootstrap interval, for
 * the web page's side-by-side panel.
 */
#ifndef SATISFY_CHALLENGE_H
#define SATISFY_CHALLENGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "satisfy/error.h"
#include "satisfy/gate.h"

#define SF_CHALLENGE_MIN_ORDERS  300
#define SF_CHALLENGE_MAX_ORDERS  3000
#define SF_CHALLENGE_CHECK_EVERY 50
#define SF_CHALLENGE_KEY_PREFIX  "challenge-"
#define SF_CHALLENGE_SCHEMA      "satisfy.v1.Challenge+json"

typedef struct sf_challenge_opts {
    size_t min_orders;  /* no decision before; default SF_CHALLENGE_MIN_ORDERS */
    size_t max_orders;  /* retired undecided at; default SF_CHALLENGE_MAX_ORDERS */
    size_t check_every; /* orders between looks; default SF_CHALLENGE_CHECK_EVERY */
    sf_gate_opts gate;  /* margin, resamples, seed, confidence: the offline gate's */
} sf_challenge_opts;

void sf_challenge_opts_default(sf_challenge_opts *o);

typedef enum {
    SF_CHALLENGE_RUNNING,
    SF_CHALLENGE_PROMOTE,
    SF_CHALLENGE_RETIRE
} sf_challenge_verdict;

typedef struct sf_challenge {
    int64_t challenger, champion;
    int64_t started_at; /* ms, wall clock */
    sf_challenge_opts opts;
    double *label, *champ, *chall; /* one per order */
    size_t n, cap;
    size_t n_looked;    /* n at the last look */
    int64_t event_time; /* newest review time added */
    /* the last look's numbers (valid when looked) */
    bool looked;
    sf_gate_decision d;
    double rmse_ci_champion[2], rmse_ci_challenger[2];
    sf_challenge_verdict verdict;
    char reason[SF_GATE_REASON_MAX + 64];
} sf_challenge;

/* Sets up a challenge (no orders); opts NULL = defaults. 0, or -1 with err
 * on bad options (min_orders < 10, max_orders < min_orders). */
int sf_challenge_init(sf_challenge *c, int64_t challenger, int64_t champion, int64_t started_at,
                      const sf_challenge_opts *opts, sf_err *err);
void sf_challenge_free(sf_challenge *c);

/* Adds one order: its review score (1..5) and both delivered-stage
 * predictions (1..5), at the review's event time. -1 with err on a value
 * out of range or out of memory. */
int sf_challenge_add(sf_challenge *c, double label, double champion_score, double challenger_score,
                     int64_t event_time, sf_err *err);

/* Looks when it is time to (see the top): fills the numbers and returns the
 * verdict; SF_CHALLENGE_RUNNING also when it is not time yet (then nothing
 * changes). force looks whenever there are orders (for the JSON). -1 on an
 * error of the test. */
int sf_challenge_judge(sf_challenge *c, bool force, sf_err *err);

/* The state as the JSON of satisfy.metrics (docs/operations.md): status
 * "running", "promoted" or "retired" (status NULL: from the verdict),
 * decided_at (0 while running), reason. malloc'd, NULL out of memory. */
char *sf_challenge_json(const sf_challenge *c, const char *status, int64_t decided_at, int64_t at);

#endif
