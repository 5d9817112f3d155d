"""jobflow-remote launcher: per-stage worker/resources, project checks (no runner daemon).

A real submission: the queue database on mongomock, jobflow-remote's Runner in this process,
qtoolkit submitting the job script to the real Slurm cluster, the output in the job store.
"""

import pytest
import yaml

from amorphdb.campaign import campaign_from_dict
from amorphdb.campaign.fireworks import stage_of
from amorphdb.campaign.jobflow_remote import JobflowRemoteLauncher, prepare_flow
from amorphdb.errors import ConfigError
from tests.campaign.conftest import TINY_PROTOCOL
from tests.campaign.test_parsl_slurm import slurm  # noqa: F401  (fixture)

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


@pytest.fixture
def mongomock_queue():
    """jobflow-remote's queue database on mongomock, in this process (no server)."""
    from unittest import mock

    import maggma.stores.mongolike
    import mongomock

    patch = mongomock.patch(servers=(("localhost", 27017),))
    # maggma's MongoStore holds its own reference to pymongo's MongoClient
    with patch, mock.patch.object(maggma.stores.mongolike, "MongoClient", patch.new):
        yield {"type": "MongoStore", "host": "localhost", "port": 27017, "database": "jf",
               "collection_name": "jobs"}


@pytest.mark.slow
@pytest.mark.usefixtures("slurm")
def test_submit_then_runner_runs_a_job_on_real_slurm_into_the_campaign_store(
    campaign_file, tmp_path, monkeypatch, mongomock_queue
):
    """submit → queue database → jobflow-remote's Runner → qtoolkit sbatch → job store."""
    import json
    import sys
    from pathlib import Path

    from jobflow_remote import SETTINGS
    from jobflow_remote.jobs.runner import Runner
    from jobflow_remote.jobs.state import JobState
    from monty.json import MontyEncoder

    from amorphdb.campaign import load_campaign
    from amorphdb.campaign.submit import submit, sync_and_read_status
    from amorphdb.store import open_database

    folder = tmp_path / "jfremote"
    folder.mkdir()
    monkeypatch.setattr(SETTINGS, "projects_folder", str(folder))
    path = campaign_file(launchers={"jobflow_remote": {"project": "amorph", "worker": "slurm"}})
    spec = load_campaign(path)
    db = open_database(spec.store_path())
    project = {
        "name": "amorph",
        "workers": {"slurm": {
            "type": "local", "scheduler_type": "slurm", "work_dir": str(tmp_path / "jobs"),
            "pre_run": f"export PATH={Path(sys.executable).parent}:$PATH",
            "resources": {"ntasks": 1, "time": "00:05:00"}}},
        "queue": {"store": mongomock_queue},
        "exec_config": {},
        "runner": {"delay_checkout": 1, "delay_check_run_status": 1, "delay_advance_status": 1},
        # the project's JobStore is the campaign's (embedded) store
        "jobstore": json.loads(json.dumps(db.job_store.as_dict(), cls=MontyEncoder)),
    }
    (folder / "amorph.yaml").write_text(yaml.safe_dump(project))
    launcher = JobflowRemoteLauncher.connect(spec)
    launcher.job_controller().auxiliary.insert_one({"next_id": 1})  # what 'jf admin reset' does
    plan, outcome = submit(spec, "jobflow-remote")
    assert plan.to_submit == ["Li2Si2O5"]
    flow_uuid = outcome["Li2Si2O5"]["flow_uuid"]
    record = db.get_campaign("tiny", "Li2Si2O5")
    assert record.state == "waiting" and record.attempts[-1].settings["flow_uuid"] == flow_uuid
    controller = launcher.job_controller()
    infos = controller.get_jobs_info(flow_ids=[flow_uuid])
    assert len(infos) == len(outcome["Li2Si2O5"]["db_ids"])
    pack = next(i for i in infos if i.name == "pack Li2Si2O5")
    assert pack.state == JobState.READY
    Runner("amorph").run_one_job(db_id=pack.db_id, max_seconds=240)
    info = controller.get_job_info(db_id=pack.db_id)
    assert info.state == JobState.COMPLETED, info.error
    script = (Path(info.run_dir) / "submit.sh").read_text()
    assert "#SBATCH --ntasks=1" in script  # qtoolkit's Slurm script, run by sbatch
    doc = db.job_store.query_one({"uuid": pack.uuid}, load=True)
    assert doc is not None, "the job's output is not in the campaign's JobStore"
    output = doc["output"]
    sites = (output.get("structure") or output)["sites"] if isinstance(output, dict) else []
    assert len(sites) == 36, list(output)
    # the rest of the flow is still queued: the composition is in flight, not failed
    (status,) = sync_and_read_status(spec, db)
    assert status.state == "waiting"
