"""Library of published classical potentials for oxide glasses, as LAMMPS input.

Parameters are read from ``library.json`` (a copy of the project's reference file,
each group with the public file it was read from). Each :class:`Potential` knows
which elements and pairs it covers, checks a composition before any job runs
(naming the missing pairs), and writes its LAMMPS ``pair_style``/``pair_coeff``/
``kspace`` lines in ``units metal`` (eV, Å, ps).

Potentials
----------
``pedone2006``
    A. Pedone et al., J. Phys. Chem. B 110 (2006) 11780, doi:10.1021/jp0611018.
    Partial charges, Morse + C/r¹² for cation–O and O–O (``pair_style pedone``
    overlaid on ``coul/long``); cation–cation pairs are Coulomb only.
``wang2018``
    M. Wang et al., J. Non-Cryst. Solids 498 (2018) 294, doi:10.1016/j.jnoncrysol.2018.04.063:
    Buckingham + Coulomb for Na–Ca–B–Si–O borosilicates, with correct masses
    (Coudert, J. Non-Cryst. Solids 615 (2023) 122423).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.resources import files

from amorphdb.errors import ConfigError, UnsupportedCompositionError

#: Coulomb constant e²/(4π ε0) in eV·Å
COULOMB_EV_A = 14.399645
#: pair parameters per style, in pair_coeff order (buck: A eV, rho Å, C eV·Å⁶;
#: pedone: D eV, a 1/Å, r0 Å, C eV·Å¹²)
PARAMETER_KINDS = {"buck": ("A", "rho", "C"), "pedone": ("D", "a", "r0", "C")}
#: the "Coulomb only" pair_coeff of a Buckingham potential (``pair_coeff * * 0.0 1.0 0.0``)
COULOMB_ONLY_PARAMS = {"buck": (0.0, 1.0, 0.0)}


@cache
def _library() -> dict:
    return json.loads(files(__package__).joinpath("library.json").read_text())


@dataclass(frozen=True)
class PairTerm:
    """Short-range parameters of one element pair, in the potential's own form."""

    elements: tuple[str, str]
    params: tuple[float, ...]


