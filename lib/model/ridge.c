/*
 * ridge.c - the linear learners, with GSL: ridge regression of the review
 * score and L2-penalised logistic regression of "dissatisfied" (score <= 2).
 *
 * Inputs are standardised with training statistics; a missing value is
 * imputed with the training mean (standardised 0) and, for each feature that
 * had missing values in training, a standardised missing-indicator column is
 * added. Ridge solves (Z'Z + lambda I) b = Z'(y - mean y) by Cholesky
 * (gsl_linalg_cholesky_decomp1), once per lambda of the grid, and keeps the
 * lambda with the lowest RMSE on the validation rows (the most recent slice
 * of the training window). The logistic model is fitted by IRLS (Newton with
 * the same penalty, intercept unpenalised), each step one Cholesky solve.
 */
#include "model_impl.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sf_linear_free(sf_linear *l)
{
    if (!l)
        return;
    free(l->mean);
    free(l->sd);
    free(l->coef);
    free(l->ind_mean);
    free(l->ind_sd);
    free(l->coef_ind);
    free(l);
}

static sf_linear *linear_new(int d)
{
    sf_linear *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->d = d;
    size_t n = (size_t)(d > 0 ? d : 1);
    l->mean = calloc(n, sizeof(double));
    l->sd = calloc(n, sizeof(double));
    l->coef = calloc(n, sizeof(double));
    l->ind_mean = calloc(n, sizeof(double));
    l->ind_sd = calloc(n, sizeof(double));
    l->coef_ind = calloc(n, sizeof(double));
    if (!l->mean || !l->sd || !l->coef || !l->ind_mean || !l->ind_sd || !l->coef_ind) {
        sf_linear_free(l);
        return NULL;
    }
    return l;
}

/* Standardisation statistics from the training rows. */
static void fit_scaling(sf_linear *l, const sf_examples *ex)
{
    int d = l->d;
    for (int j = 0; j < d; j++) {
        double s = 0, ss = 0;
        size_t k = 0;
        for (size_t i = 0; i < ex->n; i++) {
            float v = ex->x[i * ex->d + (size_t)j];
            if (isnan(v))
                continue;
            s += v;
            k++;
        }
        double mean = k ? s / (double)k : 0;
        for (size_t i = 0; i < ex->n; i++) {
            float v = ex->x[i * ex->d + (size_t)j];
            if (!isnan(v))
                ss += (v - mean) * (v - mean);
        }
        l->mean[j] = mean;
        l->sd[j] = k > 1 && ss > 0 ? sqrt(ss / (double)k) : 0;
        double f = ex->n ? (double)(ex->n - k) / (double)ex->n : 0;
        l->ind_mean[j] = f;
        l->ind_sd[j] = f > 0 && f < 1 ? sqrt(f * (1 - f)) : 0;
    }
}

/* The used columns' standardised values of one row; returns their count. */
static int zrow(const sf_linear *l, const float *row, double *z)
{
    int p = 0;
    for (int j = 0; j < l->d; j++) {
        float v = row[j];
        if (l->sd[j] > 0)
            z[p++] = isnan(v) ? 0 : (v - l->mean[j]) / l->sd[j];
        if (l->ind_sd[j] > 0)
            z[p++] = ((isnan(v) ? 1.0 : 0.0) - l->ind_mean[j]) / l->ind_sd[j];
    }
    return p;
}

static int n_cols(const sf_linear *l)
{
    int p = 0;
    for (int j = 0; j < l->d; j++)
        p += (l->sd[j] > 0) + (l->ind_sd[j] > 0);
    return p;
}

/* Spreads a packed coefficient vector back to coef / coef_ind. */
static void unpack(sf_linear *l, const double *b)
{
    int p = 0;
    for (int j = 0; j < l->d; j++) {
        l->coef[j] = l->sd[j] > 0 ? b[p++] : 0;
        l->coef_ind[j] = l->ind_sd[j] > 0 ? b[p++] : 0;
    }
}

