"""What ``EngineSpec.settings`` may hold for the ``mlip`` engine, and its fixed facts.

A light module (pydantic only): a campaign file is validated against
:class:`MLIPSettings` without importing torch or the models.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from amorphdb.engines.base import EngineSettings


class MLIPSettings(EngineSettings):
    """ML-potential engine settings (``engine.settings`` in a campaign file).

    The model itself is ``engine.potential`` (``chgnet``, ``sevennet-0``).

    Parameters
    ----------
    threads
        torch CPU threads per run (``torch.set_num_threads``); campaigns run
        compositions in parallel instead.
    barostat_damping_fs
        NPT barostat relaxation time (fs); ``None``: 10 × the thermostat's.
    recovery
        The shared recovery budget and the ML checks' thresholds
        (:class:`~amorphdb.recovery.base.RecoverySettings`).
    """

    #: 2 fs, as atomate2's ASE/force-field MD makers without H (``AseMDMaker.time_step``;
    #: 0.5 fs with H there)
    default_timestep_fs: ClassVar[float] = 2.0
    #: beyond 5 fs light atoms (Li, O) at melt temperatures cross a bond length in a
    #: few steps
    max_timestep_fs: ClassVar[float] = 5.0
    #: CHGNet on one CPU core, ~100 atoms (order of magnitude; a GPU is ~50× cheaper)
    cost_per_atom_step_core_s: ClassVar[float] = 2e-3

    threads: int = Field(default=1, ge=1, le=1024)
    barostat_damping_fs: float | None = Field(default=None, gt=0)
