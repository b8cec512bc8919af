/*
 * http_guard.c - the connection guard of the HTTP server: the deadlines and
 * limits libmicrohttpd does not enforce by itself.
 *
 * libmicrohttpd calls the request handler only once a request head is
 * complete, and its connection timeout is an idle timeout, reset by every
 * byte. A client sending one header byte per second therefore held its
 * connection forever, and enough of them filled the per-address and total
 * connection limits, locking out every client, health checks included. The
 * guard tracks every connection from accept (MHD_OPTION_NOTIFY_CONNECTION)
 * to close and, from a thread of its own that looks every few tens of
 * milliseconds, cuts:
 *   - a new connection whose request head is not complete header_ms after
 *     accept (408), and a kept-alive one whose next head is not complete
 *     idle_s after its previous answer (closed silently, as an idle
 *     keep-alive connection is);
 *   - a request whose body is not complete request_ms after its head (408).
 * And when a connection arrives while its address holds more than 3/4 of
 * max_conns_per_ip, or the server more than 3/4 of max_conns, it closes the
 * connection of that address (or of any address) that has waited longest for
 * a request: 503 if it never sent one, silently if it is an idle keep-alive
 * connection. A request being read or answered is never evicted. So a flood
 * of slow or idle connections makes room for a new client instead of locking
 * it out; libmicrohttpd's own limits (max_conns, max_conns_per_ip) stay as
 * the hard backstop.
 *
 * Cutting is shutdown(2) on the connection's socket (after a best-effort
 * error answer), under the guard's mutex; libmicrohttpd then sees the end of
 * the stream on its own thread and closes the connection as usual. The
 * socket stays open until libmicrohttpd reports the connection closed, which
 * takes the same mutex, so the guard never touches a reused descriptor.
 */
#include "http_impl.h"
#include "satisfy/clock.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum { WAITING, READING, ANSWERED };

struct sf_http_sock {
    sf_http_sock *prev, *next;
    int fd;
    uint32_t ip;  /* peer IPv4 address (network order); 0 when unknown */
    double since; /* accept, or the end of the previous request */
    double head_at;
    int state;
    int served; /* requests completed on this connection */
    int cut;    /* shut down by the guard, waiting for libmicrohttpd */
};