double sf_linear_margin(const sf_linear *l, const float *row)
{
    double m = l->intercept;
    for (int j = 0; j < l->d; j++) {
        float v = row[j];
        if (isnan(v)) {
            if (l->ind_sd[j] > 0)
                m += l->coef_ind[j] * (1 - l->ind_mean[j]) / l->ind_sd[j];
        } else {
            if (l->sd[j] > 0)
                m += l->coef[j] * (v - l->mean[j]) / l->sd[j];
            if (l->ind_sd[j] > 0)
                m += l->coef_ind[j] * (-l->ind_mean[j]) / l->ind_sd[j];
        }
    }
    return m;
}

void sf_linear_contrib(const sf_linear *l, const float *row, double *contrib, double *ind)
{
    for (int j = 0; j < l->d; j++) {
        float v = row[j];
        contrib[j] = !isnan(v) && l->sd[j] > 0 ? l->coef[j] * (v - l->mean[j]) / l->sd[j] : 0;
        ind[j] = l->ind_sd[j] > 0
                     ? l->coef_ind[j] * ((isnan(v) ? 1.0 : 0.0) - l->ind_mean[j]) / l->ind_sd[j]
                     : 0;
    }
}

/* Solves (A + lambda I on the penalised part) b = r; A is p x p (upper
 * triangle filled), first `free_cols` columns unpenalised. */
static int solve_penalised(const double *A, const double *r, int p, double lambda, int free_cols,
                           double *b)
{
    gsl_matrix *m = gsl_matrix_alloc((size_t)p, (size_t)p);
    gsl_vector *v = gsl_vector_alloc((size_t)p), *x = gsl_vector_alloc((size_t)p);
    int rc = -1;
    if (!m || !v || !x)
        goto out;
    for (int i = 0; i < p; i++) {
        for (int j = i; j < p; j++) {
            double a = A[(size_t)i * (size_t)p + (size_t)j];
            gsl_matrix_set(m, (size_t)i, (size_t)j, a);
            gsl_matrix_set(m, (size_t)j, (size_t)i, a);
        }
        double diag = gsl_matrix_get(m, (size_t)i, (size_t)i);
        gsl_matrix_set(m, (size_t)i, (size_t)i, diag + (i >= free_cols ? lambda : 1e-9));
        gsl_vector_set(v, (size_t)i, r[i]);
    }
    if (gsl_linalg_cholesky_decomp1(m) != GSL_SUCCESS)
        goto out;
    if (gsl_linalg_cholesky_solve(m, v, x) != GSL_SUCCESS)
        goto out;
    for (int i = 0; i < p; i++)
        b[i] = gsl_vector_get(x, (size_t)i);
    rc = 0;
out:
    gsl_matrix_free(m);
    gsl_vector_free(v);
    gsl_vector_free(x);
    return rc;
}

static void default_grid(const sf_model_params *p, double *grid, int *n)
{
    if (p->n_lambdas > 0) {
        *n = p->n_lambdas > 16 ? 16 : p->n_lambdas;
        memcpy(grid, p->lambdas, (size_t)*n * sizeof *grid);
        return;
    }
    *n = 0;
    for (double l = 1e-3; l <= 1.01e5; l *= 10)
        grid[(*n)++] = l;
}

