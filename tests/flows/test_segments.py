"""Segmented production runs: splitting, chaining with velocities, stitching (real engines)."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure

from amorphdb.engines import EngineSpec, MDSettings, get_engine
from amorphdb.errors import ConfigError
from amorphdb.flows.segments import (
    SegmentedMDMaker,
    run_segment,
    segment_settings,
    split_steps,
    stitch_segments,
)
from amorphdb.structure import pack_structure


def test_split_steps_on_frame_grid():
    assert split_steps(10000, 5000, 10) == [5000, 5000]
    assert split_steps(600, 250, 20) == [200, 200, 200]
    assert split_steps(620, 250, 20) == [220, 200, 200]
    assert split_steps(100, 1000, 10) == [100]
    assert sum(split_steps(99990, 7000, 30)) == 99990
    with pytest.raises(ConfigError, match="not a multiple of traj_every"):
        split_steps(105, 50, 10)
    with pytest.raises(ConfigError, match="shorter than traj_every"):
        split_steps(100, 5, 10)


def test_segment_settings_slice_the_ramp():
    md = MDSettings(temperature_K=1000, end_temperature_K=400, n_steps=300, timestep_fs=1,
                    seed=7)
    a, b = (segment_settings(md, [100, 200], k) for k in (0, 1))
    assert (a.temperature_K, a.end_temperature_K, a.n_steps) == (1000, 800, 100)
    assert (b.temperature_K, b.end_temperature_K, b.n_steps) == (800, 400, 200)
    assert a.initialize_velocities and not b.initialize_velocities
    held = segment_settings(md.model_copy(update={"end_temperature_K": None}), [100, 200], 1)
    assert held.temperature_K == 1000 and held.end_temperature_K is None


def test_walltime_caps_segments():
    maker = SegmentedMDMaker(engine=EngineSpec(name="lammps"), n_steps=1000, traj_every=10,
                             max_steps_per_job=5000, walltime_s=100, steps_per_second=10)
    # 0.8 × 100 s × 10 steps/s = 800 steps per job at most
    assert maker.segment_lengths() == [500, 500]


@pytest.fixture(scope="module")
def li2si2o5():
    return pack_structure("Li2Si2O5", n_formula_units=4, density_g_cm3=2.35, seed=7)


def _run(flow):
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(flow, store=store, ensure_success=True)
    return responses[flow.output.uuid][1].output


@pytest.mark.slow
def test_lammps_segmented_equals_unsegmented(li2si2o5, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = dict(engine=EngineSpec(name="lammps"), temperature_K=3000, n_steps=600,
                  traj_every=20, thermo_every=10, seed=3, checkpoint_root=str(tmp_path / "ck"))
    one = _run(SegmentedMDMaker(max_steps_per_job=600, **common).make(li2si2o5))
    three = _run(SegmentedMDMaker(max_steps_per_job=250, **common).make(li2si2o5))
    assert three.trajectory.metadata["segments"] == 3
    assert one.n_frames == three.n_frames == 31
    assert three.thermo.time_fs == pytest.approx(one.thermo.time_fs)
    assert np.allclose(np.diff(three.thermo.time_fs), 10.0)
    # the first segment is the same dynamics as the first third of the long run
    np.testing.assert_allclose(
        three.trajectory.positions[:11], one.trajectory.positions[:11], atol=1e-5
    )
    # continuity across the seams: frame-to-frame displacements stay ordinary
    lat = three.trajectory.lattice
    frac = np.linalg.solve(lat.T, three.trajectory.positions.transpose(0, 2, 1))
    d = np.diff(frac.transpose(0, 2, 1), axis=0)
    d -= np.round(d)
    per_frame = np.linalg.norm(d @ lat, axis=2).mean(axis=1)
    assert per_frame[[9, 10, 19, 20]].max() < 3 * np.median(per_frame)


def li2o() -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["Li", "O"], [[0.25, 0.25, 0.25], [0, 0, 0]]
    )


@pytest.mark.slow
def test_mlip_segments_reproduce_the_unsegmented_run(tmp_path):
    """Velocities and Nosé-Hoover chain state carried: two segments = one run, frame by frame."""
    spec = EngineSpec(name="mlip")
    md = MDSettings(temperature_K=900, n_steps=40, timestep_fs=2.0, traj_every=5,
                    thermo_every=5, thermostat_damping_fs=40.0, seed=2)
    whole = get_engine(spec).run(li2o(), md, tmp_path / "whole")
    lengths = [20, 20]
    first = run_segment(spec, segment_settings(md, lengths, 0), 0, 0.0, li2o(),
                        checkpoint_root=str(tmp_path / "ck"))
    second = run_segment(
        spec, segment_settings(md, lengths, 1), 1, 40.0, first.document.structure,
        first.document.final_velocities_A_per_fs, first.thermostat_state,
        checkpoint_root=str(tmp_path / "ck"),
    )
    stitched = stitch_segments(spec, md, [second, first])  # order restored by index
    assert stitched.n_frames == whole.trajectory.n_frames == 9
    np.testing.assert_allclose(stitched.trajectory.positions, whole.trajectory.positions,
                               atol=1e-6)
    assert stitched.thermo.time_fs == pytest.approx(whole.thermo.time_fs)
    # a rerun of a finished segment reuses its checkpoint directory (no new part)
    again = run_segment(spec, segment_settings(md, lengths, 0), 0, 0.0, li2o(),
                        checkpoint_root=str(tmp_path / "ck"))
    assert again.document.dir_name == first.document.dir_name
    np.testing.assert_array_equal(
        np.asarray(again.document.final_velocities_A_per_fs),
        np.asarray(first.document.final_velocities_A_per_fs),
    )
