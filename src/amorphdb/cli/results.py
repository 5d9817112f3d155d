"""The results tables ``amorphdb run`` prints: one row per composition and temperature,
then the activation energies per regime; both fit an 80-column terminal.

Uncertainties use the compact notation ``2.35(1)`` = 2.35 ± 0.01 and ``8.2(13)e-5`` =
(8.2 ± 1.3)·10⁻⁵ (the digits in brackets are σ in units of the last digit shown,
BIPM GUM §7.2.2); flags are one-letter codes explained in the caption (:data:`FLAGS`).
"""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.table import Table

#: one-letter flags of a row and what they mean (the caption's legend)
FLAGS = {
    "u": "D unreliable (not used for Ea)",
    "f": "frozen network (formers/anions caged)",
    "v": "volume search unconverged",
    "r": "replicas disagree beyond their σ",
}


def compact(value: float | None, sigma: float | None, sci: bool = False) -> str:
    """``value`` with ``sigma`` in brackets in units of the last digit (two σ digits,
    one when σ's leading digit is ≥ 3); ``sci`` writes a power of ten (``8.2(13)e-5``).

    >>> compact(2.3456, 0.0123), compact(8.21e-5, 1.3e-5, sci=True), compact(2.0, None)
    ('2.346(12)', '8.2(13)e-5', '2.00')
    """
    if value is None or not math.isfinite(value):
        return "—"
    exponent = math.floor(math.log10(abs(value))) if sci and value != 0 else 0
    mantissa = value / 10.0**exponent
    suffix = f"e{exponent}" if sci else ""
    if sigma is None or not math.isfinite(sigma) or sigma <= 0:
        return f"{mantissa:.{1 if sci else 2}f}{suffix}"
    s = sigma / 10.0**exponent
    first, power = f"{s:.1e}".split("e")  # σ's leading digit after rounding (0.29999 -> 3.0)
    lead = int(power)
    digits = 1 if float(first) >= 3 else 2
    decimals = max(0, min(4, digits - 1 - lead))
    sigma_digits = round(s * 10.0**decimals)
    return f"{mantissa:.{decimals}f}({sigma_digits}){suffix}"


def reported_diffusion(doc: Any, species: str) -> Any:
    """The D summary of ``species`` a row reports: None for the glass point, which reports
    its density only (at 300 K Li does not leave its cage within the run, not a defect)."""
    return None if doc.descriptors.get("stage") == "glass" else doc.diffusion.get(species)


def row_flags(doc: Any, species: str) -> str:
    """The :data:`FLAGS` codes of one summary (D of ``species``; none for a glass point)."""
    d = reported_diffusion(doc, species)
    volume = doc.descriptors.get("volume_equilibration") or {}
    spread = doc.replica_spread or {}
    disagree = (spread.get("density_g_cm3") or {}).get("inconsistent") or (
        ((spread.get("D_cm2_s") or {}).get(species) or {}).get("inconsistent"))
    codes = [
        "u" if d is not None and d.D_cm2_s is not None and not d.reliable else "",
        "f" if any(getattr(r, "caged", None) for r in doc.diffusion.values()) else "",
        "v" if volume and volume.get("converged") is False else "",
        "r" if disagree else "",
    ]
    return "".join(codes)


def _replica_text(doc: Any, species: str) -> str:
    """``n:±x%`` (relative std of D across the replicas) of an average; ``#i`` of one
    replica; empty for a single run."""
    if doc.replica is not None:
        return f"#{doc.replica}"
    if doc.replicas <= 1:
        return ""
    stats = ((doc.replica_spread or {}).get("D_cm2_s") or {}).get(species) or {}
    if stats.get("std") is None or not stats.get("mean"):
        return f"{doc.replicas}"
    return f"{doc.replicas}:±{100 * stats['std'] / abs(stats['mean']):.0f}%"


def _table(title: str | None, caption: str | None = None) -> Table:
    return Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False,
                 padding=(0, 1), caption_justify="left")


def results_table(docs: list[Any], species: str = "Li", title: str | None = None) -> Table:
    """Formula, T, density, pressure, D(``species``), flags (and the replica spread when
    a row averages replicas) of summary documents, in the given order."""
    replicated = any(d.replicas > 1 or d.replica is not None for d in docs)
    legend = "; ".join(f"{k} {v}" for k, v in FLAGS.items())
    caption = f"flags: {legend}. melt and glass rows are not used for Ea"
    if replicated:
        caption += (". rep: replicas, ± relative std of D across them; ρ and D of a "
                    "row with n replicas are their means, σ the larger of the SEM and "
                    "the stated σ")
    table = _table(title, caption)
    headers = ["formula", "T K", "ρ g/cm³", "P kbar", f"D_{species} cm²/s", "flags"]
    if replicated:
        headers.append("rep")
    for header in headers:
        table.add_column(header, justify="left" if header == "formula" else "right",
                         no_wrap=True)
    for doc in docs:
        stage = doc.descriptors.get("stage")
        d = reported_diffusion(doc, species)
        d_text = "—" if d is None else compact(d.D_cm2_s, d.D_std_cm2_s, sci=True)
        sem = (doc.descriptors.get("volume_equilibration") or {}).get("density_sem_g_cm3")
        pressure = doc.pressure_mean_kbar
        row = [
            doc.formula_reduced,
            f"{doc.temperature_K:g}" + (f" {stage}" if stage in ("melt", "glass") else ""),
            compact(doc.density_g_cm3, sem),
            "—" if pressure is None else f"{pressure:+.0f}",
            d_text,
            row_flags(doc, species),
        ]
        if replicated:
            row.append(_replica_text(doc, species))
        table.add_row(*row)
    return table


def arrhenius_table(docs: list[Any], species: str = "Li") -> Table:
    """Ea per composition and regime (glass/melt) with the stated σ and the
    residual-scaled σ·√(χ²/dof), and the temperatures fitted."""
    table = _table(None, "σ: from the D uncertainties; σ·√χ²: scaled by the fit's "
                   "residuals; curved: VFT preferred (F-test)")
    for header in ("formula", "regime", f"Ea_{species} eV", "σ", "σ·√χ²", "T K", ""):
        table.add_column(header, justify="left" if header in ("formula", "regime") else
                         "right", no_wrap=True)
    for arr in docs:
        regimes = {k: r for k, r in sorted((arr.regimes or {}).items())
                   if r.get("Ea_eV") is not None}
        if not regimes:
            table.add_row(arr.formula_reduced, arr.regime or "—", _num(arr.Ea_eV),
                          _num(arr.Ea_std_eV), _num(arr.Ea_std_scaled_eV), "", "")
            continue
        for name, r in regimes.items():
            temps = r.get("temperatures_K") or []
            span = f"{min(temps):g}–{max(temps):g}" if temps else ""
            table.add_row(arr.formula_reduced, name, _num(r["Ea_eV"]), _num(r.get("Ea_std_eV")),
                          _num(r.get("Ea_std_scaled_eV")), span,
                          "curved" if r.get("curved") else "")
    return table


def _num(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.2f}"
