/*
 * model_impl.h - the inside of sf_model, shared by model.c (training
 * dispatch, probability, prediction), ridge.c, gbdt.c (XGBoost: training,
 * and the booster turned into our forest section), trees.c (our own tree
 * representation: its validated section, prediction and path attribution)
 * and artifact.c. Private to lib/.
 */
#ifndef SATISFY_MODEL_IMPL_H
#define SATISFY_MODEL_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "satisfy/model.h"

/* A linear model on standardised inputs with mean imputation and missing
 * indicators: margin = intercept + sum_j coef[j] * (x_j' - mean[j]) / sd[j]
 * + sum_j coef_ind[j] * (isnan(x_j) - ind_mean[j]) / ind_sd[j], where x_j' is
 * x_j with NaN replaced by mean[j]. sd or ind_sd == 0 means "not used". */
typedef struct sf_linear {
    int d;
    double intercept;
    double *mean, *sd, *coef;             /* d each */
    double *ind_mean, *ind_sd, *coef_ind; /* d each */
    double lambda;
} sf_linear;

/* One node of our flattened trees, 20 bytes. The two children of a split are
 * adjacent (right = left + 1); a leaf loops to itself (left = itself) so that
 * every row of a block takes the same number of steps per tree (trees.c walks
 * level by level, with no branch on the path).
 *
 * A step compares integers, not floats: trees.c maps each input value to an
 * order-preserving 32-bit key (sf_tkey) and gives every row two key arrays,
 * one where a missing value is the largest key and one, shifted by one,
 * where it is the smallest. A split reads the array that sends a missing
 * value its default way and goes right when key >= thr; so one unsigned
 * compare does XGBoost's "left when x < threshold, missing by the default
 * direction". A leaf reads a slot that is always 0 against thr = UINT32_MAX,
 * so it stays where it is.
 *
 * d[] are the path-attribution credits of the two steps out of a split,
 * E[child] - E[node] (E = expected value), kept in the parent so a step
 * loads no child; a step credits d[right] to the contribution slot of the
 * key it read (folded back to the feature after the walk). A leaf holds its
 * value in d[0] (credited to the unused slot of the always-0 key). */
typedef struct sf_tnode {
    uint32_t thr; /* split: right when key >= thr; leaf: UINT32_MAX */
    uint32_t key; /* the key slot read: feature, or n_features + feature
                     (missing goes left), or 2 * n_features (a leaf) */
    int32_t left; /* left child (the right one follows it); a leaf: itself */
    float d[2];   /* split: E[child] - E[node], left and right; leaf: value, 0 */
} sf_tnode;

/* The order-preserving key of an input value (sf_tnode): a < b exactly when
 * sf_tkey(a) < sf_tkey(b), -0 and +0 equal, and a missing value (NaN) is
 * UINT32_MAX, above every number (+inf is 0xff800000). */
static inline uint32_t sf_tkey(float v)
{
    float c = v + 0.0f; /* -0 becomes +0; NaN stays NaN */
    uint32_t b;
    memcpy(&b, &c, sizeof b);
    uint32_t nan = (b & 0x7fffffffu) > 0x7f800000u;
    /* negative: all bits flipped (larger magnitude, smaller key); positive:
     * the sign bit set (above every negative) */
    uint32_t key = b ^ ((0u - (b >> 31)) | 0x80000000u);
    return key | (0u - nan);
}

typedef struct sf_forest {
    int n_trees, n_features;
    int32_t *root;  /* n_trees */
    uint8_t *depth; /* n_trees: edges on the longest root-leaf path */
    sf_tnode *nodes;
    size_t n_nodes;
    double base_margin; /* added to the sum of leaves */
    double bias;        /* base_margin + sum of root expectations */
    int logistic;       /* 1: output = sigmoid(margin) */
} sf_forest;

/* One node of a forest section as the trainer hands it to sf_forest_write
 * (trees.c has the byte format). Ids are per tree, the root is 0. */
typedef struct sf_rawnode {
    int32_t left, right;  /* children's ids; left < 0: a leaf */
    uint32_t feature;     /* split feature */
    uint8_t default_left; /* a missing value goes left */
    float value;          /* split: threshold (left when x < value); leaf: value */
    double cover;         /* XGBoost's sum_hessian */
} sf_rawnode;

