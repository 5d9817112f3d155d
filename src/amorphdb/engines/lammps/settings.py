"""What ``EngineSpec.settings`` may hold for the ``lammps`` engine, and its fixed facts.

A light module (pydantic only): a campaign file is validated against
:class:`LammpsSettings` without importing LAMMPS.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field, field_validator

from amorphdb.engines.base import EngineSettings


class KSpace(StrEnum):
    """Long-range Coulomb solver (LAMMPS ``kspace_style``)."""

    EWALD = "ewald"
    PPPM = "pppm"
    AUTO = "auto"


class LammpsSettings(EngineSettings):
    """LAMMPS engine settings (``engine.settings`` in a campaign file).

    Parameters
    ----------
    nprocs
        MPI ranks per run (campaigns run compositions in parallel instead).
    short_cutoff_A, coulomb_cutoff_A
        Override the potential's real-space cut-offs (Å); ``None`` keeps the library
        values, whose sources are in ``docs/potentials.md`` (the cut-off changes the
        glass density).
    kspace
        ``ewald``, ``pppm`` or ``auto``: Ewald up to :attr:`ewald_max_atoms` atoms,
        PPPM above; both at the potential's accuracy.
    recovery
        The shared recovery budget (:class:`~amorphdb.recovery.base.RecoverySettings`).
    """

    #: 1 fs: safe for Li at 5000 K with the Pedone potential (Li moves ~0.04 Å/fs)
    default_timestep_fs: ClassVar[float] = 1.0
    #: measured here: 12–14 s per composition of the tiny test campaign (252 000
    #: atom-steps, 36 atoms, Pedone 2006, one shared slow core, with packing and Python
    #: overhead); bigger cells are cheaper per atom
    cost_per_atom_step_core_s: ClassVar[float] = 5e-5
    #: largest cell (atoms) ``auto`` runs with Ewald: on ~100 atoms Ewald at 1e-5 runs
    #: 3× faster than PPPM (1574 vs 551 steps/s, NPT, Li2Si2O5, 108 atoms)
    ewald_max_atoms: ClassVar[int] = 500

    nprocs: int = Field(default=1, ge=1, le=4096)
    short_cutoff_A: float | None = Field(default=None, gt=0, le=50)
    coulomb_cutoff_A: float | None = Field(default=None, gt=0, le=50)
    kspace: KSpace = KSpace.AUTO

    @field_validator("kspace", mode="before")
    @classmethod
    def _kspace_name(cls, value: Any) -> Any:
        """Case-insensitive; ``null`` means ``auto``."""
        if value is None:
            return KSpace.AUTO
        return value.lower() if isinstance(value, str) else value

    def kspace_style(self, n_atoms: int) -> str:
        """The ``kspace_style`` for a cell of ``n_atoms`` (``auto``: by cell size)."""
        if self.kspace is KSpace.AUTO:
            return (KSpace.EWALD if n_atoms <= self.ewald_max_atoms else KSpace.PPPM).value
        return self.kspace.value

    def cutoff_overrides(self) -> dict[str, float]:
        """The cut-offs (Å) set here, as ``Potential`` field updates."""
        return {
            key: value
            for key in ("short_cutoff_A", "coulomb_cutoff_A")
            if (value := getattr(self, key)) is not None
        }
