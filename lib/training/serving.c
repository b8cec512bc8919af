/*
 * serving.c - one change of the served release, recorded in the registry
 * and published to satisfy.models (see satisfy/serving.h).
 */
#include "satisfy/serving.h"

#include <string.h>

#include "satisfy/clock.h"
#include "satisfy/release_topic.h"

int sf_serving_change_apply(const sf_serving_change *c, sf_serving_state *out, sf_err *err)
{
    sf_serving_state cur;
    int has = sf_serving_current(c->conn, c->timeout_ms, NULL, &cur, err);
    if (has < 0)
        return sf_err_wrap(err, "reading the current serving state");
    int64_t epoch = has ? cur.epoch + 1 : 1, at = sf_wall_ms();
    int rc;
    if (strcmp(c->cause, "challenger") == 0)
        rc = sf_registry_challenge_start(c->reg, c->version, c->reason, epoch, at, out, err);
    else if (strcmp(c->cause, "live") == 0 || strcmp(c->cause, "retire") == 0)
        rc = sf_registry_challenge_end(c->reg, c->version,
                                       strcmp(c->cause, "live") == 0 ? "promoted" : "retired",
                                       c->reason, c->result_json, epoch, at, out, err);
    else
        rc = sf_registry_serve(c->reg, c->version, c->cause, c->reason, epoch, at, out, err);
    if (rc != 0)
        return -1;
    if (c->republish) {
        sf_version_row row;
        memset(&row, 0, sizeof row);
        int found = sf_registry_get_version(c->reg, c->version, true, &row, err);
        int rc = found > 0 ? sf_release_publish(c->prod, c->st, row.artifact, row.artifact_len,
                                                c->version, sf_wall_ms(), c->timeout_ms, c->sign,
                                                NULL, NULL, err)
                           : -1;
        if (found == 0)
            sf_errf(err, "version %lld is not in the registry", (long long)c->version);
        sf_version_row_clear(&row);
        if (rc != 0)
            return -1;
    }
    return sf_serving_publish(c->prod, c->st, out, c->timeout_ms, c->sign, err);
}
