/*
 * test_grow.c - the growable array: pushed elements keep their values
 * across reallocations and start zeroed, reserve makes room without changing
 * the count, a size that would overflow is refused with the array unchanged,
 * and free empties it for reuse.
 */
#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satisfy/grow.h"

typedef struct rec {
    uint64_t a;
    char tag[24];
} rec;

static void test_push_keeps_values(void **state)
{
    (void)state;
    sf_vec v = SF_VEC(rec);
    for (uint64_t i = 0; i < 100000; i++) {
        rec *r = sf_vec_push(&v);
        assert_non_null(r);
        assert_int_equal(r->a, 0); /* zeroed, even over reused memory */
        assert_int_equal(r->tag[0], 0);
        r->a = i * 7;
        snprintf(r->tag, sizeof r->tag, "%llu", (unsigned long long)i);
    }
    assert_int_equal(v.n, 100000);
    assert_true(v.cap >= v.n);
    const rec *all = v.p;
    for (uint64_t i = 0; i < v.n; i++) {
        char want[24];
        snprintf(want, sizeof want, "%llu", (unsigned long long)i);
        assert_int_equal(all[i].a, i * 7);
        assert_string_equal(all[i].tag, want);
    }
    sf_vec_free(&v);
    assert_null(v.p);
    assert_int_equal(v.n, 0);
    assert_int_equal(v.cap, 0);
    assert_int_equal(v.size, sizeof(rec));
    assert_non_null(sf_vec_push(&v)); /* usable again */
    sf_vec_free(&v);
}

static void test_reserve(void **state)
{
    (void)state;
    sf_vec v = SF_VEC(int);
    assert_int_equal(sf_vec_reserve(&v, 1000), 0);
    assert_true(v.cap >= 1000);
    assert_int_equal(v.n, 0);
    void *p = v.p;
    for (int i = 0; i < 1000; i++)
        *(int *)sf_vec_push(&v) = i;
    assert_ptr_equal(v.p, p); /* no reallocation within the reserve */
    assert_int_equal(sf_vec_reserve(&v, 10), 0);
    assert_int_equal(((int *)v.p)[999], 999);
    sf_vec_free(&v);
}

static void test_overflow_refused(void **state)
{
    (void)state;
    sf_vec v = SF_VEC(rec);
    *(rec *)sf_vec_push(&v) = (rec){.a = 42};
    void *p = v.p;
    size_t cap = v.cap;
    assert_int_equal(sf_vec_reserve(&v, SIZE_MAX / 2), -1);
    assert_int_equal(sf_vec_reserve(&v, SIZE_MAX), -1);
    assert_ptr_equal(v.p, p);
    assert_int_equal(v.cap, cap);
    assert_int_equal(v.n, 1);
    assert_int_equal(((rec *)v.p)[0].a, 42);
    sf_vec huge = {.size = SIZE_MAX / 4};
    assert_null(sf_vec_push(&huge)); /* 16 elements of that size overflow */
    assert_null(huge.p);
    sf_vec_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_keeps_values),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_overflow_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
