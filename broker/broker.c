/*
 * broker.c - satisfy-broker: the embedded Kafka for one machine.
 *
 * Starts librdkafka's mock cluster on loopback with the satisfy topics,
 * prints the bootstrap list as the first line of stdout (and into
 * --bootstrap-file, atomically), then waits for SIGINT or SIGTERM. Everything
 * is in memory; production points the workers at real Kafka with --brokers.
 *
 * With --control PORT it also listens on 127.0.0.1:PORT for fault-injection
 * commands, one per line, each answered with one line "ok ..." or
 * "error: ..." (the protocol is sf_mockbroker_control's, mockbroker.h), so a
 * test can take a broker down, add round-trip time or make requests fail
 * while the workers run. One main loop polls the socket and the signals.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "satisfy/cli.h"
#include "satisfy/kafka.h"
#include "satisfy/mockbroker.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: satisfy-broker [--brokers N] [--partitions P] [--bootstrap-file F]\n"
               "                      [--control PORT [--control-file F]] [--help]\n"
               "\n"
               "Runs an embedded Kafka cluster for one machine (librdkafka's mock cluster)\n"
               "on loopback, creates the satisfy topics (satisfy.orders, satisfy.reviews,\n"
               "satisfy.predictions, satisfy.dlq, satisfy.metrics, satisfy.history,\n"
               "satisfy.alerts, satisfy.shadow with P partitions; satisfy.models with 1),\n"
               "prints the bootstrap list as the first line of stdout and runs until SIGINT\n"
               "or SIGTERM.\n"
               "\n"
               "  --brokers N          brokers in the cluster (default 1, max 16)\n"
               "  --partitions P       partitions per topic (default 8)\n"
               "  --bootstrap-file F   also write the bootstrap list to F (atomically)\n"
               "  --control PORT       accept fault-injection commands on 127.0.0.1:PORT\n"
               "                       (0 = any free port; the address is logged on stderr)\n"
               "  --control-file F     write the control address host:port to F (atomically)\n"
               "  --help               this text\n"
               "\n"
               "Control protocol (for tests; TCP, one command per line, one answer line\n"
               "'ok ...' or 'error: ...' per command; broker ids are 1..N):\n"
               "  down ID                broker ID drops its connections and refuses new ones\n"
               "  up ID                  broker ID accepts connections again\n"
               "  rtt ID MS              broker ID delays every response by MS ms (0 = off)\n"
               "  errors APIKEY ERR [N]  the next N requests of APIKEY (Produce, Fetch, EndTxn,\n"
               "                         ... or a number) fail with ERR (a Kafka error name\n"
               "                         such as NOT_LEADER_FOR_PARTITION, or a number)\n"
               "  clear APIKEY           drop the pending errors of APIKEY\n"
               "  leader TOPIC PART ID   move the leadership of a partition to broker ID\n"
               "  brokers | help\n"
               "e.g. exec 3<>/dev/tcp/127.0.0.1/PORT; echo 'down 2' >&3; read -r reply <&3\n"
               "\n"
               "Limits: everything is in memory and lost on exit (no persistence); each\n"
               "partition keeps at most 5 MiB (older messages are dropped, so use enough\n"
               "partitions); no transactional isolation (read_committed consumers also see\n"
               "aborted and open transactions); no log compaction; one machine only\n"
               "(listens on 127.0.0.1).\n"
               "For real Kafka, do not run satisfy-broker: pass --brokers host:9092,... to\n"
               "every worker instead (see docs/kafka.md).\n");
}

static int write_atomic(const char *path, const char *text)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (f) {
        int ok = fprintf(f, "%s\n", text) > 0;
        ok = (fflush(f) == 0) && ok;
        ok = (fsync(fileno(f)) == 0) && ok;
        ok = (fclose(f) == 0) && ok;
        if (ok && rename(tmp, path) == 0)
            rc = 0;
        else
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

#define MAX_CLIENTS 8
#define LINE_MAX_   512

typedef struct client {
    int fd;
    size_t len;
    char line[LINE_MAX_];
} client;

/* Listens on 127.0.0.1:port; writes the port bound into *bound. */
static int control_listen(int port, int *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0 && errno != EINTR)
            return;
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        }
    }
}

/* Runs the complete lines buffered for c; 0 keep the client, -1 drop it. */
static int control_lines(sf_mockbroker *mb, client *c)
{
    char *nl;
    while ((nl = memchr(c->line, '\n', c->len)) != NULL) {
        *nl = '\0';
        if (nl > c->line && nl[-1] == '\r')
            nl[-1] = '\0';
        char reply[SF_ERR_MAX + 16], out[SF_ERR_MAX + 32];
        sf_err err = {{0}};
        if (sf_mockbroker_control(mb, c->line, reply, sizeof reply, &err) < 0)
            snprintf(out, sizeof out, "error: %s\n", err.msg);
        else
            snprintf(out, sizeof out, "%s\n", reply);
        fprintf(stderr, "satisfy-broker: control: %s -> %s", c->line, out);
        send_all(c->fd, out, strlen(out));
        size_t used = (size_t)(nl - c->line) + 1;
        memmove(c->line, nl + 1, c->len - used);
        c->len -= used;
    }
    if (c->len == sizeof c->line) {
        const char *msg = "error: line too long\n";
        send_all(c->fd, msg, strlen(msg));
        return -1;
    }
    return 0;
}

