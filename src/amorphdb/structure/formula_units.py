"""How many formula units go into a cell of about ``target_atoms`` atoms.

The formula unit is the *reduced integer* formula (``Li4Si4O10`` → ``Li2Si2O5``,
9 atoms; ``Li0.4Si0.2O0.8`` → ``Li2SiO4``). The number of formula units is

* ``nearest`` (default): ``n = max(1, round(target_atoms / atoms_per_fu))`` with
  halves rounded up, i.e. the cell whose atom count is closest to the target;
* ``ceil`` (MPMorph): ``n = ceil(target_atoms / atoms_per_fu)``, the smallest
  cell with at least ``target_atoms`` atoms (MPMorph ``get_random_packed`` and
  atomate2 ``get_random_packed_structure``, see
  materialsproject/mpmorph ``mpmorph/runners/amorphous_maker.py``
  ``get_random_packed`` and atomate2 ``get_random_packed_structure``).

Why ``nearest`` by default: the cost of an MD step grows with the atom count,
and users set ``target_atoms`` as a budget. ``ceil`` can overshoot by almost a
whole formula unit (Li2Si2O5 at 100 atoms: ceil → 12 fu = 108 atoms, nearest →
11 fu = 99 atoms; a 17-atom unit at 100: ceil → 102, nearest → 102; a 63-atom
unit: both → 126). The difference matters only for large formula units;
``ceil`` stays available for exact MPMorph compatibility.
"""

from __future__ import annotations

import math
from enum import Enum
from fractions import Fraction

from pymatgen.core import Composition

from amorphdb.errors import CompositionError, ConfigError
from amorphdb.structure.compositions import parse_composition

__all__ = [
    "MAX_FORMULA_UNIT_ATOMS",
    "FormulaUnitRounding",
    "formula_units_for",
    "integer_formula_unit",
    "scaled_composition",
]

#: Largest integer formula unit accepted (atoms); larger ones come from amounts
#: such as ``Li0.3331O`` that have no small-integer ratio.
MAX_FORMULA_UNIT_ATOMS = 2000


class FormulaUnitRounding(str, Enum):
    """How the number of formula units is rounded (see module docstring)."""

    NEAREST = "nearest"
    CEIL = "ceil"


def _as_composition(composition: Composition | str) -> Composition:
    return parse_composition(composition)


def integer_formula_unit(composition: Composition | str) -> Composition:
    """The reduced formula unit with integer amounts.

    Decimal amounts are turned into the nearest fractions with denominators up to
    1000 (``fractions.Fraction.limit_denominator``) and scaled by the least common
    denominator, then divided by the greatest common divisor.

    Parameters
    ----------
    composition
        Formula or Composition.

    Returns
    -------
    pymatgen.core.Composition
        Integer, reduced formula unit (``Li2Si2O5``).

    Raises
    ------
    CompositionError
        If the amounts have no integer ratio within ``MAX_FORMULA_UNIT_ATOMS`` atoms.
    """
    comp = _as_composition(composition)
    fractions = {el: Fraction(amount).limit_denominator(1000) for el, amount in comp.items()}
    for el, amount in comp.items():
        if abs(float(fractions[el]) - amount) > 1e-6 * max(1.0, amount):
            raise CompositionError(
                f"amount {amount:g} of {el} in {comp.formula!r} is not a ratio of small "
                "integers; round the amounts (e.g. 0.333 -> 1/3 written as integers)"
            )
    lcm = math.lcm(*(f.denominator for f in fractions.values()))
    integers = {el: int(f * lcm) for el, f in fractions.items()}
    gcd = math.gcd(*integers.values())
    unit = Composition({el: n // gcd for el, n in integers.items()})
    if unit.num_atoms > MAX_FORMULA_UNIT_ATOMS:
        raise CompositionError(
            f"the integer formula unit of {comp.formula!r} has {int(unit.num_atoms)} atoms "
            f"(> {MAX_FORMULA_UNIT_ATOMS}); round the amounts to a simpler ratio"
        )
    return unit


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}; use e.g. 100")
    return int(value)


def formula_units_for(
    composition: Composition | str,
    target_atoms: int = 100,
    rounding: FormulaUnitRounding | str = FormulaUnitRounding.NEAREST,
) -> int:
    """Number of formula units so that the cell holds about ``target_atoms`` atoms.

    Parameters
    ----------
    composition
        Formula or Composition; its reduced integer formula is the unit.
    target_atoms
        Wanted number of atoms in the cell (> 0).
    rounding
        ``nearest`` (default; closest atom count, at least one unit) or ``ceil``
        (MPMorph: smallest cell with at least ``target_atoms`` atoms).

    Returns
    -------
    int
        Number of formula units (≥ 1).

    Raises
    ------
    ConfigError
        ``target_atoms`` not a positive integer, or an unknown ``rounding``.
    CompositionError
        Invalid composition.
    """
    target = _check_positive_int(target_atoms, "target_atoms")
    try:
        mode = FormulaUnitRounding(rounding)
    except ValueError:
        choices = ", ".join(m.value for m in FormulaUnitRounding)
        raise ConfigError(f"unknown rounding {rounding!r}; use one of {choices}") from None
    atoms_per_fu = int(integer_formula_unit(composition).num_atoms)
    if mode is FormulaUnitRounding.CEIL:
        return max(1, -(-target // atoms_per_fu))
    # round half up with exact integer arithmetic: floor(target/apfu + 1/2)
    return max(1, (2 * target + atoms_per_fu) // (2 * atoms_per_fu))


def scaled_composition(
    composition: Composition | str,
    target_atoms: int = 100,
    n_formula_units: int | None = None,
    rounding: FormulaUnitRounding | str = FormulaUnitRounding.NEAREST,
) -> Composition:
    """The cell composition: integer formula unit × number of formula units.

    Parameters
    ----------
    composition
        Formula or Composition.
    target_atoms
        Wanted number of atoms (used when ``n_formula_units`` is ``None``).
    n_formula_units
        Explicit number of formula units (> 0); overrides ``target_atoms``.
    rounding
        See :func:`formula_units_for`.

    Returns
    -------
    pymatgen.core.Composition
        Integer amounts of every element in the cell (``Li22Si22O55`` for
        Li2Si2O5 at 100 atoms).
    """
    unit = integer_formula_unit(composition)
    if n_formula_units is None:
        n = formula_units_for(unit, target_atoms, rounding)
    else:
        n = _check_positive_int(n_formula_units, "n_formula_units")
    return unit * n
