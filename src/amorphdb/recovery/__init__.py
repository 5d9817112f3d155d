"""Engine-level recovery: checkpoints, resumable runs, Custodian handlers.

- :mod:`amorphdb.recovery.base` — checkpoints, run parts, budget, Custodian runner;
- :mod:`amorphdb.recovery.lammps` — LAMMPS log handlers and the Custodian job;
- :mod:`amorphdb.recovery.mlip` — exploding-dynamics handlers for the ML engine.
"""

from __future__ import annotations

from amorphdb.recovery.base import (
    Checkpoint,
    RecoveryExhaustedError,
    RecoverySettings,
    RunState,
)

__all__ = ["Checkpoint", "RecoveryExhaustedError", "RecoverySettings", "RunState"]
