"""Volume equilibration converges on a real small system (LAMMPS + Pedone, 36 atoms)."""

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from amorphdb.engines import EngineSpec
from amorphdb.flows.volume import VolumeEquilibrationMaker, VolumeResult
from amorphdb.structure import pack_structure


def _run(flow, tmp_path):
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(flow, store=store, create_folders=True, root_dir=tmp_path, log=False)
    results = [
        r.output for rs in responses.values() for r in rs.values()
        if isinstance(r.output, VolumeResult)
    ]
    assert len(results) == 1
    return results[0], store


@pytest.mark.slow
def test_eos_loop_converges_from_a_dilute_start(tmp_path):
    # start 40 % too dilute: the first three points all have P < 0 at 2500 K
    structure = pack_structure("Li2Si2O5", n_formula_units=4, density_g_cm3=1.6, seed=11)
    maker = VolumeEquilibrationMaker(
        engine=EngineSpec(name="lammps"), temperature_K=2500, n_steps=1500, max_iterations=5
    )
    result, _ = _run(maker.make(structure), tmp_path)
    assert result.converged
    assert abs(result.pressure_kbar) < maker.pressure_tolerance_kbar
    # every point is recorded: 3 initial runs + at least one checking run
    assert len(result.points) >= 4
    assert [p.iteration for p in result.points[:3]] == [0, 0, 0]
    assert result.points[-1].iteration >= 1
    # the accepted volume is much smaller than the dilute start (36 atoms are too noisy,
    # σ(P) ~ 20 kbar, to test that P falls monotonically between the first points)
    assert result.volume_A3 < 0.9 * structure.volume
    # a liquid silicate at 2500 K: denser than the start, below the glass (2.35 g/cm³)
    assert 1.7 < result.density_g_cm3 < 2.5
    assert result.fit["method"].startswith("birch-murnaghan") or result.fit["method"] == "linear"
    # the accepted structure is the last frame of the accepted run, with velocities
    assert np.asarray(result.velocities_A_per_fs).shape == (36, 3)
    assert result.volume_A3 == pytest.approx(result.points[-1].volume_A3, rel=1e-9)


def test_budget_exhausted_flagged_when_asked(tmp_path):
    structure = pack_structure("Li2Si2O5", n_formula_units=4, density_g_cm3=2.0, seed=5)
    maker = VolumeEquilibrationMaker(
        engine=EngineSpec(name="lammps"), temperature_K=2000, n_steps=200,
        max_iterations=0, pressure_tolerance_kbar=1e-6, on_unconverged="flag",
    )
    result, _ = _run(maker.make(structure), tmp_path)
    assert not result.converged
    assert len(result.points) == 3
    best = min(result.points, key=lambda p: abs(p.pressure_kbar))
    assert result.pressure_kbar == pytest.approx(best.pressure_kbar)
    # the scan stays in a physical range: ±10 % in volume around the start
    volumes = sorted(p.volume_A3 for p in result.points)
    assert volumes[-1] / volumes[0] == pytest.approx(1.1 / 0.9, rel=1e-6)


def test_budget_exhausted_fails_the_stage_and_the_rerun_widens_the_scan(tmp_path):
    """The default decides: an unconverged search fails its job with a message the
    campaign's escalation classifies as an EOS failure (scan ±0.1 → ±0.2, more checks)."""
    from amorphdb.campaign.escalation import FailureKind, escalate
    from amorphdb.flows import ProtocolSettings
    from amorphdb.flows.volume import VolumeConvergenceError

    structure = pack_structure("Li2Si2O5", n_formula_units=4, density_g_cm3=2.0, seed=5)
    maker = VolumeEquilibrationMaker(
        engine=EngineSpec(name="lammps"), temperature_K=2000, n_steps=200,
        max_iterations=0, pressure_tolerance_kbar=1e-6,
    )
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    with pytest.raises(VolumeConvergenceError, match="did not converge at 2000 K") as err:
        run_locally(maker.make(structure), store=store, create_folders=True,
                    root_dir=tmp_path, log=False, raise_immediately=True)
    # the three scan points ran and were stored before the fit failed
    assert store.count({"name": {"$regex": "^volume "}}) == 3
    step = escalate(str(err.value), EngineSpec(), ProtocolSettings())
    assert step.kind is FailureKind.EOS
    assert step.protocol.volume.scale_factors == pytest.approx([0.8, 1.0, 1.2])
    assert step.protocol.volume.max_iterations == ProtocolSettings().volume.max_iterations + 2


def test_npt_method(tmp_path):
    structure = pack_structure("Li2Si2O5", n_formula_units=4, density_g_cm3=2.0, seed=5)
    maker = VolumeEquilibrationMaker(
        engine=EngineSpec(name="lammps"), temperature_K=1500, n_steps=1500, method="npt",
        pressure_tolerance_kbar=50.0,
    )
    result, _ = _run(maker.make(structure), tmp_path)
    assert result.method == "npt" and len(result.points) == 1
    assert result.volume_A3 == pytest.approx(result.points[0].volume_A3)
    assert result.volume_A3 != pytest.approx(structure.volume, rel=0.02)
    assert result.pressure_kbar == pytest.approx(result.points[0].pressure_kbar)
    # the accepted density carries its standard error (block averages of the volume)
    assert 0 < result.density_sem_g_cm3 < 0.05 * result.density_g_cm3
