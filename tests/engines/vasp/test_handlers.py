"""amorphdb's AIMD handlers detect their error in VASP-format text and apply the documented fix."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest
from custodian.vasp.handlers import VaspErrorHandler
from pymatgen.io.vasp.inputs import Incar

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fake_vasp"))

from amorphdb.engines.vasp.handlers import (
    ElectronicConvergenceHandler,
    MDInstabilityHandler,
    SegmentWalltimeHandler,
    md_vasp_error_handler,
)

HEADER = (
    "       N       E                     dE             d eps       ncg     rms          rms(c)\n"
)


def _oszicar(temps, n_elec, energies=None):
    lines = [HEADER]
    for i, (t, ne) in enumerate(zip(temps, n_elec, strict=True), start=1):
        e = -40.0 if energies is None else energies[i - 1]
        for k in range(1, ne + 1):
            lines.append(f"DAV: {k:3d}    {e:.12E}   {1e-3:.5E}   {-1e-3:.5E}   128   1.0E-02\n")
        lines.append(
            f"{i:6d} T= {t:6.0f}. E= {e + 1:.8E} F= {e:.8E} E0= {e:.8E}  EK= 1.0E+00 "
            "SP= 0.00E+00 SK= 0.00E+00\n"
        )
    return "".join(lines)


def _dir(tmp_path, incar, oszicar=""):
    Incar(incar).write_file(tmp_path / "INCAR")
    (tmp_path / "OSZICAR").write_text(oszicar)
    return str(tmp_path)


def test_md_error_subset_catches_edddav_but_not_zbrent(tmp_path):
    d = _dir(tmp_path, {"ALGO": "Fast", "IBRION": 0})
    (tmp_path / "vasp.out").write_text(" Error EDDDAV: Call to ZHEGV failed\n")
    assert md_vasp_error_handler().check(d)
    (tmp_path / "vasp.out").write_text(" ZBRENT: fatal error in bracketing\n")
    assert not md_vasp_error_handler().check(d)  # its fix (IBRION 1) would end the MD
    assert VaspErrorHandler().check(d)  # custodian's full set would have acted
    (tmp_path / "vasp.out").write_text(" BRIONS problems: POTIM should be increased\n")
    assert not md_vasp_error_handler().check(d)  # its fix raises POTIM


def test_electronic_window(tmp_path):
    h = ElectronicConvergenceHandler(window=10, min_unconverged=5)
    isolated = [6] * 20
    isolated[4] = isolated[15] = 30  # two isolated steps at NELM = 30
    d = _dir(tmp_path, {"ALGO": "Fast", "NELM": 30}, _oszicar([1500] * 20, isolated))
    assert h.unconverged_steps(d) == [5, 16] and not h.check(d)
    persistent = [6] * 14 + [30] * 6
    d = _dir(tmp_path, {"ALGO": "Fast", "NELM": 30}, _oszicar([1500] * 20, persistent))
    assert h.check(d)
    rungs = []
    for _ in range(4):
        result = h.correct(d)
        rungs.append(None if result["actions"] is None else result["actions"][0]["action"]["_set"])
    assert rungs == [
        {"ALGO": "Normal"},
        {"ALGO": "All"},
        {"ALGO": "All", "AMIX": 0.1, "BMIX": 0.01},
        None,
    ]
    assert Incar.from_file(tmp_path / "INCAR")["AMIX"] == 0.1


@pytest.mark.parametrize(
    ("temps", "energies", "error", "bad"),
    [
        ([1500] * 11 + [2500, 4100, 9000], None, "temperature_runaway", 13),
        ([1500] * 14, [-40.0] * 9 + [3.0] * 5, "positive_energy", 10),
        ([1500] * 14, [-40.0] * 7 + [-20.0] * 7, "energy_drift", 8),
    ],
)
def test_instability_restarts_earlier_with_half_potim(tmp_path, temps, energies, error, bad):
    d = _dir(tmp_path, {"POTIM": 2.0}, _oszicar(temps, [6] * len(temps), energies))
    h = MDInstabilityHandler(max_temperature_K=4000, max_energy_drift_eV_per_atom=0.5, n_atoms=8)
    assert h.check(d)
    result = h.correct(d)
    assert result["errors"] == [error] and result["first_bad_step"] == bad
    assert result["restart_from_step"] == bad - 6 and result["potim_fs"] == [2.0, 1.0]
    assert Incar.from_file(tmp_path / "INCAR")["POTIM"] == 1.0
    # a stable run is left alone
    d = _dir(tmp_path, {"POTIM": 2.0}, _oszicar([1500] * 14, [6] * 14))
    assert not h.check(d)
    # below the minimum time step the error is unrecoverable (no silent tiny POTIM)
    d = _dir(tmp_path, {"POTIM": 0.06}, _oszicar(temps, [6] * len(temps), energies))
    assert h.correct(d)["actions"] is None


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_walltime_writes_stopcar_before_the_limit(tmp_path):
    # an OUTCAR as VASP (here the stand-in) writes it, with its LOOP+ step timings
    import shutil
    import subprocess

    from pymatgen.core import SETTINGS
    from vasp_testkit import FAKE_VASP, make_psp_dir, tiny_cell

    from amorphdb.engines.vasp.inputs import VaspStage, md_input_set

    root = make_psp_dir(tmp_path / "psp")
    old = SETTINGS.get("PMG_VASP_PSP_DIR")
    SETTINGS["PMG_VASP_PSP_DIR"] = str(root)
    try:
        md_input_set(
            tiny_cell(),
            stage=VaspStage.MELT,
            temperature_K=1000,
            end_temperature_K=None,
            n_steps=2,
            timestep_fs=2.0,
        ).write_input(str(tmp_path / "run"))
    finally:
        SETTINGS["PMG_VASP_PSP_DIR"] = old
    subprocess.run([sys.executable, str(FAKE_VASP)], cwd=tmp_path / "run", check=True)
    shutil.copy(tmp_path / "run" / "OUTCAR", tmp_path / "OUTCAR")
    h = SegmentWalltimeHandler(wall_time=1000.0, buffer_time=600.0)
    assert not h.check(str(tmp_path))  # 1000 s left
    h.start_time -= datetime.timedelta(seconds=500)  # 500 s of the part used: < buffer left
    assert h.check(str(tmp_path))
    result = h.correct(str(tmp_path))
    assert "LSTOP" in (tmp_path / "STOPCAR").read_text() and result["actions"] is None
