/*
 * test_cli.c - the strict number parsing every main uses for its options
 * (cli.h): valid values at and inside the bounds, and each refusal (empty,
 * leading blank, no digits, trailing characters, overflow, out of range,
 * negative where not allowed, NaN and infinity) with its message, which must
 * name the option, quote the value, say why and say what is expected. A
 * refused value never changes *out. Then the rest every main shares: usage
 * errors as one "<prog>: why" line and exit status 2, the -X list and its
 * limit, operands and required options, and the stop signals (first: stop,
 * second: stop now, third: the default action).
 */
#include "testutil.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "satisfy/cli.h"

/* err.msg contains every one of the NULL-terminated substrings. */
static void assert_msg(const sf_err *err, ...)
{
    va_list ap;
    va_start(ap, err);
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL) {
        if (!strstr(err->msg, want))
            fail_msg("message \"%s\" lacks \"%s\"", err->msg, want);
    }
    va_end(ap);
}

static void long_bad(const char *s, long min, long max, const char *why, const char *expect)
{
    sf_err err = {{0}};
    long v = 12345;
    assert_int_equal(sf_cli_long("--batch", s, min, max, &v, &err), -1);
    assert_int_equal(v, 12345);
    assert_msg(&err, "--batch: ", why, expect, NULL);
}

