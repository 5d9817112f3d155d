"""DiffusivityModel: predictions, intervals, domain, importances, model files, bad input."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest

from amorphdb.ml import DataError, DiffusivityModel


@pytest.mark.parametrize("kind", ["random_forest", "xgboost", "sisso"])
def test_fit_predict_every_kind(glasses, kind):
    model = DiffusivityModel(kind=kind).fit(glasses)
    new = pd.DataFrame(
        {"formula": ["(Li2O)3(SiO2)2", "Li2O(SiO2)2"], "temperature_K": [1800.0, 1200.0]}
    )
    out = model.predict(new)
    assert list(out.columns) == [
        "formula",
        "temperature_K",
        "log10_D",
        "log10_D_low",
        "log10_D_high",
        "in_domain",
    ]
    # the true law: −2.5 − 1.5·(1 − 2·x_Li)·1000/T (x_Li = 6/13 and 2/9)
    truth = -2.5 - 1.5 * (1 - 2 * np.array([6 / 13, 2 / 9])) * 1000 / new["temperature_K"]
    assert np.abs(out["log10_D"] - truth).max() < 0.3
    assert (out["log10_D_low"] < out["log10_D"]).all() and (
        out["log10_D"] < out["log10_D_high"]
    ).all()
    # a 90 % interval of a model with noise σ = 0.1 is at least ±1.64σ wide
    assert ((out["log10_D_high"] - out["log10_D_low"]) > 0.25).all()
    assert out["in_domain"].all()
    imp = model.feature_importances
    assert imp.sum() == pytest.approx(1.0)
    if kind != "sisso":  # temperature is among the strongest features of the synthetic law
        assert "inv_T_1000_K" in imp.index[:3]


def test_in_domain_flags_unseen_elements_and_temperatures(glasses):
    model = DiffusivityModel(kind="sisso").fit(glasses)
    new = pd.DataFrame(
        {
            "formula": ["Li2O(SiO2)2", "Li2O(B2O3)2", "Li2O(SiO2)2", "Li2O(SiO2)2", "Li3PS4"],
            "temperature_K": [1500.0, 1500.0, 600.0, 3000.0, 1500.0],
        }
    )
    assert model.predict(new)["in_domain"].tolist() == [True, False, False, False, False]
    assert model.temperature_range_K == (1000.0, 2500.0)


def test_descriptor_columns_are_features_and_required_to_predict(glasses):
    data = glasses.assign(coordination_Li_O=np.linspace(3.5, 4.5, len(glasses)))
    model = DiffusivityModel(kind="random_forest").fit(data)
    assert "coordination_Li_O" in model.feature_names
    assert "log10_D" not in model.feature_names
    with pytest.raises(DataError, match="coordination_Li_O"):
        model.predict(glasses.drop(columns="log10_D"))
    comp_only = DiffusivityModel(kind="random_forest", features="composition").fit(data)
    assert "coordination_Li_O" not in comp_only.feature_names
    assert len(comp_only.predict(glasses.drop(columns="log10_D"))) == len(glasses)


def test_model_file_round_trip_and_refusals(glasses, tmp_path):
    model = DiffusivityModel(kind="xgboost").fit(glasses)
    path = model.save(tmp_path / "m.joblib")
    back = DiffusivityModel.load(path)
    pd.testing.assert_frame_equal(back.predict(glasses), model.predict(glasses))
    assert DiffusivityModel.load(path, kind="xgboost").kind.value == "xgboost"
    with pytest.raises(DataError, match="holds a xgboost model, not sisso"):
        DiffusivityModel.load(path, kind="sisso")
    old = tmp_path / "old.joblib"
    joblib.dump({**joblib.load(path), "version": 99}, old)
    with pytest.raises(DataError, match=r"version 99.*retrain"):
        DiffusivityModel.load(old)
    junk = tmp_path / "junk.joblib"
    junk.write_text("not a model")
    with pytest.raises(DataError, match="not an amorphdb model file"):
        DiffusivityModel.load(junk)
    with pytest.raises(DataError, match="does not exist"):
        DiffusivityModel.load(tmp_path / "none.joblib")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.drop(columns="temperature_K"), "no column 'temperature_K'"),
        (lambda d: d.drop(columns="log10_D"), "no column 'log10_D'"),
        (
            lambda d: d.assign(log10_D=np.where(d.index == 3, np.nan, d["log10_D"])),
            "row 3 .*log10_D",
        ),
        (lambda d: d.assign(temperature_K=-d["temperature_K"]), "not a positive number"),
        (lambda d: d.assign(formula=d["formula"].where(d.index != 5, "Li2Qq")), "Li2Qq"),
        (lambda d: d[d["formula"] == d["formula"].iloc[0]], "1 composition"),
        (lambda d: d.iloc[:0], "0 row"),
    ],
)
def test_bad_tables_are_refused_in_one_line(glasses, change, message):
    with pytest.raises(DataError, match=message) as err:
        DiffusivityModel(kind="sisso").fit(change(glasses))
    assert "\n" not in str(err.value)


def test_unknown_kind_and_unfitted_model(glasses):
    with pytest.raises(DataError, match="unknown model kind 'svm'; choose one of random_forest"):
        DiffusivityModel(kind="svm")
    with pytest.raises(DataError, match="not fitted"):
        DiffusivityModel().predict(glasses.drop(columns="log10_D"))


def test_non_positive_diffusivity_refused():
    from amorphdb.ml.columns import log10_diffusivity

    assert log10_diffusivity([1e-5, 1e-4]) == pytest.approx([-5, -4])
    with pytest.raises(DataError, match=r"row 1: D = 0.0 cm²/s is not positive \(2 such row"):
        log10_diffusivity([1e-5, 0.0, np.nan])
