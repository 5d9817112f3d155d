import json

import numpy as np
import pytest
from ase.io import write

from amorphdb.analysis.synthetic import random_walk_trajectory
from amorphdb.cli import main


@pytest.fixture(scope="module")
def traj():
    return random_walk_trajectory(1500, D_cm2_s=1e-4, n_diffusing=20, n_framework=10, seed=4)


def _dump(t, path):
    out = []
    for f in range(t.n_frames):
        out += [
            "ITEM: TIMESTEP",
            str(f * 2),
            "ITEM: NUMBER OF ATOMS",
            str(t.n_atoms),
            "ITEM: BOX BOUNDS pp pp pp",
        ] + [f"0 {t.lattice[i, i]}" for i in range(3)]
        out.append("ITEM: ATOMS id element x y z")
        out += [
            f"{i + 1} {s} {x:.6f} {y:.6f} {z:.6f}"
            for i, (s, (x, y, z)) in enumerate(zip(t.species, t.positions[f], strict=True))
        ]
    path.write_text("\n".join(out) + "\n")


def test_analyze_lammps_dump_json_and_plot(tmp_path, traj, capsys):
    _dump(traj, tmp_path / "run.dump")
    code = main(
        [
            "analyze",
            str(tmp_path / "run.dump"),
            "--timestep-fs",
            "1",
            "--species",
            "Li",
            "--json",
            "--plot",
            str(tmp_path / "plots"),
            "--temperature",
            "1200",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    d = out["diffusion"][0]
    assert d["species"] == "Li" and abs(d["D"] - 1e-4) < 4 * d["D_std"]
    assert d["conductivity_mS_cm"] > 0
    assert (tmp_path / "plots" / "msd.png").stat().st_size > 1000


def test_analyze_extxyz_text(tmp_path, traj, capsys):
    write(tmp_path / "t.extxyz", [traj.to_ase(i) for i in range(0, 1500, 5)])
    assert main(["analyze", str(tmp_path / "t.extxyz"), "--time-step", "10"]) == 0
    text = capsys.readouterr().out
    assert "D(Li)" in text and "D(O)" in text and "g/cm³" in text


def test_analyze_xdatcar(tmp_path, traj, capsys):
    lines = ["x", "1.0"] + [" ".join(map(str, r)) for r in traj.lattice] + ["Li O", "20 10"]
    for f in range(0, 1500, 3):
        lines.append(f"Direct configuration= {f + 1}")
        lines += [
            " ".join(f"{v:.8f}" for v in r) for r in traj.positions[f] @ np.linalg.inv(traj.lattice)
        ]
    (tmp_path / "XDATCAR").write_text("\n".join(lines) + "\n")
    assert main(["analyze", str(tmp_path / "XDATCAR"), "--time-step", "6", "-s", "Li"]) == 0
    assert "D(Li)" in capsys.readouterr().out


def test_user_errors_exit_2(tmp_path, capsys):
    write(tmp_path / "t.extxyz", [random_walk_trajectory(5, seed=1).to_ase(i) for i in range(5)])
    assert main(["analyze", str(tmp_path / "t.extxyz")]) == 2
    assert "time_step" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "t.extxyz"), "--time-step", "1", "-s", "Na"]) == 2
    assert main(["analyze", str(tmp_path / "t.extxyz"), "--format", "gro"]) == 2
    assert "unknown trajectory format" in capsys.readouterr().err
