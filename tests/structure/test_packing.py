"""packmol packing on tiny cells (real packmol): composition, density, PBC distances, seeds."""

import itertools

import numpy as np
import pytest
from pymatgen.core import Composition, Lattice, Structure

from amorphdb.errors import ConfigError, PackingError
from amorphdb.structure import (
    estimate_density,
    find_packmol,
    hard_sphere_packing_fraction,
    min_pbc_distance,
    pack_structure,
)

AVOGADRO = 6.02214076e23


def _brute_force_min_distance(structure: Structure) -> float:
    """Minimum distance over all pairs and all 27 neighbouring images (numpy only)."""
    cart = structure.cart_coords
    lattice = structure.lattice.matrix
    best = np.inf
    for shift in itertools.product((-1, 0, 1), repeat=3):
        offset = np.asarray(shift) @ lattice
        d = np.linalg.norm(cart[:, None, :] - (cart[None, :, :] + offset), axis=-1)
        if shift == (0, 0, 0):
            np.fill_diagonal(d, np.inf)
        best = min(best, d.min())
    return float(best)


def test_min_pbc_distance_goes_through_the_boundary():
    lattice = Lattice.cubic(10.0)
    pair = Structure(lattice, ["Li", "O"], [[0.1, 5, 5], [9.9, 5, 5]], coords_are_cartesian=True)
    assert min_pbc_distance(pair) == pytest.approx(0.2)  # not 9.8


def test_composition_and_density_are_exact():
    structure = pack_structure("Li2O·2SiO2", target_atoms=40, density_g_cm3=2.35, seed=11)
    assert structure.composition == Composition("Li8Si8O20")  # 4 formula units = 36 atoms
    mass_g = structure.composition.weight / AVOGADRO
    assert mass_g / (structure.volume * 1e-24) == pytest.approx(2.35, rel=1e-12)
    assert float(structure.density) == pytest.approx(2.35, rel=1e-6)  # pymatgen's own constants
    a, b, c = structure.lattice.abc
    assert a == pytest.approx(b) == pytest.approx(c)
    assert structure.lattice.angles == pytest.approx((90, 90, 90))
    assert structure.properties["packmol_seed"] == 11
    assert structure.properties["density_g_cm3"] == 2.35


def test_default_density_is_the_estimate_and_formula_units_override():
    structure = pack_structure("Li2Si2O5", n_formula_units=3, seed=5)
    assert structure.composition == Composition("Li6Si6O15")
    assert float(structure.density) == pytest.approx(estimate_density("Li2Si2O5"), rel=1e-6)


def test_min_distance_respected_under_pbc_including_across_the_boundary():
    # dense enough (packing fraction 0.45) that a non-periodic packing would clash
    structure = pack_structure("SiO2", target_atoms=60, density_g_cm3=3.6, seed=3, tolerance_A=2.0)
    d_pbc = _brute_force_min_distance(structure)
    assert d_pbc >= 0.9 * 2.0
    assert min_pbc_distance(structure) == pytest.approx(d_pbc)
    assert structure.properties["min_distance_A"] == pytest.approx(d_pbc)
    # atoms fill the whole cell (no MPMorph margins): some lie within 0.5 Å of a face ...
    frac = structure.frac_coords
    edge = structure.lattice.a
    near_face = np.minimum(frac, 1 - frac) * edge < 0.5
    assert near_face.any()
    # ... and there are pairs whose closest approach is through the boundary, all ≥ 1.8 Å
    direct = np.linalg.norm(structure.cart_coords[:, None] - structure.cart_coords[None], axis=-1)
    through = structure.distance_matrix < direct - 1e-6
    assert through.any()
    assert structure.distance_matrix[through].min() >= 1.8


def test_same_seed_same_cell_different_seed_different_cell():
    first = pack_structure("Li2SiO3", target_atoms=30, seed=42)
    again = pack_structure("Li2SiO3", target_atoms=30, seed=42)
    other = pack_structure("Li2SiO3", target_atoms=30, seed=43)
    assert np.array_equal(first.cart_coords, again.cart_coords)
    assert np.abs(first.cart_coords - other.cart_coords).max() > 1.0


