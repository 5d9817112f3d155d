"""Arrhenius fits per regime (glass / melt) and a Vogel–Fulcher–Tammann curvature check.

Below the MD glass transition the network (formers, anions) is frozen and only the
mobile ions move; above it the whole liquid relaxes. D(T) has a different activation
energy in each regime, so one straight line through both is neither value.
:func:`fit_arrhenius_regimes` therefore refuses to mix them: it fits each regime
separately (:func:`~amorphdb.analysis.arrhenius.fit_arrhenius`) and, with at least
four points in a regime, fits beside the Arrhenius line the VFT form

    ln D = ln D0 − B / (T − T0)        (Vogel 1921; Fulcher 1925; Tammann & Hesse 1926)

and flags the regime as curved when the VFT term is significant by the F-test for
nested models (Arrhenius is VFT with T0 = 0): F = (χ²_A − χ²_V) / (χ²_V / (n − 3)),
p from F(1, n − 3) < ``alpha`` (default 0.05) — e.g. Bevington & Robinson, *Data
Reduction and Error Analysis*, §11.4. ΔAIC = AIC_A − AIC_V (AIC = χ² + 2k) is reported
too. χ² is the weighted residual sum with stated σ(ln D), else the plain one.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from amorphdb.analysis.arrhenius import BOLTZMANN_EV_K, ArrheniusResult, fit_arrhenius
from amorphdb.analysis.errors import AnalysisError, AnalysisWarning

__all__ = ["REGIMES", "RegimeFits", "VFTResult", "fit_arrhenius_regimes", "fit_vft"]

#: the regimes a temperature point can belong to
REGIMES = ("glass", "melt")


@dataclass
class VFTResult:
    """A Vogel–Fulcher–Tammann fit ln D = ln D0 − B/(T − T0) and its test against Arrhenius.

    Attributes
    ----------
    ln_D0, B_K, T0_K
        Parameters (D0 in cm²/s; B and T0 in K) and their σ (``*_std``).
    chi2, chi2_arrhenius
        χ² of the VFT and of the Arrhenius fit of the same points.
    F, p_value
        F statistic and its p-value (1, n − 3 degrees of freedom).
    delta_aic
        AIC_Arrhenius − AIC_VFT (> 2: VFT preferred).
    curved
        True when ``p_value < alpha`` and the fit is physical (B > 0, T0 < min T).
    Ea_eff_eV
        Apparent activation energy of the VFT curve, k_B·B·T²/(T − T0)², at each
        temperature of the data, eV.
    """

    ln_D0: float
    B_K: float
    T0_K: float
    ln_D0_std: float
    B_K_std: float
    T0_K_std: float
    chi2: float
    chi2_arrhenius: float
    F: float
    p_value: float
    delta_aic: float
    curved: bool
    alpha: float
    temperatures_K: list[float]
    Ea_eff_eV: list[float]

    def ln_D(self, temperature_K: float | np.ndarray) -> np.ndarray:
        """ln D (cm²/s) of the VFT curve."""
        return self.ln_D0 - self.B_K / (np.asarray(temperature_K, dtype=float) - self.T0_K)


def fit_vft(
    temperatures_K: Sequence[float],
    D: Sequence[float],
    D_std: Sequence[float] | None = None,
    alpha: float = 0.05,
    boltzmann_eV_K: float = BOLTZMANN_EV_K,
) -> VFTResult:
    """Fit ln D = ln D0 − B/(T − T0) and test it against the Arrhenius line (≥ 4 points)."""
    from scipy.optimize import curve_fit
    from scipy.stats import f as f_dist

    T = np.asarray(temperatures_K, dtype=float)
    y = np.log(np.asarray(D, dtype=float))
    if T.size < 4:
        raise AnalysisError("a VFT fit needs at least 4 temperatures (3 parameters + 1 dof)")
    sigma = None if D_std is None else np.asarray(D_std, dtype=float) / np.exp(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = fit_arrhenius(T, np.exp(y), D_std, boltzmann_eV_K)
    w = np.ones_like(T) if sigma is None else 1.0 / sigma**2
    resid_a = y - (arr.ln_D0 + arr.slope_K / T)
    chi2_a = float(np.sum(w * resid_a**2))
    slope = -arr.Ea / boltzmann_eV_K  # start from the Arrhenius line, T0 a bit above 0
    p0 = (arr.ln_D0, max(-slope, 1.0), 0.1 * T.min())

    def model(t, ln_d0, b, t0):
        return ln_d0 - b / (t - t0)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt, pcov = curve_fit(
                model,
                T,
                y,
                p0=p0,
                sigma=sigma,
                absolute_sigma=sigma is not None,
                bounds=([-np.inf, 0.0, 0.0], [np.inf, np.inf, 0.999 * T.min()]),
                maxfev=20000,
            )
    except (RuntimeError, ValueError) as exc:
        raise AnalysisError(f"the VFT fit did not converge ({exc})") from exc
    resid_v = y - model(T, *popt)
    chi2_v = float(np.sum(w * resid_v**2))
    dof = T.size - 3
    F = (chi2_a - chi2_v) / (chi2_v / dof) if chi2_v > 0 else float("inf")
    p = float(f_dist.sf(F, 1, dof)) if np.isfinite(F) else 0.0
    ln_d0, b, t0 = (float(v) for v in popt)
    err = np.sqrt(np.clip(np.diag(pcov), 0, None))
    physical = b > 0 and t0 < T.min() * 0.99
    return VFTResult(
        ln_D0=ln_d0,
        B_K=b,
        T0_K=t0,
        ln_D0_std=float(err[0]),
        B_K_std=float(err[1]),
        T0_K_std=float(err[2]),
        chi2=chi2_v,
        chi2_arrhenius=chi2_a,
        F=float(F),
        p_value=p,
        delta_aic=float((chi2_a + 4) - (chi2_v + 6)),
        curved=bool(p < alpha and physical),
        alpha=alpha,
        temperatures_K=T.tolist(),
        Ea_eff_eV=(boltzmann_eV_K * b * T**2 / (T - t0) ** 2).tolist(),
    )


@dataclass
class RegimeFits:
    """Arrhenius fits of one species, one per regime, with the curvature check.

    Attributes
    ----------
    fits
        Regime → :class:`ArrheniusResult` (regimes with ≥ 2 temperatures).
    vft
        Regime → :class:`VFTResult` (regimes with ≥ 4 temperatures).
    skipped
        Regime → why it has no fit (fewer than 2 points).
    points
        Regime → temperatures (K) in it.
    """

    fits: dict[str, ArrheniusResult] = field(default_factory=dict)
    vft: dict[str, VFTResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    points: dict[str, list[float]] = field(default_factory=dict)

    def curved(self, regime: str) -> bool:
        """True when the regime's D(T) is significantly curved (VFT preferred)."""
        return regime in self.vft and self.vft[regime].curved

    def as_dict(self) -> dict:
        """JSON-able dict (plain numbers)."""
        return {
            "fits": {k: v.as_dict() for k, v in self.fits.items()},
            "vft": {k: asdict(v) for k, v in self.vft.items()},
            "skipped": dict(self.skipped),
            "points": {k: list(v) for k, v in self.points.items()},
        }

    def summary(self) -> list[str]:
        """One line per regime for people."""
        out = []
        for reg in REGIMES:
            if reg in self.fits:
                f = self.fits[reg]
                line = (
                    f"{reg}: Ea = {f.Ea:.3f} ± {f.Ea_std:.3f} eV (stated σ), "
                    f"± {f.Ea_std_scaled:.3f} eV (scaled), χ²/dof = {f.chi2_dof:.2g}, "
                    f"{len(f.temperatures_K)} T"
                )
                if self.curved(reg):
                    v = self.vft[reg]
                    line += (
                        f"; CURVED (VFT p = {v.p_value:.2g}: B = {v.B_K:.3g} K, "
                        f"T0 = {v.T0_K:.0f} K)"
                    )
                out.append(line)
            elif reg in self.skipped:
                out.append(f"{reg}: no fit ({self.skipped[reg]})")
        return out


