/*
 * cli.c - what every satisfy program's command line shares (see
 * satisfy/cli.h): strict parsing of numbers, the -X list, usage
 * errors and the stop signals.
 *
 * strtol/strtod accept a prefix and say nothing about the rest ("12x" is 12,
 * "" is 0, "-1" is ULLONG_MAX for strtoull), so every main that used them
 * directly accepted typos silently or carried its own checks. Here the whole
 * string must be the number, and every refusal says which option, which
 * value, why, and what would have been accepted.
 */
#include "satisfy/cli.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_MAX 64 /* characters of a value quoted in a message */

/* The value as it is quoted in messages, cut after SHOW_MAX characters. */
static const char *shown(const char *s, char *buf, size_t len)
{
    size_t n = strlen(s);
    if (n <= SHOW_MAX)
        snprintf(buf, len, "%s", s);
    else
        snprintf(buf, len, "%.*s...", SHOW_MAX, s);
    return buf;
}

static int fail(sf_err *err, const char *opt, const char *s, const char *why, const char *expect)
{
    char v[SHOW_MAX + 4];
    return sf_errf(err, "%s: \"%s\" %s; expected %s", opt ? opt : "value", shown(s, v, sizeof v),
                   why, expect);
}

/* The checks before strto*(), which would skip leading blanks and read ""
 * as 0: -1 with err set for an empty value or one that starts with a blank. */
static int precheck(const char *opt, const char *s, const char *expect, sf_err *err)
{
    if (!s || !*s)
        return sf_errf(err, "%s: empty value; expected %s", opt ? opt : "value", expect);
    if (isspace((unsigned char)s[0]))
        return fail(err, opt, s, "starts with a blank", expect);
    return 0;
}

/* why for "12x": the characters after the number. */
static const char *trailing(const char *end, char *buf, size_t len)
{
    char v[SHOW_MAX + 4];
    snprintf(buf, len, "has \"%s\" after the number", shown(end, v, sizeof v));
    return buf;
}

static void int_expect(char *buf, size_t len, long long min, long long max, long long type_max)
{
    if (max == type_max && min == 0)
        snprintf(buf, len, "a non-negative integer");
    else if (max == type_max && min == 1)
        snprintf(buf, len, "a positive integer");
    else if (max == type_max)
        snprintf(buf, len, "an integer >= %lld", min);
    else
        snprintf(buf, len, "an integer in %lld..%lld", min, max);
}

static int parse_signed(const char *opt, const char *s, long long min, long long max,
                        long long type_max, long long *out, sf_err *err)
{
    char expect[96], why[SHOW_MAX + 48];
    int_expect(expect, sizeof expect, min, max, type_max);
    if (precheck(opt, s, expect, err) < 0)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s)
        return fail(err, opt, s, "is not an integer", expect);
    if (*end)
        return fail(err, opt, s, trailing(end, why, sizeof why), expect);
    if (errno == ERANGE)
        return fail(err, opt, s, v < 0 ? "is too small" : "is too large", expect);
    if (v < min)
        return fail(err, opt, s, v < 0 && min >= 0 ? "is negative" : "is out of range", expect);
    if (v > max)
        return fail(err, opt, s, "is out of range", expect);
    *out = v;
    return 0;
}

int sf_cli_long(const char *opt, const char *s, long min, long max, long *out, sf_err *err)
{
    long long v;
    if (parse_signed(opt, s, min, max, LONG_MAX, &v, err) < 0)
        return -1;
    *out = (long)v;
    return 0;
}

