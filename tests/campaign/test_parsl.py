"""Parsl launcher: settings and bad input (no scheduler), a real run on local blocks."""

import os
import stat

import pytest

from amorphdb.campaign import load_campaign
from amorphdb.campaign.launchers import Launcher, connect_launcher, launcher_class
from amorphdb.campaign.parsl_launcher import ParslLauncher, longest_stage_seconds
from amorphdb.campaign.parsl_settings import walltime_seconds
from amorphdb.cli import main
from amorphdb.errors import ConfigError
from amorphdb.store import open_database


def _parsl(campaign_file, **settings):
    return campaign_file(launchers={"parsl": settings})


@pytest.mark.parametrize(("text", "seconds"), [("00:10:00", 600), ("1-00:00:30", 86430),
                                               ("48:00:00", 172800)])
def test_walltime_seconds(text, seconds):
    assert walltime_seconds(text) == seconds


def test_every_launcher_is_registered_and_implements_the_protocol():
    for name in Launcher:
        cls = launcher_class(name)
        assert cls.name == name.value
        for method in ("connect", "submit", "sync"):
            assert callable(getattr(cls, method)), (name, method)


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"provider": "pbs"}, "provider"),
     ({"walltime": "ten minutes"}, "walltime 'ten minutes' is not [D-]HH:MM:SS"),
     ({"nodes_per_block": 0}, "nodes_per_block"),
     ({"max_blocks": 0}, "max_blocks")],
)
def test_bad_settings_fail_at_load_in_one_line(campaign_file, capsys, settings, message):
    path = _parsl(campaign_file, **settings)
    assert main(["submit", str(path), "--launcher", "parsl"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (path.parent / "db").exists()  # nothing written


def test_walltime_that_cannot_fit_the_longest_stage(campaign_file, capsys):
    path = _parsl(campaign_file, provider="local", walltime="00:00:01")
    spec = load_campaign(path)
    spec = spec.model_copy(update={"protocol": spec.protocol.model_copy(
        update={"cooling": spec.protocol.cooling.model_copy(update={"method": "none"})})})
    # melt 500 steps × 36 atoms × 5e-5 core-s = 0.9 s, anneal 1000 steps 1.8 s; the
    # volume scan (3 + 2) × 300 steps × 36 atoms × 5e-5 core-s = 2.7 s is the longest
    assert longest_stage_seconds(spec, 1) == pytest.approx(2.7)
    assert main(["submit", str(path), "--launcher", "parsl"]) == 2
    err = capsys.readouterr().err
    assert "walltime 00:00:01 (1 s) cannot fit the longest stage" in err
    assert not (path.parent / "db").exists()


def test_too_many_cores_per_composition(campaign_file):
    spec = load_campaign(_parsl(campaign_file, provider="local", cores_per_node=2,
                                cores_per_composition=4))
    with pytest.raises(ConfigError, match="cores_per_composition 4 exceeds the 2 cores"):
        ParslLauncher.connect(spec)


def _fake_sinfo(tmp_path, monkeypatch, script):
    """Put a ``sinfo`` that behaves as ``script`` first on PATH (fault injection)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    sinfo = bindir / "sinfo"
    sinfo.write_text(f"#!/bin/sh\n{script}\n")
    sinfo.chmod(sinfo.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


def test_sinfo_failing_means_slurm_unreachable(campaign_file, tmp_path, monkeypatch, capsys):
    _fake_sinfo(tmp_path, monkeypatch,
                "echo 'slurm_load_partitions: Unable to contact slurm controller' >&2; exit 1")
    path = _parsl(campaign_file, provider="slurm")
    assert main(["submit", str(path), "--launcher", "parsl"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: Slurm is not reachable: 'sinfo' failed (slurm_load_partitions: "
                   "Unable to contact slurm controller); start it "
                   "(scripts/slurm-cluster.sh up)")
    assert not (path.parent / "db").exists()


def test_unknown_partition_names_the_known_ones(campaign_file, tmp_path, monkeypatch):
    _fake_sinfo(tmp_path, monkeypatch, "echo 'debug* 2'; echo 'long 64'")
    spec = load_campaign(_parsl(campaign_file, partition="gpu"))
    with pytest.raises(ConfigError, match="partition 'gpu' is not a Slurm partition here; "
                                          "known: debug, long"):
        connect_launcher(spec, "parsl")
    # a known partition: its cores per node set the workers per node
    spec = load_campaign(_parsl(campaign_file, partition="long", cores_per_composition=8))
    assert connect_launcher(spec, "parsl").workers_per_node == 8


@pytest.mark.slow
def test_local_blocks_run_two_compositions_and_resubmit_runs_nothing(campaign_file, capsys):
    """Parsl's LocalProvider: the same driver as on Slurm, without a scheduler."""
    path = campaign_file(compositions=["Li2Si2O5", "Li2O"],
                         launchers={"parsl": {"provider": "local", "cores_per_node": 2,
                                              "address": "127.0.0.1"}})
    assert main(["submit", str(path), "--launcher", "parsl"]) == 0
    out = capsys.readouterr().out
    assert "submitted 2" in out and "2/2 compositions completed" in out
    db = open_database(path.parent / "store.yaml")
    for formula in ("Li2Si2O5", "Li2O"):
        docs = db.find(campaign="tiny", formula=formula)
        assert sorted(d.temperature_K for d in docs) == [1500, 2500, 5000]
        record = db.get_campaign("tiny", formula)
        assert record.state == "completed" and len(record.attempts) == 1
        assert record.attempts[0].settings["launcher"] == "parsl"
    assert db.job_store.docs_store.count({"name": {"$regex": "^pack"}}) == 2
    # both compositions ran in one block (one pilot job), on its 2 workers
    scripts = (path.parent / "runs" / "tiny" / ".parsl").glob("*/submit_scripts/parsl.*")
    assert {p.name.split(".block-")[1].split(".")[0] for p in scripts} == {"0"}
    # a second submit finds everything completed: runs nothing, starts no block
    assert main(["submit", str(path), "--launcher", "parsl"]) == 0
    assert "submitted 0, skipped 2 completed" in capsys.readouterr().out
    assert db.job_store.docs_store.count({"name": {"$regex": "^pack"}}) == 2


def test_example_parsl_campaign_dry_runs(capsys):
    from pathlib import Path

    config = Path(__file__).resolve().parents[2] / "configs" / "example-parsl.yaml"
    assert main(["submit", str(config), "--launcher", "parsl", "--dry-run"]) == 0
    assert "4 composition(s) would be submitted with launcher parsl" in capsys.readouterr().out
    assert load_campaign(config).launchers.parsl.max_blocks == 2
