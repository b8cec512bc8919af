/*
 * test_modelwatch.c - the model watcher (modelwatch.h) against librdkafka's
 * mock cluster, in process, with exact counts.
 *
 * Unsigned mode: hostile releases (garbage bytes, an empty value, a release
 * cut in half) are each counted as ignored and rejected, and the good
 * release after them is loaded. Signed mode (a verify key): an unsigned
 * release, one signed with another key, one with a flipped value byte and
 * one whose signed bytes are re-published under a newer version (a replay
 * posing as new) are refused for their signature before anything is parsed
 * (counted in satisfy_scorer_releases_rejected_total{reason="signature"});
 * the good signed release loads; the same release again is ignored as
 * already kept (not parsed), and an older signed one is kept but not served.
 * An unsigned ServingState is refused like an unsigned release; a signed one
 * naming the older release makes it the served model.
 *
 * ServingState (unsigned mode): the highest epoch is obeyed whatever the
 * versions (a rollback to an older release, then a promote back); a state
 * not above the epoch obeyed is ignored; one naming a release not seen yet
 * waits for it; a malformed one is counted as rejected; a new watcher reading
 * the same topic ends on the same model. Every wait is on an observed count
 * with a bounded timeout.
 *
 * Challenger (shadow scoring): a state naming a challenger hands it out
 * (sf_modelwatch_take_challenger) with the champion unchanged; a new
 * challenger replaces it; cause "retire" (challenger 0) hands out "none";
 * one not seen yet is waited for (none meanwhile) and handed out when its
 * release arrives; cause "live" (the challenger promoted) changes the
 * champion and hands out "none"; a state whose challenger equals its
 * champion (bytes patched past the encoder's check) is refused and changes
 * nothing; a new watcher ends on the same champion and challenger.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/codec.h"
#include "satisfy/kafka.h"
#include "satisfy/mockbroker.h"
#include "satisfy/model.h"
#include "satisfy/modelwatch.h"
#include "satisfy/release_sign.h"
#include "satisfy/release_topic.h"
#include "satisfy/stats.h"

typedef struct fixture {
    sf_mockbroker *mb;
    sf_kafka_conn conn;
    rd_kafka_t *prod;
    sf_kafka_stats st;
    uint8_t *art;
    size_t alen;
    char *dir;
    pthread_mutex_t mu;
    char log[16384];
} fixture;

static void log_line(void *arg, const char *line)
{
    fixture *f = arg;
    pthread_mutex_lock(&f->mu);
    size_t n = strlen(f->log);
    snprintf(f->log + n, sizeof f->log - n, "%s\n", line);
    pthread_mutex_unlock(&f->mu);
}

static int log_has(fixture *f, const char *s)
{
    pthread_mutex_lock(&f->mu);
    int yes = strstr(f->log, s) != NULL;
    pthread_mutex_unlock(&f->mu);
    return yes;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    sf_err err;
    pthread_mutex_init(&f->mu, NULL);
    f->mb = sf_mockbroker_start(1, 1, &err);
    if (!f->mb)
        fail_msg("%s", err.msg);
    f->conn.brokers = sf_mockbroker_bootstraps(f->mb);
    sf_kafka_client_opts po = {.role = SF_KAFKA_RELEASE_PRODUCER, .conn = f->conn, .stats = &f->st};
    f->prod = sf_kafka_client_new(&po, &err);
    assert_non_null(f->prod);
    sf_examples ex;
    tu_synth_examples(&ex, 400, 0.5);
    sf_model *m = NULL;
    if (sf_model_train(SF_ALGO_RIDGE, &ex, NULL, NULL, &m, &err) != 0)
        fail_msg("train: %s", err.msg);
    sf_model_set_window(m, 1000, 2000);
    assert_int_equal(sf_model_save(m, &f->art, &f->alen, &err), 0);
    sf_model_free(m);
    sf_examples_free(&ex);
    f->dir = tu_mkdtemp();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rd_kafka_destroy(f->prod);
    sf_mockbroker_stop(f->mb);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->art);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

/* The value bytes of release v of the fixture's model. */
static void encode(fixture *f, int64_t v, sf_buf *out)
{
    sf_err err;
    sf_model *m = NULL;
    sf_model_release rel;
    memset(&rel, 0, sizeof rel);
    if (sf_model_load_trusted(f->art, f->alen, NULL, &m, &err) != 0 ||
        sf_model_release_make(m, v, 1000 * v, &rel, &err) != 0 ||
        sf_encode_release(&rel, out, &err) != 0)
        fail_msg("encode v%lld: %s", (long long)v, err.msg);
    sf_model_release_clear(&rel);
    sf_model_free(m);
}

