"""SISSO-style symbolic regression recovers a known law."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amorphdb.ml import DiffusivityModel, SISSORegressor
from amorphdb.ml.sisso import to_text


def test_recovers_arrhenius_law_with_a_descriptor():
    # log10 D = −2 − 1.5·x1·(1000/T) + 0.8·x2 over random glasses with two descriptors
    rng = np.random.default_rng(3)
    n = 240
    formulas = rng.choice(["Li2Si2O5", "Li2SiO3", "LiPO3", "Li2GeO3", "Li4SiO4", "Li2Ge2O5"], n)
    t = rng.choice([1000.0, 1250.0, 1500.0, 2000.0, 2500.0], n)
    x1 = rng.uniform(0.5, 2.0, n)
    x2 = rng.uniform(0.0, 1.0, n)
    y = -2.0 - 1.5 * x1 * 1000 / t + 0.8 * x2 + rng.normal(0, 0.02, n)
    data = pd.DataFrame({"formula": formulas, "temperature_K": t, "x1": x1, "x2": x2, "log10_D": y})
    model = DiffusivityModel(kind="sisso").fit(data)
    sisso = model._model
    assert len(sisso.terms) == 2, model.equation
    assert "inv_T_1000_K × x1" in model.equation and "x2" in model.equation, model.equation
    by_term = dict(zip([to_text(t) for t in sisso.terms], sisso.coef, strict=True))
    assert by_term["(inv_T_1000_K × x1)"] == pytest.approx(-1.5, rel=0.02)
    assert by_term["x2"] == pytest.approx(0.8, rel=0.03)
    assert sisso.intercept == pytest.approx(-2.0, abs=0.03)
    # importances are named by the formula's terms, the larger-variance term first
    assert set(model.feature_importances.index) == set(by_term)
    assert model.feature_importances.sum() == pytest.approx(1.0)


def test_one_term_law_is_not_padded():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.uniform(1, 2, 100), "b": rng.uniform(1, 2, 100)})
    y = 3.0 / X["a"].to_numpy() + rng.normal(0, 0.01, 100)
    model = SISSORegressor().fit(X, y)
    assert model.equation("y").startswith("y = ")
    assert len(model.terms) == 1 and "1/a" in model.equation("y")
    assert model.coef[0] == pytest.approx(3.0, rel=0.01)
