"""FireWorks launcher: workflow conversion (no server), unreachable LaunchPad, real run."""

import os

import pytest

from amorphdb.campaign import campaign_from_dict
from amorphdb.campaign.fireworks import (
    FireWorksLauncher,
    campaign_workflow,
    stage_of,
    workflow_from_flow,
)
from amorphdb.campaign.local import maker_for
from amorphdb.errors import ConfigError
from tests.campaign.conftest import TINY_PROTOCOL

RESOURCES = {
    "default": {"nodes": 1, "ntasks": 1, "walltime": "00:30:00"},
    "melt": {"walltime": "04:00:00", "ntasks": 4},
    "anneal": {"walltime": "12:00:00"},
}


def _spec(tmp_path, **fields):
    return campaign_from_dict(
        {"name": "tiny", "compositions": ["Li2Si2O5"], "protocol": TINY_PROTOCOL,
         "resources": RESOURCES, **fields},
        source=str(tmp_path / "c.yaml"),
    )


@pytest.mark.parametrize(
    ("name", "stage"),
    [("pack Li2Si2O5", "pack"), ("record_temperature", "record"), ("melt 5000 K", "melt"),
     ("anneal 1500 K", "anneal"), ("volume scan 5000 K", "volume")],
)
def test_stage_of(name, stage):
    assert stage_of(name) == stage


def test_workflow_has_one_firework_per_job_with_stage_resources_and_links(tmp_path):
    spec = _spec(tmp_path)
    flow = maker_for(spec).make("Li2Si2O5")
    wf = workflow_from_flow(flow, spec.resources, "tiny Li2Si2O5")
    jobs = {job.uuid: job for job, _ in flow.iterflow()}
    assert len(wf.fws) == len(jobs)
    by_uuid = {fw.tasks[0]["job"].uuid: fw for fw in wf.fws}
    assert set(by_uuid) == set(jobs)
    for uuid, fw in by_uuid.items():
        qa = fw.spec["_queueadapter"]
        stage = stage_of(jobs[uuid].name)
        expected = {**RESOURCES["default"], **RESOURCES.get(stage, {})}
        assert qa == expected, jobs[uuid].name
    # dependencies: the FireWorks links are the flow graph's edges
    graph = flow.graph
    fw_id = {uuid: fw.fw_id for uuid, fw in by_uuid.items()}
    expected_links = {(fw_id[a], fw_id[b]) for a, b in graph.edges if a in fw_id and b in fw_id}
    links = {(parent, child) for parent, children in wf.links.items() for child in children}
    assert links == expected_links and links
    melt = [fw for u, fw in by_uuid.items() if jobs[u].name.startswith("melt")]
    assert melt and all(fw.spec["_queueadapter"]["walltime"] == "04:00:00" for fw in melt)


def test_resumed_workflow_runs_only_unfinished_stages(tmp_path):
    from amorphdb.flows.resume import ResumePoint, StageOutputs

    spec = _spec(tmp_path)
    point = ResumePoint(StageOutputs("melt-run", "melt-volume"),
                        anneals={1500.0: StageOutputs("a1500-run", "a1500-volume")})
    with pytest.raises(ValueError, match="external"):  # jobflow refuses them by default
        workflow_from_flow(maker_for(spec).make("Li2Si2O5", resume=point), {}, "x")
    wf = campaign_workflow(spec, "Li2Si2O5", resume=point)
    names = [fw.tasks[0]["job"].name for fw in wf.fws]
    assert not any(n.startswith(("pack", "melt", "anneal 1500")) for n in names)
    assert "anneal 2500 K" in names
    assert names.count("record_temperature") == 3
    # the records of the reused stages read their outputs from the JobStore
    inputs = [fw.tasks[0]["job"].input_uuids for fw in wf.fws]
    assert any({"melt-run", "melt-volume"} <= set(u) for u in inputs)


def test_unreachable_launchpad_fails_fast_naming_address(tmp_path):
    lp = tmp_path / "my_launchpad.yaml"
    lp.write_text("host: localhost\nport: 1\nname: fireworks\n")
    spec = _spec(tmp_path, launchers={"fireworks": {"launchpad_file": str(lp)}})
    with pytest.raises(ConfigError, match="cannot reach the LaunchPad MongoDB at localhost:1"):
        FireWorksLauncher.connect(spec, timeout_ms=300)


def test_missing_launchpad_file(tmp_path):
    spec = _spec(tmp_path, launchers={"fireworks": {"launchpad_file": "nope.yaml"}})
    with pytest.raises(ConfigError, match="cannot read LaunchPad file"):
        FireWorksLauncher.connect(spec)


