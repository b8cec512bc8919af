/*
 * testutil.h - small helpers shared by the cmocka unit tests: scratch
 * directories, writing fixture files (plain or gzip), where the real Olist
 * sample is (OLIST_DIR) when CI provides it, loading it quietly, the
 * synthetic training rows the learner tests share, and comparing two order
 * events (codec tests).
 */
#ifndef SATISFY_TESTUTIL_H
#define SATISFY_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "satisfy/training_rows.h"
#include "satisfy/olist.h"

/* A fresh directory under $TMPDIR (removed by tu_rmtree). Caller frees. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *dir);

/* Writes len bytes (len = (size_t)-1: strlen) to dir/name; gz != 0 writes gzip. */
void tu_write(const char *dir, const char *name, const char *data, size_t len, int gz);

/* Runs "$SATISFY_BIN_DIR/<command>" through the shell (redirections are the
 * caller's), failing the test when it does not exit 0. */
void tu_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* $OLIST_DIR or NULL when unset/empty. */
const char *tu_olist_dir(void);
/* The source tree (SATISFY_SOURCE_DIR from ctest). */
const char *tu_source_dir(void);

/* Loads the Olist tables of dir (bad rows reported to /dev/null); fails the
 * test with the loader's message when it cannot. Free with sf_dataset_free. */
void tu_dataset_load(sf_dataset *ds, const char *dir);

/* tu_dataset_load, then the examples of the full spec over all time
 * (sf_train_rows_of_dataset), with the history at the end into *h when h is
 * non-NULL. Fails the test with the builder's message when it cannot. */
void tu_real_examples(const char *dir, sf_dataset *ds, sf_examples *ex, sf_history **h);

/* A uniform double in [0, 1) from a xorshift64 generator. Every test program
 * starts from the same seed, so its sequence of draws replays exactly. */
double tu_urand(void);

/* n synthetic rows of the seed spec (12 inputs, drawn with tu_urand): the
 * label (1..5) depends on x0, x1 and on whether x2 is missing (20% of rows),
 * plus uniform noise scaled by noise; row i belongs to order i, purchased
 * (stage PURCHASED) at time i. Free with sf_examples_free. */
void tu_synth_examples(sf_examples *ex, size_t n, double noise);

/* Asserts two order events are equal field by field (items and payments
 * included). Doubles compare with same for the required ones (price,
 * freight, payment value) and with same_opt for the optional ones
 * (coordinates, product sizes), so each test picks how NaN and bits match. */
typedef int (*tu_double_eq)(double a, double b);
void tu_assert_order_eq(const sf_order_event *a, const sf_order_event *b, tu_double_eq same,
                        tu_double_eq same_opt);

/* Fails the test unless call (an expression using `err`, an sf_err *)
 * returns non-zero with substr in the error message. */
#define EXPECT_ERR(call, substr)                                                                   \
    do {                                                                                           \
        sf_err e_ = {{0}};                                                                         \
        sf_err *err = &e_;                                                                         \
        if ((call) == 0)                                                                           \
            fail_msg("%s: succeeded, expected \"%s\"", #call, substr);                             \
        if (!strstr(e_.msg, substr))                                                               \
            fail_msg("%s: error \"%s\" lacks \"%s\"", #call, e_.msg, substr);                      \
    } while (0)

#endif
