"""Nernst–Einstein conductivity from a diffusivity.

σ = n z² e² D / (V k_B T) with the Haven ratio taken as 1 for the tracer D, i.e. the
factor used by pymatgen-analysis-diffusion and mogroupumd/aimd
(``get_conversion_factor``): for the LLZO test cell (56 Li⁺, V = 12.98³ Å³, 300 K)
the factor is 158701249.73 mS/cm per cm²/s.
"""

from __future__ import annotations

import scipy.constants as const

from amorphdb.analysis.errors import AnalysisError

__all__ = ["AIMD_CONSTANTS", "default_charge", "nernst_einstein_factor"]


#: constants hard-coded in mogroupumd/aimd (CODATA 2014), to reproduce its numbers exactly
AIMD_CONSTANTS = {"N_A": 6.022140857e23, "e": 1.6021766208e-19, "R": 8.3144598}


def nernst_einstein_factor(
    n_ions: int,
    volume_A3: float,
    charge: float,
    temperature_K: float,
    constants: dict[str, float] | None = None,
) -> float:
    """Conductivity per diffusivity, mS/cm per cm²/s.

    Parameters
    ----------
    n_ions
        Number of mobile ions in the cell.
    volume_A3
        Cell volume, Å³.
    charge
        Charge number z of the ion (e.g. 1 for Li⁺).
    temperature_K
        Temperature, K.
    constants
        ``{"N_A", "e", "R"}`` overrides (default: scipy CODATA values;
        :data:`AIMD_CONSTANTS` reproduces mogroupumd/aimd to all digits).
    """
    if temperature_K <= 0 or volume_A3 <= 0:
        raise AnalysisError("temperature_K and volume_A3 must be > 0 for a conductivity")
    c = {"N_A": const.N_A, "e": const.e, "R": const.R, **(constants or {})}
    volume_cm3 = volume_A3 * 1e-24
    concentration_mol_cm3 = n_ions / (volume_cm3 * c["N_A"])
    faraday = c["N_A"] * c["e"]
    return 1000.0 * concentration_mol_cm3 * charge**2 * faraday**2 / (c["R"] * temperature_K)


def default_charge(symbol: str) -> int:
    """Most common oxidation state of an element (pymatgen), used when none is given."""
    from pymatgen.core.periodic_table import Element

    states = Element(symbol).common_oxidation_states
    if not states:
        raise AnalysisError(f"no common oxidation state for {symbol}; pass charge=")
    return int(states[0])
