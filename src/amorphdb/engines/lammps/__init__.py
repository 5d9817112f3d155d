"""LAMMPS engine (classical potentials) driven by generated inputs.

Names are imported on first use, so ``amorphdb.engines.lammps.settings`` (what a
campaign file is validated against) loads without the engine.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("LammpsEngine", "LammpsRunError"):
        return getattr(import_module("amorphdb.engines.lammps.engine"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LammpsEngine", "LammpsRunError"]
