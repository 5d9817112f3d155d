"""Universal ML potentials the ``mlip`` engine can run offline, and how to load them.

Only models whose weights ship inside their Python wheel work here (no network at
run time): **CHGNet** (``chgnet`` package, pretrained v0.3.0) and **SevenNet-0**
(``sevenn`` package, ``7net-0``). Every other model in atomate2's ``MLFF`` list
(MACE-MP-0, M3GNet/MatPES through matgl, MatterSim, FAIRChem/UMA, UPET, ...)
downloads its weights on first use, so choosing one fails with a one-line
:class:`~amorphdb.errors.EngineError` before any job runs.

Calculators are built with atomate2's :func:`atomate2.forcefields.utils.ase_calculator`
(with atomate2's default keyword arguments, e.g. CHGNet stress in eV/Å³) and
cached per process: loading a model takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pymatgen.core import Element

from amorphdb.errors import ConfigError, EngineError


class MLModel(str, Enum):
    """ML potentials usable offline."""

    CHGNET = "chgnet"
    SEVENNET_0 = "sevennet-0"


@dataclass(frozen=True)
class ModelInfo:
    """Provenance and coverage of one model."""

    mlff: str  # atomate2 MLFF value
    package: str
    calculator_kwargs: tuple[tuple[str, Any], ...]
    max_z: int
    excluded_z: frozenset[int]
    citation: str
    label: str


MODELS: dict[MLModel, ModelInfo] = {
    # CHGNet 0.3.0 embeds Z = 1..94 (nn.Embedding(94, 64)); trained on MPtrj.
    MLModel.CHGNET: ModelInfo(
        mlff="CHGNet",
        package="chgnet",
        calculator_kwargs=(("stress_unit", "eV/A3"),),
        max_z=94,
        excluded_z=frozenset(),
        citation=(
            "B. Deng et al., CHGNet as a pretrained universal neural network potential "
            "for charge-informed atomistic modelling, Nat. Mach. Intell. 5 (2023) 1031"
        ),
        label="CHGNet 0.3.0 (MPtrj)",
    ),
    # SevenNet-0 (7net-0) type_map covers Z = 1..83 and 89..94 (no Po, At, Rn, Fr, Ra),
    # read from sevenn 0.13.0's SevenNetCalculator(model="7net-0").type_map.
    MLModel.SEVENNET_0: ModelInfo(
        mlff="SevenNet",
        package="sevenn",
        calculator_kwargs=(("model", "7net-0"),),
        max_z=94,
        excluded_z=frozenset({84, 85, 86, 87, 88}),
        citation=(
            "Y. Park et al., Scalable parallel algorithm for graph neural network "
            "interatomic potentials in molecular dynamics simulations, "
            "J. Chem. Theory Comput. 20 (2024) 4857"
        ),
        label="SevenNet-0 (7net-0, MPtrj)",
    ),
}

#: names (lower case) of atomate2 force fields that need downloaded weights
NEEDS_WEIGHTS: frozenset[str] = frozenset(
    {
        "mace",
        "mace-mp-0",
        "mace-mpa-0",
        "mace-mp-0b3",
        "m3gnet",
        "matpes-pbe",
        "matpes-r2scan",
        "mattersim",
        "fairchem",
        "uma",
        "upet",
        "gap",
        "nep",
        "nequip",
        "allegro",
        "deepmd",
        "sevennet-mf-ompa",
        "sevennet-omni",
        "chgnet-matpes",
    }
)

_ALIASES = {
    "chgnet": MLModel.CHGNET,
    "sevennet": MLModel.SEVENNET_0,
    "sevennet-0": MLModel.SEVENNET_0,
    "sevennet0": MLModel.SEVENNET_0,
    "7net-0": MLModel.SEVENNET_0,
}


def resolve_model(name: str | None) -> MLModel:
    """The model a potential name selects (``None`` → CHGNet).

    Raises
    ------
    EngineError
        For a model that needs weights not installed here.
    ConfigError
        For a name no model has.
    """
    if name is None:
        return MLModel.CHGNET
    key = str(name).strip().lower().replace("_", "-")
    if key.startswith("mlff."):
        key = key[5:]
    if key in _ALIASES:
        return _ALIASES[key]
    if key in NEEDS_WEIGHTS:
        raise EngineError(
            f"model '{name}' needs weights that are not installed here; "
            "use chgnet or sevennet-0"
        )
    raise ConfigError(
        f"unknown ML model '{name}'; use one of: {', '.join(m.value for m in MLModel)}"
    )


def uncovered_elements(model: MLModel, elements: list[str]) -> list[str]:
    """Elements of ``elements`` the model was not trained on (sorted, unique)."""
    info = MODELS[model]
    missing = set()
    for symbol in elements:
        z = Element(symbol).Z
        if z > info.max_z or z in info.excluded_z:
            missing.add(symbol)
    return sorted(missing)


def model_version(model: MLModel) -> str:
    """Provenance string, e.g. ``chgnet 0.4.2 / CHGNet 0.3.0 (MPtrj)``."""
    info = MODELS[model]
    try:
        pkg_version = version(info.package)
    except PackageNotFoundError:
        pkg_version = "not installed"
    return f"{info.package} {pkg_version} / {info.label}"


@cache
def load_calculator(model: MLModel) -> Any:
    """The ASE calculator of ``model``, loaded once per process (loading takes seconds).

    Raises
    ------
    EngineError
        If the model's package is not installed.
    """
    from atomate2.forcefields.utils import MLFF, ase_calculator

    info = MODELS[model]
    try:
        return ase_calculator(MLFF(info.mlff), **dict(info.calculator_kwargs))
    except ImportError as exc:
        raise EngineError(
            f"model '{model.value}' is not installed ({exc}); "
            "install it with: pip install 'amorphdb[mlip]'"
        ) from exc
