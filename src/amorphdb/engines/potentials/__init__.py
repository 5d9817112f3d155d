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
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

from amorphdb.errors import ConfigError, UnsupportedCompositionError

#: Coulomb constant e²/(4π ε0) in eV·Å
COULOMB_EV_A = 14.399645


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
        # amorphouspy uses 5.5 Å for the short-range part; the Coulomb part is Ewald-summed
        # (PPPM) with an 8 Å real-space cut-off, which fits ~100-atom cells.
        short_cutoff_A=5.5,
        coulomb_cutoff_A=8.0,
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
        short_cutoff_A=11.0,
        coulomb_cutoff_A=11.0,
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


@cache
def get_potential(name: str | None = None) -> Potential:
    """Return a potential by library name (default ``pedone2006``).

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the known ones).
    """
    key = (name or DEFAULT_POTENTIAL).lower()
    if key not in _BUILDERS:
        raise ConfigError(
            f"unknown potential '{name}'; choose one of {', '.join(available_potentials())}"
        )
    return _BUILDERS[key]()


__all__ = ["COULOMB_EV_A", "Potential", "available_potentials", "get_potential"]
