"""Campaign-level recovery budget: field, recorded settings, final failed state, rerun.

Real LAMMPS runs of the tiny campaign (Pedone, 36 atoms of Li2Si2O5). With this
seed a 3 fs step loses atoms within 30-60 fs of every 5000 K volume run: a budget
of 0 fails the composition in about a second, a budget of 1 (3 → 1.5 fs) completes
it. A 5 fs step still loses atoms at 2.5 fs, so it exhausts a budget of 1.
"""

import pytest

from amorphdb.campaign import load_campaign
from amorphdb.campaign.escalation import FailureKind
from amorphdb.campaign.local import attempt_settings, maker_for
from amorphdb.campaign.spec import CampaignSpec, campaign_from_dict
from amorphdb.campaign.submit import read_status, rerun, select_rerun, submit
from amorphdb.errors import ConfigError
from amorphdb.store import open_database

FAILS_AT_BUDGET_0 = {"name": "lammps", "timestep_fs": 3.0}
FAILS_AT_BUDGET_1 = {"name": "lammps", "timestep_fs": 5.0}



def _campaign(**fields):
    return campaign_from_dict({"name": "x", "compositions": ["Li2Si2O5"], **fields})


# --------------------------------------------------------------------------- the field


def test_budget_is_folded_into_engine_recovery_settings_other_keys_kept():
    spec = _campaign(max_corrections=1,
                     engine={"settings": {"nprocs": 1, "recovery": {"timestep_factor": 0.5}}})
    assert spec.max_corrections == 1
    assert spec.engine.settings == {
        "nprocs": 1, "recovery": {"timestep_factor": 0.5, "max_corrections": 1}}
    recorded = attempt_settings(spec)["engine"]["settings"]["recovery"]
    assert recorded["max_corrections"] == 1


def test_no_budget_leaves_engine_and_protocol_hash_unchanged():
    plain = _campaign()
    assert plain.max_corrections is None and plain.engine.settings == {}
    same = _campaign(engine={"settings": {"recovery": {"max_corrections": 2}}})
    assert same.engine.settings["recovery"] == {"max_corrections": 2}
    # the budget is an engine setting: part of the protocol hash like the others
    assert maker_for(_campaign(max_corrections=2)).protocol_hash() == \
        maker_for(same).protocol_hash() != maker_for(plain).protocol_hash()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_corrections": 1, "engine": {"settings": {"recovery": {"max_corrections": 2}}}},
         "invalid campaign: max_corrections: 1 conflicts with "
         "engine.settings.recovery.max_corrections: 2"),
        ({"max_corrections": 21}, "max_corrections: Input should be less than or equal to 20"),
        ({"max_corrections": -1}, "max_corrections: Input should be greater than or equal to 0"),
        ({"max_corrections": 1, "engine": {"settings": {"recovery": 3}}},
         "engine.settings.recovery: 3 is invalid: input should be a valid dictionary"),
    ],
)
def test_bad_budget_is_a_one_line_config_error(fields, message):
    with pytest.raises(ConfigError) as info:
        _campaign(**fields)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_same_budget_in_both_places_is_accepted():
    spec = _campaign(max_corrections=2, engine={"settings": {"recovery": {"max_corrections": 2}}})
    assert spec.engine.settings["recovery"] == {"max_corrections": 2}


def test_rerun_copy_takes_the_campaign_budget_over_the_recorded_one(campaign_file):
    # attempt 1 ran with budget 0; the file now says 2: the rerun must run (and record) 2
    first = load_campaign(campaign_file(engine=FAILS_AT_BUDGET_0, max_corrections=0))
    error = ("MD failed after 0 correction(s) (budget 0): ERROR: Lost atoms: original 36 "
             "current 34; rerun with a smaller time step or a larger recovery budget")
    with open_database(first.store_path()) as db:
        db.record_attempt("tiny", "Li2Si2O5", "running", settings=attempt_settings(first))
        db.record_attempt("tiny", "Li2Si2O5", "failed", settings=attempt_settings(first),
                          error=error, stage="volume 0.800 at 5000 K")
        spec = load_campaign(campaign_file(engine=FAILS_AT_BUDGET_0, max_corrections=2))
        [item] = select_rerun(spec, db)
    assert item.escalation.kind == FailureKind.UNSTABLE_MD
    assert item.escalation.engine.timestep_fs == 1.5
    assert item.escalation.engine.settings["recovery"]["max_corrections"] == 0  # recorded
    copy = spec.model_copy(update={"engine": item.escalation.engine,
                                   "protocol": item.escalation.protocol})
    assert copy.engine.timestep_fs == 1.5
    assert copy.engine.settings["recovery"] == {"max_corrections": 2}
    assert attempt_settings(copy)["engine"]["settings"]["recovery"]["max_corrections"] == 2
    # what a worker process does with it: validates again, no conflict
    again = CampaignSpec.model_validate(copy.model_dump(mode="json"))
    assert again.engine == copy.engine
    # an engine given as a dict is folded too; a copy without 'engine' is left alone
    assert spec.model_copy(update={"engine": {"name": "lammps"}}).engine.settings == {
        "recovery": {"max_corrections": 2}}
    assert spec.model_copy(update={"workers": 2}).engine == spec.engine


