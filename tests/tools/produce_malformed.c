/*
 * produce_malformed.c - the scorer's DLQ corpus: produces to satisfy.orders a
 * good order event, then one malformed message, then a good one, and so on,
 * for --rounds rounds over these kinds:
 *   garbage     text that is not a framed message
 *   magic       a good event with magic byte 1
 *   schema      a good event whose schema id is 99
 *   truncated   a good event without its last 5 bytes
 *   enum        a good event whose stage enum index is 20
 *   review      a ReviewEvent (schema 2) in the orders topic
 *   empty       a message with no value
 *   key         a good event keyed by another order id
 *   time        a good event whose event_time is 2^60 (out of the valid range)
 *   big         (--big BYTES only) \0\0\0\0\1 and BYTES bytes of 'x': a value
 *               that fits a default producer but not its DLQ copy with headers
 * Good events are built here with distinct random-looking order ids.
 *   jsonstage   (--json only) a JSON order event whose stage is "teleported"
 *   jsonsyntax  (--json only) a JSON order event cut in half
 * With --json, good events are JSON too (as satisfy-producer --format json
 * writes them, header schema: satisfy.v1.OrderEvent+json) and each round is
 * a good event and one of the two JSON kinds, alternately.
 * With --big BYTES each round is only a good event and a big one (and a
 * good one ends the run, as always).
 *
 * Prints one line per malformed message once delivered:
 *   bad KIND PARTITION OFFSET SHA256
 * and finally "good N" (good events delivered).
 * usage: produce_malformed --brokers LIST [--rounds R] [--seed S] [--big BYTES | --json]
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/cli.h"
#include "satisfy/codec.h"
#include "satisfy/kafka.h"
#include "satisfy/model.h"
#include "satisfy/varint.h"

static const char *const kinds[] = {"garbage", "magic",  "schema",    "truncated",
                                    "enum",    "review", "empty",     "key",
                                    "time",    "big",    "jsonstage", "jsonsyntax"};
#define N_KINDS 9 /* without "big", which --big selects alone, and the JSON kinds */
#define BIG     9
#define JSON0   10 /* --json: jsonstage and jsonsyntax */
#define GOOD    255

static uint64_t rng;

static void hex_id(char *out)
{
    for (int i = 0; i < SF_ID_LEN; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        out[i] = "0123456789abcdef"[(rng >> 33) & 15];
    }
    out[SF_ID_LEN] = '\0';
}

static void make_order(sf_order_event *ev, sf_item *item, sf_payment *pay)
{
    memset(ev, 0, sizeof *ev);
    memset(item, 0, sizeof *item);
    memset(pay, 0, sizeof *pay);
    hex_id(ev->order_id);
    hex_id(ev->customer_id);
    hex_id(ev->customer_unique_id);
    ev->stage = SF_STAGE_PURCHASED;
    ev->purchase = ev->event_time = 1514800000000LL + (int64_t)(rng % 1000000) * 1000;
    ev->estimated = ev->purchase + 10LL * 86400000;
    ev->approved = ev->carrier = ev->delivered = SF_TIME_NONE;
    snprintf(ev->customer.zip, sizeof ev->customer.zip, "01001");
    snprintf(ev->customer.city, sizeof ev->customer.city, "sao paulo");
    snprintf(ev->customer.state, sizeof ev->customer.state, "SP");
    ev->customer.lat = -23.55;
    ev->customer.lng = -46.63;
    item->seq = 1;
    hex_id(item->product_id);
    hex_id(item->seller_id);
    item->price = 99.9;
    item->freight = 12.5;
    item->shipping_limit = ev->purchase + 3LL * 86400000;
    snprintf(item->category, sizeof item->category, "housewares");
    item->name_len = 40;
    item->desc_len = 300;
    item->photos = 2;
    item->weight_g = 500;
    item->length_cm = item->height_cm = item->width_cm = 20;
    item->seller = ev->customer;
    pay->seq = 1;
    pay->type = SF_PAY_CREDIT_CARD;
    pay->installments = 1;
    pay->value = 112.4;
    ev->items = item;
    ev->n_items = 1;
    ev->payments = pay;
    ev->n_payments = 1;
}

