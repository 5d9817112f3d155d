"""store/integrity.py on every back end: check and repair through the library API."""

from __future__ import annotations

from store_factories import md_like_trajectory, run_md_and_record

from amorphdb.store.checksums import content_checksum, verify
from amorphdb.store.database import AmorphousDB
from amorphdb.store.integrity import check_store, repair_store


def test_checksum_survives_the_round_trip_and_detects_a_change(db):
    from store_factories import make_amorphous

    db.upsert_amorphous(make_amorphous())
    (stored,) = list(db._store("amorphous").query({}))
    assert verify(stored) is True  # datetimes canonicalised to BSON's milliseconds
    stored["density_g_cm3"] += 1.0
    assert verify(stored) is False
    assert content_checksum({"a": 1}) == content_checksum({"a": 1, "checksum": "x"})


def test_check_and_repair_campaign_records(tmp_path, store_config):
    run_md_and_record(tmp_path, store_config, md_like_trajectory(n_atoms=20, n_frames=20))
    db = AmorphousDB.from_config(store_config)
    try:
        assert db.build_from_job_store() == {"inserted": 3}
        report = check_store(db)
        assert [p.kind for p in report.problems] == ["campaign"]  # results, no record
        assert report.checked["job records"] == 3
        db.record_attempt("test", "Li2Si2O5", "completed")
        assert check_store(db).ok
        db._store("arrhenius").remove_docs({})  # a lost Arrhenius collection's content
        report = check_store(db)
        assert {p.message for p in report.problems} == {"Arrhenius fit is missing"}
        _before, after = repair_store(db)
        assert after.ok, [p.line() for p in after.problems]
        assert len(db.find_arrhenius(campaign="test")) == 2
    finally:
        db.close()


def test_lost_result_without_job_document_is_reported_not_repairable(db):
    from store_factories import make_amorphous

    doc = make_amorphous()
    db.upsert_amorphous(doc)
    db.record_attempt("test", "Li2Si2O5", "completed")
    db._store("amorphous").remove_docs({"_id": doc.key()})
    _before, after = repair_store(db)
    (problem,) = after.problems
    assert (problem.kind, problem.where, problem.repairable) == (
        "campaign", "test|Li2Si2O5", False
    )
    assert "no result is stored" in problem.message and "amorphdb rerun" in problem.message


def test_back_filled_descriptors_are_not_a_contradiction_and_survive_repair(
    tmp_path, store_config
):
    """``db backfill`` fills descriptors the job left empty: check passes, repair keeps them."""
    from jobflow import Flow, job, run_locally
    from store_factories import make_amorphous

    from amorphdb.store import open_job_store

    @job(name="record_temperature")
    def record_temperature():
        return make_amorphous().model_copy(update={"descriptors": {}})

    run_locally(Flow([record_temperature()]), store=open_job_store(store_config),
                ensure_success=True, root_dir=tmp_path)  # fmt: skip
    db = AmorphousDB.from_config(store_config)
    try:
        db.build_from_job_store()
        db.record_attempt("test", "Li2Si2O5", "completed")
        filled = make_amorphous().model_copy(update={"descriptors": {"N4": 0.31}})
        db.upsert_amorphous(filled)  # what the back-fill writes
        assert check_store(db).ok
        _before, after = repair_store(db)
        assert after.ok
        (doc,) = db.find()
        assert doc.descriptors == {"N4": 0.31}
        db.upsert_amorphous(filled.model_copy(update={"density_g_cm3": 9.9}))
        report = check_store(db)
        assert [p.message for p in report.problems] == ["summary differs from its job document"]
    finally:
        db.close()
