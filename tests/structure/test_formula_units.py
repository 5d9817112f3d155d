"""Number of formula units for a target cell size."""

import pytest
from pymatgen.core import Composition

from amorphdb.errors import CompositionError, ConfigError
from amorphdb.structure import formula_units_for, integer_formula_unit, scaled_composition


def test_integer_formula_unit_reduces_and_clears_decimals():
    assert integer_formula_unit("Li4Si4O10") == Composition("Li2Si2O5")
    assert integer_formula_unit("Li0.4Si0.2O0.8") == Composition("Li2SiO4")
    assert integer_formula_unit("Cu50Zr50") == Composition("CuZr")


@pytest.mark.parametrize(
    ("formula", "target", "nearest", "ceil"),
    [
        ("Li2Si2O5", 100, 11, 12),  # 9 atoms: 99 vs 108 atoms
        ("Li2SiO3", 100, 17, 17),  # 6 atoms: 102
        ("SiO2", 100, 33, 34),  # 99 vs 102
        ("Cu50Zr50", 100, 50, 50),
        ("Li2Si2O5", 5, 1, 1),  # at least one formula unit
        ("Li14Si13O33", 100, 2, 2),  # 60 atoms: 1.67 -> 2
        ("Li2O", 100, 33, 34),  # 3 atoms
        ("Li2O", 100, 33, 34),
    ],
)
def test_formula_units(formula, target, nearest, ceil):
    assert formula_units_for(formula, target) == nearest
    assert formula_units_for(formula, target, rounding="ceil") == ceil
    unit_atoms = integer_formula_unit(formula).num_atoms
    # nearest minimises |N - target| among n >= 1
    best = min(range(1, 200), key=lambda n: (abs(n * unit_atoms - target), -n))
    assert nearest == best


def test_halves_round_up():
    # 4-atom unit, 10 atoms wanted: 2.5 units -> 3
    assert formula_units_for("Li2SiO", 10) == 3


def test_scaled_composition():
    assert scaled_composition("Li2O·2SiO2", 100) == Composition("Li22Si22O55")
    assert scaled_composition("Li2Si2O5", n_formula_units=3) == Composition("Li6Si6O15")


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "100"])
def test_bad_target_atoms(bad):
    with pytest.raises(ConfigError, match="target_atoms must be a positive integer"):
        formula_units_for("SiO2", bad)


def test_bad_n_formula_units_and_rounding():
    with pytest.raises(ConfigError, match="n_formula_units"):
        scaled_composition("SiO2", n_formula_units=0)
    with pytest.raises(ConfigError, match="unknown rounding"):
        formula_units_for("SiO2", 100, rounding="up")


def test_amounts_without_small_integer_ratio():
    with pytest.raises(CompositionError, match=r"small integers|atoms"):
        integer_formula_unit("Li0.3331O0.7")
