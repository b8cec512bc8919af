/*
 * idmap.c - open-addressing hash map, string or 64-bit integer keys -> size_t
 * (see satisfy/idmap.h).
 *
 * Slots hold the full 64-bit hash, the key's offset and length in a byte pool
 * and the value, so a probe compares hashes first and touches key bytes only
 * on a hash match. Linear probing over a power-of-two table; load <= 3/4.
 *
 * An integer key's "hash" is mix(key): mix is a bijection (xor-shifts and
 * multiplications by odd constants), so equal hashes mean equal keys and no
 * key bytes are needed. mix(0) is 0, the empty-slot mark, so key 0 lives
 * beside the table (zero_used, zero_val). Integer maps therefore use slots of
 * 16 bytes (hash, value), half a string slot: the scorer's live history holds
 * a million customers in one (history.h), where the 32-byte slots cost 64 MB.
 */
#include "satisfy/idmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    uint64_t hash; /* 0 marks an empty slot (real hashes are forced non-zero) */
    size_t off, len;
    size_t val;
} slot;

typedef struct uslot {
    uint64_t hash; /* mix(key); 0 marks an empty slot */
    size_t val;
} uslot;

struct sf_idmap {
    slot *slots;   /* string maps */
    uslot *uslots; /* integer maps (sf_idmap_new_u64) */
    size_t mask;   /* capacity - 1 */
    size_t count;
    char *pool;
    size_t pool_len, pool_cap;
    int zero_used; /* integer key 0 is present, with value zero_val */
    size_t zero_val;
};

static uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

/* Eight bytes at a time, multiply-xorshift finaliser: ids are 32 bytes, so
 * this is four rounds plus the tail. */
static uint64_t hash_key(const char *key, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    if (i < len)
        memcpy(&w, key + i, len - i);
    h = mix(h ^ w);
    return h ? h : 1;
}

/* The capacity that holds hint keys without growing (load <= 3/4). */
static size_t cap_for(size_t hint)
{
    size_t cap = 16;
    while (cap / 4 * 3 < hint)
        cap *= 2;
    return cap;
}

static sf_idmap *map_new(size_t hint, int u64)
{
    sf_idmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    size_t cap = cap_for(hint);
    if (u64)
        m->uslots = calloc(cap, sizeof *m->uslots);
    else
        m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots && !m->uslots) {
        free(m);
        return NULL;
    }
    m->mask = cap - 1;
    return m;
}

sf_idmap *sf_idmap_new(size_t hint)
{
    return map_new(hint, 0);
}

sf_idmap *sf_idmap_new_u64(size_t hint)
{
    return map_new(hint, 1);
}

void sf_idmap_free(sf_idmap *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m->uslots);
    free(m->pool);
    free(m);
}

size_t sf_idmap_count(const sf_idmap *m)
{
    return m->count;
}

/* The slot holding key, or the empty slot where it would go. */
static slot *find(const sf_idmap *m, const char *key, size_t len, uint64_t h)
{
    size_t i = (size_t)h & m->mask;
    for (;;) {
        slot *s = &m->slots[i];
        if (s->hash == 0)
            return s;
        if (s->hash == h && s->len == len && (len == 0 || memcmp(m->pool + s->off, key, len) == 0))
            return s;
        i = (i + 1) & m->mask;
    }
}

/* Rehashes *slots (mask + 1 slots of `size` bytes, each starting with its
 * uint64_t hash, 0 = empty) into cap slots, a power of two above the current:
 * one loop for both slot types. */
static int rehash(void **slots, size_t *mask, size_t size, size_t cap)
{
    char *ns = calloc(cap, size), *old = *slots;
    if (!ns)
        return -1;
    for (size_t i = 0; i <= *mask; i++) {
        uint64_t h;
        memcpy(&h, old + i * size, sizeof h);
        if (!h)
            continue;
        size_t j = (size_t)h & (cap - 1);
        for (;;) {
            uint64_t t;
            memcpy(&t, ns + j * size, sizeof t);
            if (!t)
                break;
            j = (j + 1) & (cap - 1);
        }
        memcpy(ns + j * size, old + i * size, size);
    }
    free(old);
    *slots = ns;
    *mask = cap - 1;
    return 0;
}

static int resize_u64(sf_idmap *m, size_t cap)
{
    void *p = m->uslots;
    int rc = rehash(&p, &m->mask, sizeof *m->uslots, cap);
    m->uslots = p;
    return rc;
}

static int grow_u64(sf_idmap *m)
{
    return resize_u64(m, (m->mask + 1) * 2);
}

