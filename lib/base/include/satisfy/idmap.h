/*
 * idmap.h - the one open-addressing hash map: from a string key (an Olist
 * 32-hex id, a CEP prefix, a category name...) or from a 64-bit integer key
 * (a hash of an id, as the history keeps sellers and customers) to a size_t
 * value, usually an index into an array of records.
 *
 * The loader joins its tables through string maps; the history keys its
 * tables by integers (its snapshot stores 64-bit keys, not ids). Both are
 * general and fast: lookups hash once and probe linearly, and the table
 * doubles before it is 3/4 full. String keys are copied into one pool owned
 * by the map (callers may pass pointers into transient buffers); integer keys
 * are stored as a bijective mix of themselves, so no key bytes are kept.
 * There is no removal.
 */
#ifndef SATISFY_IDMAP_H
#define SATISFY_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sf_idmap sf_idmap;

/* A map sized for about `hint` keys (0 is fine). NULL when out of memory. */
sf_idmap *sf_idmap_new(size_t hint);
void sf_idmap_free(sf_idmap *m);

/* Inserts key -> val when key is absent and returns 1. When key is present it
 * leaves the map unchanged, stores the current value in *existing (if not
 * NULL) and returns 0. Returns -1 when out of memory. */
int sf_idmap_put(sf_idmap *m, const char *key, size_t len, size_t val, size_t *existing);

/* Inserts or overwrites key -> val. Returns 0, or -1 when out of memory. */
int sf_idmap_set(sf_idmap *m, const char *key, size_t len, size_t val);

/* Finds key: returns 0 and stores its value in *val (if not NULL), or -1. */
int sf_idmap_get(const sf_idmap *m, const char *key, size_t len, size_t *val);

/* Number of keys. */
size_t sf_idmap_count(const sf_idmap *m);

/* Visits the keys in slot order: *pos starts at 0; each call stores one key
 * (not NUL-terminated), its length and value and returns 1, then 0 at the end.
 * String maps only. */
int sf_idmap_next(const sf_idmap *m, size_t *pos, const char **key, size_t *len, size_t *val);

/* Integer keys, as sf_idmap_put and sf_idmap_get, in a map made by
 * sf_idmap_new_u64 (16 bytes per slot instead of 32). A map holds string keys
 * or integer keys, never both. */
sf_idmap *sf_idmap_new_u64(size_t hint);
int sf_idmap_put_u64(sf_idmap *m, uint64_t key, size_t val, size_t *existing);
int sf_idmap_get_u64(const sf_idmap *m, uint64_t key, size_t *val);

/* Sizes an integer map for n keys at once (no-op when it already holds
 * room for them), so that filling it to n never doubles: a doubling holds
 * the old and the new slot arrays together, 1.5x the final size at the
 * moment of the peak. Returns 0, or -1 when out of memory (map unchanged). */
int sf_idmap_reserve_u64(sf_idmap *m, size_t n);

#endif
