/*
 * schemas.c - look-up of the Avro schemas compiled into the events layer
 * (the .avsc files of schemas/ and catalog.json; the table is generated at build time by
 * cmake/embed.cmake). The codec writes these schemas by hand; the tests
 * check the very schemas a build carries against what it writes.
 */
#include "satisfy/schemas.h"

#include <string.h>

extern const struct sf_embedded_file sf_schema_files[];

const struct sf_embedded_file *sf_schema_file(const char *name)
{
    for (const struct sf_embedded_file *f = sf_schema_files; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}
