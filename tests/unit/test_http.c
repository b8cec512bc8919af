/*
 * test_http.c - the scorer's HTTP server in-process (lib/http*.c): the JSON
 * API, the MLflow protocol in its four input formats and its errors, the
 * limits (body size, JSON depth, slow clients), /metrics through promtool,
 * and the static web files. A tiny GBDT is trained on a generated dataset;
 * requests go through a raw-socket HTTP/1.1 client (http_client.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "satisfy/challenge.h"
#include "satisfy/codec.h"
#include "satisfy/datagen.h"
#include "satisfy/decision.h"
#include "satisfy/features.h"
#include "satisfy/http.h"
#include "satisfy/model.h"
#include "satisfy/olist.h"
#include "satisfy/train.h"
#include "http_client.h"
#include "http_impl.h" /* SF_HTTP_CHALLENGES, SF_HTTP_CHALLENGE_HISTORY */
#include "testutil.h"

static sf_model *g_model; /* a copy owned by the tests, for reference predictions */
static sf_stats *g_stats;
static sf_http *g_http;
static sf_alerts *g_alerts;
static char *g_dir;

static const unsigned char PAGE[] = "<!doctype html><title>t</title>";
static const struct sf_embedded_file WEB[] = {{"index.html", PAGE, sizeof PAGE - 1},
                                              {NULL, NULL, 0}};

/* ---------------------------------------------------------- fixtures */

#define ORDER_FMT                                                                                  \
    "{\"order_id\":\"0123456789abcdef0123456789abcdef\","                                          \
    "\"customer_id\":\"11111111111111111111111111111111\","                                        \
    "\"customer_unique_id\":\"22222222222222222222222222222222\",\"stage\":\"DELIVERED\","         \
    "\"event_time\":1521900000000,\"purchase_time\":1520864000000,"                                \
    "\"estimated_delivery\":1522937600000,\"approved_time\":1520871200000,"                        \
    "\"carrier_time\":1521036800000,\"delivered_time\":1521900000000%s,"                           \
    "\"customer\":{\"zip\":\"01000\",\"city\":\"sao paulo\",\"state\":\"SP\",\"lat\":-23.55,"      \
    "\"lng\":-46.63},\"items\":[{\"seq\":1,\"product_id\":\"33333333333333333333333333333333\","   \
    "\"seller_id\":\"44444444444444444444444444444444\",\"price\":%s,\"freight\":16.5,"            \
    "\"shipping_limit\":1521382400000,\"category\":\"health_beauty\",\"name_len\":48,"             \
    "\"desc_len\":600,\"photos\":2,\"weight_g\":700,\"length_cm\":30,\"height_cm\":15,"            \
    "\"width_cm\":20,\"seller\":{\"zip\":\"13000\",\"city\":\"campinas\",\"state\":\"SP\","        \
    "\"lat\":-22.9,\"lng\":-47.06%s}}],\"payments\":[{\"seq\":1,\"type\":\"credit_card\","         \
    "\"installments\":3,\"value\":106.4}]}"

static char *order_json(const char *extra_top, const char *price, const char *extra_seller)
{
    size_t n = strlen(ORDER_FMT) + strlen(extra_top) + strlen(price) + strlen(extra_seller) + 1;
    char *s = malloc(n);
    snprintf(s, n, ORDER_FMT, extra_top, price, extra_seller);
    return s;
}

static int setup(void **state)
{
    (void)state;
    setenv("OMP_WAIT_POLICY", "passive", 0);
    g_dir = tu_mkdtemp();
    sf_err err = {{0}};
    sf_datagen_opts go = {.n_orders = 600, .seed = 5, .from = SF_TIME_NONE, .to = SF_TIME_NONE};
    assert_int_equal(sf_datagen_write(&go, g_dir, NULL, &err), 0);
    sf_dataset ds;
    FILE *devnull = fopen("/dev/null", "w");
    sf_load_opts lo = {.report = devnull};
    assert_int_equal(sf_dataset_load(&ds, g_dir, &lo, &err), 0);
    fclose(devnull);
    sf_examples ex;
    sf_history *hist = NULL;
    assert_int_equal(
        sf_train_rows_of_dataset(&ex, &ds, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, &hist, &err),
        0);
    sf_model_params p;
    sf_model_params_default(&p);
    p.rounds = 20;
    p.nthread = 1;
    sf_model *m;
    assert_int_equal(sf_model_train(SF_ALGO_GBDT, &ex, NULL, &p, &m, &err), 0);
    assert_int_equal(sf_model_set_history(m, hist, &err), 0);
    assert_int_equal(sf_model_set_metrics(m, "{\"holdout\":{\"ALL\":{\"rmse\":1.23}}}", &err), 0);
    /* the server gets its own copy (it frees it) */
    uint8_t *buf;
    size_t len;
    assert_int_equal(sf_model_save(m, &buf, &len, &err), 0);
    sf_model *copy;
    assert_int_equal(sf_model_load(buf, len, NULL, &copy, &err), 0);
    free(buf);
    g_model = m;
    sf_history_free(hist);
    sf_examples_free(&ex);
    sf_dataset_free(&ds);

    g_stats = sf_stats_new();
    sf_stats_model(g_stats, 7);
    sf_stats_lag(g_stats, 12);
    sf_prediction pr;
    memset(&pr, 0, sizeof pr);
    snprintf(pr.order_id, sizeof pr.order_id, "abcdefabcdefabcdefabcdefabcdefab");
    snprintf(pr.event_id, sizeof pr.event_id, "%s:PURCHASED", pr.order_id);
    pr.score = 1.8;
    pr.p_dissatisfied = 0.7;
    pr.model_version = 7;
    pr.event_time = 1520864000000;
    double lat = 3.0;
    sf_stats_batch(g_stats, 1, 0, &pr, 1, &lat, &lat, 1);
    /* one committed alert of that prediction, at an overriding threshold */
    g_alerts = sf_alerts_new(0.5, NULL, NULL);
    sf_alert al;
    sf_prediction ap = pr;
    ap.scored_at = pr.event_time + 500;
    assert_int_equal(sf_alerts_check(g_alerts, &ap, &al), 1);
    sf_alerts_commit(g_alerts);
    sf_http_opts o = {.addr = "127.0.0.1:0",
                      .stats = g_stats,
                      .web = WEB,
                      .idle_s = 2,
                      .request_ms = 1500,
                      .version = "satisfy test",
                      .alerts = g_alerts};
    g_http = sf_http_start(&o, &err);
    assert_non_null(g_http);
    sf_http_set_model(g_http, copy, 7);
    g_port = sf_http_port(g_http);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sf_http_stop(g_http);
    sf_stats_free(g_stats);
    sf_alerts_free(g_alerts);
    sf_model_free(g_model);
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

/* -------------------------------------------------------------- tests */

static void test_probes_and_static(void **state)
{
    (void)state;
    char *b;
    expect(req("GET", "/healthz", NULL, NULL, &b), &b, 200, "ok");
    expect(req("GET", "/readyz", NULL, NULL, &b), &b, 200, "\"ready\":true");
    expect(req("GET", "/ping", NULL, NULL, &b), &b, 200, NULL);
    /* MLflow's /version: its bare version string; ours in a header and /v1/version */
    assert_int_equal(req("GET", "/version", NULL, NULL, &b), 200);
    assert_string_equal(b, SF_HTTP_MLFLOW_VERSION);
    free(b);
    assert_non_null(strstr(g_head, "Content-Type: application/json"));
    assert_non_null(strstr(g_head, "X-Satisfy-Version: satisfy test"));
    expect(req("GET", "/v1/version", NULL, NULL, &b), &b, 200,
           "{\"satisfy\":\"satisfy test\",\"mlflow\":\"" SF_HTTP_MLFLOW_VERSION "\"}");
    expect(req("GET", "/", NULL, NULL, &b), &b, 200, "<!doctype html>");
    expect(req("GET", "/index.html", NULL, NULL, &b), &b, 200, "<title>t</title>");
    expect(req("GET", "/nope.js", NULL, NULL, &b), &b, 404, "no such resource");
    expect(req("GET", "/../etc/passwd", NULL, NULL, &b), &b, 404, NULL);
    expect(req("DELETE", "/healthz", NULL, NULL, &b), &b, 405, "use GET");
}

static void test_no_model(void **state)
{
    (void)state;
    sf_err err = {{0}};
    sf_stats *st = sf_stats_new();
    sf_http_opts o = {.addr = ":0", .stats = st};
    sf_http *h = sf_http_start(&o, &err);
    assert_non_null(h);
    sf_http *saved = g_http;
    g_http = h;
    g_port = sf_http_port(h);
    char *b, *order = order_json("", "89.9", "");
    expect(req("GET", "/readyz", NULL, NULL, &b), &b, 503, "the scorer has no model yet");
    sf_stats_model(st, 1);
    expect(req("GET", "/readyz", NULL, NULL, &b), &b, 503, "the HTTP server has no model yet");
    expect(req("GET", "/ping", NULL, NULL, &b), &b, 503, "no model loaded");
    expect(post_json("/v1/predict", order, &b), &b, 503, "no model has been released yet");
    expect(post_json("/invocations", "{\"inputs\":[{\"late\":1}]}", &b), &b, 503,
           "RESOURCE_DOES_NOT_EXIST");
    expect(req("GET", "/v1/models", NULL, NULL, &b), &b, 200, "\"active\":null");
    expect(req("GET", "/v1/alerts", NULL, NULL, &b), &b, 200, "{\"threshold\":null,");
    expect(req("GET", "/", NULL, NULL, &b), &b, 404, NULL); /* no web files given */
    free(order);
    g_http = saved;
    g_port = sf_http_port(saved);
    sf_http_stop(h);
    sf_stats_free(st);
    /* a bad address is refused with a reason */
    o.addr = "nohost:80";
    assert_null(sf_http_start(&o, &err));
    assert_non_null(strstr(err.msg, "not an IPv4 address"));
    o.addr = "127.0.0.1:99999";
    assert_null(sf_http_start(&o, &err));
    assert_non_null(strstr(err.msg, "expected host:port"));
}

static void test_predict(void **state)
{
    (void)state;
    char *order = order_json("", "89.9", ""), *b;
    int st = post_json("/v1/predict", order, &b);
    assert_int_equal(st, 200);
    cJSON *j = cJSON_Parse(b);
    assert_non_null(j);
    sf_order_event ev;
    sf_err err;
    assert_int_equal(sf_order_from_json(order, &ev, &err), 0);
    sf_prediction want;
    sf_model_score_event(g_model, &ev, &want);
    sf_order_event_clear(&ev);
    assert_float_equal(cJSON_GetObjectItem(j, "score")->valuedouble, want.score, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(j, "p_dissatisfied")->valuedouble, want.p_dissatisfied,
                       1e-9);
    assert_int_equal(cJSON_GetObjectItem(j, "stars")->valueint, (int)round(want.score));
    assert_int_equal(cJSON_GetObjectItem(j, "model_version")->valueint, 7);
    cJSON *rs = cJSON_GetObjectItem(j, "reasons");
    assert_int_equal(cJSON_GetArraySize(rs), want.n_reasons);
    assert_true(want.n_reasons > 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(rs, 0), "feature")->valuestring,
                        want.reasons[0].feature);
    assert_string_equal(cJSON_GetObjectItem(j, "event_id")->valuestring,
                        "0123456789abcdef0123456789abcdef:DELIVERED");
    cJSON_Delete(j);
    free(b);
    free(order);
}

