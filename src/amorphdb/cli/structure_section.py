"""``amorphdb analyze --structure``: structure descriptors of each analysed file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amorphdb.errors import AmorphdbError


def add_structure(analyses: list[dict[str, Any]], plot: Path | None) -> list[str]:
    """Add ``summary["structure"]`` (plain numbers) and printable lines to each analysis;
    with ``plot``, write ``NAME-structure.png`` (``NAME-structure-N.png`` for several files).

    Returns the plot paths written.
    """
    from amorphdb.analysis import AnalysisError
    from amorphdb.analysis.descriptor_report import descriptor_lines, plot_descriptors
    from amorphdb.analysis.descriptors import structure_descriptors

    plots = []
    for i, a in enumerate(analyses, 1):
        try:
            d = structure_descriptors(a["trajectory"])
        except AnalysisError as exc:
            raise AmorphdbError(f"{a['summary']['file']}: {exc}") from exc
        entry = d.to_dict()
        entry.pop("curves")
        entry["sq"] = {
            "q_inv_A": d.sq_q_inv_A.round(3).tolist(),
            "neutron": d.sq_neutron.round(4).tolist(),
            "xray": d.sq_xray.round(4).tolist(),
        }
        a["summary"]["structure"] = entry
        a["structure_lines"] = descriptor_lines(d)
        if plot is not None:
            suffix = "" if len(analyses) == 1 else f"-{i}"
            path = plot.with_name(f"{plot.stem}-structure{suffix}{plot.suffix}")
            plots.append(str(plot_descriptors(d, path, a["summary"]["file"])))
    return plots
