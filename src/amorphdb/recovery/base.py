"""What every engine's recovery shares: checkpoints, run parts, budgets and Custodian.

A *resumable run* lives in one directory and is made of **parts**::

    workdir/
      run_state.json       current time step, frame/thermo intervals, pending action,
                           corrections so far (rewritten atomically)
      part_00/             the first attempt
        part.json          start time (fs), time step (fs), frame interval (steps)
        checkpoint.npz     last *good* frame: positions, velocities, cell, time,
                           thermostat state (renamed into place at every frame)
        frames...          the engine's own frame files (ASE loop: frames.bin; LAMMPS: dump)
        status.json        running | completed | failed (with the reason)
      part_01/             a later attempt, started from the newest checkpoint
      ...

A part that dies (SIGKILL, walltime, an exploding step) leaves its last good
checkpoint behind; the next part starts from it. Stitching keeps, from each
part, the frames strictly before the next part's start time, so no frame is
duplicated or lost at a seam. When a correction halves the time step, the frame
and thermo intervals (in steps) are doubled, so frames stay on the same time
grid and the stitched trajectory has one constant time between frames.

Corrections are applied through Custodian (:class:`custodian.custodian.Custodian`
with :class:`custodian.custodian.Job` and :class:`~custodian.custodian.ErrorHandler`),
and every one is recorded as a :class:`Correction`.

This package is the engines' shared kernel: it imports no engine. Each engine keeps
its own recovery next to it (``amorphdb.engines.lammps.recovery``,
``amorphdb.engines.mlip.recovery``, ``amorphdb.engines.vasp.handlers``) and
imports from here, never the other way round.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from amorphdb.errors import ConfigError, EngineError

RUN_STATE_FILE = "run_state.json"
PART_FILE = "part.json"
STATUS_FILE = "status.json"
CHECKPOINT_ARRAYS = "checkpoint.npz"
INPUT_FILE = "input.json"

#: time-grid tolerance (fs) when comparing frame times of different parts
TIME_TOL_FS = 1e-6


class Correction(BaseModel):
    """One automatic correction applied during a run (recorded, never silent)."""

    error: str
    action: str
    details: dict[str, Any] = Field(default_factory=dict)


class RecoveryExhaustedError(EngineError):
    """An MD stage that failed again after its recovery budget was spent.

    Attributes
    ----------
    corrections
        Every correction tried, in order (each a :class:`Correction`).
    errors
        The error(s) of the final failed attempt.
    """

    def __init__(self, message: str, corrections: list[Correction], errors: list[str]):
        super().__init__(message)
        self.corrections = list(corrections)
        self.errors = list(errors)


#: the largest recovery budget (corrections per MD run) a campaign may ask for
MAX_CORRECTIONS = 20


class RecoverySettings(BaseModel):
    """How hard an engine tries to save a failing run.

    ``EngineSpec.settings["recovery"]`` of every engine (a field of
    :class:`amorphdb.engines.base.EngineSettings`); the campaign exposes the budget
    as one field.

    Parameters
    ----------
    max_corrections
        Recovery budget: corrections allowed per MD stage before the stage fails
        with :class:`RecoveryExhaustedError` (0 disables recovery).
    timestep_factor
        Factor applied to the time step at each restart from the last good frame.
    min_timestep_fs
        Never go below this time step (fs); reaching it ends the recovery.
    max_force_eV_per_A
        ML engine: a force larger than this (eV/Å) means exploding dynamics.
    max_temperature_factor, max_temperature_margin_K
        ML engine: an instantaneous temperature above
        ``max(factor × T_target, T_target + margin)`` means exploding dynamics.
        Generous on purpose: a freshly packed cell heated to 5000 K spikes to
        ~10× the target for a few tens of fs (seen with the Pedone potential)
        without anything being wrong.
    min_distance_factor
        ML engine: two atoms closer than this fraction of the sum of their
        covalent radii (ASE ``covalent_radii``, Cordero et al. 2008) are
        overlapping.
    """

    model_config = ConfigDict(extra="forbid")

    max_corrections: int = Field(default=3, ge=0, le=MAX_CORRECTIONS)
    timestep_factor: float = Field(default=0.5, gt=0, lt=1)
    min_timestep_fs: float = Field(default=0.05, gt=0)
    max_force_eV_per_A: float = Field(default=50.0, gt=0)
    max_temperature_factor: float = Field(default=10.0, gt=1)
    max_temperature_margin_K: float = Field(default=20000.0, gt=0)
    min_distance_factor: float = Field(default=0.5, gt=0, lt=1)

    def max_temperature_K(self, target_K: float) -> float:
        """Temperature (K) above which dynamics count as exploding."""
        return max(self.max_temperature_factor * target_K, target_K + self.max_temperature_margin_K)


# --------------------------------------------------------------------------- files


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so a reader never sees a half-written file (tmp + ``os.replace``)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def input_digest(data: Any) -> str:
    """SHA-256 of JSON-able stage inputs (key order ignored): same inputs, same run."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def read_json(path: Path, default: Any = None) -> Any:
    """Read JSON, returning ``default`` when the file is missing or unreadable."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError):
        return default


@dataclass
class Checkpoint:
    """A frame an MD run can continue from exactly (positions *and* velocities).

    Parameters
    ----------
    time_fs
        Simulated time of this frame since the start of the stage (fs).
    numbers
        Atomic numbers (n_atoms,).
    positions_A
        Cartesian positions (n_atoms, 3), Å.
    velocities_A_per_fs
        Velocities (n_atoms, 3), Å/fs.
    cell_A
        Cell vectors as rows (3, 3), Å.
    thermostat_state
        Engine-specific JSON-able thermostat state (e.g. Nosé–Hoover chain
        positions/momenta, the Langevin random generator state); may be empty.
    """

    time_fs: float
    numbers: np.ndarray
    positions_A: np.ndarray
    velocities_A_per_fs: np.ndarray
    cell_A: np.ndarray
    thermostat_state: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: Path) -> None:
        """Write atomically (one ``.npz`` renamed into place): never half a checkpoint."""
        directory = Path(directory)
        tmp = directory / (CHECKPOINT_ARRAYS + ".tmp.npz")
        np.savez(
            tmp,
            time_fs=np.float64(self.time_fs),
            numbers=np.asarray(self.numbers, dtype=np.int64),
            positions=np.asarray(self.positions_A, dtype=np.float64),
            velocities=np.asarray(self.velocities_A_per_fs, dtype=np.float64),
            cell=np.asarray(self.cell_A, dtype=np.float64),
            thermostat_state=np.array(json.dumps(self.thermostat_state)),
        )
        os.replace(tmp, directory / CHECKPOINT_ARRAYS)

    @classmethod
    def load(cls, directory: Path) -> Checkpoint | None:
        """The checkpoint saved in ``directory``, or ``None`` if there is none."""
        path = Path(directory) / CHECKPOINT_ARRAYS
        if not path.exists():
            return None
        with np.load(path) as data:
            return cls(
                time_fs=float(data["time_fs"]),
                numbers=data["numbers"],
                positions_A=data["positions"],
                velocities_A_per_fs=data["velocities"],
                cell_A=data["cell"],
                thermostat_state=json.loads(str(data["thermostat_state"])),
            )


PartT = TypeVar("PartT")


class RunState(BaseModel, Generic[PartT]):
    """Mutable state of a resumable run, kept in ``run_state.json``: the typed checkpoint.

    Handlers change it (``correct``); the Custodian job reads it (``run``).
    Engines whose parts keep their own checkpoint (LAMMPS, ML) leave ``parts``
    empty; an engine that records each finished part here (VASP) parametrises the
    part record, e.g. ``RunState[VaspPart]``.

    Parameters
    ----------
    input_hash
        Digest of the stage's inputs; a different one archives the old parts.
    timestep_fs
        Time step (fs) the next part runs with (corrections shrink it).
    traj_every, thermo_every
        Frame and thermo intervals (steps) of the next part.
    end_time_fs
        Simulated time (fs) at which the stage ends.
    time_done_fs
        Simulated time (fs) already kept by recorded parts (engines that use ``parts``).
    parts
        One record per finished part (engines that use them).
    input_changes
        Engine inputs set by corrections so far, applied to every later part
        (e.g. VASP INCAR tags).
    pending_action
        A correction to apply when the next part starts.
    corrections
        Every correction so far, in order.
    completed
        The stage reached ``end_time_fs``.
    """

    input_hash: str = ""
    timestep_fs: float
    traj_every: int
    thermo_every: int
    end_time_fs: float
    time_done_fs: float = 0.0
    parts: list[PartT] = Field(default_factory=list)
    input_changes: dict[str, Any] = Field(default_factory=dict)
    pending_action: str | None = None
    corrections: list[Correction] = Field(default_factory=list)
    completed: bool = False

    @classmethod
    def resume_or_new(
        cls,
        directory: Path,
        input_hash: str,
        *,
        timestep_fs: float,
        traj_every: int,
        thermo_every: int,
        end_time_fs: float,
    ) -> RunState:
        """The saved state of ``directory`` if it was made for these inputs, else a new
        one (saved; parts of other inputs moved to ``stale_NN/`` first)."""
        state = cls.load(directory)
        if state is not None and state.input_hash == input_hash:
            return state
        archive_stale_parts(directory)
        state = cls(
            input_hash=input_hash,
            timestep_fs=timestep_fs,
            traj_every=traj_every,
            thermo_every=thermo_every,
            end_time_fs=end_time_fs,
        )
        state.save(directory)
        return state

    @classmethod
    def load(cls, directory: Path) -> RunState | None:
        data = read_json(Path(directory) / RUN_STATE_FILE)
        return None if data is None else cls(**data)

    def save(self, directory: Path) -> None:
        write_json_atomic(Path(directory) / RUN_STATE_FILE, self.model_dump(mode="json"))


# --------------------------------------------------------------------------- parts


def part_dirs(workdir: Path) -> list[Path]:
    """The run's part directories, oldest first."""
    return sorted(p for p in Path(workdir).glob("part_*") if p.is_dir())