static void test_predict_errors(void **state)
{
    (void)state;
    char *b;
    expect(post_json("/v1/predict", "{\"order_id\": ", &b), &b, 400, "malformed JSON");
    expect(post_json("/v1/predict", "[1,2]", &b), &b, 400, "expected an order event object");
    char *o = order_json("", "\"cheap\"", "");
    expect(post_json("/v1/predict", o, &b), &b, 400, "\"field\":\"items[0].price\"");
    free(o);
    o = order_json("", "\"cheap\"", "");
    expect(post_json("/v1/predict", o, &b), &b, 400, "expected a number");
    free(o);
    o = order_json(",\"colour\":\"red\"", "89.9", "");
    expect(post_json("/v1/predict", o, &b), &b, 400, "unknown field 'colour'");
    free(o);
    o = order_json("", "89.9", ",\"planet\":\"mars\"");
    expect(post_json("/v1/predict", o, &b), &b, 400, "\"field\":\"items[0].seller.planet\"");
    free(o);
    o = order_json("", "-5", "");
    expect(post_json("/v1/predict", o, &b), &b, 400, "items[0].price: must be a number >= 0");
    free(o);
    /* numbers too large for a double parse as infinity: refused, field named */
    o = order_json("", "1e999", "");
    expect(post_json("/v1/predict", o, &b), &b, 400,
           "{\"error\":\"items[0].price: expected a finite number\",\"field\":\"items[0].price\"}");
    free(o);
    o = order_json("", "89.9", "");
    char *lat = strstr(o, "-23.55");
    memcpy(lat, "-1e999", 6);
    expect(post_json("/v1/predict", o, &b), &b, 400, "\"field\":\"customer.lat\"");
    free(o);
    /* JSON only, whatever the case of the media type */
    o = order_json("", "89.9", "");
    expect(req("POST", "/v1/predict", "text/plain", o, &b), &b, 415,
           "Content-Type must be application/json");
    expect(req("POST", "/v1/predict", NULL, o, &b), &b, 415, "Content-Type");
    expect(req("POST", "/v1/predict", "application/jsonp", o, &b), &b, 415, "Content-Type");
    expect(req("POST", "/v1/predict", "Application/JSON; charset=UTF-8", o, &b), &b, 200,
           "\"score\"");
    free(o);
    /* a missing field is named */
    o = order_json("", "89.9", "");
    char *cut = strstr(o, "\"stage\":\"DELIVERED\",");
    size_t cl = strlen("\"stage\":\"DELIVERED\",");
    memmove(cut, cut + cl, strlen(cut + cl) + 1);
    expect(post_json("/v1/predict", o, &b), &b, 400, "stage: missing field");
    free(o);
    /* nesting deeper than the limit */
    char deep[200];
    memset(deep, '[', 40);
    memset(deep + 40, ']', 40);
    deep[80] = '\0';
    expect(post_json("/v1/predict", deep, &b), &b, 400, "JSON nested deeper than 16 levels");
    expect(req("GET", "/v1/predict", NULL, NULL, &b), &b, 405, "use POST");
}

static void test_huge_bodies(void **state)
{
    (void)state;
    /* declared too large: refused right after the headers */
    int fd = dial(sf_http_port(g_http));
    const char *head = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 2000000\r\nConnection: close\r\n\r\n";
    send_all(fd, head, strlen(head));
    char *b;
    expect(read_reply(fd, &b), &b, 413,
           "request body of 2000000 bytes is over the limit of 1048576");
    /* chunked, no length: refused once the bytes exceed the limit */
    fd = dial(sf_http_port(g_http));
    head = "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    send_all(fd, head, strlen(head));
    char *chunk = malloc(65536 + 16);
    int n = snprintf(chunk, 16, "10000\r\n");
    memset(chunk + n, ' ', 65536);
    memcpy(chunk + n + 65536, "\r\n", 2);
    for (int i = 0; i < 18; i++) /* 1.1 MiB */
        send_all(fd, chunk, (size_t)n + 65536 + 2);
    send_all(fd, "0\r\n\r\n", 5);
    free(chunk);
    expect(read_reply(fd, &b), &b, 413, "request body is over the limit of 1048576 bytes");
    /* the server still answers */
    expect(req("GET", "/healthz", NULL, NULL, &b), &b, 200, "ok");
}

