/*
 * bench_load.c - times sf_dataset_load (read + check + join of the nine
 * Olist tables) on one directory, best of N runs, for bench/bench_load.sh.
 *
 * Usage: bench_load DIR [RUNS]. Prints one line of key=value pairs:
 * best and median seconds, and the dataset's counts so the script can show
 * what was loaded. Exits non-zero if the load fails or skips a row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "satisfy/cli.h"
#include "satisfy/olist.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_load DIR [RUNS]\n");
        return 2;
    }
    int runs = 3;
    sf_err perr;
    if (argc > 2 && sf_cli_int("RUNS", argv[2], 1, 100, &runs, &perr) < 0) {
        fprintf(stderr, "bench_load: %s\n", perr.msg);
        return 2;
    }
    double t[100];
    sf_dataset ds = {0};
    for (int i = 0; i < runs; i++) {
        sf_err err;
        sf_load_opts opts = {.strict = true};
        double t0 = now();
        if (sf_dataset_load(&ds, argv[1], &opts, &err) < 0) {
            fprintf(stderr, "bench_load: %s\n", err.msg);
            return 1;
        }
        t[i] = now() - t0;
        if (i + 1 < runs)
            sf_dataset_free(&ds);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    printf("best=%.3f median=%.3f orders=%zu items=%zu payments=%zu reviews=%zu "
           "geolocation=%zu skipped=%zu\n",
           t[0], t[runs / 2], ds.n_orders, ds.n_items, ds.n_payments, ds.n_reviews,
           ds.rows[SF_T_GEOLOCATION], sf_dataset_skipped(&ds));
    sf_dataset_free(&ds);
    return 0;
}
