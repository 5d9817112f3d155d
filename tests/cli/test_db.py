"""``amorphdb db stats`` and ``amorphdb db build``."""

from __future__ import annotations

import json
import shutil
import sqlite3
import struct
import sys
from pathlib import Path

import pytest

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


# ---------------------------------------------------------------- damaged stores: check/repair


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A real store: a jobflow run (trajectory blob + summary + 2 Arrhenius fits), the
    summaries collected and the campaign record completed."""
    root = tmp_path_factory.mktemp("pristine")
    folder = root / "db"
    config = StoreConfig(path=folder)
    run_md_and_record(root, config, md_like_trajectory(n_atoms=20, n_frames=30))
    with AmorphousDB.from_config(config) as db:
        db.build_from_job_store()
        db.record_attempt("test", "Li2Si2O5", "completed", stage="record")
    _checkpoint(folder)
    return folder


def _checkpoint(folder):
    """Fold the SQLite write-ahead logs into the collection files (as after a clean exit)."""
    for path in (folder / "amorphdb").glob("*.collection"):
        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()


def _copy(pristine, tmp_path):
    folder = tmp_path / "db"
    shutil.copytree(pristine, folder)
    return folder


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def _density(folder):
    """The stored density (g/cm³), read exactly (no JSON rounding)."""
    with AmorphousDB.from_config(StoreConfig(path=folder)) as db:
        (doc,) = db.find()
    return doc.density_g_cm3


def _query_rows(folder, capsys):
    assert main(["query", "--store", str(folder), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_check_passes_on_a_sound_store(pristine, tmp_path, capsys):
    folder = _copy(pristine, tmp_path)
    assert main(["db", "check", "--store", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["problems"] == []
    assert report["checked"]["amorphous"] == 1 and report["checked"]["arrhenius"] == 2
    assert report["checked"]["blobs"] == 1 and report["checked"]["job records"] == 3


def test_flipped_bit_in_summary_detected_and_repaired(pristine, tmp_path, capsys):
    """Issue 12: one flipped bit changed a stored density with no error."""
    folder = _copy(pristine, tmp_path)
    density = _density(folder)  # g/cm³, ~2.3
    _checkpoint(folder)
    path = folder / "amorphdb" / "amorphous.collection"
    data = bytearray(path.read_bytes())
    at = data.find(struct.pack("<d", density))
    assert at > 0
    data[at + 6] ^= 0x10  # one exponent-adjacent bit of the float64
    path.write_bytes(bytes(data))
    assert abs(_density(folder) - density) > 0.1  # silently wrong...
    assert main(["db", "check", "--store", str(folder)]) == 1  # ...but detected
    out = capsys.readouterr().out
    assert "checksum: amorphous/test|Li2Si2O5|1000|p1" in out and "[repairable]" in out
    assert main(["db", "repair", "--store", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "removed damaged amorphous document" in out and "rebuilt 1 summary" in out
    assert _density(folder) == density
    assert main(["db", "check", "--store", str(folder)]) == 0


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_damaged_collection_file_one_line_then_repaired(pristine, tmp_path, capsys, damage):
    folder = _copy(pristine, tmp_path)
    density = _density(folder)
    _checkpoint(folder)
    path = folder / "amorphdb" / "amorphous.collection"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2 + 100])
    else:
        path.write_bytes(data[:100] + bytes(range(256)) * 8 + data[100 + 2048 :])
    for args in (["query"], ["db", "stats"], ["export", "structures", str(tmp_path / "x")]):
        assert main([*args, "--store", str(folder)]) != 0
        _one_line_error(capsys, str(path), "amorphdb db repair")
    assert main(["db", "check", "--store", str(folder)]) == 1
    assert f"unreadable: {path}" in capsys.readouterr().out
    assert main(["db", "repair", "--store", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "moved damaged amorphous.collection" in out and "rebuilt 1 summary" in out
    assert list(path.parent.glob("amorphous.collection.damaged-*"))  # kept for inspection
    assert _density(folder) == density


def test_deleted_summary_collection_is_not_zero_rows(pristine, tmp_path, capsys):
    """Issue 12: query returned 0 rows with exit 0 after the summaries were deleted."""
    folder = _copy(pristine, tmp_path)
    (folder / "amorphdb" / "amorphous.collection").unlink()
    assert main(["query", "--store", str(folder)]) != 0
    _one_line_error(capsys, "amorphous.collection are missing", "amorphdb db repair")
    assert main(["db", "check", "--store", str(folder)]) == 1
    assert "missing" in capsys.readouterr().out
    assert not (folder / "amorphdb" / "amorphous.collection").exists()  # check changes nothing
    assert main(["db", "repair", "--store", str(folder)]) == 0
    assert "rebuilt 1 summary" in capsys.readouterr().out
    assert len(_query_rows(folder, capsys)) == 1


def test_deleted_campaigns_collection_refused_then_records_rebuilt(pristine, tmp_path, capsys):
    """Issue 12: a deleted campaigns collection made submit recompute everything."""
    from amorphdb.errors import StoreError
    from amorphdb.store import open_database

    folder = _copy(pristine, tmp_path)
    (folder / "amorphdb" / "campaigns.collection").unlink()
    with pytest.raises(StoreError, match=r"campaigns\.collection are missing"):
        open_database(folder)  # what run/submit/rerun open: no silent recompute
    assert main(["db", "repair", "--store", str(folder)]) == 0
    assert "rebuilt 1 campaign record" in capsys.readouterr().out
    with open_database(folder) as db:
        (record,) = db.find_campaigns("test")
        assert record.state == "completed"
        assert record.attempts[-1].settings == {"rebuilt_by": "amorphdb db repair"}


def test_results_without_campaign_record_reported(pristine, tmp_path, capsys):
    folder = _copy(pristine, tmp_path)
    with AmorphousDB.from_config(StoreConfig(path=folder)) as db:
        db._embedded("campaigns").delete("test|Li2Si2O5")
        assert db.campaign_book.unrecorded_results("test") == {("test", "Li2Si2O5"): 1}
    assert main(["db", "check", "--store", str(folder)]) == 1
    assert "1 stored result(s) but no campaign record" in capsys.readouterr().out


def test_damaged_blob_reported_not_repairable(pristine, tmp_path, capsys):
    folder = _copy(pristine, tmp_path)
    (blob,) = (folder / "blobs" / "data").glob("*/*")
    data = bytearray(blob.read_bytes())
    data[10] ^= 0x40
    blob.write_bytes(bytes(data))
    assert main(["db", "check", "--store", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "blob: " in out and "checksum mismatch" in out and "NOT repairable" in out
    assert main(["db", "repair", "--store", str(folder)]) == 1  # cannot be rebuilt: says so
    assert "NOT repairable" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["query"], ["db", "stats"], ["db", "check"]])
def test_read_only_commands_refuse_a_missing_store(tmp_path, capsys, monkeypatch, args):
    """Issue 15: run from the wrong folder, read-only commands created ./amorphdb-data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AMORPHDB_STORE", raising=False)
    assert main(args) != 0
    _one_line_error(capsys, "amorphdb-data does not exist", "--store")
    assert not (tmp_path / "amorphdb-data").exists()


