"""MD engines behind one interface (:mod:`amorphdb.engines.base`).

``get_engine(spec)`` returns the engine named by an :class:`EngineSpec`; engine
packages are imported lazily so a missing optional dependency (LAMMPS, CHGNet,
VASP) only matters to the campaigns that use it.

One registry, :data:`ENGINES`, names each engine's class and its settings model
(:class:`~amorphdb.engines.base.EngineSettings`: the keys ``EngineSpec.settings`` may
hold and the engine's fixed facts — default and largest time step, cost per
atom-step, electronic escalation ladder). Settings models live in light
``<engine>/settings.py`` modules, so validating a campaign file imports no LAMMPS,
torch or atomate2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import import_module

from amorphdb.engines.base import (
    EngineName,
    EngineSettings,
    EngineSpec,
    Ensemble,
    MDEngine,
    MDRunDocument,
    MDRunOutput,
    MDSettings,
    ThermoSeries,
)
from amorphdb.errors import EngineError


@dataclass(frozen=True)
class EngineEntry:
    """Where an engine lives: ``"module:class"`` of the engine and of its settings model."""

    engine: str
    settings: str


#: engine name -> its :class:`MDEngine` and its :class:`EngineSettings` model
ENGINES: dict[EngineName, EngineEntry] = {
    EngineName.LAMMPS: EngineEntry(
        "amorphdb.engines.lammps.engine:LammpsEngine",
        "amorphdb.engines.lammps.settings:LammpsSettings",
    ),
    EngineName.MLIP: EngineEntry(
        "amorphdb.engines.mlip.engine:MLIPEngine",
        "amorphdb.engines.mlip.settings:MLIPSettings",
    ),
    EngineName.VASP: EngineEntry(
        "amorphdb.engines.vasp.engine:VaspEngine",
        "amorphdb.engines.vasp.settings:VaspSettings",
    ),
}


def _load(target: str) -> type:
    module_name, class_name = target.split(":")
    return getattr(import_module(module_name), class_name)


@cache
def settings_model(name: EngineName | str) -> type[EngineSettings]:
    """The settings model of an engine (imports only its light ``settings`` module)."""
    return _load(ENGINES[EngineName(name)].settings)


def get_engine(spec: EngineSpec) -> MDEngine:
    """Instantiate the engine an :class:`EngineSpec` names.

    Raises
    ------
    EngineError
        If the engine's package or its optional dependencies are not installed.
    ConfigError
        If ``spec.settings`` does not fit the engine's settings model (a spec built
        with ``model_copy``, which skips validation).
    """
    name = EngineName(spec.name)
    try:
        cls = _load(ENGINES[name].engine)
    except ImportError as exc:
        raise EngineError(
            f"engine '{name.value}' is not available ({exc}); "
            f"install it with: pip install 'amorphdb[{name.value}]'"
        ) from exc
    return cls(spec)


__all__ = [
    "ENGINES",
    "EngineEntry",
    "EngineName",
    "EngineSettings",
    "EngineSpec",
    "Ensemble",
    "MDEngine",
    "MDRunDocument",
    "MDRunOutput",
    "MDSettings",
    "ThermoSeries",
    "get_engine",
    "settings_model",
]
