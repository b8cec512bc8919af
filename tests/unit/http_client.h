/*
 * http_client.h - a raw-socket HTTP/1.1 client for the HTTP server's unit
 * tests (test_http.c, test_http_limits.c): no libcurl, so a test can send
 * exactly the bytes it means (half a request, two Content-Length headers, a
 * byte at a time) from any loopback source address. Static functions: each
 * test program includes it once. Requests go to g_port (set by the test).
 */
#ifndef SATISFY_TEST_HTTP_CLIENT_H
#define SATISFY_TEST_HTTP_CLIENT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int g_port;        /* the server requests go to */
static char g_head[8192]; /* the headers of the last reply */
static int g_recv_s = 10; /* receive timeout of a new socket, seconds */

static inline double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connection to port from the loopback address src (NULL: any), or -1
 * when refused. */
static inline int try_dial_from(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {g_recv_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (src) {
        struct sockaddr_in s = {.sin_family = AF_INET};
        assert_int_equal(inet_pton(AF_INET, src, &s.sin_addr), 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&s, sizeof s), 0);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int dial(int port)
{
    int fd = try_dial_from(NULL, port);
    assert_true(fd >= 0);
    return fd;
}

static inline void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return; /* the server may close early (413): the reply tells */
        p += k;
        n -= (size_t)k;
    }
}

/* Splits a reply: the status, g_head its headers, *body its body. */
static inline int split_reply(const char *buf, size_t len, char **body)
{
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    const char *b = strstr(buf, "\r\n\r\n");
    size_t hl = b ? (size_t)(b - buf) : len;
    if (hl >= sizeof g_head)
        hl = sizeof g_head - 1;
    memcpy(g_head, buf, hl);
    g_head[hl] = '\0';
    *body = strdup(b ? b + 4 : "");
    return status;
}

/* Reads until the server closes (or the receive timeout); returns the
 * status (0 when nothing came), *body the body. Closes fd. */
static inline int read_reply(int fd, char **body)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    close(fd);
    int status = split_reply(buf, len, body);
    free(buf);
    return status;
}

/* Sends one request on fd (Connection: close unless keep is set). */
static inline void send_req(int fd, const char *method, const char *path, const char *ctype,
                            const char *body, int keep)
{
    char head[512];
    size_t n = body ? strlen(body) : 0;
    snprintf(head, sizeof head,
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: %s\r\n%s%s%sContent-Length: "
             "%zu\r\n\r\n",
             method, path, keep ? "keep-alive" : "close", ctype ? "Content-Type: " : "",
             ctype ? ctype : "", ctype ? "\r\n" : "", n);
    send_all(fd, head, strlen(head));
    if (n)
        send_all(fd, body, n);
}

static inline int req(const char *method, const char *path, const char *ctype, const char *body,
                      char **out)
{
    int fd = dial(g_port);
    send_req(fd, method, path, ctype, body, 0);
    return read_reply(fd, out);
}

static inline int post_json(const char *path, const char *body, char **out)
{
    return req("POST", path, "application/json", body, out);
}

/* Asserts status and that the body contains want. */
static inline void expect(int status, char **bodyp, int want_status, const char *want)
{
    char *body = *bodyp;
    if (status != want_status || (want && !strstr(body, want)))
        fail_msg("got %d '%s', want %d containing '%s'", status, body, want_status,
                 want ? want : "");
    free(body);
}

/* Waits (at most limit_s) until the server closes fd, reading any reply and,
 * when trickle is set, sending a space every 300 ms; 1 if it closed. */
static inline int closed_by_server(int fd, int trickle, double limit_s)
{
    double end = mono() + limit_s;
    while (mono() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 300) > 0) {
            char c[512];
            ssize_t k = recv(fd, c, sizeof c, MSG_DONTWAIT);
            if (k <= 0)
                return 1;
            continue; /* an error reply: read on until the close */
        }
        if (trickle && send(fd, " ", 1, MSG_NOSIGNAL) < 0)
            return 1;
    }
    return 0;
}

#endif
