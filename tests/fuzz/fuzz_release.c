/*
 * fuzz_release.c - libFuzzer target for the model artifact loader,
 * sf_model_load: what the scorer's model watcher and the HTTP server run on
 * the payload of every release from satisfy.models. It reads the header,
 * the zlib body, the section table, INFO / PARM / METR (JSON), the forest
 * sections (TRES / TREP), the ridge coefficients (LINS / LINP) and the
 * history snapshot (HIST).
 *
 * The input's sha256 and stored length are set right before the load (a
 * checksum proves integrity, not origin: an attacker publishes a valid one),
 * so the fuzzer gets past them. A model that loads must:
 *   - score an order event whose seller and customer the seeds' snapshots
 *     know (the history lookups run too);
 *   - save, and load again to the same predictions on the probe rows: what
 *     we accept we can write and read back.
 * Seeds: tests/fuzz/corpus/fuzz_release/ (tests/tools/seed_artifacts).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/artifact_edit.h"
#include "satisfy/model.h"

/* A delivered order of customer 0 with one item of seller 0 (ids as the
 * seed tool writes them). */
static void score_event(const sf_model *m)
{
    sf_item it;
    memset(&it, 0, sizeof it);
    snprintf(it.seller_id, sizeof it.seller_id, "%032d", 0);
    it.seq = 1;
    it.price = 35.5;
    it.freight = 7.25;
    it.weight_g = it.length_cm = it.height_cm = it.width_cm = NAN;
    it.name_len = it.desc_len = it.photos = NAN;
    it.seller.lat = it.seller.lng = NAN;
    sf_payment pay = {.seq = 1, .type = SF_PAY_CREDIT_CARD, .installments = 2, .value = 42.75};
    sf_order_event ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.order_id, sizeof ev.order_id, "%032d", 999);
    snprintf(ev.customer_unique_id, sizeof ev.customer_unique_id, "%032d", 0);
    ev.stage = SF_STAGE_DELIVERED;
    ev.purchase = 1600000000000LL;
    ev.approved = ev.purchase + 3600000;
    ev.carrier = ev.purchase + 86400000LL;
    ev.estimated = ev.purchase + 10 * 86400000LL;
    ev.delivered = ev.event_time = ev.purchase + 5 * 86400000LL;
    ev.customer.lat = ev.customer.lng = NAN;
    ev.items = &it;
    ev.n_items = 1;
    ev.payments = &pay;
    ev.n_payments = 1;
    sf_prediction p;
    sf_model_score_event(m, &ev, &p);
}

/* Save, load, and the probe rows must predict the same. */
static void round_trip(const sf_model *m)
{
    uint8_t *buf;
    size_t len;
    sf_err err;
    sf_model *l;
    if (sf_model_save(m, &buf, &len, &err) != 0 || sf_model_load(buf, len, NULL, &l, &err) != 0) {
        fprintf(stderr, "fuzz_release: an accepted model does not save and load: %s\n", err.msg);
        abort();
    }
    int d = sf_model_n_inputs(m);
    float rows[3 * 64];
    for (int j = 0; j < d; j++) {
        rows[j] = 0;
        rows[d + j] = NAN;
        rows[2 * d + j] = 1;
    }
    double s1[3], p1[3], s2[3], p2[3];
    sf_model_predict(m, rows, 3, s1, p1);
    sf_model_predict(l, rows, 3, s2, p2);
    if (memcmp(s1, s2, sizeof s1) != 0 || memcmp(p1, p2, sizeof p1) != 0) {
        fprintf(stderr, "fuzz_release: predictions changed by a save and load\n");
        abort();
    }
    sf_model_free(l);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    if (size >= AE_HDR) { /* the stored length and checksum (lib/model/artifact.c) */
        ae_put(b + 56, size - AE_HDR, 8);
        ae_resign(b, size);
    }
    sf_model *m = NULL;
    sf_err err;
    if (sf_model_load(b, size, NULL, &m, &err) == 0) {
        score_event(m);
        round_trip(m);
        sf_model_free(m);
    }
    free(b);
    return 0;
}
