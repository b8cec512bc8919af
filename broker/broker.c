/*
 * broker.c - satisfy-broker: the embedded Kafka for one machine.
 *
 * Starts librdkafka's mock cluster on loopback with the satisfy topics,
 * prints the bootstrap list as the first line of stdout (and into
 * --bootstrap-file, atomically), then waits for SIGINT or SIGTERM. Everything
 * is in memory; production points the workers at real Kafka with --brokers.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satisfy/kafka.h"
#include "satisfy/mockbroker.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: satisfy-broker [--brokers N] [--partitions P] [--bootstrap-file F] [--help]\n"
            "\n"
            "Runs an embedded Kafka cluster for one machine (librdkafka's mock cluster)\n"
            "on loopback, creates the satisfy topics (satisfy.orders, satisfy.reviews,\n"
            "satisfy.predictions, satisfy.dlq, satisfy.metrics with P partitions;\n"
            "satisfy.models with 1), prints the bootstrap list as the first line of\n"
            "stdout and runs until SIGINT or SIGTERM.\n"
            "\n"
            "  --brokers N          brokers in the cluster (default 1, max 16)\n"
            "  --partitions P       partitions per topic (default 8)\n"
            "  --bootstrap-file F   also write the bootstrap list to F (atomically)\n"
            "  --help               this text\n"
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

int main(int argc, char **argv)
{
    int n_brokers = 1, partitions = 8;
    const char *bootstrap_file = NULL;
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"partitions", required_argument, NULL, 'p'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "b:p:f:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'b':
            n_brokers = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg) {
                fprintf(stderr, "satisfy-broker: --brokers %s: not a number\n", optarg);
                return 2;
            }
            break;
        case 'p':
            partitions = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg) {
                fprintf(stderr, "satisfy-broker: --partitions %s: not a number\n", optarg);
                return 2;
            }
            break;
        case 'f':
            bootstrap_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "satisfy-broker: unexpected argument %s\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Block the signals until we wait for them, so none is missed between the
     * check and sigsuspend(). */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGTERM);

    sf_err err = {{0}};
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
    fprintf(stderr,
            "satisfy-broker: %d broker(s) on %s, topics with %d partition(s); "
            "in memory, 5 MiB per partition; stop with Ctrl-C\n",
            n_brokers, bs, partitions);

    while (!stop_signal)
        sigsuspend(&waitmask);

    fprintf(stderr, "satisfy-broker: %s, stopping\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    sf_mockbroker_stop(mb);
    if (bootstrap_file)
        unlink(bootstrap_file);
    return 0;
}