@dataclass(frozen=True)
class Potential:
    """A fixed-charge pair potential and how to write it for LAMMPS.

    Parameters
    ----------
    name
        Library key (``pedone2006``, ``wang2018``).
    citation
        Reference of the parameters.
    charges_e
        Fixed partial charge per element (e).
    pairs
        Short-range terms; pairs not listed interact by Coulomb only.
    anion
        The element whose pairs with every cation must be defined (O).
    style
        ``pedone`` (Morse + C/r¹²) or ``buck`` (Buckingham).
    short_cutoff_A, coulomb_cutoff_A
        Real-space cut-offs (Å).
    kspace_accuracy
        Relative PPPM accuracy.
    masses_amu
        Masses that override the periodic-table values (amu).
    """

    name: str
    citation: str
    charges_e: Mapping[str, float]
    pairs: Mapping[frozenset[str], PairTerm]
    anion: str
    style: str
    short_cutoff_A: float
    coulomb_cutoff_A: float
    kspace_accuracy: float = 1.0e-5
    masses_amu: Mapping[str, float] = field(default_factory=dict)
    notes: str = ""

    @property
    def elements(self) -> list[str]:
        """Elements this potential has charges for."""
        return sorted(self.charges_e)

    def missing_pairs(self, elements: Iterable[str]) -> list[str]:
        """Pairs a composition needs that the potential does not define (e.g. ``B-O``)."""
        present = sorted(set(elements))
        missing: list[str] = []
        for el in present:
            if el not in self.charges_e:  # no parameters at all: every pair with it is missing
                missing += [f"{other}-{el}" for other in present if other < el]
                missing.append(f"{el}-{el}")
                missing += [f"{el}-{other}" for other in present if other > el]
            elif el != self.anion and frozenset((el, self.anion)) not in self.pairs:
                missing.append(f"{el}-{self.anion}")
        return list(dict.fromkeys(missing))

    def check_composition(self, counts: Mapping[str, float]) -> None:
        """Raise :class:`UnsupportedCompositionError` unless the potential covers ``counts``.

        The composition must contain the anion, every element must have a charge
        and a pair with the anion, and the fixed charges must sum to zero
        (|Σ qᵢ nᵢ| < 1e-6 e per formula), otherwise the Ewald sum is for a charged cell.
        """
        elements = [el for el, n in counts.items() if n > 0]
        missing = self.missing_pairs(elements)
        if missing:
            raise UnsupportedCompositionError(
                f"potential '{self.name}' does not cover {'-'.join(sorted(elements))}: "
                f"missing pairs {', '.join(missing)}; "
                f"it covers {', '.join(self.elements)} with {self.anion}"
            )
        charge = sum(self.charges_e[el] * n for el, n in counts.items())
        if abs(charge) > 1e-6:
            raise UnsupportedCompositionError(
                f"composition {dict(counts)} has net charge {charge:+.3f} e with the fixed "
                f"charges of '{self.name}'; choose a charge-balanced formula"
            )

    @property
    def parameter_kinds(self) -> tuple[str, ...]:
        """Names of the short-range parameters of one pair, in LAMMPS order."""
        return PARAMETER_KINDS[self.style]

    def parameter_names(self) -> list[str]:
        """Every pair parameter that can be freed, e.g. ``B-O.A``, ``B-O.rho``, ``B-O.C``."""
        return [
            f"{'-'.join(term.elements)}.{kind}"
            for term in self.pairs.values()
            for kind in self.parameter_kinds
        ]

    def parameter_value(self, name: str) -> float:
        """Current value of a pair parameter (``B-O.A``; either element order)."""
        pair, index, _ = self._parameter_slot(name)
        term = self.pairs.get(pair)
        base = term.params if term is not None else COULOMB_ONLY_PARAMS[self.style]
        return float(base[index])

    def canonical_parameter(self, name: str) -> str:
        """``name`` in the library's element order (``O-B.rho`` → ``B-O.rho``)."""
        return self._parameter_slot(name)[2]

    def _pair_elements(self, pair: frozenset[str]) -> tuple[str, str]:
        term = self.pairs.get(pair)
        if term is not None:
            return term.elements
        ordered = sorted(pair, key=lambda e: (e == self.anion, e))  # deterministic, anion last
        return (ordered[0], ordered[-1])

    def _parameter_slot(self, name: str) -> tuple[frozenset[str], int, str]:
        """(pair, parameter index, canonical name) of ``'A-B.kind'``; ConfigError otherwise."""
        label, _, kind = name.strip().partition(".")
        elements = tuple(e.strip() for e in label.split("-"))
        pair = frozenset(elements)
        known = pair in self.pairs or (
            self.style in COULOMB_ONLY_PARAMS
            and len(elements) == 2
            and all(e in self.charges_e for e in elements)
        )
        if len(elements) != 2 or not known or kind not in self.parameter_kinds:
            examples = ", ".join(self.parameter_names()[:3])
            raise ConfigError(
                f"potential '{self.name}' has no parameter '{name}'; use PAIR.KIND with KIND "
                f"in {', '.join(self.parameter_kinds)} (e.g. {examples})"
            )
        canonical = f"{'-'.join(self._pair_elements(pair))}.{kind}"
        return pair, self.parameter_kinds.index(kind), canonical

    def with_overrides(self, overrides: Mapping[str, float]) -> Potential:
        """A copy with some pair parameters replaced (``{"B-O.A": 2.1e5, "B-O.rho": 0.12}``).

        A Coulomb-only pair of a Buckingham potential (e.g. ``Na-B``) starts from
        A = 0, ρ = 1 Å, C = 0. The copy's :attr:`name` carries the overrides
        (:func:`potential_spec`), so ``get_potential(copy.name)`` rebuilds it in any
        process and run provenance records the parameters.
        """
        if not overrides:
            return self
        pairs = dict(self.pairs)
        merged = _parse_overrides(self.name)
        for name, value in overrides.items():
            pair, index, canonical = self._parameter_slot(name)
            value = float(value)
            if self.parameter_kinds[index] in ("rho", "a", "r0") and not value > 0:
                raise ConfigError(f"parameter '{name}' must be positive (got {value})")
            term = pairs.get(pair) or PairTerm(
                self._pair_elements(pair), COULOMB_ONLY_PARAMS[self.style]
            )
            params = list(term.params)
            params[index] = value
            pairs[pair] = PairTerm(term.elements, tuple(params))
            merged[canonical] = value
        base = self.name.split("(")[0]
        return replace(self, name=potential_spec(base, merged), pairs=pairs)

    def lammps_lines(self, type_elements: list[str]) -> list[str]:
        """LAMMPS commands (units metal) for the elements in LAMMPS type order."""
        lines = []
        for i, el in enumerate(type_elements, start=1):
            lines.append(f"set type {i} charge {self.charges_e[el]:.6f}")
        if self.style == "pedone":
            lines.append(
                f"pair_style hybrid/overlay pedone {self.short_cutoff_A} "
                f"coul/long {self.coulomb_cutoff_A}"
            )
            lines.append("pair_coeff * * coul/long")
            for (i, a), (j, b) in itertools.combinations_with_replacement(
                enumerate(type_elements, start=1), 2
            ):
                term = self.pairs.get(frozenset((a, b)))
                if term is not None:
                    d, alpha, r0, c = term.params
                    lines.append(f"pair_coeff {i} {j} pedone {d} {alpha} {r0} {c}")
        elif self.style == "buck":
            lines.append(f"pair_style buck/coul/long {self.short_cutoff_A} {self.coulomb_cutoff_A}")
            lines.append("pair_coeff * * 0.0 1.0 0.0")
            for (i, a), (j, b) in itertools.combinations_with_replacement(
                enumerate(type_elements, start=1), 2
            ):
                term = self.pairs.get(frozenset((a, b)))
                if term is not None:
                    big_a, rho, c = term.params
                    lines.append(f"pair_coeff {i} {j} {big_a} {rho} {c}")
        else:  # pragma: no cover - library integrity
            raise ConfigError(f"unknown potential style '{self.style}'")
        lines.append("pair_modify shift yes")
        lines.append(f"kspace_style pppm {self.kspace_accuracy:g}")
        return lines


