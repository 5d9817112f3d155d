"""Freeing pair parameters of library potentials; the LAMMPS input they produce."""

import pytest
from pymatgen.core import Lattice, Structure

from amorphdb.engines.lammps import inputs
from amorphdb.engines.potentials import get_potential, potential_spec
from amorphdb.errors import ConfigError
from amorphdb.potfit.config import PotfitConfig

WANG_BO = (206942.44, 0.124, 35.0019)  # eV, Å, eV·Å⁶ (Wang 2018 via Coudert's input, /kcal→eV)


def test_wang2018_exposes_the_five_b_parameters_with_their_published_values():
    pot = get_potential("wang2018")
    names = pot.parameter_names()
    for name in ("B-O.A", "B-O.rho", "B-O.C", "B-B.A", "B-B.rho"):
        assert name in names
    assert (pot.parameter_value("B-O.A"), pot.parameter_value("B-O.rho"),
            pot.parameter_value("O-B.C")) == WANG_BO
    assert pot.parameter_value("B-B.rho") == 0.35
    assert pot.parameter_value("Na-B.A") == 0.0  # a Coulomb-only pair can be freed too


def test_overrides_reach_the_pair_coeff_lines_and_survive_a_round_trip_by_name():
    spec = potential_spec("wang2018", {"B-O.A": 1.8e5, "O-B.rho": 0.1275, "B-B.A": 600.0})
    pot = get_potential(spec)
    assert pot.name == "wang2018(B-B.A=600.0,B-O.A=180000.0,B-O.rho=0.1275)"
    assert get_potential(pot.name) == pot
    lines = pot.lammps_lines(["B", "Ca", "Na", "O", "Si"])
    assert "pair_coeff 1 4 180000.0 0.1275 35.0019" in lines  # B-O: A, rho changed, C kept
    assert "pair_coeff 1 1 600.0 0.35 0.0" in lines  # B-B
    assert "pair_coeff 4 5 50306.25 0.161 46.2979" in lines  # Si-O untouched
    assert get_potential("wang2018").parameter_value("B-O.A") == WANG_BO[0]  # base unchanged


def test_data_file_has_the_correct_masses_of_wang2018(tmp_path):
    """Coudert 2023 (doi:10.1016/j.jnoncrysol.2023.122423): the original input's masses were
    wrong; the library uses standard atomic masses (his re-runs' values)."""
    s = Structure(Lattice.cubic(8.0), ["Na", "Ca", "B", "Si", "O"],
                  [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]])
    pot = get_potential("wang2018(B-O.A=2e5)")
    inputs.write_data_file(s, tmp_path / "data.lmp", pot)
    text = (tmp_path / "data.lmp").read_text()
    masses = text.split("Masses")[1].split("Atoms")[0].split()
    got = dict(zip(masses[0::2], map(float, masses[1::2]), strict=True))
    assert got == {"1": 10.811, "2": 40.078, "3": 22.99, "4": 15.999, "5": 28.086}  # B Ca Na O Si


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("wang2018(B-O.X=1)", "no parameter 'B-O.X'"),
        ("wang2018(B-Li.A=1)", "no parameter 'B-Li.A'"),
        ("wang2018(B-O.rho=-0.1)", "must be positive"),
        ("wang2018(B-O.A=abc)", "bad override"),
        ("nosuch(B-O.A=1)", "unknown potential"),
    ],
)
def test_bad_parameter_names_are_one_line_errors(name, match):
    with pytest.raises(ConfigError, match=match):
        get_potential(name)


def test_config_rejects_an_unknown_parameter_before_anything_runs():
    cfg = PotfitConfig(name="x", parameters={"B-O.Q": (1, 2)}, budget=2,
                       objective={"compositions": ["75B"]})
    with pytest.raises(ConfigError, match=r"no parameter 'B-O\.Q'"):
        cfg.free_parameters()
