/*
 * datagen_rng.h - the synthetic data generator's random numbers (internal).
 *
 * Our own PRNG instead of rand() or a library one, so output is identical on
 * every platform and build: xoshiro256** streams seeded through splitmix64
 * from (seed, kind, index). Each order, product and seller has its own
 * stream, so its rows do not depend on how many values anything else drew,
 * and a product's attributes can be recomputed whenever it is sold instead
 * of being stored.
 */
#ifndef SATISFY_DATAGEN_RNG_H
#define SATISFY_DATAGEN_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct dg_rng {
    uint64_t s[4];
} dg_rng;

static inline uint64_t dg_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A well-mixed 64-bit value of (seed, kind, index). */
static inline uint64_t dg_hash(uint64_t seed, uint64_t kind, uint64_t index)
{
    uint64_t x = seed;
    uint64_t a = dg_splitmix(&x);
    x = a ^ (kind * 0xd1b54a32d192ed03ULL);
    uint64_t b = dg_splitmix(&x);
    x = b ^ index;
    dg_splitmix(&x);
    return dg_splitmix(&x);
}

static inline void dg_rng_seed(dg_rng *r, uint64_t seed, uint64_t kind, uint64_t index)
{
    uint64_t x = dg_hash(seed, kind, index);
    for (int i = 0; i < 4; i++)
        r->s[i] = dg_splitmix(&x);
}

static inline uint64_t dg_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t dg_next(dg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = dg_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = dg_rotl(s[3], 45);
    return out;
}

/* Uniform in (0, 1), never 0 or 1. */
static inline double dg_unif(dg_rng *r)
{
    return ((double)(dg_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n). */
static inline uint64_t dg_below(dg_rng *r, uint64_t n)
{
    return (uint64_t)(dg_unif(r) * (double)n) % n;
}

static inline double dg_normal(dg_rng *r)
{
    double u = dg_unif(r), v = dg_unif(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static inline double dg_lognormal(dg_rng *r, double median, double sigma)
{
    return median * exp(sigma * dg_normal(r));
}

static inline double dg_exponential(dg_rng *r, double mean)
{
    return -mean * log(dg_unif(r));
}

static inline double dg_logistic(dg_rng *r)
{
    double u = dg_unif(r);
    return log(u / (1.0 - u));
}

/* Index of the first cdf[i] > u * cdf[n-1] (cdf cumulative, non-decreasing). */
static inline int dg_pick(dg_rng *r, const double *cdf, int n)
{
    double u = dg_unif(r) * cdf[n - 1];
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Index drawn with probability proportional to w[i] (raw weights, small n). */
static inline int dg_pick_w(dg_rng *r, const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    double u = dg_unif(r) * total;
    for (int i = 0; i < n - 1; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}

#endif
