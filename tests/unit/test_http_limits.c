/*
 * test_http_limits.c - the HTTP server (lib/http/http.c) against hostile and
 * careless clients, in-process over loopback: clients that trickle their
 * request head a byte at a time (slowloris), floods of silent connections
 * from one and from several source addresses (127.0.0.x), hundreds of idle
 * keep-alive connections; each time a normal client and the health check
 * must still be answered. Every flood is bounded in count and time. Then
 * HEAD, and request framing it must refuse (two Content-Length headers).
 * No model is loaded: /healthz answers without one.
 */
#include "http_client.h"
#include "testutil.h"

#include <sys/resource.h>

#include "satisfy/http.h"

static sf_stats *g_stats;

static const unsigned char PAGE[] = "<!doctype html><title>t</title>";
static const struct sf_embedded_file WEB[] = {{"index.html", PAGE, sizeof PAGE - 1},
                                              {NULL, NULL, 0}};

static sf_http *start(int header_ms, int idle_s)
{
    sf_err err = {{0}};
    sf_http_opts o = {.addr = "127.0.0.1:0",
                      .stats = g_stats,
                      .web = WEB,
                      .idle_s = idle_s,
                      .request_ms = 1500,
                      .header_ms = header_ms,
                      .version = "satisfy test"};
    sf_http *h = sf_http_start(&o, &err);
    if (!h)
        fail_msg("sf_http_start: %s", err.msg);
    g_port = sf_http_port(h);
    return h;
}

static int setup(void **state)
{
    (void)state;
    /* a flood holds both ends of every connection in this process */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    g_stats = sf_stats_new();
    return g_stats ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sf_stats_free(g_stats);
    return 0;
}

/* Asserts /metrics has line (its connection lines are shown when not). */
static void expect_metric(const char *line)
{
    char *b;
    assert_int_equal(req("GET", "/metrics", NULL, NULL, &b), 200);
    if (!strstr(b, line)) {
        const char *c = strstr(b, "satisfy_http_connections ");
        fail_msg("no '%s' in /metrics:\n%.900s", line, c ? c : b);
    }
    free(b);
}

/* GET /healthz from src until answered 200, for at most limit_s; the
 * seconds it took, or -1. A refused or dropped connection is retried. */
static double healthz_within(const char *src, double limit_s)
{
    double t0 = mono();
    int saved = g_recv_s;
    g_recv_s = 1;
    double took = -1;
    while (mono() - t0 < limit_s) {
        int fd = try_dial_from(src, g_port);
        if (fd < 0)
            continue;
        send_req(fd, "GET", "/healthz", NULL, NULL, 0);
        char *b;
        int st = read_reply(fd, &b);
        free(b);
        if (st == 200) {
            took = mono() - t0;
            break;
        }
    }
    g_recv_s = saved;
    return took;
}

