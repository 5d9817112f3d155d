"""Plots of an :class:`~amorphdb.compare.engines.EngineComparison`."""

from __future__ import annotations

import math
from pathlib import Path

from amorphdb.compare.engines import EngineComparison

__all__ = ["plot_comparison"]


def plot_comparison(cmp: EngineComparison, prefix: str | Path, species: str = "Li") -> list[Path]:
    """``PREFIX-rdf.png`` (total g(r) of A and B per composition and T, R² in the title)
    and ``PREFIX-D.png`` (log10 D of B against A with σ bars, parity line)."""
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
    return out