static int grow(sf_idmap *m)
{
    void *p = m->slots;
    int rc = rehash(&p, &m->mask, sizeof *m->slots, (m->mask + 1) * 2);
    m->slots = p;
    return rc;
}

/* The slot holding the integer key whose hash is h (non-zero), or the empty
 * slot where it would go. */
static uslot *find_u64(const sf_idmap *m, uint64_t h)
{
    size_t i = (size_t)h & m->mask;
    while (m->uslots[i].hash != 0 && m->uslots[i].hash != h)
        i = (i + 1) & m->mask;
    return &m->uslots[i];
}

static int full(const sf_idmap *m)
{
    return (m->count + 1) * 4 > (m->mask + 1) * 3;
}

/* Room for one more key; s (the empty slot found for it) is found again in
 * the grown table. NULL when out of memory. */
static slot *make_room(sf_idmap *m, slot *s, const char *key, size_t len, uint64_t h)
{
    if (!full(m))
        return s;
    if (grow(m) < 0)
        return NULL;
    return find(m, key, len, h);
}

/* Returns the slot for key, inserting it (value unset) when absent. */
static slot *insert(sf_idmap *m, const char *key, size_t len, int *inserted)
{
    uint64_t h = hash_key(key, len);
    slot *s = find(m, key, len, h);
    if (s->hash) {
        *inserted = 0;
        return s;
    }
    if (!(s = make_room(m, s, key, len, h)))
        return NULL;
    if (m->pool_len + len > m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap : 4096;
        while (cap < m->pool_len + len)
            cap *= 2;
        char *np = realloc(m->pool, cap);
        if (!np)
            return NULL;
        m->pool = np;
        m->pool_cap = cap;
    }
    if (len)
        memcpy(m->pool + m->pool_len, key, len);
    s->hash = h;
    s->off = m->pool_len;
    s->len = len;
    m->pool_len += len;
    m->count++;
    *inserted = 1;
    return s;
}

int sf_idmap_put(sf_idmap *m, const char *key, size_t len, size_t val, size_t *existing)
{
    int inserted;
    slot *s = insert(m, key, len, &inserted);
    if (!s)
        return -1;
    if (inserted) {
        s->val = val;
        return 1;
    }
    if (existing)
        *existing = s->val;
    return 0;
}

int sf_idmap_set(sf_idmap *m, const char *key, size_t len, size_t val)
{
    int inserted;
    slot *s = insert(m, key, len, &inserted);
    if (!s)
        return -1;
    s->val = val;
    return 0;
}

int sf_idmap_get(const sf_idmap *m, const char *key, size_t len, size_t *val)
{
    slot *s = find(m, key, len, hash_key(key, len));
    if (!s->hash)
        return -1;
    if (val)
        *val = s->val;
    return 0;
}

int sf_idmap_put_u64(sf_idmap *m, uint64_t key, size_t val, size_t *existing)
{
    uint64_t h = mix(key);
    if (h == 0) { /* key 0 */
        if (m->zero_used) {
            if (existing)
                *existing = m->zero_val;
            return 0;
        }
        m->zero_used = 1;
        m->zero_val = val;
        m->count++;
        return 1;
    }
    uslot *s = find_u64(m, h);
    if (s->hash) {
        if (existing)
            *existing = s->val;
        return 0;
    }
    if (full(m)) {
        if (grow_u64(m) < 0)
            return -1;
        s = find_u64(m, h);
    }
    s->hash = h;
    s->val = val;
    m->count++;
    return 1;
}

int sf_idmap_get_u64(const sf_idmap *m, uint64_t key, size_t *val)
{
    uint64_t h = mix(key);
    if (h == 0) {
        if (!m->zero_used)
            return -1;
        if (val)
            *val = m->zero_val;
        return 0;
    }
    const uslot *s = find_u64(m, h);
    if (!s->hash)
        return -1;
    if (val)
        *val = s->val;
    return 0;
}

int sf_idmap_next(const sf_idmap *m, size_t *pos, const char **key, size_t *len, size_t *val)
{
    while (*pos <= m->mask) {
        const slot *s = &m->slots[(*pos)++];
        if (!s->hash)
            continue;
        *key = m->pool + s->off;
        *len = s->len;
        *val = s->val;
        return 1;
    }
    return 0;
}

int sf_idmap_reserve_u64(sf_idmap *m, size_t n)
{
    size_t cap = cap_for(n);
    return cap > m->mask + 1 ? resize_u64(m, cap) : 0;
}
