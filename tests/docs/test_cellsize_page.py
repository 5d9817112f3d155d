"""The cell-size guidance of ``docs/protocol.md`` rebuilds from the saved runs.

``benchmarks/bench_cellsize.py --full --out docs/cellsize`` (the command the docs give)
reads ``docs/cellsize/runs/*.json`` without MD; here it runs on a copy in ``tmp_path`` and
the numbers the guidance rests on are checked against the rebuilt table.
"""

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "docs" / "cellsize" / "runs"


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_cellsize", ROOT / "benchmarks" / "bench_cellsize.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def _d(run: str, temperature_K: float, length_ps: float) -> float:
    doc = json.loads((RUNS / f"{run}.json").read_text())
    [anneal] = [a for a in doc["anneals"] if a["temperature_K"] == temperature_K]
    [row] = [r for r in anneal["lengths"] if r["length_ps"] == length_ps]
    return row["D_cm2_s"]


def test_table_rebuilds_from_saved_runs(tmp_path):
    shutil.copytree(RUNS, tmp_path / "runs")
    assert _bench().main(["--full", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "cellsize.md").read_text()
    assert (tmp_path / "cellsize.png").stat().st_size > 10_000
    # the rows quoted in docs/protocol.md
    assert "| Li2Si2O5 | 1000 | 117 (26) | 2.314 | 3.2e-05 → 2.05e-05 ± 4.4e-06 |" in table
    assert "| Li2SiO3 | 1000 | 240 (80) | 2.174 |" in table
    assert "| Li2Si2O5 | 117 | 1000 | 80 | 3 |" in table


def test_guidance_numbers():
    # three 117-atom glasses at 1000 K differ by ~half their mean at every length ...
    for length, spread in ((10, 0.49), (40, 0.33), (80, 0.48)):
        d = [_d(f"Li2Si2O5_120_s{s}_r10", 1000.0, length) for s in (1, 2, 3)]
        assert np.std(d, ddof=1) / np.mean(d) == pytest.approx(spread, abs=0.01)
    # ... and by < 10 % at 1500 K
    d = [_d(f"Li2Si2O5_120_s{s}_r10", 1500.0, 40) for s in (1, 2, 3)]
    assert np.std(d, ddof=1) / np.mean(d) < 0.10
    # the per-atom σ falls as N_Li^-1/2 (a) but hardly with run length (c)
    bench = _bench()
    results = [json.loads(p.read_text()) for p in sorted(RUNS.glob("*_s1_*.json"))]
    _, fits = bench.tables(results)
    for _formula, _temp, _fit, _points, by_method, _atoms in fits:
        _, a, _, c, _ = by_method["atoms"]
        assert -0.6 < a < -0.4
        assert -0.4 < c < -0.05
