/*
 * consume_predictions.c - reads satisfy.predictions from the beginning with a
 * read_committed consumer (outside any group) until no message arrives for
 * --idle seconds, and reports what the scorer tests check:
 *
 *   predictions N      messages read
 *   unique U           distinct event ids
 *   duplicates D       N - U
 *   bad B              undecodable, or header event_id / model_version / key
 *                      disagreeing with the value
 *   expected E         distinct valid order event ids on satisfy.orders
 *                      (with --orders: read the same way, decoded from Avro
 *                      or JSON, key checked)
 *   missing M          expected ids without a prediction
 *   unexpected X       prediction ids that are not expected
 *   version V COUNT    predictions per model version
 *
 * --dump FILE writes "event_id version partition offset scored_at" per prediction.
 * --dlq FILE also reads satisfy.dlq and writes, per message,
 *   "dlq SOURCE_TOPIC SOURCE_PARTITION SOURCE_OFFSET SHA256 REASON"
 *   (headers, and the sha256 of the payload), followed by
 *   " [original_size N, kept K]" when the DLQ record holds a prefix only,
 *   and prints "dlq N".
 * --committed GROUP prints "committed N SUM": partitions of satisfy.orders
 *   with an offset committed by GROUP, and the sum of those offsets.
 * --alerts FILE --alert-threshold T also reads satisfy.alerts, writes per
 *   alert "order_id event_id risk threshold partition offset", and checks
 *   them against the predictions read (each order's largest risk):
 *     alerts N               messages read
 *     alert_orders U         distinct orders alerted
 *     alert_duplicates D     N - U (an order alerted more than once)
 *     alert_dup_differ X     orders whose alerts do not all share one event id
 *                            (duplicates that event id cannot remove)
 *     alert_below B          alerts with risk < T or a threshold other than T
 *     alert_missing M        orders with a prediction at or above T, no alert
 *     alert_unexpected Y     alerted orders with no prediction at or above T,
 *                            or whose alert's event has no such prediction
 *     alert_bad Z            undecodable, key or event_id header disagreeing,
 *                            or not in the partition of its order's prediction
 * --shadow FILE also reads satisfy.shadow (the challenger's predictions,
 *   shadow scoring) the same way, writes "event_id version partition offset"
 *   per message to FILE and prints:
 *     shadow N               messages read
 *     shadow_unique U        distinct event ids
 *     shadow_bad B           undecodable, or header event_id / model_version /
 *                            key disagreeing with the value
 *     shadow_missing M       shadow event ids with no prediction on
 *                            satisfy.predictions
 *     shadow_overlap X       shadow messages whose version is also the version
 *                            of a prediction of the same event on
 *                            satisfy.predictions (a challenger prediction that
 *                            reached satisfy.predictions, or the reverse)
 *     shadow_version V COUNT per model version
 * usage: consume_predictions --brokers LIST [--orders] [--idle S] [--timeout S]
 *                            [--dump FILE] [--dlq FILE] [--committed GROUP]
 *                            [--alerts FILE --alert-threshold T] [--shadow FILE]
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/cli.h"
#include "satisfy/codec.h"
#include "satisfy/codec_alert.h"
#include "satisfy/idmap.h"
#include "satisfy/kafka.h"
#include "satisfy/model.h"

#define IDLEN (SF_ID_LEN + 16 + 24) /* an event id, or an event id and a version */

typedef struct idset {
    char (*v)[IDLEN];
    size_t n, cap;
} idset;

