/*
 * fuzz_http_invocations.c - libFuzzer target for the body of POST
 * /invocations (sf_http_mlflow_rows, lib/http/http_mlflow.c) in its four MLflow
 * formats (dataframe_split, dataframe_records, instances, inputs), against
 * the full feature spec. The input is the body as the server hands it to the
 * route: bodies with a NUL byte or nested deeper than SF_HTTP_MAX_DEPTH never
 * get there (lib/http/http.c), so they stop at those checks too. A body that
 * parses must give 1..SF_HTTP_MAX_ROWS rows of finite values or NaN
 * (missing); one that does not must say why.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_body.h"
#include "http_impl.h"
#include "satisfy/features.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = route_body(data, size);
    if (!body)
        return 0;
    const sf_feature_spec *spec = sf_spec_full();
    float *x = NULL;
    size_t n = 0;
    const char *code = NULL;
    char msg[256] = "";
    if (sf_http_mlflow_rows(spec, body, size, &x, &n, &code, msg, sizeof msg) == 0) {
        if (n < 1 || n > SF_HTTP_MAX_ROWS || !x)
            abort();
        for (size_t i = 0; i < n * (size_t)spec->n; i++)
            if (isinf(x[i]))
                abort();
        free(x);
    } else if (x || !code || !msg[0]) {
        abort();
    }
    free(body);
    return 0;
}
