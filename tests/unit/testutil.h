/*
 * testutil.h - small helpers shared by the cmocka unit tests: scratch
 * directories, writing fixture files (plain or gzip), and where the real
 * Olist sample is (OLIST_DIR) when CI provides it.
 */
#ifndef SATISFY_TESTUTIL_H
#define SATISFY_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh directory under $TMPDIR (removed by tu_rmtree). Caller frees. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *dir);

/* Writes len bytes (len = (size_t)-1: strlen) to dir/name; gz != 0 writes gzip. */
void tu_write(const char *dir, const char *name, const char *data, size_t len, int gz);

/* $OLIST_DIR or NULL when unset/empty. */
const char *tu_olist_dir(void);
/* The source tree (SATISFY_SOURCE_DIR from ctest). */
const char *tu_source_dir(void);

#endif
