/*
 * test_serving_state.c - the ServingState record (serving_state.h) and the
 * registry's serving history (registry.h), without services.
 *
 * Codec: a state round-trips byte for byte, with its Confluent header (id
 * 5); every malformed or invalid input is refused with a message naming the
 * field (truncations at every length, trailing bytes, a wrong schema id,
 * a bad cause, epoch or champion not positive, a challenger equal to the
 * champion, a NUL or invalid UTF-8 in the reason, an oversized string, a
 * time out of range); the JSON view carries every field.
 *
 * Registry: gate, promote and rollback rows get increasing epochs, never
 * below the minimum asked for (the topic's epoch); promote of an unknown or
 * never released version is refused with a clear message and records
 * nothing; the champion alias follows; the rollback target walks back through
 * the history like a stack.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/registry.h"
#include "satisfy/serving_state.h"

static sf_serving_state sample(void)
{
    sf_serving_state s = {.epoch = 7, .champion = 3, .challenger = 0, .at = 1764900000000};
    snprintf(s.cause, sizeof s.cause, "rollback");
    snprintf(s.reason, sizeof s.reason, "ana: v4 mislabels late deliveries (ticket 42) \xc3\xa9");
    return s;
}

static void test_round_trip(void **state)
{
    (void)state;
    sf_err err;
    sf_buf b = {0}, b2 = {0};
    sf_serving_state s = sample(), back;
    assert_int_equal(sf_encode_serving(&s, &b, &err), 0);
    assert_int_equal(b.data[0], 0);
    assert_int_equal(b.data[4], SF_SCHEMA_SERVING_STATE);
    int id = 0;
    assert_int_equal(sf_wire_peek(b.data, b.len, &id, &err), 0);
    assert_int_equal(id, 5);
    assert_string_equal(sf_schema_name(id), "ServingState");
    assert_int_equal(sf_decode_serving(b.data, b.len, &back, &err), 0);
    assert_int_equal(back.epoch, 7);
    assert_int_equal(back.champion, 3);
    assert_int_equal(back.challenger, 0);
    assert_string_equal(back.cause, "rollback");
    assert_string_equal(back.reason, s.reason);
    assert_int_equal(back.at, s.at);
    assert_int_equal(sf_encode_serving(&back, &b2, &err), 0);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.data, b2.data, b.len);
    /* large values and every cause */
    const char *causes[] = {"gate", "promote", "rollback", "live"};
    for (int i = 0; i < 4; i++) {
        sf_serving_state t = sample();
        t.epoch = INT64_MAX - i;
        t.champion = (int64_t)1 << 40;
        t.challenger = i;
        snprintf(t.cause, sizeof t.cause, "%s", causes[i]);
        assert_int_equal(sf_encode_serving(&t, &b, &err), 0);
        assert_int_equal(sf_decode_serving(b.data, b.len, &back, &err), 0);
        assert_int_equal(back.epoch, t.epoch);
        assert_int_equal(back.challenger, i);
        assert_string_equal(back.cause, causes[i]);
    }
    char *j = sf_serving_to_json(&s, &err);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"epoch\":7"));
    assert_non_null(strstr(j, "\"champion\":3"));
    assert_non_null(strstr(j, "\"cause\":\"rollback\""));
    assert_non_null(strstr(j, "\"at\":1764900000000"));
    free(j);
    sf_buf_free(&b);
    sf_buf_free(&b2);
}

/* encode refuses s with a message containing want. */
static void refused(const sf_serving_state *s, const char *want)
{
    sf_err err = {{0}};
    sf_buf b = {0};
    assert_int_equal(sf_encode_serving(s, &b, &err), -1);
    if (!strstr(err.msg, want))
        fail_msg("expected '%s' in '%s'", want, err.msg);
    sf_buf_free(&b);
}

static void test_invalid_refused(void **state)
{
    (void)state;
    sf_serving_state s = sample();
    s.epoch = 0;
    refused(&s, "epoch: 0 is not positive");
    s = sample();
    s.champion = -1;
    refused(&s, "champion: version -1 is not positive");
    s = sample();
    s.challenger = s.champion;
    refused(&s, "challenger");
    s = sample();
    snprintf(s.cause, sizeof s.cause, "manual");
    refused(&s, "cause: 'manual' is not gate, promote, rollback, live, challenger or retire");
    s = sample();
    s.reason[3] = (char)0xc3; /* a lead byte followed by ASCII */
    refused(&s, "reason: not valid UTF-8");
    s = sample();
    s.at = 5;
    refused(&s, "at: 5 ms");
}

