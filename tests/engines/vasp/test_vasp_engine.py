"""The VASP engine end to end with the stand-in executable under real Custodian."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.io.vasp.outputs import Oszicar, Outcar, Vasprun, Xdatcar
from vasp_testkit import tiny_cell, write_control

from amorphdb.engines import EngineSpec, MDSettings, get_engine
from amorphdb.engines.base import make_run_document
from amorphdb.recovery.base import RecoveryExhaustedError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _engine(settings, **extra):
    return get_engine(EngineSpec(name="vasp", settings={**settings, **extra}))


def test_run_document_and_vasp_format_outputs(psp_dir, fast_settings, tmp_path):
    md = MDSettings(temperature_K=1500, n_steps=30, timestep_fs=2.0, traj_every=5, thermo_every=1)
    out = _engine(fast_settings).run(tiny_cell(), md, tmp_path / "run")
    part = tmp_path / "run" / "part_00"
    # pymatgen's own parsers read the stand-in's files
    assert len(Oszicar(str(part / "OSZICAR")).ionic_steps) == 30
    assert len(Xdatcar(str(part / "XDATCAR")).structures) == 30
    vr = Vasprun(str(part / "vasprun.xml"), parse_dos=False, parse_eigen=False)
    assert len(vr.ionic_steps) == 30 and vr.parameters["NELM"] == 20
    assert Outcar(str(part / "OUTCAR")).drift  # "total drift" lines parsed
    # thermo: one sample per step, time on the 2 fs grid, Nosé–Hoover holds T near 1500 K
    assert out.thermo.time_fs[:3] == [2.0, 4.0, 6.0] and len(out.thermo.time_fs) == 30
    assert abs(np.mean(out.thermo.temperature_K) - 1500) < 400
    assert out.thermo.pressure_kbar[0] == pytest.approx(
        vr.ionic_steps[0]["stress"][0][0] / 3
        + vr.ionic_steps[0]["stress"][1][1] / 3
        + vr.ionic_steps[0]["stress"][2][2] / 3,
        abs=0.02,
    )
    # trajectory: t = 0 plus every 5th step, original site order kept
    assert out.trajectory.n_frames == 7 and out.trajectory.time_step == 10.0
    assert list(out.trajectory.species) == [s.specie.symbol for s in tiny_cell()]
    assert np.allclose(out.trajectory.positions[0], tiny_cell().cart_coords)
    doc = make_run_document("vasp", md, out)
    assert doc.engine_version.startswith("vasp.6.4.2")
    assert out.extra["potcar_symbols"] == [
        "PAW_PBE Li_sv 01Jan2000",
        "PAW_PBE Si 01Jan2000",
        "PAW_PBE O 01Jan2000",
    ]
    assert out.extra["incar"]["MDALGO"] == 2 and out.corrections == []
    assert doc.final_velocities_A_per_fs is not None and doc.n_frames == 7


@pytest.mark.slow
def test_walltime_stop_continues_and_stitches_without_duplicates(
    psp_dir, fast_settings, tmp_path, monkeypatch
):
    md = MDSettings(temperature_K=1500, n_steps=12, timestep_fs=2.0, traj_every=1, thermo_every=1)
    reference = _engine(fast_settings).run(tiny_cell(), md, tmp_path / "ref")
    control = write_control(tmp_path / "ctl.json", mode="none", seconds_per_step=0.25)
    monkeypatch.setenv("AMORPHDB_FAKE_VASP_CONTROL", str(control))
    out = _engine(fast_settings, segment_walltime_s=2.6, walltime_buffer_s=0.3).run(
        tiny_cell(), md, tmp_path / "cut"
    )
    parts = out.extra["parts"]
    assert len(parts) >= 2 and sum(p["kept"] for p in parts) == 12
    assert all(c.error == "walltime" for c in out.corrections) and out.corrections
    assert out.thermo.time_fs == [2.0 * k for k in range(1, 13)]
    traj = out.trajectory
    assert traj.n_frames == 13  # t = 0 and every step, no frame twice
    steps = np.linalg.norm(np.diff(traj.positions, axis=0), axis=2).max(axis=1)
    assert steps.min() > 1e-4  # no duplicated frame
    seam = parts[0]["kept"]  # frame index of the last step of part 0
    assert np.allclose(
        traj.positions[: seam + 1], reference.trajectory.positions[: seam + 1], atol=1e-5
    )
    # continued from CONTCAR with velocities: the next frame follows the same dynamics
    assert np.abs(traj.positions[seam + 1] - reference.trajectory.positions[seam + 1]).max() < 0.02


def test_temperature_runaway_restarts_with_smaller_potim(
    psp_dir, fast_settings, tmp_path, monkeypatch
):
    control = write_control(
        tmp_path / "ctl.json", mode="runaway", at_step=10, stable_potim=1.0, heat_factor=1.8
    )
    monkeypatch.setenv("AMORPHDB_FAKE_VASP_CONTROL", str(control))
    md = MDSettings(temperature_K=1500, n_steps=20, timestep_fs=2.0, traj_every=2, thermo_every=1)
    settings = {
        **fast_settings,
        "recovery": {"max_temperature_factor": 2.0, "max_temperature_margin_K": 500.0},
    }
    out = _engine(settings).run(tiny_cell(), md, tmp_path / "run")
    (corr,) = out.corrections
    assert corr.error == "temperature_runaway" and corr.details["potim_fs"] == [2.0, 1.0]
    first_bad = corr.details["first_bad_step"]
    assert corr.details["restart_from_step"] == first_bad - 6
    parts = out.extra["parts"]
    assert parts[0]["kept"] == first_bad - 6 and parts[1]["potim_fs"] == 1.0
    # the bad steps are gone, the time axis is continuous and T stays below the limit
    assert max(out.thermo.temperature_K) < 3000
    assert np.allclose(np.diff(out.thermo.time_fs), 2.0) and out.thermo.time_fs[-1] == 40.0
    assert out.trajectory.n_frames == 11 and out.extra["incar"]["POTIM"] == 1.0


def test_vasp_error_corrected_and_zbrent_not_treated_as_md(
    psp_dir, fast_settings, tmp_path, monkeypatch
):
    md = MDSettings(temperature_K=1500, n_steps=10, timestep_fs=2.0, traj_every=1, thermo_every=1)
    control = write_control(
        tmp_path / "ctl.json",
        mode="error",
        at_step=4,
        message="Error EDDDAV: Call to ZHEGV failed",
        times=1,
    )
    monkeypatch.setenv("AMORPHDB_FAKE_VASP_CONTROL", str(control))
    out = _engine(fast_settings).run(tiny_cell(), md, tmp_path / "edddav")
    (corr,) = out.corrections
    assert corr.error == "edddav" and out.extra["incar"]["ALGO"].lower() == "all"
    assert out.extra["parts"][0]["kept"] == 4 and len(out.thermo.time_fs) == 10
    # ZBRENT's custodian fix switches IBRION to a relaxation: not in the MD subset
    control = write_control(
        tmp_path / "ctl2.json",
        mode="error",
        at_step=4,
        message="ZBRENT: fatal error in bracketing",
        times=1,
    )
    monkeypatch.setenv("AMORPHDB_FAKE_VASP_CONTROL", str(control))
    with pytest.raises(RecoveryExhaustedError, match="stopped after 4 of 10 steps"):
        _engine(fast_settings).run(tiny_cell(), md, tmp_path / "zbrent")


def test_isolated_nonconvergence_tolerated_persistent_climbs_ladder(
    psp_dir, fast_settings, tmp_path, monkeypatch
):
    md = MDSettings(temperature_K=1500, n_steps=20, timestep_fs=2.0, traj_every=1, thermo_every=1)
    control = write_control(tmp_path / "iso.json", mode="nonconverged", steps=[3, 9])
    monkeypatch.setenv("AMORPHDB_FAKE_VASP_CONTROL", str(control))
    out = _engine(fast_settings).run(tiny_cell(), md, tmp_path / "iso")
    assert out.corrections == [] and out.extra["unconverged_electronic_steps"] == 2
    control = write_control(
        tmp_path / "pers.json",
        mode="nonconverged",
        steps=list(range(4, 40)),
        bad_algos=["fast", "normal"],
        seconds_per_step=0.1,  # so the monitor sees it mid-run (checks every 0.1 s)
    )
    monkeypatch.setenv("AMORPHDB_FAKE_VASP_CONTROL", str(control))
    out = _engine(fast_settings, electronic_window=6, electronic_min_unconverged=4).run(
        tiny_cell(), md, tmp_path / "pers"
    )
    assert [c.details["ladder_rung"] for c in out.corrections] == [0, 1]
    assert out.extra["incar"]["ALGO"].lower() == "all" and len(out.thermo.time_fs) == 20


@pytest.mark.slow
def test_run_state_is_the_shared_typed_checkpoint_resume_and_archive(
    psp_dir, fast_settings, tmp_path
):
    """run_state.json is the kernel's RunState with VaspPart records: the same inputs
    resume (no new part, same output), other inputs move the old parts to stale_00/."""
    from amorphdb.engines.vasp.engine import VaspPart, VaspRunState

    md = MDSettings(temperature_K=1500, n_steps=8, timestep_fs=2.0, traj_every=2, thermo_every=1)
    work = tmp_path / "run"
    first = _engine(fast_settings).run(tiny_cell(), md, work)
    state = VaspRunState.load(work)
    assert state.completed and state.time_done_fs == pytest.approx(16.0)
    assert state.end_time_fs == pytest.approx(16.0) and state.timestep_fs == 2.0
    assert [type(p) for p in state.parts] == [VaspPart] and state.parts[0].kept == 8
    assert first.extra["parts"] == [p.model_dump() for p in state.parts]
    again = _engine(fast_settings).run(tiny_cell(), md, work)
    assert sorted(p.name for p in work.glob("part_*")) == ["part_00"]
    assert again.thermo.temperature_K == first.thermo.temperature_K
    shorter = md.model_copy(update={"n_steps": 4})
    out = _engine(fast_settings).run(tiny_cell(), shorter, work)
    assert (work / "stale_00" / "part_00" / "OSZICAR").exists()
    assert (work / "stale_00" / "run_state.json").exists()
    assert len(out.thermo.time_fs) == 4 and VaspRunState.load(work).time_done_fs == 8.0
