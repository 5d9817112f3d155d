"""Composition features: Magpie-style statistics and the glass features, by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from amorphdb.ml import DataError, featurize
from amorphdb.ml.features import composition_features, group_labels


def test_lithium_disilicate_by_hand():
    f = composition_features(["Li2O.2SiO2"]).iloc[0]
    # Li2Si2O5: fractions Li 2/9, Si 2/9, O 5/9; pymatgen Pauling X: Li 0.98, Si 1.90, O 3.44
    assert f["Li_fraction"] == pytest.approx(2 / 9)
    assert f["X_mean"] == pytest.approx((2 * 0.98 + 2 * 1.90 + 5 * 3.44) / 9)
    assert f["X_max"] == pytest.approx(3.44) and f["X_min"] == pytest.approx(0.98)
    assert f["X_range"] == pytest.approx(2.46)
    mean = (2 * 3 + 2 * 14 + 5 * 8) / 9
    assert f["Z_avg_dev"] == pytest.approx(
        (2 * abs(3 - mean) + 2 * abs(14 - mean) + 5 * abs(8 - mean)) / 9
    )
    assert f["Z_mode"] == 8  # oxygen is the most abundant element
    # anion O; cations Li, Si equally abundant: X difference 3.44 − (0.98 + 1.90)/2
    assert f["X_difference"] == pytest.approx(2.0)
    assert f["cation_radius_A"] == pytest.approx((0.90 + 0.54) / 2)  # pymatgen mean ionic radii
    assert f["anion_O"] == 1 and f["anion_S"] == 0
    # the project's parser: Li2O·2SiO2 is Li2Si2O5 (pymatgen's Composition misreads it)
    same = composition_features(["Li2Si2O5"]).iloc[0]
    pd.testing.assert_series_equal(f, same, check_names=False)


def test_sulfide_anion_and_inverse_temperature():
    data = pd.DataFrame({"formula": ["Li3PS4"], "temperature_K": [500.0], "coord": [4.2]})
    X = featurize(data, ["coord"])
    assert X.loc[0, "anion_S"] == 1 and X.loc[0, "anion_O"] == 0
    assert X.loc[0, "inv_T_1000_K"] == pytest.approx(2.0)
    assert X.loc[0, "coord"] == 4.2


def test_unparsable_formula_is_named():
    with pytest.raises(DataError, match="Li2Xx3"):
        composition_features(["Li2O", "Li2Xx3"])


def test_groups_by_reduced_formula_and_chemsys():
    data = pd.DataFrame({"formula": ["Li2O.2SiO2", "Li4Si4O10", "Li2SiO3", "LiPO3"]})
    assert list(group_labels(data, "formula")) == ["Li2Si2O5", "Li2Si2O5", "Li2SiO3", "LiPO3"]
    assert list(group_labels(data, "chemsys")) == ["Li-O-Si"] * 3 + ["Li-O-P"]
    with pytest.raises(DataError, match="group_by"):
        group_labels(data, "elements")
