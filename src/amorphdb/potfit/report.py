"""``amorphdb potfit report``: convergence, Pareto front, parity plots and the best sets.

Everything comes from the state file alone (its history keeps each evaluation's
per-glass density and N4 and the objective's settings), so a report can be drawn
anywhere the file is copied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amorphdb.engines.potentials import get_potential
from amorphdb.errors import ConfigError
from amorphdb.potfit.config import N4Source
from amorphdb.potfit.objective import n4_target
from amorphdb.potfit.optimizer import OptimizationResult, result_from_history
from amorphdb.potfit.state import OptimizationState, read_state
from amorphdb.potfit.targets import load_targets


@dataclass
class PotfitReport:
    """What a state file says: the result, the potential and the targets' settings."""

    state: OptimizationState
    result: OptimizationResult

    @property
    def potential(self) -> str:
        """Library potential the parameters belong to."""
        return (self.state.config.get("objective") or {}).get("potential", "wang2018")

    @property
    def objective(self) -> dict[str, Any]:
        """The objective settings recorded in the state."""
        return (self.state.config.get("objective") or {}).get("objective", {})

    @property
    def n_failed(self) -> int:
        """Evaluations without a finite loss."""
        return sum(1 for h in self.state.history if not _finite(h["loss"]))


def _finite(loss: Any) -> bool:
    values = loss.values() if isinstance(loss, dict) else [loss]
    return all(v is not None and math.isfinite(float(v)) for v in values)


def _total(loss: Any) -> float:
    return float(sum(loss.values())) if isinstance(loss, dict) else float(loss)


def load_report(path: str | Path) -> PotfitReport:
    """Read a state file (ConfigError when missing or with no finished evaluation)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"state file {path} not found; run 'amorphdb potfit CONFIG.yaml' first")
    state = read_state(path)
    return PotfitReport(state=state, result=result_from_history(state.history))


def best_so_far(history: list[dict[str, Any]]) -> np.ndarray:
    """Running minimum of the (summed) loss; NaN until the first finite one."""
    out, best = [], math.inf
    for h in history:
        if _finite(h["loss"]):
            best = min(best, _total(h["loss"]))
        out.append(best if math.isfinite(best) else math.nan)
    return np.array(out)


def pair_coeff_lines(potential: str, params: dict[str, float]) -> list[str]:
    """LAMMPS lines (units metal) of the potential with ``params``, types in
    alphabetical element order (as amorphdb's data files), with the type map."""
    pot = get_potential(potential).with_overrides(params)
    elements = pot.elements
    header = "# types: " + " ".join(f"{i}={el}" for i, el in enumerate(elements, start=1))
    return [header, *(line for line in pot.lammps_lines(elements) if line.startswith("pair_"))]


def parity_rows(report: PotfitReport, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Per glass: simulated and experimental density and N4 of one history entry."""
    glasses = (entry.get("details") or {}).get("glasses") or {}
    labels = list(glasses) or list(report.objective.get("compositions", []))
    table = report.objective.get("table")
    targets = load_targets(labels, table) if labels else {}
    source = N4Source(report.objective.get("n4_source", "measured"))
    rows = []
    for label, glass in targets.items():
        sim = glasses.get(label) or {}
        rows.append({
            "label": label,
            "density_exp": glass.density_g_cm3,
            "density_sim": sim.get("density_g_cm3"),
            "density_std": sim.get("density_std_g_cm3"),
            "n4_exp": n4_target(glass, source),
            "n4_sim": sim.get("n4"),
            "n4_std": sim.get("n4_std"),
        })
    return rows


def plot_report(report: PotfitReport, out_dir: str | Path) -> list[Path]:
    """Convergence, Pareto front (named losses) and parity plots as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    history = report.state.history
    written = []

    fig, ax = plt.subplots(figsize=(5, 3.5))
    totals = [_total(h["loss"]) if _finite(h["loss"]) else np.nan for h in history]
    n = np.arange(1, len(history) + 1)
    ax.plot(n, totals, "o", ms=4, alpha=0.6, label="evaluation")
    ax.plot(n, best_so_far(history), "-", label="best so far")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    written.append(out_dir / "potfit_convergence.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    named = [h for h in history if isinstance(h["loss"], dict) and _finite(h["loss"])]
    if not named:  # weighted runs keep the per-term losses in the details
        named = [
            {"loss": h["details"]["losses"]} for h in history
            if (h.get("details") or {}).get("losses") and _finite(h["details"]["losses"])
        ]
    if named:
        from amorphdb.potfit.optimizer import pareto_front

        front = pareto_front(named)
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        ax.plot([h["loss"]["density"] for h in named], [h["loss"]["n4"] for h in named],
                "o", alpha=0.5, label="evaluations")
        front = sorted(front, key=lambda h: h["loss"]["density"])
        ax.plot([h["loss"]["density"] for h in front], [h["loss"]["n4"] for h in front],
                "s-", color="C3", label="Pareto front")
        ax.set_xlabel("density loss (RMS relative error)")
        ax.set_ylabel("N4 loss (RMS error)")
        ax.legend()
        fig.tight_layout()
        written.append(out_dir / "potfit_pareto.png")
        fig.savefig(written[-1], dpi=120)
        plt.close(fig)

    rows = parity_rows(report, _best_entry(report))
    if rows and any(r["density_sim"] is not None for r in rows):
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
        for ax, key, unit in ((axes[0], "density", " (g/cm³)"), (axes[1], "n4", "")):
            xs = [r[f"{key}_exp"] for r in rows]
            ys = [r[f"{key}_sim"] for r in rows]
            es = [r[f"{key}_std"] or 0.0 for r in rows]
            ax.errorbar(xs, ys, yerr=np.nan_to_num(es), fmt="o")
            for r in rows:
                ax.annotate(r["label"], (r[f"{key}_exp"], r[f"{key}_sim"]), fontsize=8)
            lo, hi = min(xs + ys), max(xs + ys)
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set_xlabel(f"{key} experiment{unit}")
            ax.set_ylabel(f"{key} simulated{unit}")
        axes[0].set_title("best set")
        fig.tight_layout()
        written.append(out_dir / "potfit_parity.png")
        fig.savefig(written[-1], dpi=120)
        plt.close(fig)
    return written


def _best_entry(report: PotfitReport) -> dict[str, Any]:
    best = report.result.best_params
    for h in report.state.history:
        if h["params"] == best:
            return h
    return {"params": best}