static void test_slow_clients(void **state)
{
    (void)state;
    /* one client that stops mid-body, one that trickles a byte at a time */
    int idle = dial(sf_http_port(g_http)), drip = dial(sf_http_port(g_http));
    const char *head = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 100000\r\n\r\n{";
    send_all(idle, head, strlen(head));
    send_all(drip, head, strlen(head));
    /* meanwhile others are served */
    char *order = order_json("", "89.9", ""), *b;
    for (int i = 0; i < 5; i++)
        expect(post_json("/v1/predict", order, &b), &b, 200, "\"score\"");
    free(order);
    assert_true(closed_by_server(idle, 0, 15));
    assert_true(closed_by_server(drip, 1, 15));
    close(idle);
    close(drip);
    expect(req("GET", "/healthz", NULL, NULL, &b), &b, 200, "ok");
}

/* The same row in each MLflow input format gives sf_model_predict's answer. */
static void test_invocations_formats(void **state)
{
    (void)state;
    const sf_feature_spec *sp = sf_spec_full();
    float row[SF_SPEC_MAX_FEATURES];
    for (int i = 0; i < sp->n; i++)
        row[i] = NAN;
    int late = sf_spec_index(sp, "late"), delay = sf_spec_index(sp, "delay_days");
    int stage = sf_spec_index(sp, "stage"), price = sf_spec_index(sp, "total_price");
    row[late] = 1;
    row[delay] = 9;
    row[stage] = 3;
    row[price] = 120;
    double want, wantp;
    sf_model_predict(g_model, row, 1, &want, &wantp);
    double base, basep;
    float empty[SF_SPEC_MAX_FEATURES];
    for (int i = 0; i < sp->n; i++)
        empty[i] = NAN;
    sf_model_predict(g_model, empty, 1, &base, &basep);

    /* instances as positional arrays in spec order */
    char pos[4096];
    int n = snprintf(pos, sizeof pos, "{\"instances\":[[");
    for (int i = 0; i < sp->n; i++)
        n += snprintf(pos + n, sizeof pos - (size_t)n, "%s%s", i ? "," : "",
                      isnan(row[i]) ? "null"
                                    : (i == late    ? "1"
                                       : i == delay ? "9"
                                       : i == stage ? "3"
                                                    : "120"));
    snprintf(pos + n, sizeof pos - (size_t)n, "],[");
    n += 3;
    for (int i = 0; i < sp->n; i++)
        n += snprintf(pos + n, sizeof pos - (size_t)n, "%snull", i ? "," : "");
    snprintf(pos + n, sizeof pos - (size_t)n, "]]}");

    const char *bodies[] = {
        "{\"dataframe_split\":{\"columns\":[\"late\",\"delay_days\",\"stage\",\"total_price\"],"
        "\"data\":[[1,9,3,120],[null,null,null,null]]}}",
        "{\"dataframe_records\":[{\"late\":1,\"delay_days\":9,\"stage\":3,\"total_price\":120},"
        "{}]}",
        pos,
        "{\"inputs\":{\"late\":[1,null],\"delay_days\":[9,null],\"stage\":[3,null],"
        "\"total_price\":[120,null]}}",
        "{\"inputs\":[{\"late\":true,\"delay_days\":9,\"stage\":3,\"total_price\":120},"
        "{\"late\":null}]}",
    };
    for (size_t k = 0; k < sizeof bodies / sizeof *bodies; k++) {
        char *b;
        int st = post_json("/invocations", bodies[k], &b);
        if (st != 200)
            fail_msg("format %zu: %d %s", k, st, b);
        cJSON *j = cJSON_Parse(b);
        cJSON *pr = cJSON_GetObjectItem(j, "predictions");
        assert_int_equal(cJSON_GetArraySize(pr), 2);
        cJSON *r0 = cJSON_GetArrayItem(pr, 0), *r1 = cJSON_GetArrayItem(pr, 1);
        assert_float_equal(cJSON_GetObjectItem(r0, "score")->valuedouble, want, 1e-6);
        assert_float_equal(cJSON_GetObjectItem(r0, "p_dissatisfied")->valuedouble, wantp, 1e-6);
        assert_float_equal(cJSON_GetObjectItem(r1, "score")->valuedouble, base, 1e-6);
        assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(r0, "reasons")) > 0);
        cJSON_Delete(j);
        free(b);
    }
}

static void test_invocations_errors(void **state)
{
    (void)state;
    char *b;
    expect(post_json("/invocations", "{\"inputs\": [", &b), &b, 400,
           "\"error_code\":\"MALFORMED_REQUEST\"");
    expect(post_json("/invocations", "{\"rows\":[]}", &b), &b, 400, "unknown field 'rows'");
    expect(post_json("/invocations", "{}", &b), &b, 400, "\"error_code\":\"BAD_REQUEST\"");
    expect(post_json("/invocations", "{\"inputs\":[{}],\"instances\":[{}]}", &b), &b, 400,
           "give exactly one of");
    expect(post_json("/invocations", "{\"dataframe_records\":[{\"colour\":1}]}", &b), &b, 400,
           "unknown column 'colour'");
    expect(post_json("/invocations", "{\"dataframe_records\":[{\"late\":\"yes\"}]}", &b), &b, 400,
           "row 0, column 'late': expected a number or null");
    expect(post_json("/invocations", "{\"instances\":[[1,2,3]]}", &b), &b, 400,
           "row 0: expected an array of 41 values");
    expect(post_json("/invocations", "{\"dataframe_split\":{\"columns\":[\"late\"]}}", &b), &b, 400,
           "dataframe_split: expected");
    expect(post_json("/invocations",
                     "{\"dataframe_split\":{\"columns\":[\"late\"],\"data\":[[1,2]]}}", &b),
           &b, 400, "row 0: expected an array of 1 values");
    expect(post_json("/invocations", "{\"inputs\":[]}", &b), &b, 400, "no rows to score");
    expect(post_json("/invocations", "{\"inputs\":{\"late\":[1],\"stage\":[1,2]}}", &b), &b, 400,
           "every column must be an array of the same length");
    expect(req("POST", "/invocations", "text/csv", "late\n1\n", &b), &b, 415,
           "Content-Type must be application/json");
    expect(req("POST", "/invocations", "application/jsonx", "{\"inputs\":[{}]}", &b), &b, 415,
           "Content-Type must be application/json");
    expect(req("POST", "/invocations", "APPLICATION/json ; charset=utf-8", "{\"inputs\":[{}]}", &b),
           &b, 200, "\"predictions\"");
    /* a column named twice is an error in every format */
    expect(post_json("/invocations",
                     "{\"dataframe_split\":{\"columns\":[\"late\",\"late\"],\"data\":[[1,0]]}}",
                     &b),
           &b, 400, "duplicate column 'late'");
    expect(post_json("/invocations", "{\"dataframe_records\":[{\"late\":1,\"late\":0}]}", &b), &b,
           400, "row 0: duplicate column 'late'");
    expect(post_json("/invocations", "{\"inputs\":{\"late\":[1],\"late\":[0]}}", &b), &b, 400,
           "duplicate column 'late'");
    /* numbers a float cannot hold */
    expect(post_json("/invocations", "{\"inputs\":[{\"late\":1e999}]}", &b), &b, 400,
           "row 0, column 'late': expected a finite number");
    expect(post_json("/invocations", "{\"instances\":{\"total_price\":[1,-1e39]}}", &b), &b, 400,
           "row 1, column 'total_price': expected a finite number");
    expect(req("GET", "/invocations", NULL, NULL, &b), &b, 405, "use POST");
}

