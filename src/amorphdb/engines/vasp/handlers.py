"""Custodian for ab initio MD: which handlers run, and amorphdb's MD-aware ones.

A VASP MD stage runs as a sequence of **parts** (``part_00``, ``part_01`` …), each
one Custodian run of one :class:`custodian.vasp.jobs.VaspJob` with
``max_errors=1``: when a handler fires, Custodian applies its correction to that
part's inputs and stops; the engine then starts the next part *from the last
good frame with its velocities* and the corrected INCAR, for the remaining
simulated time. So a correction never re-runs steps that were fine, never loses
them, and the stitched trajectory stays continuous. Every correction becomes a
:class:`~amorphdb.engines.base.Correction` in the run document.

Handler set (:func:`md_handlers`):

- :func:`md_vasp_error_handler` — custodian's ``VaspErrorHandler`` restricted to
  :data:`MD_VASP_ERRORS`. Left out: k-point/tetrahedron/symmetry errors (Γ-only,
  ISYM 0 runs cannot meet them) and relaxation-only fixes that would break an MD
  run (``zbrent``/``fexcf`` switch IBRION to a relaxation, ``brions`` *raises*
  POTIM).
- custodian's ``FrozenJobErrorHandler`` (no output for ``frozen_timeout_s``) and
  ``StdErrHandler`` (memory, G-vector star).
- :class:`SegmentWalltimeHandler` — custodian's ``WalltimeHandler`` writing a
  STOPCAR (``LSTOP``) before the limit; the engine continues in a new part.
- :class:`ElectronicConvergenceHandler` — isolated MD steps that hit NELM are
  tolerated (counted); only when at least ``min_unconverged`` of the last
  ``window`` ionic steps hit NELM does it climb :data:`ELECTRONIC_LADDER`.
- :class:`MDInstabilityHandler` — temperature runaway, conserved-energy drift
  or a positive energy: restart from the last good frame with POTIM × factor.

custodian's ``PositiveEnergyErrorHandler`` is **not** used: in MD it halves POTIM
in place (custodian ``vasp/handlers.py``), which changes the time axis without
a record; :class:`MDInstabilityHandler` treats a positive energy as an
instability instead, and records it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from custodian.custodian import ErrorHandler
from custodian.vasp.handlers import (
    FrozenJobErrorHandler,
    StdErrHandler,
    VaspErrorHandler,
    WalltimeHandler,
)
from custodian.vasp.interpreter import VaspModder
from pymatgen.io.vasp.inputs import Incar
from pymatgen.io.vasp.outputs import Oszicar

from amorphdb.engines.vasp.settings import VaspSettings

#: VaspErrorHandler errors that occur in, and are safe to correct for, Γ-only MD
MD_VASP_ERRORS: tuple[str, ...] = (
    "brmix",
    "subspacematrix",
    "real_optlay",
    "rspher",
    "too_few_bands",
    "zpotrf",
    "pssyevx",
    "pdsyevx",
    "eddrmm",
    "edddav",
    "grad_not_orth",
    "nicht_konv",
    "zheev",
    "eddiag",
    "coef",
    "set_core_wf",
    "read_error",
    "nbands_not_sufficient",
)

#: ALGO/mixing ladder for persistent electronic non-convergence (one rung per correction);
#: the first two rungs follow custodian's NonConvergingErrorHandler (Fast → Normal → All),
#: the third its mixing step for ALGO = All (AMIX 0.1, BMIX 0.01).
ELECTRONIC_LADDER: tuple[dict[str, Any], ...] = (
    {"ALGO": "Normal"},
    {"ALGO": "All"},
    {"ALGO": "All", "AMIX": 0.1, "BMIX": 0.01},
)


def ladder_level(incar: dict[str, Any]) -> int:
    """Highest rung of :data:`ELECTRONIC_LADDER` an INCAR already satisfies (-1: none)."""
    level = -1
    for i, rung in enumerate(ELECTRONIC_LADDER):
        if all(str(incar.get(k, "")).lower() == str(v).lower() for k, v in rung.items()):
            level = i
    return level


def md_vasp_error_handler(output_filename: str = "vasp.out") -> VaspErrorHandler:
    """custodian's VaspErrorHandler catching only :data:`MD_VASP_ERRORS`."""
    return VaspErrorHandler(
        output_filename=output_filename, errors_subset_to_catch=list(MD_VASP_ERRORS)
    )


