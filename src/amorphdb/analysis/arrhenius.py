"""Arrhenius fit of diffusivities: D = D0 · exp(−Ea / (k_B T)).

Fitted as ln D = ln D0 − (Ea/k_B)·(1/T). With uncertainties the fit is weighted by
σ_lnD = D_std / D and the parameter covariance is taken as absolute (as
mogroupumd/aimd ``ArreheniusAnalyzer``: with k_B = 8.617e-5 eV/K it gives
Ea = 0.258128 ± 0.016832 eV on its D_T.csv test data). Without uncertainties it is
ordinary least squares with the residual-scaled covariance (as
pymatgen-analysis-diffusion ``fit_arrhenius``, std_Ea = 0.000895566 eV on its test).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.constants as const

from amorphdb.analysis.errors import AnalysisError, AnalysisWarning

__all__ = ["BOLTZMANN_EV_K", "ArrheniusResult", "fit_arrhenius"]

#: CODATA Boltzmann constant, eV/K
BOLTZMANN_EV_K = const.k / const.e


@dataclass
class ArrheniusResult:
    """An Arrhenius fit.

    Attributes
    ----------
    Ea, Ea_std
        Activation energy and its standard deviation, eV (``Ea_std`` is NaN with two
        temperatures and no D uncertainties).
    D0, D0_std
        Prefactor and its standard deviation, cm²/s.
    ln_D0
        ln of D0 (D0 in cm²/s).
    covariance
        2×2 covariance of (ln D0, slope) where slope = −Ea/k_B in K.
    temperatures_K, D, D_std
        The data, K and cm²/s.
    weighted
        True if D_std was used as weights.
    boltzmann_eV_K
        The k_B used.
    chi2_dof
        χ²/dof of the weighted fit, Σ((ln D − fit)/σ_lnD)²/(n − 2) (NaN unweighted or
        with two points). ≈ 1 when the stated errors match the scatter; ≪ 1: the
        stated σ(D) are too large; ≫ 1: too small, or the data are not Arrhenius.
    Ea_std_stated, Ea_std_scaled
        σ(Ea) from the stated errors (absolute covariance; = ``Ea_std`` when
        weighted) and the residual-scaled σ·sqrt(χ²/dof) (Press et al., Numerical
        Recipes §15.2; what ``scipy.optimize.curve_fit(absolute_sigma=False)`` gives),
        eV. Unweighted fits have only the residual-based σ (``Ea_std_stated`` NaN).
    regime
        ``"glass"``/``"melt"`` when the points were all from one regime, else None.
    """

    Ea: float
    Ea_std: float
    D0: float
    D0_std: float
    ln_D0: float
    covariance: list[list[float]]
    temperatures_K: list[float]
    D: list[float]
    D_std: list[float] | None
    weighted: bool
    boltzmann_eV_K: float
    r_squared: float
    metadata: dict = field(default_factory=dict)
    chi2_dof: float = float("nan")
    Ea_std_stated: float = float("nan")
    Ea_std_scaled: float = float("nan")
    regime: str | None = None

    @property
    def slope_K(self) -> float:
        """d ln D / d(1/T) = −Ea/k_B, K."""
        return -self.Ea / self.boltzmann_eV_K

    def ln_D_and_std(
        self, temperature_K: float | np.ndarray, ignore_covariance: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """ln D (cm²/s) at ``temperature_K`` and its standard deviation."""
        x = 1.0 / np.asarray(temperature_K, dtype=float)
        cov = np.asarray(self.covariance)
        ln_d = self.ln_D0 + self.slope_K * x
        var = cov[0, 0] + x * x * cov[1, 1]
        if not ignore_covariance:
            var = var + 2.0 * x * cov[0, 1]
        return ln_d, np.sqrt(np.maximum(var, 0.0))

    def extrapolate(
        self, temperature_K: float, ignore_covariance: bool = False
    ) -> tuple[float, float]:
        """D and its standard deviation (cm²/s) at ``temperature_K``.

        The error of ln D is propagated with the full parameter covariance
        (``ignore_covariance=True`` drops the ln D0–slope correlation, as
        mogroupumd/aimd does; that overstates the error far from the data). D_std is
        the first-order ``D · σ_lnD``; :meth:`extrapolate_range` gives the asymmetric
        one-σ interval.
        """
        ln_d, s = self.ln_D_and_std(temperature_K, ignore_covariance)
        d = float(np.exp(ln_d))
        return d, float(d * s)

    def extrapolate_range(
        self, temperature_K: float, ignore_covariance: bool = False
    ) -> tuple[float, float]:
        """One-σ interval ``(D·e^(−σ), D·e^(+σ))`` of D at ``temperature_K``, cm²/s."""
        ln_d, s = self.ln_D_and_std(temperature_K, ignore_covariance)
        return float(np.exp(ln_d - s)), float(np.exp(ln_d + s))

    def as_dict(self) -> dict:
        """JSON-able dict."""
        from dataclasses import asdict

        d = asdict(self)
        d["@module"] = type(self).__module__
        d["@class"] = type(self).__name__
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ArrheniusResult:
        """Inverse of :meth:`as_dict`."""
        return cls(**{k: v for k, v in d.items() if not k.startswith("@")})


def fit_arrhenius(
    temperatures_K: Sequence[float],
    D: Sequence[float],
    D_std: Sequence[float] | None = None,
    boltzmann_eV_K: float = BOLTZMANN_EV_K,
    regimes: Sequence[str] | None = None,
) -> ArrheniusResult:
    """Fit ln D vs 1/T.

    Parameters
    ----------
    temperatures_K
        Temperatures, K.
    D
        Diffusivities, cm²/s (> 0).
    D_std
        Their standard deviations, cm²/s; weights the fit when given.
    boltzmann_eV_K
        k_B in eV/K (default CODATA; 8.617e-5 reproduces mogroupumd/aimd).
    regimes
        ``"glass"``/``"melt"`` per point: points of both are refused (one line through
        a frozen and a relaxed network is neither Ea; use
        :func:`amorphdb.analysis.regimes.fit_arrhenius_regimes`).

    Returns
    -------
    ArrheniusResult
        A warning (:class:`AnalysisWarning`) is issued with fewer than three
        temperatures: the error of Ea is then not determined by the scatter.
    """
    T = np.asarray(temperatures_K, dtype=float).ravel()
    d = np.asarray(D, dtype=float).ravel()
    regime = None
    if regimes is not None:
        kinds = sorted({str(r) for r in regimes})
        if len(kinds) > 1:
            raise AnalysisError(
                f"the points mix regimes {kinds} (network frozen and relaxed); fit each "
                "regime separately (fit_arrhenius_regimes)"
            )
        regime = kinds[0] if kinds else None
    if T.shape != d.shape:
        raise AnalysisError(f"{T.size} temperatures but {d.size} diffusivities; give one D per T")
    if T.size < 2:
        raise AnalysisError("an Arrhenius fit needs at least two temperatures")
    if np.any(~np.isfinite(T)) or np.any(T <= 0):
        raise AnalysisError("temperatures must be finite and > 0 K")
    if np.any(~np.isfinite(d)) or np.any(d <= 0):
        raise AnalysisError(
            "every D must be finite and > 0 cm²/s for ln D; drop non-diffusive temperatures"
        )
    if np.unique(T).size < 2:
        raise AnalysisError("all temperatures are equal; an Arrhenius fit needs different T")
    if T.size < 3:
        warnings.warn(
            f"Arrhenius fit with {T.size} temperatures: the activation energy is not checked "
            "by any redundancy; use at least 3 (better 4+) temperatures",
            AnalysisWarning,
            stacklevel=2,
        )
    x = 1.0 / T
    y = np.log(d)
    A = np.column_stack([np.ones_like(x), x])
    weighted = D_std is not None
    if weighted:
        s = np.asarray(D_std, dtype=float).ravel()
        if s.shape != d.shape or np.any(~np.isfinite(s)) or np.any(s <= 0):
            raise AnalysisError("D_std must be one finite value > 0 per D (cm²/s)")
        sigma_y = s / d
        w = 1.0 / sigma_y**2
        cov = np.linalg.inv(A.T @ (A * w[:, None]))
        params = cov @ (A.T @ (w * y))
    else:
        params, *_ = np.linalg.lstsq(A, y, rcond=None)
        resid = y - A @ params
        cov = np.full((2, 2), np.nan)
        if T.size > 2:
            cov = np.linalg.inv(A.T @ A) * (resid @ resid / (T.size - 2))
    ln_d0, slope = (float(v) for v in params)
    resid = y - A @ params
    dof = T.size - 2
    chi2_dof = float("nan")
    if weighted and dof > 0:
        chi2_dof = float(np.sum((resid / sigma_y) ** 2) / dof)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else float("nan")
    ea = -slope * boltzmann_eV_K
    ea_std = float(np.sqrt(cov[1, 1]) * boltzmann_eV_K)
    ea_std_scaled = ea_std * np.sqrt(chi2_dof) if weighted else ea_std
    d0 = float(np.exp(ln_d0))
    return ArrheniusResult(
        Ea=float(ea),
        Ea_std=ea_std,
        D0=d0,
        D0_std=float(d0 * np.sqrt(cov[0, 0])),
        ln_D0=ln_d0,
        covariance=cov.tolist(),
        temperatures_K=T.tolist(),
        D=d.tolist(),
        D_std=None if D_std is None else np.asarray(D_std, dtype=float).tolist(),
        weighted=weighted,
        boltzmann_eV_K=float(boltzmann_eV_K),
        r_squared=r2,
        chi2_dof=chi2_dof,
        Ea_std_stated=ea_std if weighted else float("nan"),
        Ea_std_scaled=float(ea_std_scaled),
        regime=regime,
    )
