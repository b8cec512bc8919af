/*
 * grow.c - growable arrays (see satisfy/grow.h): realloc to at
 * least double the capacity, checked for size overflow, new elements zeroed.
 */
#include "satisfy/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 16

int sf_vec_reserve(sf_vec *v, size_t n)
{
    if (n <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : FIRST_CAP;
    while (cap < n) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    if (v->size == 0 || cap > SIZE_MAX / v->size)
        return -1;
    void *p = realloc(v->p, cap * v->size);
    if (!p)
        return -1;
    v->p = p;
    v->cap = cap;
    return 0;
}

void *sf_vec_push(sf_vec *v)
{
    if (v->n == v->cap && (v->n == SIZE_MAX || sf_vec_reserve(v, v->n + 1) != 0))
        return NULL;
    void *e = (char *)v->p + v->n++ * v->size;
    memset(e, 0, v->size);
    return e;
}

void sf_vec_free(sf_vec *v)
{
    free(v->p);
    v->p = NULL;
    v->n = v->cap = 0;
}
