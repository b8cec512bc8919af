/*
 * test_release_topic.c - publishing releases to satisfy.models and finding
 * the newest one, on the in-process mock broker: an empty topic reads as 0,
 * each publication becomes the newest with key = version and a payload that
 * loads back as the same model; an undecodable last message reads as 0 with
 * its offset and reason (so the retrainer republishes its champion); a
 * corrupt artifact is refused before anything is sent; an unreachable
 * broker fails within the timeout.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "satisfy/datagen.h"
#include "satisfy/features.h"
#include "satisfy/mockbroker.h"
#include "satisfy/model.h"
#include "satisfy/release_sign.h"
#include "satisfy/release_topic.h"
#include "satisfy/train.h"

/* A small ridge model's artifact trained on synthetic orders. */
static uint8_t *make_artifact(size_t *len)
{
    char *dir = tu_mkdtemp();
    sf_err err;
    sf_datagen_opts o = {.n_orders = 300, .seed = 9, .from = SF_TIME_NONE, .to = SF_TIME_NONE};
    if (sf_datagen_write(&o, dir, NULL, &err) != 0)
        fail_msg("datagen: %s", err.msg);
    sf_dataset ds;
    sf_load_opts lo = {.strict = true};
    if (sf_dataset_load(&ds, dir, &lo, &err) != 0)
        fail_msg("load: %s", err.msg);
    sf_examples ex;
    assert_int_equal(
        sf_train_rows_of_dataset(&ex, &ds, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, NULL, &err),
        0);
    sf_model *m = NULL;
    if (sf_model_train(SF_ALGO_RIDGE, &ex, NULL, NULL, &m, &err) != 0)
        fail_msg("train: %s", err.msg);
    sf_model_set_window(m, ds.orders[0].purchase, ds.orders[ds.n_orders - 1].purchase);
    uint8_t *buf;
    assert_int_equal(sf_model_save(m, &buf, len, &err), 0);
    sf_model_free(m);
    sf_examples_free(&ex);
    sf_dataset_free(&ds);
    tu_rmtree(dir);
    free(dir);
    return buf;
}

static void test_publish_and_find(void **state)
{
    (void)state;
    sf_err err, bad;
    sf_mockbroker *mb = sf_mockbroker_start(1, 2, &err);
    assert_non_null(mb);
    const char *bs = sf_mockbroker_bootstraps(mb);
    sf_kafka_conn conn = {.brokers = bs}, nobody = {.brokers = "127.0.0.1:1"};
    size_t alen;
    uint8_t *art = make_artifact(&alen);

    assert_int_equal(sf_release_last_version(&conn, 10000, NULL, &bad, &err), 0);
    assert_string_equal(bad.msg, "");

    sf_kafka_stats st;
    sf_kafka_client_opts po = {.role = SF_KAFKA_RELEASE_PRODUCER, .conn = conn, .stats = &st};
    rd_kafka_t *prod = sf_kafka_client_new(&po, &err);
    assert_non_null(prod);

    uint32_t plen = 0;
    char sha[65];
    if (sf_release_publish(prod, &st, art, alen, 3, 1000, 10000, NULL, &plen, sha, &err) != 0)
        fail_msg("publish: %s", err.msg);
    assert_true(plen > 0);
    assert_int_equal(strlen(sha), 64);
    assert_int_equal(sf_release_last_version(&conn, 10000, NULL, &bad, &err), 3);
    assert_int_equal(
        sf_release_publish(prod, &st, art, alen, 5, 2000, 10000, NULL, NULL, NULL, &err), 0);
    assert_int_equal(sf_release_last_version(&conn, 10000, NULL, &bad, &err), 5);

    /* read back: key = version, payload loads as the model */
    sf_kafka_client_opts co = {.role = SF_KAFKA_TOOL_CONSUMER, .conn = conn, .group = "t"};
    rd_kafka_t *cons = sf_kafka_client_new(&co, &err);
    assert_non_null(cons);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, SF_TOPIC_MODELS, 0)->offset = 1;
    rd_kafka_assign(cons, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    rd_kafka_message_t *msg = NULL;
    for (int i = 0; i < 100 && !msg; i++) {
        msg = rd_kafka_consumer_poll(cons, 100);
        if (msg && msg->err) {
            rd_kafka_message_destroy(msg);
            msg = NULL;
        }
    }
    assert_non_null(msg);
    assert_int_equal(msg->key_len, 1);
    assert_memory_equal(msg->key, "5", 1);
    sf_model_release rel;
    assert_int_equal(sf_decode_release(msg->payload, msg->len, &rel, &err), 0);
    assert_int_equal(rel.version, 5);
    assert_int_equal(rel.released_at, 2000);
    assert_string_equal(rel.algorithm, "ridge");
    sf_model *back = NULL;
    if (sf_model_from_release(&rel, &back, &err) != 0)
        fail_msg("from release: %s", err.msg);
    sf_model_free(back);
    sf_model_release_clear(&rel);
    rd_kafka_message_destroy(msg);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);

    /* an undecodable newest message: 0, with its offset and reason */
    assert_int_equal(rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(SF_TOPIC_MODELS),
                                       RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE("junk", 4),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    assert_int_equal(sf_kafka_drain(prod, 10000), 0);
    assert_int_equal(sf_release_last_version(&conn, 10000, NULL, &bad, &err), 0);
    assert_non_null(strstr(bad.msg, "satisfy.models [0] @2: "));

    /* a corrupt artifact is refused before anything is produced */
    uint64_t before = sf_kafka_stats_delivered(&st);
    art[alen / 2] ^= 0x5a;
    assert_int_equal(
        sf_release_publish(prod, &st, art, alen, 7, 3000, 10000, NULL, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "release v7"));
    assert_int_equal(sf_kafka_stats_delivered(&st), before);

    rd_kafka_destroy(prod);
    sf_mockbroker_stop(mb);

    /* nothing listening: bounded failure */
    assert_int_equal(sf_release_last_version(&nobody, 1500, NULL, &bad, &err), -1);
    assert_non_null(strstr(err.msg, "satisfy.models [0]: watermarks"));
    free(art);
}

