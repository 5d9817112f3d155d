"""The ``mlip`` engine: MD with universal ML potentials (CHGNet, SevenNet-0) via ASE.

>>> from amorphdb.engines import EngineSpec, get_engine
>>> engine = get_engine(EngineSpec(name="mlip", potential="chgnet"))  # doctest: +SKIP
"""

from __future__ import annotations

from amorphdb.engines.mlip.models import MLModel, load_calculator, resolve_model

__all__ = ["MLModel", "load_calculator", "resolve_model"]