def test_equivalent_notations_give_the_same_cell():
    first = pack_structure("Li2Si2O5", target_atoms=27, seed=9)
    second = pack_structure("(SiO2)2·Li2O", target_atoms=27, seed=9)
    assert np.array_equal(first.cart_coords, second.cart_coords)
    assert [str(s) for s in first.species] == [str(s) for s in second.species]


def test_drawn_seed_is_recorded_and_reproduces_the_cell():
    first = pack_structure("Cu50Zr50", target_atoms=20)
    seed = first.properties["packmol_seed"]
    assert isinstance(seed, int)
    again = pack_structure("Cu50Zr50", target_atoms=20, seed=seed)
    assert np.array_equal(first.cart_coords, again.cart_coords)


def test_repacks_with_next_seed_when_min_distance_is_violated():
    # with min_distance just above packmol's tolerance some seeds pass, others not
    kwargs = dict(target_atoms=36, density_g_cm3=2.35, tolerance_A=2.0, min_distance_A=2.06)
    passes = {}
    for seed in range(1, 40):
        try:
            pack_structure("Li2Si2O5", seed=seed, max_attempts=1, **kwargs)
            passes[seed] = True
        except PackingError:
            passes[seed] = False
        if seed > 1 and not passes.get(seed - 1, True) and passes[seed]:
            break
    failing = seed - 1
    assert not passes[failing] and passes[failing + 1], "no fail-then-pass seed pair found"
    structure = pack_structure("Li2Si2O5", seed=failing, max_attempts=2, **kwargs)
    assert structure.properties["attempts"] == 2
    assert structure.properties["packmol_seed"] == failing + 1
    assert structure.properties["min_distance_A"] >= 2.06


def test_unsatisfiable_min_distance_fails_after_max_attempts():
    with pytest.raises(PackingError, match=r"in 3 attempts \(seeds 7–9\); closest pair"):
        pack_structure(
            "SiO2", target_atoms=30, density_g_cm3=2.2, seed=7, min_distance_A=3.5, max_attempts=3
        )


def test_impossible_density_fails_fast_and_writes_nothing(tmp_path, monkeypatch):
    import tempfile

    import amorphdb.structure.packing as packing

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # "fast" = refused before packmol is looked up or run (no wall-clock limit: the
    # machine may be loaded)
    monkeypatch.setattr(packing, "find_packmol", lambda: pytest.fail("packmol was reached"))
    with pytest.raises(PackingError) as info:
        pack_structure("SiO2", target_atoms=60, density_g_cm3=6.0, tolerance_A=2.0)
    message = str(info.value)
    assert message.startswith(
        "cannot pack 60 atoms at 6 g/cm³ with tolerance 2 Å: packing fraction 0."
    )
    assert message.endswith("; lower the density or the tolerance")
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_packing_fraction_formula():
    # 100 spheres of 2 Å diameter in 1000 Å³: 100·(π/6)·8/1000
    assert hard_sphere_packing_fraction(100, 1000.0, 2.0) == pytest.approx(0.41887902)


def test_temporary_files_are_removed(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pack_structure("Li2O", target_atoms=15, seed=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"density_g_cm3": 0.0}, "density_g_cm3 must be a positive number"),
        ({"density_g_cm3": -2.0}, "density_g_cm3 must be a positive number"),
        ({"density_g_cm3": float("nan")}, "density_g_cm3 must be a positive number"),
        ({"tolerance_A": 0}, "tolerance_A must be a positive number"),
        ({"min_distance_A": -1.0}, "min_distance_A must be a positive number"),
        ({"max_attempts": 0}, "max_attempts must be a positive integer"),
        ({"target_atoms": 0}, "target_atoms must be a positive integer"),
        ({"timeout_s": 0}, "timeout_s must be a positive number"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        pack_structure("SiO2", **kwargs)


def test_packmol_timeout_is_a_packing_error():
    with pytest.raises(PackingError, match="packmol failed"):
        pack_structure("SiO2", target_atoms=60, seed=1, timeout_s=1e-4, max_attempts=2)


def test_missing_packmol(monkeypatch, tmp_path):
    import sys

    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PackingError, match="pip install packmol"):
        find_packmol()
    with pytest.raises(PackingError, match="pip install packmol"):
        pack_structure("SiO2", target_atoms=30, seed=1)
