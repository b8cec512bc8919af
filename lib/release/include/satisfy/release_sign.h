/*
 * release_sign.h - Ed25519 signatures on model releases (defence in depth
 * beside Kafka ACLs: whoever can write satisfy.models still cannot make a
 * scorer load a model without the retrainer's private key).
 *
 * What is signed: the domain tag "satisfy.release.v1" and its NUL, the
 * release version as 8 bytes big-endian, then the exact bytes of the Kafka
 * message value (sf_encode_release). The signature (64 raw bytes) travels in
 * the message header SF_RELEASE_SIG_HEADER; the version travels in the
 * message key (decimal text, as before). A scorer checks the signature over
 * key-version and value before decoding anything, then compares the signed
 * version with the newest it has (so an old signed release replayed on the
 * topic is "not newer" and ignored), and after decoding requires the value's
 * own version to equal the signed one.
 *
 * A ServingState (serving_state.h, key "serving" on the same topic) is
 * signed the same way with version SF_SERVING_SIG_VERSION (0, which no
 * release has) over its message value, whose schema id (5) no release has
 * either: neither signature can pass for the other.
 *
 * Keys are PEM files as OpenSSL writes them: `openssl genpkey -algorithm
 * ed25519 -out release.key` and `openssl pkey -in release.key -pubout -out
 * release.pub`, or sf_release_keygen (satisfy-retrainer keygen).
 */
#ifndef SATISFY_RELEASE_SIGN_H
#define SATISFY_RELEASE_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/error.h"

#define SF_RELEASE_SIG_HEADER "signature"
#define SF_RELEASE_SIG_LEN    64

/* An Ed25519 key, private (can sign and verify) or public (verify only). */
typedef struct sf_release_key sf_release_key;

/* Loads a PEM private key (want_private) or public key from path; it must be
 * Ed25519. NULL with err set (file, PEM, or key type). */
sf_release_key *sf_release_key_load(const char *path, int want_private, sf_err *err);
void sf_release_key_free(sf_release_key *k);

/* Writes a new key pair: the private key to priv_path (mode 0600, refused if
 * it exists) and the public key to pub_path. */
int sf_release_keygen(const char *priv_path, const char *pub_path, sf_err *err);

/* Signs (version, value) with a private key into sig. */
int sf_release_sign(const sf_release_key *k, int64_t version, const void *value, size_t len,
                    uint8_t sig[SF_RELEASE_SIG_LEN], sf_err *err);

/* 0 when sig is a valid signature of (version, value) under k, else -1 with
 * err saying so. */
int sf_release_verify(const sf_release_key *k, int64_t version, const void *value, size_t len,
                      const void *sig, size_t sig_len, sf_err *err);

/* Checks one message of satisfy.models: its key must be a positive decimal
 * version, its header SF_RELEASE_SIG_HEADER a valid signature of (version,
 * value) under k. Nothing of the value is parsed. 0 with *version, or -1
 * with err ("unsigned", "bad signature", "bad key"). */
int sf_release_check_message(const sf_release_key *k, const rd_kafka_message_t *m, int64_t *version,
                             sf_err *err);

/* The version a ServingState is signed under (sf_release_sign with it). */
#define SF_SERVING_SIG_VERSION 0

/* Checks one ServingState message: header SF_RELEASE_SIG_HEADER must be a
 * valid signature of (SF_SERVING_SIG_VERSION, value) under k; nothing of the
 * value is parsed. 0, or -1 with err ("unsigned", "bad signature"). */
int sf_serving_check_message(const sf_release_key *k, const rd_kafka_message_t *m, sf_err *err);

#endif
