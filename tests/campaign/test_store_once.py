"""One store opening per command; a glass-only composition counts as completed.

Real LAMMPS (Pedone), a 36-atom Li2Si2O5 cell: melt, NPT cooling path at 2000 K/ps to
a 300 K glass point, no anneal temperatures (so no Arrhenius fit).
"""

import pytest

from amorphdb.campaign import load_campaign
from amorphdb.campaign.local import attempt_settings
from amorphdb.campaign.sync import sync_campaign
from amorphdb.cli import main
from amorphdb.store import open_database
from amorphdb.store.database import AmorphousDB
from tests.campaign.conftest import TINY_PROTOCOL

GLASS_ONLY = {
    **TINY_PROTOCOL,
    "anneal_temperatures_K": [],
    "cooling": {"method": "path", "rate_K_per_ps": 2000, "glass_temperature_K": 300,
                "glass_steps": 300},
}


@pytest.fixture
def openings(monkeypatch):
    """Every opening of a campaign database (``open_database`` → ``from_config``)."""
    calls = []
    original = AmorphousDB.from_config.__func__

    def counted(cls, *args, **kwargs):
        calls.append(args[0] if args else kwargs.get("config_or_path"))
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(AmorphousDB, "from_config", classmethod(counted))
    return calls


@pytest.mark.slow
def test_glass_only_composition_completes_and_each_command_opens_the_store_once(
    campaign_file, openings, capsys
):
    path = campaign_file(protocol=GLASS_ONLY)
    assert main(["run", str(path)]) == 0, capsys.readouterr().err
    assert len(openings) == 1, openings  # plan, claims, records, results table: one store
    err = capsys.readouterr().err
    assert "1/1 compositions completed" in err, err

    with open_database(path.parent / "store.yaml") as db:
        record = db.get_campaign("tiny", "Li2Si2O5")
        assert record.state == "completed" and len(record.attempts) == 1
        assert record.attempts[0].stage == "glass"
        docs = {(d.temperature_K, d.descriptors.get("stage")): d
                for d in db.find(campaign="tiny", formula="Li2Si2O5")}
        assert sorted(docs) == [(300.0, "glass"), (5000.0, "melt")]
        assert db.find_arrhenius(campaign="tiny") == []  # no anneal temperatures: no fit
        glass, melt = docs[(300.0, "glass")], docs[(5000.0, "melt")]
        # the quenched glass is denser than the 5000 K melt, and a silicate glass
        assert glass.density_g_cm3 > melt.density_g_cm3
        assert 2.0 < glass.density_g_cm3 < 2.9

    for command in ("submit", "status", "rerun"):
        openings.clear()
        assert main([command, str(path)]) == 0, capsys.readouterr().err
        assert len(openings) == 1, (command, openings)
    out = capsys.readouterr().out
    assert "submitted 0, skipped 1 completed" in out and "reran 0 composition" in out, out

    # the same records written by a FireWorks worker: sync completes it by its glass point
    spec = load_campaign(path)
    with open_database(path.parent / "store.yaml") as db:
        settings = {**attempt_settings(spec, "fireworks"), "fw_ids": [1]}
        db.record_attempt("tiny", "Li2Si2O5", "waiting", settings=settings)
        assert sync_campaign(spec, db) == {"Li2Si2O5": "completed"}
        record = db.get_campaign("tiny", "Li2Si2O5")
        assert record.state == "completed" and record.attempts[-1].stage == "glass"
