"""Parse and validate chemical formulas.

pymatgen's :class:`~pymatgen.core.Composition` parser is lenient in ways that are
dangerous for a campaign: ``"Xx2O"`` becomes a dummy species, ``"Li0O"`` silently
drops Li, ``"D2O"`` becomes H2O, ``"Li2O.2SiO2"`` parses as Li2 O2.2 Si and
``"Li2O 2SiO2"`` as Li2 O2 Si O2. We therefore tokenise the formula ourselves
(a small recursive-descent parser) and hand pymatgen only validated element
amounts.

Accepted syntax
---------------
* element symbols (case-sensitive) with optional amounts, integer or decimal:
  ``Li2Si2O5``, ``Cu50Zr50``, ``Li0.4Si0.2O0.8``;
* parenthesised groups with a multiplier: ``(Li2O)(SiO2)2``;
* adducts (oxide notation) joined by ``·``, ``•``, ``*``, ``+`` or ``.`` with an
  optional leading coefficient: ``Li2O·2SiO2``, ``Li2O*2SiO2``, ``Li2O.2SiO2``,
  ``15Na2O+10CaO+12B2O3+63SiO2`` (a ``.`` right after a digit is a decimal
  point, so write ``Li2O.2SiO2`` but ``Na2.5O``).

Whitespace around the formula is ignored; whitespace inside it is an error (it is
ambiguous: ``Li2O 2SiO2``).
"""

from __future__ import annotations

import re

from pymatgen.core import Composition, Element

from amorphdb.errors import CompositionError

__all__ = ["MAX_Z", "formula_string", "parse_composition"]

#: Heaviest supported element (Pu): beyond it pymatgen lacks molar volumes and
#: electronegativities, and no potential covers them.
MAX_Z = 94
_ADDUCT_SEPARATORS = "·•*+"
_EXAMPLES = "write formulas like Li2Si2O5, (Li2O)(SiO2)2 or Li2O·2SiO2"
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SYMBOL = re.compile(r"[A-Z][a-z]?")


class _FormulaParser:
    """Recursive-descent parser for the syntax documented in the module docstring."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- helpers ---------------------------------------------------------------
    def _fail(self, why: str) -> CompositionError:
        return CompositionError(f"cannot parse formula {self.text!r}: {why}; {_EXAMPLES}")

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _number(self) -> float | None:
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return float(match.group())

    # -- grammar ---------------------------------------------------------------
    def parse(self) -> dict[str, float]:
        amounts: dict[str, float] = {}
        first = True
        while True:
            coefficient = self._number()
            if coefficient is None:
                coefficient = 1.0
            elif coefficient == 0:
                raise CompositionError(
                    f"zero coefficient in {self.text!r}; remove the part or give it a positive "
                    "amount"
                )
            part = self._group(depth=0)
            if not part:
                where = "is empty" if first else f"has an empty part at position {self.pos}"
                raise self._fail(f"the formula {where}")
            for symbol, amount in part.items():
                amounts[symbol] = amounts.get(symbol, 0.0) + coefficient * amount
            first = False
            char = self._peek()
            if char == "":
                return amounts
            if char in _ADDUCT_SEPARATORS or char == ".":
                self.pos += 1
                continue
            if char == ")":
                raise self._fail(f"unmatched ')' at position {self.pos}")
            if char.isspace():
                raise self._fail(f"whitespace at position {self.pos} (join adducts with '·')")
            raise self._fail(f"unexpected character {char!r} at position {self.pos}")

    def _group(self, depth: int) -> dict[str, float]:
        amounts: dict[str, float] = {}
        while True:
            char = self._peek()
            if char == "(":
                start = self.pos
                self.pos += 1
                inner = self._group(depth + 1)
                if self._peek() != ")":
                    raise self._fail(f"unmatched '(' at position {start}")
                if not inner:
                    raise self._fail(f"empty parentheses at position {start}")
                self.pos += 1
                multiplier = self._amount()
                for symbol, amount in inner.items():
                    amounts[symbol] = amounts.get(symbol, 0.0) + multiplier * amount
                continue
            match = _SYMBOL.match(self.text, self.pos)
            if match is None:
                if char.isalpha():  # a lower-case letter where a symbol should start
                    raise self._fail(
                        f"element symbols start with a capital letter ({char!r} at position "
                        f"{self.pos})"
                    )
                return amounts
            symbol = match.group()
            self.pos = match.end()
            _check_element(symbol, self.text)
            amount = self._amount(symbol)
            amounts[symbol] = amounts.get(symbol, 0.0) + amount

    def _amount(self, symbol: str | None = None) -> float:
        what = f"of {symbol}" if symbol else "after ')'"
        if self._peek() == "-" and _NUMBER.match(self.text, self.pos + 1):
            raise CompositionError(
                f"negative amount {what} in {self.text!r}; amounts must be positive"
            )
        number = self._number()
        if number is None:
            return 1.0
        if number == 0:
            raise CompositionError(
                f"zero amount {what} in {self.text!r}; remove the element or give it a "
                "positive amount"
            )
        return number


def _unknown(symbol: str, text: str) -> CompositionError:
    return CompositionError(
        f"unknown element {symbol!r} in {text!r}; use element symbols such as Li, Si, O"
    )


def _check_element(symbol: str, text: str) -> None:
    """Reject anything that is not a real element symbol (dummy species, D, T, ...)."""
    if not Element.is_valid_symbol(symbol):
        raise _unknown(symbol, text)
    element = Element(symbol)
    if element.symbol != symbol:  # isotope aliases such as D -> H
        raise _unknown(symbol, text)
    if element.Z > MAX_Z:
        raise CompositionError(
            f"element {symbol!r} (Z = {element.Z}) in {text!r} is not supported; amorphdb "
            f"handles elements up to Z = {MAX_Z} (Pu)"
        )


def parse_composition(formula: str | Composition) -> Composition:
    """Parse and validate a chemical formula.

    Parameters
    ----------
    formula
        A formula in the syntax of this module (``Li2Si2O5``, ``Li2O·2SiO2``,
        ``(Li2O)(SiO2)2``, ``Cu50Zr50``), or a pymatgen Composition (validated the
        same way: real elements only, positive amounts).

    Returns
    -------
    pymatgen.core.Composition
        The composition with the amounts as written (not reduced).

    Raises
    ------
    CompositionError
        A malformed formula, an unknown element symbol, an empty composition, or a
        zero or negative amount; the one-line message names the problem and the fix.
    """
    if isinstance(formula, Composition):
        for species, amount in formula.items():
            symbol = getattr(species, "symbol", str(species))
            if not isinstance(species, Element):
                raise _unknown(symbol, formula.formula)
            _check_element(symbol, formula.formula)
            if amount <= 0:
                raise CompositionError(
                    f"non-positive amount {amount:g} of {symbol} in {formula.formula!r}; "
                    "amounts must be positive"
                )
        if formula.num_atoms <= 0:
            raise CompositionError("empty composition; give at least one element, e.g. Li2Si2O5")
        return Composition(formula)
    if not isinstance(formula, str):
        raise CompositionError(
            f"formula must be a string, not {type(formula).__name__}; {_EXAMPLES}"
        )
    text = formula.strip()
    if not text:
        raise CompositionError("empty formula ''; give at least one element, e.g. Li2Si2O5")
    amounts = _FormulaParser(text).parse()
    return Composition(amounts)


def formula_string(composition: Composition) -> str:
    """The reduced formula used as a campaign/database key (``Li2Si2O5``)."""
    return composition.reduced_formula