def fit_arrhenius_regimes(
    temperatures_K: Sequence[float],
    D: Sequence[float],
    D_std: Sequence[float] | None,
    regimes: Sequence[str],
    alpha: float = 0.05,
    boltzmann_eV_K: float = BOLTZMANN_EV_K,
) -> RegimeFits:
    """Fit D(T) separately in each regime; never one line through glass and melt points.

    Parameters
    ----------
    temperatures_K, D, D_std
        Data, K and cm²/s (``D_std`` None: unweighted fits).
    regimes
        ``"glass"`` (network frozen, e.g. :attr:`NetworkRelaxation.frozen`) or
        ``"melt"`` for each point.
    alpha
        Significance level of the VFT curvature test.
    """
    T = np.asarray(temperatures_K, dtype=float)
    d = np.asarray(D, dtype=float)
    s = None if D_std is None else np.asarray(D_std, dtype=float)
    reg = np.asarray([str(r) for r in regimes])
    if reg.shape != T.shape or d.shape != T.shape:
        raise AnalysisError("give one D and one regime per temperature")
    unknown = sorted(set(reg.tolist()) - set(REGIMES))
    if unknown:
        raise AnalysisError(f"unknown regime(s) {unknown}; use {' or '.join(REGIMES)}")
    out = RegimeFits()
    for name in REGIMES:
        sel = reg == name
        out.points[name] = T[sel].tolist()
        if not sel.any():
            continue
        if np.unique(T[sel]).size < 2:
            out.skipped[name] = f"{int(sel.sum())} temperature(s); a fit needs 2"
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnalysisWarning)
            fit = fit_arrhenius(T[sel], d[sel], None if s is None else s[sel], boltzmann_eV_K)
        fit.regime = name
        out.fits[name] = fit
        if sel.sum() >= 4:
            # a VFT fit that does not converge leaves the regime without a curvature verdict
            with contextlib.suppress(AnalysisError):
                out.vft[name] = fit_vft(
                    T[sel], d[sel], None if s is None else s[sel], alpha, boltzmann_eV_K
                )
    return out