def _pedone() -> Potential:
    raw = _library()["pedone2006_PMMCS"]
    charges = {k: v for k, v in raw["charges_e"].items() if "(" not in k}
    # Fe is listed as Fe(II)/Fe(III); amorphdb uses Fe(II) for plain "Fe".
    charges["Fe"] = raw["charges_e"]["Fe(II)"]
    pairs = {}
    for label, p in raw["pairs"].items():
        a, b = label.split("-")
        a = "Fe" if a == "Fe(II)" else a
        if "(" in a:
            continue
        pairs[frozenset((a, b))] = PairTerm(
            (a, b), (p["D_eV"], p["a_per_A"], p["r0_A"], p["C_eV_A12"])
        )
    return Potential(
        name="pedone2006",
        citation=raw["citation"],
        charges_e=charges,
        pairs=pairs,
        anion="O",
        style="pedone",
        # cut-offs and their sources: library.json "cutoffs_A" and docs/potentials.md (10 Å
        # converges the Morse tail to 0.1 kbar; amorphouspy's 5.5 Å lowers the density 7 %)
        short_cutoff_A=raw["cutoffs_A"]["short_range"],
        coulomb_cutoff_A=raw["cutoffs_A"]["coulomb_real_space"],
        notes="cation-cation pairs are Coulomb only; B is not covered (no B-O parameters)",
    )


def _wang2018() -> Potential:
    raw = _library()["wang2018_borosilicate"]
    pairs = {}
    for label, p in raw["pairs"].items():
        a, b = label.split("-")
        params = (p["A_eV_derived"], p["rho_A"], p["C_eV_A6_derived"])
        pairs[frozenset((a, b))] = PairTerm((a, b), params)
    return Potential(
        name="wang2018",
        citation=raw["citation"],
        charges_e=dict(raw["charges_e"]),
        pairs=pairs,
        anion="O",
        style="buck",
        short_cutoff_A=raw["cutoffs_A"]["short_range"],  # as fitted (library.json)
        coulomb_cutoff_A=raw["cutoffs_A"]["coulomb_real_space"],
        masses_amu=dict(raw["masses_used_by_coudert_amu"]),
        notes=(
            "Buckingham diverges at very short range (B-O below ~0.4 Å): the authors melt "
            "at 3000 K; use a melt temperature <= 3000 K with this potential"
        ),
    )


_BUILDERS = {"pedone2006": _pedone, "wang2018": _wang2018}
DEFAULT_POTENTIAL = "pedone2006"


def available_potentials() -> list[str]:
    """Names of the potentials in the library."""
    return sorted(_BUILDERS)


def potential_spec(name: str, overrides: Mapping[str, float] | None = None) -> str:
    """Name of a library potential with parameter overrides, e.g.
    ``wang2018(B-O.A=206942.44,B-O.rho=0.124)`` (sorted, floats round-trip exactly)."""
    if not overrides:
        return name
    body = ",".join(f"{k}={float(overrides[k])!r}" for k in sorted(overrides))
    return f"{name}({body})"


def _parse_overrides(spec: str) -> dict[str, float]:
    _, _, rest = spec.partition("(")
    if not rest:
        return {}
    if not rest.rstrip().endswith(")"):
        raise ConfigError(f"potential '{spec}': missing ')'; write NAME(PAIR.KIND=VALUE,...)")
    out: dict[str, float] = {}
    for item in filter(None, (x.strip() for x in rest.rstrip()[:-1].split(","))):
        key, eq, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            eq = ""
        if not eq:
            raise ConfigError(f"potential '{spec}': bad override '{item}'; write PAIR.KIND=VALUE")
    return out


@cache
def get_potential(name: str | None = None) -> Potential:
    """Return a potential by library name (default ``pedone2006``).

    ``name`` may carry parameter overrides, ``wang2018(B-O.A=2.1e5,B-B.rho=0.3)``
    (:func:`potential_spec`, :meth:`Potential.with_overrides`): the LAMMPS engine
    then runs the modified potential, and its name in the run provenance records them.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the known ones) or parameter.
    """
    spec = name or DEFAULT_POTENTIAL
    key = spec.split("(")[0].strip().lower()
    if key not in _BUILDERS:
        raise ConfigError(
            f"unknown potential '{name}'; choose one of {', '.join(available_potentials())}"
        )
    return _BUILDERS[key]().with_overrides(_parse_overrides(spec))


__all__ = [
    "COULOMB_EV_A",
    "Potential",
    "available_potentials",
    "get_potential",
    "potential_spec",
]
