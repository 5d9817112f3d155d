"""Trajectories in the blob store: lossless compact codec, subsampling, > 16 MB, jobflow route."""

from __future__ import annotations

import json

import numpy as np
import pytest
from store_factories import make_amorphous, md_like_trajectory, run_md_and_record

from amorphdb.analysis import Trajectory
from amorphdb.errors import StoreError
from amorphdb.store.database import AmorphousDB
from amorphdb.store.schemas import TrajectoryRef
from amorphdb.store.trajectory import (
    StoredTrajectory,
    decode_positions,
    encode_positions,
    prepare_trajectory,
    raw_float32_bytes,
)


def test_codec_is_lossless_for_float32_and_float64():
    traj = md_like_trajectory()
    for dtype in ("float32", "float64"):
        arr = traj.positions.astype(dtype)
        back = decode_positions(encode_positions(arr, dtype))
        assert back.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(back, arr)


def test_stored_size_below_raw_float32():
    traj = md_like_trajectory(n_atoms=100, n_frames=500)
    stored = len(
        json.dumps(
            StoredTrajectory.from_dict(prepare_trajectory(traj).as_dict()).as_dict()["positions"][
                "data"
            ]
        )
    )
    plain = len(traj.as_dict()["positions"]["zlib_b64"])
    raw = raw_float32_bytes(traj)
    assert stored < raw, (stored, raw)  # base64 text included
    assert stored < 0.95 * raw
    assert plain > stored  # the analysis' own encoding is larger


def test_prepare_subsamples_and_round_trips():
    traj = md_like_trajectory(n_frames=101)
    stored = prepare_trajectory(traj, stride=10)
    assert stored.n_frames == 11
    assert stored.time_step == pytest.approx(200.0)
    assert stored.metadata["storage_stride"] == 10
    back = StoredTrajectory.from_dict(json.loads(json.dumps(stored.as_dict())))
    np.testing.assert_array_equal(back.positions, traj.positions[::10])
    np.testing.assert_array_equal(back.lattice, traj.lattice)
    assert list(back.species) == list(traj.species)
    with pytest.raises(StoreError, match="stride must be >= 1"):
        prepare_trajectory(traj, stride=0)


def test_jobflow_outputs_build_collections_and_trajectory_loads(tmp_path, store_config):
    traj = md_like_trajectory(n_frames=200)
    store = run_md_and_record(tmp_path, store_config, traj, stride=2)
    with AmorphousDB.from_config(store_config) as db:
        assert db.build_from_job_store(store) == {"inserted": 3}
        assert db.build_from_job_store(store) == {"unchanged": 3}  # idempotent
        (doc,) = db.find()
        assert doc.trajectory.n_frames == 200
        loaded = db.get_trajectory(doc)
        assert type(loaded) is Trajectory
        np.testing.assert_array_equal(loaded.positions, traj.positions[::2])
        assert loaded.time_step == pytest.approx(40.0)
        # also by key and by query
        assert db.get_trajectory(doc.key()).n_frames == 100
        assert db.get_trajectory({"formula": "Li2Si2O5"}).n_frames == 100
        assert {a.species for a in db.find_arrhenius()} == {"Li", "O"}


def test_trajectory_not_in_summary_document(tmp_path, store_config):
    traj = md_like_trajectory(n_frames=300)
    store = run_md_and_record(tmp_path, store_config, traj)
    store.connect()
    out = store.docs_store.query_one({"name": "production"})
    assert set(out["output"]["trajectory"]) == {"@class", "@module", "blob_uuid", "store"}
    with AmorphousDB.from_config(store_config) as db:
        db.build_from_job_store(store)
        raw = db._store("amorphous").query_one({})
        assert len(json.dumps(raw, default=str)) < 20_000  # the summary stays small


def test_trajectory_errors(tmp_path, store_config):
    with AmorphousDB.from_config(store_config) as db:
        db.upsert_amorphous(make_amorphous())
        with pytest.raises(StoreError, match="no trajectory reference"):
            db.get_trajectory(db.find()[0])
        db.upsert_amorphous(make_amorphous(temperature_K=2000, trajectory={"job_uuid": "nope"}))
        with pytest.raises(StoreError, match=r"job nope .* is not in the job store"):
            db.get_trajectory({"temperature_K": 2000})
        with pytest.raises(StoreError, match="2 results match"):
            db.get_trajectory({"formula": "Li2Si2O5"})


def test_trajectory_larger_than_16_MB_round_trips(tmp_path, store_config):
    """MongoDB's document limit is 16 MiB; the blob store must hold bigger trajectories."""
    traj = md_like_trajectory(n_atoms=200, n_frames=10_000, step_A=0.08, seed=3)
    assert raw_float32_bytes(traj) == 24_000_000
    stored_bytes = len(prepare_trajectory(traj).as_dict()["positions"]["data"])
    assert stored_bytes > 16 * 1024**2
    assert stored_bytes < raw_float32_bytes(traj)
    store = run_md_and_record(tmp_path, store_config, traj)
    with AmorphousDB.from_config(store_config) as db:
        db.build_from_job_store(store)
        loaded = db.get_trajectory(db.find()[0])
        np.testing.assert_array_equal(loaded.positions, traj.positions)


def test_plain_analysis_trajectory_also_loads(tmp_path):
    """A job storing an un-prepared ``Trajectory`` (the analysis' own encoding) loads too."""
    from jobflow import Flow, job, run_locally

    from amorphdb.store import StoreConfig, open_job_store

    traj = md_like_trajectory(n_frames=20)

    @job(data="trajectory", name="production")
    def production():
        return {"trajectory": traj}

    md = production()
    config = StoreConfig(path=tmp_path / "db")
    run_locally(Flow([md]), store=open_job_store(config), ensure_success=True, root_dir=tmp_path)
    with AmorphousDB.from_config(config) as db:
        db.upsert_amorphous(make_amorphous(trajectory=TrajectoryRef(job_uuid=md.uuid)))
        loaded = db.get_trajectory(db.find()[0])
        np.testing.assert_array_equal(loaded.positions, traj.positions)
        assert loaded.metadata == traj.metadata
