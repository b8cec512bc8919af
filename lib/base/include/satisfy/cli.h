/*
 * cli.h - what every satisfy program's command line shares: strict parsing
 * of numbers, the -X key=value list, usage errors, and the stop signals.
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

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

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

/* ---- the rest of a command line ---------------------------------------
 *
 * A program fills an sf_cli with its name and parses its options with
 * getopt_long as before; these calls replace what every main repeated. Each
 * returns 0 when all is well, else prints "<prog>: <why>" (one line) and
 * returns SF_CLI_USAGE, the exit status of a usage error:
 *     case 'X': if ((rc = sf_cli_prop(&cli, optarg))) return rc; break;
 */

#define SF_CLI_USAGE     2   /* exit status of a usage error */
#define SF_CLI_MAX_PROPS 256 /* -X options per command line */

typedef struct sf_cli {
    const char *prog; /* as messages name it: "satisfy-scorer", "satisfy-retrainer run" */
    FILE *out;        /* where messages go; NULL = stderr */
    const char *props[SF_CLI_MAX_PROPS]; /* the -X key=value, in order */
    int n_props;
} sf_cli;

/* Prints "<prog>: <message>" and returns SF_CLI_USAGE. */
int sf_cli_usage(const sf_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* sf_cli_usage with a refused value's message (the number parsers above). */
int sf_cli_bad(const sf_cli *c, const sf_err *err);

/* Appends one -X key=value (checked later, by the Kafka client factory). */
int sf_cli_prop(sf_cli *c, const char *kv);

/* No operands left after the options (argv[optind] onwards). */
int sf_cli_operands(const sf_cli *c, int argc, char **argv, int optind);

/* value was given for the required option opt ("--brokers is required"). */
int sf_cli_require(const sf_cli *c, const char *opt, const char *value);

/* ---- stop signals --------------------------------------------------------
 *
 * A worker stops on SIGINT or SIGTERM: the first asks it to finish what it
 * is doing and stop (its stop flag becomes 1), the second to stop now (2:
 * the loops give up their waits), and a third ends the process at once.
 * The flag and its handler are main()'s (a library keeps no global state):
 *     static volatile sig_atomic_t stop_flag;
 *     static void on_signal(int sig) { (void)sig; sf_cli_stop_signal(&stop_flag); }
 *     ... sf_cli_signals(on_signal, 0);
 */

#define SF_CLI_SIG_ONCE       1 /* the second signal ends the process at once (SA_RESETHAND) */
#define SF_CLI_SIG_NO_SIGPIPE 2 /* also ignore SIGPIPE (servers: a closed socket is an error) */

/* Installs handler for SIGINT and SIGTERM (flags above). 0, or -1 with errno. */
int sf_cli_signals(void (*handler)(int), int flags);

/* For a handler: 0 -> 1 -> 2 (then SIGINT and SIGTERM are reset to their
 * default action, so a third signal ends the process). Async-signal-safe. */
void sf_cli_stop_signal(volatile sig_atomic_t *flag);

#endif
