"""Compressed files, every XDATCAR variant pymatgen/ASE/VASP write, ASE formats, failures."""

import bz2
import gzip
import lzma
import warnings

import numpy as np
import pytest
from ase.io import write
from pymatgen.core.trajectory import Trajectory as PmgTrajectory

from amorphdb.analysis import AnalysisError, AnalysisWarning, Trajectory
from amorphdb.analysis.synthetic import random_walk_trajectory
from amorphdb.analysis.timing import run_temperature_K

OPENERS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}


def _same_atoms(a, b, atol=1e-5):
    """Same species and positions up to lattice images."""
    assert list(a.species) == list(b.species) and a.n_frames == b.n_frames
    fa = np.einsum("fai,fij->faj", a.positions, np.linalg.inv(a.lattices))
    fb = np.einsum("fai,fij->faj", b.positions, np.linalg.inv(b.lattices))
    d = fa - fb
    assert np.abs(d - np.rint(d)).max() < atol
    np.testing.assert_allclose(a.lattices, b.lattices, atol=1e-5)


@pytest.fixture(scope="module")
def small():
    return random_walk_trajectory(12, n_diffusing=4, n_framework=3, seed=5)


@pytest.fixture(scope="module")
def small_npt():
    return random_walk_trajectory(12, n_diffusing=4, n_framework=3, npt_strain=0.02, seed=6)


def _compress(path, kind):
    out = path.with_name(path.name + "." + kind)
    with OPENERS[kind](out, "wb") as fh:
        fh.write(path.read_bytes())
    path.unlink()
    return out


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz"])
def test_compressed_files_read_transparently(tmp_path, small, kind):
    xyz = tmp_path / "t.extxyz"
    write(xyz, [small.to_ase(i) for i in range(small.n_frames)])
    r = Trajectory.from_file(_compress(xyz, kind), frame_interval_fs=2.0)
    _same_atoms(r, small)
    x = tmp_path / "XDATCAR"
    write(x, [small.to_ase(i) for i in range(small.n_frames)], format="vasp-xdatcar")
    (tmp_path / "INCAR").write_text("POTIM = 1.0\nNBLOCK = 2\n")
    r = Trajectory.from_file(_compress(x, kind))
    assert r.time_step == 2.0
    _same_atoms(r, small)


@pytest.mark.parametrize("constant", [True, False])
def test_pymatgen_written_xdatcar_with_element_labels(tmp_path, small, small_npt, constant):
    t = small if constant else small_npt
    pmg = PmgTrajectory.from_structures(t.to_pymatgen_structures(), constant_lattice=constant)
    pmg.write_Xdatcar(tmp_path / "XDATCAR")
    first = (tmp_path / "XDATCAR").read_text().splitlines()[8]
    assert first.split()[-1] == "Li"  # pymatgen's element label after the coordinates
    r = Trajectory.from_file(tmp_path / "XDATCAR", frame_interval_fs=2.0)
    assert r.is_constant_cell is constant
    _same_atoms(r, t)


def test_ase_written_xdatcar_variable_cell(tmp_path, small_npt):
    write(
        tmp_path / "XDATCAR",
        [small_npt.to_ase(i) for i in range(small_npt.n_frames)],
        format="vasp-xdatcar",
    )
    r = Trajectory.from_file(tmp_path / "XDATCAR", frame_interval_fs=2.0)
    assert not r.is_constant_cell
    _same_atoms(r, small_npt)


def test_ase_traj_and_ase_fallback(tmp_path, small):
    from ase.io.trajectory import Trajectory as AseTraj

    with AseTraj(tmp_path / "md.traj", "w") as tr:
        for i in range(small.n_frames):
            tr.write(small.to_ase(i))
    r = Trajectory.from_file(tmp_path / "md.traj", frame_interval_fs=5.0)
    assert r.time_step == 5.0 and r.metadata["format"] == "traj"
    _same_atoms(r, small)
    # a format only ASE knows, guessed by ASE (ASE's JSON database)
    write(tmp_path / "frames.json", [small.to_ase(i) for i in range(small.n_frames)])
    r = Trajectory.from_file(tmp_path / "frames.json", frame_interval_fs=5.0)
    assert r.metadata["format"] == "ase"
    _same_atoms(r, small)
    # an explicit ase.io format name
    r = Trajectory.from_file(_compress(tmp_path / "frames.json", "gz"), "json", 5.0)
    _same_atoms(r, small)


