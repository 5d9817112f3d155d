import json

import numpy as np
import pytest
from ase.io import write

from amorphdb.analysis.arrhenius import BOLTZMANN_EV_K as KB
from amorphdb.analysis.synthetic import random_walk_trajectory
from amorphdb.cli import main

# a VASP 5/6 INCAR of an NVT MD run: POTIM 2 fs, a configuration every NBLOCK = 5 steps
INCAR = """SYSTEM = Li2O random walk
PREC = Normal ; ENCUT = 400
ISMEAR = 0 ; SIGMA = 0.1
IBRION = 0      ! molecular dynamics
NSW = 5000
POTIM = 2.0
NBLOCK = 5
TEBEG = 1500
MDALGO = 2 ; SMASS = 0
"""


def write_vasp_xdatcar(t, path, every=1):
    """XDATCAR in the layout VASP 5.4/6 writes (header once, 'Direct configuration=')."""
    lat = t.lattice
    out = ["Li2O random walk", "           1"]
    out += ["  " + "".join(f"{v:12.6f}" for v in row) for row in lat]
    symbols = t.symbols
    out.append("".join(f"{s:>5}" for s in symbols))
    out.append("".join(f"{int(np.sum(t.species == s)):>6}" for s in symbols))
    inv = np.linalg.inv(lat)
    for k, f in enumerate(range(0, t.n_frames, every), 1):
        out.append(f"Direct configuration={k:6d}")
        frac = (t.positions[f] @ inv) % 1.0
        out += [f"  {a:.8f}  {b:.8f}  {c:.8f}" for a, b, c in frac]
    path.write_text("\n".join(out) + "\n")


@pytest.fixture(scope="module")
def walk():
    # D = 1e-4 cm²/s, a frame every 10 fs (POTIM 2 fs x NBLOCK 5)
    return random_walk_trajectory(
        800, D_cm2_s=1e-4, n_diffusing=20, n_framework=20, time_step_fs=10.0, seed=4
    )


def _d(text, species):
    line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"D({species}) ="))
    value, rest = line.split("=", 1)[1].split("±")
    return float(value), float(rest.split()[0])


def test_readme_example_on_a_vasp_xdatcar_with_its_incar(tmp_path, walk, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_vasp_xdatcar(walk, tmp_path / "XDATCAR")
    # without the INCAR the frame spacing is unknown: refused, naming the flags
    assert main(["analyze", "XDATCAR", "--species", "Li"]) == 2
    assert "--frame-interval-fs" in capsys.readouterr().err
    # POTIM alone is not the time between frames (the 5x error of the issue)
    assert main(["analyze", "XDATCAR", "--species", "Li", "--timestep-fs", "2"]) == 2
    err = capsys.readouterr().err
    assert "--nblock N" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "INCAR").write_text(INCAR)
    assert main(["analyze", "XDATCAR", "--species", "Li"]) == 0  # the README line
    out = capsys.readouterr().out
    assert "10 fs (MD step 2 fs (INCAR) x 5 steps (INCAR))" in out
    d, s = _d(out, "Li")
    assert abs(d - 1e-4) < 4 * s and s < 0.2e-4  # not 5e-4
    assert "σ_NE(Li) =" in out and "at 1500 K" in out  # TEBEG of the INCAR
    assert "FROZEN GLASS" in out  # the O only vibrate