/* Produces value as a release message with key version (no signature). */
static void produce_raw(rd_kafka_t *prod, int64_t version, const void *value, size_t len)
{
    char key[24];
    int kl = snprintf(key, sizeof key, "%lld", (long long)version);
    assert_int_equal(rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(SF_TOPIC_MODELS),
                                       RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, (size_t)kl),
                                       RD_KAFKA_V_VALUE((void *)value, len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    assert_int_equal(sf_kafka_drain(prod, 10000), 0);
}

/* The newest release judged as a scorer of this build would: under a key,
 * unsigned or signed by another key is refused; so is a release that
 * decodes but whose model does not load (here its header names another
 * algorithm than its artifact; a format 1 release fails the same way). The
 * retrainer's start-up republishes its champion on such a refusal. */
static void test_refused_newest(void **state)
{
    (void)state;
    sf_err err, bad;
    char *dir = tu_mkdtemp();
    char priv[1100], pub[1100], priv2[1100], pub2[1100];
    snprintf(priv, sizeof priv, "%s/a.key", dir);
    snprintf(pub, sizeof pub, "%s/a.pub", dir);
    snprintf(priv2, sizeof priv2, "%s/b.key", dir);
    snprintf(pub2, sizeof pub2, "%s/b.pub", dir);
    if (sf_release_keygen(priv, pub, &err) || sf_release_keygen(priv2, pub2, &err))
        fail_msg("keygen: %s", err.msg);
    sf_release_key *ka = sf_release_key_load(priv, 1, &err);
    sf_release_key *kb = sf_release_key_load(pub2, 0, &err);
    assert_non_null(ka);
    assert_non_null(kb);
    sf_mockbroker *mb = sf_mockbroker_start(1, 2, &err);
    assert_non_null(mb);
    sf_kafka_conn conn = {.brokers = sf_mockbroker_bootstraps(mb)};
    sf_kafka_stats st;
    sf_kafka_client_opts po = {.role = SF_KAFKA_RELEASE_PRODUCER, .conn = conn, .stats = &st};
    rd_kafka_t *prod = sf_kafka_client_new(&po, &err);
    assert_non_null(prod);
    size_t alen;
    uint8_t *art = make_artifact(&alen);

    if (sf_release_publish(prod, &st, art, alen, 3, 1000, 10000, ka, NULL, NULL, &err) != 0)
        fail_msg("publish: %s", err.msg);
    assert_int_equal(sf_release_last_version(&conn, 10000, NULL, &bad, &err), 3);
    assert_string_equal(bad.msg, "");
    assert_int_equal(sf_release_last_version(&conn, 10000, ka, &bad, &err), 3);
    assert_string_equal(bad.msg, "");
    assert_int_equal(sf_release_last_version(&conn, 10000, kb, &bad, &err), 3);
    assert_non_null(strstr(bad.msg, "satisfy.models [0] @0: release v3: bad signature"));

    assert_int_equal(
        sf_release_publish(prod, &st, art, alen, 4, 2000, 10000, NULL, NULL, NULL, &err), 0);
    assert_int_equal(sf_release_last_version(&conn, 10000, ka, &bad, &err), 4);
    assert_non_null(strstr(bad.msg, "release v4: unsigned"));

    sf_model *m = NULL;
    if (sf_model_load(art, alen, NULL, &m, &err) != 0)
        fail_msg("load: %s", err.msg);
    sf_model_release rel;
    assert_int_equal(sf_model_release_make(m, 6, 3000, &rel, &err), 0);
    snprintf(rel.algorithm, sizeof rel.algorithm, "%s",
             strcmp(rel.algorithm, "gbdt") ? "gbdt" : "ridge");
    sf_buf b = {0};
    assert_int_equal(sf_encode_release(&rel, &b, &err), 0);
    produce_raw(prod, 6, b.data, b.len);
    assert_int_equal(sf_release_last_version(&conn, 10000, NULL, &bad, &err), 6);
    assert_non_null(strstr(bad.msg, "satisfy.models [0] @2: release v6: "));

    sf_buf_free(&b);
    sf_model_release_clear(&rel);
    sf_model_free(m);
    free(art);
    rd_kafka_destroy(prod);
    sf_mockbroker_stop(mb);
    sf_release_key_free(ka);
    sf_release_key_free(kb);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_publish_and_find),
                                       cmocka_unit_test(test_refused_newest)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
