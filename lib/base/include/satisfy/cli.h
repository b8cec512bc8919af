/*
 * cli.h - strict parsing of command-line numbers for every satisfy program.
 *
 * Each worker, test tool and benchmark reads counts, ports, seeds, shares and
 * timeouts from its options; these calls are the one place that turns such a
 * string into a number. They accept the whole string or nothing: no empty
 * value, no leading blank, no trailing characters ("12x"), no overflow, no
 * value outside [min, max], no sign on an unsigned value, no NaN or infinity.
 *
 * On failure they return -1, leave *out untouched and fill err with the
 * option name, the value and why, and what was expected, e.g.
 *   --batch: "0" is out of range; expected an integer in 1..100000
 *   --speed: "abc" is not a number; expected a number in [0, 1e+15]
 * They never print or exit: the caller's main() prints err.msg and chooses
 * the exit status (2 for usage errors). opt names the option or argument
 * ("--batch", "ROUNDS"); it is only used in the message.
 */
#ifndef SATISFY_CLI_H
#define SATISFY_CLI_H

#include <stdint.h>

#include "satisfy/error.h"

/* A base-10 integer in [min, max]. */
int sf_cli_long(const char *opt, const char *s, long min, long max, long *out, sf_err *err);

/* sf_cli_long for an int. */
int sf_cli_int(const char *opt, const char *s, int min, int max, int *out, sf_err *err);

/* A base-10 unsigned integer in [min, max]; a leading '-' is refused (strtoull
 * would wrap it around). */
int sf_cli_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out,
               sf_err *err);

/* A finite decimal number (strtod syntax, "1.5", "2e3") in [min, max]. */
int sf_cli_double(const char *opt, const char *s, double min, double max, double *out, sf_err *err);

#endif
