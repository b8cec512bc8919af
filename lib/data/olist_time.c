/*
 * olist_time.c - Olist timestamps ("YYYY-MM-DD HH:MM:SS", zone-less) to and
 * from int64 milliseconds since the epoch (see satisfy/olist.h).
 *
 * The format is fixed, so parsing is a strict character-by-character read
 * (no sscanf, no locale, no mktime and its time zone): every digit and
 * separator is checked, impossible dates such as 2017-02-30 are rejected,
 * and the day count comes from the proleptic Gregorian calendar
 * (calendar.h), which is exact for any year 0000-9999.
 */
#include "satisfy/olist.h"
#include "satisfy/calendar.h"

#include <stdio.h>
#include <string.h>

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* The parser behind sf_time_parse: NULL on success, else the reason. */
const char *sf_time_parse_why(const char *s, size_t len, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    if ((len != 10 && len != 19) || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) < 0 ||
        digits(s + 5, 2, &mo) < 0 || digits(s + 8, 2, &d) < 0)
        return "not a timestamp YYYY-MM-DD HH:MM:SS";
    if (len == 19 && (s[10] != ' ' || s[13] != ':' || s[16] != ':' || digits(s + 11, 2, &h) < 0 ||
                      digits(s + 14, 2, &mi) < 0 || digits(s + 17, 2, &se) < 0))
        return "not a timestamp YYYY-MM-DD HH:MM:SS";
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return "no such date";
    if (h > 23 || mi > 59 || se > 59)
        return "no such time of day";
    *out = ((sf_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)se * 1000;
    return NULL;
}

int sf_time_parse(const char *s, int64_t *out)
{
    return sf_time_parse_why(s, strlen(s), out) ? -1 : 0;
}

void sf_time_format(int64_t t, char *buf, size_t len)
{
    if (!len)
        return;
    if (t == SF_TIME_NONE) {
        buf[0] = '\0';
        return;
    }
    int64_t secs = t >= 0 ? t / 1000 : -((-t + 999) / 1000); /* floor */
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int64_t y;
    int m, d;
    sf_civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04lld-%02d-%02d %02d:%02d:%02d", (long long)y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60));
}
