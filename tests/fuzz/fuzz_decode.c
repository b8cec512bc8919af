/*
 * fuzz_decode.c - libFuzzer target for the wire decoders: every input goes
 * through every decoder (the first byte picks which schema id gets a
 * correctly framed copy, so the fuzzer also reaches past the framing checks).
 * A message that decodes must re-encode and decode to the same bytes, so an
 * asymmetry between the encoder's and decoder's contract is a crash too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/codec.h"
#include "satisfy/codec_alert.h"
#include "satisfy/serving_state.h"

static int started;
static sf_buf out, out2;

static void same_bytes(void)
{
    if (out.len != out2.len || memcmp(out.data, out2.data, out.len) != 0)
        abort();
}

static void try_all(const uint8_t *d, size_t n)
{
    sf_err err;
    sf_order_event ev;
    sf_review_event rv;
    sf_prediction p, p2;
    sf_model_release r;
    sf_alert a, a2;
    if (sf_decode_alert(d, n, &a, &err) == 0) {
        if (sf_encode_alert(&a, &out, &err) || sf_decode_alert(out.data, out.len, &a2, &err) ||
            sf_encode_alert(&a2, &out2, &err))
            abort();
        same_bytes();
    }
    sf_serving_state ss, ss2;
    if (sf_decode_serving(d, n, &ss, &err) == 0) {
        if (sf_encode_serving(&ss, &out, &err) ||
            sf_decode_serving(out.data, out.len, &ss2, &err) ||
            sf_encode_serving(&ss2, &out2, &err))
            abort();
        same_bytes();
    }
    if (sf_decode_order(d, n, &ev, &err) == 0) {
        if (sf_encode_order(&ev, &out, &err))
            abort();
        sf_order_event ev2;
        if (sf_decode_order(out.data, out.len, &ev2, &err) || sf_encode_order(&ev2, &out2, &err))
            abort();
        same_bytes();
        sf_order_event_clear(&ev2);
        sf_order_event_clear(&ev);
    }
    if (sf_decode_review(d, n, &rv, &err) == 0) {
        if (sf_encode_review(&rv, &out, &err))
            abort();
        sf_review_event_clear(&rv);
        if (sf_decode_review(out.data, out.len, &rv, &err) || sf_encode_review(&rv, &out2, &err))
            abort();
        same_bytes();
        sf_review_event_clear(&rv);
    }
    if (sf_decode_prediction(d, n, &p, &err) == 0) {
        if (sf_encode_prediction(&p, &out, &err) ||
            sf_decode_prediction(out.data, out.len, &p2, &err) ||
            sf_encode_prediction(&p2, &out2, &err))
            abort();
        same_bytes();
    }
    if (sf_decode_release(d, n, &r, &err) == 0) {
        if (sf_encode_release(&r, &out, &err))
            abort();
        sf_model_release_clear(&r);
        if (sf_decode_release(out.data, out.len, &r, &err) || sf_encode_release(&r, &out2, &err))
            abort();
        same_bytes();
        sf_model_release_clear(&r);
    }
}

/* Frees the two static buffers at exit, so that LeakSanitizer's end-of-run
 * check reports only what a decoder or encoder leaked. */
static void teardown(void)
{
    sf_buf_free(&out);
    sf_buf_free(&out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!started) {
        started = 1;
        atexit(teardown);
    }
    try_all(data, size);
    /* The same bytes as a body with a valid header for one schema. */
    if (size > 0 && size < (1u << 24)) {
        uint8_t *m = malloc(size + 4);
        if (!m)
            return 0;
        m[0] = 0;
        m[1] = m[2] = m[3] = 0;
        m[4] = (uint8_t)(1 + data[0] % SF_SCHEMA_MAX);
        memcpy(m + 5, data + 1, size - 1);
        try_all(m, size + 4);
        free(m);
    }
    return 0;
}
