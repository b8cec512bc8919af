/*
 * history_write.c - writes records to satisfy.history as satisfy-retrainer
 * does (key: kind byte + 64-bit key, value: the entity's full state, made by
 * the history's own record encoder), for the scorer's live-history tests and
 * bench/scale/history.sh, which need a topic of a chosen size or content
 * without running a retrainer:
 *   --customers N   N generated customers ("c" + 31 digits) bought as on Olist
 *                   and satisfy-datagen: 97% once, 2.5% twice, 0.5% 3-6
 *                   times (--repeat-heavy: a third of them three times),
 *                   each order delivered and reviewed for two in three;
 *                   their orders' sellers (--sellers M of them, default
 *                   N/50 + 1, "s" + 31 digits) get a record each too
 *   --seller ID --reviews C --score S [--delivered D --late L]
 *                   one seller's state: C reviews of score S (D delivered,
 *                   L of them late)
 *   --garbage K     K malformed records after the others (a bad version
 *                   byte, a short key, a truncated value, in turn)
 * Compressed (lz4) in large batches: satisfy-broker keeps 5 MiB per
 * partition. Prints "records N bytes B seconds T" once all are delivered.
 * usage: history_write --brokers LIST [--customers N [--sellers M] [--repeat-heavy]]
 *        [--seller ID --reviews C --score S [--delivered D] [--late L]] [--garbage K]
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/buf.h"
#include "satisfy/cli.h"
#include "satisfy/clock.h"
#include "satisfy/history.h"
#include "satisfy/kafka.h"

#define DAY 86400000LL
#define T0  1514764800000LL /* 2018-01-01 */

static uint64_t n_out, bytes_out;
static int heavy; /* --repeat-heavy */

static void produce(rd_kafka_t *rk, const void *key, size_t klen, const void *val, size_t vlen)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(SF_TOPIC_HISTORY), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY((void *)key, klen), RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_END);
        if (!e)
            break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "history_write: produce: %s\n", rd_kafka_err2str(e));
            exit(1);
        }
        rd_kafka_poll(rk, 50);
    }
    n_out++;
    bytes_out += klen + vlen;
}

/* The record of ref as h holds it. */
static void produce_ref(rd_kafka_t *rk, const sf_history *h, sf_history_ref ref, sf_buf *val)
{
    uint8_t key[SF_HISTORY_KEY_LEN];
    sf_err err;
    sf_history_record_key(ref, key);
    if (sf_history_record(h, ref, val, &err) < 0) {
        fprintf(stderr, "history_write: %s\n", err.msg);
        exit(1);
    }
    produce(rk, key, sizeof key, val->data, val->len);
}

static sf_order_event order_of(const char *order_id, const char *cust, sf_item *item,
                               const char *seller, int64_t t)
{
    sf_order_event ev;
    memset(&ev, 0, sizeof ev);
    memset(item, 0, sizeof *item);
    snprintf(item->seller_id, sizeof item->seller_id, "%.32s", seller);
    snprintf(ev.order_id, sizeof ev.order_id, "%.32s", order_id);
    snprintf(ev.customer_unique_id, sizeof ev.customer_unique_id, "%.32s", cust);
    ev.items = item;
    ev.n_items = 1;
    ev.purchase = ev.event_time = t;
    ev.estimated = t + 10 * DAY;
    ev.approved = ev.carrier = ev.delivered = SF_TIME_NONE;
    return ev;
}

static void check(int rc, const sf_err *err)
{
    if (rc < 0) {
        fprintf(stderr, "history_write: %s\n", err->msg);
        exit(1);
    }
}

static void generated(rd_kafka_t *rk, long n, long m)
{
    sf_history *h = sf_history_new();
    sf_err err;
    sf_buf val = {0};
    char cust[40], seller[40], oid[40];
    sf_item item;
    uint64_t rng = 42;
    long order = 0;
    for (long i = 0; i < n; i++) {
        snprintf(cust, sizeof cust, "c%031ld", i);
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int r = (int)((rng >> 40) % 1000);
        int orders = heavy ? 1 + (int)((rng >> 40) % 3) : r < 970 ? 1 : r < 995 ? 2 : 3 + r % 4;
        for (int k = 0; k < orders; k++, order++) {
            snprintf(oid, sizeof oid, "o%031ld", order);
            snprintf(seller, sizeof seller, "s%031ld", (long)((rng >> 20) + (uint64_t)k) % m);
            sf_order_event ev = order_of(oid, cust, &item, seller, T0 + (i % 600 + k * 30) * DAY);
            check(sf_history_add_purchase(h, &ev, &err), &err);
            if ((rng >> 33) % 3 != 0) {
                ev.delivered = ev.purchase + (int64_t)((rng >> 36) % 15) * DAY;
                check(sf_history_add_delivery(h, &ev, &err), &err);
                check(sf_history_add_review(h, &ev, 1 + (int)((rng >> 44) % 5), &err), &err);
                check(sf_history_forget_order(h, oid, &err), &err);
            }
        }
        produce_ref(rk, h, (sf_history_ref){SF_HISTORY_CUSTOMER, sf_history_customer_key(cust)},
                    &val);
        rd_kafka_poll(rk, 0);
    }
    for (long j = 0; j < m; j++) {
        snprintf(seller, sizeof seller, "s%031ld", j);
        produce_ref(rk, h, (sf_history_ref){SF_HISTORY_SELLER, sf_history_seller_key(seller)},
                    &val);
    }
    sf_buf_free(&val);
    sf_history_free(h);
}