static void dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    uint64_t *good = ((sf_kafka_stats *)opaque)->user;
    int kind = (int)(uintptr_t)m->_private;
    if (m->err) {
        fprintf(stderr, "produce_malformed: delivery failed: %s\n", rd_kafka_err2str(m->err));
        exit(1);
    }
    if (kind == GOOD) {
        (*good)++;
        return;
    }
    char sum[65];
    sf_sha256_hex(m->payload ? m->payload : (const uint8_t *)"", m->len, sum);
    printf("bad %s %d %" PRId64 " %s\n", kinds[kind], (int)m->partition, m->offset, sum);
}

static int as_json; /* --json */

static void produce(rd_kafka_t *rk, const char *key, const void *val, size_t len, int kind)
{
    const char *schema = as_json ? "satisfy.v1.OrderEvent+json" : "satisfy.v1.OrderEvent";
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(SF_TOPIC_ORDERS), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)val, len),
        RD_KAFKA_V_HEADER("schema", schema, (ssize_t)-1),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)kind), RD_KAFKA_V_END);
    if (e) {
        fprintf(stderr, "produce_malformed: %s\n", rd_kafka_err2str(e));
        exit(1);
    }
    rd_kafka_poll(rk, 0);
}

/* A good event, Avro or (--json) JSON. */
static void produce_good(rd_kafka_t *rk, const sf_order_event *ev, sf_buf *b)
{
    sf_err err;
    if (as_json) {
        char *js = sf_order_to_json(ev, &err);
        if (!js) {
            fprintf(stderr, "produce_malformed: %s\n", err.msg);
            exit(1);
        }
        produce(rk, ev->order_id, js, strlen(js), GOOD);
        free(js);
        return;
    }
    if (sf_encode_order(ev, b, &err) < 0) {
        fprintf(stderr, "produce_malformed: %s\n", err.msg);
        exit(1);
    }
    produce(rk, ev->order_id, b->data, b->len, GOOD);
}