def _read_md_steps(directory: str | Path) -> list[dict[str, Any]]:
    """Ionic MD steps of OSZICAR (T, E, F, E0, EK …) with their electronic step count."""
    path = Path(directory) / "OSZICAR"
    if not path.exists():
        return []
    try:
        osz = Oszicar(str(path))
    except Exception:  # a half-written file while VASP runs
        return []
    steps = []
    for i, ionic in enumerate(osz.ionic_steps):
        if "T" not in ionic:
            continue
        n_elec = len(osz.electronic_steps[i]) if i < len(osz.electronic_steps) else 0
        steps.append({**ionic, "n_electronic": n_elec})
    return steps


class SegmentWalltimeHandler(WalltimeHandler):
    """custodian's WalltimeHandler with an explicit start time for one part.

    custodian's own class takes its start from ``CUSTODIAN_WALLTIME_START`` (and
    sets it process-wide), which would make every later part stop at once; here
    each part has its own budget (the remaining allocation, or a per-part cap).

    Parameters
    ----------
    wall_time
        Seconds this part may run.
    buffer_time
        Write the STOPCAR when less than ``max(buffer, 3 × slowest ionic step)`` is left (s).
    """

    def __init__(self, wall_time: float | None = None, buffer_time: float = 300) -> None:
        self.wall_time = wall_time
        self.buffer_time = buffer_time
        self.start_time = dt.datetime.now()
        self.electronic_step_stop = False
        self.electronic_steps_timings = [0]
        self.prev_check_time = self.start_time

    def correct(self, directory: str = "./") -> dict[str, Any]:
        """Write the STOPCAR (VASP stops after the current ionic step)."""
        result = super().correct(directory)
        result["stopcar"] = "LSTOP = .TRUE."
        return result


class ElectronicConvergenceHandler(ErrorHandler):
    """Correct electronic non-convergence only when it persists over a window.

    An MD step whose electronic loop reached NELM is not fatal (the forces are
    usually still fine and the next step converges); at 5000 K a few such steps
    are common. Only when at least ``min_unconverged`` of the last ``window``
    ionic steps hit NELM does this handler fire; it then applies the next rung of
    :data:`ELECTRONIC_LADDER` not yet in the INCAR. With the ladder exhausted the
    error is unrecoverable.

    Parameters
    ----------
    window
        Number of most recent ionic steps examined.
    min_unconverged
        How many of them must have reached NELM.
    """

    is_monitor = True

    def __init__(
        self,
        window: int = VaspSettings().electronic_window,
        min_unconverged: int = VaspSettings().electronic_min_unconverged,
    ) -> None:
        self.window = int(window)
        self.min_unconverged = int(min_unconverged)

    @staticmethod
    def unconverged_steps(directory: str | Path) -> list[int]:
        """1-based ionic steps of this part whose electronic loop reached NELM."""
        incar = Incar.from_file(os.path.join(directory, "INCAR"))
        nelm = int(incar.get("NELM", 60))
        return [i + 1 for i, s in enumerate(_read_md_steps(directory)) if s["n_electronic"] >= nelm]

    def check(self, directory: str = "./") -> bool:
        """True when the last ``window`` ionic steps hold ≥ ``min_unconverged`` bad ones."""
        steps = _read_md_steps(directory)
        if not steps:
            return False
        bad = self.unconverged_steps(directory)
        recent = [b for b in bad if b > len(steps) - self.window]
        return len(recent) >= self.min_unconverged

    def correct(self, directory: str = "./") -> dict[str, Any]:
        """Apply the next ladder rung to the INCAR (recorded in the returned actions)."""
        incar = Incar.from_file(os.path.join(directory, "INCAR"))
        bad = self.unconverged_steps(directory)
        errors = ["persistent_electronic_nonconvergence"]
        level = ladder_level(incar)
        if level + 1 < len(ELECTRONIC_LADDER):
            rung = dict(ELECTRONIC_LADDER[level + 1])
            actions = [{"dict": "INCAR", "action": {"_set": rung}}]
            VaspModder(directory=directory).apply_actions(actions)
            return {
                "errors": errors,
                "actions": actions,
                "unconverged_steps": bad,
                "window": self.window,
                "ladder_rung": level + 1,
            }
        return {"errors": errors, "actions": None, "unconverged_steps": bad}


