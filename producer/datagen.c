/*
 * datagen.c - satisfy-datagen: writes a synthetic Olist dataset, or prints
 * the calibration table of Olist directories side by side.
 *
 *   satisfy-datagen --orders N --seed S --out DIR [--gzip] [--from D --to D]
 *   satisfy-datagen --stats [--strict] DIR [DIR...]
 *
 * A thin main over lib/data/datagen.c (the generator) and lib/data/calibration.c (the
 * statistics); the --stats table is the one in docs/data.md.
 */
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "satisfy/calibration.h"
#include "satisfy/cli.h"
#include "satisfy/datagen.h"
#include "satisfy/olist.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: satisfy-datagen --orders N --seed S --out DIR [--gzip]\n"
               "                       [--from YYYY-MM-DD --to YYYY-MM-DD]\n"
               "       satisfy-datagen --stats [--strict] DIR [DIR...]\n"
               "\n"
               "Writes the nine Olist tables (olist_orders_dataset.csv, ...) for N synthetic\n"
               "orders into DIR, in the Kaggle schema, calibrated on the real sample and\n"
               "byte-identical for the same seed and options.\n"
               "\n"
               "  --orders N     number of orders (1 .. 2000000000)\n"
               "  --seed S       random seed (default 1)\n"
               "  --out DIR      output directory (created if missing)\n"
               "  --gzip         write NAME.csv.gz instead of NAME.csv\n"
               "  --from DATE    first purchase day (default 2016-09-04)\n"
               "  --to DATE      last purchase day, inclusive (default 2018-10-17)\n"
               "  --stats        load each DIR (real or synthetic) and print a markdown table of\n"
               "                 its calibration statistics, one column per DIR\n"
               "  --strict       with --stats: a bad row fails the load\n"
               "  -h, --help     this text\n");
}

static int mkdirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

typedef struct column {
    const char *dir;
    sf_calib c;
    size_t skipped;
} column;

static void row(const column *cols, int n, const char *label, int kind, size_t off)
{
    printf("| %s |", label);
    for (int i = 0; i < n; i++) {
        const char *base = (const char *)&cols[i].c;
        if (kind == 0)
            printf(" %zu |", *(const size_t *)(base + off));
        else
            printf(" %.*f |", kind, *(const double *)(base + off));
    }
    printf("\n");
}

static void row_multi(const column *cols, int n, const char *label, size_t off, const int *idx,
                      int k)
{
    printf("| %s |", label);
    for (int i = 0; i < n; i++) {
        const double *v = (const double *)((const char *)&cols[i].c + off);
        printf(" ");
        for (int j = 0; j < k; j++)
            printf("%s%.1f", j ? " / " : "", v[idx[j]]);
        printf(" |");
    }
    printf("\n");
}

#define F(field) offsetof(sf_calib, field)

