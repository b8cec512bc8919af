/*
 * tool_args.h - the command line several test tools share:
 * --brokers LIST [--timeout S]. Header-only because each tool is a single
 * source file built on its own.
 */
#ifndef SATISFY_TOOL_ARGS_H
#define SATISFY_TOOL_ARGS_H

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "satisfy/cli.h"

/* Parses argv into *brokers and *timeout_s (left as given when absent).
 * Returns 0, or -1 on an unknown option (getopt said why), a bad --timeout
 * (cli.h's message printed) or without --brokers (usage printed to stderr):
 * the tool then exits with 2. */
static inline int tool_brokers_args(int argc, char **argv, const char *usage, const char **brokers,
                                    double *timeout_s)
{
    static const struct option lopts[] = {{"brokers", required_argument, NULL, 'b'},
                                          {"timeout", required_argument, NULL, 't'},
                                          {NULL, 0, NULL, 0}};
    sf_err err;
    int c;
    while ((c = getopt_long(argc, argv, "b:t:", lopts, NULL)) != -1) {
        if (c == 'b') {
            *brokers = optarg;
        } else if (c == 't') {
            if (sf_cli_double("--timeout", optarg, 0.001, 86400, timeout_s, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return -1;
            }
        } else {
            return -1;
        }
    }
    if (!*brokers) {
        fprintf(stderr, "usage: %s\n", usage);
        return -1;
    }
    return 0;
}

#endif
