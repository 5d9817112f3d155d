"""Arrhenius per regime, both σ, χ²/dof, and the VFT curvature flag on synthetic D(T)."""

import numpy as np
import pytest

from amorphdb.analysis import AnalysisError, fit_arrhenius
from amorphdb.analysis.arrhenius import BOLTZMANN_EV_K as KB
from amorphdb.analysis.regimes import fit_arrhenius_regimes, fit_vft


def _arrhenius(T, ea, d0=1e-3):
    return d0 * np.exp(-ea / (KB * np.asarray(T, dtype=float)))


def test_glass_and_melt_fitted_separately_with_known_ea():
    rng = np.random.default_rng(3)
    t_glass = np.array([500.0, 600, 700, 800, 900])
    t_melt = np.array([1400.0, 1600, 1800, 2000, 2200])
    rel = 0.05  # stated 5 % σ(D), and the scatter drawn with it
    d_glass = _arrhenius(t_glass, 0.70, 1e-2) * np.exp(rel * rng.standard_normal(5))
    d0_melt = 1e-2 * np.exp(-0.40 / (KB * 1100))  # D continuous at Tg ≈ 1100 K
    d_melt = _arrhenius(t_melt, 0.30, d0_melt) * np.exp(rel * rng.standard_normal(5))
    T = np.concatenate([t_glass, t_melt])
    D = np.concatenate([d_glass, d_melt])
    regimes = ["glass"] * 5 + ["melt"] * 5
    with pytest.raises(AnalysisError, match="mix regimes"):
        fit_arrhenius(T, D, rel * D, regimes=regimes)
    fits = fit_arrhenius_regimes(T, D, rel * D, regimes)
    g, m = fits.fits["glass"], fits.fits["melt"]
    assert g.regime == "glass" and m.regime == "melt"
    assert abs(g.Ea - 0.70) < 3 * g.Ea_std and g.Ea_std < 0.02
    assert abs(m.Ea - 0.30) < 3 * m.Ea_std and m.Ea_std < 0.04
    # stated σ and residual-scaled σ both reported; scaled = stated·sqrt(χ²/dof)
    assert g.Ea_std_stated == g.Ea_std
    assert g.Ea_std_scaled == pytest.approx(g.Ea_std * np.sqrt(g.chi2_dof))
    assert 0.05 < g.chi2_dof < 5  # errors drawn with the stated σ
    assert not fits.curved("glass") and not fits.curved("melt")
    # one line through both regimes gives neither Ea (what the issue saw)
    mixed = fit_arrhenius(T, D, rel * D)
    assert abs(mixed.Ea - 0.70) > 0.1 and abs(mixed.Ea - 0.30) > 0.1 and mixed.chi2_dof > 10
    lines = fits.summary()
    assert lines[0].startswith("glass: Ea = 0.69") and "(stated σ)" in lines[0]
    assert "(scaled)" in lines[0] and lines[1].startswith("melt: Ea = 0.3")


def test_overstated_errors_give_small_chi2_and_smaller_scaled_sigma():
    T = np.array([1000.0, 1250, 1500, 1750, 2000])
    D = _arrhenius(T, 0.46) * np.exp(0.03 * np.random.default_rng(1).standard_normal(5))
    r = fit_arrhenius(T, D, 0.30 * D)  # σ stated as 30 %, scatter only 3 %
    assert r.chi2_dof < 0.1 and r.Ea_std_scaled < 0.3 * r.Ea_std_stated


def test_vft_curvature_flagged_on_curved_data_only():
    T = np.linspace(800, 2000, 8)
    B, T0 = 2500.0, 450.0
    rng = np.random.default_rng(7)
    D_vft = 1e-3 * np.exp(-B / (T - T0)) * np.exp(0.03 * rng.standard_normal(T.size))
    v = fit_vft(T, D_vft, 0.03 * D_vft)
    assert v.curved and v.p_value < 1e-3 and v.delta_aic > 2
    assert abs(v.T0_K - T0) < 3 * v.T0_K_std + 30 and pytest.approx(B, rel=0.25) == v.B_K
    # the apparent Ea falls with T (super-Arrhenius)
    assert v.Ea_eff_eV[0] > v.Ea_eff_eV[-1]
    fits = fit_arrhenius_regimes(T, D_vft, 0.03 * D_vft, ["melt"] * T.size)
    assert fits.curved("melt") and "CURVED" in fits.summary()[0]
    D_arr = _arrhenius(T, 0.5) * np.exp(0.03 * rng.standard_normal(T.size))
    assert not fit_vft(T, D_arr, 0.03 * D_arr).curved


def test_regime_with_one_point_is_skipped_and_reported():
    fits = fit_arrhenius_regimes(
        [600, 1500, 2000], _arrhenius([600, 1500, 2000], 0.5), None, ["glass", "melt", "melt"]
    )
    assert "glass" not in fits.fits and "a fit needs 2" in fits.skipped["glass"]
    assert fits.fits["melt"].Ea == pytest.approx(0.5)
    with pytest.raises(AnalysisError, match="unknown regime"):
        fit_arrhenius_regimes([1, 2], [1, 2], None, ["solid", "melt"])
