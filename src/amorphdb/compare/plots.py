"""Plots of an :class:`~amorphdb.compare.engines.EngineComparison`."""

from __future__ import annotations

import math
from pathlib import Path

from amorphdb.compare.engines import EngineComparison

__all__ = ["plot_comparison"]


def plot_comparison(cmp: EngineComparison, prefix: str | Path, species: str = "Li") -> list[Path]:
    """``PREFIX-rdf.png`` (total g(r) of A and B per composition and T, R² in the title),
    ``PREFIX-D.png`` (log10 D of B against A with σ bars, parity line) and
    ``PREFIX-arrhenius.png`` (D(T) of both sides per composition with each side's fit,
    ΔEa ± σ or why it is missing in the title)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prefix = Path(prefix)
    out = []
    if cmp.curves:
        n = len(cmp.curves)
        cols = min(n, 3)
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
        r2 = {f"{p.formula}@{p.temperature_K:g}K": p.rdf_r2 for p in cmp.points}
        for ax, (name, c) in zip(axes.flat, cmp.curves.items(), strict=False):
            ax.plot(c["r_a"], c["g_a"], label=cmp.label_a, lw=1.4)
            ax.plot(c["r_b"], c["g_b"], label=cmp.label_b, lw=1.2, ls="--")
            ax.set_title(f"{name}  R² = {r2.get(name, float('nan')):.3f}", fontsize=9)
            ax.set_xlabel("r (Å)")
            ax.set_ylabel("total g(r)")
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.tight_layout()
        path = prefix.with_name(prefix.name + "-rdf.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        out.append(path)
    pts = [
        p for p in cmp.points
        if p.D_a_cm2_s.get(species) and p.D_b_cm2_s.get(species)
        and p.D_a_cm2_s[species] > 0 and p.D_b_cm2_s[species] > 0
    ]
    if pts:
        fig, ax = plt.subplots(figsize=(4.8, 4.4))
        lo, hi = math.inf, -math.inf
        for p in pts:
            xa, xb = p.D_a_cm2_s[species], p.D_b_cm2_s[species]
            ax.errorbar(xa, xb, xerr=p.D_a_std_cm2_s.get(species) or 0,
                        yerr=p.D_b_std_cm2_s.get(species) or 0, fmt="o", ms=4, capsize=2)
            ax.annotate(f"{p.formula} {p.temperature_K:g} K", (xa, xb), fontsize=7)
            lo, hi = min(lo, xa, xb), max(hi, xa, xb)
        ax.plot([lo / 3, hi * 3], [lo / 3, hi * 3], color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"D({species}) {cmp.label_a} (cm²/s)")
        ax.set_ylabel(f"D({species}) {cmp.label_b} (cm²/s)")
        fig.tight_layout()
        path = prefix.with_name(prefix.name + "-D.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        out.append(path)
    arr = [a for a in cmp.arrhenius if a.species == species]
    if arr:
        out.append(_plot_arrhenius(cmp, arr, prefix.with_name(prefix.name + "-arrhenius.png"),
                                   species, plt))
    return out


def _plot_arrhenius(cmp: EngineComparison, arr, path: Path, species: str, plt) -> Path:
    """D(T) of A and B against 1000/T per composition: points with σ (filled: in that
    side's fit), each side's fitted line D0·exp(−Ea/k_B T) over its fitted range."""
    import numpy as np

    from amorphdb.analysis.arrhenius import BOLTZMANN_EV_K

    cols = min(len(arr), 3)
    rows = math.ceil(len(arr) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.6 * rows), squeeze=False)
    for ax, a in zip(axes.flat, arr, strict=False):
        for side, label, color in (("a", cmp.label_a, "tab:blue"), ("b", cmp.label_b,
                                                                      "tab:orange")):
            pts = [(p.temperature_K, getattr(p, f"D_{side}_cm2_s").get(species),
                    getattr(p, f"D_{side}_std_cm2_s").get(species))
                   for p in cmp.points if p.formula == a.formula]
            fitted = set(getattr(a, f"temperatures_{side}_K"))
            for t, d, s in pts:
                if d is None or d <= 0:
                    continue
                ax.errorbar(1000.0 / t, d, yerr=s or 0, fmt="o", ms=4, capsize=2,
                            color=color, mfc=color if t in fitted else "none")
            ea, d0 = getattr(a, f"Ea_{side}_eV"), getattr(a, f"D0_{side}_cm2_s")
            text = "no fit" if ea is None else f"Ea {ea:.2f} eV"
            if ea is not None and d0 and fitted:
                t = np.linspace(min(fitted), max(fitted), 50)
                ax.plot(1000.0 / t, d0 * np.exp(-ea / (BOLTZMANN_EV_K * t)), color=color)
            ax.plot([], [], "o", color=color, label=f"{label}: {text}")
        dea = ("ΔEa —" if a.Ea_diff_eV is None else
               f"ΔEa = {a.Ea_diff_eV:+.2f} ± {a.Ea_diff_std_eV or float('nan'):.2f} eV")
        ax.set_title(f"{a.formula}  {dea}", fontsize=9)
        ax.set_yscale("log")
        ax.set_xlabel("1000/T (1/K)")
        ax.set_ylabel(f"D({species}) (cm²/s)")
        ax.legend(fontsize=6, title="open: not in the fit", title_fontsize=6)
    for ax in list(axes.flat)[len(arr):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
