/*
 * expect_counts.c - the counts a replay of the Olist tables in DIR must
 * produce, per topic and per stage, derived from the tables themselves
 * (sf_dataset_load + sf_lifecycle_build), in the format consume_count prints.
 *
 * usage: expect_counts --data DIR [--max-events N]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "satisfy/cli.h"
#include "satisfy/kafka.h"
#include "satisfy/lifecycle.h"
#include "satisfy/olist.h"

/* A bad option value: its message (cli.h) and the usage exit status. */
static int usage_error(const sf_err *err)
{
    fprintf(stderr, "expect_counts: %s\n", err->msg);
    return 2;
}

int main(int argc, char **argv)
{
    const char *data = NULL;
    uint64_t max_events = 0;
    sf_err err = {{0}};
    static const struct option lopts[] = {{"data", required_argument, NULL, 'd'},
                                          {"max-events", required_argument, NULL, 'm'},
                                          {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:m:", lopts, NULL)) != -1) {
        if (c == 'd')
            data = optarg;
        else if (c == 'm' &&
                 sf_cli_u64("--max-events", optarg, 1, UINT64_MAX, &max_events, &err) < 0)
            return usage_error(&err);
        else if (c != 'm')
            return 2;
    }
    if (!data) {
        fprintf(stderr, "usage: expect_counts --data DIR [--max-events N]\n");
        return 2;
    }
    sf_dataset ds;
    sf_load_opts lo = {.strict = false, .report = stderr};
    if (sf_dataset_load(&ds, data, &lo, &err) != 0) {
        fprintf(stderr, "expect_counts: %s\n", err.msg);
        return 1;
    }
    sf_event_ref *ev = NULL;
    size_t n = sf_lifecycle_build(&ds, SF_TIME_NONE, SF_TIME_NONE, &ev, &err);
    if (n == (size_t)-1) {
        fprintf(stderr, "expect_counts: %s\n", err.msg);
        sf_dataset_free(&ds);
        return 1;
    }
    if (max_events && max_events < n)
        n = (size_t)max_events;
    unsigned long long topic[2] = {0, 0}, stage[SF_STAGE_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        if (ev[i].kind == SF_EV_ORDER) {
            topic[0]++;
            stage[ev[i].stage]++;
        } else {
            topic[1]++;
        }
    }
    printf("topic %s %llu\n", SF_TOPIC_ORDERS, topic[0]);
    printf("topic %s %llu\n", SF_TOPIC_REVIEWS, topic[1]);
    for (int i = 0; i < SF_STAGE_COUNT; i++)
        printf("stage %s %llu\n", sf_stage_name((sf_stage)i), stage[i]);
    free(ev);
    sf_dataset_free(&ds);
    return 0;
}
