/*
 * omp.h - make XGBoost's OpenMP threads sleep instead of spin.
 *
 * libgomp reads OMP_WAIT_POLICY once, when the library is loaded, i.e. before
 * main() runs; a setenv() from inside the process is too late. On a 2-core
 * machine the default (spin) makes training up to 40x slower, so a worker that
 * trains calls sf_omp_passive_reexec() first thing in main(): when the
 * variable is unset it sets it and re-executes itself once, so the new image
 * loads libgomp with passive waiting. A user's own setting is kept.
 */
#ifndef SATISFY_OMP_H
#define SATISFY_OMP_H

/* Returns only if no re-exec was needed or it failed (then 0 / -1); on
 * success it does not return. argv must be main's argv (NULL-terminated). */
int sf_omp_passive_reexec(char **argv);

#endif
