/*
 * artifact_edit.h - takes a model artifact apart into its sections and puts
 * an edited one back together with a correct checksum, so that tests can
 * build the hostile artifacts an attacker could publish (a checksum only
 * proves integrity, not origin). Header layout of lib/model/artifact.c: 96-byte
 * header (magic, u32 format, u32 flags, algorithm, spec name, spec hash,
 * u64 body length, u64 stored length, sha256), then sections of a 4-byte tag,
 * a u32 length and the bytes; the body is zlib-compressed when flags bit 0
 * is set. Rebuilt artifacts are stored uncompressed.
 */
#ifndef SATISFY_ARTIFACT_EDIT_H
#define SATISFY_ARTIFACT_EDIT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#define AE_HDR 96
#define AE_MAX 16

typedef struct ae_section {
    char tag[5];
    uint8_t *data;
    size_t len;
} ae_section;

typedef struct ae_artifact {
    uint8_t hdr[AE_HDR];
    ae_section s[AE_MAX];
    int n;
} ae_artifact;

static inline uint64_t ae_get(const uint8_t *p, int w)
{
    uint64_t v = 0;
    for (int i = 0; i < w; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void ae_put(uint8_t *p, uint64_t v, int w)
{
    for (int i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the sha256 over bytes [0, 64) and the stored body. */
static inline void ae_resign(uint8_t *buf, size_t len)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n;
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, buf, 64);
    EVP_DigestUpdate(c, buf + AE_HDR, len - AE_HDR);
    EVP_DigestFinal_ex(c, buf + 64, &n);
    EVP_MD_CTX_free(c);
}

/* Splits a valid artifact into a; returns 0, or -1 when it is not one. */
static inline int ae_parse(const uint8_t *buf, size_t len, ae_artifact *a)
{
    memset(a, 0, sizeof *a);
    if (len < AE_HDR)
        return -1;
    memcpy(a->hdr, buf, AE_HDR);
    uLongf body_len = (uLongf)ae_get(buf + 48, 8);
    uint8_t *body = malloc(body_len ? body_len : 1);
    if (ae_get(buf + 12, 4) & 1) {
        if (uncompress(body, &body_len, buf + AE_HDR, len - AE_HDR) != Z_OK) {
            free(body);
            return -1;
        }
    } else {
        memcpy(body, buf + AE_HDR, body_len);
    }
    for (size_t off = 0; off + 8 <= body_len && a->n < AE_MAX;) {
        ae_section *s = &a->s[a->n++];
        memcpy(s->tag, body + off, 4);
        s->len = (size_t)ae_get(body + off + 4, 4);
        s->data = malloc(s->len ? s->len : 1);
        memcpy(s->data, body + off + 8, s->len);
        off += 8 + s->len;
    }
    free(body);
    return 0;
}

static inline ae_section *ae_find(ae_artifact *a, const char *tag)
{
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->s[i].tag, tag) == 0)
            return &a->s[i];
    return NULL;
}

/* Replaces (or adds) section tag with a copy of data. */
static inline void ae_set(ae_artifact *a, const char *tag, const void *data, size_t len)
{
    ae_section *s = ae_find(a, tag);
    if (!s) {
        s = &a->s[a->n++];
        memset(s, 0, sizeof *s);
        memcpy(s->tag, tag, 4);
    }
    free(s->data);
    s->data = malloc(len ? len : 1);
    memcpy(s->data, data, len);
    s->len = len;
}

static inline void ae_drop(ae_artifact *a, const char *tag)
{
    ae_section *s = ae_find(a, tag);
    if (!s)
        return;
    free(s->data);
    *s = a->s[--a->n];
    memset(&a->s[a->n], 0, sizeof a->s[a->n]);
}

/* The artifact as bytes (uncompressed body, checksum recomputed). */
static inline uint8_t *ae_build(const ae_artifact *a, size_t *len)
{
    size_t body = 0;
    for (int i = 0; i < a->n; i++)
        body += 8 + a->s[i].len;
    uint8_t *out = malloc(AE_HDR + body);
    memcpy(out, a->hdr, AE_HDR);
    ae_put(out + 12, ae_get(out + 12, 4) & ~1u, 4);
    ae_put(out + 48, body, 8);
    ae_put(out + 56, body, 8);
    size_t off = AE_HDR;
    for (int i = 0; i < a->n; i++) {
        memcpy(out + off, a->s[i].tag, 4);
        ae_put(out + off + 4, a->s[i].len, 4);
        memcpy(out + off + 8, a->s[i].data, a->s[i].len);
        off += 8 + a->s[i].len;
    }
    ae_resign(out, AE_HDR + body);
    *len = AE_HDR + body;
    return out;
}

static inline void ae_free(ae_artifact *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->s[i].data);
    a->n = 0;
}

#endif