def test_ambiguous_time_flags_refused(tmp_path, walk, capsys):
    write_vasp_xdatcar(walk, tmp_path / "XDATCAR", every=20)
    args = ["analyze", str(tmp_path / "XDATCAR"), "--frame-interval-fs", "10"]
    assert main([*args, "--timestep-fs", "2"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main([*args, "--nblock", "5"]) == 2
    assert main([*args, "-s", "Li"]) == 0


def _dump(t, path, every=1):
    out = []
    for f in range(0, t.n_frames, every):
        out += ["ITEM: TIMESTEP", str(f * 2), "ITEM: NUMBER OF ATOMS", str(t.n_atoms)]
        out += ["ITEM: BOX BOUNDS pp pp pp"] + [f"0 {t.lattice[i, i]}" for i in range(3)]
        out.append("ITEM: ATOMS id element x y z")
        out += [
            f"{i + 1} {s} {x:.6f} {y:.6f} {z:.6f}"
            for i, (s, (x, y, z)) in enumerate(zip(t.species, t.positions[f], strict=True))
        ]
    path.write_text("\n".join(out) + "\n")


def test_lammps_dump_json_plain_numbers_and_plot(tmp_path, walk, capsys):
    _dump(walk, tmp_path / "run.dump")
    args = ["analyze", str(tmp_path / "run.dump"), "--timestep-fs", "5", "--species", "Li,O"]
    code = main([*args, "--json", "--plot", str(tmp_path / "msd.png"), "--temperature", "1200"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    (f,) = out["files"]
    li, o = f["diffusion"]
    assert f["frame_interval_fs"] == 10.0 and "TIMESTEP" in f["time_source"]
    assert li["species"] == "Li" and abs(li["D"] - 1e-4) < 4 * li["D_std"]
    assert li["conductivity_mS_cm"] > 0 and li["haven_ratio"] > 0
    assert isinstance(li["msd"], list) and isinstance(li["msd"][1], float)  # not a blob
    # the vibrating O: no negative D, "not diffusive" with an upper bound
    assert o["D"] is None and not o["diffusive"] and 0 < o["D_upper_bound"] < 3e-6
    assert f["regime"] == "glass" and f["network_relaxation"]["species"]["O"]["caged"]
    assert (tmp_path / "msd.png").read_bytes()[:4] == b"\x89PNG"
    assert out["plots"] == [str(tmp_path / "msd.png")]


def test_text_output_conductivity_haven_and_not_diffusive(tmp_path, walk, capsys):
    write(tmp_path / "t.extxyz", [walk.to_ase(i) for i in range(0, 800, 4)])
    args = ["analyze", str(tmp_path / "t.extxyz"), "--frame-interval-fs", "40", "-T", "1200"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "D(Li) =" in text and "σ_NE(Li) =" in text and "Haven ratio" in text
    assert "D(O): not diffusive, D <" in text and "D(O) = -" not in text
    assert "g/cm³" in text


def test_several_files_give_an_arrhenius_fit_and_plot(tmp_path, capsys):
    for T in (1000, 1400, 2000):
        D = 1e-2 * np.exp(-0.5 / (KB * T))
        t = random_walk_trajectory(
            1200, D_cm2_s=D, n_diffusing=30, n_framework=10, time_step_fs=20, seed=T
        )
        write(tmp_path / f"run_{T}K.extxyz", [t.to_ase(i) for i in range(0, 1200, 2)])
    pattern = str(tmp_path / "run_*K.extxyz")  # a glob the shell did not expand
    plot = tmp_path / "arrhenius.png"
    args = ["analyze", pattern, "--frame-interval-fs", "40", "-s", "Li", "--plot", str(plot)]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["temperature_K"] for f in out["files"]] == [1000, 1400, 2000]
    glass = out["arrhenius"]["Li"]["fits"]["glass"]  # the O are frozen: glass regime
    assert abs(glass["Ea"] - 0.5) < 3 * glass["Ea_std"] + 0.02
    assert glass["Ea_std_scaled"] > 0 and glass["chi2_dof"] is not None
    assert plot.stat().st_size > 1000 and (tmp_path / "arrhenius-msd-3.png").is_file()
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Arrhenius Li: glass: Ea = " in text and "(stated σ)" in text


def test_help_and_user_errors_exit_2(tmp_path, capsys):
    assert main(["analyze", "-h"]) == 0
    assert "--frame-interval-fs" in capsys.readouterr().out
    write(tmp_path / "t.extxyz", [random_walk_trajectory(5, seed=1).to_ase(i) for i in range(5)])
    xyz = str(tmp_path / "t.extxyz")
    assert main(["analyze", xyz]) == 2
    assert "--frame-interval-fs" in capsys.readouterr().err
    assert main(["analyze", xyz, "--frame-interval-fs", "1", "-s", "Na"]) == 2
    assert main(["analyze", xyz, "--format", "gro"]) == 2
    assert "unknown trajectory format" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "none_*.xyz")]) == 2
    assert "no file matches" in capsys.readouterr().err
    # --plot writes a file and creates no folder
    missing = tmp_path / "nodir" / "p.png"
    assert main(["analyze", xyz, "--frame-interval-fs", "1", "--plot", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err and not missing.parent.exists()
    assert main(["analyze", xyz, "--frame-interval-fs", "1", "--plot", "p.txt"]) == 2
    assert "unknown image type" in capsys.readouterr().err
    # a broken file: one line, exit 2
    (tmp_path / "XDATCAR").write_bytes(b"\x00\xff" * 100)
    assert main(["analyze", str(tmp_path / "XDATCAR"), "--frame-interval-fs", "1"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_several_files_one_failing_exit_1_after_the_others(tmp_path, walk, capsys):
    write(tmp_path / "a_1000K.extxyz", [walk.to_ase(i) for i in range(0, 800, 4)])
    write(tmp_path / "b_1200K.extxyz", [walk.to_ase(i) for i in range(2)])  # 2 frames
    args = ["analyze", str(tmp_path / "*.extxyz"), "--frame-interval-fs", "40", "-s", "Li"]
    assert main(args) == 1
    cap = capsys.readouterr()
    assert "D(Li) =" in cap.out and "a_1000K.extxyz" in cap.out
    assert "failed:" in cap.err and "b_1200K.extxyz" in cap.err and "2 frames" in cap.err
    assert main([*args, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert len(out["files"]) == 1 and list(out["failed"]) == [str(tmp_path / "b_1200K.extxyz")]