int sf_cli_int(const char *opt, const char *s, int min, int max, int *out, sf_err *err)
{
    long long v;
    if (parse_signed(opt, s, min, max, INT_MAX, &v, err) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

int sf_cli_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out,
               sf_err *err)
{
    char expect[96], why[SHOW_MAX + 48];
    if (max == UINT64_MAX && min <= 1)
        snprintf(expect, sizeof expect, "%s",
                 min ? "a positive integer" : "a non-negative integer");
    else if (max == UINT64_MAX)
        snprintf(expect, sizeof expect, "an integer >= %llu", (unsigned long long)min);
    else
        snprintf(expect, sizeof expect, "an integer in %llu..%llu", (unsigned long long)min,
                 (unsigned long long)max);
    if (precheck(opt, s, expect, err) < 0)
        return -1;
    if (s[0] == '-')
        return fail(err, opt, s, isdigit((unsigned char)s[1]) ? "is negative" : "is not an integer",
                    expect);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return fail(err, opt, s, "is not an integer", expect);
    if (*end)
        return fail(err, opt, s, trailing(end, why, sizeof why), expect);
    if (errno == ERANGE)
        return fail(err, opt, s, "is too large", expect);
    if (v < min || v > max)
        return fail(err, opt, s, "is out of range", expect);
    *out = (uint64_t)v;
    return 0;
}

int sf_cli_double(const char *opt, const char *s, double min, double max, double *out, sf_err *err)
{
    char expect[96], why[SHOW_MAX + 48];
    if (min <= -DBL_MAX && max >= DBL_MAX)
        snprintf(expect, sizeof expect, "a finite number");
    else if (max >= DBL_MAX)
        snprintf(expect, sizeof expect, "a number >= %g", min);
    else
        snprintf(expect, sizeof expect, "a number in [%g, %g]", min, max);
    if (precheck(opt, s, expect, err) < 0)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s)
        return fail(err, opt, s, "is not a number", expect);
    if (*end)
        return fail(err, opt, s, trailing(end, why, sizeof why), expect);
    if (isnan(v) || (isinf(v) && errno != ERANGE))
        return fail(err, opt, s, "is not a finite number", expect);
    if (isinf(v))
        return fail(err, opt, s, v < 0 ? "is too small" : "is too large", expect);
    /* errno == ERANGE with a finite v is an underflow to (nearly) zero: the
     * nearest double is what the user meant. */
    if (!(v >= min && v <= max))
        return fail(err, opt, s, v < 0 && min >= 0 ? "is negative" : "is out of range", expect);
    *out = v;
    return 0;
}

/* ------------------------------------------------- the rest of a command line */

static int vusage(const sf_cli *c, const char *fmt, va_list ap)
{
    FILE *f = c->out ? c->out : stderr;
    fprintf(f, "%s: ", c->prog ? c->prog : "satisfy");
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    return SF_CLI_USAGE;
}

int sf_cli_usage(const sf_cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vusage(c, fmt, ap);
    va_end(ap);
    return rc;
}

int sf_cli_bad(const sf_cli *c, const sf_err *err)
{
    return sf_cli_usage(c, "%s", err->msg);
}

int sf_cli_prop(sf_cli *c, const char *kv)
{
    if (c->n_props >= SF_CLI_MAX_PROPS)
        return sf_cli_usage(c, "too many -X options (at most %d)", SF_CLI_MAX_PROPS);
    c->props[c->n_props++] = kv;
    return 0;
}

int sf_cli_operands(const sf_cli *c, int argc, char **argv, int optind)
{
    if (optind < argc) {
        char v[SHOW_MAX + 4];
        return sf_cli_usage(c, "unexpected argument '%s'", shown(argv[optind], v, sizeof v));
    }
    return 0;
}

int sf_cli_require(const sf_cli *c, const char *opt, const char *value)
{
    return value ? 0 : sf_cli_usage(c, "%s is required", opt);
}

/* -------------------------------------------------------------- stop signals */

int sf_cli_signals(void (*handler)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    if (flags & SF_CLI_SIG_NO_SIGPIPE) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        if (sigaction(SIGPIPE, &ign, NULL) != 0)
            return -1;
    }
    return 0;
}

void sf_cli_stop_signal(volatile sig_atomic_t *flag)
{
    if (*flag == 0) {
        *flag = 1;
        return;
    }
    *flag = 2;
    struct sigaction dfl = {.sa_handler = SIG_DFL}; /* sigaction is async-signal-safe */
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
}