/* A bad option value: its message (cli.h) and the usage exit status. */
static int usage_error(const sf_err *err)
{
    fprintf(stderr, "produce_malformed: %s\n", err->msg);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'}, {"rounds", required_argument, NULL, 'r'},
        {"seed", required_argument, NULL, 's'},    {"big", required_argument, NULL, 'g'},
        {"json", no_argument, NULL, 'j'},          {NULL, 0, NULL, 0}};
    int big = 0;
    const char *brokers = NULL;
    int rounds = 3;
    rng = 12345;
    sf_err err;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b') {
            brokers = optarg;
        } else if (c == 'r') {
            if (sf_cli_int("--rounds", optarg, 1, 1000000, &rounds, &err) < 0)
                return usage_error(&err);
        } else if (c == 'j') {
            as_json = 1;
        } else if (c == 'g') {
            if (sf_cli_int("--big", optarg, 1, 100000000, &big, &err) < 0)
                return usage_error(&err);
        } else if (c == 's') {
            if (sf_cli_u64("--seed", optarg, 0, UINT64_MAX, &rng, &err) < 0)
                return usage_error(&err);
        } else {
            return 2;
        }
    }
    if (!brokers) {
        fprintf(stderr, "usage: produce_malformed --brokers LIST [--rounds R] [--seed S] [--big "
                        "BYTES | --json]\n");
        return 2;
    }
    const char *props[] = {"enable.idempotence=true"};
    uint64_t good = 0;
    sf_kafka_stats st;
    sf_kafka_client_opts ko = {.role = SF_KAFKA_TOOL_PRODUCER,
                               .conn = {.brokers = brokers, .props = props, .n_props = 1},
                               .stats = &st,
                               .dr = dr,
                               .user = &good};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
    if (!rk) {
        fprintf(stderr, "produce_malformed: %s\n", err.msg);
        return 1;
    }
    sf_buf b = {0};
    uint8_t *bigval = NULL;
    if (big) {
        if (!(bigval = malloc((size_t)big + SF_WIRE_HEADER)))
            return 1;
        memcpy(bigval, "\0\0\0\0\1", SF_WIRE_HEADER);
        memset(bigval + SF_WIRE_HEADER, 'x', (size_t)big);
    }
    for (int r = 0; r < rounds; r++) {
        int k0 = big ? BIG : as_json ? JSON0 + r % 2 : 0;
        for (int k = k0; k < (big || as_json ? k0 + 1 : N_KINDS); k++) {
            sf_order_event ev;
            sf_item item;
            sf_payment pay;
            make_order(&ev, &item, &pay);
            if (sf_encode_order(&ev, &b, &err) < 0) {
                fprintf(stderr, "produce_malformed: %s\n", err.msg);
                return 1;
            }
            produce_good(rk, &ev, &b);
            make_order(&ev, &item, &pay);
            if (sf_encode_order(&ev, &b, &err) < 0)
                return 1;
            const char *key = ev.order_id;
            const char *kind = kinds[k];
            if (!strncmp(kind, "json", 4)) {
                char *js = sf_order_to_json(&ev, &err);
                if (!js)
                    return 1;
                char *st = strstr(js, "\"stage\":\"");
                if (!st)
                    return 1;
                if (!strcmp(kind, "jsonstage")) {
                    char *q = st + 9, *end = strchr(q, '"');
                    size_t n = strlen(js);
                    char *o = malloc(n + 16);
                    if (!o || !end)
                        return 1;
                    snprintf(o, n + 16, "%.*steleported%s", (int)(q - js), js, end);
                    produce(rk, key, o, strlen(o), k);
                    free(o);
                } else {
                    produce(rk, key, js, strlen(js) / 2, k);
                }
                free(js);
            } else if (!strcmp(kind, "big")) {
                produce(rk, key, bigval, (size_t)big + SF_WIRE_HEADER, k);
            } else if (!strcmp(kind, "garbage")) {
                produce(rk, key, "hello, this is not avro", 23, k);
            } else if (!strcmp(kind, "magic")) {
                b.data[0] = 1;
                produce(rk, key, b.data, b.len, k);
            } else if (!strcmp(kind, "schema")) {
                b.data[4] = 99;
                produce(rk, key, b.data, b.len, k);
            } else if (!strcmp(kind, "truncated")) {
                produce(rk, key, b.data, b.len - 5, k);
            } else if (!strcmp(kind, "enum")) {
                /* header 5 bytes, three 32-char strings (1 length byte each) */
                b.data[SF_WIRE_HEADER + 3 * (1 + SF_ID_LEN)] = 40; /* zigzag 20 */
                produce(rk, key, b.data, b.len, k);
            } else if (!strcmp(kind, "review")) {
                sf_review_event rv;
                memset(&rv, 0, sizeof rv);
                hex_id(rv.review_id);
                memcpy(rv.order_id, ev.order_id, sizeof rv.order_id);
                rv.score = 4;
                rv.created = ev.purchase + 86400000LL * 12;
                rv.answered = SF_TIME_NONE;
                if (sf_encode_review(&rv, &b, &err) < 0) {
                    fprintf(stderr, "produce_malformed: %s\n", err.msg);
                    return 1;
                }
                produce(rk, key, b.data, b.len, k);
            } else if (!strcmp(kind, "empty")) {
                produce(rk, key, NULL, 0, k);
            } else if (!strcmp(kind, "time")) {
                /* event_time follows the stage enum (see "enum"): its varint
                 * replaced by that of 2^60, which the encoder refuses */
                size_t at = SF_WIRE_HEADER + 3 * (1 + SF_ID_LEN) + 1;
                uint8_t was[SF_VARINT_MAX];
                size_t old = (size_t)(sf_varint_put(was, sf_zigzag(ev.event_time)) - was);
                uint8_t *out = malloc(b.len + SF_VARINT_MAX);
                if (!out)
                    return 1;
                memcpy(out, b.data, at);
                uint8_t *t = sf_varint_put(out + at, sf_zigzag(INT64_C(1) << 60));
                memcpy(t, b.data + at + old, b.len - at - old);
                produce(rk, key, out, (size_t)(t - out) + b.len - at - old, k);
                free(out);
            } else {
                char other[SF_ID_LEN + 1];
                hex_id(other);
                produce(rk, other, b.data, b.len, k);
            }
        }
    }
    sf_order_event ev;
    sf_item item;
    sf_payment pay;
    make_order(&ev, &item, &pay);
    produce_good(rk, &ev, &b); /* a good one after the last bad one */
    if (sf_kafka_drain(rk, 30000) > 0) {
        fprintf(stderr, "produce_malformed: not all delivered\n");
        return 1;
    }
    printf("good %" PRIu64 "\n", good);
    rd_kafka_destroy(rk);
    sf_buf_free(&b);
    free(bigval);
    return 0;
}
