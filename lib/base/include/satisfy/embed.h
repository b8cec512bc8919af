/*
 * embed.h - files compiled into the binaries (schemas, web assets), so a
 * worker needs nothing on disk beyond its own executable.
 */
#ifndef SATISFY_EMBED_H
#define SATISFY_EMBED_H

#include <stddef.h>

struct sf_embedded_file {
    const char *name;
    const unsigned char *data; /* NUL-terminated for convenience */
    size_t len;
};

#endif
