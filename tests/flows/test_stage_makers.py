"""Stage makers as nested fields of MeltQuenchMaker (issue 15): swap one stage, reach
nested makers with update_kwargs, round-trip through as_dict/from_dict, and the glass
path's melt at its own NPT volume (issue 11) with a swapped anneal maker, for real."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from jobflow import job
from monty.json import MontyDecoder, MontyEncoder

from amorphdb.engines import EngineSpec, MDRunDocument
from amorphdb.errors import ConfigError
from amorphdb.flows import MeltQuenchMaker, ProtocolSettings
from amorphdb.flows.md import MDMaker, MDStageFields, run_md_stage
from amorphdb.flows.segments import SegmentedMDMaker
from amorphdb.flows.volume import VolumeEquilibrationMaker

MARK = " [MarkedMDMaker]"


@dataclass
class MarkedMDMaker(MDMaker):
    """A user's own production maker: runs the stage and marks its run document."""

    name: str = "marked"

    @job(data="trajectory")
    def make(self, structure, velocities_A_per_fs=None) -> MDRunDocument:
        doc = run_md_stage(self.engine, self.md_settings(), structure, velocities_A_per_fs)
        return doc.model_copy(update={"potential": doc.potential + MARK})


def _makers(flow, prefix: str) -> list:
    return [j.function.__self__ for j, _ in flow.iterflow() if j.name.startswith(prefix)]


TINY = ProtocolSettings(melt_temperature_K=3000, melt_steps=1000, anneal_temperatures_K=[1500],
                        anneal_steps=2000, cooling={"glass_temperature_K": None})


def test_swapped_anneal_maker_gets_the_protocol_values():
    maker = MeltQuenchMaker(protocol=TINY, anneal_maker=MarkedMDMaker(thermostat="langevin",
                                                                       temperature_K=1.0))
    flow = maker.make("Li2Si2O5")
    (anneal,) = _makers(flow, "anneal")
    assert type(anneal) is MarkedMDMaker and anneal.thermostat == "langevin"
    # the protocol supplies temperature, steps, frames and the engine; the template's
    # placeholder temperature is not used
    assert (anneal.temperature_K, anneal.n_steps, anneal.traj_every) == (1500, 2000, 10)
    assert anneal.engine == maker.engine
    melts = _makers(flow, "melt")  # the melt and the P = 0 melt record
    assert len(melts) == 2
    assert all(type(m) is MDMaker and m.thermostat == "nose-hoover" for m in melts)


def test_update_kwargs_class_filter_reaches_nested_makers():
    maker = MeltQuenchMaker(protocol=TINY)
    langevin = maker.update_kwargs({"thermostat": "langevin"}, class_filter=MDMaker)
    assert [m.thermostat for m in (langevin.melt_maker, langevin.cooling_maker,
                                   langevin.anneal_maker)] == ["langevin"] * 3
    assert langevin.volume_maker.thermostat == "nose-hoover"  # not an MDMaker
    assert maker.anneal_maker.thermostat == "nose-hoover"  # the original is untouched
    flow = langevin.make("Li2Si2O5")
    assert {m.thermostat for m in _makers(flow, "cool") + _makers(flow, "anneal")} == {"langevin"}
    # MDStageFields is the base of every MD stage maker: the volume runs too
    every = maker.update_kwargs({"thermostat_damping_fs": 50.0}, class_filter=MDStageFields)
    assert every.volume_maker.thermostat_damping_fs == 50.0
    assert every.volume_maker.md_maker("point").md_settings().thermostat_damping_fs == 50.0
    only_anneal = maker.update_kwargs({"thermostat": "langevin"}, name_filter="anneal")
    assert only_anneal.anneal_maker.thermostat == "langevin"
    assert only_anneal.melt_maker.thermostat == "nose-hoover"
    # settings of the flow maker itself still merge; a key no maker has is refused
    merged = maker.update_kwargs({"protocol": {"anneal_steps": 4000}})
    assert merged.protocol.anneal_steps == 4000 and merged.protocol.melt_steps == 1000
    with pytest.raises(ConfigError, match="thermostatt"):
        maker.update_kwargs({"thermostatt": "langevin"})


