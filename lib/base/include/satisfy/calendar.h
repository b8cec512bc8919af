/*
 * calendar.h - day numbers to and from proleptic Gregorian dates, by
 * arithmetic (no gmtime/timegm and their time-zone lock), in the base layer
 * so that the Olist time parser (data) and the calendar features (features)
 * share one copy.
 */
#ifndef SATISFY_CALENDAR_H
#define SATISFY_CALENDAR_H

#include <stdint.h>

/* Days since 1970-01-01 (negative before) of a date; month and day 1-based. */
int64_t sf_days_from_civil(int64_t y, int m, int d);

/* The date (month and day 1-based) of a day number. */
void sf_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif
