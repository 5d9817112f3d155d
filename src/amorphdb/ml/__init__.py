"""Learning from the database: diffusivity models with honest, grouped validation.

``DiffusivityModel(kind="random_forest" | "xgboost" | "sisso")`` predicts log10 D (cm²/s)
with a calibrated 90 % interval and a domain flag; ``cross_validate`` scores it with folds
grouped by composition; ``records_table`` turns the store's records into a data table.
See ``docs/ml.md``.
"""

from amorphdb.ml.columns import DataError, check_table
from amorphdb.ml.features import composition_features, featurize
from amorphdb.ml.models import DiffusivityModel, ModelKind
from amorphdb.ml.sisso import SISSORegressor
from amorphdb.ml.validation import CVReport, cross_validate, learning_curve, make_folds

__all__ = [
    "CVReport",
    "DataError",
    "DiffusivityModel",
    "ModelKind",
    "SISSORegressor",
    "check_table",
    "composition_features",
    "cross_validate",
    "featurize",
    "learning_curve",
    "make_folds",
]