# --------------------------------------------------------------------------- real runs


@pytest.mark.slow  # a whole tiny campaign with corrected runs
def test_budget_of_one_fixes_a_too_large_step_and_records_the_corrections(campaign_file):
    spec = load_campaign(campaign_file(engine=FAILS_AT_BUDGET_0, max_corrections=1))
    _, results = submit(spec)
    assert results["Li2Si2O5"].ok
    with open_database(spec.store_path()) as db:
        doc = db.get_campaign("tiny", "Li2Si2O5")
        assert doc.state == "completed"
        engine = doc.attempts[-1].settings["engine"]
        assert engine["timestep_fs"] == 3.0
        assert engine["settings"]["recovery"]["max_corrections"] == 1
        runs = list(db.job_store.docs_store.query(
            {"output.corrections.0": {"$exists": True}}, properties=["name", "output"]))
        temps = sorted(d.temperature_K for d in db.find(campaign="tiny", formula="Li2Si2O5"))
    assert temps == [1500.0, 2500.0, 5000.0]
    # each corrected run used its one correction: lost atoms → 1.5 fs from the last good frame
    assert runs and all(len(d["output"]["corrections"]) == 1 for d in runs)
    for d in runs:
        [correction] = d["output"]["corrections"]
        assert "Lost atoms" in correction["error"]
        assert correction["details"]["old_timestep_fs"] == 3.0
        assert correction["details"]["new_timestep_fs"] == 1.5
        assert "time step 1.5 fs" in correction["action"]
    assert any(d["name"].startswith("volume ") for d in runs)


@pytest.mark.slow  # a failed attempt, then a whole tiny campaign on rerun
def test_exhausted_budget_leaves_the_composition_failed_with_the_budget_recorded(
    campaign_file,
):
    spec = load_campaign(campaign_file(engine=FAILS_AT_BUDGET_0, max_corrections=0))
    _, results = submit(spec)
    result = results["Li2Si2O5"]
    assert not result.ok and result.error
    with open_database(spec.store_path()) as db:
        doc = db.get_campaign("tiny", "Li2Si2O5")
        [status] = read_status(spec, db)
        assert db.count(campaign="tiny", formula="Li2Si2O5") == 0  # no summary of a failure
    assert doc.state == "failed" and status.state == "failed"
    [attempt] = doc.attempts
    assert attempt.state == "failed" and attempt.error == result.error
    assert attempt.settings["engine"]["settings"]["recovery"] == {"max_corrections": 0}

    # a rerun with another budget in the file runs (and records) that budget
    spec2 = load_campaign(campaign_file(engine=FAILS_AT_BUDGET_0, max_corrections=2))
    items, results = rerun(spec2)
    assert [i.formula for i in items] == ["Li2Si2O5"] and results["Li2Si2O5"].ok
    with open_database(spec.store_path()) as db:
        doc = db.get_campaign("tiny", "Li2Si2O5")
        temps = sorted(d.temperature_K for d in db.find(campaign="tiny", formula="Li2Si2O5"))
    assert doc.state == "completed" and [a.state for a in doc.attempts] == [
        "failed", "completed"]
    assert doc.attempts[1].settings["engine"]["settings"]["recovery"] == {"max_corrections": 2}
    assert temps == [1500.0, 2500.0, 5000.0]


@pytest.mark.slow  # pack + LAMMPS until atoms are lost: 14-17 s each at load ~8
@pytest.mark.parametrize(
    ("engine", "budget", "n_corrections", "rerun_step"),
    [(FAILS_AT_BUDGET_0, 0, 0, 1.5), (FAILS_AT_BUDGET_1, 1, 1, 2.5)],
)
def test_exhausted_budget_error_names_budget_lammps_error_and_stage(
    campaign_file, engine, budget, n_corrections, rerun_step
):
    spec = load_campaign(campaign_file(engine=engine, max_corrections=budget))
    _, results = submit(spec)
    assert not results["Li2Si2O5"].ok
    with open_database(spec.store_path()) as db:
        doc = db.get_campaign("tiny", "Li2Si2O5")
        [status] = read_status(spec, db)
        [item] = select_rerun(spec, db)
    attempt = doc.attempts[-1]
    assert doc.state == "failed"
    # e.g. "RecoveryExhaustedError: MD failed after 0 correction(s) (budget 0): ERROR: Lost
    # atoms: original 36 current 34; rerun with a smaller time step or a larger ..."
    assert f"MD failed after {n_corrections} correction(s) (budget {budget})" in attempt.error
    assert "ERROR: Lost atoms" in attempt.error
    # the job that failed (the first volume point of the melt), not the last one done
    first_scale = spec.protocol.volume.scale_factors[0]
    assert attempt.stage == f"volume {first_scale:.3f} at {spec.protocol.melt_temperature_K:g} K"
    assert status.last_error == attempt.error and status.stage == attempt.stage
    assert item.escalation.kind == FailureKind.UNSTABLE_MD
    assert item.escalation.engine.timestep_fs == rerun_step
    assert item.escalation.engine.settings["recovery"]["max_corrections"] == budget
    assert item.escalation.changes == [f"timestep {engine['timestep_fs']:g} → {rerun_step:g} fs"]

