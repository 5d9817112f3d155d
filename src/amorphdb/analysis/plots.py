"""Plots saved as files (matplotlib, Agg backend): MSD log–log and Arrhenius."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from amorphdb.analysis.arrhenius import ArrheniusResult
from amorphdb.analysis.diffusion import DiffusionResult

__all__ = ["plot_arrhenius", "plot_msd"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_msd(results: DiffusionResult | Sequence[DiffusionResult], path: str | Path) -> Path:
    """MSD vs lag time (log–log) per species with the fit window and fitted line.

    Parameters
    ----------
    results
        One or more diffusion results (e.g. one per species).
    path
        Output image (``.png``, ``.pdf``, ...).
    """
    plt = _pyplot()
    res_list = [results] if isinstance(results, DiffusionResult) else list(results)
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=120)
    for res in res_list:
        t, m = res.lag_times[1:], res.msd[1:]
        ok = m > 0  # log axes: drop zero lags/round-off
        label = f"{res.species}: D = {res.D:.2e} ± {res.D_std:.1e} cm²/s"
        if not res.reliable:
            label += " (unreliable)"
        (line,) = ax.loglog(t[ok], m[ok], lw=1.2, label=label)
        slope, intercept = _fit_line(res)
        t0, t1 = res.fit_window
        # the fit is linear, MSD = slope·t + intercept, over the window: drawn as that
        # function on a dense grid (on log–log axes it is curved where the intercept
        # matters), not as a power law
        tt = np.geomspace(max(t0, t[0]), t1, 200)
        yy = slope * tt + intercept
        ax.loglog(tt[yy > 0], yy[yy > 0], "--", color="k", lw=1.2)
        ax.axvspan(t0, t1, color=line.get_color(), alpha=0.08)
        if slope > 0:  # a slope-1 (diffusive) guide through the fit at the window's end
            y1 = slope * t1 + intercept
            ax.loglog(t[ok], y1 * t[ok] / t1, ":", color="grey", lw=0.8)
    extra = [
        plt.Line2D([], [], ls="--", color="k", lw=1.2, label="fit: MSD = slope·t + intercept"),
        plt.Line2D([], [], ls=":", color="grey", lw=0.8, label="∝ t (diffusive)"),
    ]
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=[*handles, *extra], fontsize=7)
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.set_title("Mean-squared displacement (fit window shaded)", fontsize=9)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def _fit_line(res: DiffusionResult) -> tuple[float, float]:
    """Slope (Å²/ps) and intercept (Å²) of the fit; refitted for results without them."""
    if res.fit_slope_A2_ps is not None and res.fit_intercept_A2 is not None:
        return res.fit_slope_A2_ps, res.fit_intercept_A2
    t0, t1 = res.fit_window
    sel = (res.lag_times >= t0 - 1e-12) & (res.lag_times <= t1 + 1e-12)
    slope, intercept = np.polyfit(res.lag_times[sel], res.msd[sel], 1)
    return float(slope), float(intercept)


def plot_arrhenius(
    result: ArrheniusResult, path: str | Path, extrapolate_K: float | None = 300.0
) -> Path:
    """ln D vs 1000/T with error bars, the fit, its 1σ band and the extrapolation."""
    plt = _pyplot()
    T = np.asarray(result.temperatures_K)
    D = np.asarray(result.D)
    fig, ax = plt.subplots(figsize=(5.0, 4.0), dpi=120)
    yerr = None if result.D_std is None else np.asarray(result.D_std)
    ax.errorbar(1000 / T, D, yerr=yerr, fmt="o", capsize=3, label="MD")
    t_lo = min(T.min(), extrapolate_K or T.min())
    grid = np.linspace(1000 / T.max(), 1000 / t_lo, 100)
    ln_d, s = result.ln_D_and_std(1000 / grid)
    ax.plot(grid, np.exp(ln_d), "-", label=f"Ea = {result.Ea:.3f} ± {result.Ea_std:.3f} eV")
    if np.all(np.isfinite(s)):
        ax.fill_between(grid, np.exp(ln_d - s), np.exp(ln_d + s), alpha=0.2)
    if extrapolate_K:
        d, ds = result.extrapolate(extrapolate_K)
        ax.errorbar(
            [1000 / extrapolate_K],
            [d],
            yerr=[[d - d * np.exp(-ds / d)], [ds]],
            fmt="s",
            color="k",
            label=f"{extrapolate_K:g} K: {d:.2e} cm²/s",
        )
    ax.set_yscale("log")
    ax.set_xlabel("1000/T (1/K)")
    ax.set_ylabel("D (cm²/s)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