int sf_ridge_fit(const sf_examples *train, const sf_examples *valid, const sf_model_params *prm,
                 sf_linear **out, sf_err *err)
{
    gsl_set_error_handler_off();
    if (train->n < 2)
        return sf_errf(err, "ridge: need at least 2 training rows (got %zu)", train->n);
    sf_linear *l = linear_new((int)train->d);
    if (!l)
        return sf_errf(err, "ridge: out of memory");
    fit_scaling(l, train);
    int p = n_cols(l);
    double ybar = 0;
    for (size_t i = 0; i < train->n; i++)
        ybar += train->label[i];
    ybar /= (double)train->n;
    l->intercept = ybar;
    double *A = calloc((size_t)(p ? p : 1) * (size_t)(p ? p : 1), sizeof *A);
    double *r = calloc((size_t)(p ? p : 1), sizeof *r), *b = calloc((size_t)(p ? p : 1), sizeof *b);
    double *best = calloc((size_t)(p ? p : 1), sizeof *best);
    double *z = malloc((size_t)(p ? p : 1) * sizeof *z);
    if (!A || !r || !b || !best || !z) {
        free(A), free(r), free(b), free(best), free(z);
        sf_linear_free(l);
        return sf_errf(err, "ridge: out of memory");
    }
    for (size_t i = 0; i < train->n; i++) {
        zrow(l, train->x + i * train->d, z);
        double y = train->label[i] - ybar;
        for (int a = 0; a < p; a++) {
            double za = z[a];
            if (za == 0)
                continue;
            double *Aa = A + (size_t)a * (size_t)p;
            for (int c = a; c < p; c++)
                Aa[c] += za * z[c];
            r[a] += za * y;
        }
    }
    double grid[16];
    int ng;
    default_grid(prm, grid, &ng);
    const sf_examples *sel = valid && valid->n > 0 ? valid : train;
    double best_rmse = INFINITY, best_lambda = grid[0];
    for (int g = 0; g < ng; g++) {
        if (p > 0 && solve_penalised(A, r, p, grid[g], 0, b) < 0)
            continue;
        unpack(l, b);
        double se = 0;
        for (size_t i = 0; i < sel->n; i++) {
            double e = sf_linear_margin(l, sel->x + i * sel->d) - sel->label[i];
            se += e * e;
        }
        double rmse = sqrt(se / (double)(sel->n ? sel->n : 1));
        if (rmse < best_rmse) {
            best_rmse = rmse;
            best_lambda = grid[g];
            memcpy(best, b, (size_t)p * sizeof *b);
        }
    }
    free(A), free(r), free(b), free(z);
    if (!isfinite(best_rmse)) {
        free(best);
        sf_linear_free(l);
        return sf_errf(err, "ridge: no lambda of the grid gave a solvable system");
    }
    unpack(l, best);
    l->lambda = best_lambda;
    free(best);
    *out = l;
    return 0;
}

int sf_logit_fit(const sf_examples *train, double lambda, sf_linear **out, sf_err *err)
{
    gsl_set_error_handler_off();
    if (train->n < 2)
        return sf_errf(err, "logistic: need at least 2 training rows (got %zu)", train->n);
    sf_linear *l = linear_new((int)train->d);
    if (!l)
        return sf_errf(err, "logistic: out of memory");
    fit_scaling(l, train);
    int p = n_cols(l) + 1; /* column 0: intercept */
    /* the standardised row is recomputed at every iteration rather than
     * kept as an n x p design (8 bytes per cell: 1.3 GB at a million orders) */
    double *Z = malloc((size_t)p * sizeof *Z);
    double *A = malloc((size_t)p * (size_t)p * sizeof *A);
    double *g = malloc((size_t)p * sizeof *g), *b = calloc((size_t)p, sizeof *b);
    double *nb = malloc((size_t)p * sizeof *nb);
    if (!Z || !A || !g || !b || !nb) {
        free(Z), free(A), free(g), free(b), free(nb);
        sf_linear_free(l);
        return sf_errf(err, "logistic: out of memory");
    }
    size_t pos = 0;
    for (size_t i = 0; i < train->n; i++)
        pos += train->label[i] <= 2;
    double prior = ((double)pos + 0.5) / ((double)train->n + 1);
    b[0] = log(prior / (1 - prior));
    int q = p - 1;
    for (int it = 0; it < 25; it++) {
        memset(A, 0, (size_t)p * (size_t)p * sizeof *A);
        /* Newton step for the penalised log-likelihood: solve
         * (Z'WZ + lambda I) b_new = Z'W z_work, z_work = eta + (y - mu) / w */
        memset(g, 0, (size_t)p * sizeof *g);
        for (size_t i = 0; i < train->n; i++) {
            double *zi = Z;
            zrow(l, train->x + i * train->d, zi);
            double eta = b[0];
            for (int c = 0; c < q; c++)
                eta += b[c + 1] * zi[c];
            double mu = sf_sigmoid(eta);
            double w = mu * (1 - mu);
            if (w < 1e-10)
                w = 1e-10;
            double y = train->label[i] <= 2 ? 1.0 : 0.0;
            double work = eta + (y - mu) / w;
            /* row vector x = (1, zi) */
            A[0] += w;
            g[0] += w * work;
            for (int a = 0; a < q; a++) {
                double wa = w * zi[a];
                A[a + 1] += wa; /* A[0][a+1] */
                g[a + 1] += wa * work;
                double *Aa = A + (size_t)(a + 1) * (size_t)p;
                for (int c = a; c < q; c++)
                    Aa[c + 1] += wa * zi[c];
            }
        }
        if (solve_penalised(A, g, p, lambda, 1, nb) < 0) {
            free(Z), free(A), free(g), free(b), free(nb);
            sf_linear_free(l);
            return sf_errf(err, "logistic: singular system at iteration %d", it);
        }
        double delta = 0;
        for (int c = 0; c < p; c++) {
            delta = fmax(delta, fabs(nb[c] - b[c]));
            b[c] = nb[c];
        }
        if (delta < 1e-7)
            break;
    }
    l->intercept = b[0];
    unpack(l, b + 1);
    l->lambda = lambda;
    free(Z), free(A), free(g), free(b), free(nb);
    *out = l;
    return 0;
}

