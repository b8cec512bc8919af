/*
 * test_log.c - worker log lines: formatted in full whatever their length
 * (past the 1 KiB fast path), and nothing happens without a callback.
 */
#include "testutil.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/log.h"

typedef struct seen {
    int calls;
    char *last;
} seen;

static void keep(void *arg, const char *line)
{
    seen *s = arg;
    s->calls++;
    free(s->last);
    s->last = strdup(line);
}

static void logf_to(sf_log_fn fn, void *arg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_logv(fn, arg, fmt, ap);
    va_end(ap);
}

static void test_short_and_long_lines(void **state)
{
    (void)state;
    seen s = {0};
    logf_to(keep, &s, "model %d loaded (%s)", 3, "gbdt");
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.last, "model 3 loaded (gbdt)");

    size_t n = 5000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    logf_to(keep, &s, "reason: %s!", big);
    assert_int_equal(s.calls, 2);
    assert_int_equal(strlen(s.last), n + 9);
    assert_memory_equal(s.last, "reason: x", 9);
    assert_int_equal(s.last[n + 8], '!');
    free(big);
    free(s.last);
}

static void test_no_callback(void **state)
{
    (void)state;
    logf_to(NULL, NULL, "nobody listens: %d", 1); /* must not crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_and_long_lines),
        cmocka_unit_test(test_no_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
