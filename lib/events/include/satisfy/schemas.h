/*
 * schemas.h - the Avro schemas of satisfy's topics, compiled into the
 * events layer so that a build and its tests agree on them.
 */
#ifndef SATISFY_SCHEMAS_H
#define SATISFY_SCHEMAS_H

#include "satisfy/embed.h"

/* schemas/ *.avsc and catalog.json, by base name; NULL if absent. */
const struct sf_embedded_file *sf_schema_file(const char *name);

#endif
