"""Composition enumerations for campaigns (pseudo-binary joins, fraction ranges).

A pseudo-binary join x·A + (1 − x)·B mixes x formula units of the end member A
with 1 − x formula units of B (A and B as written: ``Li2O``, ``SiO2``). To get a
small integer formula, x is rounded to the closest fraction p/q with
q ≤ ``max_denominator`` (``fractions.Fraction.limit_denominator``, default 20),
and the composition is p·A + (q − p)·B, reduced. So x = 1/3 (given as 0.3333 or
1/3) gives Li2O + 2 SiO2 = Li2Si2O5; x = 0.35 gives 7 Li2O + 13 SiO2 =
Li14Si13O33. The exact x used is returned by :func:`pseudo_binary_points`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from pymatgen.core import Composition

from amorphdb.errors import CompositionError, ConfigError
from amorphdb.structure.compositions import parse_composition

__all__ = ["PseudoBinaryPoint", "fraction_range", "pseudo_binary", "pseudo_binary_points"]

#: Relative tolerance for deciding that a range ends on a step (float round-off).
_RANGE_RTOL = 1e-9


def fraction_range(start: float, stop: float, step: float) -> list[float]:
    """Evenly spaced values from ``start`` to ``stop`` *including both ends*.

    ``numpy.arange`` excludes the end point (atomate2's slow quench loses its last
    temperature this way); here ``stop`` is always included. The step must divide
    ``stop − start`` (within round-off), otherwise it is an error rather than a
    silently shortened range. Values are rounded to 12 decimals so that 0.1 + 0.2
    reads 0.3.

    Parameters
    ----------
    start, stop
        First and last value (``start > stop`` counts down).
    step
        Spacing (> 0; the direction follows start → stop).

    Returns
    -------
    list of float
        ``[start, start ± step, …, stop]``.

    Raises
    ------
    ConfigError
        Non-positive or non-finite step, non-finite ends, or a step that does not
        divide the range.
    """
    for name, value in (("start", start), ("stop", stop), ("step", step)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ConfigError(f"range {name} must be a finite number, got {value!r}")
    if step <= 0:
        raise ConfigError(f"range step must be positive, got {step!r}; e.g. 0.05")
    span = abs(stop - start)
    n_steps_float = span / step
    n_steps = round(n_steps_float)
    if abs(n_steps_float - n_steps) > _RANGE_RTOL * max(1.0, n_steps_float):
        raise ConfigError(
            f"step {step:g} does not divide the range {start:g}…{stop:g} "
            f"({n_steps_float:.4g} steps); choose a step such as {span / max(n_steps, 1):g}"
        )
    direction = 1.0 if stop >= start else -1.0
    values = [round(start + direction * i * step, 12) for i in range(n_steps)]
    values.append(round(float(stop), 12))
    return values


@dataclass(frozen=True)
class PseudoBinaryPoint:
    """One member of a pseudo-binary join.

    Attributes
    ----------
    x_requested
        The fraction of A asked for.
    x
        The fraction actually used (p/q).
    formula
        Reduced formula of p·A + (q − p)·B.
    """

    x_requested: float
    x: Fraction
    formula: str


def pseudo_binary_points(
    end_a: str | Composition,
    end_b: str | Composition,
    fractions: Sequence[float],
    max_denominator: int = 20,
) -> list[PseudoBinaryPoint]:
    """Members x·A + (1 − x)·B of a pseudo-binary join, one per requested x.

    Parameters
    ----------
    end_a, end_b
        End-member formulas (``Li2O``, ``SiO2``).
    fractions
        Fractions x of A, each in [0, 1].
    max_denominator
        Largest denominator q of the rational x = p/q actually used.

    Returns
    -------
    list of PseudoBinaryPoint
        In the order of ``fractions`` (duplicates kept).

    Raises
    ------
    CompositionError
        Invalid end members, or identical end members.
    ConfigError
        A fraction outside [0, 1], no fractions, or max_denominator < 1.
    """
    comp_a = parse_composition(end_a)
    comp_b = parse_composition(end_b)
    if comp_a.reduced_composition == comp_b.reduced_composition:
        raise CompositionError(
            f"pseudo-binary end members {comp_a.reduced_formula} and "
            f"{comp_b.reduced_formula} are the same; give two different compositions"
        )
    if (
        isinstance(max_denominator, bool)
        or not isinstance(max_denominator, int)
        or (max_denominator < 1)
    ):
        raise ConfigError(f"max_denominator must be a positive integer, got {max_denominator!r}")
    if len(fractions) == 0:
        raise ConfigError("no fractions given for the pseudo-binary join; give e.g. [0.2, 0.5]")
    points = []
    for x in fractions:
        if isinstance(x, bool) or not isinstance(x, int | float | Fraction) or not (0 <= x <= 1):
            raise ConfigError(
                f"pseudo-binary fraction must be between 0 and 1, got {x!r} "
                f"(x is the fraction of {comp_a.reduced_formula})"
            )
        exact = Fraction(x).limit_denominator(max_denominator)
        p, q = exact.numerator, exact.denominator
        if p == 0:
            mixed = comp_b
        elif p == q:
            mixed = comp_a
        else:
            mixed = comp_a * p + comp_b * (q - p)
        points.append(PseudoBinaryPoint(float(x), exact, mixed.reduced_formula))
    return points


def pseudo_binary(
    end_a: str | Composition,
    end_b: str | Composition,
    fractions: Sequence[float],
    max_denominator: int = 20,
) -> list[str]:
    """Reduced formulas of x·A + (1 − x)·B for each x, without duplicates.

    ``pseudo_binary("Li2O", "SiO2", fraction_range(0.2, 0.5, 0.05))`` →
    ``Li2Si4O9, Li2Si3O7, Li6Si7O17, Li14Si13O33, Li4Si3O8, Li18Si11O31,
    Li2SiO3``; see
    :func:`pseudo_binary_points` for the rounding rule and the parameters. Two
    fractions that round to the same p/q give one formula (first kept).
    """
    seen: dict[str, None] = {}
    for point in pseudo_binary_points(end_a, end_b, fractions, max_denominator):
        seen.setdefault(point.formula, None)
    return list(seen)