static void test_long_valid(void **state)
{
    (void)state;
    sf_err err = {{0}};
    long v = 0;
    assert_int_equal(sf_cli_long("--batch", "1", 1, 100000, &v, &err), 0);
    assert_int_equal(v, 1);
    assert_int_equal(sf_cli_long("--batch", "100000", 1, 100000, &v, &err), 0);
    assert_int_equal(v, 100000);
    assert_int_equal(sf_cli_long("--n", "+42", 0, 100, &v, &err), 0);
    assert_int_equal(v, 42);
    assert_int_equal(sf_cli_long("--n", "-7", -10, 10, &v, &err), 0);
    assert_int_equal(v, -7);
    assert_int_equal(sf_cli_long("--n", "007", 0, 10, &v, &err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(sf_cli_long("--n", "9223372036854775807", 0, LONG_MAX, &v, &err), 0);
    assert_true(v == LONG_MAX);
}

static void test_long_errors(void **state)
{
    (void)state;
    long_bad("", 1, 100000, "empty value", "expected an integer in 1..100000");
    long_bad(" 5", 1, 100000, "\" 5\" starts with a blank", "in 1..100000");
    long_bad("abc", 1, 100000, "\"abc\" is not an integer", "in 1..100000");
    long_bad("-", 1, 100000, "\"-\" is not an integer", "in 1..100000");
    long_bad("12x", 1, 100000, "\"12x\" has \"x\" after the number", "in 1..100000");
    long_bad("1.5", 1, 100000, "\"1.5\" has \".5\" after the number", "in 1..100000");
    long_bad("5 ", 1, 100000, "has \" \" after the number", "in 1..100000");
    long_bad("0", 1, 100000, "\"0\" is out of range", "expected an integer in 1..100000");
    long_bad("100001", 1, 100000, "\"100001\" is out of range", "in 1..100000");
    long_bad("-1", 0, 10, "\"-1\" is negative", "expected an integer in 0..10");
    long_bad("-11", -10, 10, "\"-11\" is out of range", "in -10..10");
    long_bad("99999999999999999999", 1, 100000, "is too large", "in 1..100000");
    long_bad("-99999999999999999999", -10, 10, "is too small", "in -10..10");
    /* the kind of range is said in words when one side is open */
    long_bad("0", 1, LONG_MAX, "is out of range", "expected a positive integer");
    long_bad("-3", 0, LONG_MAX, "is negative", "expected a non-negative integer");
    long_bad("4", 5, LONG_MAX, "is out of range", "expected an integer >= 5");
}

static void test_long_message_whole(void **state)
{
    (void)state;
    sf_err err = {{0}};
    long v;
    assert_int_equal(sf_cli_long("--batch", "0", 1, 100000, &v, &err), -1);
    assert_string_equal(err.msg,
                        "--batch: \"0\" is out of range; expected an integer in 1..100000");
    /* no option name: still a readable sentence; a NULL err is allowed */
    assert_int_equal(sf_cli_long(NULL, "x", 1, 2, &v, &err), -1);
    assert_string_equal(err.msg, "value: \"x\" is not an integer; expected an integer in 1..2");
    assert_int_equal(sf_cli_long("--n", "x", 1, 2, &v, NULL), -1);
    assert_int_equal(sf_cli_long("--n", NULL, 1, 2, &v, &err), -1);
    assert_msg(&err, "--n: empty value", NULL);
}

static void test_long_value_cut(void **state)
{
    (void)state;
    char big[400];
    memset(big, '7', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[10] = 'x';
    sf_err err = {{0}};
    long v;
    assert_int_equal(sf_cli_long("--n", big, 1, 2, &v, &err), -1);
    /* a long value is quoted up to 64 characters, then "..." */
    assert_msg(&err, "--n: \"7777777777x", "...\" has \"x777", "expected an integer in 1..2", NULL);
    assert_true(strlen(err.msg) < 250);
}

static void test_int(void **state)
{
    (void)state;
    sf_err err = {{0}};
    int v = 3;
    assert_int_equal(sf_cli_int("--control", "0", 0, 65535, &v, &err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(sf_cli_int("--control", "65535", 0, 65535, &v, &err), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(sf_cli_int("--control", "65536", 0, 65535, &v, &err), -1);
    assert_int_equal(v, 65535);
    assert_msg(&err, "--control: \"65536\" is out of range", "expected an integer in 0..65535",
               NULL);
    /* beyond int but within long: out of range, not wrapped around */
    assert_int_equal(sf_cli_int("--n", "4294967297", 0, INT_MAX, &v, &err), -1);
    assert_int_equal(v, 65535);
    assert_msg(&err, "--n: \"4294967297\" is out of range", "a non-negative integer", NULL);
    assert_int_equal(sf_cli_int("--n", "2147483647", 0, INT_MAX, &v, &err), 0);
    assert_int_equal(v, INT_MAX);
    assert_int_equal(sf_cli_int("--n", "-2", 1, INT_MAX, &v, &err), -1);
    assert_msg(&err, "\"-2\" is negative", "expected a positive integer", NULL);
}

static void test_u64(void **state)
{
    (void)state;
    sf_err err = {{0}};
    uint64_t v = 9;
    assert_int_equal(sf_cli_u64("--seed", "18446744073709551615", 0, UINT64_MAX, &v, &err), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(sf_cli_u64("--seed", "0", 0, UINT64_MAX, &v, &err), 0);
    assert_true(v == 0);
    assert_int_equal(sf_cli_u64("--orders", "2000000000", 1, 2000000000, &v, &err), 0);
    assert_true(v == 2000000000);

    struct {
        const char *s;
        uint64_t min, max;
        const char *why, *expect;
    } bad[] = {
        {"", 1, 2000000000, "--orders: empty value", "an integer in 1..2000000000"},
        {"-1", 0, UINT64_MAX, "\"-1\" is negative", "a non-negative integer"},
        {"-x", 0, UINT64_MAX, "\"-x\" is not an integer", "a non-negative integer"},
        {"0", 1, UINT64_MAX, "\"0\" is out of range", "a positive integer"},
        {"0", 1, 2000000000, "\"0\" is out of range", "an integer in 1..2000000000"},
        {"2000000001", 1, 2000000000, "is out of range", "in 1..2000000000"},
        {"18446744073709551616", 0, UINT64_MAX, "is too large", "a non-negative integer"},
        {"12x", 1, 2000000000, "\"12x\" has \"x\" after the number", "1..2000000000"},
        {"\t1", 1, 2000000000, "starts with a blank", "1..2000000000"},
        {"3", 5, UINT64_MAX, "is out of range", "an integer >= 5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 77;
        assert_int_equal(sf_cli_u64("--orders", bad[i].s, bad[i].min, bad[i].max, &v, &err), -1);
        assert_true(v == 77);
        assert_msg(&err, "--orders: ", bad[i].why, bad[i].expect, NULL);
    }
}

static void double_bad(const char *s, double min, double max, const char *why, const char *expect)
{
    sf_err err = {{0}};
    double v = 0.5;
    assert_int_equal(sf_cli_double("--speed", s, min, max, &v, &err), -1);
    assert_true(v == 0.5);
    assert_msg(&err, "--speed: ", why, expect, NULL);
}

static void test_double_valid(void **state)
{
    (void)state;
    sf_err err = {{0}};
    double v = 0;
    assert_int_equal(sf_cli_double("--holdout", "0.01", 0.01, 0.9, &v, &err), 0);
    assert_true(v == 0.01);
    assert_int_equal(sf_cli_double("--holdout", "0.9", 0.01, 0.9, &v, &err), 0);
    assert_true(v == 0.9);
    assert_int_equal(sf_cli_double("--speed", "86400", 0, 1e15, &v, &err), 0);
    assert_true(v == 86400);
    assert_int_equal(sf_cli_double("--speed", "2.5e3", 0, 1e15, &v, &err), 0);
    assert_true(v == 2500);
    assert_int_equal(sf_cli_double("--x", "-1.25", -2, 2, &v, &err), 0);
    assert_true(v == -1.25);
    assert_int_equal(sf_cli_double("--x", ".5", 0, 1, &v, &err), 0);
    assert_true(v == 0.5);
    /* underflow to (nearly) zero is the nearest double, not an error */
    assert_int_equal(sf_cli_double("--x", "1e-400", 0, 1, &v, &err), 0);
    assert_true(v >= 0 && v < 1e-300);
    assert_int_equal(sf_cli_double("--x", "1e300", 0, DBL_MAX, &v, &err), 0);
    assert_true(v == 1e300);
}

static void test_double_errors(void **state)
{
    (void)state;
    double_bad("", 0, 1e15, "--speed: empty value", "expected a number in [0, 1e+15]");
    double_bad("abc", 0, 1e15, "\"abc\" is not a number", "expected a number in [0, 1e+15]");
    double_bad(" 1", 0, 1e15, "\" 1\" starts with a blank", "[0, 1e+15]");
    double_bad("1.5x", 0, 1e15, "\"1.5x\" has \"x\" after the number", "[0, 1e+15]");
    double_bad("1,5", 0, 1e15, "has \",5\" after the number", "[0, 1e+15]");
    double_bad("nan", 0, 1e15, "\"nan\" is not a finite number", "[0, 1e+15]");
    double_bad("NAN", -DBL_MAX, DBL_MAX, "is not a finite number", "expected a finite number");
    double_bad("inf", 0, DBL_MAX, "\"inf\" is not a finite number", "expected a number >= 0");
    double_bad("-infinity", -DBL_MAX, DBL_MAX, "is not a finite number", "a finite number");
    double_bad("1e999", 0, DBL_MAX, "\"1e999\" is too large", "a number >= 0");
    double_bad("-1e999", -DBL_MAX, DBL_MAX, "\"-1e999\" is too small", "a finite number");
    double_bad("-1", 0, 1e15, "\"-1\" is negative", "[0, 1e+15]");
    double_bad("-0.5", -0.25, 1, "\"-0.5\" is out of range", "[-0.25, 1]");
    double_bad("0.95", 0.01, 0.9, "\"0.95\" is out of range", "expected a number in [0.01, 0.9]");
    double_bad("0.001", 0.01, 0.9, "\"0.001\" is out of range", "[0.01, 0.9]");
    double_bad("0.05", 0.1, DBL_MAX, "\"0.05\" is out of range", "expected a number >= 0.1");
}

/* What sf_cli printed to its stream since the last call, then rewound. */
static const char *printed(FILE *f, char *buf, size_t len)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    size_t got = fread(buf, 1, len - 1, f);
    buf[got] = '\0';
    rewind(f);
    assert_int_equal(ftruncate(fileno(f), 0), 0);
    assert_true(n >= 0);
    return buf;
}

static void test_command_line(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    char buf[512];
    static sf_cli cli; /* 2 KB of -X slots: not on cmocka's stack */
    memset(&cli, 0, sizeof cli);
    cli.prog = "satisfy-test run";
    cli.out = f;

    assert_int_equal(sf_cli_usage(&cli, "--x %d: no", 3), SF_CLI_USAGE);
    assert_string_equal(printed(f, buf, sizeof buf), "satisfy-test run: --x 3: no\n");

    sf_err err = {{0}};
    int v = 0;
    assert_int_equal(sf_cli_int("--batch", "0", 1, 10, &v, &err), -1);
    assert_int_equal(sf_cli_bad(&cli, &err), SF_CLI_USAGE);
    assert_string_equal(printed(f, buf, sizeof buf),
                        "satisfy-test run: --batch: \"0\" is out of range; expected an integer "
                        "in 1..10\n");

    /* -X in order, up to SF_CLI_MAX_PROPS */
    for (int i = 0; i < SF_CLI_MAX_PROPS; i++)
        assert_int_equal(sf_cli_prop(&cli, i % 2 ? "linger.ms=5" : "acks=all"), 0);
    assert_int_equal(cli.n_props, SF_CLI_MAX_PROPS);
    assert_string_equal(cli.props[0], "acks=all");
    assert_string_equal(cli.props[1], "linger.ms=5");
    assert_int_equal(printed(f, buf, sizeof buf)[0], '\0');
    assert_int_equal(sf_cli_prop(&cli, "one=more"), SF_CLI_USAGE);
    assert_int_equal(cli.n_props, SF_CLI_MAX_PROPS);
    assert_string_equal(printed(f, buf, sizeof buf),
                        "satisfy-test run: too many -X options (at most 256)\n");

    char *argv[] = {"prog", "--a", "extra", NULL};
    assert_int_equal(sf_cli_operands(&cli, 3, argv, 3), 0);
    assert_int_equal(sf_cli_operands(&cli, 3, argv, 2), SF_CLI_USAGE);
    assert_string_equal(printed(f, buf, sizeof buf),
                        "satisfy-test run: unexpected argument 'extra'\n");
    assert_int_equal(sf_cli_require(&cli, "--brokers", "b:1"), 0);
    assert_int_equal(sf_cli_require(&cli, "--brokers", NULL), SF_CLI_USAGE);
    assert_string_equal(printed(f, buf, sizeof buf), "satisfy-test run: --brokers is required\n");
    fclose(f);
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    sf_cli_stop_signal(&stop_flag);
}

/* In a child: raise SIGTERM n times; exit 10 + the flag if still alive. */
static int child_raises(int flags, int n)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        stop_flag = 0;
        if (sf_cli_signals(on_signal, flags) != 0)
            _exit(99);
        for (int i = 0; i < n; i++)
            raise(i % 2 ? SIGINT : SIGTERM);
        _exit(10 + stop_flag);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

/* first signal: stop (1); second: stop now (2); third: the default action */
static void test_stop_signals(void **state)
{
    (void)state;
    assert_int_equal(child_raises(0, 0), 10);
    assert_int_equal(child_raises(0, 1), 11);
    assert_int_equal(child_raises(0, 2), 12);
    assert_int_equal(child_raises(0, 3), -SIGTERM);
    /* SIGPIPE ignored on request */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sf_cli_signals(on_signal, SF_CLI_SIG_NO_SIGPIPE);
        raise(SIGPIPE);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_valid),
        cmocka_unit_test(test_long_errors),
        cmocka_unit_test(test_long_message_whole),
        cmocka_unit_test(test_long_value_cut),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_u64),
        cmocka_unit_test(test_double_valid),
        cmocka_unit_test(test_double_errors),
        cmocka_unit_test(test_command_line),
        cmocka_unit_test(test_stop_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
