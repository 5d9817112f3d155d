"""File-per-blob trajectories (store/blobs.py): content addressing, precision, full disk."""

from __future__ import annotations

import contextlib
import subprocess

import numpy as np
import pytest
from jobflow import Flow, job, run_locally
from store_factories import make_amorphous, md_like_trajectory

from amorphdb.analysis import Trajectory
from amorphdb.errors import StoreError
from amorphdb.store import StoreConfig, open_job_store
from amorphdb.store.blobs import BlobChecksumError, FileBlobStore, atomic_write
from amorphdb.store.database import AmorphousDB
from amorphdb.store.schemas import TrajectoryRef
from amorphdb.store.trajectory import prepare_trajectory


def _float64_trajectory():
    rng = np.random.default_rng(3)
    pos = rng.uniform(0, 10.0, (20, 12, 3))  # float64 with full mantissas
    return Trajectory(["Li"] * 6 + ["O"] * 6, pos, np.eye(3) * 10.0, 10.0)


def _run(tmp_path, config, traj, precision="lossless"):
    @job(data="trajectory", name="production")
    def production():
        return {"trajectory": prepare_trajectory(traj, precision=precision)}

    md = production()
    store = open_job_store(config)
    run_locally(Flow([md]), store=store, ensure_success=True, root_dir=tmp_path)
    return store, md.uuid


def _load(config, uuid):
    db = AmorphousDB.from_config(config)
    doc = make_amorphous(trajectory=TrajectoryRef(job_uuid=uuid))
    db.upsert_amorphous(doc)
    traj = db.get_trajectory(doc.key())
    db.close()
    return traj


def test_float64_positions_round_trip_bit_exact(tmp_path):
    """Issue 12: float64 positions were silently stored as float32."""
    config = StoreConfig(path=tmp_path / "db")
    traj = _float64_trajectory()
    _, uuid = _run(tmp_path, config, traj)
    back = _load(config, uuid)
    assert back.positions.dtype == np.float64
    assert np.array_equal(back.positions, traj.positions)
    assert back.metadata["stored_precision"] == "lossless"


def test_float32_is_a_stated_lossy_choice(tmp_path):
    config = StoreConfig(path=tmp_path / "db")
    traj = _float64_trajectory()
    _, uuid = _run(tmp_path, config, traj, precision="float32")
    back = _load(config, uuid)
    assert back.metadata["stored_dtype"] == "float32"
    assert back.metadata["stored_precision"] == "lossy (float64 stored as float32)"
    err = np.abs(back.positions - traj.positions).max()
    assert 0 < err < 1e-5  # float32 resolution at 10 Å (2**-20 * 10 ≈ 1e-5 Å)


def test_blobs_are_files_with_small_index_and_one_payload_per_content(tmp_path):
    """The same job written twice (a rerun's save): one job document, one payload file."""
    config = StoreConfig(path=tmp_path / "db")
    traj = md_like_trajectory(n_atoms=20, n_frames=50)
    store, uuid = _run(tmp_path, config, traj)
    store.connect()
    job_doc = store.docs_store.query_one({"uuid": uuid})
    output = job_doc["output"]
    output["trajectory"] = prepare_trajectory(traj)  # re-save the same job output
    store.update({**job_doc, "output": output}, key=["uuid", "index"], save={"data": "trajectory"})
    blobs = store.additional_stores["data"]
    assert isinstance(blobs, FileBlobStore)
    assert store.docs_store.count({"uuid": uuid}) == 1
    payloads = list(blobs.data_dir.glob("*/*"))
    assert len(payloads) == 1  # content-addressed: stored once
    index = list(blobs.index_dir.glob("*.json"))
    assert all(p.stat().st_size < 400 for p in index)  # small index documents
    back = _load(config, uuid)
    assert np.array_equal(back.positions, traj.positions)


def test_flipped_bit_in_blob_is_detected(tmp_path):
    config = StoreConfig(path=tmp_path / "db")
    _, uuid = _run(tmp_path, config, md_like_trajectory(n_atoms=20, n_frames=50))
    (payload,) = (tmp_path / "db" / "blobs" / "data").glob("*/*")
    data = bytearray(payload.read_bytes())
    data[len(data) // 2] ^= 0x08
    payload.write_bytes(bytes(data))
    with pytest.raises(BlobChecksumError, match="damaged") as info:
        _load(config, uuid)
    assert "\n" not in str(info.value) and str(payload) in str(info.value)


def test_failed_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    target = tmp_path / "blobs" / "data" / "ab" / "abcd"

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", no_space)
    with pytest.raises(StoreError, match=r"No space left on device.*free disk space"):
        atomic_write(target, b"x" * 1000)
    assert list(target.parent.iterdir()) == []


@contextlib.contextmanager
def _tiny_tmpfs(path, size="160k"):
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def test_full_disk_blob_write_fails_in_one_line_and_leaves_no_partial_file(tmp_path):
    """A real full disk (a 160 kB tmpfs): the blob write fails cleanly, then succeeds."""
    with _tiny_tmpfs(tmp_path / "small") as small:
        blobs = FileBlobStore(small / "blobs")
        blobs.connect()
        rng = np.random.default_rng(0)
        big = rng.bytes(400_000)  # incompressible, larger than the disk
        with pytest.raises(StoreError, match="No space left on device") as info:
            blobs.update({"blob_uuid": "u1", "data": big})
        assert "\n" not in str(info.value)
        assert [p for p in (small / "blobs").rglob("*") if p.is_file()] == []
        blobs.update({"blob_uuid": "u2", "data": rng.bytes(20_000)})  # space is left
        assert blobs.count() == 1
        assert len(next(blobs.query({"blob_uuid": "u2"}))["data"]) == 20_000
