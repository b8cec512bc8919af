/*
 * fuzz_http_v1.c - libFuzzer target for the body of POST /v1/predict
 * (sf_http_predict_parse, lib/http/http_api.c: unknown fields, non-finite
 * numbers, the order event JSON of codec_json.c, the value checks). The
 * input is the body as the server hands it to the route (no NUL byte, nested
 * at most SF_HTTP_MAX_DEPTH deep). An order that parses must be scorable
 * input: at least one item, finite prices, and it must survive the JSON view
 * and back (sf_order_to_json, sf_order_from_json).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_body.h"
#include "http_impl.h"
#include "satisfy/codec.h"

static void check(const sf_order_event *ev)
{
    if (ev->n_items < 1)
        abort();
    for (int i = 0; i < ev->n_items; i++)
        if (!isfinite(ev->items[i].price) && !isnan(ev->items[i].price))
            abort();
}

/* The JSON view of ev parses back to the same JSON. */
static void round_trip(const sf_order_event *ev)
{
    sf_err err = {{0}};
    char *a = sf_order_to_json(ev, &err);
    if (!a)
        abort();
    sf_order_event ev2;
    char field[96], msg[SF_ERR_MAX + 64];
    if (sf_http_predict_parse(a, strlen(a), &ev2, field, sizeof field, msg, sizeof msg) != 0) {
        fprintf(stderr, "round trip: %s\n%s\n", msg, a);
        abort();
    }
    char *b = sf_order_to_json(&ev2, &err);
    if (!b || strcmp(a, b) != 0) {
        fprintf(stderr, "round trip differs:\n%s\n%s\n", a, b ? b : "(null)");
        abort();
    }
    sf_order_event_clear(&ev2);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = route_body(data, size);
    if (!body)
        return 0;
    sf_order_event ev;
    char field[96], msg[SF_ERR_MAX + 64];
    if (sf_http_predict_parse(body, size, &ev, field, sizeof field, msg, sizeof msg) == 0) {
        check(&ev);
        round_trip(&ev);
        sf_order_event_clear(&ev);
    } else if (!msg[0] || strlen(field) >= sizeof field) {
        abort();
    }
    free(body);
    return 0;
}