class MDInstabilityHandler(ErrorHandler):
    """Temperature runaway, energy drift or positive energy → smaller POTIM from a good frame.

    Parameters
    ----------
    max_temperature_K
        An instantaneous temperature above this (K) is a runaway.
    max_energy_drift_eV_per_atom
        A change of the conserved energy (OSZICAR ``E``, which includes the
        Nosé thermostat terms) from the part's first step larger than this
        (eV/atom) is a drift.
    n_atoms
        Atoms in the cell (for the per-atom drift).
    timestep_factor
        POTIM is multiplied by this at each correction.
    min_timestep_fs
        Below this POTIM (fs) the error is unrecoverable.
    backoff_steps
        The restart frame is this many steps before the first bad step.
    """

    is_monitor = True

    def __init__(
        self,
        max_temperature_K: float,
        max_energy_drift_eV_per_atom: float,
        n_atoms: int,
        timestep_factor: float = VaspSettings().recovery.timestep_factor,
        min_timestep_fs: float = VaspSettings().recovery.min_timestep_fs,
        backoff_steps: int = 5,
    ) -> None:
        self.max_temperature_K = float(max_temperature_K)
        self.max_energy_drift_eV_per_atom = float(max_energy_drift_eV_per_atom)
        self.n_atoms = int(n_atoms)
        self.timestep_factor = float(timestep_factor)
        self.min_timestep_fs = float(min_timestep_fs)
        self.backoff_steps = int(backoff_steps)

    def first_bad_step(self, directory: str | Path) -> tuple[int, str] | None:
        """(1-based step, reason) of the first unstable ionic step of this part, or None."""
        steps = _read_md_steps(directory)
        if not steps:
            return None
        e_first = steps[0].get("E", 0.0)
        for i, s in enumerate(steps):
            if not np.isfinite(s.get("T", np.nan)) or s["T"] > self.max_temperature_K:
                return (
                    i + 1,
                    f"temperature_runaway (T={s.get('T')} K > {self.max_temperature_K:.0f} K)",
                )
            if s.get("E0", -1.0) > 0:
                return i + 1, f"positive_energy (E0={s['E0']} eV)"
            drift = abs(s.get("E", e_first) - e_first) / self.n_atoms
            if drift > self.max_energy_drift_eV_per_atom:
                return i + 1, (
                    f"energy_drift ({drift:.3f} > {self.max_energy_drift_eV_per_atom} eV/atom)"
                )
        return None

    def check(self, directory: str = "./") -> bool:
        """True when a step of this part is unstable."""
        return self.first_bad_step(directory) is not None

    def correct(self, directory: str = "./") -> dict[str, Any]:
        """Reduce POTIM and name the last good step to restart from."""
        found = self.first_bad_step(directory)
        step, reason = found if found else (1, "instability")
        incar = Incar.from_file(os.path.join(directory, "INCAR"))
        potim = float(incar.get("POTIM", 0.5))
        new_potim = round(potim * self.timestep_factor, 4)
        restart = max(step - 1 - self.backoff_steps, 0)
        result: dict[str, Any] = {
            "errors": [reason.split(" ")[0]],
            "reason": reason,
            "first_bad_step": step,
            "restart_from_step": restart,
        }
        if new_potim < self.min_timestep_fs:
            result["actions"] = None
            return result
        actions = [{"dict": "INCAR", "action": {"_set": {"POTIM": new_potim}}}]
        VaspModder(directory=directory).apply_actions(actions)
        result["actions"] = actions
        result["potim_fs"] = [potim, new_potim]
        return result


def md_handlers(
    settings: VaspSettings,
    *,
    n_atoms: int,
    max_temperature_K: float,
    wall_time_s: float | None = None,
) -> list[ErrorHandler]:
    """The handler set of one VASP MD part (see the module docstring).

    Thresholds come from the engine's typed settings (``engine.settings``, with its
    ``recovery``); ``wall_time_s`` is the part's wall time (s), whose STOPCAR buffer
    is ``walltime_buffer_s`` but at most a fifth of it. Order matters only for
    reporting: Custodian runs every handler that fires.
    """
    handlers: list[ErrorHandler] = [
        md_vasp_error_handler(),
        StdErrHandler(),
        FrozenJobErrorHandler(timeout=settings.frozen_timeout_s),
        MDInstabilityHandler(
            max_temperature_K=max_temperature_K,
            max_energy_drift_eV_per_atom=settings.max_energy_drift_eV_per_atom,
            n_atoms=n_atoms,
            timestep_factor=settings.recovery.timestep_factor,
            min_timestep_fs=settings.recovery.min_timestep_fs,
        ),
        ElectronicConvergenceHandler(
            window=settings.electronic_window,
            min_unconverged=settings.electronic_min_unconverged,
        ),
    ]
    if wall_time_s:
        buffer_s = min(settings.walltime_buffer_s, 0.2 * wall_time_s)
        handlers.append(SegmentWalltimeHandler(wall_time_s, buffer_s))
    return handlers


def handler_names(handlers: Sequence[ErrorHandler]) -> list[str]:
    """Class names of a handler set (for provenance)."""
    return [type(h).__name__ for h in handlers]
