"""Pseudo-binary joins and inclusive ranges."""

from fractions import Fraction

import pytest

from amorphdb.errors import CompositionError, ConfigError
from amorphdb.structure import fraction_range, pseudo_binary, pseudo_binary_points


def test_fraction_range_includes_both_ends():
    values = fraction_range(0.2, 0.5, 0.05)
    assert values == [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
    assert values[0] == 0.2 and values[-1] == 0.5  # numpy.arange would stop at 0.45


def test_fraction_range_counts_down_and_single_point():
    # MPMorph/atomate2 slow quench: np.arange(3000, 500, -500) loses 500 K
    assert fraction_range(3000, 500, 500) == [3000, 2500, 2000, 1500, 1000, 500]
    assert fraction_range(0.5, 0.5, 0.1) == [0.5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.2, 0.5, 0.07), "does not divide"),
        ((0.2, 0.5, 0.0), "must be positive"),
        ((0.2, 0.5, -0.1), "must be positive"),
        ((0.2, float("nan"), 0.1), "finite"),
    ],
)
def test_fraction_range_bad_input(args, message):
    with pytest.raises(ConfigError, match=message):
        fraction_range(*args)


def test_lithium_silicate_join():
    formulas = pseudo_binary("Li2O", "SiO2", fraction_range(0.2, 0.5, 0.05))
    assert formulas == [
        "Li2Si4O9",  # x = 1/5: Li2O + 4 SiO2
        "Li2Si3O7",  # 1/4
        "Li6Si7O17",  # 3/10
        "Li14Si13O33",  # 7/20
        "Li4Si3O8",  # 2/5
        "Li18Si11O31",  # 9/20
        "Li2SiO3",  # 1/2: Li2O·SiO2
    ]


def test_disilicate_from_rounded_third_and_end_members():
    points = pseudo_binary_points("Li2O", "SiO2", [0.0, 0.3333, 1 / 3, 1.0])
    assert [p.formula for p in points] == ["SiO2", "Li2Si2O5", "Li2Si2O5", "Li2O"]
    assert points[1].x == Fraction(1, 3)
    # duplicates are dropped by pseudo_binary (first kept)
    assert pseudo_binary("Li2O", "SiO2", [0.0, 0.3333, 1 / 3, 1.0]) == ["SiO2", "Li2Si2O5", "Li2O"]


def test_max_denominator_controls_rounding():
    assert pseudo_binary("Li2O", "SiO2", [0.35], max_denominator=10) == ["Li2Si2O5"]


@pytest.mark.parametrize("x", [-0.1, 1.2])
def test_fraction_outside_unit_interval(x):
    with pytest.raises(ConfigError, match="between 0 and 1"):
        pseudo_binary("Li2O", "SiO2", [x])


def test_bad_end_members():
    with pytest.raises(CompositionError, match="unknown element 'Xx'"):
        pseudo_binary("Xx2O", "SiO2", [0.5])
    with pytest.raises(CompositionError, match="are the same"):
        pseudo_binary("SiO2", "Si2O4", [0.5])
    with pytest.raises(ConfigError, match="no fractions"):
        pseudo_binary("Li2O", "SiO2", [])