static const char TIMEOUT_408[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                  "Content-Length: 0\r\n\r\n";
static const char BUSY_503[] = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                               "Content-Length: 0\r\n\r\n";

/* Shuts s down, with answer first when not NULL (the socket is
 * non-blocking: a full buffer just loses it). */
static void cut(sf_http_guard *g, sf_http_sock *s, const char *answer, uint64_t *counter)
{
    if (answer)
        (void)!send(s->fd, answer, strlen(answer), MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(s->fd, SHUT_RDWR);
    s->cut = 1;
    g->live--;
    (*counter)++;
}

/* Closes the connection (of address ip, or any when ip is 0) that has waited
 * longest for a request, other than keep. */
static void evict_oldest(sf_http_guard *g, uint32_t ip, const sf_http_sock *keep)
{
    sf_http_sock *old = NULL;
    for (sf_http_sock *s = g->head; s; s = s->next)
        if (s != keep && !s->cut && s->state == WAITING && (!ip || s->ip == ip) &&
            (!old || s->since < old->since))
            old = s;
    if (old)
        cut(g, old, old->served ? NULL : BUSY_503, &g->evicted);
}

static void on_start(sf_http_guard *g, struct MHD_Connection *c, void **ctx)
{
    sf_http_sock *s = calloc(1, sizeof *s);
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *peer =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    *ctx = s;
    if (!s || !fd) {
        free(s); /* not tracked: libmicrohttpd's own limits still hold */
        *ctx = NULL;
        return;
    }
    s->fd = fd->connect_fd;
    if (peer && peer->client_addr && peer->client_addr->sa_family == AF_INET)
        s->ip = ((const struct sockaddr_in *)(const void *)peer->client_addr)->sin_addr.s_addr;
    s->since = sf_mono_s();
    s->state = WAITING;
    pthread_mutex_lock(&g->mu);
    s->prev = g->tail;
    if (g->tail)
        g->tail->next = s;
    else
        g->head = s;
    g->tail = s;
    g->live++;
    size_t same = 0;
    for (const sf_http_sock *o = g->head; s->ip && o; o = o->next)
        same += !o->cut && o->ip == s->ip;
    if (s->ip && same > g->soft_per_ip)
        evict_oldest(g, s->ip, s);
    if (g->live > g->soft_total)
        evict_oldest(g, 0, s);
    pthread_mutex_unlock(&g->mu);
}

static void on_close(sf_http_guard *g, void **ctx)
{
    sf_http_sock *s = *ctx;
    if (!s)
        return;
    pthread_mutex_lock(&g->mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        g->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        g->tail = s->prev;
    if (!s->cut)
        g->live--;
    pthread_mutex_unlock(&g->mu);
    free(s);
    *ctx = NULL;
}

void sf_http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        on_start(cls, c, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        on_close(cls, socket_context);
}

void sf_http_guard_request(sf_http_guard *g, struct MHD_Connection *c, int event)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    sf_http_sock *s = i ? i->socket_context : NULL;
    if (!s)
        return;
    pthread_mutex_lock(&g->mu);
    if (event == SF_HTTP_GUARD_HEAD) {
        s->state = READING;
        s->head_at = sf_mono_s();
    } else if (event == SF_HTTP_GUARD_ANSWER) {
        s->state = ANSWERED;
    } else {
        s->state = WAITING;
        s->since = sf_mono_s();
        s->served++;
    }
    pthread_mutex_unlock(&g->mu);
}

/* Cuts every connection past its deadline. */
static void sweep(sf_http_guard *g, double now)
{
    for (sf_http_sock *s = g->head; s; s = s->next) {
        if (s->cut)
            continue;
        if (s->state == WAITING && !s->served && now - s->since > g->header_s)
            cut(g, s, TIMEOUT_408, &g->head_timeouts);
        else if (s->state == WAITING && s->served && now - s->since > g->idle_s)
            cut(g, s, NULL, &g->idle_timeouts);
        else if (s->state == READING && now - s->head_at > g->request_s)
            cut(g, s, TIMEOUT_408, &g->body_timeouts);
    }
}

static void *guard_main(void *arg)
{
    sf_http_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long ns = ts.tv_nsec + g->tick_ms * 1000000L;
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        if (!g->stop)
            sweep(g, sf_mono_s());
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int sf_http_guard_init(sf_http_guard *g, const sf_http_opts *o, sf_err *err)
{
    memset(g, 0, sizeof *g);
    g->header_s = o->header_ms / 1000.0;
    g->idle_s = o->idle_s;
    g->request_s = o->request_ms / 1000.0;
    g->soft_total = (size_t)o->max_conns - (size_t)o->max_conns / 4;
    g->soft_per_ip = (size_t)o->max_conns_per_ip - (size_t)o->max_conns_per_ip / 4;
    int shortest = o->header_ms < o->request_ms ? o->header_ms : o->request_ms;
    g->tick_ms = shortest / 20 < 10 ? 10 : shortest / 20 > 200 ? 200 : shortest / 20;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&g->thread, NULL, guard_main, g);
    if (rc != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        return sf_errf(err, "HTTP connection guard: cannot start its thread: %s", strerror(rc));
    }
    return 0;
}

void sf_http_guard_stop(sf_http_guard *g)
{
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
}

void sf_http_guard_free(sf_http_guard *g)
{
    while (g->head) {
        sf_http_sock *s = g->head;
        g->head = s->next;
        free(s);
    }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

void sf_http_guard_counts(sf_http_guard *g, sf_http_guard_stats *out)
{
    pthread_mutex_lock(&g->mu);
    out->open = g->live;
    out->head_timeouts = g->head_timeouts;
    out->body_timeouts = g->body_timeouts;
    out->idle_timeouts = g->idle_timeouts;
    out->evicted = g->evicted;
    pthread_mutex_unlock(&g->mu);
}
