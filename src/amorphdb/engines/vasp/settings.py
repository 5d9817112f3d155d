"""What ``EngineSpec.settings`` may hold for the ``vasp`` engine, and its fixed facts.

A light module (pydantic only): a campaign file is validated against
:class:`VaspSettings` without importing pymatgen's or atomate2's VASP sets. The checks
that need POTCARs or the VASP command are in :mod:`amorphdb.engines.vasp.config`.
"""

from __future__ import annotations

import os
from enum import Enum
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from amorphdb.engines.base import EngineSettings


class VaspStage(str, Enum):
    """Protocol stage a VASP MD run belongs to (selects the INCAR preset)."""

    EQUILIBRATION = "equilibration"
    MELT = "melt"
    ANNEAL = "anneal"


#: INCAR tags each MD stage sets from the protocol (tag -> the setting that sets it)
PROTOCOL_TAGS: dict[str, str] = {
    "NSW": "n_steps", "TEBEG": "temperature_K", "TEEND": "temperature_K",
    "POTIM": "timestep_fs",
}


class VaspSettings(EngineSettings):
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
        Shared recovery budget (:class:`~amorphdb.recovery.base.RecoverySettings`).
    """

    #: PMG ``MPMDSet`` POTIM (0.5 fs with H, :func:`.inputs.hydrogen_timestep`)
    default_timestep_fs: ClassVar[float] = 2.0
    #: AIMD, Γ-point PBE, ~100 atoms, ~30 s per ionic step on 32 cores (MPMorph-size
    #: cells, order of magnitude)
    cost_per_atom_step_core_s: ClassVar[float] = 10.0
    #: what ``rerun`` puts into ``incar`` after an attempt failed on electronic
    #: convergence, one rung per earlier such failure. Attempt-level, on top of the
    #: in-run Custodian ladder (:data:`amorphdb.engines.vasp.handlers.ELECTRONIC_LADDER`),
    #: whose corrections a new attempt does not inherit: more NELM at each rung, then
    #: custodian's VaspErrorHandler order for unconverged SCF (Normal → All → Damped).
    electronic_ladder: ClassVar[tuple[dict[str, Any], ...]] = (
        {"ALGO": "Normal", "NELM": 120},
        {"ALGO": "All", "NELM": 200},
        {"ALGO": "Damped", "TIME": 0.4, "NELM": 300},
    )

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
    pressure_source: Literal["external", "total"] = "external"
    polling_time_step_s: float = Field(default=10.0, gt=0)
    monitor_freq: int = Field(default=30, ge=1)

    @field_validator("incar", "incar_equilibration", "incar_melt", "incar_anneal")
    @classmethod
    def _md_incar(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Refuse overrides that turn MD into something else or that the protocol sets."""
        overrides = {str(k).upper(): v for k, v in value.items()}
        if "IBRION" in overrides and int(overrides["IBRION"]) != 0:
            raise ValueError(f"IBRION={overrides['IBRION']} is not molecular dynamics; "
                             "remove it (MD needs IBRION=0)")
        if "ISPIN" in overrides and int(overrides["ISPIN"]) not in (1, 2):
            raise ValueError("ISPIN must be 1 or 2")
        for key in sorted(PROTOCOL_TAGS.keys() & overrides.keys()):
            raise ValueError(f"{key} is set by the protocol stage ({PROTOCOL_TAGS[key]}); "
                             "set it there instead")
        return value

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
