/*
 * test_stats_file.c - the workers' --stats-file writer (sf_stats_write_file
 * in lib/serving/stats.c): it replaces the file atomically, and when the disk is
 * full it leaves the old file as it was and no temporary file behind. A full
 * disk is simulated with RLIMIT_FSIZE (writes past the limit fail with
 * EFBIG, SIGXFSZ ignored), which fails the same write(2) calls ENOSPC does.
 */
#include "testutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "satisfy/stats.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Writes text to path with the file size limited to limit bytes. */
static int write_limited(const char *path, const char *text, rlim_t limit, sf_err *err)
{
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = limit;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = sf_stats_write_file(path, text, err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    return rc;
}

static void test_write_file(void **state)
{
    (void)state;
    signal(SIGXFSZ, SIG_IGN);
    char *dir = tu_mkdtemp();
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/stats.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    sf_err err = {{0}};

    assert_int_equal(sf_stats_write_file(path, "{\"n\":1}\n", &err), 0);
    assert_string_equal(slurp(path), "{\"n\":1}\n");
    assert_false(exists(tmp));
    assert_int_equal(sf_stats_write_file(path, "{\"n\":2}\n", &err), 0);
    assert_string_equal(slurp(path), "{\"n\":2}\n");

    /* the disk fills: nothing written, or part of the text */
    const rlim_t limits[] = {0, 4};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        err.msg[0] = '\0';
        assert_int_equal(write_limited(path, "{\"n\":3,\"more\":\"text\"}\n", limits[i], &err), -1);
        if (!strstr(err.msg, "stats.json") || !strstr(err.msg, strerror(EFBIG)))
            fail_msg("limit %d: error '%s' names neither the file nor the reason", (int)limits[i],
                     err.msg);
        if (exists(tmp))
            fail_msg("limit %d: %s left behind", (int)limits[i], tmp);
        assert_string_equal(slurp(path), "{\"n\":2}\n");
    }

    /* a directory that cannot be written: refused with the reason */
    snprintf(path, sizeof path, "%s/missing/stats.json", dir);
    assert_int_equal(sf_stats_write_file(path, "{}\n", &err), -1);
    assert_non_null(strstr(err.msg, strerror(ENOENT)));
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
