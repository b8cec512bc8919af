/*
 * decision_report.c - the gate decision of a finished training run, built
 * from the report that sf_train_run registered (see sf_decision_from_report
 * in train.h). It lives with training, not with decision.c, because the
 * decision record travels to places (the scorer's web app) that must not
 * link the training pipeline.
 */
#include "satisfy/train.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "satisfy/decision.h"

static void model_from_row(const sf_train_row *r, sf_decision_model *m)
{
    snprintf(m->name, sizeof m->name, "%s", r->name);
    snprintf(m->algorithm, sizeof m->algorithm, "%s", r->algo);
    snprintf(m->features, sizeof m->features, "%s", r->spec);
    m->rmse = r->all.rmse;
    m->mae = r->all.mae;
    m->r2 = r->all.r2_ok ? r->all.r2 : NAN;
    m->auc = r->all.binary_ok ? r->all.auc : NAN;
    m->pr_auc = r->all.binary_ok ? r->all.pr_auc : NAN;
}

void sf_decision_from_report(const sf_train_report *rep, int64_t data_until, int64_t decided_at,
                             sf_decision *out)
{
    memset(out, 0, sizeof *out);
    out->version = rep->version;
    out->run_id = rep->run_id;
    out->released = rep->released;
    snprintf(out->reason, sizeof out->reason, "%s", rep->gate.reason);
    model_from_row(&rep->rows[rep->candidate], &out->candidate);
    bool champ = rep->gate.has_champion && rep->rows[SF_ROW_CHAMPION].present;
    model_from_row(&rep->rows[champ ? SF_ROW_CHAMPION : SF_ROW_MEAN], &out->reference);
    out->reference.version = champ ? rep->champion_before : 0;
    /* the gate's own figures: the reason quotes these */
    out->candidate.rmse = rep->gate.rmse_candidate;
    out->reference.rmse = rep->gate.rmse_champion;
    out->gain = rep->gate.gain;
    out->margin = rep->gate.margin;
    out->boot_lower = rep->gate.boot_lower;
    out->boot_upper = rep->gate.boot_upper;
    out->train_rows = (int64_t)rep->n_train_rows;
    out->train_orders = (int64_t)rep->split.n_train;
    out->holdout_rows = (int64_t)rep->n_test_rows;
    out->holdout_orders = (int64_t)rep->split.n_test;
    out->train_from = rep->split.train_from;
    out->train_to = rep->split.train_to;
    out->data_until = data_until;
    out->decided_at = decided_at;
}