/* n connections from src that send nothing (0 sends the start of a head). */
static void open_silent(int *fds, int n, const char *src)
{
    for (int i = 0; i < n; i++) {
        fds[i] = try_dial_from(src, g_port);
        assert_true(fds[i] >= 0);
    }
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* Trickles one header byte per 200 ms on every open fd until the server has
 * closed them all or limit_s passed; returns how many it closed, and when
 * the first was closed in *first. */
static int trickle_until_closed(int *fds, int n, double limit_s, double *first)
{
    *first = 0;
    double end = mono() + limit_s, next = 0;
    int open_n = n;
    struct pollfd p[64];
    assert_true(n <= 64);
    while (open_n > 0 && mono() < end) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (fds[i] >= 0)
                p[k++] = (struct pollfd){fds[i], POLLIN, 0};
        if (poll(p, (nfds_t)k, 50) > 0) {
            for (int j = 0; j < k; j++) {
                if (!(p[j].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                char c[256];
                ssize_t r = recv(p[j].fd, c, sizeof c, MSG_DONTWAIT);
                if (r > 0)
                    continue; /* a 408: read on until the close */
                if (!*first)
                    *first = mono();
                for (int i = 0; i < n; i++)
                    if (fds[i] == p[j].fd) {
                        close(fds[i]);
                        fds[i] = -1;
                        open_n--;
                    }
            }
        }
        if (mono() >= next) {
            for (int i = 0; i < n; i++)
                if (fds[i] >= 0)
                    send(fds[i], "a", 1, MSG_NOSIGNAL);
            next = mono() + 0.2;
        }
    }
    return n - open_n;
}

/* Clients sending their request head a byte at a time are cut at the head
 * deadline (counted from accept: the bytes keep the idle timeout from ever
 * firing), and a normal client is answered while they are open. */
static void test_slow_headers(void **state)
{
    (void)state;
    sf_http *h = start(3000, 10);
    enum { N = 20 };
    int fds[N];
    double t0 = mono();
    open_silent(fds, N, NULL);
    const char *start_head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for (int i = 0; i < N; i++)
        send_all(fds[i], start_head, strlen(start_head));
    double took = healthz_within(NULL, 2.0);
    if (took < 0)
        fail_msg("/healthz not answered within 2 s while %d clients trickle their heads", N);
    double first;
    int cut = trickle_until_closed(fds, N, 7.0, &first);
    double elapsed = mono() - t0;
    close_all(fds, N);
    expect_metric("satisfy_http_connections_closed_total{reason=\"head_timeout\"} 20\n");
    sf_http_stop(h);
    if (cut != N)
        fail_msg("%d of %d slow-header clients cut after %.1f s (head deadline 3 s)", cut, N,
                 elapsed);
    if (first - t0 < 2.9)
        fail_msg("a client cut %.2f s after accept, before the 3 s head deadline", first - t0);
}

/* A kept-alive connection that trickles its next request head is cut idle_s
 * after its previous answer. */
static void test_slow_keepalive_head(void **state)
{
    (void)state;
    sf_http *h = start(1500, 2);
    int fd = dial(g_port);
    send_req(fd, "GET", "/healthz", NULL, NULL, 1);
    char buf[512];
    ssize_t k = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(k > 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0);
    double t0 = mono(), first;
    const char *head = "GET /healthz HTTP/1.1\r\nX-Slow: ";
    send_all(fd, head, strlen(head));
    int cut = trickle_until_closed(&fd, 1, 5.0, &first);
    close_all(&fd, 1);
    sf_http_stop(h);
    if (cut != 1)
        fail_msg("a kept-alive connection trickling its head still open after 5 s (idle 2 s)");
    if (first - t0 < 1.9)
        fail_msg("cut %.2f s after its answer, before the 2 s keep-alive limit", first - t0);
}

/* 64 silent connections from one address: that address is still served
 * (its oldest idle connections make room), long before any deadline. */
static void test_one_address_flood(void **state)
{
    (void)state;
    sf_http *h = start(20000, 10);
    enum { N = 64 };
    int fds[N];
    open_silent(fds, N, "127.0.0.2");
    double took = healthz_within("127.0.0.2", 5.0);
    close_all(fds, N);
    sf_http_stop(h);
    if (took < 0)
        fail_msg("127.0.0.2 locked out by %d of its own silent connections", N);
}

/* 64 silent connections from each of four addresses: another address (a
 * health checker) is served at once. */
static void test_four_address_flood(void **state)
{
    (void)state;
    sf_http *h = start(20000, 10);
    enum { PER = 64, ADDRS = 4 };
    int fds[PER * ADDRS];
    char src[32];
    for (int a = 0; a < ADDRS; a++) {
        snprintf(src, sizeof src, "127.0.0.%d", 3 + a);
        open_silent(fds + a * PER, PER, src);
    }
    double took = healthz_within("127.0.0.9", 5.0);
    double took_flooder = healthz_within("127.0.0.3", 5.0);
    close_all(fds, PER * ADDRS);
    sf_http_stop(h);
    if (took < 0)
        fail_msg("health check locked out by %d silent connections from %d addresses", PER * ADDRS,
                 ADDRS);
    if (took_flooder < 0)
        fail_msg("a flooding address is locked out for good");
}

/* Sends GET /healthz (keep-alive) on each fd, then waits (at most limit_s)
 * for the replies; how many were 200. A reply comes in one segment. */
static int keepalive_round(const int *fds, int n, double limit_s)
{
    static struct pollfd p[1024];
    assert_true(n <= 1024);
    for (int i = 0; i < n; i++) {
        send_req(fds[i], "GET", "/healthz", NULL, NULL, 1);
        p[i] = (struct pollfd){fds[i], POLLIN, 0};
    }
    int ok = 0, waiting = n;
    double end = mono() + limit_s;
    while (waiting > 0 && mono() < end) {
        if (poll(p, (nfds_t)n, 50) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            char buf[1024];
            ssize_t k = recv(p[i].fd, buf, sizeof buf - 1, MSG_DONTWAIT);
            int st = 0;
            if (k > 0) {
                buf[k] = '\0';
                sscanf(buf, "HTTP/1.%*d %d", &st);
            }
            ok += st == 200;
            p[i].fd = -1;
            waiting--;
        }
    }
    return ok;
}

/* 400 keep-alive clients from ten addresses, each answered once and then
 * idle: a new address is served at once (idle keep-alive connections are
 * closed to make room), and the server did close some of them. */
static void test_keepalive_flood(void **state)
{
    (void)state;
    sf_http *h = start(20000, 10);
    enum { PER = 40, ADDRS = 10, N = PER * ADDRS };
    static int fds[N];
    for (int i = 0; i < N; i++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.1.%d", 1 + i / PER);
        fds[i] = try_dial_from(src, g_port);
        assert_true(fds[i] >= 0);
    }
    int served = keepalive_round(fds, N, 3.0);
    double took = healthz_within("127.0.0.10", 5.0);
    int closed = 0;
    for (int i = 0; i < N; i++) {
        struct pollfd p = {fds[i], POLLIN, 0};
        char c;
        if (poll(&p, 1, 0) > 0 && recv(fds[i], &c, 1, MSG_DONTWAIT) <= 0)
            closed++;
    }
    close_all(fds, N);
    sf_http_stop(h);
    print_message("keep-alive flood: %d of %d served, %d closed by the server, probe %.3f s\n",
                  served, N, closed, took);
    if (took < 0)
        fail_msg("a new address locked out by %d idle keep-alive connections", N);
    assert_true(closed > 0);
}

/* HEAD is GET without the body. */
static void test_head(void **state)
{
    (void)state;
    sf_http *h = start(1500, 10);
    char *b;
    expect(req("HEAD", "/healthz", NULL, NULL, &b), &b, 200, NULL);
    assert_non_null(strcasestr(g_head, "Content-Length: 3"));
    expect(req("HEAD", "/", NULL, NULL, &b), &b, 200, NULL);
    assert_non_null(strstr(g_head, "text/html"));
    assert_int_equal(req("HEAD", "/", NULL, NULL, &b), 200);
    assert_string_equal(b, "");
    free(b);
    expect(req("HEAD", "/nope", NULL, NULL, &b), &b, 404, NULL);
    sf_http_stop(h);
}

/* Request framing the server cannot trust: two Content-Length headers, or
 * one beside Transfer-Encoding (a proxy in front may frame the body the other
 * way). 400, and the connection is closed. */
static void test_ambiguous_length(void **state)
{
    (void)state;
    sf_http *h = start(1500, 10);
    static const char *const bad[] = {
        "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello",
        ("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: "
         "chunked\r\n\r\n0\r\n\r\n"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int fd = dial(g_port);
        send_all(fd, bad[i], strlen(bad[i]));
        char *b;
        int st = read_reply(fd, &b);
        if (st != 400 || !strstr(b, "ambiguous body length"))
            fail_msg("request %zu: got %d '%s', want 400 ambiguous body length", i, st, b);
        free(b);
        assert_non_null(strcasestr(g_head, "Connection: close"));
    }
    char *b;
    expect(req("GET", "/healthz", NULL, NULL, &b), &b, 200, "ok");
    sf_http_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_headers),      cmocka_unit_test(test_slow_keepalive_head),
        cmocka_unit_test(test_one_address_flood), cmocka_unit_test(test_four_address_flood),
        cmocka_unit_test(test_keepalive_flood),   cmocka_unit_test(test_head),
        cmocka_unit_test(test_ambiguous_length),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