static void one_seller(rd_kafka_t *rk, const char *id, long reviews, int score, long delivered,
                       long late)
{
    sf_history *h = sf_history_new();
    sf_err err;
    sf_item item;
    char oid[40];
    long n = reviews > delivered ? reviews : delivered;
    for (long i = 0; i < n; i++) {
        snprintf(oid, sizeof oid, "w%031ld", i);
        sf_order_event ev = order_of(oid, "history-write-customer", &item, id, T0 + i * DAY);
        if (i < delivered) {
            ev.delivered = ev.estimated + (i < late ? DAY : -DAY);
            check(sf_history_add_delivery(h, &ev, &err), &err);
        }
        if (i < reviews)
            check(sf_history_add_review(h, &ev, score, &err), &err);
    }
    sf_buf val = {0};
    produce_ref(rk, h, (sf_history_ref){SF_HISTORY_SELLER, sf_history_seller_key(id)}, &val);
    sf_buf_free(&val);
    sf_history_free(h);
}

static void garbage(rd_kafka_t *rk, long k)
{
    for (long i = 0; i < k; i++) {
        uint8_t key[SF_HISTORY_KEY_LEN] = {SF_HISTORY_SELLER, 0xba, 0xd0, 0, 0, 0, 0, 0, 0};
        key[8] = (uint8_t)i;
        if (i % 3 == 0)
            produce(rk, key, sizeof key, "\x09\x01\x01\x01\x01", 5); /* version 9 */
        else if (i % 3 == 1)
            produce(rk, key, 4, "\x01\x01\x01\x01\x01", 5); /* short key */
        else
            produce(rk, key, sizeof key, "\x01\x81", 2); /* a varint cut short */
    }
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {{"brokers", required_argument, NULL, 'b'},
                                          {"customers", required_argument, NULL, 'c'},
                                          {"sellers", required_argument, NULL, 'm'},
                                          {"seller", required_argument, NULL, 's'},
                                          {"reviews", required_argument, NULL, 'r'},
                                          {"score", required_argument, NULL, 'S'},
                                          {"delivered", required_argument, NULL, 'd'},
                                          {"late", required_argument, NULL, 'l'},
                                          {"garbage", required_argument, NULL, 'g'},
                                          {"repeat-heavy", no_argument, NULL, 'H'},
                                          {NULL, 0, NULL, 0}};
    const char *brokers = NULL, *seller = NULL;
    long customers = 0, sellers = 0, reviews = 0, score = 5, delivered = 0, late = 0, bad = 0;
    sf_err err;
    int c;
    while ((c = getopt_long(argc, argv, "b:", lopts, NULL)) != -1) {
        long *l = c == 'c'   ? &customers
                  : c == 'm' ? &sellers
                  : c == 'r' ? &reviews
                  : c == 'S' ? &score
                  : c == 'd' ? &delivered
                  : c == 'l' ? &late
                  : c == 'g' ? &bad
                             : NULL;
        if (c == 'b') {
            brokers = optarg;
        } else if (c == 'H') {
            heavy = 1;
        } else if (c == 's') {
            seller = optarg;
        } else if (!l || sf_cli_long("option", optarg, 0, 100000000L, l, &err) < 0) {
            fprintf(stderr, "usage: history_write --brokers LIST [--customers N [--sellers M]] "
                            "[--seller ID --reviews C --score S [--delivered D] [--late L]] "
                            "[--garbage K]\n");
            return 2;
        }
    }
    if (!brokers || (seller && (score < 1 || score > 5)))
        return fprintf(stderr, "history_write: --brokers needed, --score 1..5\n"), 2;
    const char *props[] = {"compression.codec=lz4", "linger.ms=50", "batch.size=1000000",
                           "batch.num.messages=100000", "queue.buffering.max.messages=1000000"};
    static sf_kafka_stats st;
    sf_kafka_client_opts ko = {.role = SF_KAFKA_TOOL_PRODUCER,
                               .conn = {.brokers = brokers, .props = props, .n_props = 5},
                               .stats = &st};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
    if (!rk)
        return fprintf(stderr, "history_write: %s\n", err.msg), 1;
    double t0 = sf_mono_s();
    if (customers > 0)
        generated(rk, customers, sellers > 0 ? sellers : customers / 50 + 1);
    if (seller)
        one_seller(rk, seller, reviews, (int)score, delivered, late);
    garbage(rk, bad);
    rd_kafka_resp_err_t e = rd_kafka_flush(rk, 120000);
    uint64_t failed = 0;
    for (int i = 0; i < SF_DR_SLOTS; i++)
        failed += st.failed[i];
    if (e || failed) {
        fprintf(stderr, "history_write: flush: %s, %" PRIu64 " failed deliveries (%s)\n",
                rd_kafka_err2str(e), failed, st.last_failure);
        return 1;
    }
    rd_kafka_destroy(rk);
    printf("records %" PRIu64 " bytes %" PRIu64 " seconds %.2f\n", n_out, bytes_out,
           sf_mono_s() - t0);
    return 0;
}
