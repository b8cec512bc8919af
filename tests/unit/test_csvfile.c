/*
 * test_csvfile.c - the streaming CSV reader: the shapes the Olist files come
 * in (quoting, newlines inside fields, CRLF, BOM, no final newline, gzip),
 * physical line numbers, rows cut across read blocks, and every error path
 * with its message.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/csvfile.h"

static sf_csv *open_text(const char *dir, const char *text, int gz)
{
    tu_write(dir, gz ? "t.csv.gz" : "t.csv", text, (size_t)-1, gz);
    sf_err err = {{0}};
    sf_csv *c = sf_csv_open(dir, "t", &err);
    if (!c)
        fail_msg("open: %s", err.msg);
    return c;
}

static void expect_row(sf_csv *c, long line, int n, const char *const *want)
{
    sf_csv_row row;
    sf_err err = {{0}};
    int r = sf_csv_next(c, &row, &err);
    if (r != 1)
        fail_msg("next: %d %s", r, err.msg);
    assert_int_equal(row.line, line);
    assert_int_equal(row.n, n);
    for (int i = 0; i < n; i++) {
        assert_string_equal(row.field[i], want[i]);
        assert_int_equal(row.len[i], strlen(want[i]));
    }
}

static void expect_end(sf_csv *c)
{
    sf_csv_row row;
    sf_err err = {{0}};
    assert_int_equal(sf_csv_next(c, &row, &err), 0);
    assert_int_equal(sf_csv_next(c, &row, &err), 0);
}

/* Quoting, embedded newlines and quotes, empty fields, line numbers. */
static void shapes(int gz, const char *nl, int bom, int final_nl)
{
    char *dir = tu_mkdtemp();
    char text[1024];
    snprintf(text, sizeof text,
             "%s\"id\",name,msg%s"
             "1,\"a, b\",\"line1%sline2 \"\"q\"\"\"%s"
             "%s"
             "\"0042\", x ,%s"
             "3,,\"\"%s",
             bom ? "\xEF\xBB\xBF" : "", nl, nl, nl, nl, nl, final_nl ? nl : "");
    sf_csv *c = open_text(dir, text, gz);
    assert_int_equal(sf_csv_ncols(c), 3);
    assert_string_equal(sf_csv_colname(c, 0), "id");
    assert_int_equal(sf_csv_column(c, "msg", NULL), 2);
    char msg[64];
    snprintf(msg, sizeof msg, "line1%sline2 \"q\"", nl);
    expect_row(c, 2, 3, (const char *const[]){"1", "a, b", msg});
    /* line 3 is the continuation, line 4 is empty (skipped), spaces are kept */
    expect_row(c, 5, 3, (const char *const[]){"0042", " x ", ""});
    expect_row(c, 6, 3, (const char *const[]){"3", "", ""});
    expect_end(c);
    assert_non_null(strstr(sf_csv_path(c), gz ? "t.csv.gz" : "t.csv"));
    sf_csv_close(c);
    tu_rmtree(dir);
    free(dir);
}

static void test_plain_lf(void **s)
{
    (void)s;
    shapes(0, "\n", 0, 1);
}

static void test_gz_crlf_bom_no_final_newline(void **s)
{
    (void)s;
    shapes(1, "\r\n", 1, 0);
}

static void test_plain_crlf_bom(void **s)
{
    (void)s;
    shapes(0, "\r\n", 1, 1);
}

static void test_gz_lf_no_final_newline(void **s)
{
    (void)s;
    shapes(1, "\n", 0, 0);
}

/* NAME.csv is preferred to NAME.csv.gz; the gz is used when it is alone. */
static void test_plain_preferred(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp();
    tu_write(dir, "t.csv", "a\nplain\n", (size_t)-1, 0);
    tu_write(dir, "t.csv.gz", "a\ngz\n", (size_t)-1, 1);
    sf_err err;
    sf_csv *c = sf_csv_open(dir, "t", &err);
    assert_non_null(c);
    expect_row(c, 2, 1, (const char *const[]){"plain"});
    sf_csv_close(c);
    tu_write(dir, "u.csv.gz", "a\ngz\n", (size_t)-1, 1);
    c = sf_csv_open(dir, "u", &err);
    assert_non_null(c);
    expect_row(c, 2, 1, (const char *const[]){"gz"});
    sf_csv_close(c);
    tu_rmtree(dir);
    free(dir);
}

/* Many rows: rows and quoted newlines straddle the 256 KiB read blocks. */
static void test_large_blocks(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp();
    const int n = 40000;
    size_t cap = (size_t)n * 64 + 64, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)sprintf(text + len, "k,v\n");
    for (int i = 0; i < n; i++) {
        if (i % 7 == 0)
            len += (size_t)sprintf(text + len, "%d,\"multi\nline %d\"\n", i, i);
        else
            len += (size_t)sprintf(text + len, "%d,value-%d-padding-padding\n", i, i);
    }
    for (int gz = 0; gz < 2; gz++) {
        tu_write(dir, gz ? "big.csv.gz" : "big.csv", text, len, gz);
        sf_err err;
        sf_csv *c = sf_csv_open_path("", &err);
        assert_null(c); /* an empty path is an error, not a crash */
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, gz ? "big.csv.gz" : "big.csv");
        c = sf_csv_open_path(path, &err);
        assert_non_null(c);
        long line = 2;
        for (int i = 0; i < n; i++) {
            char k[16], v[64];
            snprintf(k, sizeof k, "%d", i);
            if (i % 7 == 0)
                snprintf(v, sizeof v, "multi\nline %d", i);
            else
                snprintf(v, sizeof v, "value-%d-padding-padding", i);
            expect_row(c, line, 2, (const char *const[]){k, v});
            line += i % 7 == 0 ? 2 : 1;
        }
        expect_end(c);
        sf_csv_close(c);
    }
    free(text);
    tu_rmtree(dir);
    free(dir);
}

