"""Offline estimate of the room-temperature density of a glass (g/cm³).

MPMorph sizes its first cell from Materials Project volumes per atom, which need
the network. amorphdb needs an offline estimate; it only has to be good enough
for a packable starting cell, because the volume equilibration at the melt
temperature corrects it (see ``docs/structure.md`` for the measured errors).

Three models, tried in this order (the chosen one is reported by
:func:`estimate_density_details`):

1. ``oxide_additive`` — oxide glasses made only of the oxides in
   :data:`OXIDE_MOLAR_VOLUMES` with the oxygen balancing the cations (within 2 %)
   and at least 1/3 network formers (SiO2 + B2O3 + Al2O3, mol):
   additive partial molar volumes, V = Σ x_i V_i, ρ = Σ x_i M_i / V
   (Appen's method). The partial molar volumes are A. A. Appen's room-temperature
   factors (A. A. Appen, *Chemistry of Glass*, Khimiya, Leningrad 1970/1974;
   tabulated in e.g. N. P. Bansal & R. H. Doremus, *Handbook of Glass
   Properties*, Academic Press 1986, and M. B. Volf, *Mathematical Approach to
   Glass*, Elsevier 1988). They were taken from those secondary tabulations as
   remembered, not re-read for this code; the measured errors in the docs are
   the check. SiO2 uses Appen's composition dependence
   V = 26.10 + 0.035 (x_SiO2 − 67) for x_SiO2 < 67 mol %.
   B2O3 is split into trigonal and tetrahedral boron,
   V_B2O3 = (1 − N4) V3 + N4 V4, with N4 from the Dell–Bray–Xiao model
   (W. J. Dell, P. J. Bray, S. Z. Xiao, J. Non-Cryst. Solids 58 (1983) 1, as
   implemented in the public repository glasagent/amorphouspy, function ``N4_dbx``
   in ``amorphouspy/potentials/du_teter_potential.py``). V3 = 37.84 cm³/mol is
   vitreous B2O3 (ρ = 1.84 g/cm³); V4 = 24.0 cm³/mol was *fitted here* to the
   seven 15Na2O–10CaO–xB2O3–(75−x)SiO2 glasses of Smedskjaer et al., "Topological
   principles of borosilicate glass chemistry", J. Phys. Chem. B 115 (2011) 12930
   (values as tabulated in the public repository
   ruoxia-c/Borosilicate-Glass-Potential, ``data/MD_Dataset.xlsx``), so those
   glasses are not an independent test of the boron term.
2. ``oxygen_volume`` — other oxides (cations without a tabulated oxide, oxygen
   not balancing them, or less than 1/3 network formers): the tabulated oxides
   contribute as above and every remaining oxygen atom takes
   :data:`OXYGEN_MOLAR_VOLUME` = 13.5 cm³ per mol O, the typical volume per
   oxygen of oxide glasses (vitreous SiO2 13.6, B2O3 12.6, Li2Si2O5 12.8,
   Na2Si2O5 14.6 cm³/mol O from their densities).
3. ``ionic_packing`` — non-oxide ionic compounds (sulfides, halides, mixed
   anions such as Li6PS5Cl: any of N, F, S, Cl, Se, Br, Te, I present and
   pymatgen's ``oxi_state_guesses`` finds a charge-balanced assignment): a
   constant ionic packing fraction, V = Σ n_i (4π/3) r_i³ / φ, with r_i the
   Shannon crystal radii (R. D. Shannon, Acta Cryst. A32 (1976) 751; pymatgen
   ``Species.ionic_radius``) and φ = :data:`IONIC_PACKING_FRACTION` = 0.60. The
   idea (constant ionic packing ratio) is that of Makishima & Mackenzie and of
   S. Inaba et al., J. Am. Ceram. Soc. (2009), doi:10.1111/j.1551-2916.2009.03363.x
   for oxide glasses; φ = 0.60 was chosen here from the crystal densities of
   Li2S (1.66 g/cm³ → φ 0.58), LiF (2.635 → 0.62), NaCl (2.165 → 0.58), LiCl
   (2.068 → 0.66), LiBr (3.464 → 0.68) and LiI (4.076 → 0.73), at the low end
   because glasses are a few % less dense than their crystals. It does *not*
   work for oxide glasses (φ ≈ 0.38 for SiO2), which is why oxides use models 1–2.
4. ``elemental_additive`` — everything else (metallic glasses, compounds whose
   oxidation states cannot be guessed): additive molar volumes of the elements
   in their standard state (Zen's law / Vegard-type additivity; pymatgen
   ``Element.molar_volume``, WebElements data). Good for metallic glasses (a
   few %: Cu50Zr50 7.32 g/cm³).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from pymatgen.core import Composition, Species

from amorphdb.errors import CompositionError
from amorphdb.structure.compositions import parse_composition

__all__ = [
    "IONIC_PACKING_FRACTION",
    "OXIDE_MOLAR_VOLUMES",
    "OXYGEN_MOLAR_VOLUME",
    "DensityEstimate",
    "DensityModel",
    "estimate_density",
    "estimate_density_details",
    "n4_dell_bray",
]

AVOGADRO = 6.02214076e23

#: Appen's room-temperature partial molar volumes of glass-forming oxides,
#: cm³ per mol of oxide, keyed by cation: (oxide formula, cations per oxide,
#: oxygens per oxide, V_i). Sources in the module docstring. B2O3 is the
#: trigonal value; the tetrahedral one is :data:`B2O3_TETRAHEDRAL_MOLAR_VOLUME`.
OXIDE_MOLAR_VOLUMES: dict[str, tuple[str, int, int, float]] = {
    "Li": ("Li2O", 2, 1, 11.0),
    "Na": ("Na2O", 2, 1, 20.2),
    "K": ("K2O", 2, 1, 34.1),
    "Mg": ("MgO", 1, 1, 12.5),
    "Ca": ("CaO", 1, 1, 14.4),
    "Ba": ("BaO", 1, 1, 22.0),
    "Al": ("Al2O3", 2, 3, 40.4),
    "Si": ("SiO2", 1, 2, 26.10),
    "B": ("B2O3", 2, 3, 69.62 / 1.84),
}

#: V4 of B2O3 with all boron tetrahedral, cm³/mol (fitted, see module docstring).
B2O3_TETRAHEDRAL_MOLAR_VOLUME = 24.0

#: Typical volume per mol of oxygen in oxide glasses (cm³/mol O).
OXYGEN_MOLAR_VOLUME = 13.5

#: Packing fraction of ions (Shannon crystal radii) in non-oxide ionic compounds.
IONIC_PACKING_FRACTION = 0.60

_MODIFIERS = ("Li", "Na", "K", "Mg", "Ca", "Ba")
#: Network formers; Appen's factors describe glasses with at least 1/3 of them
#: (orthosilicate Li4SiO4 and richer). Pure modifier oxides (Li2O: Appen
#: 2.72 g/cm³ vs crystal 2.01) go to the oxygen-volume model.
_NETWORK_FORMERS = ("Si", "B", "Al")
#: Elements that make a composition a non-oxide (mixed-anion) compound.
_ANIONS = frozenset({"N", "F", "S", "Cl", "Se", "Br", "Te", "I"})


class DensityModel(str, Enum):
    """Which density model produced an estimate."""

    OXIDE_ADDITIVE = "oxide_additive"
    OXYGEN_VOLUME = "oxygen_volume"
    IONIC_PACKING = "ionic_packing"
    ELEMENTAL_ADDITIVE = "elemental_additive"
    USER = "user"


@dataclass(frozen=True)
class DensityEstimate:
    """A density estimate and how it was made.

    Attributes
    ----------
    density_g_cm3
        Estimated density (g/cm³).
    model
        The model used.
    molar_volume_cm3
        Volume per mol of the composition as given (cm³/mol).
    """

    density_g_cm3: float
    model: DensityModel
    molar_volume_cm3: float


def n4_dell_bray(r: float, k: float) -> float:
    """Fraction of four-coordinated boron, Dell–Bray–Xiao model.

    Parameters
    ----------
    r
        Modifier oxide / B2O3 molar ratio (alkali + alkaline-earth − Al2O3).
    k
        SiO2 / B2O3 molar ratio.

    Returns
    -------
    float
        N4 in [0, 1]. Follows Dell, Bray & Xiao, J. Non-Cryst. Solids 58 (1983) 1,
        as implemented in glasagent/amorphouspy ``N4_dbx``; region IV
        (R ≥ 2 + K) is taken as 0 and K = 0 uses 1 − R for R > 0.5, as there.
    """
    r = max(r, 0.0)
    r_max = 0.5 + k / 16
    r_d1 = 0.5 + k / 4
    r_d3 = 2 + k
    if r < r_max:
        n4 = r
    elif r < r_d1:
        n4 = r_max
    elif k == 0:
        n4 = 1 - r
    elif r < r_d3:
        n4 = (8 + k) / 12 * (1 - r / (2 + k))
    else:
        n4 = 0.0
    return min(max(n4, 0.0), 1.0)


def _oxide_amounts(comp: Composition) -> tuple[dict[str, float], float]:
    """Moles of each tabulated oxide and the oxygen left over (per formula as given)."""
    oxides: dict[str, float] = {}
    oxygen_left = comp["O"]
    for el, amount in comp.items():
        symbol = el.symbol
        if symbol == "O" or symbol not in OXIDE_MOLAR_VOLUMES:
            continue
        _, n_cat, n_oxy, _ = OXIDE_MOLAR_VOLUMES[symbol]
        oxides[symbol] = amount / n_cat
        oxygen_left -= amount / n_cat * n_oxy
    return oxides, oxygen_left


def _oxide_volume(oxides: dict[str, float]) -> float:
    """Σ n_i V_i over the tabulated oxides (cm³ per formula as given)."""
    total = sum(oxides.values())
    if total == 0:
        return 0.0
    volume = 0.0
    for symbol, moles in oxides.items():
        v = OXIDE_MOLAR_VOLUMES[symbol][3]
        if symbol == "Si":
            x_sio2_pct = 100 * moles / total
            if x_sio2_pct < 67:
                v = 26.10 + 0.035 * (x_sio2_pct - 67)
        elif symbol == "B":
            modifiers = sum(oxides.get(m, 0.0) for m in _MODIFIERS) - oxides.get("Al", 0.0)
            n4 = n4_dell_bray(modifiers / moles, oxides.get("Si", 0.0) / moles)
            v = (1 - n4) * v + n4 * B2O3_TETRAHEDRAL_MOLAR_VOLUME
        volume += moles * v
    return volume


def _ionic_volume(comp: Composition) -> float | None:
    """V = Σ n_i (4π/3) r_i³ / φ in cm³/mol, or None without oxidation states/radii."""
    reduced, factor = comp.get_reduced_composition_and_factor()
    try:
        guesses = reduced.oxi_state_guesses(max_sites=-50)
    except (ValueError, KeyError):  # pymatgen raises for unusual compositions
        return None
    if not guesses:
        return None
    ion_volume_A3 = 0.0
    for el, amount in reduced.items():
        charge = guesses[0][el.symbol]
        if charge == 0 or charge != int(charge):
            return None
        try:
            radius = Species(el.symbol, int(charge)).ionic_radius
        except (ValueError, KeyError):
            return None
        if radius is None:
            return None
        ion_volume_A3 += amount * 4 / 3 * math.pi * float(radius) ** 3
    return factor * ion_volume_A3 * 1e-24 * AVOGADRO / IONIC_PACKING_FRACTION


def estimate_density_details(composition: Composition | str) -> DensityEstimate:
    """Estimate the glass density and report the model used.

    Parameters
    ----------
    composition
        Formula or Composition.

    Returns
    -------
    DensityEstimate
        Density (g/cm³), model, molar volume (cm³/mol).

    Raises
    ------
    CompositionError
        Invalid composition, or an element without a tabulated molar volume.
    """
    comp = parse_composition(composition)
    mass = comp.weight  # g/mol of the formula as given
    if "O" in comp:
        oxides, oxygen_left = _oxide_amounts(comp)
        others = [el.symbol for el in comp if el.symbol != "O" and el.symbol not in oxides]
        formers = sum(oxides.get(f, 0.0) for f in _NETWORK_FORMERS)
        if (
            not others
            and abs(oxygen_left) <= 0.02 * comp["O"]
            and formers >= (1 / 3 - 1e-9) * sum(oxides.values())
        ):
            volume = _oxide_volume(oxides)
            return DensityEstimate(mass / volume, DensityModel.OXIDE_ADDITIVE, volume)
        if not any(s in _ANIONS for s in others):
            # untabulated cations are hidden in the per-oxygen volume of the oxygen they
            # hold; if the tabulated cations already need all the oxygen, every O counts
            if oxygen_left > 0:
                volume = _oxide_volume(oxides) + OXYGEN_MOLAR_VOLUME * oxygen_left
            else:
                volume = OXYGEN_MOLAR_VOLUME * comp["O"]
            return DensityEstimate(mass / volume, DensityModel.OXYGEN_VOLUME, volume)
    if any(el.symbol in _ANIONS for el in comp):
        volume_ionic = _ionic_volume(comp)
        if volume_ionic is not None:
            return DensityEstimate(mass / volume_ionic, DensityModel.IONIC_PACKING, volume_ionic)
    volume = 0.0
    for el, amount in comp.items():
        v = el.molar_volume
        if v is None or v <= 0:
            raise CompositionError(
                f"no molar volume for {el.symbol} in {comp.formula!r}; give density_g_cm3 "
                "explicitly"
            )
        volume += amount * float(v)
    return DensityEstimate(mass / volume, DensityModel.ELEMENTAL_ADDITIVE, volume)


def estimate_density(composition: Composition | str) -> float:
    """Estimated room-temperature glass density (g/cm³); see the module docstring."""
    return estimate_density_details(composition).density_g_cm3