static void test_json_views(void **state)
{
    (void)state;
    char *b;
    int st = req("GET", "/v1/models", NULL, NULL, &b);
    assert_int_equal(st, 200);
    cJSON *j = cJSON_Parse(b);
    cJSON *a = cJSON_GetObjectItem(j, "active");
    assert_int_equal(cJSON_GetObjectItem(a, "version")->valueint, 7);
    assert_string_equal(cJSON_GetObjectItem(a, "algorithm")->valuestring, "gbdt");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a, "features")), 41);
    cJSON *tl = cJSON_GetObjectItem(j, "timeline");
    assert_int_equal(cJSON_GetArraySize(tl), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(tl, 0), "event")->valuestring,
                        "loaded");
    assert_non_null(strstr(b, "\"rmse\":1.23"));
    cJSON_Delete(j);
    free(b);
    st = req("GET", "/v1/stats", NULL, NULL, &b);
    assert_int_equal(st, 200);
    j = cJSON_Parse(b);
    assert_int_equal(cJSON_GetObjectItem(j, "events")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(j, "lag")->valueint, 12);
    assert_int_equal(cJSON_GetObjectItem(j, "model_version")->valueint, 7);
    double p50 = cJSON_GetObjectItem(
                     cJSON_GetObjectItem(cJSON_GetObjectItem(j, "latency_ms"), "process"), "p50")
                     ->valuedouble;
    assert_true(p50 > 0 && p50 <= 5);
    cJSON_Delete(j);
    free(b);
    expect(req("GET", "/v1/predictions/recent?n=5", NULL, NULL, &b), &b, 200,
           "\"order_id\":\"abcdefabcdefabcdefabcdefabcdefab\"");
    expect(req("GET", "/v1/predictions/recent?n=0", NULL, NULL, &b), &b, 400,
           "n must be an integer in 1..64");
}

/* ------------------------------------------------- online accuracy */

static int feed(const char *json, const char *key, const char *where, sf_err *err)
{
    return sf_http_online_feed(g_http, key, key ? strlen(key) : 0, json, strlen(json), where, err);
}

static void feed_ok(int64_t v, int64_t t, const char *rmse, const char *auc, int n)
{
    char js[256], key[24];
    snprintf(js, sizeof js,
             "{\"model_version\":%lld,\"n\":%d,\"rmse\":%s,\"auc\":%s,\"window\":1000,"
             "\"total\":%d,\"event_time\":%lld}",
             (long long)v, n, rmse, auc, n, (long long)t);
    snprintf(key, sizeof key, "%lld", (long long)v);
    sf_err err = {{0}};
    if (feed(js, key, NULL, &err) != 0)
        fail_msg("feeding %s: %s", js, err.msg);
}

static cJSON *get_online(void)
{
    char *b;
    int st = req("GET", "/v1/online", NULL, NULL, &b);
    assert_int_equal(st, 200);
    cJSON *j = cJSON_Parse(b);
    free(b);
    assert_non_null(j);
    return j;
}

static cJSON *version_of(cJSON *j, int64_t v)
{
    cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "versions"))
    {
        if ((int64_t)cJSON_GetObjectItem(e, "model_version")->valuedouble == v)
            return e;
    }
    return NULL;
}

static double num_at(cJSON *pts, int i, int col)
{
    return cJSON_GetArrayItem(cJSON_GetArrayItem(pts, i), col)->valuedouble;
}

static void test_online(void **state)
{
    (void)state;
    cJSON *j = get_online();
    assert_int_equal(cJSON_GetObjectItem(j, "messages")->valueint, 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "versions")), 0);
    assert_string_equal(cJSON_GetObjectItem(j, "topic")->valuestring, "satisfy.metrics");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "last_bad")));
    cJSON_Delete(j);

    feed_ok(1, 1000, "1.1", "0.7", 10);
    feed_ok(1, 2000, "1.0", "0.72", 20);
    feed_ok(2, 1500, "0.8", "null", 5);
    feed_ok(1, 1500, "1.05", "0.71", 15); /* out of order: in between */
    feed_ok(1, 2000, "0.9", "0.75", 20);  /* the same event time: replaces */
    sf_err err = {{0}};
    assert_int_equal(feed("{\"model_version\":2,\"n\":6,\"rmse\":0.85,\"auc\":0.6,"
                          "\"event_time\":1700}",
                          NULL, NULL, &err),
                     0); /* no key is fine */

    /* bad messages: refused with the reason, counted, series untouched */
    static const struct {
        const char *json, *key, *want;
    } bad[] = {
        {"", NULL, "empty message"},
        {"{\"model_version\":", NULL, "not JSON"},
        {"[1]", NULL, "expected a JSON object"},
        {"{\"n\":1,\"rmse\":1,\"auc\":null,\"event_time\":5}", NULL, "model_version: missing"},
        {"{\"model_version\":1.5,\"n\":1,\"rmse\":1,\"auc\":null,\"event_time\":5}", NULL,
         "model_version: 1.5 is not an integer"},
        {"{\"model_version\":0,\"n\":1,\"rmse\":1,\"auc\":null,\"event_time\":5}", NULL,
         "model_version: 0 is below 1"},
        {"{\"model_version\":\"1\",\"n\":1,\"rmse\":1,\"auc\":null,\"event_time\":5}", NULL,
         "model_version: expected an integer"},
        {"{\"model_version\":1,\"n\":-1,\"rmse\":1,\"auc\":null,\"event_time\":5}", NULL,
         "n: -1 is below 0"},
        {"{\"model_version\":1,\"n\":1,\"rmse\":\"x\",\"auc\":null,\"event_time\":5}", NULL,
         "rmse: expected a number or null"},
        {"{\"model_version\":1,\"n\":1,\"rmse\":7,\"auc\":null,\"event_time\":5}", NULL,
         "rmse: 7 out of range 0..4"},
        {"{\"model_version\":1,\"n\":1,\"rmse\":1,\"auc\":1.5,\"event_time\":5}", NULL,
         "auc: 1.5 out of range 0..1"},
        {"{\"model_version\":1,\"n\":1,\"rmse\":1,\"auc\":null}", NULL, "event_time: missing"},
        {"{\"model_version\":1,\"n\":1,\"rmse\":1,\"event_time\":5}", NULL, "auc: missing"},
        {"{\"model_version\":1,\"n\":1,\"rmse\":1,\"auc\":null,\"event_time\":5}", "2",
         "key '2' is not model_version 1"},
        {"{\"model_version\":1,\"n\":1,\"rmse\":1,\"auc\":null,\"event_time\":5}", "1x",
         "key '1x' is not model_version 1"},
    };
    size_t n_bad = sizeof bad / sizeof bad[0];
    for (size_t i = 0; i < n_bad; i++) {
        err.msg[0] = '\0';
        assert_int_equal(feed(bad[i].json, bad[i].key, NULL, &err), -1);
        if (!strstr(err.msg, bad[i].want))
            fail_msg("bad message %zu: '%s', want '%s'", i, err.msg, bad[i].want);
    }
    assert_int_equal(feed("{}", NULL, "satisfy.metrics [3] @17", &err), -1);
    assert_non_null(strstr(err.msg, "satisfy.metrics [3] @17"));
    assert_non_null(strstr(err.msg, "model_version: missing"));
    n_bad++;

    j = get_online();
    assert_int_equal(cJSON_GetObjectItem(j, "messages")->valueint, 6 + (int)n_bad);
    assert_int_equal(cJSON_GetObjectItem(j, "bad_messages")->valueint, (int)n_bad);
    assert_string_equal(cJSON_GetObjectItem(j, "last_bad")->valuestring,
                        "satisfy.metrics [3] @17: model_version: missing");
    cJSON *vs = cJSON_GetObjectItem(j, "versions");
    assert_int_equal(cJSON_GetArraySize(vs), 2);
    cJSON *v1 = cJSON_GetArrayItem(vs, 0);
    assert_int_equal(cJSON_GetObjectItem(v1, "model_version")->valueint, 1);
    cJSON *pts = cJSON_GetObjectItem(v1, "points");
    assert_int_equal(cJSON_GetArraySize(pts), 3);
    const double want1[3][4] = {
        {1000, 1.1, 0.7, 10}, {1500, 1.05, 0.71, 15}, {2000, 0.9, 0.75, 20}};
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < 4; c++)
            assert_true(fabs(num_at(pts, i, c) - want1[i][c]) < 1e-9);
    cJSON *p2 = cJSON_GetObjectItem(cJSON_GetArrayItem(vs, 1), "points");
    assert_int_equal(cJSON_GetArraySize(p2), 2);
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetArrayItem(p2, 0), 2))); /* auc null */
    assert_true(fabs(num_at(p2, 1, 1) - 0.85) < 1e-9);
    cJSON_Delete(j);

    /* a long series is thinned, keeping its first and last points */
    const int long_n = 3 * SF_HTTP_ONLINE_POINTS;
    for (int i = 0; i < long_n; i++) {
        char rm[32];
        snprintf(rm, sizeof rm, "%.4f", 1.0 + i * 1e-4);
        feed_ok(3, 100000 + (int64_t)i * 1000, rm, "0.7", 1000);
    }
    j = get_online();
    cJSON *v3 = version_of(j, 3);
    assert_non_null(v3);
    pts = cJSON_GetObjectItem(v3, "points");
    int np = cJSON_GetArraySize(pts);
    assert_true(np <= SF_HTTP_ONLINE_POINTS && np >= SF_HTTP_ONLINE_POINTS / 2);
    assert_true(cJSON_GetObjectItem(v3, "thinned")->valueint >= 1);
    assert_true(num_at(pts, 0, 0) == 100000);
    assert_true(num_at(pts, np - 1, 0) == 100000 + (double)(long_n - 1) * 1000);
    assert_true(fabs(num_at(pts, np - 1, 1) - (1.0 + (long_n - 1) * 1e-4)) < 1e-9);
    for (int i = 1; i < np; i++)
        assert_true(num_at(pts, i, 0) > num_at(pts, i - 1, 0));
    cJSON_Delete(j);

    /* at most SF_HTTP_ONLINE_VERSIONS versions: the lowest go first */
    for (int v = 100; v < 100 + SF_HTTP_ONLINE_VERSIONS; v++)
        feed_ok(v, 5000, "1.0", "0.5", 3);
    feed_ok(50, 5000, "1.0", "0.5", 3); /* lower than all kept: not stored */
    j = get_online();
    vs = cJSON_GetObjectItem(j, "versions");
    assert_int_equal(cJSON_GetArraySize(vs), SF_HTTP_ONLINE_VERSIONS);
    assert_null(version_of(j, 1));
    assert_null(version_of(j, 3));
    assert_null(version_of(j, 50));
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(vs, 0), "model_version")->valueint,
                     100);
    assert_int_equal(cJSON_GetObjectItem(j, "bad_messages")->valueint, (int)n_bad);
    cJSON_Delete(j);

    char *b;
    expect(req("POST", "/v1/online", NULL, NULL, &b), &b, 405, "use GET");
    assert_int_equal(req("GET", "/metrics", NULL, NULL, &b), 200);
    char line[96];
    snprintf(line, sizeof line, "satisfy_http_online_bad_messages_total %zu\n", n_bad);
    if (!strstr(b, line))
        fail_msg("no '%s' in /metrics", line);
    free(b);
}

