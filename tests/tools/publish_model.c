/*
 * publish_model.c - produces a model release to satisfy.models, for the
 * scorer's integration tests and benchmarks (the streaming retrainer is the
 * production publisher).
 *
 * The model is trained here with the features/model API on the orders of
 * --data whose purchase time is in [--from, --to) (so two windows give two
 * different models), or taken from a registry's champion (--registry). With
 * --bad MODE it publishes a deliberately broken release instead:
 *   garbage    bytes that are not a framed Avro message
 *   truncated  a real release cut in half
 *   checksum   a well-formed release whose sha256 does not match its payload
 *
 * usage: publish_model --brokers LIST --version N (--data DIR | --registry F)
 *                      [--algo ridge|gbdt] [--from T] [--to T] [--bad MODE]
 *                      [--key K] [--signing-key PEM]
 * --signing-key signs the message as the retrainer does (release_sign.h:
 * header "signature" over the version and the value bytes; the key defaults
 * to the version then).
 * The model trained from --data carries the history snapshot at the end of
 * its window, as releases did before the live history (scorers seed their
 * history with it while satisfy.history is empty); --no-history leaves it
 * out, as satisfy-retrainer's releases do now. Its metrics hold the
 * training distribution per feature ("drift", drift_profile.h), as the
 * retrainer's releases do.
 * --register FILE adds the trained model to registry FILE as version N (the
 * registry's next version must be N) and, after publishing it, serves it the
 * way the retrainer's gate does (serving.h: a serving history row with cause
 * gate and a ServingState on satisfy.models), so that a test can run
 * `satisfy-retrainer registry promote` and `rollback` without a retrainer.
 * --no-serve registers it (status candidate) without serving it: a version
 * that `registry challenge N` can shadow. --flip-labels trains on 6 - the
 * review score: a model worse than any honest one, by construction (the
 * shadow test's bad champion or bad challenger).
 * Prints "published version N (ALGO, BYTES bytes)" on success.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "satisfy/cli.h"
#include "satisfy/codec.h"
#include "satisfy/features.h"
#include "satisfy/kafka.h"
#include "satisfy/model.h"
#include "satisfy/olist.h"
#include "satisfy/registry.h"
#include "satisfy/release_sign.h"
#include "satisfy/drift_profile.h"
#include "satisfy/serving.h"
#include "satisfy/train.h"

static int no_history;  /* --no-history */
static int no_serve;    /* --no-serve */
static int flip_labels; /* --flip-labels */

static int die(const char *msg)
{
    fprintf(stderr, "publish_model: %s\n", msg);
    return 1;
}

static int train(const char *dir, sf_algo algo, int64_t from, int64_t to, sf_model **out,
                 sf_err *err)
{
    sf_dataset ds;
    sf_load_opts lo = {0};
    lo.report = fopen("/dev/null", "w");
    int rc = sf_dataset_load(&ds, dir, &lo, err);
    if (lo.report)
        fclose(lo.report);
    if (rc < 0)
        return -1;
    sf_examples ex;
    sf_history *hist = NULL;
    if (sf_train_rows_of_dataset(&ex, &ds, sf_spec_full(), from, to, &hist, err) < 0) {
        sf_dataset_free(&ds);
        return -1;
    }
    sf_dataset_free(&ds);
    for (size_t i = 0; flip_labels && i < ex.n; i++)
        ex.label[i] = 6 - ex.label[i];
    sf_model_params p;
    sf_model_params_default(&p);
    p.nthread = 2;
    p.rounds = 60;
    rc = sf_model_train(algo, &ex, NULL, &p, out, err);
    if (rc == 0) {
        /* the window the examples actually cover, when open-ended */
        int64_t lo = from, hi = to;
        for (size_t i = 0; i < ex.n; i++) {
            if (from == SF_TIME_NONE && (lo == SF_TIME_NONE || ex.purchase[i] < lo))
                lo = ex.purchase[i];
            if (to == SF_TIME_NONE && (hi == SF_TIME_NONE || ex.purchase[i] + 1 > hi))
                hi = ex.purchase[i] + 1;
        }
        sf_model_set_window(*out, lo, hi);
        /* the training distribution, as the retrainer's releases carry it
         * (drift_profile.h): scorers compute their input drift against it */
        static sf_drift_profile prof;
        char *mj = NULL;
        if (sf_drift_profile_build(ex.spec, ex.x, ex.n, ex.d, &prof, err) != 0 ||
            !(mj = sf_drift_metrics_with("{}", &prof, err)) ||
            sf_model_set_metrics(*out, mj, err) != 0)
            rc = -1;
        free(mj);
        if (rc == 0)
            rc = no_history ? 0 : sf_model_set_history(*out, hist, err);
        if (rc < 0)
            sf_model_free(*out);
    }
    sf_history_free(hist);
    sf_examples_free(&ex);
    return rc;
}

