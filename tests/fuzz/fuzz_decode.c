/*
 * fuzz_decode.c - libFuzzer target for the wire decoders: every input goes
 * through all four decoders (the first byte's low bits pick which one gets a
 * correctly framed copy, so the fuzzer also reaches past the framing checks).
 * A message that decodes must re-encode and decode to the same bytes, so an
 * asymmetry between the encoder's and decoder's contract is a crash too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/codec.h"

static sf_codec *codec;
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
    if (sf_decode_order(codec, d, n, &ev, &err) == 0) {
        if (sf_encode_order(codec, &ev, &out, &err))
            abort();
        sf_order_event ev2;
        if (sf_decode_order(codec, out.data, out.len, &ev2, &err) ||
            sf_encode_order(codec, &ev2, &out2, &err))
            abort();
        same_bytes();
        sf_order_event_clear(&ev2);
        sf_order_event_clear(&ev);
    }
    if (sf_decode_review(codec, d, n, &rv, &err) == 0) {
        if (sf_encode_review(codec, &rv, &out, &err))
            abort();
        sf_review_event_clear(&rv);
        if (sf_decode_review(codec, out.data, out.len, &rv, &err) ||
            sf_encode_review(codec, &rv, &out2, &err))
            abort();
        same_bytes();
        sf_review_event_clear(&rv);
    }
    if (sf_decode_prediction(codec, d, n, &p, &err) == 0) {
        if (sf_encode_prediction(codec, &p, &out, &err) ||
            sf_decode_prediction(codec, out.data, out.len, &p2, &err) ||
            sf_encode_prediction(codec, &p2, &out2, &err))
            abort();
        same_bytes();
    }
    if (sf_decode_release(codec, d, n, &r, &err) == 0) {
        if (sf_encode_release(codec, &r, &out, &err))
            abort();
        sf_model_release_clear(&r);
        if (sf_decode_release(codec, out.data, out.len, &r, &err) ||
            sf_encode_release(codec, &r, &out2, &err))
            abort();
        same_bytes();
        sf_model_release_clear(&r);
    }
}

/* Frees the codec at exit: LeakSanitizer's end-of-run check otherwise
 * reports the array storage of Avro-C's generic values that the static codec
 * still holds (it does not see all of Avro-C's internal pointers). */
static void teardown(void)
{
    sf_codec_free(codec);
    sf_buf_free(&out);
    sf_buf_free(&out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!codec) {
        if (!(codec = sf_codec_new(NULL)))
            abort();
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
        m[4] = (uint8_t)(1 + (data[0] & 3));
        memcpy(m + 5, data + 1, size - 1);
        try_all(m, size + 4);
        free(m);
    }
    return 0;
}
