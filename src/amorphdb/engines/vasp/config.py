"""VASP engine settings and the checks that run before anything is submitted.

Every problem a user can fix on the login node — no POTCAR directory, an element
without a POTCAR, no VASP command, an ensemble the VASP build cannot run, an
override that turns MD into something else — is a one-line
:class:`~amorphdb.errors.AmorphdbError` raised by :func:`preflight` or
:func:`check_potcars`, not a failure on the compute node.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pymatgen.core import SETTINGS, Element
from pymatgen.io.vasp.inputs import PotcarSingle
from pymatgen.io.vasp.sets import MPRelaxSet

from amorphdb.engines.base import Ensemble
from amorphdb.engines.vasp.inputs import VaspStage
from amorphdb.errors import ConfigError, UnsupportedCompositionError
from amorphdb.recovery.base import RecoverySettings

#: MPMorph runs NVT; NPT (MDALGO 3) needs a VASP built with the MD-algorithm extensions
LAUNCHERS = {"mpirun", "mpiexec", "srun", "aprun", "ibrun", "jsrun", "time", "env"}


class VaspSettings(BaseModel):
    """What ``EngineSpec.settings`` may hold for the ``vasp`` engine.

    Parameters
    ----------
    vasp_cmd
        Command that runs VASP, e.g. ``"srun vasp_gam"``; else ``$AMORPHDB_VASP_CMD``,
        else ``$VASP_CMD``, else ``vasp_std``.
    gamma_vasp_cmd
        Γ-only build used by Custodian's ``auto_gamma`` (default: ``<vasp_cmd>.gamma`` if found).
    check_executable
        Check that the VASP executable is on PATH at preflight (turn off when the
        login node does not load the VASP module).
    potcar_functional
        pymatgen POTCAR functional (``PBE``, ``PBE_54`` …); default: the spec's potential or PBE.
    user_potcar_settings
        Element → POTCAR symbol.
    incar
        INCAR overrides for every stage.
    incar_equilibration, incar_melt, incar_anneal
        INCAR overrides for one stage (win over ``incar``).
    stage
        Stage preset used when the flow does not pass one (``equilibration``, ``melt``, ``anneal``).
    npt_capable
        The VASP build supports MDALGO = 3 (Langevin NPT); required for ``ensemble: npt``.
    walltime_s
        Wall time of the batch job (s); default ``$PBS_WALLTIME`` / ``$SBATCH_TIMELIMIT``.
    walltime_buffer_s
        STOPCAR this long before the limit (s) (custodian default 300 s).
    segment_walltime_s
        Optional cap per part (s): the run checkpoints into a new part this often.
    frozen_timeout_s
        No output for this long (s) = frozen job.
    electronic_window, electronic_min_unconverged
        Non-convergence is corrected only when ≥ min of the last window ionic steps hit NELM.
    max_energy_drift_eV_per_atom
        Change of the conserved energy within one part beyond this (eV/atom) = drift.
    pressure_source
        ``external`` (OUTCAR ``external pressure``, as MPMorph) or ``total`` (+ kinetic pressure).
    polling_time_step_s, monitor_freq
        Custodian polling (s) and how many polls between monitor checks.
    recovery
        Shared recovery budget (:class:`amorphdb.recovery.base.RecoverySettings`).
    """

    model_config = ConfigDict(extra="forbid")

    vasp_cmd: str | None = None
    gamma_vasp_cmd: str | None = None
    check_executable: bool = True
    potcar_functional: str | None = None
    user_potcar_settings: dict[str, str] = Field(default_factory=dict)
    incar: dict[str, Any] = Field(default_factory=dict)
    incar_equilibration: dict[str, Any] = Field(default_factory=dict)
    incar_melt: dict[str, Any] = Field(default_factory=dict)
    incar_anneal: dict[str, Any] = Field(default_factory=dict)
    stage: VaspStage = VaspStage.ANNEAL
    npt_capable: bool = False
    walltime_s: float | None = Field(default=None, gt=0)
    walltime_buffer_s: float = Field(default=300.0, ge=0)
    segment_walltime_s: float | None = Field(default=None, gt=0)
    frozen_timeout_s: float = Field(default=3600.0, gt=0)
    electronic_window: int = Field(default=10, ge=1)
    electronic_min_unconverged: int = Field(default=5, ge=1)
    max_energy_drift_eV_per_atom: float = Field(default=0.5, gt=0)
    pressure_source: str = Field(default="external", pattern="^(external|total)$")
    polling_time_step_s: float = Field(default=10.0, gt=0)
    monitor_freq: int = Field(default=30, ge=1)
    recovery: RecoverySettings = Field(default_factory=RecoverySettings)

    @classmethod
    def from_spec_settings(cls, settings: dict[str, Any]) -> VaspSettings:
        """Validate ``EngineSpec.settings``; one-line :class:`ConfigError` when invalid."""
        try:
            return cls(**settings)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"invalid vasp engine setting '{where}': {err['msg']}; see docs/vasp.md"
            ) from None

    def stage_incar(self, stage: VaspStage) -> dict[str, Any]:
        """The per-stage INCAR overrides."""
        return dict(getattr(self, f"incar_{VaspStage(stage).value}"))

    def resolved_vasp_cmd(self) -> str:
        """The VASP command (settings, then environment, then ``vasp_std``)."""
        return (
            self.vasp_cmd
            or os.environ.get("AMORPHDB_VASP_CMD")
            or os.environ.get("VASP_CMD")
            or "vasp_std"
        )


def psp_dir() -> str | None:
    """``PMG_VASP_PSP_DIR`` from the environment or ``~/.config/.pmgrc.yaml``."""
    return os.environ.get("PMG_VASP_PSP_DIR") or SETTINGS.get("PMG_VASP_PSP_DIR")


def potcar_symbol(element: str, user_potcar_settings: dict[str, str]) -> str:
    """POTCAR symbol of an element: the user's choice, else the MP (MPRelaxSet) one."""
    if element in user_potcar_settings:
        return user_potcar_settings[element]
    return MPRelaxSet.CONFIG["POTCAR"].get(element, element)


