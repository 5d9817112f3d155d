"""The potential library: coverage checks, charge balance and the LAMMPS lines."""

import pytest

from amorphdb.engines.potentials import available_potentials, get_potential
from amorphdb.errors import ConfigError, UnsupportedCompositionError


def test_library_names():
    assert {"pedone2006", "wang2018"} <= set(available_potentials())
    with pytest.raises(ConfigError, match="unknown potential 'bks'"):
        get_potential("bks")


def test_pedone_parameters_match_reference():
    pot = get_potential("pedone2006")
    # Pedone et al. 2006 as read in shared/reference/potentials.json
    assert pot.charges_e["Li"] == 0.6 and pot.charges_e["Si"] == 2.4 and pot.charges_e["O"] == -1.2
    assert pot.pairs[frozenset(("Si", "O"))].params == (0.340554, 2.0067, 2.1, 1.0)
    assert pot.pairs[frozenset(("O", "O"))].params == (0.042395, 1.379316, 3.618701, 22.0)
    assert pot.pairs[frozenset(("Li", "O"))].params == (0.001114, 3.429506, 2.68136, 1.0)


def test_pedone_partial_charges_balance_lithium_silicates():
    pot = get_potential("pedone2006")
    pot.check_composition({"Li": 2, "Si": 2, "O": 5})  # Li2O·2SiO2
    pot.check_composition({"Li": 2, "Si": 1, "O": 3})  # Li2O·SiO2
    with pytest.raises(UnsupportedCompositionError, match=r"net charge -1\.200 e"):
        pot.check_composition({"Li": 2, "O": 2})


def test_missing_pairs_are_named():
    pot = get_potential("pedone2006")
    with pytest.raises(UnsupportedCompositionError, match="missing pairs Li-S, P-S, S-S"):
        pot.check_composition({"Li": 3, "P": 1, "S": 4})
    with pytest.raises(UnsupportedCompositionError, match="B-O"):
        pot.check_composition({"Na": 2, "B": 2, "Si": 1, "O": 6})


def test_wang_covers_soda_lime_borosilicate():
    pot = get_potential("wang2018")
    # 15Na2O-10CaO-12B2O3-63SiO2 (the 12B glass): charge balanced with the Wang charges
    pot.check_composition({"Na": 30, "Ca": 10, "B": 24, "Si": 63, "O": 15 + 10 + 36 + 126})
    assert pot.masses_amu["B"] == pytest.approx(10.811)


def test_lammps_lines_pedone():
    lines = get_potential("pedone2006").lammps_lines(["Li", "O", "Si"])
    assert "pair_style hybrid/overlay pedone 10.0 coul/long 8.0" in lines
    assert "pair_coeff 2 3 pedone 0.340554 2.0067 2.1 1.0" in lines
    # cation-cation pairs are Coulomb only: no pedone coefficients for Li-Si
    assert not any(line.startswith("pair_coeff 1 3 pedone") for line in lines)
    assert lines[-1].startswith("kspace_style pppm")
