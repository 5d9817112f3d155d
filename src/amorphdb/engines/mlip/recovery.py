"""Custodian job and handlers for the ML-potential engine.

The ASE MD loop runs **in this process** (the model stays loaded: reloading it in
a subprocess per attempt would cost seconds each time), so :class:`MLIPMDJob.run`
does the work and returns ``None`` instead of a ``Popen``; Custodian accepts that
and goes straight to the handlers. Each ``run`` is one *part* started from the
newest good checkpoint (the shared kernel :mod:`amorphdb.recovery.base`); a part that meets
exploding dynamics stops at the last good frame and writes why in its
``status.json``. The handlers read it and change ``run_state.json``:

* :class:`ExplodingDynamicsHandler` — non-finite values, a force or temperature
  above the limits, atoms closer than a physical minimum mid-run → restart from
  the last good frame with the time step halved (frame interval kept in fs);
* :class:`OverlappingStartHandler` — the *start* itself has overlapping atoms
  (no good frame at all) → push overlapping pairs apart, relax briefly (FIRE),
  and start again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from custodian.custodian import ErrorHandler, Job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from amorphdb.engines.base import MDSettings
from amorphdb.engines.mlip.dynamics import closest_pair, run_part, separate_overlaps
from amorphdb.engines.mlip.models import load_calculator, resolve_model
from amorphdb.recovery.base import (
    INPUT_FILE,
    BudgetedHandler,
    RecoverySettings,
    RunState,
    halve_timestep,
    latest_checkpoint,
    new_part,
    part_dirs,
    read_json,
    read_status,
    write_status,
)

#: FIRE steps used to relax an overlapping start after pushing atoms apart
RELAX_STEPS = 30
#: push overlapping pairs to this fraction of the covalent-radii sum
SEPARATE_FACTOR = 0.75


class MLIPMDJob(Job):
    """One attempt of an ML-potential MD stage, in-process (a Custodian ``Job``).

    Parameters
    ----------
    model
        Model name (``chgnet`` or ``sevennet-0``).
    recovery
        :class:`RecoverySettings` as a dict.
    barostat_damping_fs
        NPT barostat relaxation time (fs); ``None`` → 10 × thermostat damping.
    threads
        torch CPU threads. Default 1: campaigns run compositions in parallel
        processes, and on a shared 2-core machine two torch threads per process
        made a CHGNet call on 12 atoms 5-20× slower (0.1 s → 0.5-4 s) than one.
    """

    def __init__(
        self,
        model: str,
        recovery: dict[str, Any] | None = None,
        barostat_damping_fs: float | None = None,
        threads: int = 1,
    ) -> None:
        self.model = model
        self.recovery = recovery or {}
        self.barostat_damping_fs = barostat_damping_fs
        self.threads = threads

    def setup(self, directory: str = "./") -> None:
        """Nothing to write: the engine wrote ``input.json`` and ``run_state.json``."""

    def run(self, directory: str = "./") -> None:
        import torch

        torch.set_num_threads(self.threads)
        workdir = Path(directory)
        state = RunState.load(workdir)
        settings = RecoverySettings(**self.recovery)
        inputs = read_json(workdir / INPUT_FILE)
        md = MDSettings(**inputs["md"])
        calc = load_calculator(resolve_model(self.model))
        checkpoint = latest_checkpoint(workdir)
        rng = np.random.default_rng(md.seed + 1)  # thermostat noise; +1: not the velocity draw
        if checkpoint is None:
            atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(inputs["structure"]))
            atoms.calc = calc
            start_time = 0.0
            thermostat_state = inputs.get("thermostat_state")
            notes = {}
            if state.pending_action == "separate_overlaps":
                notes = _separate_and_relax(atoms, settings)
                state.pending_action = None
                state.save(workdir)
            _set_start_velocities(atoms, md, inputs.get("velocities_A_per_fs"))
        else:
            atoms = Atoms(
                numbers=checkpoint.numbers,
                positions=checkpoint.positions_A,
                cell=checkpoint.cell_A,
                pbc=True,
            )
            atoms.set_velocities(checkpoint.velocities_A_per_fs / units.fs)
            atoms.calc = calc
            start_time = checkpoint.time_fs
            thermostat_state = checkpoint.thermostat_state
            notes = {}
        part = new_part(workdir, start_time, state.timestep_fs, state.traj_every)
        if notes:
            (part / "start_notes.json").write_text(json.dumps(notes))
        end_time = state.end_time_fs
        t0, t1 = md.temperature_K, md.end_temperature_K or md.temperature_K

        def temperature_at(time_fs: float) -> float:
            return t0 + (t1 - t0) * min(max(time_fs / end_time, 0.0), 1.0)

        result = run_part(
            atoms,
            part,
            md,
            start_time,
            end_time,
            state.timestep_fs,
            state.traj_every,
            state.thermo_every,
            temperature_at,
            rng,
            settings,
            thermostat_state=thermostat_state,
            barostat_damping_fs=self.barostat_damping_fs,
        )
        if result.completed:
            write_status(part, "completed", time_fs=result.time_fs)
        else:
            write_status(
                part,
                "failed",
                reason=result.reason,
                details=result.details or {},
                had_checkpoint=checkpoint is not None
                or (part / "checkpoint.npz").exists(),
            )

    def postprocess(self, directory: str = "./") -> None:
        state = RunState.load(Path(directory))
        state.completed = True
        state.save(Path(directory))


def _set_start_velocities(atoms: Any, md: MDSettings, velocities: Any) -> None:
    """Given velocities (Å/fs), else a seeded Maxwell–Boltzmann draw at the start T."""
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    if velocities is not None:
        atoms.set_velocities(np.asarray(velocities, dtype=float) / units.fs)
    elif md.initialize_velocities:
        MaxwellBoltzmannDistribution(
            atoms, temperature_K=md.temperature_K, rng=np.random.default_rng(md.seed)
        )
        Stationary(atoms)


def _separate_and_relax(atoms: Any, settings: RecoverySettings) -> dict[str, Any]:
    from ase.optimize import FIRE

    before = closest_pair(atoms, 1.0)
    moves = separate_overlaps(atoms, SEPARATE_FACTOR)
    FIRE(atoms, logfile=None).run(fmax=1.0, steps=RELAX_STEPS)
    # the relaxation must not pull atoms back together
    moves += separate_overlaps(atoms, settings.min_distance_factor * 1.05)
    after = closest_pair(atoms, 1.0)
    return {
        "moves": moves,
        "min_distance_before_A": None if before is None else before[2],
        "min_distance_after_A": None if after is None else after[2],
    }


def _last_failure(directory: Path) -> dict[str, Any] | None:
    parts = part_dirs(directory)
    if not parts:
        return None
    status = read_status(parts[-1])
    return status if status.get("status") == "failed" else None


class ExplodingDynamicsHandler(BudgetedHandler, ErrorHandler):
    """Exploding dynamics mid-run → restart from the last good frame, time step × 0.5."""

    is_monitor = False

    def detect(self, directory: Path) -> tuple[str, dict[str, Any]] | None:
        failure = _last_failure(directory)
        if failure is None or not failure.get("had_checkpoint"):
            return None
        return failure["reason"], dict(failure.get("details", {}))

    def fix(
        self, directory: Path, state: RunState, error: str, details: dict[str, Any]
    ) -> str | None:
        return halve_timestep(state, self.settings, details)


class OverlappingStartHandler(BudgetedHandler, ErrorHandler):
    """The start structure itself fails the checks → separate overlapping atoms, relax."""

    is_monitor = False

    def detect(self, directory: Path) -> tuple[str, dict[str, Any]] | None:
        failure = _last_failure(directory)
        if failure is None or failure.get("had_checkpoint"):
            return None
        return failure["reason"], dict(failure.get("details", {}))

    def fix(
        self, directory: Path, state: RunState, error: str, details: dict[str, Any]
    ) -> str | None:
        if state.pending_action == "separate_overlaps":
            return None
        # a second failure at the start after separating: also shrink the time step
        previous = [c for c in state.corrections if "overlapping" in c.action]
        state.pending_action = "separate_overlaps"
        action = (
            f"pushed overlapping atoms apart to {SEPARATE_FACTOR:g}× the covalent-radii sum "
            f"and relaxed ({RELAX_STEPS} FIRE steps) before restarting"
        )
        if previous:
            halved = halve_timestep(state, self.settings, details)
            if halved is None:
                return None
            action += "; " + halved
        return action


def mlip_handlers(budget: int, recovery: dict[str, Any]) -> list[ErrorHandler]:
    """The handlers the ML engine runs under Custodian."""
    return [
        OverlappingStartHandler(budget=budget, recovery=recovery),
        ExplodingDynamicsHandler(budget=budget, recovery=recovery),
    ]
