/*
 * json_field.c - one JSON field read strictly or written (see
 * satisfy/json_field.h): shared by every hand-parsed message so that
 * they refuse bad input with the same checks and the same wording, and by
 * every JSON writer so that NaN and unknown times become null alike.
 */
#include "satisfy/json_field.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "satisfy/event.h"

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53: integers a JSON double holds exactly */

cJSON *sf_json_object(const void *value, size_t len, sf_err *err)
{
    if (!value || len == 0) {
        sf_errf(err, "empty message");
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(value, len);
    if (!j) {
        sf_errf(err, "not JSON");
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        sf_errf(err, "expected a JSON object");
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* Field names in errors carry their parent ("candidate.rmse"). */
const cJSON *sf_json_field(const cJSON *o, const char *parent, const char *k, sf_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v)
        sf_errf(err, "%s%s%s: missing", parent, *parent ? "." : "", k);
    return v;
}

/* An integer >= min within +-2^53; null allowed when nullable (SF_TIME_NONE). */
int sf_json_int(const cJSON *o, const char *parent, const char *k, int64_t min, bool nullable,
                int64_t *out, sf_err *err)
{
    const cJSON *v = sf_json_field(o, parent, k, err);
    if (!v)
        return -1;
    const char *dot = *parent ? "." : "";
    if (nullable && cJSON_IsNull(v)) {
        *out = SF_TIME_NONE;
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return sf_errf(err, "%s%s%s: expected an integer%s", parent, dot, k,
                       nullable ? " or null" : "");
    double d = v->valuedouble;
    if (!(d == floor(d)) || fabs(d) > MAX_SAFE_INT)
        return sf_errf(err, "%s%s%s: %g is not an integer", parent, dot, k, d);
    if (d < (double)min)
        return sf_errf(err, "%s%s%s: %.0f is below %" PRId64, parent, dot, k, d, min);
    *out = (int64_t)d;
    return 0;
}

/* A number in [lo, hi]; null (NaN) only when nullable. */
int sf_json_num(const cJSON *o, const char *parent, const char *k, double lo, double hi,
                bool nullable, double *out, sf_err *err)
{
    const cJSON *v = sf_json_field(o, parent, k, err);
    if (!v)
        return -1;
    const char *dot = *parent ? "." : "";
    if (nullable && cJSON_IsNull(v)) {
        *out = NAN;
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return sf_errf(err, "%s%s%s: expected a number%s", parent, dot, k,
                       nullable ? " or null" : "");
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return sf_errf(err, "%s%s%s: %g out of range %g..%g", parent, dot, k, v->valuedouble, lo,
                       hi);
    *out = v->valuedouble;
    return 0;
}

/* A string of 1..cap-1 bytes, copied into buf. */
int sf_json_str(const cJSON *o, const char *parent, const char *k, char *buf, size_t cap,
                sf_err *err)
{
    const cJSON *v = sf_json_field(o, parent, k, err);
    if (!v)
        return -1;
    const char *dot = *parent ? "." : "";
    if (!cJSON_IsString(v) || !v->valuestring)
        return sf_errf(err, "%s%s%s: expected a string", parent, dot, k);
    size_t n = strlen(v->valuestring);
    if (n == 0)
        return sf_errf(err, "%s%s%s: empty", parent, dot, k);
    if (n >= cap)
        return sf_errf(err, "%s%s%s: %zu bytes, at most %zu", parent, dot, k, n, cap - 1);
    memcpy(buf, v->valuestring, n + 1);
    return 0;
}

cJSON *sf_json_number(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

void sf_json_add_number(cJSON *o, const char *k, double v)
{
    cJSON_AddItemToObject(o, k, sf_json_number(v));
}

void sf_json_add_time(cJSON *o, const char *k, int64_t t)
{
    if (t == SF_TIME_NONE)
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, (double)t);
}