def new_part(workdir: Path, start_time_fs: float, timestep_fs: float, traj_every: int) -> Path:
    """Create the next part directory and record where (in time) it starts."""
    index = len(part_dirs(workdir))
    part = Path(workdir) / f"part_{index:02d}"
    part.mkdir(parents=True, exist_ok=False)
    write_json_atomic(
        part / PART_FILE,
        {"start_time_fs": start_time_fs, "timestep_fs": timestep_fs, "traj_every": traj_every},
    )
    write_status(part, "running")
    return part


def write_status(part: Path, status: str, **info: Any) -> None:
    """Record a part's outcome: ``running``, ``completed`` or ``failed`` (+ reason)."""
    write_json_atomic(Path(part) / STATUS_FILE, {"status": status, **info})


def read_status(part: Path) -> dict[str, Any]:
    """A part's status (``running`` if the process died before writing one)."""
    return read_json(Path(part) / STATUS_FILE, {"status": "running"})


def part_start_time(part: Path) -> float:
    """Stage time (fs) at which a part started."""
    return float(read_json(Path(part) / PART_FILE)["start_time_fs"])


def latest_checkpoint(workdir: Path) -> Checkpoint | None:
    """The newest good frame over all parts (``None`` when no part reached one)."""
    for part in reversed(part_dirs(workdir)):
        ckpt = Checkpoint.load(part)
        if ckpt is not None:
            return ckpt
    return None