/* Serves the control socket (if lfd >= 0) until a stop signal. */
static void serve(sf_mockbroker *mb, int lfd, const sigset_t *waitmask)
{
    client cl[MAX_CLIENTS];
    int ncl = 0;
    while (!stop_signal) {
        struct pollfd pf[MAX_CLIENTS + 1];
        int np = 0;
        if (lfd >= 0) {
            pf[np].fd = ncl < MAX_CLIENTS ? lfd : -1;
            pf[np++].events = POLLIN;
            for (int i = 0; i < ncl; i++) {
                pf[np].fd = cl[i].fd;
                pf[np++].events = POLLIN;
            }
        }
        /* signals are unblocked only while waiting here: none is missed */
        int r = ppoll(pf, (nfds_t)np, NULL, waitmask);
        if (r <= 0)
            continue;
        if (pf[0].revents & POLLIN) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                cl[ncl].fd = fd;
                cl[ncl++].len = 0;
            }
        }
        for (int i = ncl - 1; i >= 0; i--) {
            if (!(pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            client *c = &cl[i];
            ssize_t got = recv(c->fd, c->line + c->len, sizeof c->line - c->len, 0);
            int keep = got > 0;
            if (keep) {
                c->len += (size_t)got;
                keep = control_lines(mb, c) == 0;
            } else if (got < 0 && errno == EINTR) {
                keep = 1;
            }
            if (!keep) {
                close(c->fd);
                cl[i] = cl[--ncl];
            }
        }
    }
    for (int i = 0; i < ncl; i++)
        close(cl[i].fd);
}

int main(int argc, char **argv)
{
    int n_brokers = 1, partitions = 8;
    const char *bootstrap_file = NULL, *control_file = NULL;
    int control_port = -1;
    static const struct option opts[] = {
        {"control", required_argument, NULL, 'c'},
        {"control-file", required_argument, NULL, 'C'},
        {"brokers", required_argument, NULL, 'b'},
        {"partitions", required_argument, NULL, 'p'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sf_cli cli = {.prog = "satisfy-broker"};
    sf_err err = {{0}};
    int c, rc;
    while ((c = getopt_long(argc, argv, "b:p:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (sf_cli_int("--brokers", optarg, 1, 16, &n_brokers, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case 'p':
            if (sf_cli_int("--partitions", optarg, 1, 1000, &partitions, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case 'f':
            bootstrap_file = optarg;
            break;
        case 'c':
            if (sf_cli_int("--control", optarg, 0, 65535, &control_port, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case 'C':
            control_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if ((rc = sf_cli_operands(&cli, argc, argv, optind))) {
        usage(stderr);
        return rc;
    }
    if (control_file && control_port < 0)
        return sf_cli_usage(&cli, "--control-file needs --control PORT");

    sf_cli_signals(on_signal, 0);
    /* Block the signals until we wait for them, so none is missed between the
     * check and sigsuspend(). */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGTERM);

    sf_mockbroker *mb = sf_mockbroker_start(n_brokers, partitions, &err);
    if (!mb) {
        fprintf(stderr, "satisfy-broker: %s\n", err.msg);
        return 1;
    }
    const char *bs = sf_mockbroker_bootstraps(mb);
    printf("%s\n", bs);
    fflush(stdout);
    if (bootstrap_file && write_atomic(bootstrap_file, bs) != 0) {
        fprintf(stderr, "satisfy-broker: cannot write %s: %s\n", bootstrap_file, strerror(errno));
        sf_mockbroker_stop(mb);
        return 1;
    }
    int lfd = -1;
    if (control_port >= 0) {
        int bound = 0;
        lfd = control_listen(control_port, &bound);
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", bound);
        if (lfd < 0 || (control_file && write_atomic(control_file, addr) != 0)) {
            fprintf(stderr, "satisfy-broker: --control %d: %s\n", control_port, strerror(errno));
            if (lfd >= 0)
                close(lfd);
            sf_mockbroker_stop(mb);
            if (bootstrap_file)
                unlink(bootstrap_file);
            return 1;
        }
        fprintf(stderr, "satisfy-broker: control commands on %s\n", addr);
    }
    fprintf(stderr,
            "satisfy-broker: %d broker(s) on %s, topics with %d partition(s); "
            "in memory, 5 MiB per partition; stop with Ctrl-C\n",
            n_brokers, bs, partitions);

    serve(mb, lfd, &waitmask);
    if (lfd >= 0)
        close(lfd);

    fprintf(stderr, "satisfy-broker: %s, stopping\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    sf_mockbroker_stop(mb);
    if (bootstrap_file)
        unlink(bootstrap_file);
    if (control_file)
        unlink(control_file);
    return 0;
}
