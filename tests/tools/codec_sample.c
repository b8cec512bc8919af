/*
 * codec_sample.c - writes sample wire messages for the interop test: for each
 * schema (the Alert too) several variants (unknown times, NaN numbers, empty arrays, unicode
 * text, binary payload) as DIR/NAME.bin (framed Avro) and DIR/NAME.json (the
 * codec's JSON view, or for model releases the expected field values), so an
 * independent Avro implementation can check that the bytes are standard.
 *
 * Usage: codec_sample DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/codec_samples.h"
#include "satisfy/codec.h"
#include "satisfy/codec_alert.h"
#include "satisfy/serving_state.h"

#define OID "e481f51cbdc54678b7cc49136f2d6af7"

static int write_file(const char *dir, const char *name, const char *ext, const void *d, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "codec_sample: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static int emit(const char *dir, const char *name, const sf_buf *b, char *json, sf_err *err)
{
    if (!json) {
        fprintf(stderr, "codec_sample: %s: %s\n", name, err->msg);
        return -1;
    }
    int rc = write_file(dir, name, "bin", b->data, b->len) ||
             write_file(dir, name, "json", json, strlen(json));
    free(json);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: codec_sample DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    sf_err err;
    sf_buf b = {0};
    int fails = 0;

    sf_item items[3];
    memset(items, 0, sizeof items);
    for (int i = 0; i < 3; i++) {
        items[i].seq = i + 1;
        snprintf(items[i].product_id, sizeof items[i].product_id, "%032x", 0xabc + i);
        snprintf(items[i].seller_id, sizeof items[i].seller_id, "%032x", 0x5e11e + i);
        items[i].price = 10.5 * (i + 1);
        items[i].freight = 7.39;
        items[i].shipping_limit = 1507000000000LL + i * 1000;
        snprintf(items[i].category, sizeof items[i].category, "%s",
                 i == 0   ? "cama_mesa_banho"
                 : i == 1 ? ""
                          : "utilidades_domésticas");
        items[i].name_len = i == 1 ? NAN : 44;
        items[i].desc_len = 903;
        items[i].photos = i == 2 ? NAN : 1;
        items[i].weight_g = 1050.5;
        items[i].length_cm = 30;
        items[i].height_cm = 12;
        items[i].width_cm = i == 0 ? NAN : 25;
        sample_place(&items[i].seller, "13232", "campo limpo paulista", "SP", i == 1 ? NAN : -23.2,
                     i == 1 ? NAN : -46.78);
    }
    sf_payment pays[2] = {{1, SF_PAY_CREDIT_CARD, 8, 72.19}, {2, SF_PAY_VOUCHER, 1, 2.5}};
    for (int v = 0; v < 3; v++) {
        sf_order_event ev;
        memset(&ev, 0, sizeof ev);
        strcpy(ev.order_id, OID);
        strcpy(ev.customer_id, "9ef432eb6251297304e76186b10a928d");
        strcpy(ev.customer_unique_id, "7c396fd4830fd04220f754e42b4e5bff");
        ev.stage = v == 0 ? SF_STAGE_PURCHASED : v == 1 ? SF_STAGE_DELIVERED : SF_STAGE_CANCELED;
        ev.purchase = 1506970000000LL;
        ev.estimated = 1508000000000LL;
        ev.approved = v == 1 ? 1506971000000LL : SF_TIME_NONE;
        ev.carrier = v == 1 ? 1507100000000LL : SF_TIME_NONE;
        ev.delivered = v == 1 ? 1507700000000LL : SF_TIME_NONE;
        ev.event_time = v == 1 ? ev.delivered : ev.purchase + 60000 * v;
        sample_place(&ev.customer, v == 2 ? "" : "03149", v == 2 ? "" : "são paulo",
                     v == 2 ? "" : "SP", v == 2 ? NAN : -23.574, v == 2 ? NAN : -46.587);
        ev.items = items;
        ev.n_items = v == 2 ? 0 : v + 2;
        ev.payments = pays;
        ev.n_payments = v == 2 ? 0 : v + 1;
        char name[32];
        snprintf(name, sizeof name, "order_%d", v);
        if (sf_encode_order(&ev, &b, &err)) {
            fprintf(stderr, "codec_sample: %s: %s\n", name, err.msg);
            fails++;
            continue;
        }
        fails += emit(dir, name, &b, sf_order_to_json(&ev, &err), &err) != 0;
    }

    const char *titles[] = {NULL, "recomendo", ""};
    const char *messages[] = {"Chegou antes do prazo.\nÓtimo! 😀 \"aspas\"", NULL, "ruim\r\n"};
    for (int v = 0; v < 3; v++) {
        sf_review_event rv = {.score = 1 + 2 * v, .created = 1508000000000LL + v};
        strcpy(rv.review_id, "7bc2406110b926393aa56f80a40eba40");
        strcpy(rv.order_id, OID);
        rv.title = titles[v];
        rv.message = messages[v];
        rv.answered = v == 1 ? SF_TIME_NONE : 1508100000000LL;
        char name[32];
        snprintf(name, sizeof name, "review_%d", v);
        if (sf_encode_review(&rv, &b, &err)) {
            fprintf(stderr, "codec_sample: %s: %s\n", name, err.msg);
            fails++;
            continue;
        }
        fails += emit(dir, name, &b, sf_review_to_json(&rv, &err), &err) != 0;
    }

    for (int v = 0; v < 2; v++) {
        sf_prediction p;
        memset(&p, 0, sizeof p);
        strcpy(p.order_id, OID);
        snprintf(p.event_id, sizeof p.event_id, "%s:%s", OID, v ? "DELIVERED" : "PURCHASED");
        p.stage = v ? SF_STAGE_DELIVERED : SF_STAGE_PURCHASED;
        p.score = v ? 4.31 : 1.0;
        p.p_dissatisfied = v ? 0.0625 : 1.0;
        p.n_reasons = v ? 3 : 0;
        const char *feats[] = {"delivery_delay_days", "seller_mean_score", "freight_ratio"};
        for (int i = 0; i < p.n_reasons; i++) {
            snprintf(p.reasons[i].feature, sizeof p.reasons[i].feature, "%s", feats[i]);
            p.reasons[i].value = i == 1 ? NAN : -3.5 + i;
            p.reasons[i].contribution = 0.25 - 0.5 * i;
        }
        p.model_version = 12 + v;
        p.event_time = 1507700000000LL;
        p.scored_at = 1700000000123LL;
        char name[32];
        snprintf(name, sizeof name, "prediction_%d", v);
        if (sf_encode_prediction(&p, &b, &err)) {
            fprintf(stderr, "codec_sample: %s: %s\n", name, err.msg);
            fails++;
            continue;
        }
        fails += emit(dir, name, &b, sf_prediction_to_json(&p, &err), &err) != 0;
        /* the alert of the same prediction (its risk at or above the threshold) */
        sf_alert al = {.p = p, .threshold = v ? 0.0625 : 0.3};
        snprintf(name, sizeof name, "alert_%d", v);
        if (sf_encode_alert(&al, &b, &err)) {
            fprintf(stderr, "codec_sample: %s: %s\n", name, err.msg);
            fails++;
            continue;
        }
        fails += emit(dir, name, &b, sf_alert_to_json(&al, &err), &err) != 0;
    }

    /* Model release: no JSON view in the library; the expected values are
     * written here with the payload as hex. */
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 37);
    sf_model_release r = sample_release(payload, sizeof payload);
    r.version = 42;
    strcpy(r.spec_hash, "00ff00ff12345678");
    r.params_json = "{\"eta\":0.1,\"depth\":6}";
    memset(r.sha256, 'c', 64);
    if (sf_encode_release(&r, &b, &err)) {
        fprintf(stderr, "codec_sample: release_0: %s\n", err.msg);
        fails++;
    } else {
        char hex[2 * sizeof payload + 1];
        for (size_t i = 0; i < sizeof payload; i++)
            snprintf(hex + 2 * i, 3, "%02x", payload[i]);
        char *json = malloc(4096);
        snprintf(
            json, 4096,
            "{\"version\":%lld,\"algorithm\":\"%s\",\"spec_hash\":\"%s\",\"train_from\":%lld,"
            "\"train_to\":%lld,\"params_json\":\"{\\\"eta\\\":0.1,\\\"depth\\\":6}\","
            "\"metrics_json\":\"{\\\"rmse\\\":1.21}\",\"payload_hex\":\"%s\",\"sha256\":\"%s\","
            "\"released_at\":%lld}",
            (long long)r.version, r.algorithm, r.spec_hash, (long long)r.train_from,
            (long long)r.train_to, hex, r.sha256, (long long)r.released_at);
        fails += emit(dir, "release_0", &b, json, &err) != 0;
    }
    /* ServingState: a rollback with a non-ASCII reason, and a gate one. */
    for (int v = 0; v < 2; v++) {
        sf_serving_state s = {
            .epoch = v ? 1 : 300000, .champion = v ? 7 : 6, .at = 1764900000000LL};
        snprintf(s.cause, sizeof s.cause, "%s", v ? "gate" : "rollback");
        snprintf(s.reason, sizeof s.reason, "%s",
                 v ? "" : "ana: v7 rates late deliveries too high (incident 12) \"é\"");
        char name[32];
        snprintf(name, sizeof name, "serving_%d", v);
        if (sf_encode_serving(&s, &b, &err)) {
            fprintf(stderr, "codec_sample: %s: %s\n", name, err.msg);
            fails++;
            continue;
        }
        fails += emit(dir, name, &b, sf_serving_to_json(&s, &err), &err) != 0;
    }
    sf_buf_free(&b);
    return fails ? 1 : 0;
}