def part_windows(workdir: Path) -> list[tuple[Path, float, float]]:
    """Each part with the time window ``[start, next start)`` it contributes (fs)."""
    parts = part_dirs(workdir)
    starts = [part_start_time(p) for p in parts]
    ends = [*starts[1:], float("inf")]
    return list(zip(parts, starts, ends, strict=True))


def keep_window(times_fs: np.ndarray, start_fs: float, end_fs: float) -> np.ndarray:
    """Boolean mask of samples a part contributes: ``start ≤ t < end`` (on the grid)."""
    times_fs = np.asarray(times_fs, dtype=float)
    return (times_fs >= start_fs - TIME_TOL_FS) & (times_fs < end_fs - TIME_TOL_FS)


def archive_stale_parts(workdir: Path) -> None:
    """Move parts of a run with different inputs out of the way (never delete them)."""
    workdir = Path(workdir)
    parts = part_dirs(workdir)
    if not parts and not (workdir / RUN_STATE_FILE).exists():
        return
    index = 0
    while (workdir / f"stale_{index:02d}").exists():
        index += 1
    stale = workdir / f"stale_{index:02d}"
    stale.mkdir()
    for path in [*parts, workdir / RUN_STATE_FILE]:
        if path.exists():
            shutil.move(str(path), stale / path.name)


# --------------------------------------------------------------------------- custodian


