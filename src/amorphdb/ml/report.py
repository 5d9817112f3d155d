"""``amorphdb ml report``: grouped vs. ungrouped CV of every model kind, with plots.

Writes into one folder: ``report.json`` and ``report.md`` (the CV table, importances,
SISSO equation, learning curve), ``parity.png`` (held-out predictions of the grouped CV
with their 90 % intervals), ``cv_grouped_vs_ungrouped.png`` (the leakage, side by side),
``importances.png`` and ``learning_curve.png``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amorphdb.ml.columns import TARGET, check_table
from amorphdb.ml.models import DiffusivityModel, parse_kind
from amorphdb.ml.validation import CVReport, cross_validate, learning_curve

Progress = Callable[[str], None]


def run_report(
    data: pd.DataFrame,
    out_dir: str | Path,
    *,
    kinds: tuple[str, ...] = ("random_forest", "xgboost", "sisso"),
    n_splits: int = 5,
    seed: int = 0,
    group_by: str = "formula",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Cross-validate every kind grouped and ungrouped, fit on all rows, write the report.

    Returns
    -------
    dict
        What ``report.json`` holds: ``cv`` (one summary per kind and grouping),
        ``importances`` (top 10 per kind), ``equation`` (SISSO), ``learning_curve``.
    """
    data = check_table(data, fit=True, min_rows=2)
    kinds = tuple(parse_kind(k).value for k in kinds)
    step = progress or (lambda _msg: None)
    cv: dict[str, dict[str, CVReport]] = {}
    importances: dict[str, pd.Series] = {}
    curves: dict[str, pd.DataFrame] = {}
    equation = None
    for kind in kinds:
        model = DiffusivityModel(kind=kind, seed=seed)
        cv[kind] = {}
        for grouping in (group_by, None):
            step(f"{kind}: {'grouped' if grouping else 'ungrouped'} {n_splits}-fold CV")
            cv[kind][grouping or "none"] = cross_validate(model, data, n_splits, seed, grouping)
        step(f"{kind}: fit on all rows, learning curve")
        full = DiffusivityModel(kind=kind, seed=seed).fit(data)
        importances[kind] = full.feature_importances.head(10)
        if kind == "sisso":
            equation = full.equation
        curves[kind] = learning_curve(model, data, n_splits=n_splits, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "rows": len(data),
        "compositions": int(data["formula"].nunique()),
        "n_splits": n_splits,
        "seed": seed,
        "group_by": group_by,
        "cv": [r.summary() for per in cv.values() for r in per.values()],
        "importances": {
            k: {n: round(float(v), 4) for n, v in s.items()} for k, s in importances.items()
        },
        "equation": equation,
        "learning_curve": {k: c.round(4).to_dict(orient="records") for k, c in curves.items()},
    }
    (out / "report.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    (out / "report.md").write_text(_markdown(summary))
    step("plots")
    _plots(cv, importances, curves, group_by, out)
    return summary


def cv_table(summary: dict[str, Any]) -> list[list[str]]:
    """Rows (kind, grouping, r2, mae, rmse, coverage) of a report summary."""
    return [
        [
            c["kind"],
            c["group_by"],
            f"{c['r2']:.3f}",
            f"{c['mae']:.3f}",
            f"{c['rmse']:.3f}",
            f"{c['coverage']:.2f}",
        ]
        for c in summary["cv"]
    ]


def _markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"# Diffusivity models: {summary['rows']} rows, {summary['compositions']} compositions",
        "",
        f"{summary['n_splits']}-fold cross-validation (seed {summary['seed']}), scores on "
        "log10 D (cm²/s); coverage of the 90 % CV+ intervals.",
        "",
        "| model | folds grouped by | R² | MAE | RMSE | coverage |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in cv_table(summary)]
    if summary["equation"]:
        lines += ["", f"SISSO: `{summary['equation']}`"]
    lines += ["", "## Most important features", ""]
    for kind, imp in summary["importances"].items():
        top = ", ".join(f"{n} ({v:.2f})" for n, v in list(imp.items())[:5])
        lines.append(f"- {kind}: {top}")
    lines += ["", "## Learning curve (grouped CV)", "", "| model | compositions | MAE | RMSE |"]
    lines.append("|---|---|---|---|")
    for kind, rows in summary["learning_curve"].items():
        for r in rows:
            lines.append(
                f"| {kind} | {r['n_train_compositions']:.1f} | {r['mae']:.3f} | {r['rmse']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def _plots(cv, importances, curves, group_by: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(cv)
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 4), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        p = cv[kind][group_by].predictions
        err = np.vstack([p["predicted"] - p["low"], p["high"] - p["predicted"]])
        ax.errorbar(p[TARGET], p["predicted"], yerr=err, fmt="o", ms=3, alpha=0.6, elinewidth=0.7)
        lo = float(min(p[TARGET].min(), p["low"].min()))
        hi = float(max(p[TARGET].max(), p["high"].max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        r = cv[kind][group_by]
        ax.set_title(f"{kind}: R² {r.r2:.2f}, coverage {r.coverage:.2f}")
        ax.set_xlabel("MD log10 D (cm²/s)")
        ax.set_ylabel(f"held-out prediction (CV grouped by {group_by})")
    fig.tight_layout()
    fig.savefig(out / "parity.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    x = np.arange(len(kinds))
    for ax, metric in zip(axes, ("r2", "mae"), strict=True):
        for j, grouping in enumerate((group_by, "none")):
            vals = [getattr(cv[k][grouping], metric) for k in kinds]
            label = f"grouped by {group_by}" if grouping != "none" else "ungrouped (leaks)"
            ax.bar(x + (j - 0.5) * 0.38, vals, 0.38, label=label)
        ax.set_xticks(x, kinds)
        ax.set_ylabel({"r2": "R² (log10 D)", "mae": "MAE (log10 D)"}[metric])
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "cv_grouped_vs_ungrouped.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(kinds), figsize=(4.5 * len(kinds), 3.8), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        s = importances[kind][::-1]
        ax.barh(range(len(s)), s.to_numpy())
        ax.set_yticks(range(len(s)), [str(n)[:38] for n in s.index], fontsize=7)
        ax.set_title(kind)
        ax.set_xlabel("importance")
    fig.tight_layout()
    fig.savefig(out / "importances.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for kind, c in curves.items():
        ax.plot(c["n_train_compositions"], c["mae"], "o-", label=kind)
    ax.set_xlabel("training compositions")
    ax.set_ylabel("held-out MAE (log10 D)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=120)
    plt.close(fig)
