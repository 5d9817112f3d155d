"""Cross-validation of a :class:`~amorphdb.ml.models.DiffusivityModel`, grouped by composition.

The temperatures of one glass are strongly correlated; a split that puts 1000 K of a glass
in training and 1500 K in the test set measures interpolation along an Arrhenius line, not
prediction for a new composition. Splits are therefore grouped by reduced formula by
default (``group_by="formula"``), or by chemical system (``"chemsys"``: no Li–Si–O glass on
both sides); ``group_by=None`` gives the ordinary shuffled K-fold, which shows the leakage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from amorphdb.ml.columns import FORMULA, TARGET, TEMPERATURE, DataError, check_table
from amorphdb.ml.features import group_labels
from amorphdb.ml.models import DiffusivityModel, _grouped_folds


@dataclass
class CVReport:
    """Held-out scores on log10 D (cm²/s).

    Attributes
    ----------
    r2, mae, rmse
        Coefficient of determination, mean absolute and root-mean-square error of the
        held-out predictions (log10 units: mae = 0.3 is a factor 2 in D).
    coverage
        Fraction of held-out rows inside their 90 % interval.
    folds
        ``(train_rows, test_rows)`` position arrays, one pair per fold.
    predictions
        The held-out predictions: ``formula``, ``temperature_K``, ``log10_D`` (observed),
        ``predicted``, ``low``, ``high``, ``fold``.
    """

    kind: str
    group_by: str | None
    n_splits: int
    r2: float
    mae: float
    rmse: float
    coverage: float
    folds: list[tuple[np.ndarray, np.ndarray]]
    predictions: pd.DataFrame

    def summary(self) -> dict[str, object]:
        """The scores as a plain dict (for JSON and tables)."""
        return {
            "kind": self.kind,
            "group_by": self.group_by or "none",
            "n_splits": self.n_splits,
            "r2": round(self.r2, 4),
            "mae": round(self.mae, 4),
            "rmse": round(self.rmse, 4),
            "coverage": round(self.coverage, 4),
            "n_rows": len(self.predictions),
        }


def make_folds(
    data: pd.DataFrame, n_splits: int = 5, seed: int = 0, group_by: str | None = "formula"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds of the table's rows; with ``group_by`` no group is on both sides.

    Raises
    ------
    DataError
        ``n_splits`` < 2, or fewer groups (compositions) or rows than folds.
    """
    from sklearn.model_selection import KFold

    if n_splits < 2:
        raise DataError(f"n_splits must be >= 2, got {n_splits}")
    groups = group_labels(data, group_by)
    if groups is None:
        if len(data) < n_splits:
            raise DataError(f"data has {len(data)} rows, fewer than n_splits={n_splits} folds")
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return list(splitter.split(np.arange(len(data))))
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        what = "compositions" if group_by == "formula" else "chemical systems"
        raise DataError(
            f"data has {n_groups} {what}, fewer than n_splits={n_splits} folds; use fewer "
            "folds (--n-splits) or more compositions"
        )
    return _grouped_folds(groups, n_splits, seed)


def cross_validate(
    model: DiffusivityModel,
    data: pd.DataFrame,
    n_splits: int = 5,
    seed: int = 0,
    group_by: str | None = "formula",
    progress: Callable[[int, int], None] | None = None,
) -> CVReport:
    """K-fold cross-validation of a fresh copy of ``model`` on ``data``.

    Parameters
    ----------
    model
        Its settings (kind, seed, intervals) are copied; it is not fitted or changed.
    data
        Table with ``formula``, ``temperature_K`` and ``log10_D``.
    n_splits, seed
        Number of folds and the seed of the fold assignment.
    group_by
        ``"formula"`` (reduced formula, default), ``"chemsys"`` or None (ungrouped).
    progress
        Called with (folds done, folds) after each fold.

    Returns
    -------
    CVReport
        r2, mae, rmse on log10 D, coverage of the 90 % intervals, the folds and the
        held-out predictions.
    """
    data = check_table(data, fit=True, min_rows=2)
    folds = make_folds(data, n_splits, seed, group_by)
    y = data[TARGET].to_numpy(float)
    pred = np.full(len(y), np.nan)
    low, high = pred.copy(), pred.copy()
    fold_of = np.full(len(y), -1)
    for i, (tr, te) in enumerate(folds):
        m = dataclasses.replace(model).fit(data.iloc[tr])
        out = m.predict(data.iloc[te])
        pred[te] = out[TARGET].to_numpy()
        low[te] = out["log10_D_low"].to_numpy()
        high[te] = out["log10_D_high"].to_numpy()
        fold_of[te] = i
        if progress is not None:
            progress(i + 1, len(folds))
    resid = y - pred
    ss_tot = float(((y - y.mean()) ** 2).sum())
    table = pd.DataFrame(
        {
            FORMULA: data[FORMULA].to_numpy(),
            TEMPERATURE: data[TEMPERATURE].to_numpy(float),
            TARGET: y,
            "predicted": pred,
            "low": low,
            "high": high,
            "fold": fold_of,
        }
    )
    return CVReport(
        kind=str(getattr(model.kind, "value", model.kind)),
        group_by=group_by,
        n_splits=n_splits,
        r2=1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else float("nan"),
        mae=float(np.abs(resid).mean()),
        rmse=float(np.sqrt((resid**2).mean())),
        coverage=float(((y >= low) & (y <= high)).mean()),
        folds=folds,
        predictions=table,
    )


def learning_curve(
    model: DiffusivityModel,
    data: pd.DataFrame,
    fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0),
    n_splits: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Grouped CV error against the number of training compositions.

    For each fold of a grouped K-fold, the model is trained on a random ``fraction`` of
    the training compositions (at least 2) and scored on the held-out fold.

    Returns
    -------
    pandas.DataFrame
        ``fraction``, ``n_train_compositions`` (mean over folds), ``mae``, ``rmse``.
    """
    data = check_table(data, fit=True, min_rows=2)
    groups = group_labels(data, "formula")
    folds = make_folds(data, n_splits, seed, "formula")
    y = data[TARGET].to_numpy(float)
    rng = np.random.default_rng(seed)
    rows = []
    for frac in fractions:
        errors, sizes = [], []
        for tr, te in folds:
            uniq = np.unique(groups[tr])
            k = max(2, round(frac * len(uniq)))
            keep = set(rng.choice(uniq, size=min(k, len(uniq)), replace=False))
            sub = tr[np.isin(groups[tr], list(keep))]
            m = dataclasses.replace(model).fit(data.iloc[sub], intervals=False)
            errors.append(y[te] - m.predict(data.iloc[te])[TARGET].to_numpy())
            sizes.append(len(keep))
        e = np.concatenate(errors)
        rows.append(
            {
                "fraction": frac,
                "n_train_compositions": float(np.mean(sizes)),
                "mae": float(np.abs(e).mean()),
                "rmse": float(np.sqrt((e**2).mean())),
            }
        )
    return pd.DataFrame(rows)
