"""Structure descriptors on crystals whose answers are known, and on a trajectory."""

import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from amorphdb.analysis import AnalysisError, Trajectory
from amorphdb.analysis.descriptors import (
    Q_GRID,
    StructureDescriptors,
    packing_fraction,
    structure_descriptors,
)


def alpha_quartz() -> Structure:
    """α-quartz, P3_221, a = 4.9134, c = 5.4052 Å (Levien et al., Am. Mineral. 65 (1980) 920)."""
    si = [(0.4697, 0, 0), (0, 0.4697, 2 / 3), (0.5303, 0.5303, 1 / 3)]
    o = [(0.4135, 0.2669, 0.1191), (0.2669, 0.4135, 0.5476), (0.7331, 0.1466, 0.7857),
         (0.5865, 0.8534, 0.2143), (0.8534, 0.5865, 0.4524), (0.1466, 0.7331, 0.8809)]
    return Structure(Lattice.hexagonal(4.9134, 5.4052), ["Si"] * 3 + ["O"] * 6, si + o)


def li2sio3() -> Structure:
    """Lithium metasilicate, Cmc2_1 (Hesse, Z. Kristallogr. 145 (1977) 4): SiO4 chains, Q2."""
    return Structure.from_spacegroup(
        "Cmc2_1", Lattice.orthorhombic(9.392, 5.397, 4.660), ["Li", "Si", "O", "O"],
        [[0.1737, 0.3449, -0.0016], [0, 0.1703, 0.4922], [0.1446, 0.3077, 0.4142],
         [0, 0.1142, 0.8457]],
    )


