"""The protocol flow graph: jobs, temperatures, dependencies; errors before any job."""

import pytest

from amorphdb.engines import EngineSpec
from amorphdb.errors import CompositionError, UnsupportedCompositionError
from amorphdb.flows import MeltQuenchMaker, ProtocolSettings


def _jobs(flow):
    return list(flow.iterflow())


DIRECT = {"cooling": {"method": "none"}}  # MPMorph's direct anneal from the melt


def test_direct_anneal_graph_has_one_branch_per_anneal_temperature():
    maker = MeltQuenchMaker(protocol=ProtocolSettings(**DIRECT), campaign="c")
    flow = maker.make("Li2O(SiO2)2")
    jobs = [j for j, _ in _jobs(flow)]
    names = [j.name for j in jobs]
    assert names[0] == "pack Li2Si2O5"
    assert "melt 5000 K" in names
    assert sorted(n for n in names if n.startswith("anneal")) == [
        "anneal 1000 K", "anneal 1500 K", "anneal 2000 K", "anneal 2500 K",
    ]
    assert names.count("record_temperature") == 5  # melt + 4 anneals
    assert names[-1] == "record_arrhenius"
    # every anneal production runs at its own temperature after its own volume search
    by_uuid = {j.uuid: j for j in jobs}
    melt = next(j for j in jobs if j.name == "melt 5000 K")
    for j in jobs:
        if j.name.startswith("anneal"):
            t = float(j.name.split()[1])
            assert j.function.__self__.temperature_K == t
            parents = {by_uuid[u].name for u in j.input_uuids if u in by_uuid}
            assert parents == {"start volume scan"}
    # the anneal volume searches start from the melt's last frame
    scans = [j for j in jobs if j.name == "start volume scan"]
    assert len(scans) == 5
    assert sum(melt.uuid in j.input_uuids for j in scans) == 4


def test_glass_path_is_the_default_and_chains_one_npt_cooling():
    """5000 K melt at the packing density → NVT ramp to 3000 K → NPT ramps at 10 K/ps
    through 2500…1000 K to the 300 K glass point; each branch starts at its segment end."""
    flow = MeltQuenchMaker(protocol=ProtocolSettings(), campaign="c").make("Li2Si2O5")
    jobs = [j for j, _ in _jobs(flow)]
    by_name = {j.name: j for j in jobs}
    by_uuid = {j.uuid: j for j in jobs}
    cools = [j for j in jobs if j.name.startswith("cool")]
    assert [j.name for j in cools] == [
        "cool 5000->3000 K", "cool 3000->2500 K", "cool 2500->2000 K", "cool 2000->1500 K",
        "cool 1500->1000 K", "cool 1000->300 K",
    ]
    makers = [j.function.__self__ for j in cools]
    assert [m.ensemble.value for m in makers] == ["nvt"] + ["npt"] * 5
    # 500 K at 10 K/ps and 1 fs = 50 ps = 50 000 steps; 700 K → 70 000
    assert [m.n_steps for m in makers[1:]] == [50000] * 4 + [70000]
    assert all(m.pressure_kbar == 0.0 for m in makers)
    # the melt runs at the packing (glass) density and the cooling starts from it; the
    # recorded melt is a branch at its own P ≈ 0 volume: NPT at the melt temperature from
    # the melt's end, then a production at the mean volume (issue 11, melt row)
    assert by_name["pack Li2Si2O5"].uuid in by_name["melt 5000 K"].input_uuids
    assert by_name["melt 5000 K"].uuid in by_name["cool 5000->3000 K"].input_uuids
    melt_npt = by_name["npt 5000 K"]
    assert by_name["melt 5000 K"].uuid in melt_npt.input_uuids
    assert melt_npt.function.__self__.ensemble.value == "npt"
    liquid = by_name["melt 5000 K at P = 0"]
    assert {by_uuid[u].name for u in liquid.input_uuids} == {"accept npt volume"}
    melt_record = next(j for j in jobs if j.name == "record_temperature"
                       and j.function_kwargs.get("stage") == "melt")
    assert liquid.uuid in melt_record.input_uuids
    # after the NPT cooling each branch's volume run is NPT too (the default there), started
    # from the end of its own cooling segment, without rescaling
    for t in (2500, 2000, 1500, 1000):
        volume = by_name[f"npt {t} K"]
        assert by_name[f"cool {t + 500}->{t} K"].uuid in volume.input_uuids
        assert volume.function.__self__.temperature_K == t
    assert "start volume scan" not in by_name
    npt = by_name["npt 300 K"]
    assert by_name["cool 1000->300 K"].uuid in npt.input_uuids
    assert npt.function.__self__.n_steps == 20000
    glass = by_name["glass 300 K"]
    assert {by_uuid[u].name for u in glass.input_uuids} == {"accept npt volume"}
    assert [j.name for j in jobs].count("record_temperature") == 6  # melt, 4 anneals, glass
    assert flow.output["glass"] is not None


