import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.core.trajectory import Trajectory as PmgTrajectory

from amorphdb.analysis import AnalysisError, Trajectory


def _traj(n_frames=5, n_atoms=4, seed=0):
    rng = np.random.default_rng(seed)
    return Trajectory(
        ["Li"] * (n_atoms // 2) + ["O"] * (n_atoms - n_atoms // 2),
        rng.random((n_frames, n_atoms, 3)) * 10,
        np.eye(3) * 10,
        2.0,
    )


def test_properties():
    t = _traj()
    assert t.n_frames == 5 and t.n_atoms == 4
    assert t.is_constant_cell and t.lattice.shape == (3, 3) and t.lattices.shape == (5, 3, 3)
    np.testing.assert_allclose(t.volume_A3, 1000.0)
    np.testing.assert_allclose(t.times_ps, [0, 0.002, 0.004, 0.006, 0.008])
    assert t.symbols == ["Li", "O"]
    np.testing.assert_array_equal(t.indices("O"), [2, 3])


def test_per_frame_identical_lattice_collapses_and_npt_kept():
    t = _traj()
    same = Trajectory(t.species, t.positions, np.stack([np.eye(3) * 10] * 5), 2.0)
    assert same.is_constant_cell
    lat = np.stack([np.eye(3) * (10 + i) for i in range(5)])
    npt = Trajectory(t.species, t.positions, lat, 2.0)
    assert not npt.is_constant_cell
    np.testing.assert_allclose(npt.volume_A3, [(10 + i) ** 3 for i in range(5)])


def test_slicing_and_concatenate_keep_time():
    t = _traj(10)
    s = t[::3]
    assert s.n_frames == 4 and s.time_step == 6.0
    assert t.subsample(2).time_step == 4.0
    a, b = t[:6], t[5:]  # overlap one frame (restart frame written twice)
    joined = a.concatenate(b)
    assert joined.n_frames == 10
    np.testing.assert_array_equal(joined.positions, t.positions)
    with pytest.raises(AnalysisError, match="time steps differ"):
        a.concatenate(t[::2])


@pytest.mark.parametrize("float64", [False, True])
def test_msonable_round_trip(float64):
    t = _traj(7, 6)
    d = json.loads(json.dumps(t.as_dict(float64=float64)))
    back = Trajectory.from_dict(d)
    want = t.positions if float64 else t.positions.astype(np.float32)
    np.testing.assert_array_equal(back.positions, want)
    np.testing.assert_array_equal(back.lattice, t.lattice)
    assert back.time_step == t.time_step and list(back.species) == list(t.species)
    # float32 resolution stays below 1e-5 Å for coordinates up to 10 Å
    assert np.abs(back.positions - t.positions).max() < 1e-5


def test_pymatgen_and_ase_round_trip():
    t = _traj(3, 4)
    structures = t.to_pymatgen_structures()
    assert isinstance(structures[0], Structure)
    pmg = PmgTrajectory.from_structures(structures, constant_lattice=True)
    back = Trajectory.from_pymatgen(pmg, time_step=2.0)
    frac = lambda x: (x @ np.linalg.inv(t.lattice)) % 1.0  # noqa: E731
    np.testing.assert_allclose(frac(back.positions), frac(t.positions), atol=1e-10)
    ase_back = Trajectory.from_ase([t.to_ase(i) for i in range(3)], time_step=2.0)
    np.testing.assert_allclose(ase_back.positions, t.positions)
    assert ase_back.is_constant_cell


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"positions": np.zeros((0, 4, 3))}, "empty"),
        ({"positions": np.zeros((5, 4, 2))}, "shape"),
        ({"species": ["Li"] * 3}, "3 species for 4 atoms"),
        ({"time_step": 0.0}, "time_step must be > 0"),
        ({"time_step": -1}, "time_step must be > 0"),
        ({"lattice": np.zeros((3, 3))}, "singular"),
        ({"lattice": np.eye(3)[None].repeat(2, 0)}, "lattice has shape"),
    ],
)
def test_bad_input(kwargs, match):
    base = {
        "species": ["Li", "Li", "O", "O"],
        "positions": np.zeros((5, 4, 3)),
        "lattice": np.eye(3) * 10,
        "time_step": 2.0,
    }
    base.update(kwargs)
    with pytest.raises(AnalysisError, match=match):
        Trajectory(**base)


def test_non_finite_positions_named():
    pos = np.zeros((5, 4, 3))
    pos[3, 2, 1] = np.nan
    with pytest.raises(AnalysisError, match="frame 3, atom 2"):
        Trajectory(["Li"] * 4, pos, np.eye(3) * 10, 2.0)


def test_species_not_present():
    with pytest.raises(AnalysisError, match="Na not in the trajectory"):
        _traj().indices("Na")


def test_frame_structure_wraps():
    s = Structure(Lattice.cubic(5), ["Li"], [[0.1, 0.2, 0.3]])
    t = Trajectory.from_pymatgen([s, s], time_step=1.0)
    assert t.frame_structure(0).composition.reduced_formula == "Li"
