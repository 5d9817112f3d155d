"""``DiffusivityModel``: log10 D(Li) from composition, temperature and descriptors.

Three kinds behind one interface: a random forest (scikit-learn), gradient-boosted trees
(xgboost) and the SISSO-style formula of :mod:`amorphdb.ml.sisso`. Every prediction has a
90 % interval calibrated by **CV+** (R. F. Barber, E. J. Candès, A. Ramdas,
R. J. Tibshirani, "Predictive inference with the jackknife+", *Ann. Statist.* 49 (2021)
486, doi:10.1214/20-AOS1965): the training table is split into K folds *grouped by
reduced formula*, a model μ₋ₖ is fitted without each fold, and the held-out residuals
Rᵢ = |yᵢ − μ₋ₖ₍ᵢ₎(xᵢ)| give, at a new x, the interval
[q̂⁻_α{μ₋ₖ₍ᵢ₎(x) − Rᵢ}, q̂⁺_α{μ₋ₖ₍ᵢ₎(x) + Rᵢ}] (α = 0.1), with coverage ≥ 1 − 2α
guaranteed and ≈ 1 − α in practice. Grouping makes the interval honest for a *new
composition* (the use case), not only for a new temperature of a known glass. The point
prediction is the model fitted on all rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd

from amorphdb.ml.columns import FORMULA, TARGET, TEMPERATURE, DataError, check_table
from amorphdb.ml.columns import extra_feature_columns as _extra_columns
from amorphdb.ml.features import PHYSICAL, elements_in, featurize, group_labels
from amorphdb.ml.sisso import SISSORegressor

#: model-file format version; a file of another version is refused
FILE_VERSION = 1
FILE_FORMAT = "amorphdb-ml-model"


class ModelKind(str, Enum):
    """The model families of :class:`DiffusivityModel`."""

    random_forest = "random_forest"
    xgboost = "xgboost"
    sisso = "sisso"


def parse_kind(kind: str | ModelKind) -> ModelKind:
    """A :class:`ModelKind` from its name; one-line :class:`DataError` otherwise."""
    try:
        return ModelKind(kind)
    except ValueError:
        names = ", ".join(k.value for k in ModelKind)
        raise DataError(f"unknown model kind {kind!r}; choose one of {names}") from None


def _estimator(kind: ModelKind, seed: int, n_jobs: int, n_rows: int):
    if kind is ModelKind.random_forest:
        from sklearn.ensemble import RandomForestRegressor

        # p/3 features per split, the usual choice for regression (A. Liaw, M. Wiener,
        # R News 2/3 (2002) 18; √p lets the one dominant feature, 1/T, be missed at most
        # splits); on large tables half-size bootstrap samples, since the CV+ intervals fit
        # K + 1 forests; small tables on one thread (start-up costs more than the trees)
        big = n_rows >= 1000
        return RandomForestRegressor(
            n_estimators=100,
            min_samples_leaf=2,
            max_features=1 / 3,
            max_samples=0.5 if big else None,
            random_state=seed,
            n_jobs=n_jobs if big else 1,
        )
    if kind is ModelKind.xgboost:
        from xgboost import XGBRegressor

        # one thread: xgboost's OpenMP threads spin and slow down 10x on a busy machine
        return XGBRegressor(
            n_estimators=200,
            max_depth=4,
            learning_rate=0.07,
            subsample=0.8,
            colsample_bytree=0.8,
            tree_method="hist",
            max_bin=64,
            random_state=seed,
            n_jobs=1,
        )
    return SISSORegressor()


def _grouped_folds(
    groups: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds with no group on both sides; groups are shuffled by ``seed`` then dealt."""
    from sklearn.model_selection import GroupKFold

    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    relabel = dict(zip(uniq, rng.permutation(len(uniq)), strict=True))
    codes = np.array([relabel[g] for g in groups])
    splitter = GroupKFold(n_splits=n_splits)
    return [(tr, te) for tr, te in splitter.split(codes, groups=codes)]


