"""Recovery of the ML engine: overlapping starts, exploding dynamics, budgets, kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from amorphdb.engines import EngineSpec, MDSettings, get_engine
from amorphdb.engines.mlip.dynamics import closest_pair
from amorphdb.engines.mlip.recovery import ExplodingDynamicsHandler, OverlappingStartHandler
from amorphdb.recovery.base import (
    RecoveryExhaustedError,
    RunState,
    new_part,
    part_dirs,
    write_status,
)


def li2o() -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["Li", "O"], [[0.25, 0.25, 0.25], [0, 0, 0]]
    )


def overlapping_li2o() -> Structure:
    """Li2O with one Li put 0.35 Å from an O (covalent radii sum 1.94 Å)."""
    s = li2o()
    o_index = next(i for i, site in enumerate(s) if site.specie.symbol == "O")
    li_index = next(i for i, site in enumerate(s) if site.specie.symbol == "Li")
    s.replace(li_index, "Li", s[o_index].coords + np.array([0.35, 0, 0]),
              coords_are_cartesian=True)
    return s


MD = MDSettings(temperature_K=800, n_steps=20, timestep_fs=1.0, traj_every=5, thermo_every=5)


def test_exploding_handler_halves_timestep_and_keeps_frame_grid(tmp_path):
    state = RunState(timestep_fs=2.0, traj_every=10, thermo_every=5, end_time_fs=200.0)
    state.save(tmp_path)
    part = new_part(tmp_path, 0.0, 2.0, 10)
    write_status(part, "failed", reason="max force 80.0 eV/Å above 50 eV/Å",
                 details={"time_fs": 44.0}, had_checkpoint=True)
    overlap = OverlappingStartHandler(budget=2)
    handler = ExplodingDynamicsHandler(budget=2)
    assert not overlap.check(str(tmp_path))  # there was a good frame
    assert handler.check(str(tmp_path))
    result = handler.correct(str(tmp_path))
    assert result["actions"] == ["restart from the last good frame with time step 1 fs"]
    new = RunState.load(tmp_path)
    # 1 fs × 20 steps = 2 fs × 10 steps: frames stay 20 fs apart
    assert (new.timestep_fs, new.traj_every, new.thermo_every) == (1.0, 20, 10)
    assert new.corrections[0].error.startswith("max force 80.0")
    assert new.corrections[0].details["old_timestep_fs"] == 2.0
    # budget: a second correction is allowed, a third is refused (actions None)
    handler.correct(str(tmp_path))
    assert handler.correct(str(tmp_path))["actions"] is None
    assert len(RunState.load(tmp_path).corrections) == 2


@pytest.mark.slow
def test_overlapping_start_is_corrected_and_recorded(tmp_path):
    start = overlapping_li2o()
    engine = get_engine(EngineSpec(name="mlip"))
    out = engine.run(start, MD, tmp_path)
    assert len(out.corrections) == 1
    fix = out.corrections[0]
    assert fix.error.startswith("atoms too close: ")
    assert fix.details["distance_A"] == pytest.approx(0.35, abs=0.01)
    assert "pushed overlapping atoms apart" in fix.action
    # the stored run starts from the repaired structure and is complete
    first = out.trajectory.to_ase(0)
    assert closest_pair(first, 0.5) is None
    assert out.trajectory.n_frames == 5
    assert out.thermo.time_fs == pytest.approx([0, 5, 10, 15, 20])
    assert len(part_dirs(tmp_path)) == 2


@pytest.mark.slow
def test_exhausted_budget_fails_with_errors(tmp_path):
    engine = get_engine(
        EngineSpec(name="mlip", settings={"recovery": {"max_corrections": 0}})
    )
    with pytest.raises(RecoveryExhaustedError) as info:
        engine.run(overlapping_li2o(), MD, tmp_path)
    err = info.value
    assert err.corrections == []
    assert err.errors and err.errors[0].startswith("atoms too close")
    assert "budget 0" in str(err) and "\n" not in str(err)


KILL_SCRIPT = """
import sys
from pymatgen.core import Structure
from amorphdb.engines import EngineSpec, MDSettings, get_engine
s = Structure.from_file(sys.argv[1])
md = MDSettings.model_validate_json(open(sys.argv[2]).read())
get_engine(EngineSpec(name="mlip")).run(s, md, sys.argv[3])
"""


@pytest.mark.slow
def test_killed_run_resumes_from_last_frame_exactly(tmp_path):
    """SIGKILL mid-run; the rerun continues from the checkpoint and matches an
    uninterrupted run frame by frame (velocities and Nosé-Hoover state carried)."""
    md = MDSettings(temperature_K=800, n_steps=60, timestep_fs=2.0, traj_every=5,
                    thermo_every=5, thermostat_damping_fs=40.0, seed=5)
    s = li2o()
    s.to(filename=str(tmp_path / "s.json"))
    (tmp_path / "md.json").write_text(md.model_dump_json())
    (tmp_path / "kill.py").write_text(KILL_SCRIPT)
    work = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "kill.py"), str(tmp_path / "s.json"),
         str(tmp_path / "md.json"), str(work)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    frames = work / "part_00" / "frames.bin"
    deadline = time.time() + 120
    record = 8 * (1 + 9 + 36)
    while time.time() < deadline and (
        not frames.exists() or frames.stat().st_size < 4 * record
    ):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = frames.stat().st_size // record
    assert 4 <= n_before < 13, "the kill must land mid-run"

    engine = get_engine(EngineSpec(name="mlip"))
    resumed = engine.run(s, md, work)
    reference = engine.run(s, md, tmp_path / "reference")
    parts = part_dirs(work)
    assert len(parts) == 2
    start = float((parts[1] / "part.json").read_text().split('"start_time_fs": ')[1].split(",")[0])
    assert start > 0  # continued, not restarted from zero
    assert resumed.trajectory.n_frames == reference.trajectory.n_frames == 13
    np.testing.assert_allclose(
        resumed.trajectory.positions, reference.trajectory.positions, atol=1e-6
    )
    assert resumed.thermo.time_fs == reference.thermo.time_fs