/* ------------------------------------------------- gate decisions */

/* A decision message of version v as the retrainer writes it, with the
 * candidate's holdout RMSE. */
static char *decision_json_rmse(int64_t v, bool released, const char *reason, double rmse)
{
    sf_decision d;
    memset(&d, 0, sizeof d);
    d.version = v;
    d.run_id = v;
    d.released = released;
    snprintf(d.reason, sizeof d.reason, "%s", reason);
    snprintf(d.candidate.name, sizeof d.candidate.name, "gbdt");
    snprintf(d.candidate.algorithm, sizeof d.candidate.algorithm, "gbdt");
    snprintf(d.candidate.features, sizeof d.candidate.features, "full");
    d.reference = d.candidate;
    snprintf(d.reference.name, sizeof d.reference.name, "champion v%lld", (long long)(v - 1));
    d.reference.version = v - 1;
    d.candidate.rmse = rmse;
    d.reference.rmse = released ? 1.05 : 0.98;
    d.candidate.mae = d.candidate.r2 = d.candidate.auc = d.candidate.pr_auc = NAN;
    d.reference.mae = d.reference.r2 = d.reference.auc = d.reference.pr_auc = NAN;
    d.gain = d.reference.rmse - d.candidate.rmse;
    d.margin = 0.005;
    d.boot_lower = d.boot_upper = NAN;
    d.train_rows = 800;
    d.train_orders = 300;
    d.holdout_rows = 200;
    d.holdout_orders = 80;
    d.train_from = 1500000000000LL;
    d.train_to = 1510000000000LL;
    d.data_until = 1520000000000LL + v;
    d.decided_at = 1700000000000LL;
    sf_err err;
    char *js = sf_decision_json(&d, &err);
    assert_non_null(js);
    return js;
}

static char *decision_json(int64_t v, bool released, const char *reason)
{
    return decision_json_rmse(v, released, reason, 1.0);
}

static int feed_metrics(const char *schema, const char *key, const char *json, sf_err *err)
{
    return sf_http_metrics_feed(g_http, schema, key, key ? strlen(key) : 0, json, strlen(json),
                                "satisfy.metrics [1] @2", err);
}

static void feed_decision_rmse(int64_t v, bool released, const char *reason, double rmse)
{
    char *js = decision_json_rmse(v, released, reason, rmse);
    char key[40];
    sf_decision_key(v, key, sizeof key);
    sf_err err = {{0}};
    if (feed_metrics(SF_DECISION_SCHEMA, key, js, &err) != 0)
        fail_msg("feeding %s: %s", js, err.msg);
    free(js);
}

static void feed_decision(int64_t v, bool released, const char *reason)
{
    feed_decision_rmse(v, released, reason, 1.0);
}

/* The decisions array of a GET (path /v1/online or /v1/models). */
static cJSON *get_decisions(const char *path, cJSON **root)
{
    char *b;
    assert_int_equal(req("GET", path, NULL, NULL, &b), 200);
    *root = cJSON_Parse(b);
    free(b);
    assert_non_null(*root);
    cJSON *ds = cJSON_GetObjectItem(*root, "decisions");
    assert_true(cJSON_IsArray(ds));
    return ds;
}

static int64_t jint(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    assert_true(cJSON_IsNumber(v));
    return (int64_t)v->valuedouble;
}