@dataclass
class DiffusivityModel:
    """A model of log10 D (cm²/s) with calibrated 90 % intervals and a domain check.

    Parameters
    ----------
    kind
        ``"random_forest"``, ``"xgboost"`` or ``"sisso"``.
    seed
        Random seed (trees, fold assignment).
    calibration_splits
        K of the CV+ intervals (folds grouped by reduced formula).
    alpha
        Miscoverage of the interval (0.1: a 90 % interval).
    n_jobs
        Threads of the random forest (-1: all cores).
    features
        ``"all"``: composition features, 1000/T and the table's own numeric columns
        (structure descriptors); ``"composition"``: composition and 1000/T only (a model
        that predicts from a formula and a temperature alone).
    """

    kind: str | ModelKind = ModelKind.random_forest
    seed: int = 0
    calibration_splits: int = 5
    alpha: float = 0.1
    n_jobs: int = -1
    features: str = "all"
    feature_names: list[str] = field(default_factory=list, init=False)
    extra_columns: list[str] = field(default_factory=list, init=False)
    elements: set[str] = field(default_factory=set, init=False)
    temperature_range_K: tuple[float, float] = field(default=(np.nan, np.nan), init=False)
    _fill: pd.Series | None = field(default=None, init=False, repr=False)
    _model: object = field(default=None, init=False, repr=False)
    _fold_models: list = field(default_factory=list, init=False, repr=False)
    _fold_of_row: np.ndarray | None = field(default=None, init=False, repr=False)
    _residuals: np.ndarray | None = field(default=None, init=False, repr=False)
    _fit_matrix: pd.DataFrame | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.kind = parse_kind(self.kind)
        if not 0 < self.alpha < 1:
            raise DataError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.features not in ("all", "composition"):
            raise DataError(f"features must be 'all' or 'composition', got {self.features!r}")
        if self.calibration_splits < 2:
            raise DataError(f"calibration_splits must be >= 2, got {self.calibration_splits}")

    # ----------------------------------------------------------------- features
    def _features(self, data: pd.DataFrame) -> pd.DataFrame:
        X = featurize(data, self.extra_columns)
        if self.kind is ModelKind.sisso:
            keep = [c for c in PHYSICAL if c in X.columns] + list(self.extra_columns)
            X = X[keep]
        return X

    def _matrix(self, data: pd.DataFrame) -> pd.DataFrame:
        X = self._features(data)[self.feature_names]
        return X.fillna(self._fill)

    def _new_estimator(self, n_rows: int):
        return _estimator(self.kind, self.seed, self.n_jobs, n_rows)

    @staticmethod
    def _fit_one(est, X: pd.DataFrame, y: np.ndarray):
        if isinstance(est, SISSORegressor):
            return est.fit(X, y)
        return est.fit(X.to_numpy(float), y)

    @staticmethod
    def _predict_one(est, X: pd.DataFrame) -> np.ndarray:
        if isinstance(est, SISSORegressor):
            return est.predict(X)
        return np.asarray(est.predict(X.to_numpy(float)), float)

    # ----------------------------------------------------------------- API
    def fit(self, data: pd.DataFrame, intervals: bool = True) -> DiffusivityModel:
        """Fit on a table with ``formula``, ``temperature_K``, ``log10_D`` (+ descriptors).

        ``intervals=False`` skips the K calibration models (point predictions only; the
        intervals of :meth:`predict` are then NaN) — for learning curves.

        Raises
        ------
        DataError
            A missing column, a NaN/infinite ``log10_D``, a formula that does not parse,
            or fewer than 2 compositions (the intervals need held-out compositions).
        """
        data = check_table(data, fit=True, min_rows=2)
        groups = group_labels(data, "formula")
        n_groups = len(np.unique(groups))
        if n_groups < 2:
            raise DataError(
                f"data has {n_groups} composition(s); at least 2 are needed to calibrate intervals"
            )
        self.extra_columns = _extra_columns(data) if self.features == "all" else []
        X = self._features(data)
        usable = [c for c in X.columns if X[c].notna().any()]
        self.feature_names = usable
        X = X[usable]
        self._fill = X.median()
        X = X.fillna(self._fill)
        y = data[TARGET].to_numpy(float)
        self._model = self._fit_one(self._new_estimator(len(y)), X, y)
        if self.kind is ModelKind.sisso:  # term importances are computed on the training data
            self._fit_matrix = X
        k = min(self.calibration_splits, n_groups)
        self._fold_models = []
        self._fold_of_row = np.empty(len(y), dtype=int)
        self._residuals = np.empty(len(y))
        folds = _grouped_folds(groups, k, self.seed) if intervals else []
        for i, (tr, te) in enumerate(folds):
            est = self._fit_one(self._new_estimator(len(tr)), X.iloc[tr], y[tr])
            self._fold_models.append(est)
            self._fold_of_row[te] = i
            self._residuals[te] = np.abs(y[te] - self._predict_one(est, X.iloc[te]))
        self.elements = elements_in(data)
        t = data[TEMPERATURE].to_numpy(float)
        self.temperature_range_K = (float(t.min()), float(t.max()))
        return self

    def _check_fitted(self) -> None:
        if self._model is None:
            raise DataError("the model is not fitted; call fit(data) or load a model file first")

    def predict(self, data: pd.DataFrame) -> pd.DataFrame:
        """Predictions with a 90 % CV+ interval and the domain flag.

        Returns
        -------
        pandas.DataFrame
            ``formula``, ``temperature_K``, ``log10_D``, ``log10_D_low``, ``log10_D_high``
            (log10 of cm²/s) and ``in_domain`` (False for an element unseen in training
            or a temperature outside the trained range), one row per input row.
        """
        self._check_fitted()
        data = check_table(data, fit=False)
        missing = [c for c in self.extra_columns if c not in data.columns]
        if missing:
            raise DataError(
                f"data has no column {', '.join(map(repr, missing))}; the model was trained "
                "with these descriptor columns"
            )
        X = self._matrix(data)
        point = self._predict_one(self._model, X)
        if self._fold_models:
            low, high = self._interval(X)
        else:
            low = high = np.full(len(X), np.nan)
        lo_t, hi_t = self.temperature_range_K
        t = data[TEMPERATURE].to_numpy(float)
        known = [{s for s, _ in _pairs(f)} <= self.elements for f in data[FORMULA].astype(str)]
        in_domain = np.array(known) & (t >= lo_t - 1e-6) & (t <= hi_t + 1e-6)
        return pd.DataFrame(
            {
                FORMULA: data[FORMULA].to_numpy(),
                TEMPERATURE: t,
                TARGET: point,
                "log10_D_low": np.fmin(low, point) if self._fold_models else low,
                "log10_D_high": np.fmax(high, point) if self._fold_models else high,
                "in_domain": in_domain,
            },
            index=data.index,
        )

    def _interval(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        per_fold = np.array([self._predict_one(m, X) for m in self._fold_models])  # (K, m)
        mu = per_fold[self._fold_of_row]  # (n_train, m)
        r = self._residuals[:, None]
        return _cv_plus(mu - r, mu + r, self.alpha)

    @property
    def feature_importances(self) -> pd.Series:
        """Importance of each feature, summing to 1, largest first.

        Random forest: mean impurity decrease; xgboost: total gain; SISSO: |coefficient|
        × standard deviation of each term of the formula (on the training data).
        """
        self._check_fitted()
        if self.kind is ModelKind.sisso:
            return self._model.term_importances(self._fit_matrix)
        if self.kind is ModelKind.xgboost:
            booster = self._model.get_booster()
            gain = booster.get_score(importance_type="total_gain")
            w = np.array([gain.get(f"f{i}", 0.0) for i in range(len(self.feature_names))])
        else:
            w = np.asarray(self._model.feature_importances_, float)
        w = w / w.sum() if w.sum() > 0 else w
        return pd.Series(w, index=self.feature_names).sort_values(ascending=False)

    @property
    def equation(self) -> str | None:
        """The SISSO formula as text (None for the tree models)."""
        self._check_fitted()
        return self._model.equation(TARGET) if self.kind is ModelKind.sisso else None

    # ----------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """Write the fitted model to one file (joblib) and return its path."""
        import joblib

        from amorphdb import __version__

        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {
                "format": FILE_FORMAT,
                "version": FILE_VERSION,
                "kind": self.kind.value,
                "amorphdb": __version__,
                "model": self,
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path: str | Path, kind: str | ModelKind | None = None) -> DiffusivityModel:
        """Read a model file written by :meth:`save`.

        Raises
        ------
        DataError
            Not a model file, a file of another format version, or (with ``kind``) a
            model of another kind.
        """
        import joblib

        path = Path(path)
        if not path.is_file():
            raise DataError(f"model file {path} does not exist; train one with 'amorphdb ml train'")
        try:
            payload = joblib.load(path)
        except Exception as exc:
            raise DataError(
                f"{path} is not an amorphdb model file ({type(exc).__name__})"
            ) from None
        if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
            raise DataError(
                f"{path} is not an amorphdb model file; train one with 'amorphdb ml train'"
            )
        if payload.get("version") != FILE_VERSION:
            raise DataError(
                f"{path} is a model file of version {payload.get('version')}, this amorphdb reads "
                f"version {FILE_VERSION}; retrain it with 'amorphdb ml train'"
            )
        if kind is not None and payload["kind"] != parse_kind(kind).value:
            raise DataError(f"{path} holds a {payload['kind']} model, not {parse_kind(kind).value}")
        return payload["model"]


def _pairs(formula: str):
    from amorphdb.ml.features import elements_of

    return elements_of(formula)


def _cv_plus(lower: np.ndarray, upper: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """CV+ bounds: the ⌊α(n+1)⌋-th smallest of ``lower`` and ⌈(1−α)(n+1)⌉-th of ``upper``.

    ``lower``/``upper`` are (n_train, m) arrays of μ₋ₖ₍ᵢ₎(x) ∓ Rᵢ (Barber et al. 2021, eq. 9).
    With too few training rows for the order statistic the bound is the extreme value.
    """
    n = lower.shape[0]
    k_lo = int(np.floor(alpha * (n + 1)))
    k_hi = int(np.ceil((1 - alpha) * (n + 1)))
    lo = np.sort(lower, axis=0)[max(k_lo, 1) - 1]
    hi = np.sort(upper, axis=0)[min(k_hi, n) - 1]
    return lo, hi
