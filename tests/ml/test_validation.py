"""cross_validate: grouped folds, calibrated coverage, and the leakage it exposes."""

from __future__ import annotations

import numpy as np
import pytest

from amorphdb.ml import DataError, DiffusivityModel, cross_validate, learning_curve, make_folds
from amorphdb.ml.features import group_labels


@pytest.mark.parametrize("group_by", ["formula", "chemsys"])
def test_no_group_on_both_sides(glasses, group_by):
    folds = make_folds(glasses, n_splits=3, seed=1, group_by=group_by)
    groups = group_labels(glasses, group_by)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(len(glasses)))
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])
        assert len(set(tr) | set(te)) == len(glasses)


def test_grouped_folds_differ_by_seed_and_ungrouped_mix_temperatures(glasses):
    a = make_folds(glasses, seed=0)
    b = make_folds(glasses, seed=1)
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    ungrouped = make_folds(glasses, group_by=None)
    groups = group_labels(glasses, "formula")
    assert any(set(groups[tr]) & set(groups[te]) for tr, te in ungrouped)


def test_coverage_is_near_nominal_on_new_compositions(make_glasses):
    # known noise σ = 0.15; the model family can represent the law (SISSO): the 90 %
    # CV+ intervals of held-out compositions cover ~90 % of them
    data = make_glasses(noise=0.15, seed=4)
    report = cross_validate(DiffusivityModel(kind="sisso"), data, n_splits=5, seed=0)
    assert 0.82 <= report.coverage <= 0.98, report.summary()
    assert report.rmse == pytest.approx(0.15, rel=0.35)
    assert report.r2 > 0.6
    assert len(report.folds) == 5 and len(report.predictions) == len(data)


def test_grouped_cv_shows_the_leakage_of_ungrouped_cv(make_glasses):
    # each composition has its own offset u_c (σ 0.4) that no feature explains: an
    # ungrouped split learns it from the other temperatures of the same glass (leakage)
    data = make_glasses(noise=0.03, seed=2, offsets=0.4, formers=("SiO2", "GeO2"))
    model = DiffusivityModel(kind="random_forest", calibration_splits=3)
    grouped = cross_validate(model, data, n_splits=4, seed=0, group_by="formula")
    ungrouped = cross_validate(model, data, n_splits=4, seed=0, group_by=None)
    assert grouped.rmse > 1.5 * ungrouped.rmse, (grouped.summary(), ungrouped.summary())
    assert grouped.r2 < ungrouped.r2


def test_too_few_compositions_for_the_folds(glasses):
    small = glasses[glasses["formula"].isin(glasses["formula"].unique()[:3])]
    with pytest.raises(DataError, match="3 compositions, fewer than n_splits=5"):
        cross_validate(DiffusivityModel(kind="sisso"), small)
    with pytest.raises(DataError, match="n_splits must be >= 2"):
        make_folds(glasses, n_splits=1)


def test_learning_curve_improves_with_compositions(make_glasses):
    data = make_glasses(noise=0.05, seed=5)
    curve = learning_curve(DiffusivityModel(kind="sisso"), data, fractions=(0.1, 1.0), n_splits=4)
    assert curve["n_train_compositions"].iloc[0] < curve["n_train_compositions"].iloc[1]
    assert curve["mae"].iloc[1] <= curve["mae"].iloc[0]