/* decode refuses len bytes of buf with a message containing want. */
static void bad_bytes(const uint8_t *buf, size_t len, const char *want)
{
    sf_err err = {{0}};
    sf_serving_state s;
    assert_int_equal(sf_decode_serving(buf, len, &s, &err), -1);
    if (!strstr(err.msg, want))
        fail_msg("expected '%s' in '%s' (len %zu)", want, err.msg, len);
    assert_int_equal(s.epoch, 0); /* nothing half-filled */
}

static void test_malformed_refused(void **state)
{
    (void)state;
    sf_err err;
    sf_buf b = {0};
    sf_serving_state s = sample();
    assert_int_equal(sf_encode_serving(&s, &b, &err), 0);
    for (size_t n = 0; n < b.len; n++)
        bad_bytes(b.data, n, n < SF_WIRE_HEADER ? "too short" : "ServingState");
    uint8_t *big = malloc(b.len + 1);
    memcpy(big, b.data, b.len);
    big[b.len] = 0;
    bad_bytes(big, b.len + 1, "trailing bytes");
    memcpy(big, b.data, b.len);
    big[4] = 4; /* a ModelRelease id */
    bad_bytes(big, b.len, "schema id 4 (ModelRelease), expected 5");
    big[4] = 5;
    big[0] = 1;
    bad_bytes(big, b.len, "wrong magic byte");
    free(big);
    /* hand-made bodies: epoch 1, champion 1, challenger 0, then strings */
    const uint8_t neg[] = {0, 0, 0, 0, 5, 2, 2, 0, 1 /* length -1 */};
    bad_bytes(neg, sizeof neg, "cause: negative string length");
    const uint8_t nul[] = {0, 0, 0, 0, 5, 2, 2, 0, 8, 'g', 0, 't', 'e', 0, 2};
    bad_bytes(nul, sizeof nul, "cause: string contains a NUL byte");
    const uint8_t longs[] = {0, 0, 0, 0, 5, 2, 2, 0, 0x80, 0x80, 0x04}; /* 32768 bytes */
    bad_bytes(longs, sizeof longs, "cause: string too long");
    const uint8_t over[] = {0,    0,    0,    0,    5,    0xff, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    bad_bytes(over, sizeof over, "epoch: malformed varint");
    const uint8_t cause[] = {0, 0, 0, 0, 5, 2, 2, 0, 6, 'x', 'y', 'z', 0, 2};
    bad_bytes(cause, sizeof cause, "cause: 'xyz'");
    sf_buf_free(&b);
}

static int64_t add_version(sf_registry *r, const char *status)
{
    static const uint8_t art[] = {1, 2, 3};
    sf_version_new v = {.algorithm = "ridge",
                        .spec_hash = "00000000000000aa",
                        .artifact = art,
                        .artifact_len = sizeof art,
                        .status = status,
                        .created = 3000};
    sf_err err = {{0}};
    int64_t ver = sf_registry_add_version(r, &v, &err);
    if (ver < 0)
        fail_msg("%s", err.msg);
    return ver;
}

static void test_registry_history(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char path[1100];
    snprintf(path, sizeof path, "%s/registry.db", dir);
    sf_err err = {{0}};
    sf_registry *r;
    assert_int_equal(sf_registry_open(&r, path, NULL, &err), 0);
    assert_int_equal(sf_registry_schema_version(r), SF_REGISTRY_SCHEMA);
    int64_t v1 = add_version(r, "candidate"), v2 = add_version(r, "candidate");
    int64_t v3 = add_version(r, "candidate"), v4 = add_version(r, "rejected");
    sf_serving_state s, *h;
    size_t n;
    assert_int_equal(sf_registry_serve(r, v1, "gate", "gate says so", 0, 1764900000000, &s, &err),
                     0);
    assert_int_equal(s.epoch, 1);
    assert_int_equal(sf_registry_serve(r, v2, "gate", "better", 10, 1764900000001, &s, &err), 0);
    assert_int_equal(s.epoch, 10); /* the topic's epoch was higher */
    assert_int_equal(sf_registry_serve(r, v3, "gate", "better", 0, 1764900000002, &s, &err), 0);
    assert_int_equal(s.epoch, 11);

    /* refused: unknown, never released (candidate, rejected); nothing recorded */
    int64_t v5 = add_version(r, "candidate");
    assert_int_equal(sf_registry_serve(r, 99, "promote", "x", 0, 1764900000003, &s, &err), -1);
    assert_non_null(strstr(err.msg, "no version 99"));
    assert_int_equal(sf_registry_serve(r, v5, "promote", "x", 0, 1764900000003, &s, &err), -1);
    assert_non_null(strstr(err.msg, "was never released (status candidate)"));
    assert_int_equal(sf_registry_serve(r, v4, "promote", "x", 0, 1764900000003, &s, &err), -1);
    assert_non_null(strstr(err.msg, "was never released (status rejected)"));
    assert_int_equal(sf_registry_serving_history(r, &h, &n, &err), 0);
    assert_int_equal(n, 3);

    /* rollback walks back: 3 -> 2 -> 1 -> none; promote 3 then rollback -> 1 */
    assert_int_equal(sf_serving_rollback_target(h, n), v2);
    free(h);
    assert_int_equal(
        sf_registry_serve(r, v2, "rollback", "ops: v3 bad", 0, 1764900000004, &s, &err), 0);
    assert_int_equal(s.epoch, 12);
    sf_version_row ch;
    memset(&ch, 0, sizeof ch);
    assert_int_equal(sf_registry_champion(r, &ch, &err), 1);
    assert_int_equal(ch.version, v2);
    sf_version_row_clear(&ch);
    assert_int_equal(sf_registry_serving_history(r, &h, &n, &err), 0);
    assert_int_equal(sf_serving_rollback_target(h, n), v1);
    assert_string_equal(h[n - 1].cause, "rollback");
    assert_string_equal(h[n - 1].reason, "ops: v3 bad");
    free(h);
    assert_int_equal(sf_registry_serve(r, v1, "rollback", "again", 0, 1764900000005, &s, &err), 0);
    assert_int_equal(sf_registry_serving_history(r, &h, &n, &err), 0);
    assert_int_equal(sf_serving_rollback_target(h, n), 0);
    free(h);
    assert_int_equal(sf_registry_serve(r, v3, "promote", "fixed", 0, 1764900000006, &s, &err), 0);
    assert_int_equal(sf_registry_serving_history(r, &h, &n, &err), 0);
    assert_int_equal(n, 6);
    assert_int_equal(sf_serving_rollback_target(h, n), v1);
    free(h);

    /* a long reason is cut at a character, and stays valid */
    char longr[1200];
    memset(longr, 0, sizeof longr);
    for (size_t i = 0; i + 2 < sizeof longr - 1; i += 2)
        memcpy(longr + i, "\xc3\xa9", 2);
    assert_int_equal(sf_registry_serve(r, v1, "promote", longr, 0, 1764900000007, &s, &err), 0);
    assert_true(strlen(s.reason) < SF_SERVING_REASON_MAX);
    sf_buf b = {0};
    assert_int_equal(sf_encode_serving(&s, &b, &err), 0);
    sf_buf_free(&b);
    sf_registry_close(r);
    tu_rmtree(dir);
    free(dir);
}

/* Shadow challenges in the registry: start, one at a time, promoted (cause
 * live), retired (cause retire, status rejected), ended by a gate release;
 * each recorded with its outcome and numbers. */
static void test_registry_challenges(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char path[1100];
    snprintf(path, sizeof path, "%s/registry.db", dir);
    sf_err err = {{0}};
    sf_registry *r;
    assert_int_equal(sf_registry_open(&r, path, NULL, &err), 0);
    int64_t v1 = add_version(r, "candidate"), v2 = add_version(r, "candidate");
    int64_t v3 = add_version(r, "rejected"), v4 = add_version(r, "candidate");
    int64_t v5 = add_version(r, "candidate");
    sf_serving_state s;
    sf_challenge_row open;
    /* no champion yet: nothing to challenge */
    assert_int_equal(sf_registry_challenge_start(r, v2, "x", 0, 1, &s, &err), -1);
    assert_non_null(strstr(err.msg, "no champion"));
    assert_int_equal(sf_registry_serve(r, v1, "gate", "first", 0, 1764900000000, &s, &err), 0);
    assert_int_equal(sf_registry_challenge_start(r, v1, "x", 0, 1, &s, &err), -1);
    assert_non_null(strstr(err.msg, "cannot challenge itself"));
    assert_int_equal(sf_registry_challenge_start(r, 99, "x", 0, 1, &s, &err), -1);
    assert_non_null(strstr(err.msg, "no version 99"));
    assert_int_equal(sf_registry_challenge_open(r, &open, &err), 0);

    assert_int_equal(sf_registry_challenge_start(r, v2, "ops: try v2", 5, 1764900000001, &s, &err),
                     0);
    assert_int_equal(s.epoch, 5);
    assert_int_equal(s.champion, v1);
    assert_int_equal(s.challenger, v2);
    assert_string_equal(s.cause, "challenger");
    assert_int_equal(sf_registry_challenge_open(r, &open, &err), 1);
    assert_int_equal(open.challenger, v2);
    assert_int_equal(open.champion, v1);
    assert_string_equal(open.reason, "ops: try v2");
    sf_challenge_row_clear(&open);
    /* one at a time; only the open one ends */
    assert_int_equal(sf_registry_challenge_start(r, v4, "x", 0, 2, &s, &err), -1);
    assert_non_null(strstr(err.msg, "challenge of v2 is still running"));
    assert_int_equal(sf_registry_challenge_end(r, v4, "promoted", "x", NULL, 0, 2, &s, &err), -1);
    assert_non_null(strstr(err.msg, "no open challenge of v4"));
    assert_int_equal(sf_registry_challenge_end(r, v2, "won", "x", NULL, 0, 2, &s, &err), -1);

    /* promoted: v2 is the champion, cause live, no challenger */
    assert_int_equal(sf_registry_challenge_end(r, v2, "promoted", "wins on 300 orders",
                                               "{\"orders\":300}", 0, 1764900000002, &s, &err),
                     0);
    assert_int_equal(s.epoch, 6);
    assert_int_equal(s.champion, v2);
    assert_int_equal(s.challenger, 0);
    assert_string_equal(s.cause, "live");
    sf_version_row ch;
    memset(&ch, 0, sizeof ch);
    assert_int_equal(sf_registry_champion(r, &ch, &err), 1);
    assert_int_equal(ch.version, v2);
    sf_version_row_clear(&ch);
    assert_int_equal(sf_registry_challenge_open(r, &open, &err), 0);

    /* a version the gate rejected may challenge; retired, it is rejected again */
    assert_int_equal(
        sf_registry_challenge_start(r, v3, "gate: not clearly worse", 0, 1764900000003, &s, &err),
        0);
    assert_int_equal(s.champion, v2);
    assert_int_equal(s.challenger, v3);
    assert_int_equal(
        sf_registry_challenge_end(r, v3, "retired", "loses", NULL, 0, 1764900000004, &s, &err), 0);
    assert_string_equal(s.cause, "retire");
    assert_int_equal(s.champion, v2);
    assert_int_equal(s.challenger, 0);
    sf_version_row row;
    memset(&row, 0, sizeof row);
    assert_int_equal(sf_registry_get_version(r, v3, false, &row, &err), 1);
    assert_string_equal(row.status, "rejected");
    sf_version_row_clear(&row);

    /* a gate release while v4 challenges ends its challenge */
    assert_int_equal(sf_registry_challenge_start(r, v4, "try v4", 0, 1764900000005, &s, &err), 0);
    assert_int_equal(sf_registry_serve(r, v5, "gate", "better", 0, 1764900000006, &s, &err), 0);
    assert_int_equal(s.challenger, 0);
    assert_int_equal(sf_registry_challenge_open(r, &open, &err), 0);

    sf_challenge_row *rows;
    size_t n;
    assert_int_equal(sf_registry_challenges(r, &rows, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].outcome, "promoted");
    assert_string_equal(rows[0].outcome_reason, "wins on 300 orders");
    assert_string_equal(rows[0].result_json, "{\"orders\":300}");
    assert_int_equal(rows[0].ended, 1764900000002);
    assert_string_equal(rows[1].outcome, "retired");
    assert_string_equal(rows[2].outcome, "ended");
    assert_non_null(strstr(rows[2].outcome_reason, "gate"));
    for (size_t i = 0; i < n; i++)
        sf_challenge_row_clear(&rows[i]);
    free(rows);

    /* the live promotion is in the rollback stack: v5 -> v2 */
    sf_serving_state *h;
    assert_int_equal(sf_registry_serving_history(r, &h, &n, &err), 0);
    assert_int_equal(n, 7);
    assert_int_equal(sf_serving_rollback_target(h, n), v2);
    free(h);
    sf_registry_close(r);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),          cmocka_unit_test(test_invalid_refused),
        cmocka_unit_test(test_malformed_refused),   cmocka_unit_test(test_registry_history),
        cmocka_unit_test(test_registry_challenges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
