/*
 * calendar.h - the proleptic Gregorian calendar in UTC, by arithmetic: day
 * numbers to and from dates, and "YYYY-MM-DD HH:MM:SS" timestamps (the Olist
 * files, the command lines, the reports) to and from int64 milliseconds since
 * the epoch. No locale, no time zone, no gmtime_r or mktime (glibc's take the
 * timezone lock on every call): the feature code calls this for every scored
 * event, the CSV loader for every timestamp, the generator for every row.
 */
#ifndef SATISFY_CALENDAR_H
#define SATISFY_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

/* Days since 1970-01-01 (negative before) of a date; month and day 1-based. */
int64_t sf_days_from_civil(int64_t y, int m, int d);
/* The date of a day number (days since 1970-01-01, negative before). */
void sf_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Reads "YYYY-MM-DD HH:MM:SS" (or "YYYY-MM-DD") into ms since the epoch.
 * Rejects impossible dates (2017-02-30) and trailing garbage. */
int sf_time_parse(const char *s, int64_t *out);
/* The same parse over len bytes (need not be NUL-terminated): NULL on success,
 * else why the text is not a valid timestamp ("no such date", ...). */
const char *sf_time_parse_why(const char *s, size_t len, int64_t *out);
/* Writes "YYYY-MM-DD HH:MM:SS" into buf (>= 20 bytes); "" for SF_TIME_NONE. */
void sf_time_format(int64_t t, char *buf, size_t len);

#endif
