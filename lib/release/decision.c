/*
 * decision.c - the gate decision message of satisfy.metrics (decision.h):
 * built from the report that sf_train_run registered, written as JSON, and
 * read back with strict validation by the web server's follower.
 *
 * Nothing here decides anything: the gate did, and the registry holds the
 * same outcome (status, reason, metrics). The parser checks every field's
 * type and range and the key, so a malformed message is refused with the
 * field it failed on and never reaches the page.
 */
#include "satisfy/decision.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/event.h"
#include "satisfy/json_field.h"

int sf_decision_key(int64_t version, char *buf, size_t len)
{
    return snprintf(buf, len, SF_DECISION_KEY_PREFIX "%" PRId64, version);
}

static cJSON *model_json(const sf_decision_model *m, bool reference)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddStringToObject(o, "algorithm", m->algorithm);
    cJSON_AddStringToObject(o, "features", m->features);
    if (reference)
        cJSON_AddNumberToObject(o, "version", (double)m->version);
    sf_json_add_number(o, "rmse", m->rmse);
    sf_json_add_number(o, "mae", m->mae);
    sf_json_add_number(o, "r2", m->r2);
    sf_json_add_number(o, "auc", m->auc);
    sf_json_add_number(o, "pr_auc", m->pr_auc);
    return o;
}

cJSON *sf_decision_to_cjson(const sf_decision *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "version", (double)d->version);
    cJSON_AddBoolToObject(o, "released", d->released);
    cJSON_AddStringToObject(o, "reason", d->reason);
    cJSON_AddNumberToObject(o, "run_id", (double)d->run_id);
    cJSON_AddItemToObject(o, "candidate", model_json(&d->candidate, false));
    cJSON_AddItemToObject(o, "reference", model_json(&d->reference, true));
    cJSON *g = cJSON_AddObjectToObject(o, "gate");
    if (g) {
        sf_json_add_number(g, "gain", d->gain);
        sf_json_add_number(g, "margin", d->margin);
        sf_json_add_number(g, "boot_lower", d->boot_lower);
        sf_json_add_number(g, "boot_upper", d->boot_upper);
    }
    cJSON_AddNumberToObject(o, "train_rows", (double)d->train_rows);
    cJSON_AddNumberToObject(o, "train_orders", (double)d->train_orders);
    cJSON_AddNumberToObject(o, "holdout_rows", (double)d->holdout_rows);
    cJSON_AddNumberToObject(o, "holdout_orders", (double)d->holdout_orders);
    sf_json_add_time(o, "train_from", d->train_from);
    sf_json_add_time(o, "train_to", d->train_to);
    sf_json_add_time(o, "data_until", d->data_until);
    cJSON_AddNumberToObject(o, "decided_at", (double)d->decided_at);
    return o;
}

char *sf_decision_json(const sf_decision *d, sf_err *err)
{
    cJSON *o = sf_decision_to_cjson(d);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        sf_errf(err, "decision v%" PRId64 ": out of memory", d->version);
    return s;
}

/* -------------------------------------------------------------- parsing */

static int get_model(const cJSON *o, const char *k, bool reference, sf_decision_model *m,
                     sf_err *err)
{
    const cJSON *v = sf_json_field(o, "", k, err);
    if (!v)
        return -1;
    if (!cJSON_IsObject(v))
        return sf_errf(err, "%s: expected an object", k);
    if (sf_json_str(v, k, "name", m->name, sizeof m->name, err) ||
        sf_json_str(v, k, "algorithm", m->algorithm, sizeof m->algorithm, err) ||
        sf_json_str(v, k, "features", m->features, sizeof m->features, err) ||
        (reference && sf_json_int(v, k, "version", 0, false, &m->version, err)) ||
        sf_json_num(v, k, "rmse", 0, 4, false, &m->rmse, err) ||
        sf_json_num(v, k, "mae", 0, 4, true, &m->mae, err) ||
        sf_json_num(v, k, "r2", -INFINITY, 1, true, &m->r2, err) ||
        sf_json_num(v, k, "auc", 0, 1, true, &m->auc, err) ||
        sf_json_num(v, k, "pr_auc", 0, 1, true, &m->pr_auc, err))
        return -1;
    return 0;
}

static int check_key(const void *key, size_t key_len, int64_t version, sf_err *err)
{
    char want[40];
    int n = sf_decision_key(version, want, sizeof want);
    if (key_len != (size_t)n || memcmp(key, want, key_len) != 0)
        return sf_errf(err, "key '%.*s' is not %s", (int)(key_len < 40 ? key_len : 40),
                       (const char *)key, want);
    return 0;
}

int sf_decision_parse(const void *key, size_t key_len, const void *value, size_t len,
                      sf_decision *out, sf_err *err)
{
    memset(out, 0, sizeof *out);
    cJSON *j = sf_json_object(value, len, err);
    if (!j)
        return -1;
    int rc = -1;
    if (sf_json_int(j, "", "version", 1, false, &out->version, err))
        goto out;
    const cJSON *rel = sf_json_field(j, "", "released", err);
    if (!rel)
        goto out;
    if (!cJSON_IsBool(rel)) {
        sf_errf(err, "released: expected true or false");
        goto out;
    }
    out->released = cJSON_IsTrue(rel);
    const cJSON *g = sf_json_field(j, "", "gate", err);
    if (!g)
        goto out;
    if (!cJSON_IsObject(g)) {
        sf_errf(err, "gate: expected an object");
        goto out;
    }
    if (sf_json_str(j, "", "reason", out->reason, sizeof out->reason, err) ||
        sf_json_int(j, "", "run_id", 0, false, &out->run_id, err) ||
        get_model(j, "candidate", false, &out->candidate, err) ||
        get_model(j, "reference", true, &out->reference, err) ||
        sf_json_num(g, "gate", "gain", -4, 4, true, &out->gain, err) ||
        sf_json_num(g, "gate", "margin", 0, 5, false, &out->margin, err) ||
        sf_json_num(g, "gate", "boot_lower", -16, 16, true, &out->boot_lower, err) ||
        sf_json_num(g, "gate", "boot_upper", -16, 16, true, &out->boot_upper, err) ||
        sf_json_int(j, "", "train_rows", 1, false, &out->train_rows, err) ||
        sf_json_int(j, "", "train_orders", 1, false, &out->train_orders, err) ||
        sf_json_int(j, "", "holdout_rows", 1, false, &out->holdout_rows, err) ||
        sf_json_int(j, "", "holdout_orders", 1, false, &out->holdout_orders, err) ||
        sf_json_int(j, "", "train_from", INT64_MIN, true, &out->train_from, err) ||
        sf_json_int(j, "", "train_to", INT64_MIN, true, &out->train_to, err) ||
        sf_json_int(j, "", "data_until", INT64_MIN, true, &out->data_until, err) ||
        sf_json_int(j, "", "decided_at", 1, false, &out->decided_at, err))
        goto out;
    if (out->train_from != SF_TIME_NONE && out->train_to != SF_TIME_NONE &&
        out->train_from > out->train_to) {
        sf_errf(err, "train_from %" PRId64 " is after train_to %" PRId64, out->train_from,
                out->train_to);
        goto out;
    }
    if (out->holdout_orders > out->holdout_rows) {
        sf_errf(err, "holdout_orders %" PRId64 " exceed holdout_rows %" PRId64, out->holdout_orders,
                out->holdout_rows);
        goto out;
    }
    if (key && check_key(key, key_len, out->version, err))
        goto out;
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}