static void test_decisions(void **state)
{
    (void)state;
    cJSON *root;
    cJSON *ds = get_decisions("/v1/online", &root);
    assert_int_equal(cJSON_GetArraySize(ds), 0);
    int64_t msgs0 = jint(root, "messages"), bad0 = jint(root, "bad_messages");
    assert_int_equal(jint(root, "max_decisions"), SF_HTTP_DECISIONS);
    cJSON_Delete(root);

    /* a release and a rejection, by header; one without header, by key */
    feed_decision(2, false, "rejected (gain below margin): RMSE 1.0000 vs champion v1 0.9800");
    feed_decision(1, true, "released (both tests pass): RMSE 1.0000 vs mean 1.0500");
    char *js = decision_json(3, true, "released (both tests pass): v3");
    sf_err err = {{0}};
    assert_int_equal(feed_metrics(NULL, "decision-3", js, &err), 0);
    free(js);

    /* bad ones: counted with their reason, nothing stored */
    static const struct {
        const char *schema, *key, *json, *want;
    } bad[] = {
        /* a decision under the accuracy schema is read as accuracy */
        {"satisfy.v1.OnlineAccuracy+json", "decision-4", NULL, "model_version: missing"},
        /* accuracy under the decision schema */
        {SF_DECISION_SCHEMA, "4",
         "{\"model_version\":4,\"n\":1,\"rmse\":1,\"auc\":null,\"event_time\":5}",
         "decision: version: missing"},
        {SF_DECISION_SCHEMA, "decision-4", "{\"version\":4}", "decision: released: missing"},
        {SF_DECISION_SCHEMA, "decision-9", NULL, "decision: key 'decision-9' is not decision-4"},
        {NULL, "decision-4", "not json", "decision: not JSON"},
    };
    size_t n_bad = sizeof bad / sizeof bad[0];
    for (size_t i = 0; i < n_bad; i++) {
        char *good = decision_json(4, true, "released (x)");
        err.msg[0] = '\0';
        assert_int_equal(
            feed_metrics(bad[i].schema, bad[i].key, bad[i].json ? bad[i].json : good, &err), -1);
        free(good);
        if (!strstr(err.msg, bad[i].want) || !strstr(err.msg, "satisfy.metrics [1] @2"))
            fail_msg("bad decision %zu: '%s', want '%s'", i, err.msg, bad[i].want);
    }

    ds = get_decisions("/v1/online", &root);
    assert_int_equal(jint(root, "messages") - msgs0, 3 + (int64_t)n_bad);
    assert_int_equal(jint(root, "bad_messages") - bad0, (int64_t)n_bad);
    assert_string_equal(cJSON_GetObjectItem(root, "last_bad")->valuestring,
                        "satisfy.metrics [1] @2: decision: not JSON");
    assert_int_equal(cJSON_GetArraySize(ds), 3);
    for (int i = 0; i < 3; i++) /* in version order */
        assert_int_equal(jint(cJSON_GetArrayItem(ds, i), "version"), i + 1);
    cJSON *d2 = cJSON_GetArrayItem(ds, 1);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d2, "released")));
    assert_string_equal(cJSON_GetObjectItem(d2, "reason")->valuestring,
                        "rejected (gain below margin): RMSE 1.0000 vs champion v1 0.9800");
    cJSON *ref = cJSON_GetObjectItem(d2, "reference");
    assert_string_equal(cJSON_GetObjectItem(ref, "name")->valuestring, "champion v1");
    assert_true(cJSON_GetObjectItem(ref, "rmse")->valuedouble == 0.98);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(d2, "candidate"), "rmse")->valuedouble ==
                1.0);
    assert_int_equal(jint(d2, "data_until"), 1520000000002LL);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(ds, 0), "released")));
    cJSON_Delete(root);

    /* the same version again (a replay): replaced, not added */
    feed_decision(2, false, "rejected (replayed)");
    ds = get_decisions("/v1/models", &root); /* /v1/models lists the same */
    assert_int_equal(cJSON_GetArraySize(ds), 3);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ds, 1), "reason")->valuestring,
                        "rejected (replayed)");
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(root, "timeline")));
    cJSON_Delete(root);

    /* bounded: SF_HTTP_DECISIONS versions, the lowest dropped first */
    for (int64_t v = 1000 + SF_HTTP_DECISIONS; v > 1000; v--) /* newest first: inserts */
        feed_decision(v, v % 3 == 0, "rejected (bulk)");
    feed_decision(1000, true, "released (older than all kept)");
    ds = get_decisions("/v1/online", &root);
    assert_int_equal(cJSON_GetArraySize(ds), SF_HTTP_DECISIONS);
    assert_int_equal(jint(cJSON_GetArrayItem(ds, 0), "version"), 1001);
    assert_int_equal(jint(cJSON_GetArrayItem(ds, SF_HTTP_DECISIONS - 1), "version"),
                     1000 + SF_HTTP_DECISIONS);
    for (int i = 1; i < SF_HTTP_DECISIONS; i++)
        assert_int_equal(jint(cJSON_GetArrayItem(ds, i), "version"),
                         jint(cJSON_GetArrayItem(ds, i - 1), "version") + 1);
    assert_int_equal(jint(root, "decision_messages"), 3 + 1 + SF_HTTP_DECISIONS + 1);
    cJSON_Delete(root);
    feed_decision(5000, false, "rejected (newest)"); /* full: the lowest (1001) goes */
    ds = get_decisions("/v1/models", &root);
    assert_int_equal(cJSON_GetArraySize(ds), SF_HTTP_DECISIONS);
    assert_int_equal(jint(cJSON_GetArrayItem(ds, 0), "version"), 1002);
    assert_int_equal(jint(cJSON_GetArrayItem(ds, SF_HTTP_DECISIONS - 1), "version"), 5000);
    cJSON_Delete(root);
}

/* ------------------------------------------------ shadow challengers */

/* A challenge message as the retrainer's live judge publishes it. */
static char *challenge_json(int64_t challenger, const char *status, int64_t started, int64_t orders)
{
    char *s = NULL;
    int n =
        asprintf(&s,
                 "{\"challenger\":%lld,\"champion\":%lld,\"status\":\"%s\",\"reason\":\"judge %s\","
                 "\"orders\":%lld,\"min_orders\":300,\"max_orders\":3000,\"confidence\":0.95,"
                 "\"rmse_champion\":1.31,\"rmse_challenger\":1.22,\"rmse_champion_ci\":[1.25,1.37],"
                 "\"rmse_challenger_ci\":[1.16,1.28],\"gain\":0.09,\"diff_mean\":0.2,\"lower\":0.1,"
                 "\"upper\":null,\"resamples\":1000,\"started_at\":%lld,\"decided_at\":0,"
                 "\"event_time\":null,\"at\":%lld}",
                 (long long)challenger, (long long)challenger - 1, status, status,
                 (long long)orders, (long long)started, (long long)started + 5);
    assert_true(n > 0);
    return s;
}

static void feed_challenge(const char *schema, int64_t v, const char *status, int64_t started,
                           int64_t orders)
{
    char *js = challenge_json(v, status, started, orders), key[40];
    snprintf(key, sizeof key, "challenge-%lld", (long long)v);
    sf_err err = {{0}};
    if (feed_metrics(schema, key, js, &err) != 0)
        fail_msg("feeding %s: %s", js, err.msg);
    free(js);
}

static cJSON *get_challenge(void)
{
    char *b;
    assert_int_equal(req("GET", "/v1/challenge", NULL, NULL, &b), 200);
    cJSON *root = cJSON_Parse(b);
    free(b);
    assert_non_null(root);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(root, "history")));
    return root;
}

/* GET /v1/challenge: the newest message per challenger, the current one by
 * started_at and the older ones newest first (at most 10); bad messages
 * (not JSON, wrong key, wrong status or types) counted and ignored, and
 * never read as online accuracy or decisions; read-only. */
