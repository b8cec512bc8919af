/*
 * serving.h - changing which release the scorers serve: the registry's
 * serving history (registry.h) and the ServingState on satisfy.models
 * (serving_state.h, release_topic.h) in one step, for the retrainer's gate
 * and for `satisfy-retrainer registry promote` / `rollback`.
 *
 * The order is: read the topic's current ServingState, so that the new
 * epoch is above anything published (another registry, a lost database);
 * record the change in the registry (it validates the version and moves the
 * champion alias; for the shadow causes it opens or closes the challenge:
 * sf_registry_challenge_start / _end); publish the version's release again when asked (a topic
 * that lost it, or a new cluster, still gets it); then publish the
 * ServingState, signed when a key is given. A failure after the record
 * leaves the row in the history; running the command again writes a new
 * epoch.
 */
#ifndef SATISFY_SERVING_H
#define SATISFY_SERVING_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/error.h"
#include "satisfy/kafka.h"
#include "satisfy/registry.h"
#include "satisfy/release_sign.h"
#include "satisfy/serving_state.h"

typedef struct sf_serving_change {
    const sf_kafka_conn *conn; /* to read the topic's current state */
    rd_kafka_t *prod;          /* a release producer counting into st */
    sf_kafka_stats *st;
    const sf_release_key *sign; /* NULL = unsigned */
    sf_registry *reg;
    /* the new champion (gate, promote, rollback), or the challenger that
     * starts (challenger), is promoted (live) or is retired (retire) */
    int64_t version;
    const char *cause;       /* gate | promote | rollback | live | challenger | retire */
    const char *reason;      /* free text */
    const char *result_json; /* live, retire: the judge's numbers, recorded (may be NULL) */
    int republish;           /* publish the version's release before the state */
    int timeout_ms;          /* per Kafka step */
} sf_serving_change;

/* Does the change; *out is the ServingState published. 0 or -1 with err. */
int sf_serving_change_apply(const sf_serving_change *c, sf_serving_state *out, sf_err *err);

#endif
