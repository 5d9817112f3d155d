"""Distributed launchers' outcomes reach the campaign records (sync)."""

import pytest
from fireworks import Firework, FWAction, Launch, ScriptTask

from amorphdb.campaign import load_campaign
from amorphdb.campaign.local import attempt_settings, run_composition, save_result
from amorphdb.campaign.submit import sync_and_read_status
from amorphdb.campaign.sync import fireworks_failure, sync_campaign
from amorphdb.store import open_database


class StandInLaunchPad:
    """Holds Fireworks by id (a real LaunchPad needs a MongoDB server, absent here)."""

    def __init__(self, fws):
        self.fws = {fw.fw_id: fw for fw in fws}

    def get_fw_by_id(self, fw_id):
        return self.fws[fw_id]

    def detect_lostruns(self, expiration_secs, query):
        ids = [i for i in query["fw_id"]["$in"] if getattr(self.fws[i], "lost", False)]
        return [], ids, []


def _fizzled(fw_id, message):
    trace = f"Traceback (most recent call last):\n  File x\n{message}\n"
    launch = Launch(state="FIZZLED", launch_dir="/tmp", action=FWAction(stored_data={"_exception": {
        "_stacktrace": trace}}))
    return Firework(ScriptTask.from_str("true"), name="anneal 1500 K", fw_id=fw_id,
                    state="FIZZLED", launches=[launch])


def test_fizzled_firework_becomes_failed_with_its_error(campaign_file):
    spec = load_campaign(campaign_file())
    lp = StandInLaunchPad([
        Firework(ScriptTask.from_str("true"), name="pack", fw_id=1, state="COMPLETED"),
        _fizzled(2, "RecoveryExhaustedError: MD failed: ERROR: Lost atoms: original 36"),
    ])
    assert fireworks_failure(lp, [1]) is None
    with open_database(spec.store_path()) as db:
        settings = {**attempt_settings(spec, "fireworks"), "fw_ids": [1, 2]}
        db.record_attempt("tiny", "Li2Si2O5", "waiting", settings=settings)
        assert sync_campaign(spec, db, lp) == {"Li2Si2O5": "failed"}
        doc = db.get_campaign("tiny", "Li2Si2O5")
    assert doc.state == "failed" and doc.stage == "anneal 1500 K"
    assert doc.last_error == "Firework 2 fizzled: RecoveryExhaustedError: MD failed: " \
                             "ERROR: Lost atoms: original 36"


@pytest.mark.slow
def test_outputs_in_shared_job_store_complete_the_record(campaign_file):
    """As if a FireWorks worker had run the flow into the campaign's JobStore."""
    spec = load_campaign(campaign_file())
    result = run_composition(spec.model_dump(mode="json"), "Li2Si2O5", str(spec.workdir_path()))
    assert result.ok
    with open_database(spec.store_path()) as db:
        settings = {**attempt_settings(spec, "fireworks"), "fw_ids": [1]}
        db.record_attempt("tiny", "Li2Si2O5", "waiting", settings=settings)
        assert sync_campaign(spec, db) == {}  # nothing in the JobStore yet
        save_result(db.job_store, result)
        [status] = sync_and_read_status(spec, db)
        assert status.state == "completed" and status.stage == "arrhenius"
        assert sorted(d.temperature_K for d in db.find(campaign="tiny")) == [1500, 2500, 5000]
        assert sync_campaign(spec, db) == {}  # idempotent
        assert len(db.get_campaign("tiny", "Li2Si2O5").attempts) == 1


def test_lost_firework_becomes_failed_as_lost_run(campaign_file):
    from amorphdb.campaign.escalation import classify_error

    spec = load_campaign(campaign_file())
    running = Firework(ScriptTask.from_str("true"), name="melt 5000 K", fw_id=3,
                       state="RUNNING")
    running.lost = True  # what detect_lostruns reports for a rocket without pings
    lp = StandInLaunchPad([running])
    with open_database(spec.store_path()) as db:
        settings = {**attempt_settings(spec, "fireworks"), "fw_ids": [3]}
        db.record_attempt("tiny", "Li2Si2O5", "running", settings=settings)
        assert sync_campaign(spec, db, lp) == {"Li2Si2O5": "failed"}
        doc = db.get_campaign("tiny", "Li2Si2O5")
    assert doc.stage == "melt 5000 K" and classify_error(doc.last_error) == "lost"


class StandInJobController:
    """Answers get_jobs_info like jobflow-remote's (its queue needs a MongoDB server)."""

    def __init__(self, infos):
        self.infos = infos

    def get_jobs_info(self, flow_ids, states):
        return [i for i in self.infos if i.flow in flow_ids and i.state in states]


def test_failed_jobflow_remote_job_fails_the_record(campaign_file):
    from types import SimpleNamespace

    from jobflow_remote.jobs.state import JobState

    spec = load_campaign(campaign_file())
    controller = StandInJobController([
        SimpleNamespace(flow="f1", db_id="7", name="pack Li2Si2O5", state=JobState.COMPLETED,
                        error=None, remote={}),
        SimpleNamespace(flow="f1", db_id="9", name="anneal 2500 K", state=JobState.REMOTE_ERROR,
                        error=None, remote={"error": "Traceback...\nslurmstepd: CANCELLED "
                                            "DUE TO TIME LIMIT"}),
    ])
    with open_database(spec.store_path()) as db:
        settings = {**attempt_settings(spec, "jobflow-remote"), "flow_uuid": "f1"}
        db.record_attempt("tiny", "Li2Si2O5", "waiting", settings=settings)
        assert sync_campaign(spec, db, job_controller=controller) == {"Li2Si2O5": "failed"}
        doc = db.get_campaign("tiny", "Li2Si2O5")
    assert doc.stage == "anneal 2500 K"
    assert doc.last_error == ("jobflow-remote job 9 REMOTE_ERROR: slurmstepd: CANCELLED DUE "
                              "TO TIME LIMIT")
