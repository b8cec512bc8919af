/*
 * fuzz_csv.c - libFuzzer target for the CSV reader (lib/data/csvfile.c: zlib and
 * libcsv, line counting, the header) on arbitrary bytes, plain or gzip (the
 * reader sniffs the gzip magic itself). The input is written to a memfd and
 * opened by its /proc path, the way sf_csv_open_path opens a file. Every row
 * handed out must have NUL-terminated fields of the stated lengths and line
 * numbers that never go back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "satisfy/csvfile.h"

static void read_all(sf_csv *c)
{
    int nc = sf_csv_ncols(c);
    if (nc < 1 || !sf_csv_colname(c, 0) || sf_csv_colname(c, nc))
        abort();
    sf_err err = {{0}};
    sf_csv_column(c, sf_csv_colname(c, nc - 1), &err);
    sf_csv_column(c, "review_id", &err);
    sf_csv_row row;
    long last = 0;
    err.msg[0] = '\0';
    int rc;
    while ((rc = sf_csv_next(c, &row, &err)) == 1) {
        if (row.n < 1 || row.line < last)
            abort();
        last = row.line;
        for (int i = 0; i < row.n; i++)
            if (row.field[i][row.len[i]] != '\0')
                abort();
    }
    if (rc < 0 && !err.msg[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.csv", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    sf_err err = {{0}};
    sf_csv *c = sf_csv_open_path(path, &err);
    if (c) {
        read_all(c);
        sf_csv_close(c);
    } else if (!err.msg[0]) {
        abort();
    }
    close(fd);
    return 0;
}
