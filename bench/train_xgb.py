#!/usr/bin/python3
"""train_xgb.py - the baseline of bench_train.sh: the same GBDT training as
satisfy's C path, through Debian's python3-xgboost, on the matrix bench_train
exported from our features.

Reads DIR/train.f32, valid.f32 (float32 row-major, NaN = missing), their
.label.f32 files and params.json (written by bench_train). For each run it
does what sf_model_train(SF_ALGO_GBDT) does in XGBoost: for the score
objective (reg:squarederror) and the 1-2 star objective (binary:logistic),
build the train and validation DMatrix (nthread threads, missing = NaN),
boost exactly `rounds` trees with the validation rows evaluated every round,
and keep the best round. Only that is timed: reading the files and importing
xgboost are not (nor is our feature building on the other side).

Prints one line of key=value pairs: train_s per run, then the best
validation RMSE and its tree count and the 1-2 star model's AUC at its best
round, to check against the C side.
With "quantile" as third argument the training rows go in as an
xgb.QuantileDMatrix (bins only, no CSR copy), as lib/model/gbdt.c does; the
validation rows stay a DMatrix on both sides.
Usage: /usr/bin/python3 train_xgb.py DIR [runs] [quantile]
Must run with OMP_WAIT_POLICY=passive in the environment from the start.
"""
import json
import os
import sys
import time

import numpy as np
import xgboost as xgb


def load(d, name, n, cols):
    x = np.fromfile(os.path.join(d, name + ".f32"), dtype=np.float32)
    y = np.fromfile(os.path.join(d, name + ".label.f32"), dtype=np.float32)
    if x.size != n * cols or y.size != n:
        sys.exit("train_xgb.py: %s: expected %d rows of %d" % (name, n, cols))
    return x.reshape(n, cols), y


def auc(score, pos):
    """AUC with ties counted as one half (average ranks)."""
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s), dtype=np.float64)
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2.0 + 1
        i = j + 1
    r = np.empty_like(ranks)
    r[order] = ranks
    npos = int(pos.sum())
    nneg = len(pos) - npos
    return (r[pos].sum() - npos * (npos + 1) / 2.0) / (npos * nneg)


def fit(params, xtr, ytr, xva, yva, rounds, nthread, quantile=False):
    """One objective, as lib/model/gbdt.c sf_gbdt_fit: returns (booster, best round, history)."""
    if quantile:
        dtr = xgb.QuantileDMatrix(
            xtr, label=ytr, missing=np.nan, nthread=nthread, max_bin=params["max_bin"]
        )
    else:
        dtr = xgb.DMatrix(xtr, label=ytr, missing=np.nan, nthread=nthread)
    dva = xgb.DMatrix(xva, label=yva, missing=np.nan, nthread=nthread)
    hist = {}
    b = xgb.train(
        params,
        dtr,
        num_boost_round=rounds,
        evals=[(dva, "valid")],
        evals_result=hist,
        verbose_eval=False,
    )
    curve = hist["valid"][params["eval_metric"]]
    best = int(np.argmin(curve))
    return b, best, curve


def main():
    d = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    quantile = len(sys.argv) > 3 and sys.argv[3] == "quantile"
    if os.environ.get("OMP_WAIT_POLICY", "").lower() != "passive":
        sys.exit("train_xgb.py: run with OMP_WAIT_POLICY=passive in the environment")
    with open(os.path.join(d, "params.json")) as f:
        meta = json.load(f)
    cols, rounds, nthread = meta["d"], meta["rounds"], meta["nthread"]
    xtr, ytr = load(d, "train", meta["n_train"], cols)
    xva, yva = load(d, "valid", meta["n_valid"], cols)
    btr = (ytr <= 2).astype(np.float32)
    bva = (yva <= 2).astype(np.float32)
    out = ["xgboost=%s" % xgb.__version__]
    for r in range(runs):
        t0 = time.perf_counter()
        bs, best_s, curve_s = fit(meta["score"], xtr, ytr, xva, yva, rounds, nthread, quantile)
        bb, best_b, _ = fit(meta["binary"], xtr, btr, xva, bva, rounds, nthread, quantile)
        # keep the best rounds, as sf_gbdt_fit slices the booster
        bs = bs[: best_s + 1]
        bb = bb[: best_b + 1]
        out.append("train_s=%.3f" % (time.perf_counter() - t0))
    dva = xgb.DMatrix(xva, missing=np.nan, nthread=nthread)
    p = bb.predict(dva)
    out.append(
        "trees=%d valid_rmse=%.6f valid_auc_binary=%.6f"
        % (best_s + 1, curve_s[best_s], auc(p.astype(np.float64), bva > 0.5))
    )
    print(" ".join(out))


if __name__ == "__main__":
    main()