def li2o() -> Structure:
    """Antifluorite Li2O, a = 4.61 Å: every Li has 4 O at a√3/4 = 1.996 Å."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]]
    )


def test_alpha_quartz_is_a_fully_connected_tetrahedral_network():
    d = structure_descriptors(alpha_quartz())
    assert d.density_g_cm3 == pytest.approx(2.649, abs=0.002)  # α-quartz 2.65 g/cm³
    assert d.cn == {"Si-O": 4.0}
    assert d.cn_distribution["Si-O"] == {"4": 1.0}
    assert d.qn == {"Si": {"Q4": 1.0}}
    assert d.rdf_peak_A["Si-O"] == pytest.approx(1.609, abs=0.01)  # Si–O 1.604/1.613 Å
    assert 1.7 < d.cn_cutoff_A["Si-O"] < 3.0  # first minimum, before Si–O at 3.0+ Å
    # Shannon: Si4+ (IV) 0.26 Å, O2- (II) 1.35 Å; V = 113.0 Å³
    v = alpha_quartz().volume
    expected = (3 * 0.26**3 + 6 * 1.35**3) * 4 / 3 * np.pi / v
    assert d.packing_fraction == pytest.approx(expected, rel=1e-6)
    assert d.mean_bond_energy_eV is None and d.bond_energy_eV == {}


def test_metasilicate_chains_are_q2_and_antifluorite_li_is_fourfold():
    d = structure_descriptors(li2sio3())
    assert d.cn["Si-O"] == 4.0 and d.qn == {"Si": {"Q2": 1.0}}
    # Li in Li2SiO3 has 3 O at 1.93–2.0 Å and a 4th at 2.17 Å: a fixed cut-off counts it
    fixed = structure_descriptors(li2sio3(), cutoffs_A={"Li-O": 2.5})
    assert fixed.cn["Li-O"] == 4.0 and fixed.cn_cutoff_A["Li-O"] == 2.5
    d = structure_descriptors(li2o())
    assert d.cn == {"Li-O": 4.0}
    assert d.rdf_peak_A["Li-O"] == pytest.approx(4.61 * np.sqrt(3) / 4, abs=0.01)


def test_rocksalt_packing_fraction_from_shannon_radii():
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                  [[0, 0, 0], [0.5] * 3])
    # Na+ (VI) 1.02 Å, Cl- (VI) 1.81 Å, 4 formula units in 5.64³ Å³: 0.653
    pf, notes = packing_fraction(s.species and [x.symbol for x in s.species], s.volume,
                                 {"Na": 6, "Cl": 6})
    assert pf == pytest.approx(4 * 4 / 3 * np.pi * (1.02**3 + 1.81**3) / 5.64**3, rel=1e-9)
    assert pf == pytest.approx(0.653, abs=0.001) and notes == []


def test_boron_n4_from_the_same_cutoff():
    # one BO4 tetrahedron (1.47 Å) and one BO3 triangle (1.37 Å), far apart
    b4 = np.array([[1, 1, 1], [-1, -1, 1], [-1, 1, -1], [1, -1, -1]]) / np.sqrt(3) * 1.47
    b3 = np.array([[1, 0, 0], [-0.5, 0.866, 0], [-0.5, -0.866, 0]]) * 1.37
    c1, c2 = np.full(3, 5.0), np.full(3, 15.0)
    pos = np.vstack([c1, c2, c1 + b4, c2 + b3])
    s = Structure(Lattice.cubic(20), ["B", "B"] + ["O"] * 7, pos, coords_are_cartesian=True)
    d = structure_descriptors(s, cutoffs_A={"B-O": 1.9})
    assert d.n4 == {"B": 0.5}
    assert d.cn["B-O"] == 3.5


def test_trajectory_average_sigma_and_round_trip():
    rng = np.random.default_rng(0)
    s = li2o() * 3  # 324 atoms, 13.83 Å cube: the vectorised minimum-image path
    base = s.cart_coords
    frames = base + rng.normal(0, 0.05, (40, len(s), 3))
    traj = Trajectory([x.symbol for x in s.species], frames, s.lattice.matrix, time_step=10.0)
    calls = []

    def pair(a, b, r):
        calls.append((a, b))
        return -1.0 / r

    d = structure_descriptors(traj, pair_energy=pair, bond_energy_definition="-1/r")
    assert d.n_frames == 20  # the second half
    assert d.cn["Li-O"] == 4.0 and d.cn_std["Li-O"] == 0.0
    assert d.density_g_cm3 == pytest.approx(s.density, rel=1e-6)
    assert d.mean_bond_energy_eV == pytest.approx(-1 / d.rdf_peak_A["Li-O"], rel=1e-3)
    assert calls == [("Li", "O")]
    assert d.sq_q_inv_A.shape == Q_GRID.shape and np.all(np.isfinite(d.sq_xray))
    # stored form: JSON-able, curves come back as float16-rounded arrays
    back = StructureDescriptors.from_dict(json.loads(json.dumps(d.to_dict())))
    assert back.cn == d.cn and back.qn == d.qn
    np.testing.assert_allclose(back.rdf["Li-O"], d.rdf["Li-O"], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(back.sq_neutron, d.sq_neutron, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(back.rdf_r_A, d.rdf_r_A, atol=1e-9)
    np.testing.assert_allclose(back.sq_q_inv_A, d.sq_q_inv_A, atol=1e-9)
    assert len(json.dumps(d.to_dict()["curves"])) < 3000  # bytes: summaries stay small


def test_no_anion_is_refused():
    s = Structure(Lattice.cubic(3.0), ["Cu"], [[0, 0, 0]])
    with pytest.raises(AnalysisError, match="no anion"):
        structure_descriptors(s)


def test_analyze_structure_prints_json_and_plots(tmp_path, capsys):
    from ase.io import write

    from amorphdb.cli import main

    rng = np.random.default_rng(1)
    s = li2o() * 3
    frames = s.cart_coords + rng.normal(0, 0.05, (10, len(s), 3))
    traj = Trajectory([x.symbol for x in s.species], frames, s.lattice.matrix, time_step=10.0)
    path = tmp_path / "li2o_300K.extxyz"
    write(path, [traj.to_ase(i) for i in range(traj.n_frames)])
    args = ["analyze", str(path), "--frame-interval-fs", "10", "--structure"]
    assert main([*args, "--json", "--plot", str(tmp_path / "a.png")]) == 0
    out = json.loads(capsys.readouterr().out)
    st = out["files"][0]["structure"]
    assert st["cn"] == {"Li-O": 4.0} and st["cn_cutoff_A"]["Li-O"] > 2.0
    assert len(st["sq"]["q_inv_A"]) == Q_GRID.size
    assert (tmp_path / "a-structure.png").stat().st_size > 10_000
    assert main(args) == 0
    assert "CN Li-O = 4.000" in capsys.readouterr().out
