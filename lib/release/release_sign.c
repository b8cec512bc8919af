/*
 * release_sign.c - Ed25519 signing and verification of model releases with
 * OpenSSL's EVP one-shot API (see satisfy/release_sign.h for what is
 * signed and where the signature travels).
 */
#include "satisfy/release_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static const char TAG[] = "satisfy.release.v1"; /* signed with its NUL */

struct sf_release_key {
    EVP_PKEY *pkey;
    int is_private;
};

static int ossl_err(sf_err *err, const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return sf_errf(err, "%s: %s", what, e ? buf : "failed");
}

sf_release_key *sf_release_key_load(const char *path, int want_private, sf_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        sf_errf(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *p = want_private ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
                               : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!p) {
        char what[1100];
        snprintf(what, sizeof what, "%s: not a PEM %s key", path,
                 want_private ? "private" : "public");
        ossl_err(err, what);
        return NULL;
    }
    if (EVP_PKEY_get_id(p) != EVP_PKEY_ED25519) {
        sf_errf(err, "%s: not an Ed25519 key (make one with openssl genpkey -algorithm ed25519)",
                path);
        EVP_PKEY_free(p);
        return NULL;
    }
    sf_release_key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(p);
        sf_errf(err, "%s: out of memory", path);
        return NULL;
    }
    k->pkey = p;
    k->is_private = want_private;
    return k;
}

void sf_release_key_free(sf_release_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

static int write_pem(const char *path, EVP_PKEY *p, int priv, sf_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, priv ? 0600 : 0644);
    if (fd < 0)
        return sf_errf(err, "%s: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        return sf_errf(err, "%s: %s", path, strerror(errno));
    }
    int ok = priv ? PEM_write_PrivateKey(f, p, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, p);
    int e = 0;
    if (fflush(f) != 0)
        e = errno;
    if (fclose(f) != 0 && !e)
        e = errno;
    if (ok != 1 || e) {
        unlink(path);
        return e ? sf_errf(err, "%s: %s", path, strerror(e)) : ossl_err(err, path);
    }
    return 0;
}

int sf_release_keygen(const char *priv_path, const char *pub_path, sf_err *err)
{
    EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!p)
        return ossl_err(err, "Ed25519 key generation");
    int rc = write_pem(priv_path, p, 1, err);
    if (rc == 0 && (rc = write_pem(pub_path, p, 0, err)) != 0)
        unlink(priv_path);
    EVP_PKEY_free(p);
    return rc;
}

/* TAG, its NUL, be64(version), value: the bytes that are signed. */
static uint8_t *signed_bytes(int64_t version, const void *value, size_t len, size_t *n)
{
    *n = sizeof TAG + 8 + len;
    uint8_t *b = malloc(*n ? *n : 1);
    if (!b)
        return NULL;
    memcpy(b, TAG, sizeof TAG);
    for (int i = 0; i < 8; i++)
        b[sizeof TAG + i] = (uint8_t)((uint64_t)version >> (56 - 8 * i));
    if (len)
        memcpy(b + sizeof TAG + 8, value, len);
    return b;
}

int sf_release_sign(const sf_release_key *k, int64_t version, const void *value, size_t len,
                    uint8_t sig[SF_RELEASE_SIG_LEN], sf_err *err)
{
    if (!k || !k->is_private)
        return sf_errf(err, "release v%lld: signing needs a private key", (long long)version);
    size_t n, siglen = SF_RELEASE_SIG_LEN;
    uint8_t *b = signed_bytes(version, value, len, &n);
    if (!b)
        return sf_errf(err, "release v%lld: out of memory", (long long)version);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, b, n) == 1 && siglen == SF_RELEASE_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    free(b);
    return ok ? 0 : ossl_err(err, "Ed25519 sign");
}

int sf_release_verify(const sf_release_key *k, int64_t version, const void *value, size_t len,
                      const void *sig, size_t sig_len, sf_err *err)
{
    if (!sig)
        return sf_errf(err, "unsigned: no '%s' header", SF_RELEASE_SIG_HEADER);
    if (sig_len != SF_RELEASE_SIG_LEN)
        return sf_errf(err, "bad signature: %zu bytes, want %d", sig_len, SF_RELEASE_SIG_LEN);
    size_t n;
    uint8_t *b = signed_bytes(version, value, len, &n);
    if (!b)
        return sf_errf(err, "release v%lld: out of memory", (long long)version);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, b, n) == 1;
    EVP_MD_CTX_free(ctx);
    free(b);
    ERR_clear_error();
    return ok ? 0
              : sf_errf(err,
                        "bad signature: not made by the configured key over version %lld "
                        "and these bytes",
                        (long long)version);
}

/* The key as a positive decimal version, strictly ("7", not "07x"). */
static int key_version(const rd_kafka_message_t *m, int64_t *v)
{
    const char *s = m->key;
    if (!s || m->key_len == 0 || m->key_len > 18 || s[0] == '0')
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < m->key_len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

/* The signature header of m: 0, or -1 with "unsigned: no 'signature' header". */
static int sig_header(const rd_kafka_message_t *m, const void **sig, size_t *sig_len, sf_err *err)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, SF_RELEASE_SIG_HEADER, sig, sig_len) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
        return sf_errf(err, "unsigned: no '%s' header", SF_RELEASE_SIG_HEADER);
    return 0;
}

int sf_release_check_message(const sf_release_key *k, const rd_kafka_message_t *m, int64_t *version,
                             sf_err *err)
{
    const void *sig = NULL;
    size_t sig_len = 0;
    if (sig_header(m, &sig, &sig_len, err) != 0)
        return -1;
    int64_t v = 0;
    if (key_version(m, &v) != 0)
        return sf_errf(err, "bad key: a signed release's key is its version in decimal");
    if (sf_release_verify(k, v, m->payload, m->payload ? m->len : 0, sig, sig_len, err) != 0)
        return -1;
    *version = v;
    return 0;
}

int sf_serving_check_message(const sf_release_key *k, const rd_kafka_message_t *m, sf_err *err)
{
    const void *sig = NULL;
    size_t sig_len = 0;
    if (sig_header(m, &sig, &sig_len, err) != 0)
        return -1;
    return sf_release_verify(k, SF_SERVING_SIG_VERSION, m->payload, m->payload ? m->len : 0, sig,
                             sig_len, err);
}
