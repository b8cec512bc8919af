/*
 * retrainer.c - satisfy-retrainer: subcommand dispatch.
 *
 * A thin main over libsatisfy. `run` is the streaming retrainer
 * (retrainer.h), `train` the batch pipeline over CSV files (train.h),
 * `registry` reads registry.db, `keygen` makes a release signing key pair.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "satisfy/cli.h"
#include "satisfy/omp.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command;

static const command COMMANDS[] = {
    {"train", cmd_train, "train, evaluate, gate and register a model from Olist CSV files"},
    {"registry", cmd_registry, "list or show model versions, promote or roll back the served one"},
    {"run", cmd_run, "streaming retrainer: consume, store, retrain, gate, publish releases"},
    {"keygen", cmd_keygen, "make an Ed25519 key pair for signing releases"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: satisfy-retrainer COMMAND [options]   (COMMAND --help for its options)\n\n"
               "commands:\n");
    for (const command *c = COMMANDS; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->help);
}

int main(int argc, char **argv)
{
    /* XGBoost's OpenMP pool must see OMP_WAIT_POLICY=passive at load time. */
    sf_omp_passive_reexec(argv);
    if (argc < 2) {
        usage(stderr);
        return SF_CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (const command *c = COMMANDS; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->fn(argc - 1, argv + 1);
    sf_cli cli = {.prog = "satisfy-retrainer"};
    int rc = sf_cli_usage(&cli, "unknown command '%s'", argv[1]);
    usage(stderr);
    return rc;
}
