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
#: Primary papers found: H. F. Shermer, J. Res. Natl. Bur. Stand. 57 (1956),
#: doi:10.6028/jres.057.012 (room-temperature densities of binary Li, Na, K silicate
#: glasses from thermal expansion and density measurements), and S. Inaba et al.,
#: J. Am. Ceram. Soc. (2009), doi:10.1111/j.1551-2916.2009.03363.x (Archimedes densities
#: of oxide glasses). Only their abstracts could be read here: a measured value at
#: 33.3 mol % Li2O is NOT verified, so 2.35 stays a compiled value (docs/potentials.md
#: lists what was searched).
REFERENCE_DENSITIES: dict[str, ReferenceDensity] = {
    "Li2Si2O5": ReferenceDensity(
        "Li2Si2O5",
        2.35,
        "Bansal & Doremus, Handbook of Glass Properties (Academic Press, 1986), "
        "Li2O-SiO2 glasses, 33.3 mol% Li2O (compiled; primary: Shermer 1956, "
        "doi:10.6028/jres.057.012, value not read)",
    ),
}


def reference_density(formula: str) -> ReferenceDensity | None:
    """The measured glass density of ``formula`` (any notation), or None."""
    return REFERENCE_DENSITIES.get(formula_string(parse_composition(formula)))
