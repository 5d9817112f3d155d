"""record_arrhenius fits glass and melt points separately; records carry caging flags."""

import numpy as np
import pytest

from amorphdb.analysis.arrhenius import BOLTZMANN_EV_K as KB
from amorphdb.analysis.synthetic import random_walk_trajectory
from amorphdb.flows.record import diffusion_summaries, record_arrhenius


def _summary(D, caged, reliable=True):
    return {"D_cm2_s": D, "D_std_cm2_s": 0.05 * D, "reliable": reliable, "caged": caged}


def test_record_arrhenius_per_regime_numeric_ea():
    rng = np.random.default_rng(0)
    glass_T, melt_T = [600.0, 700.0, 800.0, 900.0], [1400.0, 1700.0, 2000.0]
    d0_melt = 1e-2 * np.exp(-0.4 / (KB * 1100))
    diffusion = []
    for t in glass_T:
        d = 1e-2 * np.exp(-0.7 / (KB * t)) * np.exp(0.05 * rng.standard_normal())
        diffusion.append({"Li": _summary(d, None), "O": _summary(1e-9, True, False)})
    for t in melt_T:
        d = d0_melt * np.exp(-0.3 / (KB * t)) * np.exp(0.05 * rng.standard_normal())
        diffusion.append({"Li": _summary(d, None), "O": _summary(d / 10, False)})
    docs = record_arrhenius.original(
        glass_T + melt_T, diffusion, formula="Li2Si2O5", campaign="c", protocol_hash="h"
    )
    li = next(d for d in docs if d.species == "Li")
    assert li.regime == "glass" and li.Ea_eV == pytest.approx(0.7, abs=0.05)
    assert li.Ea_std_eV > 0 and li.Ea_std_scaled_eV > 0 and li.chi2_dof is not None
    melt = li.regimes["melt"]
    assert melt["Ea_eV"] == pytest.approx(0.3, abs=0.1) and melt["temperatures_K"] == melt_T
    assert li.regimes["glass"]["temperatures_K"] == glass_T and li.curved is False
    # 300 K extrapolated along the glass line, not through the transition
    assert li.D300_cm2_s == pytest.approx(1e-2 * np.exp(-0.7 / (KB * 300)), rel=1.0)
    o = next(d for d in docs if d.species == "O")  # caged (unreliable) in the glass
    assert o.regime == "melt" and set(o.regimes) == {"melt"}


def test_record_arrhenius_error_without_two_points_in_a_regime():
    diffusion = [
        {"Li": _summary(1e-6, None), "O": _summary(1e-9, True)},
        {"Li": _summary(1e-5, None), "O": _summary(1e-6, False)},
    ]
    docs = record_arrhenius.original(
        [800.0, 1600.0], diffusion, formula="Li2O", campaign="c", protocol_hash="h"
    )
    li = next(d for d in docs if d.species == "Li")
    assert li.Ea_eV is None and "at least 2 in one regime" in li.error


def test_diffusion_summaries_flag_caged_network_species():
    t = random_walk_trajectory(1500, D_cm2_s=1e-4, n_diffusing=20, n_framework=40, seed=9)
    out = diffusion_summaries(t, species=["Li"])  # O added: it is a network anion
    assert set(out) == {"Li", "O"}
    assert out["O"].caged is True and out["O"].msd_end_A2 < 0.2 and "r_nn²" in out["O"].cage_reason
    assert out["Li"].caged is None and out["Li"].method in ("atoms", "blocks")
    assert out["Li"].D_cm2_s == pytest.approx(1e-4, rel=0.2)


def test_two_point_fit_stores_no_nan():
    """Two points of one regime: Ea and its stated σ exist, χ²/dof and the scaled σ are undefined
    (no degree of freedom) and stored as None, not NaN."""
    diffusion = [{"Li": _summary(d, None)} for d in (1e-6, 1e-5)]
    (li,) = record_arrhenius.original(
        [800.0, 1000.0], diffusion, formula="Li2O", campaign="c", protocol_hash="h"
    )
    assert li.Ea_eV == pytest.approx(KB * np.log(10) / (1 / 800 - 1 / 1000))  # 0.79 eV
    assert li.Ea_std_eV > 0
    assert li.Ea_std_scaled_eV is None and li.chi2_dof is None
    fit = li.regimes[li.regime]
    assert fit["Ea_std_scaled_eV"] is None and fit["chi2_dof"] is None
