/*
 * clock.h - the three clocks the workers use: monotonic seconds (durations,
 * deadlines), monotonic milliseconds (pacing, polling intervals) and wall
 * milliseconds since the epoch (timestamps that leave the process).
 */
#ifndef SATISFY_CLOCK_H
#define SATISFY_CLOCK_H

#include <stdint.h>

double sf_mono_s(void);
int64_t sf_mono_ms(void);
int64_t sf_wall_ms(void);

#endif