static void test_challenge(void **state)
{
    (void)state;
    cJSON *root = get_challenge();
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(root, "current")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "history")), 0);
    assert_int_equal(jint(root, "messages"), 0);
    cJSON_Delete(root);
    char *b;
    assert_int_equal(req("GET", "/v1/online", NULL, NULL, &b), 200);
    cJSON *on = cJSON_Parse(b);
    free(b);
    int64_t on_msgs = jint(on, "messages");
    cJSON_Delete(on);

    /* v2 retired earlier; v3 running, fed twice (the newer replaces); one by key alone */
    feed_challenge(SF_CHALLENGE_SCHEMA, 2, "retired", 1000, 3000);
    feed_challenge(SF_CHALLENGE_SCHEMA, 3, "running", 2000, 100);
    feed_challenge(NULL, 3, "running", 2000, 412);
    static const struct {
        const char *schema, *key, *json, *want;
    } bad[] = {
        {SF_CHALLENGE_SCHEMA, "challenge-3", "not json", "challenge: not JSON"},
        {SF_CHALLENGE_SCHEMA, "challenge-4", NULL,
         "challenge: key 'challenge-4' is not "
         "challenge-3"},
        {NULL, "challenge-x", NULL, "key 'challenge-x' is not challenge-3"},
        {SF_CHALLENGE_SCHEMA, NULL,
         "{\"challenger\":3,\"champion\":2,\"started_at\":1,"
         "\"status\":\"won\"}",
         "challenge: status: expected running, promoted or retired"},
        {SF_CHALLENGE_SCHEMA, NULL,
         "{\"challenger\":0,\"champion\":2,\"started_at\":1,"
         "\"status\":\"running\"}",
         "challenge: challenger"},
        {SF_CHALLENGE_SCHEMA, NULL,
         "{\"challenger\":3,\"champion\":2,\"started_at\":1,"
         "\"status\":\"running\",\"orders\":\"many\"}",
         "challenge: orders: expected a number or null"},
        {SF_CHALLENGE_SCHEMA, NULL,
         "{\"challenger\":3,\"champion\":2,\"started_at\":1,"
         "\"status\":\"running\",\"rmse_champion_ci\":[1]}",
         "challenge: rmse_champion_ci: expected [lower, upper]"},
    };
    size_t n_bad = sizeof bad / sizeof bad[0];
    for (size_t i = 0; i < n_bad; i++) {
        char *good = challenge_json(3, "running", 2000, 999);
        sf_err err = {{0}};
        assert_int_equal(
            feed_metrics(bad[i].schema, bad[i].key, bad[i].json ? bad[i].json : good, &err), -1);
        free(good);
        if (!strstr(err.msg, bad[i].want) || !strstr(err.msg, "satisfy.metrics [1] @2"))
            fail_msg("bad challenge %zu: '%s', want '%s'", i, err.msg, bad[i].want);
    }
    root = get_challenge();
    cJSON *cur = cJSON_GetObjectItem(root, "current"), *hist = cJSON_GetObjectItem(root, "history");
    assert_int_equal(jint(cur, "challenger"), 3);
    assert_int_equal(jint(cur, "orders"), 412); /* the newest message, not a bad one */
    assert_string_equal(cJSON_GetObjectItem(cur, "status")->valuestring, "running");
    assert_true(
        cJSON_GetArrayItem(cJSON_GetObjectItem(cur, "rmse_challenger_ci"), 1)->valuedouble == 1.28);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cur, "upper")));
    assert_int_equal(cJSON_GetArraySize(hist), 1);
    assert_int_equal(jint(cJSON_GetArrayItem(hist, 0), "challenger"), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(hist, 0), "reason")->valuestring,
                        "judge retired");
    assert_int_equal(jint(root, "messages"), 3 + (int64_t)n_bad);
    assert_int_equal(jint(root, "bad_messages"), (int64_t)n_bad);
    assert_non_null(strstr(cJSON_GetObjectItem(root, "last_bad")->valuestring,
                           "satisfy.metrics [1] @2: challenge: "));
    cJSON_Delete(root);
    /* none of them reached the online accuracy or the decisions */
    assert_int_equal(req("GET", "/v1/online", NULL, NULL, &b), 200);
    on = cJSON_Parse(b);
    free(b);
    assert_int_equal(jint(on, "messages"), on_msgs);
    cJSON_Delete(on);

    /* v3 promoted; more challengers than kept: the first started go, at most 10 listed */
    feed_challenge(SF_CHALLENGE_SCHEMA, 3, "promoted", 2000, 800);
    for (int64_t v = 10; v < 10 + SF_HTTP_CHALLENGES; v++)
        feed_challenge(SF_CHALLENGE_SCHEMA, v, "retired", 3000 + v, 3000);
    feed_challenge(SF_CHALLENGE_SCHEMA, 4, "retired", 1500, 3000); /* older than all kept */
    root = get_challenge();
    cur = cJSON_GetObjectItem(root, "current");
    hist = cJSON_GetObjectItem(root, "history");
    assert_int_equal(jint(cur, "challenger"), 10 + SF_HTTP_CHALLENGES - 1);
    assert_int_equal(cJSON_GetArraySize(hist), SF_HTTP_CHALLENGE_HISTORY);
    for (int i = 0; i < SF_HTTP_CHALLENGE_HISTORY; i++)
        assert_int_equal(jint(cJSON_GetArrayItem(hist, i), "challenger"),
                         10 + SF_HTTP_CHALLENGES - 2 - i);
    cJSON_Delete(root);
    /* a newer start for an old version is the current one again */
    feed_challenge(NULL, 2, "running", 9000, 5);
    root = get_challenge();
    assert_int_equal(jint(cJSON_GetObjectItem(root, "current"), "challenger"), 2);
    cJSON_Delete(root);

    expect(req("POST", "/v1/challenge", "application/json", "{}", &b), &b, 405, "read-only");
}

/* The retrainer's own messages (challenge.h's sf_challenge_json, as
 * publish_challenge sends them): the state before any order (numbers null)
 * and after a judged run of orders where the challenger errs less are read
 * as they were written. */
static void test_challenge_judge(void **state)
{
    (void)state;
    sf_challenge_opts o;
    sf_challenge_opts_default(&o);
    o.min_orders = 50;
    o.max_orders = 1000;
    o.gate.resamples = 200;
    sf_challenge c;
    sf_err err = {{0}};
    int64_t started = 4000000000000LL; /* after every start of test_challenge */
    assert_int_equal(sf_challenge_init(&c, 77, 76, started, &o, &err), 0);
    char key[40];
    snprintf(key, sizeof key, "%s77", SF_CHALLENGE_KEY_PREFIX);
    char *js = sf_challenge_json(&c, NULL, 0, started);
    assert_non_null(js);
    if (feed_metrics(SF_CHALLENGE_SCHEMA, key, js, &err) != 0)
        fail_msg("the state before any order: %s: %s", err.msg, js);
    free(js);
    cJSON *root = get_challenge();
    cJSON *cur = cJSON_GetObjectItem(root, "current");
    assert_int_equal(jint(cur, "challenger"), 77);
    assert_int_equal(jint(cur, "orders"), 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cur, "rmse_challenger_ci")));
    cJSON_Delete(root);

    for (int i = 0; i < 200; i++) { /* the champion is off by 1, the challenger by 0.25 */
        double label = 1 + i % 5;
        assert_int_equal(sf_challenge_add(&c, label, label < 3 ? label + 1 : label - 1,
                                          label < 3 ? label + 0.25 : label - 0.25,
                                          1529471016000LL + i, &err),
                         0);
    }
    assert_true(sf_challenge_judge(&c, true, &err) >= 0);
    js = sf_challenge_json(&c, NULL, started + 10, started + 10);
    assert_non_null(js);
    if (feed_metrics(SF_CHALLENGE_SCHEMA, key, js, &err) != 0)
        fail_msg("the judged state: %s: %s", err.msg, js);
    free(js);
    root = get_challenge();
    cur = cJSON_GetObjectItem(root, "current");
    assert_int_equal(jint(cur, "challenger"), 77);
    assert_int_equal(jint(cur, "champion"), 76);
    assert_int_equal(jint(cur, "orders"), 200);
    assert_int_equal(jint(cur, "event_time"), 1529471016199LL);
    assert_true(fabs(cJSON_GetObjectItem(cur, "rmse_champion")->valuedouble - 1.0) < 1e-9);
    assert_true(fabs(cJSON_GetObjectItem(cur, "rmse_challenger")->valuedouble - 0.25) < 1e-9);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cur, "rmse_challenger_ci")), 2);
    assert_true(cJSON_GetObjectItem(cur, "lower")->valuedouble > 0);
    const char *status = cJSON_GetObjectItem(cur, "status")->valuestring;
    assert_string_equal(status, c.verdict == SF_CHALLENGE_PROMOTE ? "promoted" : "running");
    cJSON_Delete(root);
    sf_challenge_free(&c);
}

/* ------------------------------------------- online accuracy in /metrics */

/* The value of the sample `series` (name{labels}) in a /metrics body: 1 and
 * *v when found once, 0 when absent; fails when it is there twice. */
static int prom_sample(const char *body, const char *series, double *v)
{
    int found = 0;
    size_t n = strlen(series);
    for (const char *l = body; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
        if (strncmp(l, series, n) != 0 || l[n] != ' ')
            continue;
        if (found++)
            fail_msg("'%s' twice in /metrics", series);
        char *end;
        *v = strtod(l + n + 1, &end);
        if (end == l + n + 1 || *end != '\n')
            fail_msg("'%s': bad value line '%.60s'", series, l);
    }
    return found;
}

/* Lines of /metrics that start with name{ (the samples of one family). */
static int prom_count(const char *body, const char *name)
{
    int k = 0;
    size_t n = strlen(name);
    for (const char *l = body; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
        if (strncmp(l, name, n) == 0 && l[n] == '{')
            k++;
    return k;
}

static void want_sample(const char *body, const char *name, int64_t v, double want)
{
    char series[128];
    snprintf(series, sizeof series, "%s{model_version=\"%lld\"}", name, (long long)v);
    double got;
    if (!prom_sample(body, series, &got))
        fail_msg("no '%s' in /metrics", series);
    if (got != want)
        fail_msg("%s = %.17g, want %.17g", series, got, want);
}

static void want_no_sample(const char *body, const char *name, int64_t v)
{
    char series[128];
    snprintf(series, sizeof series, "%s{model_version=\"%lld\"}", name, (long long)v);
    double got;
    if (prom_sample(body, series, &got))
        fail_msg("'%s' in /metrics (%g), want none", series, got);
}

static void test_metrics_online(void **state)
{
    (void)state;
    /* versions above every one the tests before kept, so they stay */
    feed_ok(9001, 1000, "1.1", "0.7", 10);
    feed_ok(9001, 3000, "1.25", "0.66", 600);
    feed_ok(9001, 2000, "0.9", "0.8", 400); /* older event time: not the newest point */
    feed_ok(9002, 1000, "0.95", "null", 7); /* one class so far: no AUC */
    feed_ok(9003, 1000, "null", "null", 0); /* no pair yet: pairs only */
    feed_decision_rmse(9001, true, "released (both tests pass)", 1.125);
    feed_decision_rmse(9002, false, "rejected (gain below margin)", 0.875);
    feed_decision_rmse(9004, true, "released (both tests pass)", 0.5);
    feed_decision_rmse(9004, true, "released (replayed)", 0.75); /* replaces */

    char *b;
    assert_int_equal(req("GET", "/metrics", NULL, NULL, &b), 200);
    static const char *const fam[] = {"satisfy_online_rmse", "satisfy_online_auc",
                                      "satisfy_online_pairs", "satisfy_model_holdout_rmse"};
    for (int i = 0; i < 4; i++) {
        char line[160];
        snprintf(line, sizeof line, "\n# HELP %s ", fam[i]);
        if (!strstr(b, line))
            fail_msg("no HELP line for %s", fam[i]);
        snprintf(line, sizeof line, "\n# TYPE %s gauge\n", fam[i]);
        if (!strstr(b, line))
            fail_msg("no '# TYPE %s gauge'", fam[i]);
    }
    want_sample(b, "satisfy_online_rmse", 9001, 1.25);
    want_sample(b, "satisfy_online_auc", 9001, 0.66);
    want_sample(b, "satisfy_online_pairs", 9001, 600);
    want_sample(b, "satisfy_online_rmse", 9002, 0.95);
    want_no_sample(b, "satisfy_online_auc", 9002);
    want_sample(b, "satisfy_online_pairs", 9002, 7);
    want_no_sample(b, "satisfy_online_rmse", 9003);
    want_no_sample(b, "satisfy_online_auc", 9003);
    want_sample(b, "satisfy_online_pairs", 9003, 0);
    want_sample(b, "satisfy_model_holdout_rmse", 9001, 1.125);
    want_no_sample(b, "satisfy_model_holdout_rmse", 9002); /* rejected */
    want_sample(b, "satisfy_model_holdout_rmse", 9004, 0.75);
    want_no_sample(b, "satisfy_online_rmse", 9004); /* no online accuracy yet */
    assert_null(strstr(b, "NaN"));

    /* every series and released decision /v1/online keeps, and nothing else */
    cJSON *j = get_online();
    int n_rmse = 0, n_auc = 0, n_pairs = 0, n_hold = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "versions"))
    {
        int64_t v = jint(e, "model_version");
        cJSON *pts = cJSON_GetObjectItem(e, "points");
        cJSON *last = cJSON_GetArrayItem(pts, cJSON_GetArraySize(pts) - 1);
        cJSON *rmse = cJSON_GetArrayItem(last, 1), *auc = cJSON_GetArrayItem(last, 2);
        if (cJSON_IsNumber(rmse)) {
            want_sample(b, "satisfy_online_rmse", v, rmse->valuedouble);
            n_rmse++;
        }
        if (cJSON_IsNumber(auc)) {
            want_sample(b, "satisfy_online_auc", v, auc->valuedouble);
            n_auc++;
        }
        want_sample(b, "satisfy_online_pairs", v, cJSON_GetArrayItem(last, 3)->valuedouble);
        n_pairs++;
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "decisions"))
    {
        if (!cJSON_IsTrue(cJSON_GetObjectItem(e, "released")))
            continue;
        want_sample(b, "satisfy_model_holdout_rmse", jint(e, "version"),
                    cJSON_GetObjectItem(cJSON_GetObjectItem(e, "candidate"), "rmse")->valuedouble);
        n_hold++;
    }
    cJSON_Delete(j);
    assert_int_equal(n_pairs, SF_HTTP_ONLINE_VERSIONS);
    assert_int_equal(prom_count(b, "satisfy_online_rmse"), n_rmse);
    assert_int_equal(prom_count(b, "satisfy_online_auc"), n_auc);
    assert_int_equal(prom_count(b, "satisfy_online_pairs"), n_pairs);
    assert_int_equal(prom_count(b, "satisfy_model_holdout_rmse"), n_hold);
    assert_true(n_hold > 2);
    /* the metrics that were there before are still there */
    assert_non_null(strstr(b, "\nsatisfy_http_online_messages_total "));
    assert_non_null(strstr(b, "\nsatisfy_scorer_model_version 7\n"));
    free(b);
}

/* GET /v1/alerts: the committed alert with its risk and threshold; ?n=
 * checked; GET only. */
static void test_alerts_endpoint(void **state)
{
    (void)state;
    char *b;
    expect(req("GET", "/v1/alerts", NULL, NULL, &b), &b, 200,
           "\"order_id\":\"abcdefabcdefabcdefabcdefabcdefab\"");
    assert_int_equal(req("GET", "/v1/alerts?n=1", NULL, NULL, &b), 200);
    assert_non_null(strstr(b, "{\"threshold\":0.5,\"emitted\":1,"));
    assert_non_null(strstr(b, "\"risk\":0.7"));
    free(b);
    expect(req("GET", "/v1/alerts?n=0", NULL, NULL, &b), &b, 400, "n must be an integer in 1..50");
    expect(req("POST", "/v1/alerts", NULL, NULL, &b), &b, 405, "use GET");
}

static void test_metrics_promtool(void **state)
{
    (void)state;
    char *b;
    int st = req("GET", "/metrics", NULL, NULL, &b);
    assert_int_equal(st, 200);
    assert_non_null(strstr(b, "satisfy_scorer_alerts_total 1\n"));
    assert_non_null(strstr(b, "satisfy_scorer_alert_threshold 0.5\n"));
    assert_non_null(strstr(b, "satisfy_http_model_info{version=\"7\",algorithm=\"gbdt\""));
    assert_non_null(strstr(b, "satisfy_scorer_process_latency_seconds_bucket{le=\"+Inf\"} 1"));
    assert_non_null(strstr(b, "satisfy_scorer_consumer_lag 12"));
    assert_non_null(strstr(b, "satisfy_http_requests_total{class=\"2xx\"}"));
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.txt", g_dir);
    FILE *f = fopen(path, "w");
    fputs(b, f);
    fclose(f);
    free(b);
    assert_int_equal(system("command -v promtool >/dev/null"), 0); /* scripts/install-deps.sh */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    assert_int_equal(system(cmd), 0);
    /* and a broken exposition fails it (the check can fail) */
    f = fopen(path, "w");
    fputs("# TYPE x counter\nx{ 1\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s >/dev/null 2>&1", path);
    assert_int_not_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probes_and_static),
        cmocka_unit_test(test_no_model),
        cmocka_unit_test(test_predict),
        cmocka_unit_test(test_predict_errors),
        cmocka_unit_test(test_huge_bodies),
        cmocka_unit_test(test_slow_clients),
        cmocka_unit_test(test_invocations_formats),
        cmocka_unit_test(test_invocations_errors),
        cmocka_unit_test(test_json_views),
        cmocka_unit_test(test_online),
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_alerts_endpoint),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_challenge_judge), /* after test_challenge: its start is newer */
        cmocka_unit_test(test_metrics_online),  /* before promtool: it checks these too */
        cmocka_unit_test(test_metrics_promtool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