def test_round_trip_and_hash_with_nested_makers():
    custom = MeltQuenchMaker(
        protocol=TINY,
        anneal_maker=MarkedMDMaker(thermostat="langevin"),
        volume_maker=VolumeEquilibrationMaker(thermostat_damping_fs=50.0),
    )
    text = json.dumps(custom.as_dict(), cls=MontyEncoder)
    back = MontyDecoder().decode(text)
    assert isinstance(back, MeltQuenchMaker) and back == custom
    assert type(back.anneal_maker) is MarkedMDMaker
    assert isinstance(back.protocol, ProtocolSettings)
    assert back.protocol_hash() == custom.protocol_hash()
    # default stage makers leave the hash as it was before stage makers existed (stored
    # campaigns keep their keys); a swapped stage changes it
    plain = MeltQuenchMaker(protocol=TINY)
    assert plain.protocol_hash() == TINY.protocol_hash(plain.engine.model_dump(mode="json"))
    assert MeltQuenchMaker.from_dict(plain.as_dict()).protocol_hash() == plain.protocol_hash()
    assert custom.protocol_hash() != plain.protocol_hash()


def test_segmentation_keeps_the_stage_settings():
    protocol = TINY.model_copy(update={"max_steps_per_job": 500})
    maker = MeltQuenchMaker(protocol=protocol, melt_maker=MDMaker(thermostat="langevin"))
    segments = [j.function_args[1] for j, _ in maker.make("Li2SiO3").iterflow()
                if j.name.startswith("melt 3000 K segment")]
    assert len(segments) == 2 and {md.thermostat for md in segments} == {"langevin"}
    assert sum(md.n_steps for md in segments) == 1000
    # a user's SegmentedMDMaker keeps its checkpoint folder
    own = MeltQuenchMaker(protocol=protocol,
                          anneal_maker=SegmentedMDMaker(checkpoint_root="/scratch/ckpt"))
    stitched = [j for j, _ in own.make("Li2SiO3").iterflow() if j.name.startswith("anneal")]
    assert len(stitched) == 5  # 4 segments + stitch
    assert {j.function_args[-1] for j in stitched[:-1]} == {"/scratch/ckpt"}


@pytest.mark.slow
def test_glass_path_melt_volume_and_swapped_anneal_run(tmp_path):
    """Real LAMMPS, 36 atoms: the melt runs at its own NPT volume (P ≈ 0, density ± σ in
    the record) and the swapped anneal maker's document is the one the record analyses."""
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    from amorphdb.store.schemas import AmorphousDoc

    protocol = ProtocolSettings(
        target_atoms=36, melt_temperature_K=3000, melt_steps=1000,
        anneal_temperatures_K=[2500.0], anneal_steps=1000, traj_every=20,
        cooling={"glass_temperature_K": None, "n_steps": 200},
        volume={"method": "npt", "n_steps": 2000, "noise_sigmas": 3.0},
    )
    maker = MeltQuenchMaker(engine=EngineSpec(potential="pedone2006"), protocol=protocol,
                            campaign="stages", anneal_maker=MarkedMDMaker(thermostat="langevin"))
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(maker.make("Li2Si2O5"), store=store, create_folders=True,
                            root_dir=tmp_path, log=False, ensure_success=True)
    outputs = [r.output for rs in responses.values() for r in rs.values()]
    docs = {d.descriptors["stage"]: d for d in outputs if isinstance(d, AmorphousDoc)}
    melt, anneal = docs["melt"], docs["anneal"]
    volume = melt.descriptors["volume_equilibration"]
    assert volume["method"] == "npt" and volume["converged"]
    assert 0 < volume["density_sem_g_cm3"] < 0.1
    assert melt.density_g_cm3 == pytest.approx(volume["density_g_cm3"], rel=1e-6)
    # a 3000 K silicate liquid at P ≈ 0 is well below the packed glass density (2.3-2.4)
    assert 1.4 < melt.density_g_cm3 < 2.3
    assert abs(volume["pressure_kbar"]) < 15
    assert anneal.provenance.potential.endswith(MARK)
    assert not melt.provenance.potential.endswith(MARK)
    run = next(o for o in outputs if isinstance(o, MDRunDocument) and o.potential.endswith(MARK))
    assert run.md.thermostat == "langevin" and run.md.temperature_K == 2500.0
