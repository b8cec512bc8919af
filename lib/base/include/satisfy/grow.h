/*
 * grow.h - a growable array of fixed-size elements, the one used wherever a
 * count is not known in advance (the CSV loader's tables, the events read
 * back from the retrainer's store, the registry's rows).
 *
 * The owner embeds an sf_vec, set up with SF_VEC(type); sf_vec_push appends
 * one zeroed element and returns it (capacity doubles, so pushes are
 * amortised O(1)); the elements are v.p[0 .. v.n). A failed push (out of
 * memory, or a size that would overflow) returns NULL and leaves the array
 * as it was, so the caller can free it the usual way. Pointers into the
 * array are valid until the next push.
 */
#ifndef SATISFY_GROW_H
#define SATISFY_GROW_H

#include <stddef.h>

typedef struct sf_vec {
    void *p;       /* the elements, NULL until the first push */
    size_t n, cap; /* elements used and allocated */
    size_t size;   /* bytes per element */
} sf_vec;

#define SF_VEC(type) ((sf_vec){.p = NULL, .n = 0, .cap = 0, .size = sizeof(type)})

/* Appends one zeroed element: its address, or NULL (array unchanged). */
void *sf_vec_push(sf_vec *v);

/* Makes room for at least n elements in all: 0, or -1 (array unchanged). */
int sf_vec_reserve(sf_vec *v, size_t n);

/* Frees the elements; the vector is empty again (same element size). */
void sf_vec_free(sf_vec *v);

#endif
