/*
 * history_check.c - checks satisfy.history against the events it stands for.
 *
 * Reads every message of satisfy.history from the start to the high
 * watermarks and applies them in offset order (sf_history_apply: what a
 * scorer materialises); reads the retrainer's store (stopped) twice: its
 * history table (the state a restart loads) and its order events and
 * reviews, replayed by the training code (sf_training_rows_build), which
 * builds the reference history directly from the events. For every stored
 * order event it compares the history views of the three: under another
 * order's id (no own-review exclusion) at the event's purchase time and
 * after every purchase, and, for orders whose last stage is not stored,
 * under its own id. Any difference (a lost update, a double count, a
 * record not published) is printed and makes it exit 1, as does a topic
 * without a record.
 *
 * usage: history_check --brokers LIST --store FILE [--timeout S]
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "satisfy/cli.h"
#include "satisfy/features.h"
#include "satisfy/history.h"
#include "satisfy/kafka.h"
#include "satisfy/store.h"
#include "satisfy/training_rows.h"

static void print_view(const char *who, const sf_history_view *v)
{
    fprintf(stderr,
            "  %-9s seller reviews %g (mean %g), delivered %g (late %g); customer orders %g "
            "(review mean %g)\n",
            who, v->seller_review_count, v->seller_review_mean, v->seller_delivered,
            v->seller_late_rate, v->customer_orders, v->customer_review_mean);
}

/* Reads satisfy.history into h; the number of messages, or -1. */
static int64_t read_topic(const char *brokers, double timeout_s, sf_history *h, int64_t *tombs)
{
    sf_err err;
    const char *props[] = {"enable.partition.eof=false"};
    sf_kafka_client_opts ko = {.role = SF_KAFKA_TOOL_CONSUMER,
                               .conn = {.brokers = brokers, .props = props, .n_props = 1},
                               .group = "satisfy-history-check"};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
    if (!rk || sf_kafka_check_reachable(rk, brokers, 10000, &err) != 0) {
        fprintf(stderr, "history_check: %s\n", err.msg);
        return -1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, SF_TOPIC_HISTORY, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "history_check: no metadata for %s: %s\n", SF_TOPIC_HISTORY,
                rd_kafka_err2str(e ? e : md->topics[0].err));
        return -1;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(64);
    int64_t want = 0;
    for (int p = 0; p < md->topics[0].partition_cnt; p++) {
        int32_t id = md->topics[0].partitions[p].id;
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(rk, SF_TOPIC_HISTORY, id, &lo, &hi, 10000);
        if (e) {
            fprintf(stderr, "history_check: watermarks of [%d]: %s\n", id, rd_kafka_err2str(e));
            return -1;
        }
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(parts, SF_TOPIC_HISTORY, id)->offset = lo;
            want += hi - lo;
        }
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    int64_t got = 0, bad = 0;
    time_t deadline = time(NULL) + (time_t)timeout_s;
    while (got < want && time(NULL) <= deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (!m->err) {
            got++;
            *tombs += m->len == 0;
            if (sf_history_apply(h, m->key, m->key_len, m->payload, m->len, &err) != 0 && bad++ < 5)
                fprintf(stderr, "history_check: [%d] @%" PRId64 ": %s\n", (int)m->partition,
                        m->offset, err.msg);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_destroy(rk);
    if (got < want)
        fprintf(stderr, "history_check: timed out with %" PRId64 " of %" PRId64 " messages\n", got,
                want);
    return got < want || bad ? -1 : got;
}

static int apply_row(void *arg, const void *key, size_t klen, const void *val, size_t vlen,
                     int64_t seq, sf_err *err)
{
    (void)seq;
    return sf_history_apply(arg, key, klen, val, vlen, err);
}

int main(int argc, char **argv)
{
    const char *brokers = NULL, *store = NULL;
    double timeout_s = 120;
    static const struct option lopts[] = {{"brokers", required_argument, NULL, 'b'},
                                          {"store", required_argument, NULL, 's'},
                                          {"timeout", required_argument, NULL, 't'},
                                          {NULL, 0, NULL, 0}};
    sf_err err;
    int c;
    while ((c = getopt_long(argc, argv, "b:s:t:", lopts, NULL)) != -1) {
        if (c == 'b')
            brokers = optarg;
        else if (c == 's')
            store = optarg;
        else if (c == 't' &&
                 sf_cli_double("--timeout", optarg, 0.001, 86400, &timeout_s, &err) == 0)
            continue;
        else
            return 2;
    }
    if (!brokers || !store) {
        fprintf(stderr, "usage: history_check --brokers LIST --store FILE [--timeout S]\n");
        return 2;
    }
    sf_history *topic = sf_history_new(), *table = sf_history_new(), *ref = NULL;
    int64_t tombs = 0;
    int64_t n_msgs = read_topic(brokers, timeout_s, topic, &tombs);
    if (n_msgs <= 0) {
        fprintf(stderr, "history_check: no usable %s\n", SF_TOPIC_HISTORY);
        return 1;
    }
    sf_store *s;
    sf_training_events ev;
    sf_examples ex;
    if (sf_store_open(&s, store, &err) != 0 || sf_store_events(s, &ev, &err) != 0 ||
        sf_store_history_each(s, -1, apply_row, table, &err) < 0 ||
        sf_training_rows_build(&ex, &ev, sf_spec_seed(), SF_TIME_NONE, SF_TIME_NONE, &ref, &err) !=
            0) {
        fprintf(stderr, "history_check: %s\n", err.msg);
        return 1;
    }
    sf_examples_free(&ex);
    sf_store_close(s);

    /* events come by order_id, then stage: one group per order */
    size_t views = 0, differ = 0, orders = 0;
    for (size_t a = 0; a < ev.n_orders;) {
        size_t b = a;
        int ended = 0;
        while (b < ev.n_orders && strcmp(ev.orders[b].order_id, ev.orders[a].order_id) == 0) {
            sf_stage st = ev.orders[b].stage;
            ended |=
                st == SF_STAGE_DELIVERED || st == SF_STAGE_CANCELED || st == SF_STAGE_UNAVAILABLE;
            b++;
        }
        orders++;
        for (size_t i = a; i < b; i++) {
            for (int k = 0; k < 3; k++) {
                sf_order_event x = ev.orders[i];
                if (k < 2)
                    memset(x.order_id, 'z', SF_ID_LEN); /* another order: no exclusion */
                if (k == 1)
                    x.purchase = INT64_MAX - 1; /* after every purchase */
                if (k == 2 && ended)
                    continue; /* its own-review record is forgotten live */
                sf_history_view vt, vs, vr;
                sf_history_view_of(topic, &x, &vt);
                sf_history_view_of(table, &x, &vs);
                sf_history_view_of(ref, &x, &vr);
                views++;
                if (sf_history_view_same(&vt, &vr) && sf_history_view_same(&vs, &vr))
                    continue;
                if (differ++ < 10) {
                    fprintf(stderr, "history_check: order %s stage %s (view %d) differs:\n",
                            ev.orders[i].order_id, sf_stage_name(ev.orders[i].stage), k);
                    print_view("events", &vr);
                    print_view("topic", &vt);
                    print_view("store", &vs);
                }
            }
        }
        a = b;
    }
    printf("history_check: %" PRId64 " messages (%" PRId64 " tombstones); topic %zu sellers, "
           "%zu customers; events %zu sellers, %zu customers; %zu orders, %zu views compared, "
           "%zu differ\n",
           n_msgs, tombs, sf_history_sellers(topic), sf_history_customers(topic),
           sf_history_sellers(ref), sf_history_customers(ref), orders, views, differ);
    int bad = differ > 0 || sf_history_sellers(topic) != sf_history_sellers(ref) ||
              sf_history_customers(topic) != sf_history_customers(ref);
    sf_training_events_free(&ev);
    sf_history_free(topic);
    sf_history_free(table);
    sf_history_free(ref);
    return bad;
}
