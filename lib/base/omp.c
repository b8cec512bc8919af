/*
 * omp.c - re-exec with OMP_WAIT_POLICY=passive (see satisfy/omp.h).
 */
#include "satisfy/omp.h"

#include <stdlib.h>
#include <unistd.h>

int sf_omp_passive_reexec(char **argv)
{
    const char *v = getenv("OMP_WAIT_POLICY");
    if (v && *v)
        return 0;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
        return -1;
    execv("/proc/self/exe", argv);
    return -1; /* exec failed: carry on with the variable set for children */
}
