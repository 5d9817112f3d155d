"""Store configuration: YAML parsing, defaults, fail-fast errors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from jobflow import Flow, job, run_locally
from maggma.stores import GridFSStore, MongoStore, MontyStore

from amorphdb.errors import ConfigError, StoreError
from amorphdb.store import StoreConfig, StoreType, open_job_store
from amorphdb.store.blobs import FileBlobStore

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_default_is_embedded_in_local_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AMORPHDB_STORE", raising=False)
    store = open_job_store()
    assert isinstance(store.docs_store, MontyStore)  # LockedMontyStore
    assert store.docs_store.collection_name == "outputs"
    blobs = store.additional_stores["data"]  # file-per-blob trajectories (store/blobs.py)
    assert isinstance(blobs, FileBlobStore)
    assert blobs.root == (tmp_path / "amorphdb-data").resolve() / "blobs"
    assert Path(store.docs_store.database_path) == (tmp_path / "amorphdb-data").resolve()


def test_env_var_selects_store_file(tmp_path, monkeypatch):
    cfg = tmp_path / "s.yaml"
    cfg.write_text("type: embedded\npath: mydb\ntrajectory_stride: 5\n")
    monkeypatch.setenv("AMORPHDB_STORE", str(cfg))
    config = StoreConfig.resolve(None)
    assert config.path == tmp_path / "mydb"  # relative to the file
    assert config.trajectory_stride == 5
    store = open_job_store()
    assert Path(store.docs_store.database_path) == (tmp_path / "mydb").resolve()


def test_example_configs_parse():
    emb = StoreConfig.from_file(CONFIGS / "store-embedded.yaml")
    assert emb.type is StoreType.EMBEDDED
    mongo = StoreConfig.from_file(CONFIGS / "store-mongodb.yaml")
    assert mongo.type is StoreType.MONGODB
    assert mongo.username_env == "AMORPHDB_MONGO_USER"
    text = (CONFIGS / "store-mongodb.yaml").read_text()
    assert "password:" not in text.replace("password_env:", "")


def test_mongodb_file_selects_mongostore_and_gridfs(tmp_path, monkeypatch):
    monkeypatch.setenv("U_VAR", "alice")
    monkeypatch.setenv("P_VAR", "s3cret")
    config = StoreConfig(
        type="mongodb",
        host="db.example",
        port=27018,
        database="amo",
        username_env="U_VAR",
        password_env="P_VAR",
    )
    docs = config.make_store("outputs")
    blob = config.make_store("trajectories", blob=True)
    assert isinstance(docs, MongoStore) and not isinstance(docs, MontyStore)
    assert isinstance(blob, GridFSStore)
    assert (docs.host, docs.port, docs.database, docs.username) == (
        "db.example",
        27018,
        "amo",
        "alice",
    )
    assert blob.password == "s3cret"
    assert blob.compression is True


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("type: [unclosed\n", "not valid YAML"),
        ("type: postgres\n", "field 'type'"),
        ("tipe: embedded\n", "field 'tipe'"),
        ("- a\n- b\n", "must be a YAML mapping"),
    ],
)
def test_bad_store_file_is_one_line_config_error(tmp_path, text, match):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        open_job_store(cfg)
    assert "\n" not in str(info.value)


def test_missing_store_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read store file"):
        open_job_store(tmp_path / "nope.yaml")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_unwritable_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="not writable"):
            open_job_store(StoreConfig(path=folder))
        with pytest.raises(StoreError, match="cannot create store folder"):
            open_job_store(StoreConfig(path=folder / "sub"))
    finally:
        folder.chmod(0o700)


def test_uncreatable_folder_even_as_root():
    with pytest.raises(StoreError, match="cannot create store folder /proc/amorphdb"):
        open_job_store(StoreConfig(path="/proc/amorphdb-nope/db"))


def test_path_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StoreError):
        open_job_store(StoreConfig(path=f))


def test_unreachable_mongodb_fails_fast_with_address():
    config = StoreConfig(type="mongodb", host="127.0.0.1", port=9, timeout_ms=300)
    with pytest.raises(StoreError):  # imports maggma/pymongo: not part of the timing
        open_job_store(config)
    start = time.perf_counter()
    with pytest.raises(StoreError, match=r"cannot reach MongoDB at 127\.0\.0\.1:9") as info:
        open_job_store(config)
    # the 0.3 s timeout is used, not pymongo's 30 s default (margin for a loaded machine)
    assert time.perf_counter() - start < 15
    assert "\n" not in str(info.value)


def test_missing_credential_variable(monkeypatch):
    monkeypatch.delenv("NO_SUCH_VAR_AMORPHDB", raising=False)
    config = StoreConfig(type="mongodb", username_env="NO_SUCH_VAR_AMORPHDB")
    with pytest.raises(StoreError, match="NO_SUCH_VAR_AMORPHDB"):
        open_job_store(config)


def test_jobflow_routes_data_to_trajectory_store(tmp_path):
    @job(data="trajectory")
    def produce():
        return {"trajectory": {"frames": [1, 2, 3]}, "energy": -1.5}

    j = produce()
    store = open_job_store(StoreConfig(path=tmp_path / "db"))
    run_locally(Flow([j]), store=store, ensure_success=True, root_dir=tmp_path)
    store.connect()
    doc = store.docs_store.query_one({"uuid": j.uuid})
    assert doc["output"]["energy"] == -1.5
    assert doc["output"]["trajectory"]["store"] == "data"  # a reference, not the data
    blob = store.additional_stores["data"].query_one({"job_uuid": j.uuid})
    assert blob["data"] == {"frames": [1, 2, 3]}
    # the full output resolves back through the JobStore
    assert store.get_output(j.uuid, load=True)["trajectory"] == {"frames": [1, 2, 3]}


def test_job_store_serialises_for_fireworks(tmp_path):
    """FireWorks / jobflow-remote ship the JobStore as JSON; it must come back equal."""
    import json

    from monty.json import MontyDecoder

    store = open_job_store(StoreConfig(path=tmp_path / "db"))
    back = MontyDecoder().process_decoded(json.loads(json.dumps(store.as_dict())))
    assert type(back.docs_store) is type(store.docs_store)
    assert back.docs_store.database_path == store.docs_store.database_path
    assert back.additional_stores["data"] == store.additional_stores["data"]
    back.connect()
    assert back.docs_store.count() == 0


# ------------------------------------------------- jobflow's configuration (issue 15)
def test_open_database_accepts_a_jobstore(tmp_path):
    """open_database(<JobStore>) raised TypeError; now the same data either way."""
    from store_factories import make_amorphous

    from amorphdb.store import open_database, open_job_store

    folder = tmp_path / "db"
    with open_database(folder) as db:
        db.upsert_amorphous(make_amorphous())
    js = open_job_store(folder)
    assert open_job_store(js) is js
    with open_database(js) as db:
        assert db.count() == 1 and db.job_store is js
        assert db.config.path == folder.resolve()


def test_jobflow_config_file_is_honoured(tmp_path, monkeypatch):
    """With JOBFLOW_CONFIG_FILE naming a JOB_STORE and no AMORPHDB_STORE, amorphdb uses it."""
    from store_factories import make_amorphous

    from amorphdb.store import open_database, open_job_store

    folder = tmp_path / "jobflow-db"
    config = tmp_path / "jobflow.yaml"
    config.write_text(
        "JOB_STORE:\n"
        "  docs_store:\n"
        "    type: MontyStore\n"
        f"    database_path: {folder}\n"
        "    database_name: amorphdb\n"
        "    collection_name: outputs\n"
        "    storage: sqlite\n"
        "    storage_kwargs: {use_bson: true, mongo_version: '4.0'}\n"
    )
    monkeypatch.delenv("AMORPHDB_STORE", raising=False)
    monkeypatch.setenv("JOBFLOW_CONFIG_FILE", str(config))
    js = open_job_store()
    assert js.docs_store.database_path == str(folder)
    with open_database() as db:
        db.upsert_amorphous(make_amorphous())
        assert db.config.path == folder
    assert not (tmp_path / "amorphdb-data").exists()
    with open_database(str(folder)) as db:
        assert db.count() == 1
