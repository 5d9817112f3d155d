"""LAMMPS under Custodian: log diagnosis, halved time steps, budgets, kills (real LAMMPS)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from amorphdb.engines import EngineSpec, MDSettings, get_engine
from amorphdb.engines.lammps.inputs import md_script
from amorphdb.engines.lammps.recovery import (
    LammpsStage,
    diagnose_part,
    find_recoverable_error,
    iter_dump_frames,
)
from amorphdb.engines.potentials import get_potential
from amorphdb.recovery.base import (
    RecoveryExhaustedError,
    RunState,
    new_part,
    part_dirs,
)
from amorphdb.structure import pack_structure


@pytest.fixture(scope="module")
def li2si2o5():
    """Li2O·2SiO2, 36 atoms at 2.35 g/cm³ (packmol)."""
    return pack_structure("Li2Si2O5", n_formula_units=4, density_g_cm3=2.35, seed=7)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("ERROR: Lost atoms: original 36 current 20 (src/thermo.cpp:494)", "lost_atoms"),
        ("ERROR on proc 0: Out of range atoms - cannot compute PPPM (src/KSPACE/pppm.cpp:1939)",
         "pppm_out_of_range"),
        ("ERROR: Neighbor list overflow, boost neigh_modify one (src/npair.cpp:87)",
         "neighbor_list"),
        ("ERROR: Bond atoms 12 13 missing at step 400 (src/ntopo_bond_all.cpp:59)",
         "bond_atoms_missing"),
        ("ERROR: Non-numeric atom coords - simulation unstable (src/domain.cpp:560)",
         "non_numeric"),
    ],
)
def test_recoverable_errors_are_recognised(line, kind):
    log = "LAMMPS (22 Jul 2025)\nStep Time Temp\n" + line + "\nLast command: run 1000\n"
    assert find_recoverable_error(log) == (kind, line)


def test_unrelated_error_is_not_recoverable():
    assert find_recoverable_error("ERROR: Unknown pair style foo (src/force.cpp:275)") is None


def test_non_finite_thermo_is_diagnosed(tmp_path):
    part = new_part(tmp_path, 0.0, 1.0, 10)
    (part / "log.lammps").write_text(
        "LAMMPS (22 Jul 2025)\n"
        "   Step   Time   Temp   Press   PotEng   TotEng   Volume\n"
        "         0  0 3000 100 -160 -150 424\n"
        "        10  0.01 3100 120 -161 -150 424\n"
        "        20  0.02 -nan nan nan nan 424\n"
        "Loop time of 0.1 on 1 procs\n"
    )
    found = diagnose_part(part)
    assert found["kind"] == "non_finite_thermo"
    assert found["time_fs"] == pytest.approx(20.0)


def _stage(md, thermostat="nose-hoover"):
    md = md.model_copy(update={"thermostat": thermostat})
    return LammpsStage(md=md, potential=get_potential("pedone2006"), elements=["Li", "O", "Si"],
                       kspace_style="pppm", has_velocities=False)


def _state(md, **changes):
    fields = {"timestep_fs": md.timestep_fs, "traj_every": md.traj_every,
              "thermo_every": md.thermo_every, "end_time_fs": md.n_steps * md.timestep_fs}
    return RunState(**{**fields, **changes})


def test_first_part_is_the_engine_script_plus_checkpoint_and_start():
    """Part 0 is written from the engine's typed settings: the engine's script, unchanged,
    with the start time and the checkpoint dump added."""
    md = MDSettings(temperature_K=2500, end_temperature_K=1000, n_steps=4000, timestep_fs=0.5,
                    traj_every=40, thermo_every=20)
    stage = _stage(md)
    engine_script = md_script(md, stage.potential, stage.elements, has_velocities=False)
    part = stage.part_script(_state(md), 0.0, from_checkpoint=False, part_index=0)
    assert [line for line in part.splitlines() if "ckpt" not in line
            and not line.startswith("reset_timestep")] == engine_script.splitlines()
    assert "reset_timestep 0 time 0\n" in part
    assert "dump ckpt all custom 40 ckpt.dump id element x y z vx vy vz\n" in part
    assert "dump_modify ckpt sort id element Li O Si format float %.12g\n" in part


def test_restart_part_has_halved_step_remaining_length_and_ramp_temperature():
    """After a halving at 1 ps of a 2 ps 2500 -> 1000 K ramp: 0.25 fs, 4000 steps left,
    intervals doubled, ramp restarted at 1750 K, velocities from the checkpoint."""
    md = MDSettings(temperature_K=2500, end_temperature_K=1000, n_steps=4000, timestep_fs=0.5,
                    traj_every=40, thermo_every=20)
    state = _state(md, timestep_fs=0.25, traj_every=80, thermo_every=40)
    part = _stage(md).part_script(state, 1000.0, from_checkpoint=True, part_index=1)
    lines = part.splitlines()
    assert "timestep 0.00025" in lines and "run 4000" in lines and "thermo 40" in lines
    assert "reset_timestep 4000 time 1" in lines
    assert any(line.startswith("dump traj all custom 80 traj.dump") for line in lines)
    assert "fix integrate all nvt temp 1750.0 1000.0 0.1" in lines
    assert not any(line.startswith("velocity all create") for line in lines)
    langevin = _stage(md, "langevin").part_script(state, 1000.0, True, part_index=2)
    assert "fix thermostat all langevin 1750.0 1000.0 0.1 12347" in langevin.splitlines()


@pytest.mark.slow
def test_absurd_timestep_loses_atoms_and_is_corrected(li2si2o5, tmp_path):
    """10 fs at 5000 K makes LAMMPS lose atoms; halving twice (2.5 fs) runs through."""
    md = MDSettings(temperature_K=5000, n_steps=400, timestep_fs=10.0, traj_every=20,
                    thermo_every=10, seed=3)
    engine = get_engine(EngineSpec(name="lammps", settings={"recovery": {"max_corrections": 4}}))
    out = engine.run(li2si2o5, md, tmp_path)
    assert len(out.corrections) >= 1
    first = out.corrections[0]
    assert first.error.startswith("ERROR: Lost atoms")
    assert first.details["old_timestep_fs"] == 10.0 and first.details["new_timestep_fs"] == 5.0
    assert "time step 5 fs" in first.action
    final_dt = RunState.load(tmp_path).timestep_fs
    assert final_dt <= 5.0
    # the stored run covers the whole 4 ps on the original frame grid
    assert out.trajectory.n_frames == 400 // 20 + 1
    assert out.trajectory.time_step == pytest.approx(200.0)
    times = np.asarray(out.thermo.time_fs)
    assert times[0] == 0 and times[-1] == pytest.approx(4000.0)
    assert np.allclose(np.diff(times), 100.0)
    assert np.isfinite(out.thermo.temperature_K).all()
    # the document records the corrections for queries
    from amorphdb.engines.base import make_run_document

    doc = make_run_document(engine.name, md, out)
    assert doc.corrections[0].error.startswith("ERROR: Lost atoms")


@pytest.mark.slow
def test_exhausted_budget_raises_with_corrections(li2si2o5, tmp_path):
    md = MDSettings(temperature_K=5000, n_steps=400, timestep_fs=10.0, traj_every=20, seed=3)
    engine = get_engine(EngineSpec(name="lammps", settings={"recovery": {"max_corrections": 1}}))
    with pytest.raises(RecoveryExhaustedError) as info:
        engine.run(li2si2o5, md, tmp_path)
    err = info.value
    assert len(err.corrections) == 1
    assert err.corrections[0].details["new_timestep_fs"] == 5.0
    assert any("Lost atoms" in e for e in err.errors)
    assert "\n" not in str(err)


KILL_SCRIPT = """
import sys
from pymatgen.core import Structure
from amorphdb.engines import EngineSpec, MDSettings, get_engine
s = Structure.from_file(sys.argv[1])
md = MDSettings.model_validate_json(open(sys.argv[2]).read())
get_engine(EngineSpec(name="lammps")).run(s, md, sys.argv[3])
"""


@pytest.mark.slow
def test_killed_lammps_run_resumes_without_gap_or_duplicate(li2si2o5, tmp_path):
    md = MDSettings(temperature_K=3000, n_steps=30000, timestep_fs=1.0, traj_every=500,
                    thermo_every=500, seed=9)
    li2si2o5.to(filename=str(tmp_path / "s.json"))
    (tmp_path / "md.json").write_text(md.model_dump_json())
    (tmp_path / "kill.py").write_text(KILL_SCRIPT)
    work = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "kill.py"), str(tmp_path / "s.json"),
         str(tmp_path / "md.json"), str(work)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    ckpt = work / "part_00" / "ckpt.dump"
    deadline = time.time() + 120
    while time.time() < deadline and len(iter_dump_frames(ckpt)) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # python and its lmp child
    proc.wait()
    n_saved = len(iter_dump_frames(ckpt))
    assert 4 <= n_saved < 61, "the kill must land mid-run"

    out = get_engine(EngineSpec(name="lammps")).run(li2si2o5, md, work)
    parts = part_dirs(work)
    assert len(parts) == 2
    info = (parts[1] / "part.json").read_text()
    assert '"start_time_fs": 0' not in info  # continued from a frame, not from zero
    assert out.trajectory.n_frames == 61
    times = np.asarray(out.thermo.time_fs)
    assert np.allclose(np.diff(times), 500.0) and times[-1] == pytest.approx(30000.0)
    # no jump at the seam: per-frame displacements (minimum image) stay ordinary
    frac = np.linalg.solve(out.trajectory.lattice.T, out.trajectory.positions.transpose(0, 2, 1))
    dfrac = np.diff(frac.transpose(0, 2, 1), axis=0)
    dfrac -= np.round(dfrac)
    steps = np.linalg.norm(dfrac @ out.trajectory.lattice, axis=2).mean(axis=1)
    assert steps.max() < 3 * np.median(steps)
