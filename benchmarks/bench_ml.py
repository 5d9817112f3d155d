"""Benchmark: featurising + grouped 5-fold CV of 5 000 rows with the random forest.

Target (issue 13): under a minute on 2 cores. 1 250 synthetic lithium oxide glasses (1 194
distinct reduced formulas; Li2O with one former and one modifier oxide, 17 elements) × 4
temperatures, a known law plus noise. Reported: wall times of the featurisation (cold caches) and of
``cross_validate`` (each fold fits the model and its K = 5 CV+ calibration forests), and,
as a ratio within this run, the CV against plain scikit-learn ``cross_val_score`` of the
same forest on the same features and folds (no intervals): the price of the intervals.

    python benchmarks/bench_ml.py [--rows 5000] [--kinds random_forest xgboost sisso]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import pandas as pd

FORMERS = ["SiO2", "GeO2", "P2O5", "Al2O3", "B2O3", "TiO2", "ZrO2"]
MODIFIERS = ["Na2O", "K2O", "CaO", "MgO", "ZnO", "BaO", "SrO"]
TEMPERATURES = (1000.0, 1500.0, 2000.0, 2500.0)


def table(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic glasses: log10 D = −2.5 − 1.5·(1 − 2 x_Li)·1000/T − 0.3·n_mod/n + ε."""
    rng = np.random.default_rng(seed)
    n_comp = n_rows // len(TEMPERATURES)
    formulas, seen = [], set()
    for a, b, c, f, m in itertools.product(
        range(1, 6), range(1, 7), range(0, 4), FORMERS, MODIFIERS
    ):
        name = f"(Li2O){a}({f}){b}" + (f"({m}){c}" if c else "")
        if name not in seen:
            seen.add(name)
            formulas.append((name, a, b, c))
        if len(formulas) == n_comp:
            break
    rows = []
    for formula, a, b, c in formulas:
        x = a / (a + b + c)
        for t in TEMPERATURES:
            y = -2.5 - 1.5 * (1 - 2 * x / 3) * 1000 / t - 0.3 * c / (a + b + c)
            rows.append((formula, t, y + rng.normal(0, 0.1)))
    return pd.DataFrame(rows, columns=["formula", "temperature_K", "log10_D"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--kinds", nargs="+", default=["random_forest"])
    args = parser.parse_args()

    from sklearn.model_selection import cross_val_score

    from amorphdb.ml import DiffusivityModel, cross_validate, featurize, make_folds
    from amorphdb.ml.features import _composition_row, elements_of
    from amorphdb.ml.models import _estimator, parse_kind

    data = table(args.rows)
    print(f"{len(data)} rows, {data['formula'].nunique()} compositions")
    elements_of.cache_clear()
    _composition_row.cache_clear()
    t0, c0 = time.perf_counter(), time.process_time()
    X = featurize(data)
    t_feat, c_feat = time.perf_counter() - t0, time.process_time() - c0
    print(f"featurise: {t_feat:.2f} s ({X.shape[1]} features)")
    print(
        "| model | featurise (s) | grouped 5-fold CV (s) | total wall (s) | total CPU (s) "
        "| R² | coverage |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind in args.kinds:
        elements_of.cache_clear()
        _composition_row.cache_clear()
        t0, c0 = time.perf_counter(), time.process_time()
        report = cross_validate(DiffusivityModel(kind=kind), data, n_splits=5, seed=0)
        t_cv, c_cv = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"| {kind} | {t_feat:.1f} | {t_cv:.1f} | {t_feat + t_cv:.1f} | {c_feat + c_cv:.1f} "
            f"| {report.r2:.3f} | {report.coverage:.3f} |"
        )
    folds = make_folds(data, 5, 0, "formula")
    est = _estimator(parse_kind("random_forest"), 0, -1, len(data))
    t0 = time.perf_counter()
    cross_val_score(est, X.fillna(X.median()).to_numpy(), data["log10_D"], cv=folds)
    t_plain = time.perf_counter() - t0
    print(
        f"plain scikit-learn cross_val_score, same forest and folds, no intervals: "
        f"{t_plain:.1f} s; amorphdb CV with CV+ intervals costs {t_cv / t_plain:.1f}× that"
        if "random_forest" in args.kinds
        else f"plain cross_val_score: {t_plain:.1f} s"
    )


if __name__ == "__main__":
    main()