static void add(idset *s, const char *id)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) {
            fprintf(stderr, "consume_predictions: out of memory\n");
            exit(1);
        }
    }
    snprintf(s->v[s->n++], IDLEN, "%s", id);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static size_t uniq(idset *s)
{
    if (s->n == 0)
        return 0;
    qsort(s->v, s->n, sizeof *s->v, cmp);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (k == 0 || strcmp(s->v[k - 1], s->v[i]) != 0)
            memcpy(s->v[k++], s->v[i], IDLEN);
    return k;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static rd_kafka_t *reader(const char *brokers, const char *topic)
{
    sf_err err;
    const char *props[] = {"isolation.level=read_committed", "enable.partition.eof=false"};
    sf_kafka_client_opts ko = {.role = SF_KAFKA_TOOL_CONSUMER,
                               .conn = {.brokers = brokers, .props = props, .n_props = 2},
                               .group = "consume_predictions"};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
    if (!rk) {
        fprintf(stderr, "consume_predictions: %s\n", err.msg);
        exit(1);
    }
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) != 0 || md->topic_cnt != 1 ||
        md->topics[0].partition_cnt <= 0) {
        fprintf(stderr, "consume_predictions: no metadata for %s\n", topic);
        exit(1);
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

/* Per order: its largest predicted risk and the partition of its predictions;
 * per event id at or above the threshold: seen. */
typedef struct orders_seen {
    sf_idmap *idx; /* order id -> index */
    double *max;
    int *part;
    uint8_t *alerts;            /* alerts read for the order (capped at 255) */
    char (*alert_event)[IDLEN]; /* the first alert's event id */
    uint8_t *differ;
    size_t n, cap;
    sf_idmap *crossing; /* event ids of predictions with risk >= T */
} orders_seen;

static size_t order_slot(orders_seen *o, const char *id)
{
    size_t k;
    if (sf_idmap_get(o->idx, id, SF_ID_LEN, &k) == 0)
        return k;
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 4096;
        o->max = realloc(o->max, o->cap * sizeof *o->max);
        o->part = realloc(o->part, o->cap * sizeof *o->part);
        o->alerts = realloc(o->alerts, o->cap);
        o->alert_event = realloc(o->alert_event, o->cap * sizeof *o->alert_event);
        o->differ = realloc(o->differ, o->cap);
        if (!o->max || !o->part || !o->alerts || !o->alert_event || !o->differ) {
            fprintf(stderr, "consume_predictions: out of memory\n");
            exit(1);
        }
    }
    k = o->n++;
    o->max[k] = -1;
    o->part[k] = -1;
    o->alerts[k] = 0;
    o->differ[k] = 0;
    o->alert_event[k][0] = '\0';
    if (sf_idmap_put(o->idx, id, SF_ID_LEN, k, NULL) < 0) {
        fprintf(stderr, "consume_predictions: out of memory\n");
        exit(1);
    }
    return k;
}

/* Counts per model version (the first 64 versions seen). */
typedef struct vcounts {
    int64_t v[64];
    uint64_t n[64];
    int nv;
} vcounts;

static void count_version(vcounts *c, int64_t v)
{
    int k = 0;
    while (k < c->nv && c->v[k] != v)
        k++;
    if (k == c->nv && c->nv < 64) {
        c->v[c->nv] = v;
        c->n[c->nv++] = 0;
    }
    if (k < c->nv)
        c->n[k]++;
}

/* A prediction message m decoded into *p, with its headers event_id and
 * model_version and its key agreeing with the value: 1, else 0. */
static int good_prediction(const rd_kafka_message_t *m, sf_prediction *p)
{
    sf_err err;
    if (!m->payload || sf_decode_prediction(m->payload, m->len, p, &err) != 0)
        return 0;
    const void *hv;
    size_t hl;
    rd_kafka_headers_t *h = NULL;
    char ver[24];
    snprintf(ver, sizeof ver, "%" PRId64, p->model_version);
    return rd_kafka_message_headers(m, &h) == 0 &&
           rd_kafka_header_get_last(h, "event_id", &hv, &hl) == 0 && hl == strlen(p->event_id) &&
           memcmp(hv, p->event_id, hl) == 0 &&
           rd_kafka_header_get_last(h, "model_version", &hv, &hl) == 0 && hl == strlen(ver) &&
           memcmp(hv, ver, hl) == 0 && m->key && m->key_len == strlen(p->order_id) &&
           memcmp(m->key, p->order_id, m->key_len) == 0;
}

