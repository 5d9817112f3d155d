"""The ``vasp`` engine: MPMorph-protocol AIMD with VASP under AIMD-aware Custodian.

See :mod:`amorphdb.engines.vasp.engine` (the engine and its parts),
:mod:`amorphdb.engines.vasp.inputs` (input sets per stage),
:mod:`amorphdb.engines.vasp.config` (settings and pre-submission checks) and
:mod:`amorphdb.engines.vasp.handlers` (Custodian handlers; run state, parts and
budget come from the shared kernel :mod:`amorphdb.recovery`). Configuration: ``docs/vasp.md``.
"""

from __future__ import annotations

from amorphdb.engines.vasp.inputs import VaspStage, md_input_set, resolve_incar

__all__ = ["VaspStage", "md_input_set", "resolve_incar"]
