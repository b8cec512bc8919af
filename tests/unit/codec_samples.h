/*
 * codec_samples.h - fixed sample values shared by the codec's unit test and
 * the interop sample writer (tests/tools/codec_sample.c): a place and a model
 * release. Header-only because the tools are not linked with testutil.c.
 */
#ifndef SATISFY_CODEC_SAMPLES_H
#define SATISFY_CODEC_SAMPLES_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "satisfy/codec.h"

static inline void sample_place(sf_place *p, const char *zip, const char *city, const char *st,
                                double lat, double lng)
{
    snprintf(p->zip, sizeof p->zip, "%s", zip);
    snprintf(p->city, sizeof p->city, "%s", city);
    snprintf(p->state, sizeof p->state, "%s", st);
    p->lat = lat;
    p->lng = lng;
}

/* Release 3 of a gbdt model trained on 2016-11..2018-06 with the given
 * payload (not copied), its sha256 field 64 'a's. */
static inline sf_model_release sample_release(const uint8_t *payload, uint32_t len)
{
    sf_model_release r;
    memset(&r, 0, sizeof r);
    r.version = 3;
    strcpy(r.algorithm, "gbdt");
    strcpy(r.spec_hash, "0123456789abcdef");
    r.train_from = 1480000000000LL;
    r.train_to = 1530000000000LL;
    r.params_json = "{\"eta\":0.1}";
    r.metrics_json = "{\"rmse\":1.21}";
    r.payload = payload;
    r.payload_len = len;
    memset(r.sha256, 'a', 64);
    r.released_at = 1700000000000LL;
    return r;
}

#endif
