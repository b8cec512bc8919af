/*
 * http_metrics.c - GET /healthz and GET /metrics over libmicrohttpd (see
 * include/satisfy/http_metrics.h). One internal polling thread; every request
 * takes a stats snapshot, so the scoring loop is never blocked for longer than
 * a copy.
 */
#include "satisfy/http_metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sf_http_metrics {
    struct MHD_Daemon *d;
    sf_stats *stats;
    int port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    sf_http_metrics *h = cls;
    if (strcmp(method, "GET") != 0)
        return reply(c, 405, "text/plain", "method not allowed\n", MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/healthz") == 0)
        return reply(c, 200, "text/plain", "ok\n", MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") == 0) {
        sf_stats_snapshot s;
        sf_stats_get(h->stats, &s);
        char *text = sf_stats_prometheus(&s);
        if (!text)
            return reply(c, 500, "text/plain", "out of memory\n", MHD_RESPMEM_PERSISTENT);
        return reply(c, 200, "text/plain; version=0.0.4", text, MHD_RESPMEM_MUST_FREE);
    }
    return reply(c, 404, "text/plain", "not found\n", MHD_RESPMEM_PERSISTENT);
}

sf_http_metrics *sf_http_metrics_start(const char *addr, sf_stats *stats, sf_err *err)
{
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(addr, ':');
    const char *port_s = colon ? colon + 1 : addr;
    if (colon && colon != addr) {
        size_t n = (size_t)(colon - addr);
        if (n >= sizeof host) {
            sf_errf(err, "host part of '%s' is too long", addr);
            return NULL;
        }
        memcpy(host, addr, n);
        host[n] = '\0';
        if (strcmp(host, "localhost") == 0)
            snprintf(host, sizeof host, "127.0.0.1");
    }
    char *end;
    long port = strtol(port_s, &end, 10);
    if (end == port_s || *end || port < 0 || port > 65535) {
        sf_errf(err, "expected host:port, got '%s'", addr);
        return NULL;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        sf_errf(err, "'%s' is not an IPv4 address", host);
        return NULL;
    }
    sf_http_metrics *h = calloc(1, sizeof *h);
    if (!h) {
        sf_errf(err, "out of memory");
        return NULL;
    }
    h->stats = stats;
    h->d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         handler, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin, MHD_OPTION_END);
    if (!h->d) {
        free(h);
        sf_errf(err, "cannot listen on %s:%ld", host, port);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : (int)port;
    return h;
}

int sf_http_metrics_port(const sf_http_metrics *h)
{
    return h->port;
}

void sf_http_metrics_stop(sf_http_metrics *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
