/*
 * test_release_sign.c - Ed25519 release signatures (release_sign.h): a good
 * signature verifies; the wrong key, a flipped byte of the value or of the
 * signature, a missing or short signature and the same bytes presented as
 * another version (a replayed old release posing as new) are refused; keys
 * that are not Ed25519, a public key used to sign and keygen over an
 * existing file are refused with a clear reason.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "satisfy/release_sign.h"

typedef struct keys {
    char *dir;
    char priv[512], pub[512], priv2[512], pub2[512];
} keys;

static int setup(void **state)
{
    keys *k = calloc(1, sizeof *k);
    k->dir = tu_mkdtemp();
    snprintf(k->priv, sizeof k->priv, "%s/a.key", k->dir);
    snprintf(k->pub, sizeof k->pub, "%s/a.pub", k->dir);
    snprintf(k->priv2, sizeof k->priv2, "%s/b.key", k->dir);
    snprintf(k->pub2, sizeof k->pub2, "%s/b.pub", k->dir);
    sf_err err;
    if (sf_release_keygen(k->priv, k->pub, &err) || sf_release_keygen(k->priv2, k->pub2, &err))
        fail_msg("keygen: %s", err.msg);
    *state = k;
    return 0;
}

static int teardown(void **state)
{
    keys *k = *state;
    tu_rmtree(k->dir);
    free(k->dir);
    free(k);
    return 0;
}

static void test_sign_verify(void **state)
{
    keys *k = *state;
    sf_err err;
    sf_release_key *sk = sf_release_key_load(k->priv, 1, &err);
    sf_release_key *pk = sf_release_key_load(k->pub, 0, &err);
    sf_release_key *other = sf_release_key_load(k->pub2, 0, &err);
    assert_non_null(sk);
    assert_non_null(pk);
    assert_non_null(other);
    uint8_t value[300];
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (uint8_t)(i * 7);
    uint8_t sig[SF_RELEASE_SIG_LEN];
    assert_int_equal(sf_release_sign(sk, 3, value, sizeof value, sig, &err), 0);

    /* good: by the public key and by the private key itself */
    assert_int_equal(sf_release_verify(pk, 3, value, sizeof value, sig, sizeof sig, &err), 0);
    assert_int_equal(sf_release_verify(sk, 3, value, sizeof value, sig, sizeof sig, &err), 0);
    /* wrong key */
    assert_int_equal(sf_release_verify(other, 3, value, sizeof value, sig, sizeof sig, &err), -1);
    assert_non_null(strstr(err.msg, "bad signature"));
    /* replayed: the same signed bytes presented as a newer version */
    assert_int_equal(sf_release_verify(pk, 4, value, sizeof value, sig, sizeof sig, &err), -1);
    assert_non_null(strstr(err.msg, "bad signature"));
    /* every flipped byte of the value, and of the signature, is refused */
    for (size_t i = 0; i < sizeof value; i++) {
        value[i] ^= 0x01;
        assert_int_equal(sf_release_verify(pk, 3, value, sizeof value, sig, sizeof sig, &err), -1);
        value[i] ^= 0x01;
    }
    for (size_t i = 0; i < sizeof sig; i++) {
        sig[i] ^= 0x80;
        assert_int_equal(sf_release_verify(pk, 3, value, sizeof value, sig, sizeof sig, &err), -1);
        sig[i] ^= 0x80;
    }
    /* truncated value, short signature, no signature */
    assert_int_equal(sf_release_verify(pk, 3, value, sizeof value - 1, sig, sizeof sig, &err), -1);
    assert_int_equal(sf_release_verify(pk, 3, value, sizeof value, sig, sizeof sig - 1, &err), -1);
    assert_non_null(strstr(err.msg, "63 bytes, want 64"));
    assert_int_equal(sf_release_verify(pk, 3, value, sizeof value, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "unsigned: no 'signature' header"));
    /* still good after all that */
    assert_int_equal(sf_release_verify(pk, 3, value, sizeof value, sig, sizeof sig, &err), 0);
    /* a public key cannot sign */
    assert_int_equal(sf_release_sign(pk, 3, value, sizeof value, sig, &err), -1);
    assert_non_null(strstr(err.msg, "signing needs a private key"));
    sf_release_key_free(sk);
    sf_release_key_free(pk);
    sf_release_key_free(other);
}

static void test_bad_keys(void **state)
{
    keys *k = *state;
    sf_err err;
    char path[600];
    /* a public key file where a private key is wanted, and a missing file */
    assert_null(sf_release_key_load(k->pub, 1, &err));
    assert_non_null(strstr(err.msg, "not a PEM private key"));
    snprintf(path, sizeof path, "%s/missing.pub", k->dir);
    assert_null(sf_release_key_load(path, 0, &err));
    assert_non_null(strstr(err.msg, "No such file"));
    /* an EC key: PEM, but not Ed25519 */
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(ec);
    snprintf(path, sizeof path, "%s/ec.pub", k->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, ec), 1);
    fclose(f);
    EVP_PKEY_free(ec);
    assert_null(sf_release_key_load(path, 0, &err));
    assert_non_null(strstr(err.msg, "not an Ed25519 key"));
    /* keygen never overwrites, and the private key is private */
    assert_int_equal(sf_release_keygen(k->priv, path, &err), -1);
    assert_non_null(strstr(err.msg, "File exists"));
    struct stat st;
    assert_int_equal(stat(k->priv, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