def test_cooling_stages_are_chained():
    protocol = ProtocolSettings(
        anneal_temperatures_K=[1000.0], cooling={"method": "stepwise", "step_K": 2000}
    )
    flow = MeltQuenchMaker(protocol=protocol).make("Li2SiO3")
    names = [j.name for j, _ in _jobs(flow)]
    cools = [n for n in names if n.startswith("cool")]
    assert cools == ["cool 0 3000->3000 K", "cool 1 1000->1000 K"]


def test_protocol_hash_changes_with_settings():
    a = MeltQuenchMaker(protocol=ProtocolSettings()).protocol_hash()
    b = MeltQuenchMaker(protocol=ProtocolSettings(anneal_steps=50)).protocol_hash()
    c = MeltQuenchMaker(engine=EngineSpec(timestep_fs=0.5)).protocol_hash()
    assert len({a, b, c}) == 3
    assert a == MeltQuenchMaker(protocol=ProtocolSettings()).protocol_hash()


def test_bad_compositions_fail_before_any_job():
    maker = MeltQuenchMaker()
    with pytest.raises(CompositionError, match="unknown element 'Xx'"):
        maker.make("Xx2O")
    with pytest.raises(UnsupportedCompositionError, match="missing pairs Li-S, P-S, S-S"):
        maker.make("Li3PS4")


def test_segmented_productions_feed_the_records():
    protocol = ProtocolSettings(
        anneal_temperatures_K=[1500.0], anneal_steps=3000, melt_steps=1000, max_steps_per_job=1000,
        **DIRECT,
    )
    flow = MeltQuenchMaker(protocol=protocol).make("Li2SiO3")
    jobs = [j for j, _ in _jobs(flow)]
    names = [j.name for j in jobs]
    assert [n for n in names if n.startswith("anneal 1500 K segment")] == [
        "anneal 1500 K segment 1/3", "anneal 1500 K segment 2/3", "anneal 1500 K segment 3/3",
    ]
    assert "melt 5000 K" in names  # 1000 steps: one job, not segmented
    stitch = next(j for j in jobs if j.name == "anneal 1500 K stitch")
    record = [j for j in jobs if j.name == "record_temperature"][-1]
    assert stitch.uuid in record.input_uuids


@pytest.mark.slow
def test_segmented_protocol_runs(tmp_path):
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    from amorphdb.store.schemas import AmorphousDoc

    protocol = ProtocolSettings(
        target_atoms=36, melt_steps=400, anneal_temperatures_K=[2500.0], anneal_steps=1200,
        max_steps_per_job=400, traj_every=20,
        volume={"n_steps": 300, "max_iterations": 1, "on_unconverged": "flag"}, **DIRECT,
    )
    flow = MeltQuenchMaker(protocol=protocol, campaign="seg").make("Li2Si2O5")
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(flow, store=store, create_folders=True, root_dir=tmp_path, log=False)
    docs = [r.output for rs in responses.values() for r in rs.values()
            if isinstance(r.output, AmorphousDoc)]
    anneal = next(d for d in docs if d.temperature_K == 2500)
    # 1200 steps / 20 + the first frame, stitched from 3 segments without duplicates
    assert anneal.trajectory.n_frames == 61
    assert anneal.provenance.n_steps == 1200
    assert set(anneal.diffusion) == {"Li", "O", "Si"}


