"""The run-in-parts kernel every engine's recovery shares (imports no engine).

:mod:`amorphdb.recovery.base` — checkpoints, run parts and their state, the
recovery budget, corrections and the Custodian runner. Each engine's handlers live
in its own package: :mod:`amorphdb.engines.lammps.recovery`,
:mod:`amorphdb.engines.mlip.recovery`, :mod:`amorphdb.engines.vasp.handlers`.
"""

from __future__ import annotations

from amorphdb.recovery.base import (
    Checkpoint,
    Correction,
    RecoveryExhaustedError,
    RecoverySettings,
    RunState,
)

__all__ = ["Checkpoint", "Correction", "RecoveryExhaustedError", "RecoverySettings", "RunState"]
