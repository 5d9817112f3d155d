"""Independent replicas: the averaging maths, the flow, the store records and resume."""

import math

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from amorphdb.flows import MeltQuenchMaker, ProtocolSettings
from amorphdb.flows.replicas import (
    REPLICA_ARRHENIUS_JOB,
    average_replicas,
    replica_statistics,
)
from amorphdb.flows.resume import ReplicatedResumePoint, find_resume_point
from amorphdb.store.schemas import AmorphousDoc, DiffusionSummary

#: 36-atom Li2Si2O5, MPMorph direct anneal, a few hundred steps per stage
TINY = ProtocolSettings(
    target_atoms=36,
    melt_steps=300,
    anneal_temperatures_K=[1500, 2500],
    anneal_steps=600,
    volume={"n_steps": 200, "max_iterations": 1, "pressure_tolerance_kbar": 1000},
    cooling={"method": "none"},
    traj_every=10,
    thermo_every=10,
    replicas=2,
)


def test_statistics_of_known_numbers():
    """Mean, sample std, SEM, propagated σ and the χ² consistency test by hand."""
    s = replica_statistics([1.0, 2.0, 3.0], [0.5, 0.5, 0.5])
    assert s.n == 3 and s.mean == 2.0
    assert s.std == pytest.approx(1.0)  # sqrt(((1-2)² + 0 + (3-2)²) / 2)
    assert s.sem == pytest.approx(1 / math.sqrt(3))
    assert s.stated_sem == pytest.approx(math.sqrt(3 * 0.25) / 3)  # 0.2887
    assert s.sigma == pytest.approx(s.sem)  # the larger of the two
    # χ² = (1² + 0 + 1²) / 0.25 = 8 with 2 dof: p = exp(-4) = 0.018 -> they disagree
    assert s.chi2_dof == pytest.approx(4.0)
    assert s.p_value == pytest.approx(math.exp(-4.0))
    assert s.inconsistent is True
    # the same values with σ = 1: χ² = 2, p = exp(-1) = 0.37 -> consistent
    ok = replica_statistics([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    assert ok.p_value == pytest.approx(math.exp(-1.0)) and ok.inconsistent is False
    assert ok.sigma == pytest.approx(math.sqrt(3) / 3)  # stated σ of the mean wins
    # two replicas 3σ apart (1 dof): disagree; unknown σ: no test, spread only
    two = replica_statistics([0.0, 3.0 * math.sqrt(2)], [1.0, 1.0])
    assert two.chi2_dof == pytest.approx(9.0) and two.inconsistent is True
    none = replica_statistics([2.0, 4.0], [0.1, None])
    assert none.stated_sem is None and none.inconsistent is None
    assert none.sigma == pytest.approx(1.0)  # std sqrt(2), SEM 1
    single = replica_statistics([5.0], [0.2])
    assert math.isnan(single.std) and single.sigma == pytest.approx(0.2)
    assert single.as_dict()["std"] is None


def _doc(replica, density, density_sem, d_li, d_std, reliable=True, caged=False):
    return AmorphousDoc(
        campaign="c", formula="Li2Si2O5", temperature_K=1500.0, protocol_hash=f"h{replica}",
        nsites=36, density_g_cm3=density, energy_per_atom_eV=-5.0 - replica,
        pressure_mean_kbar=1.0 + replica, pressure_std_kbar=3.0, replica=replica,
        diffusion={
            "Li": DiffusionSummary(D_cm2_s=d_li, D_std_cm2_s=d_std, reliable=reliable,
                                   fit_window_ps=(0.1 + replica, 2.0 - replica)),
            "Si": DiffusionSummary(D_cm2_s=1e-8, D_std_cm2_s=1e-8, caged=caged),
        },
        descriptors={"stage": "anneal", "volume_equilibration": {
            "converged": True, "density_sem_g_cm3": density_sem},
            "structure": {"cn": {"Si-O": 4.0 + replica}, "rdf_peak_A": [1.6, 2.0 + replica]}},
    )


def test_average_of_replica_records():
    docs = [_doc(0, 2.30, 0.01, 1.0e-5, 1.0e-6), _doc(1, 2.40, 0.01, 3.0e-5, 1.0e-6,
                                                        caged=True)]
    avg = average_replicas(docs, "hx2")
    assert avg.replica is None and avg.replicas == 2 and avg.protocol_hash == "hx2"
    assert avg.density_g_cm3 == pytest.approx(2.35)
    assert avg.energy_per_atom_eV == pytest.approx(-5.5)
    li = avg.diffusion["Li"]
    assert li.D_cm2_s == pytest.approx(2.0e-5)
    spread = avg.replica_spread["D_cm2_s"]["Li"]
    assert spread["std"] == pytest.approx(np.std([1e-5, 3e-5], ddof=1))
    assert li.D_std_cm2_s == pytest.approx(spread["sem"]) == pytest.approx(1e-5)
    # 2e-5 apart with σ 1e-6 each: far beyond their σ, flagged
    assert spread["inconsistent"] is True and "disagree" in li.reason
    assert avg.replica_spread["density_g_cm3"]["inconsistent"] is True
    assert li.fit_window_ps == (1.1, 1.0) or li.fit_window_ps == pytest.approx((1.1, 1.0))
    # one replica's network is caged: the average is a glass point
    assert avg.diffusion["Si"].caged is True and avg.regime == "glass"
    assert avg.descriptors["structure"] == {"cn": {"Si-O": 4.5}, "rdf_peak_A": [1.6, 2.5]}
    assert avg.descriptors["volume_equilibration"]["density_sem_g_cm3"] == pytest.approx(0.05)
    # an unreliable replica is left out of the mean and said so
    mixed = average_replicas([_doc(0, 2.3, 0.01, 1e-5, 1e-6),
                              _doc(1, 2.3, 0.01, 9e-5, 1e-6, reliable=False)], "h")
    assert mixed.diffusion["Li"].D_cm2_s == pytest.approx(1e-5)
    assert mixed.diffusion["Li"].reliable and "1 of 2 replicas left out" in \
        mixed.diffusion["Li"].reason


def _names(flow):
    return [j.name for j, _ in flow.iterflow()]


def test_replicated_flow_runs_each_replica_with_its_own_seed():
    maker = MeltQuenchMaker(protocol=TINY, campaign="c")
    flow = maker.make("Li2Si2O5")
    names = _names(flow)
    packs = [j for j, _ in flow.iterflow() if j.name.startswith("pack")]
    assert sorted(j.function_args[-1] for j in packs) == [TINY.seed, TINY.seed + 1]
    # per replica: melt + 2 anneals recorded; averages: 3 more; one Arrhenius (averages)
    assert names.count("record_temperature") == 3 * 2 + 3
    assert names.count("record_arrhenius") == 1
    assert names.count(REPLICA_ARRHENIUS_JOB) == 2
    replica_records = [j for j, _ in flow.iterflow() if j.name == "record_temperature"
                       and "replica" in j.function_kwargs]
    assert sorted(j.function_kwargs["replica"] for j in replica_records) == [0, 0, 0, 1, 1, 1]
    hashes = {j.function_kwargs["protocol_hash"] for j in replica_records}
    assert hashes == {TINY.replica(0).protocol_hash(maker.engine.model_dump(mode="json")),
                      TINY.replica(1).protocol_hash(maker.engine.model_dump(mode="json"))}
    assert flow.jobs[-1].function_kwargs["protocol_hash"] == maker.protocol_hash()


@pytest.mark.slow
def test_two_replicas_real_lammps_records_average_and_resume(tmp_path):
    """Real LAMMPS, 36 atoms: 2 replicas give 2 distinct records per T and one average
    whose D and density are their mean and whose spread is their std; the store shows
    the average by default; a rerun after a failed replica recomputes only its stage."""
    from amorphdb.store import open_database

    maker = MeltQuenchMaker(protocol=TINY, campaign="c")
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    run_locally(maker.make("Li2Si2O5"), store=store, log=False)
    records = [AmorphousDoc.model_validate(d["output"])
               for d in store.query({"name": "record_temperature"})]
    for t in (1500.0, 2500.0, 5000.0):
        at_t = [r for r in records if r.temperature_K == t]
        reps = sorted((r for r in at_t if r.replica is not None), key=lambda r: r.replica)
        [avg] = [r for r in at_t if r.replica is None]
        assert [r.replica for r in reps] == [0, 1]
        assert reps[0].protocol_hash != reps[1].protocol_hash != avg.protocol_hash
        # different packing seeds: different structures, densities and D
        assert reps[0].structure != reps[1].structure
        assert reps[0].diffusion["Li"].D_cm2_s != reps[1].diffusion["Li"].D_cm2_s
        assert avg.replicas == 2
        assert avg.density_g_cm3 == pytest.approx(np.mean([r.density_g_cm3 for r in reps]))
        d = [r.diffusion["Li"] for r in reps]
        if all(x.reliable for x in d):
            values = [x.D_cm2_s for x in d]
            assert avg.diffusion["Li"].D_cm2_s == pytest.approx(np.mean(values))
            assert avg.replica_spread["D_cm2_s"]["Li"]["std"] == pytest.approx(
                np.std(values, ddof=1))
            assert avg.replica_spread["D_cm2_s"]["Li"]["n"] == 2
    [arr] = [d["output"] for d in store.query({"name": "record_arrhenius"})]
    assert {a["protocol_hash"] for a in arr} == {maker.protocol_hash()}

    # the store: averages by default, each replica on request
    db = open_database(tmp_path / "db")
    db.build_from_job_store(store)
    shown = db.find(campaign="c", hide_replicas=True)
    assert sorted(d.temperature_K for d in shown) == [1500.0, 2500.0, 5000.0]
    assert all(d.replica is None and d.replicas == 2 for d in shown)
    assert len(db.find(campaign="c")) == 9

    # replica 1's 2500 K anneal "failed": a rerun reuses everything else
    lost = next(d["uuid"] for d in store.query({"name": "anneal 2500 K"})
                if _seed_of(d) == TINY.seed + 1)
    store.remove_docs({"uuid": lost})
    point = find_resume_point(store.docs_store, "c", "Li2Si2O5", maker.engine, TINY)
    assert isinstance(point, ReplicatedResumePoint)
    assert point.describe() == ("replica 0: melt, anneal 1500 K, anneal 2500 K; "
                                "replica 1: melt, anneal 1500 K")
    flow = maker.make("Li2Si2O5", resume=point)
    names = _names(flow)
    md = [n for n in names if n.startswith(("pack", "melt", "anneal", "start", "cool"))]
    assert md == ["start volume scan", "anneal 2500 K"], names
    run_locally(flow, store=store, log=False, allow_external_references=True)
    assert store.count({"name": "melt 5000 K"}) == 2  # nothing finished ran again
    assert store.count({"name": "anneal 1500 K"}) == 2
    assert store.count({"name": "anneal 2500 K"}) == 2
    reruns = [d["output"] for d in store.query({"name": "record_arrhenius"})]
    assert len(reruns) == 2 and all(a["protocol_hash"] == maker.protocol_hash()
                                    for docs in reruns for a in docs)


def _seed_of(doc):
    """Seed of an MD job, from its output's run settings."""
    return doc["output"]["md"]["seed"]


@pytest.mark.parametrize("backend", ["snapshot", "montydb", "mongomock"])
def test_store_shows_averages_by_default_each_replica_on_request(tmp_path, backend,
                                                                  monkeypatch):
    """``hide_replicas`` keeps single runs (older records have no ``replica`` field) and
    averages, on every query path: the in-process snapshot, its persisted columns in a
    new process, montydb's own evaluation and MongoDB (mongomock)."""
    from amorphdb.store import StoreConfig, open_database

    if backend == "mongomock":  # MongoDB's code path on an in-memory server
        import mongomock_ng

        server = mongomock_ng.MongoClient()
        monkeypatch.setattr(server, "close", lambda: None)
        for target in ("maggma.stores.mongolike.MongoClient", "maggma.stores.gridfs.MongoClient",
                       "pymongo.MongoClient"):
            monkeypatch.setattr(target, lambda *a, **k: server)
        config = StoreConfig(type="mongodb", host="mongomock", database="replicas")
    else:
        config = StoreConfig(path=tmp_path / "db", query_cache=backend == "snapshot")
    db = open_database(config)
    reps = [_doc(0, 2.30, 0.01, 1.0e-5, 1.0e-6), _doc(1, 2.40, 0.01, 3.0e-5, 1.0e-6)]
    for doc in reps:
        db.upsert_amorphous(doc)
    # a single-run record written before the replica fields existed (no such fields)
    old = AmorphousDoc(campaign="c", formula="Li2SiO3", temperature_K=1500.0,
                       density_g_cm3=2.2).to_mongo()
    for name in ("replica", "replicas", "replica_spread"):
        del old[name]
    db._store("amorphous").update([old], key="_id")
    db.upsert_amorphous(average_replicas(reps, "hx2"))  # a write through the API last
    for fresh in ([False, True] if backend == "snapshot" else [False]):
        if fresh:  # a new process: the persisted column snapshot answers
            db = open_database(config)
        shown = db.find(campaign="c", hide_replicas=True, sort="formula_reduced")
        assert [(d.formula_reduced, d.replicas) for d in shown] == [
            ("Li2Si2O5", 2), ("Li2SiO3", 1)]
        assert db.count(campaign="c", hide_replicas=True) == 2
        assert len(db.find(campaign="c")) == 4
        assert sorted(d.replica for d in db.find(campaign="c", formula="Li2Si2O5",
                                                  ranges={"replica": (0, 1)})) == [0, 1]
