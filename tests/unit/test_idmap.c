/*
 * test_idmap.c - the hash map (lib/base/idmap.c) with both kinds of key: string
 * keys copied into the map (the loader's joins) and 64-bit integer keys (the
 * history's tables), each through growth from an empty map, with put
 * refusing to overwrite, set overwriting, and integer key 0 (whose mixed
 * hash is the empty-slot mark) kept like any other.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "satisfy/idmap.h"

static void test_string_keys(void **state)
{
    (void)state;
    sf_idmap *m = sf_idmap_new(0);
    assert_non_null(m);
    char key[40];
    for (size_t i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "%032zx", i * 2654435761u);
        assert_int_equal(sf_idmap_put(m, key, (size_t)n, i, NULL), 1);
    }
    assert_int_equal(sf_idmap_count(m), 5000);
    for (size_t i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "%032zx", i * 2654435761u);
        size_t v = 0, old = 0;
        assert_int_equal(sf_idmap_get(m, key, (size_t)n, &v), 0);
        assert_int_equal(v, i);
        assert_int_equal(sf_idmap_put(m, key, (size_t)n, 7, &old), 0);
        assert_int_equal(old, i);
    }
    assert_int_equal(sf_idmap_get(m, "absent", 6, NULL), -1);
    assert_int_equal(sf_idmap_set(m, "", 0, 3), 0); /* the empty key is a key */
    size_t v = 0;
    assert_int_equal(sf_idmap_get(m, "", 0, &v), 0);
    assert_int_equal(v, 3);
    size_t pos = 0, seen = 0, len, val;
    const char *k;
    while (sf_idmap_next(m, &pos, &k, &len, &val))
        seen++;
    assert_int_equal(seen, 5001);
    sf_idmap_free(m);
}

static void test_integer_keys(void **state)
{
    (void)state;
    sf_idmap *m = sf_idmap_new_u64(0);
    assert_non_null(m);
    /* 0, small keys, keys that differ only in their upper bits, the maximum */
    enum { N = 6000 };
    static uint64_t keys[N];
    for (size_t i = 0; i < N; i++)
        keys[i] = i % 3 == 0 ? i : i % 3 == 1 ? (uint64_t)i << 40 : UINT64_MAX - i;
    for (size_t i = 0; i < N; i++)
        assert_int_equal(sf_idmap_put_u64(m, keys[i], i, NULL), 1);
    assert_int_equal(sf_idmap_count(m), N);
    for (size_t i = 0; i < N; i++) {
        size_t v = SIZE_MAX, old = SIZE_MAX;
        assert_int_equal(sf_idmap_get_u64(m, keys[i], &v), 0);
        assert_int_equal(v, i);
        assert_int_equal(sf_idmap_put_u64(m, keys[i], 99, &old), 0);
        assert_int_equal(old, i);
    }
    assert_int_equal(sf_idmap_count(m), N);
    assert_int_equal(sf_idmap_get_u64(m, 1, NULL), -1); /* 1 % 3 == 1: stored as 1 << 40 */
    assert_int_equal(sf_idmap_get_u64(m, (uint64_t)3 << 40, NULL), -1);
    sf_idmap_free(m);

    m = sf_idmap_new_u64(0); /* key 0 absent, then present */
    assert_non_null(m);
    assert_int_equal(sf_idmap_get_u64(m, 0, NULL), -1);
    assert_int_equal(sf_idmap_put_u64(m, 0, 5, NULL), 1);
    size_t v = 0;
    assert_int_equal(sf_idmap_get_u64(m, 0, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(sf_idmap_count(m), 1);
    sf_idmap_free(m);
}

/* A reserved map keeps its keys through the resize and takes n more
 * without failing; a smaller reserve is a no-op. */
static void test_reserve_u64(void **state)
{
    (void)state;
    sf_idmap *m = sf_idmap_new_u64(0);
    assert_non_null(m);
    for (uint64_t k = 1; k <= 10; k++)
        assert_int_equal(sf_idmap_put_u64(m, k * 7919, (size_t)k, NULL), 1);
    assert_int_equal(sf_idmap_reserve_u64(m, 5000), 0);
    assert_int_equal(sf_idmap_reserve_u64(m, 3), 0);
    for (uint64_t k = 11; k <= 5000; k++)
        assert_int_equal(sf_idmap_put_u64(m, k * 7919, (size_t)k, NULL), 1);
    assert_int_equal(sf_idmap_count(m), 5000);
    for (uint64_t k = 1; k <= 5000; k++) {
        size_t v;
        assert_int_equal(sf_idmap_get_u64(m, k * 7919, &v), 0);
        assert_int_equal(v, (size_t)k);
    }
    assert_int_equal(sf_idmap_get_u64(m, 5001 * 7919, NULL), -1);
    sf_idmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_keys),
        cmocka_unit_test(test_integer_keys),
        cmocka_unit_test(test_reserve_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
