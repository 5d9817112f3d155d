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
        (line,) = ax.loglog(t, m, lw=1.2, label=f"{res.species}: D = {res.D:.2e} cm²/s")
        t0, t1 = res.fit_window
        sel = (t >= t0) & (t <= t1)
        # fitted line: MSD = 2·d·D·t + c, D in Å²/ps = D[cm²/s] × 1e4
        slope = 6.0 * res.D * 1e4
        c = float(np.mean(m[sel] - slope * t[sel])) if sel.any() else 0.0
        ax.loglog(t[sel], slope * t[sel] + c, "--", color=line.get_color(), lw=1.0)
        ax.axvspan(t0, t1, color=line.get_color(), alpha=0.08)
        if not res.reliable:
            line.set_label(line.get_label() + " (unreliable)")
    ref = res_list[0]
    tt = ref.lag_times[1:]
    ax.loglog(tt, ref.msd[1] * tt / tt[0], ":", color="grey", lw=0.8, label="slope 1")
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.legend(fontsize=8)
    ax.set_title("Mean-squared displacement (fit window shaded)", fontsize=9)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


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