/* "event_id version", the key of a (event, model version) pair. */
static void pair_key(char *out, const sf_prediction *p)
{
    snprintf(out, IDLEN + 24, "%s %" PRId64, p->event_id, p->model_version);
}

static int in_sorted(const idset *s, size_t n, const char *id)
{
    return n && bsearch(id, s->v, n, sizeof *s->v, cmp) != NULL;
}

/* A bad option value: its message (cli.h) and the usage exit status. */
static int usage_error(const sf_err *err)
{
    fprintf(stderr, "consume_predictions: %s\n", err->msg);
    return 2;
}

/* An order event, Avro or JSON (first byte '{', as the scorer decides). */
static int decode_order(const rd_kafka_message_t *m, sf_order_event *ev, sf_err *err)
{
    if (m->len == 0 || ((const char *)m->payload)[0] != '{')
        return sf_decode_order(m->payload, m->len, ev, err);
    char *t = malloc(m->len + 1);
    if (!t)
        return sf_errf(err, "out of memory");
    memcpy(t, m->payload, m->len);
    t[m->len] = '\0';
    int rc = strlen(t) == m->len ? sf_order_from_json(t, ev, err) : -1;
    free(t);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"orders", no_argument, NULL, 'o'},
        {"idle", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"dump", required_argument, NULL, 'd'},
        {"dlq", required_argument, NULL, 'q'},
        {"committed", required_argument, NULL, 'c'},
        {"alerts", required_argument, NULL, 'a'},
        {"alert-threshold", required_argument, NULL, 'T'},
        {"shadow", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *alerts = NULL, *shadow = NULL;
    double threshold = -1;
    const char *brokers = NULL, *dump = NULL, *dlq = NULL, *group = NULL;
    int orders = 0;
    double idle = 3, timeout = 120;
    sf_err err;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 'o':
            orders = 1;
            break;
        case 'i':
            if (sf_cli_double("--idle", optarg, 0.001, 86400, &idle, &err) < 0)
                return usage_error(&err);
            break;
        case 't':
            if (sf_cli_double("--timeout", optarg, 0.001, 86400, &timeout, &err) < 0)
                return usage_error(&err);
            break;
        case 'd':
            dump = optarg;
            break;
        case 'q':
            dlq = optarg;
            break;
        case 'c':
            group = optarg;
            break;
        case 'a':
            alerts = optarg;
            break;
        case 's':
            shadow = optarg;
            break;
        case 'T':
            if (sf_cli_double("--alert-threshold", optarg, 0, 1, &threshold, &err) < 0)
                return usage_error(&err);
            break;
        default:
            fprintf(stderr, "usage: consume_predictions --brokers LIST [--orders] [--idle S] "
                            "[--timeout S] [--dump FILE]\n");
            return 2;
        }
    }
    if (!brokers) {
        fprintf(stderr, "consume_predictions: --brokers is required\n");
        return 2;
    }
    FILE *df = dump ? fopen(dump, "w") : NULL;
    if (dump && !df) {
        perror(dump);
        return 1;
    }
    idset got = {0}, want = {0};
    idset pairs = {0};                  /* "event_id version" of every prediction (--shadow) */
    idset sh_ids = {0}, sh_pairs = {0}; /* of every shadow message */
    uint64_t bad = 0, sh_bad = 0;
    vcounts vc = {0}, sh_vc = {0};
    double t0 = now();
    FILE *qf = dlq ? fopen(dlq, "w") : NULL;
    if (dlq && !qf) {
        perror(dlq);
        return 1;
    }
    uint64_t n_dlq = 0;
    if (alerts && threshold < 0) {
        fprintf(stderr, "consume_predictions: --alerts needs --alert-threshold\n");
        return 2;
    }
    FILE *af = alerts ? fopen(alerts, "w") : NULL;
    if (alerts && !af) {
        perror(alerts);
        return 1;
    }
    FILE *sf = shadow ? fopen(shadow, "w") : NULL;
    if (shadow && !sf) {
        perror(shadow);
        return 1;
    }
    orders_seen os = {.idx = sf_idmap_new(4096), .crossing = sf_idmap_new(1024)};
    uint64_t n_alerts = 0, a_below = 0, a_bad = 0, a_undecoded = 0, a_unexpected = 0;
    for (int pass = 0; pass < 5; pass++) {
        if ((pass == 1 && !orders) || (pass == 2 && !dlq) || (pass == 3 && !alerts) ||
            (pass == 4 && !shadow))
            continue;
        int is_pred = pass == 0;
        rd_kafka_t *rk = reader(brokers, pass == 0   ? SF_TOPIC_PREDICTIONS
                                         : pass == 1 ? SF_TOPIC_ORDERS
                                         : pass == 2 ? SF_TOPIC_DLQ
                                         : pass == 3 ? SF_TOPIC_ALERTS
                                                     : SF_TOPIC_SHADOW);
        double last = now();
        while (now() - last < idle && now() - t0 < timeout) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
            if (!m)
                continue;
            if (m->err) {
                fprintf(stderr, "consume_predictions: %s\n", rd_kafka_message_errstr(m));
                return 1;
            }
            last = now();
            if (pass == 4) {
                sf_prediction p;
                if (!good_prediction(m, &p)) {
                    if (sh_bad++ < 5)
                        fprintf(stderr,
                                "consume_predictions: bad shadow message at [%d] @%" PRId64 "\n",
                                (int)m->partition, m->offset);
                } else {
                    char key[IDLEN + 24];
                    add(&sh_ids, p.event_id);
                    pair_key(key, &p);
                    add(&sh_pairs, key);
                    count_version(&sh_vc, p.model_version);
                    fprintf(sf, "%s %" PRId64 " %d %" PRId64 "\n", p.event_id, p.model_version,
                            (int)m->partition, m->offset);
                }
                rd_kafka_message_destroy(m);
                continue;
            }
            if (pass == 3) {
                sf_alert al;
                const void *hv = NULL;
                size_t hl = 0;
                rd_kafka_headers_t *h = NULL;
                int ok = m->payload && sf_decode_alert(m->payload, m->len, &al, &err) == 0 &&
                         rd_kafka_message_headers(m, &h) == 0 &&
                         rd_kafka_header_get_last(h, "event_id", &hv, &hl) == 0 &&
                         hl == strlen(al.p.event_id) && memcmp(hv, al.p.event_id, hl) == 0 &&
                         m->key && m->key_len == SF_ID_LEN &&
                         memcmp(m->key, al.p.order_id, SF_ID_LEN) == 0;
                n_alerts++;
                if (!ok) {
                    a_undecoded++;
                    if (a_bad++ < 5)
                        fprintf(stderr, "consume_predictions: bad alert at [%d] @%" PRId64 "\n",
                                (int)m->partition, m->offset);
                    rd_kafka_message_destroy(m);
                    continue;
                }
                fprintf(af, "%s %s %.9g %.9g %d %" PRId64 "\n", al.p.order_id, al.p.event_id,
                        al.p.p_dissatisfied, al.threshold, (int)m->partition, m->offset);
                if (al.p.p_dissatisfied < threshold || al.threshold != threshold) {
                    if (a_below++ < 5)
                        fprintf(stderr, "consume_predictions: alert %s risk %g threshold %g\n",
                                al.p.event_id, al.p.p_dissatisfied, al.threshold);
                }
                size_t k = order_slot(&os, al.p.order_id);
                if (os.max[k] < threshold ||
                    sf_idmap_get(os.crossing, al.p.event_id, strlen(al.p.event_id), NULL) != 0) {
                    if (a_unexpected++ < 5)
                        fprintf(stderr, "consume_predictions: unexpected alert %s (max risk %g)\n",
                                al.p.event_id, os.max[k]);
                }
                if (os.part[k] >= 0 && os.part[k] != m->partition)
                    a_bad++;
                if (os.alerts[k] == 0)
                    snprintf(os.alert_event[k], IDLEN, "%s", al.p.event_id);
                else if (strcmp(os.alert_event[k], al.p.event_id) != 0)
                    os.differ[k] = 1;
                if (os.alerts[k] < 255)
                    os.alerts[k]++;
                rd_kafka_message_destroy(m);
                continue;
            }
            if (pass == 2) {
                rd_kafka_headers_t *h = NULL;
                const char *names[] = {"source_topic", "source_partition", "source_offset"};
                fprintf(qf, "dlq");
                for (int i = 0; i < 3; i++) {
                    const void *hv = NULL;
                    size_t hl = 0;
                    if (rd_kafka_message_headers(m, &h) != 0 ||
                        rd_kafka_header_get_last(h, names[i], &hv, &hl) != 0 || !hv)
                        fprintf(qf, " -");
                    else
                        fprintf(qf, " %.*s", (int)hl, (const char *)hv);
                }
                char sum[65];
                sf_sha256_hex(m->payload ? m->payload : (const uint8_t *)"", m->len, sum);
                const void *rv = NULL;
                size_t rl = 0;
                if (!h || rd_kafka_header_get_last(h, "reason", &rv, &rl) != 0 || !rv)
                    fprintf(qf, " %s -", sum);
                else
                    fprintf(qf, " %s %.*s", sum, (int)rl, (const char *)rv);
                const void *ov = NULL; /* a value cut to fit (dlq.h): its original size */
                size_t ol = 0;
                if (h && rd_kafka_header_get_last(h, "original_size", &ov, &ol) == 0 && ov)
                    fprintf(qf, " [original_size %.*s, kept %zu]", (int)ol, (const char *)ov,
                            m->len);
                fputc('\n', qf);
                n_dlq++;
                rd_kafka_message_destroy(m);
                continue;
            }
            if (!is_pred) {
                sf_order_event ev;
                if (m->payload && decode_order(m, &ev, &err) == 0) {
                    if (m->key && m->key_len == strlen(ev.order_id) &&
                        memcmp(m->key, ev.order_id, m->key_len) == 0) {
                        char id[IDLEN];
                        sf_event_id(&ev, id, sizeof id);
                        add(&want, id);
                    }
                    sf_order_event_clear(&ev);
                }
                rd_kafka_message_destroy(m);
                continue;
            }
            sf_prediction p;
            if (!good_prediction(m, &p)) {
                if (bad++ < 5)
                    fprintf(stderr, "consume_predictions: bad prediction at [%d] @%" PRId64 "\n",
                            (int)m->partition, m->offset);
                rd_kafka_message_destroy(m);
                continue;
            }
            add(&got, p.event_id);
            if (shadow) {
                char key[IDLEN + 24];
                pair_key(key, &p);
                add(&pairs, key);
            }
            if (alerts) {
                size_t ok_ = order_slot(&os, p.order_id);
                if (p.p_dissatisfied > os.max[ok_])
                    os.max[ok_] = p.p_dissatisfied;
                os.part[ok_] = m->partition;
                if (p.p_dissatisfied >= threshold &&
                    sf_idmap_put(os.crossing, p.event_id, strlen(p.event_id), 0, NULL) < 0) {
                    fprintf(stderr, "consume_predictions: out of memory\n");
                    return 1;
                }
            }
            count_version(&vc, p.model_version);
            if (df)
                fprintf(df, "%s %" PRId64 " %d %" PRId64 " %" PRId64 "\n", p.event_id,
                        p.model_version, (int)m->partition, m->offset, p.scored_at);
            rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (df)
        fclose(df);
    size_t n = got.n;
    size_t u = uniq(&got);
    printf("predictions %zu\nunique %zu\nduplicates %zu\nbad %" PRIu64 "\n", n, u, n - u, bad);
    if (orders) {
        size_t e = uniq(&want);
        size_t missing = 0, unexpected = 0, i = 0, j = 0;
        while (i < e || j < u) {
            int d = i == e ? 1 : j == u ? -1 : strcmp(want.v[i], got.v[j]);
            if (d < 0) {
                if (missing++ < 5)
                    fprintf(stderr, "consume_predictions: missing %s\n", want.v[i]);
                i++;
            } else if (d > 0) {
                unexpected++;
                j++;
            } else {
                i++;
                j++;
            }
        }
        printf("expected %zu\nmissing %zu\nunexpected %zu\n", e, missing, unexpected);
    }
    if (sf) {
        fclose(sf);
        size_t sn = sh_ids.n, su = uniq(&sh_ids), np = uniq(&pairs), missing = 0, overlap = 0;
        for (size_t i = 0; i < su; i++)
            if (!in_sorted(&got, u, sh_ids.v[i]) && missing++ < 5)
                fprintf(stderr, "consume_predictions: shadow %s has no prediction\n", sh_ids.v[i]);
        for (size_t i = 0; i < sh_pairs.n; i++)
            if (in_sorted(&pairs, np, sh_pairs.v[i]) && overlap++ < 5)
                fprintf(stderr, "consume_predictions: shadow %s is also a prediction\n",
                        sh_pairs.v[i]);
        printf("shadow %zu\nshadow_unique %zu\nshadow_bad %" PRIu64
               "\nshadow_missing %zu\nshadow_overlap %zu\n",
               sn + (size_t)sh_bad, su, sh_bad, missing, overlap);
        for (int k = 0; k < sh_vc.nv; k++)
            printf("shadow_version %" PRId64 " %" PRIu64 "\n", sh_vc.v[k], sh_vc.n[k]);
    }
    if (qf) {
        fclose(qf);
        printf("dlq %" PRIu64 "\n", n_dlq);
    }
    if (af) {
        fclose(af);
        size_t a_orders = 0, a_differ = 0, a_missing = 0;
        for (size_t k = 0; k < os.n; k++) {
            a_orders += os.alerts[k] > 0;
            a_differ += os.differ[k];
            if (os.max[k] >= threshold && !os.alerts[k] && a_missing++ < 5)
                fprintf(stderr, "consume_predictions: no alert for order at risk %g\n", os.max[k]);
        }
        printf("alerts %" PRIu64 "\nalert_orders %zu\nalert_duplicates %" PRIu64
               "\nalert_dup_differ %zu\nalert_below %" PRIu64 "\nalert_missing %zu\n"
               "alert_unexpected %" PRIu64 "\nalert_bad %" PRIu64 "\n",
               n_alerts, a_orders, n_alerts - a_undecoded - a_orders, a_differ, a_below, a_missing,
               a_unexpected, a_bad);
    }
    sf_idmap_free(os.idx);
    sf_idmap_free(os.crossing);
    free(os.max);
    free(os.part);
    free(os.alerts);
    free(os.alert_event);
    free(os.differ);
    if (group) {
        sf_kafka_client_opts ko = {
            .role = SF_KAFKA_TOOL_CONSUMER, .conn = {.brokers = brokers}, .group = group};
        rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
        if (!rk) {
            fprintf(stderr, "consume_predictions: %s\n", err.msg);
            return 1;
        }
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
        for (int i = 0; i < 64; i++)
            rd_kafka_topic_partition_list_add(l, SF_TOPIC_ORDERS, i);
        rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 10000);
        if (e) {
            fprintf(stderr, "consume_predictions: committed: %s\n", rd_kafka_err2str(e));
            return 1;
        }
        int np = 0;
        int64_t sum = 0;
        for (int i = 0; i < l->cnt; i++)
            if (!l->elems[i].err && l->elems[i].offset >= 0) {
                np++;
                sum += l->elems[i].offset;
            }
        printf("committed %d %" PRId64 "\n", np, sum);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(rk);
    }
    for (int k = 0; k < vc.nv; k++)
        printf("version %" PRId64 " %" PRIu64 "\n", vc.v[k], vc.n[k]);
    free(got.v);
    free(pairs.v);
    free(sh_ids.v);
    free(sh_pairs.v);
    free(want.v);
    return 0;
}