def check_potcars(
    elements: list[str], functional: str, user_potcar_settings: dict[str, str]
) -> None:
    """Raise a one-line error unless every element has a POTCAR for ``functional``."""
    root = psp_dir()
    if not root:
        raise ConfigError(
            "PMG_VASP_PSP_DIR is not set; point it to your POTCAR library "
            "(export PMG_VASP_PSP_DIR=/path/to/potcars or `pmg config --add PMG_VASP_PSP_DIR ...`)"
        )
    if not Path(root).expanduser().is_dir():
        raise ConfigError(f"PMG_VASP_PSP_DIR={root} is not a directory; fix the path")
    try:
        subdir = PotcarSingle.functional_dir[functional]
    except KeyError:
        known = ", ".join(sorted(PotcarSingle.functional_dir))
        raise ConfigError(f"unknown POTCAR functional '{functional}'; use one of {known}") from None
    missing = []
    for el in elements:
        symbol = potcar_symbol(el, user_potcar_settings)
        base = Path(root).expanduser() / subdir
        candidates = [base / f"POTCAR.{symbol}", base / symbol / "POTCAR"]
        if not any(p.exists() or p.with_suffix(p.suffix + ".gz").exists() for p in candidates):
            missing.append(f"{el} ({symbol})")
    if missing:
        raise UnsupportedCompositionError(
            f"no {functional} POTCAR for {', '.join(missing)} under {Path(root) / subdir}; "
            "add them or map the element with engine.settings.user_potcar_settings"
        )


def check_vasp_cmd(cmd: str) -> None:
    """Raise a one-line error unless the command's launcher and VASP binary exist."""
    tokens = shlex.split(cmd)
    if not tokens:
        raise ConfigError("engine.settings.vasp_cmd is empty; set it, e.g. 'srun vasp_std'")
    for token in tokens:
        if token.startswith("-") or "=" in token:
            continue
        if shutil.which(token) is None and not Path(token).is_file():
            raise ConfigError(
                f"VASP command '{cmd}': '{token}' not found on PATH; set engine.settings.vasp_cmd "
                "or AMORPHDB_VASP_CMD (or check_executable: false if VASP is only on compute nodes)"
            )
        if Path(token).name not in LAUNCHERS:
            break


def check_overrides(settings: VaspSettings, ensemble: Ensemble) -> None:
    """Reject overrides that contradict MD or the VASP build."""
    if Ensemble(ensemble) == Ensemble.NPT and not settings.npt_capable:
        raise ConfigError(
            "ensemble npt needs a VASP build with MDALGO=3 (Langevin NPT); set "
            "engine.settings.npt_capable: true if yours has it, or use nvt (the MPMorph protocol)"
        )
    for name in ("incar", "incar_equilibration", "incar_melt", "incar_anneal"):
        overrides = {str(k).upper(): v for k, v in getattr(settings, name).items()}
        if "IBRION" in overrides and int(overrides["IBRION"]) != 0:
            raise ConfigError(
                f"engine.settings.{name}: IBRION={overrides['IBRION']} is not molecular dynamics; "
                "remove it (MD needs IBRION=0)"
            )
        if "MDALGO" in overrides and int(overrides["MDALGO"]) == 3 and not settings.npt_capable:
            raise ConfigError(
                f"engine.settings.{name}: MDALGO=3 needs an NPT-capable VASP build; "
                "set npt_capable: true or remove MDALGO"
            )
        if "ISPIN" in overrides and int(overrides["ISPIN"]) not in (1, 2):
            raise ConfigError(f"engine.settings.{name}: ISPIN must be 1 or 2")
        for key in overrides:
            if key in {"NSW", "TEBEG", "TEEND", "POTIM"}:
                raise ConfigError(
                    f"engine.settings.{name}: {key} is set by the protocol stage "
                    "(n_steps, temperature_K, timestep_fs); set it there instead"
                )


def known_element(symbol: str) -> bool:
    """True for a real element symbol."""
    try:
        Element(symbol)
    except ValueError:
        return False
    return True