def test_extxyz_step_key_gives_frames_apart(tmp_path, small):
    frames = []
    for i in range(small.n_frames):
        a = small.to_ase(i)
        a.info["step"] = 100 + 20 * i
        frames.append(a)
    write(tmp_path / "t.extxyz", frames)
    r = Trajectory.from_file(tmp_path / "t.extxyz", timestep_fs=0.5)
    assert r.time_step == 10.0
    with pytest.raises(AnalysisError, match="--nblock 5 contradicts"):
        Trajectory.from_file(tmp_path / "t.extxyz", timestep_fs=0.5, nblock=5)


@pytest.mark.parametrize(
    ("content", "name", "match"),
    [
        (b"\x00\x01\x02garbage\xff\xfe" * 50, "XDATCAR", "cannot read as xdatcar"),
        (
            gzip.compress(b"ITEM: TIMESTEP\n0\n", mtime=0)[:-6],
            "run.dump.gz",
            "cannot read as lammps-dump",
        ),
        (
            b"x\n1.0\n1 0 0\n0 1 0\n0 0 1\nLi\n1\nDirect configuration= 1\n0 a 0\n",
            "XDATCAR",
            "bad coordinate line",
        ),
        (b"<?xml version='1.0'?><modeling><calc", "vasprun.xml", "not a readable vasprun"),
        (b"3\nLattice=\n", "t.extxyz", "not readable as extxyz"),
        (b"hello\n", "a.weird", "cannot tell the format"),
    ],
    ids=["garbage-xdatcar", "cut-gzip-dump", "bad-xdatcar-line", "cut-vasprun", "bad-extxyz",
         "unknown-format"],
)
def test_reader_failures_are_one_line(tmp_path, content, name, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(AnalysisError, match=match) as err:
        Trajectory.from_file(p, frame_interval_fs=1.0)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------ time between frames
def _write_xdatcar(tmp_path, t):
    write(tmp_path / "XDATCAR", [t.to_ase(i) for i in range(t.n_frames)], format="vasp-xdatcar")
    return tmp_path / "XDATCAR"


OUTCAR_PART = """ POTIM = 1.5
   POTIM  =   1.5000    time-step for ionic-motion
   NBLOCK =      4;   KBLOCK =      3    inner block; outer block
"""


def test_xdatcar_time_from_incar_outcar_vasprun(tmp_path, small):
    x = _write_xdatcar(tmp_path, small)
    with pytest.raises(AnalysisError, match="no time information; give --frame-interval-fs"):
        Trajectory.from_file(x)
    with pytest.raises(AnalysisError, match="give --nblock N"):
        Trajectory.from_file(x, timestep_fs=2.0)  # POTIM is not the frame spacing
    (tmp_path / "INCAR").write_text(
        "SYSTEM = test\nIBRION = 0; POTIM = 2.0 ! fs\nNBLOCK = 5\nTEBEG = 1000; TEEND = 1000\n"
    )
    assert run_temperature_K(x) == (1000.0, "INCAR")
    r = Trajectory.from_file(x)
    assert r.time_step == 10.0 and "INCAR" in r.metadata["time_source"]
    (tmp_path / "INCAR").write_text("IBRION = 0\nPOTIM = 2.0\n")  # NBLOCK: VASP default 1
    assert Trajectory.from_file(x).time_step == 2.0
    # the OUTCAR holds what VASP used (it resets NBLOCK when KBLOCK*NBLOCK > NSW)
    with gzip.open(tmp_path / "OUTCAR.gz", "wt") as fh:
        fh.write(OUTCAR_PART)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = Trajectory.from_file(x)
    assert r.time_step == 6.0 and "OUTCAR" in r.metadata["time_source"]
    assert any("INCAR says POTIM 2.0" in str(w.message) for w in caught)
    (tmp_path / "OUTCAR.gz").unlink()
    (tmp_path / "INCAR").unlink()
    (tmp_path / "vasprun.xml").write_text(
        '<?xml version="1.0"?><modeling><incar><i name="POTIM">0.5</i></incar>'
        '<parameters><i type="int" name="NBLOCK">     8</i><i name="POTIM">  0.5</i>'
        "</parameters><calculation></calculation></modeling>"
    )
    assert Trajectory.from_file(x).time_step == 4.0
    # the flags override the files
    assert Trajectory.from_file(x, frame_interval_fs=7.0).time_step == 7.0
    with pytest.warns(AnalysisWarning, match="--nblock 2 overrides NBLOCK 8 of vasprun.xml"):
        assert Trajectory.from_file(x, nblock=2).time_step == 1.0


def test_ambiguous_time_flags_refused(tmp_path, small):
    x = _write_xdatcar(tmp_path, small)
    with pytest.raises(AnalysisError, match="not both"):
        Trajectory.from_file(x, frame_interval_fs=2.0, timestep_fs=2.0)
    with pytest.raises(AnalysisError, match="not both"):
        Trajectory.from_file(x, frame_interval_fs=2.0, nblock=3)
    with pytest.raises(AnalysisError, match="old name"):
        Trajectory.from_file(x, frame_interval_fs=2.0, time_step=2.0)
    with pytest.raises(AnalysisError, match="--nblock must be a whole number"):
        Trajectory.from_file(x, timestep_fs=2.0, nblock=0)
    write(tmp_path / "t.extxyz", [small.to_ase(i) for i in range(small.n_frames)])
    with pytest.raises(AnalysisError, match="give --nblock"):
        Trajectory.from_file(tmp_path / "t.extxyz", timestep_fs=2.0)
    assert Trajectory.from_file(tmp_path / "t.extxyz", timestep_fs=2.0, nblock=3).time_step == 6


def test_lammps_nblock_must_match_timestep_items(tmp_path, small):
    lines = []
    for f in range(3):
        lines += ["ITEM: TIMESTEP", str(f * 10), "ITEM: NUMBER OF ATOMS", "1"]
        lines += ["ITEM: BOX BOUNDS pp pp pp", "0 5", "0 5", "0 5", "ITEM: ATOMS id element x y z"]
        lines += [f"1 Li {f * 0.1} 1 1"]
    (tmp_path / "d.dump").write_text("\n".join(lines) + "\n")
    assert Trajectory.from_file(tmp_path / "d.dump", timestep_fs=2.0).time_step == 20.0
    assert Trajectory.from_file(tmp_path / "d.dump", timestep_fs=2.0, nblock=10).time_step == 20.0
    with pytest.raises(AnalysisError, match="--nblock 5 contradicts the TIMESTEP items"):
        Trajectory.from_file(tmp_path / "d.dump", timestep_fs=2.0, nblock=5)


def test_lammps_timestep_from_the_input_or_log_next_to_the_dump(tmp_path):
    lines = []
    for f in range(3):
        lines += ["ITEM: TIMESTEP", str(f * 10), "ITEM: NUMBER OF ATOMS", "1"]
        lines += ["ITEM: BOX BOUNDS pp pp pp", "0 5", "0 5", "0 5", "ITEM: ATOMS id element x y z"]
        lines += [f"1 Li {f * 0.1} 1 1"]
    (tmp_path / "traj.dump").write_text("\n".join(lines) + "\n")
    with pytest.raises(AnalysisError, match="no time information"):
        Trajectory.from_file(tmp_path / "traj.dump")
    (tmp_path / "in.lammps").write_text(
        "units metal\natom_style atomic\ntimestep 0.002\n"
        "fix heat all nvt temp 300.0 1200.0 0.1\nrun 10\nunfix heat\n"
        "fix integrate all nvt temp 1200.0 1200.0 0.1\nrun 20\n"
    )
    assert run_temperature_K(tmp_path / "traj.dump") == (1200.0, "in.lammps")
    t = Trajectory.from_file(tmp_path / "traj.dump")
    assert (
        t.time_step == pytest.approx(20.0)
        and "in.lammps (units metal)" in t.metadata["time_source"]
    )
    (tmp_path / "log.lammps").write_text(
        "LAMMPS (2 Aug 2023)\nunits real\ntimestep 0.5\nfix 1 all langevin 900 300 100 7\n"
    )
    assert run_temperature_K(tmp_path / "traj.dump") == (None, "")  # a ramp
    assert Trajectory.from_file(tmp_path / "traj.dump").time_step == pytest.approx(5.0)
    assert Trajectory.from_file(tmp_path / "traj.dump", timestep_fs=1.0).time_step == 10.0
