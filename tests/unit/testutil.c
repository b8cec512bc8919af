/*
 * testutil.c - helpers shared by the unit tests (see testutil.h).
 */
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "satisfy/train.h"

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/satisfy-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

void tu_rmtree(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

void tu_write(const char *dir, const char *name, const char *data, size_t len, int gz)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (len == (size_t)-1)
        len = strlen(data);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (len)
            assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        if (len)
            assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
}

const char *tu_olist_dir(void)
{
    const char *d = getenv("OLIST_DIR");
    return d && *d ? d : NULL;
}

const char *tu_source_dir(void)
{
    const char *d = getenv("SATISFY_SOURCE_DIR");
    return d && *d ? d : ".";
}

void tu_dataset_load(sf_dataset *ds, const char *dir)
{
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    sf_load_opts o = {.report = devnull};
    sf_err err;
    int rc = sf_dataset_load(ds, dir, &o, &err);
    fclose(devnull);
    if (rc != 0)
        fail_msg("loading %s: %s", dir, err.msg);
}

void tu_real_examples(const char *dir, sf_dataset *ds, sf_examples *ex, sf_history **h)
{
    tu_dataset_load(ds, dir);
    sf_err err;
    if (sf_train_rows_of_dataset(ex, ds, sf_spec_full(), SF_TIME_NONE, SF_TIME_NONE, h, &err) != 0)
        fail_msg("examples of %s: %s", dir, err.msg);
}

static uint64_t rng_state = 88172645463325252ULL;

double tu_urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

void tu_synth_examples(sf_examples *ex, size_t n, double noise)
{
    memset(ex, 0, sizeof *ex);
    ex->spec = sf_spec_seed();
    ex->d = 12;
    ex->n = n;
    ex->x = malloc(n * 12 * sizeof *ex->x);
    ex->label = malloc(n * sizeof *ex->label);
    ex->stage = malloc(n * sizeof *ex->stage);
    ex->purchase = malloc(n * sizeof *ex->purchase);
    ex->event_time = malloc(n * sizeof *ex->event_time);
    ex->order = malloc(n * sizeof *ex->order);
    for (size_t i = 0; i < n; i++) {
        float *r = ex->x + i * 12;
        for (int j = 0; j < 12; j++)
            r[j] = (float)(tu_urand() * 4 - 2);
        if (tu_urand() < 0.2)
            r[2] = NAN;
        double y = 3.2 + 0.8 * r[0] - 0.5 * r[1] + (isnan(r[2]) ? -0.7 : 0) +
                   noise * (tu_urand() - 0.5) * 3.4;
        y = floor(y + 0.5);
        ex->label[i] = (float)(y < 1 ? 1 : y > 5 ? 5 : y);
        ex->stage[i] = SF_STAGE_PURCHASED;
        ex->purchase[i] = ex->event_time[i] = (int64_t)i;
        ex->order[i] = i;
    }
}

static void place_eq(const sf_place *a, const sf_place *b, tu_double_eq same_opt)
{
    assert_string_equal(a->zip, b->zip);
    assert_string_equal(a->city, b->city);
    assert_string_equal(a->state, b->state);
    assert_true(same_opt(a->lat, b->lat));
    assert_true(same_opt(a->lng, b->lng));
}

void tu_assert_order_eq(const sf_order_event *a, const sf_order_event *b, tu_double_eq same,
                        tu_double_eq same_opt)
{
    assert_string_equal(a->order_id, b->order_id);
    assert_string_equal(a->customer_id, b->customer_id);
    assert_string_equal(a->customer_unique_id, b->customer_unique_id);
    assert_int_equal(a->stage, b->stage);
    assert_true(a->event_time == b->event_time && a->purchase == b->purchase &&
                a->estimated == b->estimated && a->approved == b->approved &&
                a->carrier == b->carrier && a->delivered == b->delivered);
    place_eq(&a->customer, &b->customer, same_opt);
    assert_int_equal(a->n_items, b->n_items);
    assert_int_equal(a->n_payments, b->n_payments);
    for (int i = 0; i < a->n_items; i++) {
        const sf_item *x = &a->items[i], *y = &b->items[i];
        assert_int_equal(x->seq, y->seq);
        assert_string_equal(x->product_id, y->product_id);
        assert_string_equal(x->seller_id, y->seller_id);
        assert_true(same(x->price, y->price) && same(x->freight, y->freight));
        assert_true(x->shipping_limit == y->shipping_limit);
        assert_string_equal(x->category, y->category);
        assert_true(same_opt(x->name_len, y->name_len) && same_opt(x->desc_len, y->desc_len) &&
                    same_opt(x->photos, y->photos) && same_opt(x->weight_g, y->weight_g) &&
                    same_opt(x->length_cm, y->length_cm) && same_opt(x->height_cm, y->height_cm) &&
                    same_opt(x->width_cm, y->width_cm));
        place_eq(&x->seller, &y->seller, same_opt);
    }
    for (int i = 0; i < a->n_payments; i++) {
        const sf_payment *x = &a->payments[i], *y = &b->payments[i];
        assert_int_equal(x->seq, y->seq);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->installments, y->installments);
        assert_true(same(x->value, y->value));
    }
}

void tu_run(const char *fmt, ...)
{
    const char *bin = getenv("SATISFY_BIN_DIR");
    if (!bin)
        fail_msg("SATISFY_BIN_DIR is not set (run through ctest)");
    char cmd[4096], args[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s/%s", bin, args);
    if (system(cmd) != 0)
        fail_msg("failed: %s", cmd);
}
