"""Measured room-temperature glass densities the glass path is checked against (g/cm³).

One table, read by the reference-density test (``tests/physics``), the demo and
``docs/potentials.md``. Borosilicate targets live with the potential fitting
(:mod:`amorphdb.potfit.targets`, Smedskjaer et al. 2011 via Wang et al. 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

from amorphdb.structure import formula_string, parse_composition


@dataclass(frozen=True)
class ReferenceDensity:
    """A measured glass density.

    Attributes
    ----------
    formula
        Reduced formula (``Li2Si2O5`` for Li2O·2SiO2).
    density_g_cm3
        Measured density at room temperature (g/cm³).
    source
        Where the number comes from (public reference).
    """

    formula: str
    density_g_cm3: float
    source: str


#: Li2O·2SiO2 glass: 2.35 g/cm³. Compiled for binary Li2O–SiO2 glasses in
#: N. P. Bansal & R. H. Doremus, *Handbook of Glass Properties* (Academic Press, 1986),
#: ISBN 0-12-078140-9; the same value follows from the volume per oxygen of lithium
#: silicate glasses (12.8 cm³/mol O → 2.344 g/cm³, :mod:`amorphdb.structure.density`).
#: The individual primary measurement behind the compiled value was not read for
#: this project (see docs/potentials.md).
REFERENCE_DENSITIES: dict[str, ReferenceDensity] = {
    "Li2Si2O5": ReferenceDensity(
        "Li2Si2O5",
        2.35,
        "Bansal & Doremus, Handbook of Glass Properties (Academic Press, 1986), "
        "Li2O-SiO2 glasses, 33.3 mol% Li2O",
    ),
}


def reference_density(formula: str) -> ReferenceDensity | None:
    """The measured glass density of ``formula`` (any notation), or None."""
    return REFERENCE_DENSITIES.get(formula_string(parse_composition(formula)))
