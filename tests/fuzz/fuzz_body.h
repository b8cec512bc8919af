/*
 * fuzz_body.h - what the HTTP fuzzers (fuzz_http_*.c) share: a fuzz input
 * turned into a request body as lib/http/http.c hands it to a route, so that the
 * fuzzers explore what the server can actually reach.
 */
#ifndef SATISFY_FUZZ_BODY_H
#define SATISFY_FUZZ_BODY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_impl.h"

/* The input as a NUL-terminated body (free it), or NULL when the server
 * would refuse it before the route: a NUL byte inside, or JSON nested deeper
 * than SF_HTTP_MAX_DEPTH. */
static inline char *route_body(const uint8_t *data, size_t size)
{
    char *body = malloc(size + 1);
    if (!body)
        return NULL;
    memcpy(body, data, size);
    body[size] = '\0';
    if (memchr(body, '\0', size) || sf_http_json_depth(body, size) > SF_HTTP_MAX_DEPTH) {
        free(body);
        return NULL;
    }
    return body;
}

#endif
