/*
 * embed.c - look-up of the schema files compiled into libsatisfy
 * (the table is generated at build time by cmake/embed.cmake).
 */
#include "satisfy/embed.h"

#include <string.h>

extern const struct sf_embedded_file sf_schema_files[];

const struct sf_embedded_file *sf_schema_file(const char *name)
{
    for (const struct sf_embedded_file *f = sf_schema_files; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}
