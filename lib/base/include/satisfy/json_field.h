/*
 * json_field.h - one field of a JSON object (cJSON), read strictly or
 * written with satisfy's conventions.
 *
 * Reading is for the messages we parse by hand (gate decisions, online
 * accuracy): each reader checks presence, type and range and says which
 * field failed and why, naming it with its parent object ("candidate.rmse")
 * when parent is not "". Each returns 0, or -1 with err set and *out
 * unchanged.
 *
 * Writing: JSON has no NaN or infinity, and satisfy's missing numbers are
 * NaN and missing times SF_TIME_NONE; every writer (reports, decisions, the
 * JSON event view, the HTTP API) turns both into null the same way.
 */
#ifndef SATISFY_JSON_FIELD_H
#define SATISFY_JSON_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "satisfy/error.h"

/* The message value parsed as a JSON object; NULL with "empty message",
 * "not JSON" or "expected a JSON object" in err. Free with cJSON_Delete. */
cJSON *sf_json_object(const void *value, size_t len, sf_err *err);

/* The member k of o, or NULL with "k: missing" in err. */
const cJSON *sf_json_field(const cJSON *o, const char *parent, const char *k, sf_err *err);

/* An integer >= min that a JSON double holds exactly (|x| <= 2^53); null,
 * when nullable, reads as SF_TIME_NONE (nullable integers are times). */
int sf_json_int(const cJSON *o, const char *parent, const char *k, int64_t min, bool nullable,
                int64_t *out, sf_err *err);

/* A number in [lo, hi]; null, when nullable, reads as NaN. */
int sf_json_num(const cJSON *o, const char *parent, const char *k, double lo, double hi,
                bool nullable, double *out, sf_err *err);

/* A string of 1..cap-1 bytes, copied into buf. */
int sf_json_str(const cJSON *o, const char *parent, const char *k, char *buf, size_t cap,
                sf_err *err);

/* v as a JSON number, or null when v is NaN or infinite. */
cJSON *sf_json_number(double v);

/* Adds member k: the number v, or null when v is not finite. */
void sf_json_add_number(cJSON *o, const char *k, double v);

/* Adds member k: the time t (ms since the epoch), or null for SF_TIME_NONE. */
void sf_json_add_time(cJSON *o, const char *k, int64_t t);

#endif