/* Produces one raw message to satisfy.models (sig may be NULL) and waits for it. */
static void produce(fixture *f, const char *key, const void *value, size_t len, const void *sig)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    if (sig)
        rd_kafka_header_add(h, SF_RELEASE_SIG_HEADER, -1, sig, SF_RELEASE_SIG_LEN);
    assert_int_equal(rd_kafka_producev(f->prod, RD_KAFKA_V_TOPIC(SF_TOPIC_MODELS),
                                       RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_HEADERS(h),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    assert_int_equal(sf_kafka_drain(f->prod, 10000), 0);
}

static void publish(fixture *f, int64_t v, const sf_release_key *k)
{
    sf_err err;
    if (sf_release_publish(f->prod, &f->st, f->art, f->alen, v, 1000 * v, 10000, k, NULL, NULL,
                           &err) != 0)
        fail_msg("publish v%lld: %s", (long long)v, err.msg);
}

/* Waits (bounded) until the watcher has seen loaded + ignored releases. */
static void wait_counts(sf_modelwatch *mw, uint64_t loaded, uint64_t ignored)
{
    uint64_t l = 0, i = 0;
    struct timespec tick = {0, 10 * 1000000};
    for (int n = 0; n < 3000; n++) {
        sf_modelwatch_counts(mw, &l, &i);
        if (l + i >= loaded + ignored)
            break;
        nanosleep(&tick, NULL);
    }
    assert_int_equal(l, loaded);
    assert_int_equal(i, ignored);
}

/* A watcher in unsigned mode logging to the fixture, counting in st. */
static sf_modelwatch *watch(fixture *f, sf_stats *st)
{
    sf_err err;
    sf_modelwatch_opts wo = {.log = log_line, .log_arg = f, .stats = st};
    sf_modelwatch *mw = sf_modelwatch_start(&f->conn, &wo, &err);
    if (!mw)
        fail_msg("%s", err.msg);
    return mw;
}

static void test_hostile_then_good(void **state)
{
    fixture *f = *state;
    sf_stats *st = sf_stats_new();
    sf_modelwatch *mw = watch(f, st);
    sf_buf b = {0};
    encode(f, 1, &b);
    produce(f, "1", "\0\0\0\0\4garbage", 12, NULL);
    produce(f, "1", b.data, b.len / 2, NULL); /* truncated */
    produce(f, "1", "", 0, NULL);
    publish(f, 2, NULL);
    wait_counts(mw, 1, 3);
    sf_model *m = NULL;
    int64_t v = 0;
    assert_int_equal(sf_modelwatch_take(mw, 0, &m, &v), 1);
    assert_int_equal(v, 2);
    sf_model_free(m);
    sf_stats_snapshot s;
    sf_stats_get(st, &s);
    assert_int_equal(s.models_rejected, 3);
    assert_int_equal(s.rejected_signature, 0);
    assert_int_equal(sf_modelwatch_rejected_signature(mw), 0);
    assert_true(log_has(f, "WARNING: release signatures are not checked"));
    assert_true(log_has(f, "ignoring bad model release at satisfy.models [0] @0: "));
    assert_true(log_has(f, "ignoring bad model release at satisfy.models [0] @2: "));
    assert_true(log_has(f, "model 2 loaded"));
    sf_modelwatch_stop(mw);
    sf_stats_free(st);
    sf_buf_free(&b);
}

static void test_signed(void **state)
{
    fixture *f = *state;
    sf_err err;
    char priv[600], pub[600], priv2[600], pub2[600];
    snprintf(priv, sizeof priv, "%s/a.key", f->dir);
    snprintf(pub, sizeof pub, "%s/a.pub", f->dir);
    snprintf(priv2, sizeof priv2, "%s/b.key", f->dir);
    snprintf(pub2, sizeof pub2, "%s/b.pub", f->dir);
    assert_int_equal(sf_release_keygen(priv, pub, &err), 0);
    assert_int_equal(sf_release_keygen(priv2, pub2, &err), 0);
    sf_release_key *sk = sf_release_key_load(priv, 1, &err);
    sf_release_key *pk = sf_release_key_load(pub, 0, &err);
    sf_release_key *other = sf_release_key_load(priv2, 1, &err);
    assert_non_null(sk);
    assert_non_null(pk);
    assert_non_null(other);

    sf_stats *st = sf_stats_new();
    sf_modelwatch_opts wo = {.log = log_line, .log_arg = f, .stats = st, .verify_key = pk};
    sf_modelwatch *mw = sf_modelwatch_start(&f->conn, &wo, &err);
    assert_non_null(mw);

    publish(f, 1, NULL);  /* @0 unsigned */
    publish(f, 2, other); /* @1 signed with another key */
    sf_buf b3 = {0};
    uint8_t sig[SF_RELEASE_SIG_LEN];
    encode(f, 3, &b3);
    assert_int_equal(sf_release_sign(sk, 3, b3.data, b3.len, sig, &err), 0);
    b3.data[b3.len - 1] ^= 1;
    produce(f, "3", b3.data, b3.len, sig); /* @2 a flipped byte */
    b3.data[b3.len - 1] ^= 1;
    produce(f, "9", b3.data, b3.len, sig); /* @3 v3's signed bytes posing as v9 */
    publish(f, 4, sk);                     /* @4 good */
    publish(f, 4, sk);                     /* @5 the same again */
    produce(f, "3", b3.data, b3.len, sig); /* @6 a genuine older one: kept, not served */
    wait_counts(mw, 2, 5);

    sf_model *m = NULL;
    int64_t v = 0;
    assert_int_equal(sf_modelwatch_take(mw, 0, &m, &v), 1);
    assert_int_equal(v, 4);
    sf_model_free(m);
    assert_int_equal(sf_modelwatch_rejected_signature(mw), 4);
    sf_stats_snapshot s;
    sf_stats_get(st, &s);
    assert_int_equal(s.rejected_signature, 4);
    assert_int_equal(s.models_rejected, 4);
    char *prom = sf_stats_prometheus(&s);
    assert_non_null(
        strstr(prom, "satisfy_scorer_releases_rejected_total{reason=\"signature\"} 4\n"));
    assert_non_null(strstr(prom, "satisfy_scorer_models_rejected_total 4\n"));
    free(prom);
    assert_false(log_has(f, "WARNING"));
    assert_true(log_has(f, "ignoring unsigned or wrongly signed release at satisfy.models [0] @0: "
                           "unsigned: no 'signature' header"));
    assert_true(log_has(f, "ignoring unsigned or wrongly signed release at satisfy.models [0] @1: "
                           "bad signature"));
    assert_true(log_has(f, "@2: bad signature"));
    assert_true(log_has(f, "@3: bad signature: not made by the configured key over version 9"));
    assert_true(log_has(f, "model 4 loaded"));
    assert_true(log_has(f, "ignoring model release 4 at satisfy.models [0] @5: version already "
                           "kept (signed, not parsed)"));
    assert_true(log_has(f, "model 3 kept"));
    assert_int_equal(sf_modelwatch_take(mw, 0, &m, &v), 0); /* still 4 */

    /* ServingStates: unsigned is refused, signed is obeyed (back to 3) */
    sf_serving_state ss = {.epoch = 1, .champion = 3, .cause = "rollback", .at = 1500000000000};
    snprintf(ss.reason, sizeof ss.reason, "test");
    if (sf_serving_publish(f->prod, &f->st, &ss, 10000, NULL, &err) != 0) /* @7 */
        fail_msg("%s", err.msg);
    wait_counts(mw, 2, 6);
    assert_int_equal(sf_modelwatch_rejected_signature(mw), 5);
    assert_true(log_has(f, "ignoring unsigned or wrongly signed serving state at satisfy.models "
                           "[0] @7: unsigned"));
    ss.epoch = 2;
    if (sf_serving_publish(f->prod, &f->st, &ss, 10000, sk, &err) != 0) /* @8 */
        fail_msg("%s", err.msg);
    assert_int_equal(sf_modelwatch_take(mw, 10000, &m, &v), 1);
    assert_int_equal(v, 3);
    sf_model_free(m);
    sf_stats_get(st, &s);
    assert_int_equal(s.serving_epoch, 2);
    assert_int_equal(s.serving_champion, 3);
    sf_modelwatch_stop(mw);
    sf_stats_free(st);
    sf_buf_free(&b3);
    sf_release_key_free(sk);
    sf_release_key_free(pk);
    sf_release_key_free(other);
}

static void serve(fixture *f, int64_t epoch, int64_t champion, const char *cause)
{
    sf_err err;
    sf_serving_state ss = {.epoch = epoch, .champion = champion, .at = 1500000000000};
    snprintf(ss.cause, sizeof ss.cause, "%s", cause);
    snprintf(ss.reason, sizeof ss.reason, "by the test");
    if (sf_serving_publish(f->prod, &f->st, &ss, 10000, NULL, &err) != 0)
        fail_msg("serve epoch %lld: %s", (long long)epoch, err.msg);
}

/* The model a watcher hands out next, within 10 s (0 = none). */
static int64_t next_model(sf_modelwatch *mw)
{
    sf_model *m = NULL;
    int64_t v = 0;
    if (sf_modelwatch_take(mw, 10000, &m, &v) != 1)
        return 0;
    sf_model_free(m);
    return v;
}

static void test_serving_state(void **state)
{
    fixture *f = *state;
    sf_stats *st = sf_stats_new();
    sf_modelwatch *mw = watch(f, st);
    publish(f, 1, NULL);
    publish(f, 2, NULL);
    wait_counts(mw, 2, 0);
    assert_int_equal(next_model(mw), 2); /* no ServingState: the newest */
    serve(f, 3, 1, "rollback");          /* back to the older one */
    assert_int_equal(next_model(mw), 1);
    serve(f, 2, 2, "promote"); /* below the epoch obeyed: ignored */
    wait_counts(mw, 2, 1);
    assert_true(log_has(f, "ignoring serving state epoch 2 at satisfy.models [0] @3: not above "
                           "epoch 3"));
    serve(f, 4, 2, "promote"); /* forward again */
    assert_int_equal(next_model(mw), 2);
    serve(f, 5, 9, "promote"); /* not seen yet: waits for it */
    for (int i = 0; i < 500 && !log_has(f, "names model 9, not seen yet"); i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    assert_true(log_has(f, "serving state epoch 5 names model 9, not seen yet on satisfy.models: "
                           "waiting for its release (serving 2 meanwhile)"));
    sf_model *m = NULL;
    int64_t v = 0;
    assert_int_equal(sf_modelwatch_take(mw, 0, &m, &v), 0);
    publish(f, 9, NULL);
    assert_int_equal(next_model(mw), 9);
    produce(f, SF_SERVING_KEY, "\0\0\0\0\5junk", 9, NULL); /* malformed: rejected */
    wait_counts(mw, 3, 2);
    assert_true(log_has(f, "ignoring bad serving state at satisfy.models [0] @7: "));
    sf_stats_snapshot s;
    sf_stats_get(st, &s);
    assert_int_equal(s.serving_epoch, 5);
    assert_int_equal(s.serving_champion, 9);
    assert_int_equal(s.models_rejected, 1);
    char *prom = sf_stats_prometheus(&s);
    assert_non_null(strstr(prom, "satisfy_scorer_serving_epoch 5\n"));
    free(prom);
    sf_serving_state cur, hist[8];
    assert_int_equal(sf_modelwatch_serving(mw, &cur, hist, 8), 3);
    assert_int_equal(cur.epoch, 5);
    assert_string_equal(hist[0].cause, "rollback");
    int64_t kept[8];
    assert_int_equal(sf_modelwatch_kept(mw, kept, 8), 3);
    assert_int_equal(kept[0], 1);
    assert_int_equal(kept[2], 9);
    sf_modelwatch_stop(mw);

    /* a new watcher (a restarted scorer) ends on the same model; then a
     * rollback to 1 reaches it too */
    sf_modelwatch *mw2 = watch(f, st);
    wait_counts(mw2, 3, 2);
    assert_int_equal(next_model(mw2), 9);
    serve(f, 6, 1, "rollback");
    assert_int_equal(next_model(mw2), 1);
    sf_modelwatch_stop(mw2);
    sf_stats_free(st);
}

static void serve_ch(fixture *f, int64_t epoch, int64_t champion, int64_t challenger,
                     const char *cause)
{
    sf_err err;
    sf_serving_state ss = {
        .epoch = epoch, .champion = champion, .challenger = challenger, .at = 1500000000000};
    snprintf(ss.cause, sizeof ss.cause, "%s", cause);
    snprintf(ss.reason, sizeof ss.reason, "by the test");
    if (sf_serving_publish(f->prod, &f->st, &ss, 10000, NULL, &err) != 0)
        fail_msg("serve epoch %lld: %s", (long long)epoch, err.msg);
}

/* The challenger a watcher hands out next, within 10 s: its version, 0 for
 * "none", -1 when nothing changed. A model comes with a version and only
 * then. */
static int64_t next_challenger(sf_modelwatch *mw)
{
    struct timespec tick = {0, 10 * 1000000};
    for (int i = 0; i < 1000; i++) {
        sf_model *m = (sf_model *)1;
        int64_t v = -7;
        if (sf_modelwatch_take_challenger(mw, &m, &v)) {
            assert_true((m != NULL) == (v > 0));
            sf_model_free(m);
            return v;
        }
        assert_true(m == (sf_model *)1 && v == -7); /* left alone */
        nanosleep(&tick, NULL);
    }
    return -1;
}

/* No challenger change is waiting (after the watcher has seen what it was
 * sent: the caller waited on its counts). */
static void no_challenger_change(sf_modelwatch *mw)
{
    sf_model *m = NULL;
    int64_t v = 0;
    assert_int_equal(sf_modelwatch_take_challenger(mw, &m, &v), 0);
}

static void test_challenger(void **state)
{
    fixture *f = *state;
    sf_stats *st = sf_stats_new();
    sf_modelwatch *mw = watch(f, st);
    publish(f, 1, NULL);
    publish(f, 2, NULL);
    publish(f, 3, NULL);
    wait_counts(mw, 3, 0);
    serve_ch(f, 1, 1, 0, "gate");
    /* the newest releases may be handed out before the state: take until 1 */
    int64_t got = 0;
    for (int i = 0; i < 5 && got != 1; i++)
        got = next_model(mw);
    assert_int_equal(got, 1);
    no_challenger_change(mw); /* none named, none was: nothing to say */

    serve_ch(f, 2, 1, 2, "challenger"); /* a challenge starts: champion unchanged */
    assert_int_equal(next_challenger(mw), 2);
    assert_true(log_has(f, "model 2 is the challenger: scored as well, to satisfy.shadow "
                           "(serving state epoch 2)"));
    serve_ch(f, 3, 1, 3, "challenger"); /* another challenger replaces it */
    assert_int_equal(next_challenger(mw), 3);
    serve_ch(f, 4, 1, 0, "retire");
    assert_int_equal(next_challenger(mw), 0);
    assert_true(log_has(f, "no challenger now (was model 3): serving state epoch 4"));
    wait_counts(mw, 3, 0);
    sf_model *m = NULL;
    int64_t v = 0;
    assert_int_equal(sf_modelwatch_take(mw, 0, &m, &v), 0); /* champion still 1 */

    serve_ch(f, 5, 1, 2, "challenger");
    assert_int_equal(next_challenger(mw), 2);
    serve_ch(f, 6, 1, 9, "challenger"); /* not seen yet: none meanwhile, then it */
    assert_int_equal(next_challenger(mw), 0);
    assert_true(log_has(f, "serving state epoch 6 names challenger 9, not seen yet on "
                           "satisfy.models: waiting for its release"));
    publish(f, 9, NULL);
    assert_int_equal(next_challenger(mw), 9);
    assert_int_equal(sf_modelwatch_take(mw, 0, &m, &v), 0); /* champion still 1 */

    serve_ch(f, 7, 9, 0, "live"); /* promoted on live outcomes */
    assert_int_equal(next_model(mw), 9);
    assert_int_equal(next_challenger(mw), 0);

    /* challenger == champion: the codec refuses to write it, so patch the
     * bytes of (epoch 8, champion 9, challenger 2): zigzag varints of one
     * byte each after the 5-byte frame; challenger 2 -> 9 */
    sf_serving_state bad = {.epoch = 8, .champion = 9, .challenger = 2, .at = 1500000000000};
    snprintf(bad.cause, sizeof bad.cause, "challenger");
    sf_buf b = {0};
    sf_err err;
    assert_int_equal(sf_encode_serving(&bad, &b, &err), 0);
    assert_int_equal(b.data[5], 16);
    assert_int_equal(b.data[6], 18);
    assert_int_equal(b.data[7], 4);
    b.data[7] = 18;
    produce(f, SF_SERVING_KEY, b.data, b.len, NULL);
    wait_counts(mw, 4, 1);
    assert_true(log_has(f, "ignoring bad serving state at satisfy.models [0] @11: "));
    no_challenger_change(mw);
    assert_int_equal(sf_modelwatch_take(mw, 0, &m, &v), 0);
    sf_buf_free(&b);
    serve_ch(f, 9, 9, 3, "challenger");
    assert_int_equal(next_challenger(mw), 3);
    sf_modelwatch_stop(mw);

    /* a new watcher (a restarted scorer) ends on the same pair */
    sf_modelwatch *mw2 = watch(f, st);
    assert_int_equal(next_model(mw2), 9);
    assert_int_equal(next_challenger(mw2), 3);
    sf_modelwatch_stop(mw2);
    sf_stats_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hostile_then_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serving_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenger, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
