"""Read-only commands never create a store: a missing one is refused in one line, exit 2."""

from __future__ import annotations

import pytest

from amorphdb.cli import main
from tests.campaign.conftest import tiny_campaign_file


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["rerun", "--dry-run"]])
def test_never_submitted_campaign_creates_nothing(tmp_path, capsys, command):
    """The campaign's store does not exist yet: refused, nothing written anywhere."""
    path = tiny_campaign_file(tmp_path, compositions=["Li2Si2O5", "Li2SiO3"])
    before = _files(tmp_path)
    assert main([command[0], str(path), *command[1:]]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err and str(tmp_path / "db") in err
    assert _files(tmp_path) == before  # no store folder, no lock file, no montydb config


@pytest.mark.parametrize(
    "command",
    [["query"], ["query", "--fields", "cn.Si-O"], ["db", "stats"], ["db", "check"],
     ["db", "build"], ["db", "backfill"], ["export", "table", "out.csv"]],
)
def test_read_only_commands_refuse_a_missing_store(tmp_path, capsys, monkeypatch, command):
    """Run from the wrong folder: no ``./amorphdb-data`` appears."""
    monkeypatch.delenv("AMORPHDB_STORE", raising=False)  # the default store, ./amorphdb-data
    monkeypatch.delenv("JOBFLOW_JOB_STORE", raising=False)
    monkeypatch.setenv("JOBFLOW_CONFIG_FILE", str(tmp_path.parent / "no-jobflow.yaml"))
    assert main(command) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "amorphdb-data does not exist" in err
    assert _files(tmp_path) == []
