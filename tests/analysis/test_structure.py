import numpy as np
import pytest
from ase.geometry.rdf import get_rdf
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from scipy.signal import find_peaks

from amorphdb.analysis import (
    Trajectory,
    boron_n4_fraction,
    coordination_numbers,
    density,
    rdf,
    structure_factor,
)


def nacl(n=2):
    s = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    return s * n


def test_density_matches_pymatgen():
    s = nacl()
    assert density(s) == pytest.approx(s.density, rel=1e-8)


def test_rdf_matches_ase():
    s = nacl()
    atoms = AseAtomsAdaptor.get_atoms(s)
    res = rdf(s, r_max=5.5, dr=0.05)
    g, r = get_rdf(atoms, 5.5, 110, elements=["Na", "Cl"])
    np.testing.assert_allclose(res.g("Na", "Cl"), g, atol=1e-10)
    np.testing.assert_allclose(res.r, r)
    g_tot, _ = get_rdf(atoms, 5.5, 110)
    np.testing.assert_allclose(res.total, g_tot, atol=1e-10)


def test_coordination_rocksalt_and_triclinic_trajectory():
    cn = coordination_numbers(nacl(), "Na", "Cl")
    assert cn["mean"] == 6.0 and cn["distribution"] == {6: 1.0}
    assert 2.82 < cn["cutoff_A"] < 4.88
    # the same crystal in a sheared (triclinic) supercell description
    s = nacl(1)
    s.make_supercell([[1, 1, 0], [0, 1, 0], [0, 0, 2]])
    traj = Trajectory.from_pymatgen([s, s], time_step=1.0)
    assert coordination_numbers(traj, "Cl", "Na", cutoff_A=3.2)["mean"] == 6.0


def test_boron_n4_fraction():
    # two B: one BO4 tetrahedron, one BO3 triangle (1.4-1.5 Å), far apart in a 20 Å box
    b4 = np.array([[1, 1, 1], [-1, -1, 1], [-1, 1, -1], [1, -1, -1]]) / np.sqrt(3) * 1.47
    b3 = np.array([[1, 0, 0], [-0.5, 0.866, 0], [-0.5, -0.866, 0]]) * 1.37
    c1, c2 = np.full(3, 5.0), np.full(3, 15.0)
    pos = np.vstack([c1, c2, c1 + b4, c2 + b3])
    s = Structure(Lattice.cubic(20), ["B", "B"] + ["O"] * 7, pos, coords_are_cartesian=True)
    assert boron_n4_fraction(s, cutoff_A=1.9) == 0.5


def test_xray_sq_peaks_at_bragg_reflections():
    s = nacl(4)
    sq = structure_factor(s, "xray", r_max=11.0)
    pattern = XRDCalculator().get_pattern(nacl(1))
    lam = XRDCalculator().wavelength
    q_bragg = 4 * np.pi * np.sin(np.radians(np.asarray(pattern.x) / 2)) / lam
    strongest = q_bragg[np.argsort(pattern.y)[::-1][:2]]  # (200) and (220)
    peaks, _ = find_peaks(sq.S, height=1.5)
    for qb in strongest:
        assert np.min(np.abs(sq.q[peaks] - qb)) < 0.06
    # S(q) -> 1 at large q; neutron and X-ray weights differ
    assert abs(sq.S[-50:].mean() - 1) < 0.1
    sn = structure_factor(s, "neutron", r_max=11.0)
    assert not np.allclose(sn.S, sq.S)
