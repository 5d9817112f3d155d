"""``amorphdb db stats`` and ``amorphdb db build``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from store_factories import make_amorphous, md_like_trajectory, run_md_and_record

from amorphdb.cli import main
from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB


def test_stats_counts(tmp_path, capsys):
    folder = tmp_path / "db"
    with AmorphousDB.from_config(StoreConfig(path=folder)) as db:
        for t in (1000, 1500, 2000):
            db.upsert_amorphous(make_amorphous(temperature_K=t))
        db.upsert_amorphous(make_amorphous({"Li": 6, "B": 2, "O": 6}, temperature_K=1000))
        db.upsert_amorphous(make_amorphous({"Na": 2, "O": 1}, state="failed", D_Li=None))
        db.record_attempt("test", "Na2O", "failed", error="boom")
    assert main(["db", "stats", "--store", str(folder), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["amorphous"] == 5
    assert s["by_state"] == {"completed": 4, "failed": 1}
    assert s["by_chemsys"] == {"Li-O-Si": 3, "B-Li-O": 1, "Na-O": 1}
    assert s["by_temperature_K"] == {"1000": 3, "1500": 1, "2000": 1}
    assert s["campaigns_by_state"] == {"failed": 1}
    assert main(["db", "stats", "--store", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Li-O-Si" in out and "5 result(s)" in out


def test_build_collects_job_outputs_idempotently(tmp_path, capsys):
    config = StoreConfig(path=tmp_path / "db")
    run_md_and_record(tmp_path, config, md_like_trajectory(n_frames=10))
    assert main(["db", "build", "--store", str(tmp_path / "db")]) == 0
    assert "3 inserted" in capsys.readouterr().out
    assert main(["db", "build", "--store", str(tmp_path / "db")]) == 0
    assert "3 unchanged" in capsys.readouterr().out


def test_stats_bad_store(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text("type: embedded\nunknown_key: 1\n")
    assert main(["db", "stats", "--store", str(f)]) == 2
    assert "unknown_key" in capsys.readouterr().err
