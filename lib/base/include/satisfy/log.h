/*
 * log.h - how library workers (scorer, model watcher, retrainer) hand their
 * log lines to the program: a callback that gets one formatted line without
 * its newline. The library never prints itself.
 */
#ifndef SATISFY_LOG_H
#define SATISFY_LOG_H

#include <stdarg.h>

typedef void (*sf_log_fn)(void *arg, const char *line);

/* Formats fmt/ap in full (whatever its length) and passes it to fn; does
 * nothing when fn is NULL. Out of memory, the line is cut at 1 KiB rather
 * than lost. */
void sf_logv(sf_log_fn fn, void *arg, const char *fmt, va_list ap);

#endif
