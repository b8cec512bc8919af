/*
 * release_topic.h - model releases on satisfy.models: publish one and wait
 * for its delivery report, and find the version of the newest one.
 *
 * The topic has one partition and is meant to be compacted: the key of a
 * release is its version as decimal text, the value sf_encode_release of
 * sf_model_release_make. The streaming retrainer publishes every released
 * version and, on startup, republishes the champion when the newest release
 * on the topic is older (a retrainer killed between promotion and
 * publication must not leave scorers without their model) or is the
 * champion in a form the scorers refuse (an older format, another key).
 *
 * The same topic carries the ServingState (serving_state.h) under the key
 * "serving": which version the scorers serve, ordered by its epoch. It is
 * published after each gate release and by `registry promote` and
 * `registry rollback`.
 */
#ifndef SATISFY_RELEASE_TOPIC_H
#define SATISFY_RELEASE_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/codec.h"
#include "satisfy/error.h"
#include "satisfy/kafka.h"
#include "satisfy/release_sign.h"
#include "satisfy/serving_state.h"

/* Loads the model artifact, wraps it as release `version` (released_at in
 * ms) and produces it to satisfy.models partition 0, then waits up to
 * timeout_ms for the delivery report. prod must count its deliveries into
 * st (sf_kafka_client_new with .stats = st; failures are read from st). With
 * a private key the message carries header "signature" (release_sign.h);
 * key NULL publishes unsigned (the demo). On success *payload_len and sha256
 * (may be NULL) describe what was sent. */
int sf_release_publish(rd_kafka_t *prod, sf_kafka_stats *st, const uint8_t *artifact,
                       size_t artifact_len, int64_t version, int64_t released_at, int timeout_ms,
                       const sf_release_key *key, uint32_t *payload_len, char sha256[65],
                       sf_err *err);

/* The version of the newest (last) release on satisfy.models (ServingState
 * messages are passed over), read with a
 * short-lived consumer on conn (kafka.h's release probe; no group is joined):
 * 0 when the topic is empty, -1 with err set on failure. *bad (if not NULL;
 * bad->msg is "" otherwise) says why a scorer of this build would refuse
 * that newest release: it does not decode (the version returned is then 0),
 * or it decodes but its model does not load (sf_model_from_release: a
 * format 1 release, say) or, with key (NULL = no check), it is unsigned or
 * not signed by key's pair (the version returned is then the one it
 * names). */
int64_t sf_release_last_version(const sf_kafka_conn *conn, int timeout_ms,
                                const sf_release_key *key, sf_err *bad, sf_err *err);

/* Publishes s to satisfy.models partition 0 under key "serving", signed
 * with key when not NULL (release_sign.h, SF_SERVING_SIG_VERSION), and waits
 * up to timeout_ms for its delivery report (counted in st, as above). */
int sf_serving_publish(rd_kafka_t *prod, sf_kafka_stats *st, const sf_serving_state *s,
                       int timeout_ms, const sf_release_key *key, sf_err *err);

/* The ServingState of the highest epoch on satisfy.models (read to its end
 * with a short-lived consumer, no group): 1 with *out, 0 when there is none,
 * -1 with err. With key (NULL = no check) unsigned or wrongly signed states
 * do not count; nor do those that do not decode. */
int sf_serving_current(const sf_kafka_conn *conn, int timeout_ms, const sf_release_key *key,
                       sf_serving_state *out, sf_err *err);

/* 1 when message m of satisfy.models is a ServingState (its key is
 * "serving"), 0 when it is (meant as) a release. */
int sf_serving_is_message(const rd_kafka_message_t *m);

#endif
