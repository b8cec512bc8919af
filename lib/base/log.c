/*
 * log.c - formatting of worker log lines (see satisfy/log.h): one
 * implementation for every worker's logf_, so that no line is truncated.
 */
#include "satisfy/log.h"

#include <stdio.h>
#include <stdlib.h>

void sf_logv(sf_log_fn fn, void *arg, const char *fmt, va_list ap)
{
    if (!fn)
        return;
    char small[1024];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= 0 && (size_t)n >= sizeof small) {
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, again);
            fn(arg, big);
            free(big);
            va_end(again);
            return;
        }
    }
    va_end(again);
    if (n >= 0)
        fn(arg, small);
}
