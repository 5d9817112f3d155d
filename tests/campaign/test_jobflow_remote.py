"""jobflow-remote launcher: per-stage worker/resources, project checks (no runner daemon).

What cannot be tested here: the runner daemon submitting to a queue and running
the jobs (needs a MongoDB queue store and a scheduler).
"""

import pytest
import yaml

from amorphdb.campaign import campaign_from_dict
from amorphdb.campaign.fireworks import stage_of
from amorphdb.campaign.jobflow_remote import JobflowRemoteLauncher, prepare_flow
from amorphdb.errors import ConfigError
from tests.campaign.conftest import TINY_PROTOCOL

RESOURCES = {"default": {"nodes": 1, "time": "00:30:00"}, "melt": {"nodes": 2}}


@pytest.fixture
def projects(tmp_path, monkeypatch):
    from jobflow_remote import SETTINGS

    folder = tmp_path / "jfremote"
    folder.mkdir()
    monkeypatch.setattr(SETTINGS, "projects_folder", str(folder))
    project = {
        "name": "amorph",
        "workers": {
            w: {"type": "local", "scheduler_type": "shell", "work_dir": str(tmp_path / w)}
            for w in ("cpu", "bigmem")
        },
        "queue": {"store": {"type": "MongoStore", "host": "localhost", "port": 1,
                            "database": "jf", "collection_name": "jobs",
                            "mongoclient_kwargs": {"serverSelectionTimeoutMS": 300}}},
        "exec_config": {},
        "jobstore": {"docs_store": {"type": "MemoryStore"},
                     "additional_stores": {"data": {"type": "MemoryStore"}}},
    }
    (folder / "amorph.yaml").write_text(yaml.safe_dump(project))
    return folder


def _spec(tmp_path, **jfr):
    return campaign_from_dict(
        {"name": "tiny", "compositions": ["Li2Si2O5"], "protocol": TINY_PROTOCOL,
         "resources": RESOURCES,
         "launchers": {"jobflow_remote": {"project": "amorph", **jfr}}},
        source=str(tmp_path / "c.yaml"),
    )


def test_per_stage_worker_and_resources(tmp_path):
    spec = _spec(tmp_path, worker="cpu", workers={"melt": "bigmem"})
    flow = prepare_flow(spec, "Li2Si2O5")
    seen = set()
    for job, _ in flow.iterflow():
        stage = stage_of(job.name)
        seen.add(stage)
        mc = job.config.manager_config
        assert mc["worker"] == ("bigmem" if stage == "melt" else "cpu")
        assert mc["resources"] == {**RESOURCES["default"], **RESOURCES.get(stage, {})}
    assert {"pack", "melt", "anneal", "record", "volume"} <= seen


def test_unknown_project(tmp_path, projects):
    spec = _spec(tmp_path).model_copy(update={"launchers": campaign_from_dict(
        {"name": "x", "compositions": ["Li2O"],
         "launchers": {"jobflow_remote": {"project": "nope"}}}).launchers})
    with pytest.raises(ConfigError, match="project 'nope' not found"):
        JobflowRemoteLauncher.connect(spec)


def test_unknown_worker(tmp_path, projects):
    with pytest.raises(ConfigError, match=r"has no worker\(s\) gpu; known: (cpu|bigmem), "):
        JobflowRemoteLauncher.connect(_spec(tmp_path, worker="gpu"))


def test_unreachable_queue_database_names_address(tmp_path, projects):
    with pytest.raises(ConfigError, match="queue database at localhost:1"):
        JobflowRemoteLauncher.connect(_spec(tmp_path, worker="cpu"))
