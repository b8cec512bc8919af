/*
 * test_forest.c - the forest section (TRES / TREP, format in lib/model/trees.c)
 * read from hostile bytes: every rule of the reader has a case that breaks
 * only that rule and must be refused with its own message, and a valid
 * section predicts what its trees say (missing values by the default
 * direction, +-inf thresholds allowed).
 */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"

#define NF   3
#define HDR  24
#define NODE 25

/* Byte offset of node i of the first tree. */
static size_t at(int i)
{
    return HDR + 4 + (size_t)i * NODE;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void putf(uint8_t *p, float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    put32(p, b);
}

static void putd(uint8_t *p, double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    put32(p, (uint32_t)b);
    put32(p + 4, (uint32_t)(b >> 32));
}

/* Two trees: x0 < 0.5 ? 1 : 2 (missing goes left), and x2 < -inf ? 0 : 0.25
 * (missing goes right); base score 3. */
static uint8_t *valid(size_t *len)
{
    sf_rawnode nodes[6] = {
        {.left = 1, .right = 2, .feature = 0, .default_left = 1, .value = 0.5f, .cover = 10},
        {.left = -1, .right = -1, .value = 1.0f, .cover = 4},
        {.left = -1, .right = -1, .value = 2.0f, .cover = 6},
        {.left = 1, .right = 2, .feature = 2, .default_left = 0, .value = -INFINITY, .cover = 10},
        {.left = -1, .right = -1, .value = 0.0f, .cover = 0},
        {.left = -1, .right = -1, .value = 0.25f, .cover = 10},
    };
    int sizes[2] = {3, 3};
    uint8_t *buf;
    sf_err err;
    assert_int_equal(sf_forest_write(NF, 0, 3.0, 2, sizes, nodes, &buf, len, &err), 0);
    return buf;
}

static void test_valid_section(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = valid(&len);
    sf_err err;
    sf_forest *f = sf_forest_read(buf, len, NF, 0, &err);
    if (!f)
        fail_msg("%s", err.msg);
    float x[4 * NF] = {0, 0, 0, 1, 0, 0, NAN, 0, NAN, 0.5f, 0, -INFINITY};
    double m[4];
    sf_forest_margin(f, x, 4, NF, m);
    assert_true(m[0] == 3 + 1 + 0.25);
    assert_true(m[1] == 3 + 2 + 0.25);
    assert_true(m[2] == 3 + 1 + 0.25); /* x0 missing: left; x2 missing: right */
    assert_true(m[3] == 3 + 2 + 0.25); /* -inf is not below -inf */
    sf_forest_free(f);
    /* the wrong objective or width is refused */
    assert_null(sf_forest_read(buf, len, NF, 1, &err));
    assert_non_null(strstr(err.msg, "objective"));
    assert_null(sf_forest_read(buf, len, NF + 1, 0, &err));
    assert_non_null(strstr(err.msg, "features"));
    free(buf);
}

typedef void (*edit_fn)(uint8_t *b, size_t *len);

static void e_magic(uint8_t *b, size_t *len)
{
    (void)len;
    b[0] = 'X';
}
static void e_trees(uint8_t *b, size_t *len)
{
    (void)len;
    put32(b + 12, 0xffffffffu);
}
static void e_nodes(uint8_t *b, size_t *len)
{
    (void)len;
    put32(b + HDR, 0x7fffffffu);
}
static void e_zero_nodes(uint8_t *b, size_t *len)
{
    (void)len;
    put32(b + HDR, 0);
}
static void e_child_range(uint8_t *b, size_t *len)
{
    (void)len;
    put32(b + at(0), 3);
}
static void e_child_self(uint8_t *b, size_t *len)
{
    (void)len;
    put32(b + at(0) + 4, 0);
}
static void e_same_children(uint8_t *b, size_t *len)
{
    (void)len;
    put32(b + at(0) + 4, 1);
}
static void e_negative_child(uint8_t *b, size_t *len)
{
    (void)len;
    put32(b + at(0), (uint32_t)-7);
}
static void e_feature(uint8_t *b, size_t *len)
{
    (void)len;
    put32(b + at(0) + 8, NF);
}
static void e_default(uint8_t *b, size_t *len)
{
    (void)len;
    b[at(0) + 12] = 2;
}
static void e_nan_threshold(uint8_t *b, size_t *len)
{
    (void)len;
    putf(b + at(0) + 13, NAN);
}
static void e_inf_leaf(uint8_t *b, size_t *len)
{
    (void)len;
    putf(b + at(1) + 13, INFINITY);
}
static void e_nan_cover(uint8_t *b, size_t *len)
{
    (void)len;
    putd(b + at(2) + 17, NAN);
}
static void e_negative_cover(uint8_t *b, size_t *len)
{
    (void)len;
    putd(b + at(2) + 17, -1);
}
static void e_huge_cover(uint8_t *b, size_t *len)
{
    (void)len;
    putd(b + at(1) + 17, DBL_MAX);
    putd(b + at(2) + 17, DBL_MAX); /* their sum overflows */
}
static void e_leaf_fields(uint8_t *b, size_t *len)
{
    (void)len;
    put32(b + at(1) + 8, 1);
}
static void e_leaf_right(uint8_t *b, size_t *len)
{
    (void)len;
    put32(b + at(1) + 4, 2);
}
static void e_credit_overflow(uint8_t *b, size_t *len)
{
    (void)len;
    putf(b + at(1) + 13, -FLT_MAX);
    putf(b + at(2) + 13, FLT_MAX);
    putd(b + at(2) + 17, 0); /* E[root] = -FLT_MAX: the right credit is 2 FLT_MAX */
}
static void e_base(uint8_t *b, size_t *len)
{
    (void)len;
    putd(b + 16, NAN);
}
static void e_trailing(uint8_t *b, size_t *len)
{
    b[(*len)++] = 0;
}
static void e_truncated(uint8_t *b, size_t *len)
{
    (void)b;
    *len -= 1;
}
static void e_header_only(uint8_t *b, size_t *len)
{
    (void)b;
    *len = HDR - 1;
}

static void test_rejections(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        edit_fn edit;
        const char *why;
    } cases[] = {
        {"bad magic", e_magic, "not a forest section"},
        {"2^32-1 trees", e_trees, "trees do not fit"},
        {"2^31-1 nodes", e_nodes, "nodes in"},
        {"a tree of no node", e_zero_nodes, "0 nodes"},
        {"child out of range", e_child_range, "corrupt"},
        {"a child that is its parent", e_child_self, "corrupt"},
        {"both children the same", e_same_children, "corrupt"},
        {"negative child", e_negative_child, "corrupt"},
        {"feature out of range", e_feature, "feature 3 of 3"},
        {"default direction 2", e_default, "default 2"},
        {"NaN threshold", e_nan_threshold, "threshold nan"},
        {"infinite leaf", e_inf_leaf, "leaf 1"},
        {"NaN cover", e_nan_cover, "cover nan"},
        {"negative cover", e_negative_cover, "cover -1"},
        {"covers whose sum overflows", e_huge_cover, "expected value"},
        {"leaf with a feature", e_leaf_fields, "leaf 1"},
        {"leaf with a right child", e_leaf_right, "leaf 1"},
        {"credit beyond float", e_credit_overflow, "float range"},
        {"NaN base score", e_base, "base_score"},
        {"trailing byte", e_trailing, "after the last tree"},
        {"truncated", e_truncated, "nodes in"},
        {"header cut", e_header_only, "not a forest section"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *v = valid(&len);
        uint8_t *b = malloc(len + 1);
        memcpy(b, v, len);
        free(v);
        cases[i].edit(b, &len);
        sf_err err;
        sf_forest *f = sf_forest_read(b, len, NF, 0, &err);
        if (f)
            fail_msg("%s: accepted", cases[i].name);
        print_message("%s: %s\n", cases[i].name, err.msg);
        if (!strstr(err.msg, cases[i].why))
            fail_msg("%s: the error does not say '%s'", cases[i].name, cases[i].why);
        free(b);
    }
}

/* A node reached twice (a DAG, not a tree) and a chain deeper than 64. */
static void test_shapes(void **state)
{
    (void)state;
    sf_rawnode nodes[140];
    memset(nodes, 0, sizeof nodes);
    /* 0 -> (1, 2), 1 -> (3, 4), 2 -> (3, 4): 3 and 4 reached twice */
    for (int i = 0; i < 3; i++)
        nodes[i] = (sf_rawnode){.left = i == 0 ? 1 : 3, .right = i == 0 ? 2 : 4, .cover = 1};
    nodes[3] = nodes[4] = (sf_rawnode){.left = -1, .right = -1, .value = 1, .cover = 1};
    int sizes[1] = {5};
    uint8_t *b;
    size_t len;
    sf_err err;
    assert_int_equal(sf_forest_write(NF, 0, 0, 1, sizes, nodes, &b, &len, &err), 0);
    assert_null(sf_forest_read(b, len, NF, 0, &err));
    assert_non_null(strstr(err.msg, "not a tree"));
    free(b);
    /* a chain of n splits, each with a leaf on its left */
    for (int depth = 64; depth <= 65; depth++) {
        int n = 2 * depth + 1;
        for (int i = 0; i < depth; i++) {
            nodes[2 * i] = (sf_rawnode){.left = 2 * i + 1, .right = 2 * i + 2, .cover = 1};
            nodes[2 * i + 1] = (sf_rawnode){.left = -1, .right = -1, .value = 1, .cover = 1};
        }
        nodes[n - 1] = (sf_rawnode){.left = -1, .right = -1, .value = 2, .cover = 1};
        sizes[0] = n;
        assert_int_equal(sf_forest_write(NF, 0, 0, 1, sizes, nodes, &b, &len, &err), 0);
        sf_forest *f = sf_forest_read(b, len, NF, 0, &err);
        if (depth == 64) {
            if (!f)
                fail_msg("%s", err.msg);
            float x[NF] = {1, 0, 0}; /* never below 0: right all the way down */
            double m;
            sf_forest_margin(f, x, 1, NF, &m);
            assert_true(m == 2);
        } else {
            assert_null(f);
            assert_non_null(strstr(err.msg, "deeper than 64"));
        }
        sf_forest_free(f);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_section),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