/* The most trees a forest section may hold (400 rounds by default). */
#define SF_FOREST_MAX_TREES 100000

struct sf_model {
    sf_model_info info;
    sf_model_params params;
    char *metrics_json;
    sf_history *hist;
    /* probability by calibration: p = sigmoid(cal_a + cal_b * score) */
    double cal_a, cal_b;
    /* ridge */
    sf_linear *lin, *lin_p;
    /* gbdt: our forest sections (what the artifact ships, TRES / TREP) and
     * the trees built from them; the XGBoost UBJSON only in a model trained
     * in this process (for sf_model_predict_xgboost; never saved) */
    uint8_t *tres, *tres_p;
    size_t tres_len, tres_p_len;
    sf_forest *forest, *forest_p;
    uint8_t *ubj, *ubj_p;
    size_t ubj_len, ubj_p_len;
};

/* ridge.c */
void sf_linear_free(sf_linear *l);
/* Fits the score model (lambda chosen on valid) into *out. */
int sf_ridge_fit(const sf_examples *train, const sf_examples *valid, const sf_model_params *p,
                 sf_linear **out, sf_err *err);
/* Fits L2 logistic regression of (label <= 2) with the given lambda. */
int sf_logit_fit(const sf_examples *train, double lambda, sf_linear **out, sf_err *err);
double sf_linear_margin(const sf_linear *l, const float *row);
void sf_linear_contrib(const sf_linear *l, const float *row, double *contrib, double *ind);
int sf_linear_save(const sf_linear *l, uint8_t **buf, size_t *len);
sf_linear *sf_linear_load(const uint8_t *buf, size_t len, int d, sf_err *err);

/* gbdt.c: trains n_obj objectives with XGBoost on one pair of matrices
 * (objective 0 the review score, 1 the 1-2 star label); returns per
 * objective the UBJSON of the kept rounds and their count. */
int sf_gbdt_fit(const sf_examples *train, const sf_examples *valid, const sf_model_params *p,
                int n_obj, uint8_t **ubj, size_t *ubj_len, int *rounds, sf_err *err);
/* Our forest section (TRES / TREP bytes, malloc'd) of a booster's UBJSON,
 * via XGBoost's JSON dump. XGBoost parses the UBJSON: only for boosters
 * this process trained or its own registry stored, never release bytes. */
int sf_gbdt_trees(const uint8_t *ubj, size_t len, int n_features, uint8_t **out, size_t *out_len,
                  sf_err *err);
/* Predicts with XGBoost itself (tests and benchmarks): margin or output. */
int sf_gbdt_xgb_predict(const uint8_t *ubj, size_t len, const float *x, size_t n, size_t d,
                        int nthread, float *out, sf_err *err);

/* trees.c */
/* Reads and validates a forest section (format in trees.c): n_features
 * must be the spec's, logistic the expected objective (0 score, 1 p). */
sf_forest *sf_forest_read(const uint8_t *buf, size_t len, int n_features, int logistic,
                          sf_err *err);
/* Writes a forest section of n_trees trees, tree t being the next sizes[t]
 * entries of nodes. Returns 0 or -1. */
int sf_forest_write(int n_features, int logistic, double base_score, int n_trees, const int *sizes,
                    const sf_rawnode *nodes, uint8_t **out, size_t *len, sf_err *err);
void sf_forest_free(sf_forest *f);
/* margins of n rows */
void sf_forest_margin(const sf_forest *f, const float *x, size_t n, size_t d, double *out);
/* Saabas path attribution of n rows: margin[n], contrib[n * d] (zeroed
 * first). */
void sf_forest_contrib_block(const sf_forest *f, const float *x, size_t n, size_t d, double *margin,
                             double *contrib);

/* model.c */
sf_model *sf_model_alloc(void);
/* Scores a row of zeros, one of missing values and one of ones: 0 when
 * every score is in [1,5], every p in [0,1] and every reason finite, else
 * -1 with err set ("model probe: ..."). */
int sf_model_probe(const sf_model *m, sf_err *err);
double sf_sigmoid(double z);

#endif
