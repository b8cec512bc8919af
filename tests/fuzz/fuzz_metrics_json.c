/*
 * fuzz_metrics_json.c - libFuzzer target for the JSON records the scorer's
 * web server reads from satisfy.metrics: online accuracy (the series of
 * /v1/online, lib/http/http_online.c) and gate decisions (sf_decision_parse,
 * lib/release/decision.c), through sf_http_metrics_feed as the follower calls it;
 * the input and outcome drift messages it hands to http_drift.c and the
 * shadow challengers' judge (http_challenge.c) too.
 *
 * An input is up to 32 messages separated by 0x1e. A message's first byte
 * picks its header schema (bits 0, 1 and 3: none, decision, accuracy,
 * another, challenge, input drift, outcome drift, none) and whether it has a
 * key (bit 2): the bytes up to the first 0x1f; the rest is the value. Each
 * input starts from an empty server state (so a crash replays from its
 * input alone) and ends by rendering GET /v1/online and GET /v1/challenge.
 * A decision that parses must print (sf_decision_json), parse back and
 * print again to the same text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_impl.h"
#include "satisfy/challenge.h"
#include "satisfy/decision.h"
#include "satisfy/drift.h"
#include "satisfy/drift_detect.h"

static const char *const SCHEMAS[] = {NULL,
                                      SF_DECISION_SCHEMA,
                                      "satisfy.v1.OnlineAccuracy+json",
                                      "x",
                                      SF_CHALLENGE_SCHEMA,
                                      SF_DRIFT_SCHEMA,
                                      SF_OUTCOME_DRIFT_SCHEMA,
                                      NULL};

static void decision_round_trip(const void *key, size_t klen, const void *v, size_t n)
{
    sf_decision a, b;
    sf_err err = {{0}};
    if (sf_decision_parse(key, klen, v, n, &a, &err) != 0)
        return;
    char *s = sf_decision_json(&a, &err);
    if (!s)
        abort();
    if (sf_decision_parse(NULL, 0, s, strlen(s), &b, &err) != 0) {
        fprintf(stderr, "decision round trip: %s\n%s\n", err.msg, s);
        abort();
    }
    /* cJSON prints a number with 15 significant digits when they read back
     * within its tolerance (17 otherwise), so a parsed 0.8888888888888888
     * comes back as 0.888888888888889: the printed text, not the double, is
     * what must not change once printed */
    char *s2 = sf_decision_json(&b, &err);
    if (!s2 || strcmp(s, s2) != 0) {
        fprintf(stderr, "decision round trip: printed again differs\n%s\n%s\n", s, s2);
        abort();
    }
    free(s2);
    free(s);
}

static void feed(sf_http *h, const uint8_t *m, size_t n)
{
    if (n == 0)
        return;
    const char *schema = SCHEMAS[(m[0] & 3) | ((m[0] >> 1) & 4)];
    int has_key = m[0] & 4;
    m++;
    n--;
    const uint8_t *key = NULL, *v = m;
    size_t klen = 0;
    if (has_key) {
        const uint8_t *us = memchr(m, 0x1f, n);
        key = m;
        klen = us ? (size_t)(us - m) : n;
        v = key + klen + (us ? 1 : 0);
        n -= klen + (us ? 1 : 0);
    }
    /* the follower copies nothing: give the exact bytes, unterminated */
    uint8_t *kc = key ? malloc(klen ? klen : 1) : NULL, *vc = malloc(n ? n : 1);
    if ((key && !kc) || !vc)
        abort();
    if (klen)
        memcpy(kc, key, klen);
    if (n)
        memcpy(vc, v, n);
    sf_err err = {{0}};
    sf_http_metrics_feed(h, schema, kc, klen, vc, n, "satisfy.metrics [0] @1", &err);
    decision_round_trip(kc, klen, vc, n);
    free(kc);
    free(vc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_http *h = calloc(1, sizeof *h);
    if (!h)
        return 0;
    sf_http_online_init(h);
    sf_http_drift_init(h);     /* drift messages are kept apart (http_drift.c) */
    sf_http_challenge_init(h); /* and the challengers' judge (http_challenge.c) */
    const uint8_t *p = data, *end = data + size;
    for (int i = 0; i < 32 && p < end; i++) {
        const uint8_t *rs = memchr(p, 0x1e, (size_t)(end - p));
        size_t n = rs ? (size_t)(rs - p) : (size_t)(end - p);
        feed(h, p, n);
        p += n + (rs ? 1 : 0);
    }
    sf_http_req q = {.method = "GET", .path = "/v1/online", .body = "", .len = 0};
    sf_http_resp r = {0};
    if (sf_http_online_route(h, &q, &r) != 1 || r.status != 200)
        abort();
    if (!r.is_static)
        free(r.body);
    q.path = "/v1/challenge";
    memset(&r, 0, sizeof r);
    if (sf_http_challenge_route(h, &q, &r) != 1 || r.status != 200)
        abort();
    if (!r.is_static)
        free(r.body);
    sf_http_online_stop(h);
    sf_http_drift_free(h);
    sf_http_challenge_free(h);
    free(h);
    return 0;
}
