/*
 * cmd_keygen.c - `satisfy-retrainer keygen PRIVATE PUBLIC`: makes the
 * Ed25519 key pair that signs releases (release_sign.h). The private key
 * (mode 0600, never overwritten) is the retrainer's --signing-key, the
 * public key the scorers' --verify-key. Equivalent to `openssl genpkey
 * -algorithm ed25519 -out PRIVATE` and `openssl pkey -in PRIVATE -pubout
 * -out PUBLIC`.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "satisfy/cli.h"
#include "satisfy/release_sign.h"

int cmd_keygen(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: satisfy-retrainer keygen PRIVATE.pem PUBLIC.pem\n\n"
               "Writes a new Ed25519 key pair: PRIVATE.pem (mode 0600; refused if it exists)\n"
               "for `run --signing-key`, PUBLIC.pem for `satisfy-scorer --verify-key`.\n");
        return 0;
    }
    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        fprintf(stderr, "usage: satisfy-retrainer keygen PRIVATE.pem PUBLIC.pem\n");
        return SF_CLI_USAGE;
    }
    sf_err err;
    if (sf_release_keygen(argv[1], argv[2], &err) != 0) {
        fprintf(stderr, "satisfy-retrainer keygen: %s\n", err.msg);
        return 1;
    }
    printf("private key %s (give to `run --signing-key`), public key %s (give to "
           "`satisfy-scorer --verify-key`)\n",
           argv[1], argv[2]);
    return 0;
}
