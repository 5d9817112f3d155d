"""Free parameters of an optimisation and their scaling to the unit cube."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from amorphdb.errors import ConfigError


@dataclass(frozen=True)
class Parameter:
    """One free parameter with its search range ``[low, high]`` (in its own unit).

    Parameters
    ----------
    name
        Parameter name; for a potential, ``PAIR.KIND`` such as ``B-O.A`` (eV) or
        ``B-O.rho`` (Å) (:meth:`amorphdb.engines.potentials.Potential.parameter_names`).
    low, high
        Finite bounds with ``low < high``.
    """

    name: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ConfigError("a parameter needs a name, e.g. Parameter('B-O.A', 1e5, 3e5)")
        low, high = float(self.low), float(self.high)
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ConfigError(f"parameter '{self.name}': bounds must be finite (got {low}, {high})")
        if not low < high:
            what = "empty" if low == high else "inverted"
            raise ConfigError(
                f"parameter '{self.name}': {what} range [{low:g}, {high:g}]; give low < high"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)


def check_parameters(parameters: Sequence[Parameter]) -> list[Parameter]:
    """The parameters as a list; ConfigError when empty or a name repeats."""
    params = list(parameters)
    if not params:
        raise ConfigError("no parameters to optimise; give at least one Parameter(name, low, high)")
    names = [p.name for p in params]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"parameter(s) {', '.join(dupes)} given more than once")
    return params


def bounds_array(parameters: Sequence[Parameter]) -> np.ndarray:
    """(2, d) array of lower and upper bounds."""
    return np.array([[p.low for p in parameters], [p.high for p in parameters]], dtype=float)


def to_unit(parameters: Sequence[Parameter], points: Sequence[Mapping[str, float]]) -> np.ndarray:
    """Parameter dicts → (n, d) array in the unit cube (x − low)/(high − low)."""
    b = bounds_array(parameters)
    x = np.array([[float(pt[p.name]) for p in parameters] for pt in points], dtype=float)
    return (x.reshape(-1, len(parameters)) - b[0]) / (b[1] - b[0])


def from_unit(parameters: Sequence[Parameter], unit: np.ndarray) -> list[dict[str, float]]:
    """(n, d) unit-cube array → parameter dicts, clipped into the bounds."""
    b = bounds_array(parameters)
    x = b[0] + np.clip(np.asarray(unit, dtype=float), 0.0, 1.0) * (b[1] - b[0])
    x = np.clip(x, b[0], b[1])
    return [{p.name: float(v) for p, v in zip(parameters, row, strict=True)} for row in x]
