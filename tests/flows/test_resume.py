"""Resuming the protocol from completed stages: stage keys, lookup, and a real resumed run."""

import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from amorphdb.engines import EngineSpec
from amorphdb.flows import MeltQuenchMaker, ProtocolSettings
from amorphdb.flows.resume import anneal_key, find_resume_point, melt_key

TINY = ProtocolSettings(
    target_atoms=36,
    melt_steps=300,
    anneal_temperatures_K=[1500, 2500],
    anneal_steps=600,
    volume={"n_steps": 200, "max_iterations": 1, "pressure_tolerance_kbar": 1000},
    cooling={"method": "none"},  # MPMorph direct anneal: branches start from the melt
    traj_every=10,
    thermo_every=10,
)


def test_stage_keys_ignore_escalated_settings_only():
    engine = EngineSpec()
    key = melt_key("Li2Si2O5", engine, TINY)
    # what escalation changes for the stages still to run does not invalidate a finished one
    assert key == melt_key("Li2Si2O5", EngineSpec(timestep_fs=0.5), TINY)
    assert key == melt_key(
        "Li2Si2O5", EngineSpec(settings={"recovery": {"max_corrections": 1}}), TINY
    )
    assert key == melt_key(
        "Li2Si2O5", engine, TINY.model_copy(update={"volume": TINY.volume.model_copy(
            update={"scale_factors": [0.8, 1.0, 1.2]})}),
    )
    # what defines the melt does
    for other in (
        TINY.model_copy(update={"seed": 7}),
        TINY.model_copy(update={"melt_steps": 400}),
        TINY.model_copy(update={"target_atoms": 48}),
        TINY.model_copy(update={"density_g_cm3": 2.0}),
    ):
        assert melt_key("Li2Si2O5", engine, other) != key
    assert melt_key("Li2SiO3", engine, TINY) != key
    assert melt_key("Li2Si2O5", EngineSpec(potential="wang2018"), TINY) != key
    a1500 = anneal_key("Li2Si2O5", engine, TINY, 1500)
    assert a1500 != anneal_key("Li2Si2O5", engine, TINY, 2500)
    assert a1500 != anneal_key(
        "Li2Si2O5", engine, TINY.model_copy(update={"anneal_steps": 700}), 1500
    )


def _names(flow):
    return [j.name for j, _ in flow.iterflow()]


@pytest.mark.slow
def test_failed_anneal_resumes_from_melt_and_finished_anneal():
    """Real LAMMPS: run the flow, drop one anneal as if it had failed, resume the rest."""
    maker = MeltQuenchMaker(protocol=TINY, campaign="c")
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    run_locally(maker.make("Li2Si2O5"), store=store, log=False)
    melt_run = store.query_one({"metadata.amorphdb.stage": "melt"})
    assert melt_run is not None and melt_run["name"] == "melt 5000 K"
    # the first attempt "failed" in anneal 2500 K: its production and the records are gone
    failed = store.query_one({"name": "anneal 2500 K"})["uuid"]
    store.remove_docs({"uuid": failed})
    store.remove_docs({"name": {"$in": ["record_temperature", "record_arrhenius"]}})
    n_docs = store.count()

    assert find_resume_point(store.docs_store, "other", "Li2Si2O5", maker.engine, TINY) is None
    assert find_resume_point(
        store.docs_store, "c", "Li2Si2O5", maker.engine, TINY.model_copy(update={"seed": 3})
    ) is None
    point = find_resume_point(store.docs_store, "c", "Li2Si2O5", maker.engine, TINY)
    assert point is not None and point.describe() == "melt, anneal 1500 K"
    assert point.melt.production_uuid == melt_run["uuid"]

    # a smaller time step (the unstable-MD escalation) keeps the finished stages
    slower = MeltQuenchMaker(engine=EngineSpec(timestep_fs=0.5), protocol=TINY, campaign="c")
    flow = slower.make("Li2Si2O5", resume=point)
    names = _names(flow)
    assert not any(n.startswith(("pack", "melt", "anneal 1500")) for n in names)
    assert "anneal 2500 K" in names
    assert names.count("record_temperature") == 3 and names[-1] == "record_arrhenius"
    run_locally(flow, store=store, log=False, allow_external_references=True)

    records = [d["output"] for d in store.query({"name": "record_temperature"})]
    assert sorted(r["temperature_K"] for r in records) == [1500.0, 2500.0, 5000.0]
    melt_record = next(r for r in records if r["temperature_K"] == 5000.0)
    assert melt_record["trajectory"]["job_uuid"] == melt_run["uuid"]
    assert melt_record["diffusion"]["Li"]["D_cm2_s"] > 0
    # only the missing anneal ran again, at the new time step
    assert store.count({"name": "melt 5000 K"}) == 1
    assert store.count({"name": "anneal 1500 K"}) == 1
    rerun = store.query_one({"name": "anneal 2500 K"})
    assert rerun["uuid"] != failed and rerun["output"]["md"]["timestep_fs"] == 0.5
    [arrhenius] = [d["output"] for d in store.query({"name": "record_arrhenius"})]
    assert arrhenius
    assert store.count() > n_docs