/* ---- serialization: "LIN1", d, intercept, lambda, 6 arrays of d doubles ---- */

int sf_linear_save(const sf_linear *l, uint8_t **buf, size_t *len)
{
    size_t n = 4 + 4 + 16 + 6 * (size_t)l->d * 8;
    uint8_t *p = malloc(n);
    if (!p)
        return -1;
    memcpy(p, "LIN1", 4);
    uint32_t d = (uint32_t)l->d;
    memcpy(p + 4, &d, 4);
    memcpy(p + 8, &l->intercept, 8);
    memcpy(p + 16, &l->lambda, 8);
    const double *arr[6] = {l->mean, l->sd, l->coef, l->ind_mean, l->ind_sd, l->coef_ind};
    for (int k = 0; k < 6; k++)
        memcpy(p + 24 + (size_t)k * (size_t)l->d * 8, arr[k], (size_t)l->d * 8);
    *buf = p;
    *len = n;
    return 0;
}

sf_linear *sf_linear_load(const uint8_t *buf, size_t len, int d, sf_err *err)
{
    if (len < 24 || memcmp(buf, "LIN1", 4) != 0) {
        sf_errf(err, "linear model: corrupt header");
        return NULL;
    }
    uint32_t dd;
    memcpy(&dd, buf + 4, 4);
    if ((int)dd != d || len != 24 + 6 * (size_t)dd * 8) {
        sf_errf(err, "linear model: corrupt (%u inputs, %zu bytes; expected %d inputs)", dd, len,
                d);
        return NULL;
    }
    sf_linear *l = linear_new(d);
    if (!l) {
        sf_errf(err, "linear model: out of memory");
        return NULL;
    }
    memcpy(&l->intercept, buf + 8, 8);
    memcpy(&l->lambda, buf + 16, 8);
    double *arr[6] = {l->mean, l->sd, l->coef, l->ind_mean, l->ind_sd, l->coef_ind};
    for (int k = 0; k < 6; k++)
        memcpy(arr[k], buf + 24 + (size_t)k * (size_t)d * 8, (size_t)d * 8);
    const char *bad = !isfinite(l->intercept)                 ? "intercept"
                      : !isfinite(l->lambda) || l->lambda < 0 ? "lambda"
                                                              : NULL;
    static const char *const names[6] = {"mean",           "sd",           "coefficient",
                                         "indicator mean", "indicator sd", "indicator coefficient"};
    for (int k = 0; k < 6 && !bad; k++)
        for (int j = 0; j < d && !bad; j++)
            if (!isfinite(arr[k][j]) || ((k == 1 || k == 4) && arr[k][j] < 0) ||
                (k == 3 && !(arr[k][j] >= 0 && arr[k][j] <= 1)))
                bad = names[k];
    if (bad) {
        sf_errf(err, "linear model: corrupt (%s out of range or not finite)", bad);
        sf_linear_free(l);
        return NULL;
    }
    return l;
}