def test_unreadable_store_folder_one_line(pristine, tmp_path, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions")
    folder = _copy(pristine, tmp_path)
    (folder / "amorphdb" / "amorphous.collection").chmod(0)
    assert main(["query", "--store", str(folder)]) != 0
    _one_line_error(capsys, "amorphous.collection")


def test_emptied_summaries_are_not_zero_rows(pristine, tmp_path, capsys):
    """Summaries emptied (not deleted) while the campaign says completed: query says so."""
    folder = _copy(pristine, tmp_path)
    con = sqlite3.connect(folder / "amorphdb" / "amorphous.collection")
    with con:
        con.execute("DELETE FROM documents")
    con.close()
    assert main(["query", "--store", str(folder)]) != 0
    _one_line_error(capsys, "no summaries but 1 completed composition", "amorphdb db repair")
    assert main(["db", "repair", "--store", str(folder)]) == 0
    capsys.readouterr()
    assert len(_query_rows(folder, capsys)) == 1


def test_two_collections_lost_with_their_wal_files_left_behind(pristine, tmp_path, capsys):
    """A deleted collection's -wal/-shm files made montydb believe it still existed."""
    folder = _copy(pristine, tmp_path)
    for name in ("amorphous", "campaigns"):
        path = folder / "amorphdb" / f"{name}.collection"
        path.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").write_bytes(b"\0" * 64)
    assert main(["db", "repair", "--store", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "rebuilt 1 summary" in out and "rebuilt 1 campaign record" in out
    assert len(_query_rows(folder, capsys)) == 1


def test_build_keeps_back_filled_descriptors(tmp_path, capsys):
    """``db build`` after ``db backfill`` keeps the descriptors (a real jobflow run whose
    trajectory is antifluorite Li2O with thermal noise: Li–O CN 4)."""
    import numpy as np
    from pymatgen.core import Lattice, Structure

    from amorphdb.analysis import Trajectory

    li2o = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]]
    ) * 2  # 96 atoms
    frames = li2o.cart_coords + np.random.default_rng(0).normal(0, 0.05, (10, len(li2o), 3))
    traj = Trajectory([s.symbol for s in li2o.species], frames, li2o.lattice.matrix, 20.0)
    folder = str(tmp_path / "db")
    run_md_and_record(tmp_path, StoreConfig(path=tmp_path / "db"), traj)
    assert main(["db", "build", "--store", folder]) == 0
    assert "3 inserted" in capsys.readouterr().out
    assert main(["db", "backfill", "--store", folder]) == 0
    assert "1 updated" in capsys.readouterr().out
    with AmorphousDB.from_config(StoreConfig(path=tmp_path / "db")) as db:
        (before,) = db.find()
    assert before.descriptors["structure"]["cn"]["Li-O"] == 4.0
    assert before.descriptors["Si_O_coordination"] == 4.0  # what the job wrote is kept too
    assert main(["db", "build", "--store", folder]) == 0
    assert "3 unchanged" in capsys.readouterr().out
    with AmorphousDB.from_config(StoreConfig(path=tmp_path / "db")) as db:
        (after,) = db.find()
    assert after.descriptors == before.descriptors and after.updated_at == before.updated_at
    assert main(["query", "--store", folder, "--fields", "cn.Li-O", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"cn.Li-O": 4.0}]
