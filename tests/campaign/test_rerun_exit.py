"""``amorphdb rerun`` exits 1 while failed compositions remain that used every attempt."""

from amorphdb.cli import main
from amorphdb.store import open_database


def _fail_twice(path):
    with open_database(path.parent / "store.yaml") as db:
        for _ in range(2):
            db.record_attempt("tiny", "Li2Si2O5", "running")
            db.record_attempt("tiny", "Li2Si2O5", "failed", error="packmol failed to pack")


def test_rerun_with_only_exhausted_compositions_exits_1_and_says_how_to_retry(
    campaign_file, capsys
):
    path = campaign_file(max_attempts=2)
    _fail_twice(path)
    assert main(["rerun", str(path)]) == 1
    captured = capsys.readouterr()
    assert "reran 0 composition(s)" in captured.out
    line = " ".join(captured.err.split())
    assert ("1 composition(s) failed for good, every attempt used (max_attempts 2): "
            "Li2Si2O5; to retry them raise max_attempts") in line, captured.err
    assert "Traceback" not in captured.err
    with open_database(path.parent / "store.yaml") as db:  # nothing was run or recorded
        assert len(db.get_campaign("tiny", "Li2Si2O5").attempts) == 2
    # a preview is not a failure; with one more attempt allowed the rerun is planned
    assert main(["rerun", str(path), "--dry-run"]) == 0
    path = campaign_file(max_attempts=3)
    assert main(["rerun", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Li2Si2O5: attempt 3 (" in out and "would rerun 1 composition(s)" in out, out