def test_make_accepts_a_structure_and_update_kwargs_keeps_settings():
    """atomate2 idioms (issue 15): make(structure) and a partial update_kwargs."""
    from amorphdb.structure import pack_structure

    maker = MeltQuenchMaker(protocol=ProtocolSettings(melt_steps=777, **DIRECT))
    updated = maker.update_kwargs({"protocol": {"target_atoms": 50, "volume": {"n_steps": 50}}})
    assert isinstance(updated.protocol, ProtocolSettings)
    assert updated.protocol.target_atoms == 50 and updated.protocol.melt_steps == 777
    assert updated.protocol.volume.n_steps == 50
    assert updated.protocol.cooling.method.value == "none"
    assert maker.protocol.target_atoms == 100  # the original is untouched
    engine = maker.update_kwargs({"engine": {"timestep_fs": 0.5}}).engine
    assert isinstance(engine, EngineSpec) and engine.timestep_fs == 0.5

    cell = pack_structure("Li2SiO3", target_atoms=30, seed=1)
    flow = updated.make(cell)
    jobs = [j for j, _ in _jobs(flow)]
    assert not any(j.name.startswith("pack") for j in jobs)  # the given cell is the start
    scan = next(j for j in jobs if j.name == "start volume scan")
    assert scan.function_args[1] == cell
    assert flow.output["formula"] == "Li2SiO3"


@pytest.mark.slow
def test_glass_path_runs_and_records_every_stage(tmp_path):
    """Real LAMMPS, 36 atoms, a fast path (200 K/ps): NPT cooling jobs at P = 0, an anneal
    branch from its segment end with an NPT volume (density ± σ), and the 300 K glass point."""
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    from amorphdb.engines import MDRunDocument
    from amorphdb.store.schemas import AmorphousDoc

    protocol = ProtocolSettings(
        target_atoms=36, melt_temperature_K=3000, melt_steps=500,
        anneal_temperatures_K=[1500.0], anneal_steps=1000, traj_every=20,
        cooling={"rate_K_per_ps": 200.0, "glass_steps": 500},
        volume={"method": "npt", "n_steps": 1000, "noise_sigmas": 3.0},
    )
    flow = MeltQuenchMaker(protocol=protocol, campaign="path").make("Li2Si2O5")
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(flow, store=store, create_folders=True, root_dir=tmp_path,
                            log=False, ensure_success=True)
    outputs = [r.output for rs in responses.values() for r in rs.values()]
    runs = {o.md.temperature_K: o for o in outputs if isinstance(o, MDRunDocument)
            and o.md.end_temperature_K not in (None, o.md.temperature_K)}
    # two NPT ramps: 3000 → 1500 K (7.5 ps) and 1500 → 300 K (6 ps) at 200 K/ps
    assert sorted(runs) == [1500.0, 3000.0]
    assert runs[3000.0].md.ensemble.value == "npt" and runs[3000.0].md.n_steps == 7500
    assert runs[1500.0].md.end_temperature_K == 300.0 and runs[1500.0].md.n_steps == 6000
    docs = {d.descriptors["stage"]: d for d in outputs if isinstance(d, AmorphousDoc)}
    assert set(docs) == {"melt", "anneal", "glass"}
    anneal, glass = docs["anneal"], docs["glass"]
    assert anneal.temperature_K == 1500.0 and glass.temperature_K == 300.0
    for doc in (anneal, glass):
        volume = doc.descriptors["volume_equilibration"]
        assert volume["method"] == "npt" and volume["density_sem_g_cm3"] > 0
        assert doc.density_g_cm3 == pytest.approx(volume["density_g_cm3"], rel=1e-6)
    # a 300 K glass is denser than the 1500 K liquid, and a silicate glass, not a gas
    assert 1.9 < anneal.density_g_cm3 < glass.density_g_cm3 < 2.9
