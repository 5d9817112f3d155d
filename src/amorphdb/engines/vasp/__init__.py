"""The ``vasp`` engine: MPMorph-protocol AIMD with VASP under AIMD-aware Custodian.

See :mod:`amorphdb.engines.vasp.engine` (the engine and its parts),
:mod:`amorphdb.engines.vasp.settings` (``engine.settings`` and the engine's fixed facts),
:mod:`amorphdb.engines.vasp.inputs` (input sets per stage),
:mod:`amorphdb.engines.vasp.config` (pre-submission checks) and
:mod:`amorphdb.engines.vasp.handlers` (Custodian handlers; run state, parts and
budget come from the shared kernel :mod:`amorphdb.recovery`). Configuration: ``docs/vasp.md``.

Names are imported on first use, so ``amorphdb.engines.vasp.settings`` (what a
campaign file is validated against) loads without pymatgen's and atomate2's VASP sets.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "VaspStage": "amorphdb.engines.vasp.settings",
    "md_input_set": "amorphdb.engines.vasp.inputs",
    "resolve_incar": "amorphdb.engines.vasp.inputs",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["VaspStage", "md_input_set", "resolve_incar"]
