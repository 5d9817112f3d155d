"""Plots saved as files (matplotlib, Agg backend): MSD per species and Arrhenius per regime."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from amorphdb.analysis.arrhenius import ArrheniusResult
from amorphdb.analysis.diffusion import DiffusionResult
from amorphdb.analysis.errors import AnalysisError

__all__ = ["plot_arrhenius", "plot_arrhenius_regimes", "plot_msd"]

_REGIME_STYLE = {"glass": ("tab:blue", "o"), "melt": ("tab:red", "s")}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path, mkdir: bool) -> Path:
    """Save, refusing a missing folder unless ``mkdir`` (the CLI never creates folders)."""
    plt = _pyplot()
    out = Path(path)
    if mkdir:
        out.parent.mkdir(parents=True, exist_ok=True)
    elif not out.parent.is_dir():
        plt.close(fig)
        raise AnalysisError(f"folder {out.parent} of plot {out.name} does not exist; create it")
    fmts = fig.canvas.get_supported_filetypes()
    if out.suffix.lstrip(".").lower() not in fmts:
        plt.close(fig)
        raise AnalysisError(
            f"plot {out.name}: unknown image type; end the name with one of "
            f"{', '.join('.' + k for k in sorted(fmts))}"
        )
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_msd(
    results: DiffusionResult | Sequence[DiffusionResult],
    path: str | Path,
    title: str | None = None,
    mkdir: bool = True,
) -> Path:
    """MSD vs lag time (log–log), one panel per species, with fit window, fit and σ band.

    Each panel: the species-averaged MSD, its fit window shaded, the fitted line
    MSD = slope·t + intercept over the window (dashed), the band of lines whose D is
    within ±1σ(D) of the fit, and a slope-1 guide. The panel title gives D ± σ, the σ
    method and, for unreliable or non-diffusive results, the reason.

    Parameters
    ----------
    results
        One or more diffusion results (e.g. one per species).
    path
        Output image (``.png``, ``.pdf``, ...).
    title
        Figure title (e.g. file name and temperature).
    mkdir
        Create the output folder if missing (False: a missing folder is an error).
    """
    plt = _pyplot()
    res_list = [results] if isinstance(results, DiffusionResult) else list(results)
    n = len(res_list)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.7 * rows), dpi=110, squeeze=False)
    for ax, res in zip(axes.flat, res_list, strict=False):
        _msd_panel(ax, res)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path, mkdir)


def _msd_panel(ax, res: DiffusionResult) -> None:
    t, m = res.lag_times[1:], res.msd[1:]
    ok = m > 0  # log axes: drop zero lags/round-off
    ax.loglog(t[ok], m[ok], lw=1.3, color="tab:blue", label="MSD")
    slope, intercept = _fit_line(res)
    t0, t1 = res.fit_window
    ax.axvspan(t0, t1, color="tab:orange", alpha=0.15, lw=0, label="fit window")
    tt = np.geomspace(max(t0, t[0]), t1, 200)
    yy = slope * tt + intercept
    ax.loglog(tt[yy > 0], yy[yy > 0], "--", color="k", lw=1.2, label="fit")
    # σ band: the lines whose D is D ± σ(D) (slope ± 2·d·σ, same intercept)
    ds = res.D_std / 1e-4 * 6.0 if np.isfinite(res.D_std) else 0.0
    lo, hi = (slope - ds) * tt + intercept, (slope + ds) * tt + intercept
    good = (lo > 0) & (hi > 0)
    if good.any():
        ax.fill_between(tt[good], lo[good], hi[good], color="k", alpha=0.15, lw=0, label="±1σ(D)")
    if slope > 0 and res.diffusive:  # a slope-1 guide through the fit at the window end
        y1 = slope * t1 + intercept
        ax.loglog(t[ok], y1 * t[ok] / t1, ":", color="grey", lw=0.8, label="∝ t")
    if res.diffusive:
        head = f"{res.species}: D = {res.D:.2e} ± {res.D_std:.1e} cm²/s (σ: {res.D_std_method})"
    else:
        bound = res.D_upper_bound if res.D_upper_bound is not None else float("nan")
        head = f"{res.species}: not diffusive, D < {bound:.1e} cm²/s"
    reason = "" if res.reliable else _wrap("unreliable: " + res.reason, 60)
    ax.set_title(head + ("\n" + reason if reason else ""), fontsize=7.5)
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.legend(fontsize=6.5, loc="upper left")


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:4])


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
    """D vs 1000/T with error bars, the fit, its 1σ band and the extrapolation."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 4.0), dpi=120)
    _arrhenius_fit(ax, result, "tab:blue", "o", "MD", extrapolate_K)
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
    _arrhenius_axes(ax)
    fig.tight_layout()
    return _save(fig, path, True)