@pytest.mark.slow
def test_rocket_launcher_runs_tiny_composition(tmp_path):
    uri = os.environ.get("AMORPHDB_TEST_MONGODB_URI")
    if not uri:
        pytest.skip("AMORPHDB_TEST_MONGODB_URI is not set: no MongoDB server for a LaunchPad")
    from fireworks.core.rocket_launcher import rapidfire
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    lp = tmp_path / "my_launchpad.yaml"
    lp.write_text(f"host: {uri}\nname: amorphdb_test_fw\nuri_mode: true\n")
    spec = _spec(tmp_path, launchers={"fireworks": {"launchpad_file": str(lp)}})
    launcher = FireWorksLauncher.connect(spec)
    launcher.launchpad.reset("", require_password=False)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    wf = campaign_workflow(spec, "Li2Si2O5", store=store)
    launcher.launchpad.add_wf(wf)
    os.chdir(tmp_path)
    rapidfire(launcher.launchpad, nlaunches=0)
    assert store.docs_store.count({"name": "record_arrhenius"}) == 1


@pytest.fixture
def mongomock_launchpad(tmp_path):
    """A LaunchPad file whose MongoDB is mongomock's, in this process (no server)."""
    import mongomock
    from mongomock.gridfs import enable_gridfs_integration

    enable_gridfs_integration()  # the LaunchPad keeps large documents in GridFS
    lp = tmp_path / "my_launchpad.yaml"
    lp.write_text("host: localhost\nport: 27017\nname: amorphdb_fw\n")
    from unittest import mock

    import fireworks.core.launchpad

    patch = mongomock.patch(servers=(("localhost", 27017),))
    # the LaunchPad module holds its own reference to pymongo's MongoClient
    with patch, mock.patch.object(fireworks.core.launchpad, "MongoClient", patch.new):
        fireworks.core.launchpad.LaunchPad.from_file(str(lp)).reset(
            "", require_password=False)  # 'lpad reset'
        yield lp


def _launch_until(launchpad, done):
    """FireWorks' own rocket launcher, one Firework at a time, until ``done()``."""
    from fireworks.core.rocket_launcher import rapidfire

    for _ in range(200):
        if done() or not launchpad.fireworks.count_documents({"state": "READY"}):
            return
        rapidfire(launchpad, nlaunches=1, sleep_time=0)


@pytest.mark.slow
def test_rapidfire_on_mongomock_runs_the_campaign_and_a_resumed_rerun(
    campaign_file, mongomock_launchpad, monkeypatch, tmp_path
):
    """submit → rapidfire → status, with a fizzled Firework → rerun resumes from the melt."""
    from jobflow import SETTINGS

    from amorphdb.campaign import load_campaign
    from amorphdb.campaign.submit import read_status, rerun, submit, sync_and_read_status
    from amorphdb.store import open_database

    path = campaign_file(launchers={"fireworks": {"launchpad_file": str(mongomock_launchpad)}})
    spec = load_campaign(path)
    db = open_database(spec.store_path())
    monkeypatch.setattr(SETTINGS, "JOB_STORE", db.job_store)  # the workers' JOB_STORE
    plan, outcome = submit(spec, "fireworks")
    assert plan.to_submit == ["Li2Si2O5"] and outcome["Li2Si2O5"]["fw_ids"]
    launchpad = FireWorksLauncher.connect(spec).launchpad
    # every MD job runs: EngineSpec and MDSettings survive FireWorks' JSON round trip
    melt_done = lambda: launchpad.fireworks.count_documents(  # noqa: E731
        {"name": "melt 5000 K", "state": "COMPLETED"})
    _launch_until(launchpad, melt_done)
    assert melt_done() and not launchpad.fireworks.count_documents({"state": "FIZZLED"})
    # the next Firework's job is killed mid-run; FireWorks' lost-run check fizzles it
    from fireworks import FWorker

    fw, _ = launchpad.checkout_fw(FWorker(), str(tmp_path / "killed"))
    assert fw is not None and launchpad.get_fw_by_id(fw.fw_id).state == "RUNNING"
    launchpad.detect_lostruns(expiration_secs=0, fizzle=True)
    (status,) = sync_and_read_status(spec, db)
    assert status.state == "failed" and "fizzled" in status.last_error
    # rerun: a new workflow that refers to the finished melt instead of running it
    items, outcome = rerun(spec, "fireworks")
    assert [i.formula for i in items] == ["Li2Si2O5"]
    new_ids = outcome["Li2Si2O5"]["fw_ids"]
    names = [launchpad.get_fw_by_id(i).name for i in new_ids]
    assert "melt 5000 K" not in names and not any(n.startswith("pack") for n in names), (
        names, db.get_campaign("tiny", "Li2Si2O5").attempts[-1].settings.get("resumed_from"))
    _launch_until(launchpad, lambda: False)
    (status,) = sync_and_read_status(spec, db)
    assert status.state == "completed", status.last_error
    docs = db.job_store.docs_store
    assert docs.count({"name": "melt 5000 K"}) == 1  # not recomputed
    assert docs.count({"name": "record_arrhenius"}) == 1
    temps = sorted(d.temperature_K for d in db.find(campaign="tiny"))
    assert temps == sorted(set(temps)) and 5000 in temps and 1500 in temps
    record = db.get_campaign("tiny", "Li2Si2O5")
    assert [a.state for a in record.attempts] == ["failed", "completed"]
    assert "melt" in record.attempts[-1].settings["resumed_from"]
    assert read_status(spec, db)[0].state == "completed"
