/*
 * cep_prefix.c - Brazilian postcode (CEP) prefixes, the first 5 digits, as
 * 5-character strings (see satisfy/cep_prefix.h).
 *
 * Tools that read the Olist files as numbers drop the leading zero of São
 * Paulo prefixes ("01310" becomes 1310) or write them as floats ("1310.0").
 * Both are undone here; anything else that is not at most 5 digits is an
 * error rather than a guess.
 */
#include "satisfy/cep_prefix.h"

#include <string.h>

int sf_cep_prefix_normalize(const char *in, char out[6])
{
    size_t n = strlen(in), i = 0;
    const char *dot = memchr(in, '.', n);
    if (dot) { /* "1310.0": a float spelling, one or more zeros after the point */
        if (dot + 1 == in + n)
            return -1;
        for (const char *q = dot + 1; q < in + n; q++)
            if (*q != '0')
                return -1;
        n = (size_t)(dot - in);
    }
    if (n == 0 || n > 5)
        return -1;
    for (i = 0; i < n; i++)
        if (in[i] < '0' || in[i] > '9')
            return -1;
    memset(out, '0', 5 - n);
    memcpy(out + 5 - n, in, n);
    out[5] = '\0';
    return 0;
}