static void test_missing_file(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp();
    sf_err err;
    assert_null(sf_csv_open(dir, "olist_orders_dataset", &err));
    assert_non_null(strstr(err.msg, "missing file"));
    assert_non_null(strstr(err.msg, "olist_orders_dataset.csv"));
    assert_non_null(strstr(err.msg, dir));
    tu_rmtree(dir);
    free(dir);
}

static void test_missing_column(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp();
    sf_csv *c = open_text(dir, "a,b\n1,2\n", 0);
    sf_err err;
    assert_int_equal(sf_csv_column(c, "b", &err), 1);
    assert_int_equal(sf_csv_column(c, "zip", &err), -1);
    assert_non_null(strstr(err.msg, "t.csv: missing column 'zip'"));
    sf_csv_close(c);
    tu_rmtree(dir);
    free(dir);
}

static void test_empty_file(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp();
    for (int gz = 0; gz < 2; gz++) {
        tu_write(dir, gz ? "e.csv.gz" : "e.csv", "", 0, gz);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, gz ? "e.csv.gz" : "e.csv");
        sf_err err;
        assert_null(sf_csv_open_path(path, &err));
        assert_non_null(strstr(err.msg, "empty file, no header row"));
        assert_non_null(strstr(err.msg, path));
    }
    tu_rmtree(dir);
    free(dir);
}

static void test_unterminated_quote(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp();
    sf_csv *c = open_text(dir, "a,b\n1,2\n3,\"never closed\n4,5\n", 1);
    sf_csv_row row;
    sf_err err;
    assert_int_equal(sf_csv_next(c, &row, &err), 1);
    assert_int_equal(sf_csv_next(c, &row, &err), -1);
    assert_non_null(strstr(err.msg, "t.csv.gz:3: unterminated quoted field"));
    sf_csv_close(c);
    tu_rmtree(dir);
    free(dir);
}

/* A gzip file cut short: the rows before the cut are read, then an error. */
static void test_truncated_gz(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp();
    size_t n = 200000, len = 0;
    char *text = malloc(n * 12 + 16);
    assert_non_null(text);
    len += (size_t)sprintf(text, "k\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "%zu\n", i * 7919 % 1000003);
    tu_write(dir, "t.csv.gz", text, len, 1);
    free(text);
    char path[1024];
    snprintf(path, sizeof path, "%s/t.csv.gz", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[1 << 16];
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(got > 1000);
    tu_write(dir, "t.csv.gz", buf, got / 2, 0);
    sf_err err;
    sf_csv *c = sf_csv_open(dir, "t", &err);
    assert_non_null(c);
    sf_csv_row row;
    int r;
    size_t rows = 0;
    while ((r = sf_csv_next(c, &row, &err)) > 0)
        rows++;
    assert_int_equal(r, -1);
    assert_true(rows < n);
    assert_non_null(strstr(err.msg, "t.csv.gz: gzip error"));
    sf_csv_close(c);
    tu_rmtree(dir);
    free(dir);
}

/* Expects reading text (a header "a" first) to fail with msg. */
static void expect_refused(const char *text, size_t len, const char *msg)
{
    char *dir = tu_mkdtemp();
    tu_write(dir, "t.csv.gz", text, len, 1);
    sf_err err;
    sf_csv *c = sf_csv_open(dir, "t", &err); /* reads its first block, where it may fail */
    sf_csv_row row;
    if (c)
        assert_int_equal(sf_csv_next(c, &row, &err), -1);
    if (!strstr(err.msg, msg))
        fail_msg("want '%s', got '%s'", msg, err.msg);
    sf_csv_close(c);
    tu_rmtree(dir);
    free(dir);
}

/* A small gzip file that inflates to one endless field or row (a bomb, or
 * not a CSV file at all): an error with the file and line, not all memory. */
static void test_limits(void **s)
{
    (void)s;
    size_t n = 3 << 20;
    char *text = malloc(n + 16);
    assert_non_null(text);
    memcpy(text, "a\n", 2);
    memset(text + 2, 'x', n - 2);
    expect_refused(text, n, "t.csv.gz:2: a field longer than 1048576 bytes");
    memset(text + 2, ',', 5000);
    memcpy(text + 5002, "\n", 1);
    expect_refused(text, 5003, "t.csv.gz:2: a row of more than 1024 fields");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_lf),        cmocka_unit_test(test_gz_crlf_bom_no_final_newline),
        cmocka_unit_test(test_plain_crlf_bom),  cmocka_unit_test(test_gz_lf_no_final_newline),
        cmocka_unit_test(test_plain_preferred), cmocka_unit_test(test_large_blocks),
        cmocka_unit_test(test_missing_file),    cmocka_unit_test(test_missing_column),
        cmocka_unit_test(test_empty_file),      cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_truncated_gz),    cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