def _arrhenius_fit(ax, result, color, marker, label, t_low=None) -> None:
    T = np.asarray(result.temperatures_K)
    D = np.asarray(result.D)
    yerr = None if result.D_std is None else np.asarray(result.D_std)
    ax.errorbar(1000 / T, D, yerr=yerr, fmt=marker, color=color, capsize=3, label=label)
    t_lo = min(T.min(), t_low or T.min())
    grid = np.linspace(1000 / T.max(), 1000 / t_lo, 100)
    ln_d, s = result.ln_D_and_std(1000 / grid)
    ax.plot(
        grid,
        np.exp(ln_d),
        "-",
        color=color,
        label=f"Ea = {result.Ea:.3f} ± {result.Ea_std:.3f} eV"
        + (f" (scaled ± {result.Ea_std_scaled:.3f})" if result.weighted else ""),
    )
    if np.all(np.isfinite(s)):
        ax.fill_between(grid, np.exp(ln_d - s), np.exp(ln_d + s), color=color, alpha=0.2, lw=0)


def _arrhenius_axes(ax) -> None:
    ax.set_yscale("log")
    ax.set_xlabel("1000/T (1/K)")
    ax.set_ylabel("D (cm²/s)")
    ax.legend(fontsize=7)


def plot_arrhenius_regimes(
    fits,
    path: str | Path,
    temperatures_K: Sequence[float] = (),
    D: Sequence[float] = (),
    regimes: Sequence[str] = (),
    title: str | None = None,
    mkdir: bool = True,
) -> Path:
    """Arrhenius plot of both regimes (glass, melt), each with its fit and σ band.

    Parameters
    ----------
    fits
        :class:`~amorphdb.analysis.regimes.RegimeFits`; a VFT curve (dotted) is drawn
        for a regime flagged curved.
    path
        Output image.
    temperatures_K, D, regimes
        Points left out of the fits (unreliable; K, cm²/s or None, regime): drawn as
        open markers.
    title
        Figure title.
    mkdir
        Create the output folder if missing.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 4.2), dpi=120)
    for name, arr in fits.fits.items():
        color, marker = _REGIME_STYLE.get(name, ("k", "^"))
        _arrhenius_fit(ax, arr, color, marker, f"{name} ({len(arr.temperatures_K)} T)")
        if fits.curved(name):
            v = fits.vft[name]
            T = np.linspace(min(arr.temperatures_K), max(arr.temperatures_K), 100)
            ax.plot(
                1000 / T,
                np.exp(v.ln_D(T)),
                ":",
                color=color,
                lw=1.6,
                label=f"VFT {name}: T0 = {v.T0_K:.0f} K (curved, p = {v.p_value:.1g})",
            )
    for t, d, r in zip(temperatures_K, D, regimes, strict=False):
        if d is not None and d > 0:
            color, marker = _REGIME_STYLE.get(r, ("k", "^"))
            ax.plot(1000 / t, d, marker, mfc="none", color=color, label=f"{r}, not fitted")
    handles, labels = ax.get_legend_handles_labels()
    keep = {lab: h for h, lab in zip(handles, labels, strict=True)}  # one entry per label
    if not fits.fits and not keep:
        ax.text(0.5, 0.5, "no diffusive point", transform=ax.transAxes, ha="center")
    if title:
        ax.set_title(title, fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("1000/T (1/K)")
    ax.set_ylabel("D (cm²/s)")
    if keep:
        ax.legend(list(keep.values()), list(keep), fontsize=7)
    fig.tight_layout()
    return _save(fig, path, mkdir)