def corrections_from_run_state(workdir: Path) -> list[Correction]:
    """Corrections recorded so far in a run directory."""
    state = RunState.load(workdir)
    return [] if state is None else list(state.corrections)


def run_with_custodian(job: Any, handlers: list[Any], workdir: Path, budget: int) -> None:
    """Run a Custodian job with our handlers; raise :class:`RecoveryExhaustedError` on failure.

    The budget is enforced by the handlers themselves (they return
    ``actions=None`` when it is spent, which Custodian turns into a
    ``NonRecoverableError``), so Custodian's own ``max_errors`` is set one above it
    and never ends the run first.
    """
    from custodian.custodian import Custodian, CustodianError

    custodian = Custodian(
        handlers,
        [job],
        max_errors=budget + 1,
        max_errors_per_job=budget + 1,
        directory=str(workdir),
        terminate_on_nonzero_returncode=False,
        checkpoint=False,
    )
    try:
        custodian.run()
    except CustodianError as exc:
        corrections = corrections_from_run_state(workdir)
        errors = _last_errors(workdir) or [str(exc)]
        raise RecoveryExhaustedError(
            f"MD failed after {len(corrections)} correction(s) (budget {budget}): "
            f"{'; '.join(errors)}; rerun with a smaller time step or a larger "
            "recovery budget (campaign field 'max_corrections')",
            corrections,
            errors,
        ) from None


def _last_errors(workdir: Path) -> list[str]:
    parts = part_dirs(workdir)
    if not parts:
        return []
    status = read_status(parts[-1])
    reason = status.get("reason")
    return [reason] if reason else []


class BudgetedHandler:
    """Mixin for our Custodian handlers: one shared budget and a recorded correction.

    Subclasses implement ``detect(directory) -> (error, details) | None`` and
    ``fix(directory, state, error, details) -> action | None``.

    Parameters
    ----------
    budget
        Corrections allowed per stage (all handlers of a run share it through
        ``run_state.json``).
    recovery
        :class:`RecoverySettings` as a dict (kept JSON-able for Custodian's log).
    """

    def __init__(
        self,
        budget: int = RecoverySettings().max_corrections,
        recovery: dict[str, Any] | None = None,
    ) -> None:
        self.budget = budget
        self.recovery = recovery or {}

    @property
    def settings(self) -> RecoverySettings:
        """The recovery settings this handler applies."""
        return RecoverySettings(**self.recovery)

    def check(self, directory: str = "./") -> bool:
        self._found = self.detect(Path(directory))
        return self._found is not None

    def correct(self, directory: str = "./") -> dict[str, Any]:
        directory = Path(directory)
        error, details = self._found
        state = RunState.load(directory)
        if state is None or len(state.corrections) >= self.budget:
            return {"errors": [error], "actions": None}
        action = self.fix(directory, state, error, details)
        if action is None:
            return {"errors": [error], "actions": None}
        state.corrections.append(Correction(error=error, action=action, details=details))
        state.save(directory)
        return {"errors": [error], "actions": [action]}

    def detect(self, directory: Path) -> tuple[str, dict[str, Any]] | None:  # pragma: no cover
        raise NotImplementedError

    def fix(
        self, directory: Path, state: RunState, error: str, details: dict[str, Any]
    ) -> str | None:  # pragma: no cover
        raise NotImplementedError


def halve_timestep(
    state: RunState, settings: RecoverySettings, details: dict[str, Any]
) -> str | None:
    """Shrink the time step (keeping frames on the same time grid); ``None`` if too small."""
    new_dt = state.timestep_fs * settings.timestep_factor
    if new_dt < settings.min_timestep_fs - 1e-12:
        return None
    factor = round(1.0 / settings.timestep_factor)
    if not np.isclose(factor * settings.timestep_factor, 1.0):
        # frames must stay on the original time grid: only 1/k factors are allowed
        raise ConfigError(
            f"recovery.timestep_factor={settings.timestep_factor} must be 1/k (e.g. 0.5)"
        )
    details.update(
        {
            "old_timestep_fs": state.timestep_fs,
            "new_timestep_fs": new_dt,
            "traj_every": state.traj_every * factor,
            "thermo_every": state.thermo_every * factor,
        }
    )
    state.timestep_fs = new_dt
    state.traj_every *= factor
    state.thermo_every *= factor
    return f"restart from the last good frame with time step {new_dt:g} fs"