static int from_registry(const char *path, sf_model **out, sf_err *err)
{
    sf_registry *r;
    if (sf_registry_open(&r, path, NULL, err) < 0)
        return -1;
    sf_version_row row;
    memset(&row, 0, sizeof row);
    int found = sf_registry_champion(r, &row, err);
    int rc = -1;
    if (found == 0)
        sf_errf(err, "%s has no champion", path);
    else if (found > 0)
        rc = sf_model_load_trusted(row.artifact, row.artifact_len, NULL, out, err);
    sf_version_row_clear(&row);
    sf_registry_close(r);
    return rc;
}

/* --register: the version in the registry, then served as the gate does. */
static int register_and_serve(const char *path, const char *brokers, int64_t version,
                              const char *algo, const uint8_t *art, size_t len, sf_err *err)
{
    sf_registry *r;
    if (sf_registry_open(&r, path, NULL, err) != 0)
        return -1;
    sf_version_new v = {.algorithm = algo,
                        .spec_hash = "0000000000000000",
                        .artifact = art,
                        .artifact_len = len,
                        .status = "candidate",
                        .reason = "published by publish_model --register",
                        .created = (int64_t)time(NULL) * 1000};
    sf_model *m = NULL;
    if (sf_model_load_trusted(art, len, NULL, &m, err) == 0)
        v.spec_hash = sf_model_get_info(m)->spec_hash;
    int64_t got = m ? sf_registry_add_version(r, &v, err) : -1;
    sf_model_free(m);
    int rc = -1;
    sf_kafka_stats st;
    memset(&st, 0, sizeof st);
    sf_kafka_conn conn = {.brokers = brokers};
    sf_kafka_client_opts ko = {.role = SF_KAFKA_RELEASE_PRODUCER, .conn = conn, .stats = &st};
    rd_kafka_t *prod = NULL;
    if (got >= 0 && got != version)
        sf_errf(err, "--register %s: the registry's next version is %lld, not %lld", path,
                (long long)got, (long long)version);
    else if (got == version && no_serve)
        rc = 0;
    else if (got == version && (prod = sf_kafka_client_new(&ko, err)) != NULL) {
        sf_serving_change ch = {.conn = &conn,
                                .prod = prod,
                                .st = &st,
                                .reg = r,
                                .version = version,
                                .cause = "gate",
                                .reason = "publish_model --register",
                                .timeout_ms = 30000};
        sf_serving_state s;
        rc = sf_serving_change_apply(&ch, &s, err);
        rd_kafka_destroy(prod);
    }
    sf_registry_close(r);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"version", required_argument, NULL, 'v'},
        {"data", required_argument, NULL, 'd'},
        {"registry", required_argument, NULL, 'r'},
        {"algo", required_argument, NULL, 'a'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"bad", required_argument, NULL, 'B'},
        {"key", required_argument, NULL, 'k'},
        {"signing-key", required_argument, NULL, 'S'},
        {"no-history", no_argument, NULL, 'N'},
        {"register", required_argument, NULL, 'R'},
        {"no-serve", no_argument, NULL, 'E'},
        {"flip-labels", no_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    const char *brokers = NULL, *data = NULL, *registry = NULL, *bad = NULL, *key = NULL;
    const char *signing = NULL, *reg_path = NULL;
    uint8_t *art = NULL;
    size_t art_len = 0;
    int64_t from = SF_TIME_NONE, to = SF_TIME_NONE;
    long version = 0;
    sf_algo algo = SF_ALGO_RIDGE;
    sf_err err = {{0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 'v':
            if (sf_cli_long("--version", optarg, 1, LONG_MAX, &version, &err) < 0)
                return die(err.msg);
            break;
        case 'd':
            data = optarg;
            break;
        case 'r':
            registry = optarg;
            break;
        case 'a':
            if (sf_algo_parse(optarg, &algo, &err) < 0)
                return die(err.msg);
            break;
        case 'f':
        case 't':
            if (sf_time_parse(optarg, c == 'f' ? &from : &to) < 0)
                return die("--from/--to: expected YYYY-MM-DD");
            break;
        case 'B':
            bad = optarg;
            if (strcmp(bad, "garbage") && strcmp(bad, "truncated") && strcmp(bad, "checksum"))
                return die("--bad: expected garbage, truncated or checksum");
            break;
        case 'k':
            key = optarg;
            break;
        case 'S':
            signing = optarg;
            break;
        case 'N':
            no_history = 1;
            break;
        case 'R':
            reg_path = optarg;
            break;
        case 'E':
            no_serve = 1;
            break;
        case 'F':
            flip_labels = 1;
            break;
        default:
            return die("bad option (see the comment at the top of publish_model.c)");
        }
    }
    if (!brokers || version <= 0 || (!data && !registry && !(bad && !strcmp(bad, "garbage"))))
        return die("--brokers, --version N > 0 and --data or --registry are required");

    sf_buf buf = {0};
    const char *algo_name = "-";
    if (bad && !strcmp(bad, "garbage")) {
        static const char junk[] = "\x00\x00\x00\x00\x04this is not an Avro model release";
        if (sf_buf_reserve(&buf, sizeof junk, &err) < 0)
            return die(err.msg);
        memcpy(buf.data, junk, sizeof junk - 1);
        buf.len = sizeof junk - 1;
    } else {
        sf_model *m;
        if ((registry ? from_registry(registry, &m, &err) : train(data, algo, from, to, &m, &err)) <
            0)
            return die(err.msg);
        algo_name = sf_algo_name(sf_model_get_info(m)->algo);
        if (reg_path && sf_model_save(m, &art, &art_len, &err) < 0)
            return die(err.msg);
        sf_model_release r;
        if (sf_model_release_make(m, version, (int64_t)time(NULL) * 1000, &r, &err) < 0)
            return die(err.msg);
        sf_model_free(m);
        if (bad && !strcmp(bad, "checksum"))
            r.sha256[0] = r.sha256[0] == '0' ? '1' : '0';
        if (sf_encode_release(&r, &buf, &err) < 0)
            return die(err.msg);
        sf_model_release_clear(&r);
        if (bad && !strcmp(bad, "truncated"))
            buf.len /= 2;
    }

    char vkey[24];
    snprintf(vkey, sizeof vkey, "%ld", version);
    if (!key)
        key = signing ? vkey : "model";
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
    if (signing) {
        uint8_t sig[SF_RELEASE_SIG_LEN];
        sf_release_key *sk = sf_release_key_load(signing, 1, &err);
        if (!sk || sf_release_sign(sk, version, buf.data, buf.len, sig, &err) != 0)
            return die(err.msg);
        sf_release_key_free(sk);
        rd_kafka_header_add(hdrs, SF_RELEASE_SIG_HEADER, -1, sig, sizeof sig);
    }
    sf_kafka_stats st;
    const char *props[] = {"message.max.bytes=20000000"};
    sf_kafka_client_opts ko = {.role = SF_KAFKA_TOOL_PRODUCER,
                               .conn = {.brokers = brokers, .props = props, .n_props = 1},
                               .stats = &st};
    rd_kafka_t *rk = sf_kafka_client_new(&ko, &err);
    if (!rk)
        return die(err.msg);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(SF_TOPIC_MODELS), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE(buf.data, buf.len), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (e)
        return die(rd_kafka_err2str(e));
    int left = sf_kafka_drain(rk, 30000);
    rd_kafka_destroy(rk);
    if (left > 0 || sf_kafka_stats_failed(&st) > 0) {
        fprintf(stderr, "publish_model: not delivered: %s\n",
                st.last_failure[0] ? st.last_failure : "timeout");
        return 1;
    }
    if (reg_path && register_and_serve(reg_path, brokers, version, algo_name, art, art_len, &err))
        return die(err.msg);
    free(art);
    printf("published version %ld (%s%s%s, %zu bytes)\n", version, algo_name, bad ? ", bad: " : "",
           bad ? bad : "", buf.len);
    sf_buf_free(&buf);
    return 0;
}