static int stats(char **dirs, int n, bool strict)
{
    column *cols = calloc((size_t)n, sizeof *cols);
    if (!cols) {
        fprintf(stderr, "satisfy-datagen: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        sf_dataset ds;
        sf_err err;
        sf_load_opts lo = {.strict = strict, .report = stderr, .max_reports = 20};
        if (sf_dataset_load(&ds, dirs[i], &lo, &err) < 0) {
            fprintf(stderr, "satisfy-datagen: %s\n", err.msg);
            free(cols);
            return 1;
        }
        cols[i].dir = dirs[i];
        cols[i].skipped = sf_dataset_skipped(&ds);
        if (cols[i].skipped)
            fprintf(stderr, "satisfy-datagen: %s: %zu bad rows skipped\n", dirs[i],
                    cols[i].skipped);
        int rc = sf_calib_compute(&ds, &cols[i].c, &err);
        sf_dataset_free(&ds);
        if (rc < 0) {
            fprintf(stderr, "satisfy-datagen: %s\n", err.msg);
            free(cols);
            return 1;
        }
    }
    printf("| measure |");
    for (int i = 0; i < n; i++)
        printf(" %s |", cols[i].dir);
    printf("\n|---|");
    for (int i = 0; i < n; i++)
        printf("---:|");
    printf("\n");
    static const int s54321[] = {4, 3, 2, 1, 0};
    static const int st[] = {SF_STATUS_DELIVERED,   SF_STATUS_SHIPPED,  SF_STATUS_CANCELED,
                             SF_STATUS_UNAVAILABLE, SF_STATUS_INVOICED, SF_STATUS_PROCESSING};
    static const int pt[] = {SF_PAY_CREDIT_CARD, SF_PAY_BOLETO, SF_PAY_VOUCHER, SF_PAY_DEBIT_CARD};
    row(cols, n, "orders", 0, F(n_orders));
    row(cols, n, "review rows", 0, F(n_reviews));
    row_multi(cols, n, "score 5 / 4 / 3 / 2 / 1 (% of reviews)", F(score_pct), s54321, 5);
    row(cols, n, "mean score", 2, F(mean_score));
    row(cols, n, "late deliveries (% of delivered)", 2, F(late_pct));
    row(cols, n, "mean score, late", 2, F(mean_late));
    row(cols, n, "mean score, on time", 2, F(mean_ontime));
    row(cols, n, "orders with a review (%)", 2, F(review_pct));
    row(cols, n, "orders with 2+ reviews (%)", 2, F(multi_review_pct));
    row(cols, n, "items per order (orders with items)", 3, F(items_mean));
    row(cols, n, "orders with 2+ items (%)", 2, F(multi_item_pct));
    row(cols, n, "orders with 2+ sellers (%)", 2, F(multi_seller_pct));
    row(cols, n, "orders without items (%)", 2, F(no_item_pct));
    row_multi(cols, n,
              "status delivered / shipped / canceled / unavailable / invoiced / processing (%)",
              F(status_pct), st, 6);
    row_multi(cols, n, "payments credit_card / boleto / voucher / debit_card (% of rows)",
              F(pay_type_pct), pt, 4);
    row(cols, n, "orders with 2+ payments (%)", 2, F(multi_pay_pct));
    row(cols, n, "mean credit-card installments", 2, F(cc_installments));
    row(cols, n, "mean days purchase -> delivered", 1, F(delivery_days));
    row(cols, n, "mean days purchase -> estimated", 1, F(estimated_days));
    row(cols, n, "mean freight / price", 3, F(freight_ratio));
    row(cols, n, "orders of returning customers (%)", 2, F(repeat_pct));
    printf("| bad rows skipped |");
    for (int i = 0; i < n; i++)
        printf(" %zu |", cols[i].skipped);
    printf("\n");
    free(cols);
    return 0;
}

static int parse_day(const sf_cli *cli, const char *opt, const char *s, int64_t *out)
{
    if (strlen(s) != 10 || sf_time_parse(s, out) < 0)
        return sf_cli_usage(cli, "%s '%s': expected a date YYYY-MM-DD", opt, s);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"orders", required_argument, 0, 'n'}, {"seed", required_argument, 0, 's'},
        {"out", required_argument, 0, 'o'},    {"gzip", no_argument, 0, 'z'},
        {"from", required_argument, 0, 'f'},   {"to", required_argument, 0, 't'},
        {"stats", no_argument, 0, 'S'},        {"strict", no_argument, 0, 'X'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    sf_datagen_opts o = {.n_orders = 0, .seed = 1, .from = SF_TIME_NONE, .to = SF_TIME_NONE};
    const char *out = NULL;
    bool do_stats = false, strict = false, have_orders = false;
    sf_cli cli = {.prog = "satisfy-datagen"};
    sf_err err;
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (sf_cli_u64("--orders", optarg, 1, 2000000000, &o.n_orders, &err) < 0)
                return sf_cli_bad(&cli, &err);
            have_orders = true;
            break;
        case 's':
            if (sf_cli_u64("--seed", optarg, 0, UINT64_MAX, &o.seed, &err) < 0)
                return sf_cli_bad(&cli, &err);
            break;
        case 'o':
            out = optarg;
            break;
        case 'z':
            o.gzip = true;
            break;
        case 'f':
            if ((rc = parse_day(&cli, "--from", optarg, &o.from)))
                return rc;
            break;
        case 't':
            if ((rc = parse_day(&cli, "--to", optarg, &o.to)))
                return rc;
            break;
        case 'S':
            do_stats = true;
            break;
        case 'X':
            strict = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (do_stats) {
        if (optind >= argc)
            return sf_cli_usage(&cli, "--stats needs at least one directory");
        return stats(argv + optind, argc - optind, strict);
    }
    if ((rc = sf_cli_operands(&cli, argc, argv, optind)))
        return rc;
    if (!have_orders || !out)
        return sf_cli_usage(&cli, "--orders and --out are required (see --help)");
    if (mkdirs(out) < 0) {
        fprintf(stderr, "satisfy-datagen: cannot create directory %s: %s\n", out, strerror(errno));
        return 1;
    }
    sf_datagen_counts counts;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (sf_datagen_write(&o, out, &counts, &err) < 0) {
        fprintf(stderr, "satisfy-datagen: %s\n", err.msg);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "satisfy-datagen: wrote %s in %.1f s:", out,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    for (int t = 0; t < SF_T_COUNT; t++)
        fprintf(stderr, "%s %zu %s", t ? "," : "", counts.rows[t], sf_table_file(t));
    fprintf(stderr, "\n");
    return 0;
}
