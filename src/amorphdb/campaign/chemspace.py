"""Compositions at scale: a CSV column, or an enumerated chemical space.

:class:`ChemicalSpace` enumerates formulas with one element from each element set
(e.g. ``[[Li], [Si, Ge, P, B], [O, S]]`` gives the Li–M–X ternaries) and integer
coefficients 1…``max_coefficient``; each composition is kept once (pymatgen reduced
formula), only if charge balanced with pymatgen's common oxidation states
(:func:`is_charge_balanced`) and inside the atomic-fraction bounds.
"""

from __future__ import annotations

import csv
import itertools
import math
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymatgen.core import Composition, Element

from amorphdb.errors import ConfigError

#: CSV column names accepted for the formula (first match wins, case-insensitive)
FORMULA_COLUMNS = ("formula", "composition", "formula_pretty", "reduced_formula")


def read_compositions_csv(path: Path) -> list[str]:
    """Formulas of a CSV file's ``formula`` (or ``composition``) column, in file order.

    Raises
    ------
    ConfigError
        Unreadable file, or no formula column.
    """
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            fields = {name.strip().lower(): name for name in reader.fieldnames or []}
            column = next((fields[c] for c in FORMULA_COLUMNS if c in fields), None)
            if column is None:
                raise ConfigError(
                    f"compositions_csv {path} has no 'formula' column "
                    f"(columns: {', '.join(fields.values()) or 'none'}); add a 'formula' header"
                )
            return [row[column].strip() for row in reader if (row.get(column) or "").strip()]
    except OSError as exc:
        raise ConfigError(f"cannot read compositions_csv {path}: {exc.strerror}") from exc


def is_charge_balanced(formula: str, oxidation_states: dict[str, list[int]] | None = None) -> bool:
    """True when one common oxidation state per element makes ``formula`` neutral.

    ``oxidation_states`` replaces pymatgen's common states of the elements it names
    (e.g. ``{Ge: [4], P: [5]}`` for glass-forming oxides).

    The most electronegative element must be the (only) anion and the others cations.
    Written here rather than with :meth:`Composition.oxi_state_guesses`, which lets one
    element take several states at once (it calls Li2Si2O balanced with Si⁴⁺ + Si⁴⁻),
    a mixed valence no glass-forming oxide or sulfide campaign wants.
    """
    key = tuple(sorted((k, tuple(v)) for k, v in (oxidation_states or {}).items()))
    return _balanced(formula, key)


@lru_cache(maxsize=65536)
def _balanced(formula: str, overrides: tuple[tuple[str, tuple[int, ...]], ...]) -> bool:
    states_of = dict(overrides)
    composition = Composition(formula)
    elements = sorted(composition.elements, key=lambda el: el.X)
    anion, cations = elements[-1], elements[:-1]

    def common(el: Element) -> tuple[int, ...]:
        return states_of.get(el.symbol, el.common_oxidation_states)

    choices = [[s for s in common(el) if s > 0] for el in cations]
    choices.append([s for s in common(anion) if s < 0])
    amounts = [composition[el] for el in (*cations, anion)]
    for states in itertools.product(*choices):
        if abs(sum(n * s for n, s in zip(amounts, states, strict=True))) < 1e-8:
            return True
    return False


class ChemicalSpace(BaseModel):
    """Enumeration of formulas with one element from each set.

    Parameters
    ----------
    elements
        Element sets, e.g. ``[[Li], [Si, Ge, P], [O, S]]``; one element is taken from
        each set (an element used twice in one formula is skipped).
    max_coefficient
        Integer coefficients 1…max_coefficient per element (before reduction).
    charge_balanced
        Keep only charge-balanced formulas (common oxidation states).
    fractions
        Atomic-fraction bounds per element, e.g. ``{Li: [0.1, 0.5]}`` (inclusive).
    max_atoms
        Largest number of atoms in the reduced formula unit.
    oxidation_states
        Allowed oxidation states per element, replacing pymatgen's common ones
        (``{Ge: [4], P: [5]}``).
    """

    model_config = ConfigDict(extra="forbid")

    elements: list[list[str]] = Field(min_length=1)
    max_coefficient: int = Field(6, ge=1, le=24)
    charge_balanced: bool = True
    fractions: dict[str, tuple[float, float]] = Field(default_factory=dict)
    max_atoms: int = Field(30, ge=1)
    oxidation_states: dict[str, list[int]] = Field(default_factory=dict)

    @field_validator("elements")
    @classmethod
    def _elements(cls, value: list[list[str]]) -> list[list[str]]:
        for group in value:
            if not group:
                raise ValueError("every element set needs at least one element")
            for symbol in group:
                if not Element.is_valid_symbol(symbol):
                    raise ValueError(f"unknown element '{symbol}'")
        return value

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for symbol, (low, high) in value.items():
            if not 0 <= low <= high <= 1:
                raise ValueError(f"fractions of {symbol} must satisfy 0 <= low <= high <= 1")
        return value

    def _in_bounds(self, composition: Composition) -> bool:
        for symbol, (low, high) in self.fractions.items():
            x = composition.get_atomic_fraction(Element(symbol))
            if not low - 1e-9 <= x <= high + 1e-9:
                return False
        return True

    def formulas(self) -> list[str]:
        """Reduced formulas of the space, without duplicates, in enumeration order."""
        seen: dict[str, None] = {}
        coefficients = range(1, self.max_coefficient + 1)
        for symbols in itertools.product(*self.elements):
            if len(set(symbols)) < len(symbols):
                continue
            for counts in itertools.product(coefficients, repeat=len(symbols)):
                if math.gcd(*counts) != 1:
                    continue  # a multiple of a smaller formula
                composition = Composition(dict(zip(symbols, counts, strict=True)))
                if composition.num_atoms > self.max_atoms or not self._in_bounds(composition):
                    continue
                formula = composition.reduced_formula
                if formula in seen:
                    continue
                if self.charge_balanced and not is_charge_balanced(formula, self.oxidation_states):
                    continue
                seen[formula] = None
        return list(seen)
