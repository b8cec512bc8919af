/*
 * error.h - the error value every libsatisfy call returns its context in.
 *
 * Library code never exits or prints on its own: a failing call returns -1
 * (or NULL) and fills an sf_err with a sentence that names where the problem
 * is (file:line and column of an input row, topic/partition/offset of a
 * message, the value and why it is wrong). Only a worker's main() decides
 * whether that ends the process.
 */
#ifndef SATISFY_ERROR_H
#define SATISFY_ERROR_H

#include <stdarg.h>

#define SF_ERR_MAX 512

typedef struct sf_err {
    char msg[SF_ERR_MAX];
} sf_err;

/* Sets err->msg from a printf format; safe to call with err == NULL. Returns -1
 * so that `return sf_errf(err, ...)` reads as "fail with this reason". */
int sf_errf(sf_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an existing message, to add outer context. */
int sf_err_wrap(sf_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
