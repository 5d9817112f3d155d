"""Store configuration: where amorphdb keeps job outputs, trajectories and summaries.

Two back ends share one code path (maggma stores behind a jobflow ``JobStore``):

* ``embedded`` (default): maggma ``MontyStore`` (montydb on SQLite) in a local folder
  (``./amorphdb-data`` unless a store file or ``AMORPHDB_STORE`` says otherwise). No server.
* ``mongodb``: maggma ``MongoStore`` for documents and ``GridFSStore`` for trajectories
  (the blob "data" store), so documents larger than MongoDB's 16 MB limit still store.
  Credentials are read from environment variables *named* in the file, never stored in it.

A store file is YAML, e.g.::

    type: mongodb
    host: mongo.cluster.example.org
    port: 27017
    database: amorphdb
    username_env: AMORPHDB_MONGO_USER
    password_env: AMORPHDB_MONGO_PASSWORD

See ``configs/store-embedded.yaml``, ``configs/store-mongodb.yaml`` and ``docs/database.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from amorphdb.errors import ConfigError, StoreError

if TYPE_CHECKING:  # pragma: no cover
    from maggma.core import Store

#: environment variable naming a store YAML file used when no store is given explicitly
STORE_ENV_VAR = "AMORPHDB_STORE"
#: folder of the embedded store when nothing else is configured
DEFAULT_EMBEDDED_PATH = Path("./amorphdb-data")
#: file in an embedded store folder listing the collections it holds (lost-file detection)
MARKER_FILE = ".amorphdb-collections"
#: montydb storage settings (pymongo's BSON: binary payloads as bytes, as on MongoDB)
MONTY_STORAGE_KWARGS = {"use_bson": True, "mongo_version": "4.0"}


class StoreType(StrEnum):
    """Back end of the amorphdb store."""

    EMBEDDED = "embedded"
    MONGODB = "mongodb"


class BlobLayout(StrEnum):
    """Where the embedded store keeps trajectory blobs."""

    #: one content-addressed file per blob + small index files (O(1); :mod:`.blobs`)
    FILES = "files"
    #: documents in the montydb ``trajectories`` collection (scans on every access)
    COLLECTION = "collection"


class CollectionNames(BaseModel):
    """Collection names; the defaults rarely need changing."""

    model_config = ConfigDict(extra="forbid")

    outputs: str = Field("outputs", description="jobflow job outputs (JobStore docs_store)")
    trajectories: str = Field(
        "trajectories", description="blob store for trajectories (JobStore 'data' store)"
    )
    amorphous: str = Field("amorphous", description="one summary per composition x temperature")
    arrhenius: str = Field("arrhenius", description="one Arrhenius fit per composition x species")
    campaigns: str = Field("campaigns", description="per-composition state and attempts")
    meta: str = Field("meta", description="write tokens (query snapshot invalidation)")
    structures: str = Field(
        "structures",
        description="final structures of the amorphous summaries (kept apart "
        "so summary queries stay fast)",
    )
    heartbeats: str = Field(
        "campaign_heartbeats", description="one heartbeat per composition in flight"
    )


class StoreConfig(BaseModel):
    """Where and how amorphdb stores its data (parsed from a YAML store file).

    Parameters
    ----------
    type
        ``embedded`` (montydb/SQLite in ``path``) or ``mongodb`` (MongoStore + GridFSStore).
    path
        Folder of the embedded store (created if missing).
    database
        Database name (MongoDB database; montydb database inside ``path``).
    host, port
        MongoDB server address.
    uri_env
        Name of an environment variable holding a full ``mongodb://`` / ``mongodb+srv://``
        URI; when set it takes precedence over host/port/credentials.
    username_env, password_env
        Names of environment variables holding the MongoDB credentials.
    auth_source
        MongoDB authentication database.
    timeout_ms
        Server-selection timeout in ms: an unreachable MongoDB fails after this long.
    trajectory_stride
        Keep every n-th trajectory frame when storing (1 keeps all frames).
    query_cache
        Embedded store only: answer summary queries from an in-process snapshot
        (:mod:`amorphdb.store.snapshot`), reloaded whenever another writer changed data.
    blob_layout
        Embedded store only: ``files`` (default; one content-addressed file per
        trajectory under ``<path>/blobs``, :mod:`amorphdb.store.blobs`) or ``collection``
        (the montydb ``trajectories`` collection of earlier versions).
    """

    model_config = ConfigDict(extra="forbid")

    type: StoreType = StoreType.EMBEDDED
    path: Path = DEFAULT_EMBEDDED_PATH
    database: str = "amorphdb"
    host: str = "localhost"
    port: int = Field(27017, ge=1, le=65535)
    uri_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    auth_source: str = "admin"
    timeout_ms: int = Field(3000, ge=100)
    trajectory_stride: int = Field(1, ge=1)
    query_cache: bool = Field(
        True,
        description="embedded store: answer summary queries from an in-process snapshot "
        "(reloaded when any AmorphousDB writer changes the data)",
    )
    blob_layout: BlobLayout = BlobLayout.FILES
    collections: CollectionNames = Field(default_factory=CollectionNames)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_file(cls, path: str | Path) -> StoreConfig:
        """Read a YAML store file; relative ``path`` entries are relative to the file."""
        file = Path(path).expanduser()
        try:
            text = file.read_text()
        except OSError as exc:
            raise ConfigError(
                f"cannot read store file {file}: {exc.strerror or exc}; "
                "check the path (see configs/store-embedded.yaml for an example)"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" at line {where.line + 1}" if where is not None else ""
            raise ConfigError(
                f"store file {file} is not valid YAML{line}; fix its syntax "
                "(see configs/store-embedded.yaml)"
            ) from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(
                f"store file {file} must be a YAML mapping (type:, path:, ...), "
                f"not a {type(data).__name__}"
            )
        if "store" in data and isinstance(data["store"], dict) and len(data) == 1:
            data = data["store"]  # allow a top-level "store:" section
        try:
            config = cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            raise ConfigError(
                f"store file {file}: field '{loc}': {err['msg']}; "
                "see docs/database.md for the store file fields"
            ) from None
        if "path" in data and not config.path.expanduser().is_absolute():
            config = config.model_copy(update={"path": file.parent / config.path})
        return config

    @classmethod
    def resolve(cls, config_or_path: str | Path | StoreConfig | None = None) -> StoreConfig:
        """Turn a config, a YAML path, a folder (embedded store there; a path that does not
        exist and is not ``*.yaml``/``*.yml`` is a new folder), or ``None``
        (``$AMORPHDB_STORE`` or the default ``./amorphdb-data``) into a config."""
        if isinstance(config_or_path, StoreConfig):
            return config_or_path
        if config_or_path is None:
            env = os.environ.get(STORE_ENV_VAR)
            if env:
                return cls.from_file(env)
            return cls()
        path = Path(config_or_path).expanduser()
        if path.is_dir():  # a folder: the embedded store in that folder
            return cls(path=path)
        if not path.exists() and path.suffix.lower() not in (".yaml", ".yml"):
            return cls(path=path)  # a new embedded store folder (refused by read-only use)
        return cls.from_file(path)

    # ---------------------------------------------------------------- describing
    @property
    def address(self) -> str:
        """Human-readable location of the store (no credentials)."""
        if self.type is StoreType.EMBEDDED:
            return str(self.path.expanduser())
        if self.uri_env:
            return f"${self.uri_env}"
        return f"{self.host}:{self.port}/{self.database}"

    # ------------------------------------------------------------------ checking
    def _mongo_credentials(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.uri_env:
            uri = os.environ.get(self.uri_env)
            if not uri:
                raise StoreError(
                    f"store file names uri_env={self.uri_env} but that environment variable "
                    "is not set; export it (mongodb://user:pass@host:port) and retry"
                )
            kwargs["uri"] = uri
            return kwargs
        for field, var in (("username", self.username_env), ("password", self.password_env)):
            if var is None:
                continue
            value = os.environ.get(var)
            if value is None:
                raise StoreError(
                    f"MongoDB {field} variable {var} (named by {field}_env in the store file) "
                    f"is not set; export {var}=... and retry"
                )
            kwargs[field] = value
        if kwargs:
            kwargs["auth_source"] = self.auth_source
        return kwargs

    def check(
        self, *, must_exist: bool = False, repair: bool = False, tolerate: bool = False
    ) -> list[str]:
        """Fail fast with a one-line :class:`StoreError` if the store cannot be used.

        Parameters
        ----------
        must_exist
            Read-only use (query, export, status, db stats/check): refuse an embedded
            store folder that does not exist or holds no store, instead of creating an
            empty one.
        repair
            Recreate (empty) collections the store had and lost, and return their names
            instead of refusing to open (``amorphdb db repair``).
        tolerate
            Return the names of lost collections without recreating them
            (``amorphdb db check``: nothing is changed).

        Returns
        -------
        list of str
            Names of lost collections (recreated only with ``repair``).
        """
        if self.type is not StoreType.EMBEDDED:
            _ping_mongodb(self)
            return []
        folder = self.path.expanduser()
        if must_exist and not (folder / self.database).is_dir():
            state = "does not exist" if not folder.exists() else "holds no amorphdb store"
            raise StoreError(
                f"store folder {folder} {state}; pass --store (a store file or folder), "
                f"set {STORE_ENV_VAR}, or run a campaign first (amorphdb run)"
            )
        if not must_exist:
            _check_folder(folder)
        return self._create_embedded_collections(repair=repair, tolerate=tolerate)

    def collection_file(self, name: str) -> Path:
        """Embedded store: the SQLite file of collection ``name``."""
        return self.path.expanduser() / self.database / f"{name}.collection"

    def _create_embedded_collections(
        self, *, repair: bool = False, tolerate: bool = False
    ) -> list[str]:
        """Create every collection up front, under the folder lock.

        montydb creates a collection (one SQLite file) lazily on the first write, in two
        steps (file, then table); two processes writing a new collection at once can see
        the file without the table ("no such table") or both try to create it. Creating
        them here while holding the same lock as :class:`LockedMontyStore` removes that
        window. Nothing is scanned, so opening a large store stays fast.

        The names created are recorded in ``<path>/.amorphdb-collections``; a recorded
        collection whose file is gone was lost (deleted, disk trouble) and is *not*
        silently recreated empty — that would make ``query`` answer 0 rows while
        ``status`` says completed. The store refuses to open (one line naming the files
        and ``amorphdb db repair``) unless ``repair`` is set.
        """
        folder = self.path.expanduser().resolve()
        names = list(self.collections.model_dump().values())
        marker = folder / MARKER_FILE
        with _folder_lock(folder):
            try:
                recorded = set(json.loads(marker.read_text())) if marker.is_file() else set()
            except (OSError, ValueError):
                recorded = set()
            lost = [n for n in names if n in recorded and not self.collection_file(n).is_file()]
            if lost and tolerate and not repair:
                return lost
            if lost and not repair:
                files = ", ".join(str(self.collection_file(n)) for n in lost)
                raise StoreError(
                    f"store {folder} is damaged: collection file(s) {files} are missing; "
                    "run `amorphdb db check`, then `amorphdb db repair` to rebuild them "
                    "from the job documents"
                )
            try:
                from montydb import MontyClient, set_storage  # montydb's public API

                set_storage(str(folder), storage="sqlite", **MONTY_STORAGE_KWARGS)
                for name in names:  # a lost file's stale WAL/SHM: montydb would list it
                    if not self.collection_file(name).is_file():
                        for suffix in ("-wal", "-shm", "-journal"):
                            stale = Path(f"{self.collection_file(name)}{suffix}")
                            stale.unlink(missing_ok=True)
                with MontyClient(str(folder)) as client:
                    database = client[self.database]
                    for name in names:
                        if not self.collection_file(name).is_file():
                            database.create_collection(name)
                _write_text_atomic(marker, json.dumps(sorted(set(names) | recorded)))
            except Exception as exc:
                raise StoreError(
                    f"cannot create the collections in {folder} ({exc}); "
                    "check the folder, or remove a damaged file there"
                ) from None
        return lost

    # ------------------------------------------------------------------ building
    def make_store(self, collection: str, *, blob: bool = False) -> Store:
        """Build one (unconnected) maggma store for ``collection`` on this back end.

        Parameters
        ----------
        collection
            Collection name.
        blob
            Build the blob store (GridFS on MongoDB) instead of a document store.
        """
        if self.type is StoreType.EMBEDDED:
            if blob and self.blob_layout is BlobLayout.FILES:
                from amorphdb.store.blobs import FileBlobStore

                return FileBlobStore(self.path.expanduser().resolve() / "blobs")
            # use_bson: pymongo's BSON (binary payloads as bytes, same codec as MongoDB)
            # jobflow's job documents: by (uuid, index) without scans (:mod:`.jobdocs`)
            cls = (
                _job_docs_store_class()
                if collection == self.collections.outputs
                else _locked_monty_store_class()
            )
            return cls(
                collection,
                database_path=str(self.path.expanduser().resolve()),
                database_name=self.database,
                storage="sqlite",
                storage_kwargs=MONTY_STORAGE_KWARGS,
            )
        creds = self._mongo_credentials()
        client_kwargs = {"serverSelectionTimeoutMS": self.timeout_ms}
        if blob:
            from maggma.stores import GridFSStore

            return GridFSStore(
                self.database,
                collection,
                host=self.host,
                port=self.port,
                compression=True,
                mongoclient_kwargs=client_kwargs,
                **creds,
            )
        from maggma.stores import MongoStore

        return MongoStore(
            self.database,
            collection,
            host=self.host,
            port=self.port,
            mongoclient_kwargs=client_kwargs,
            **creds,
        )


def _locked_monty_store_class() -> type:
    """:class:`LockedMontyStore`, built on first use so importing this module does not
    import maggma (~0.5 s of CPU; see the Store section of docs/benchmarks.md)."""
    global _LOCKED_MONTY_STORE
    if _LOCKED_MONTY_STORE is None:
        from maggma.stores import MontyStore

        class LockedMontyStore(MontyStore):
            """maggma ``MontyStore`` whose ``connect`` is serialised across processes.

            maggma rewrites montydb's ``monty.storage.cfg`` on every ``connect`` (a montydb
            workaround) and montydb reads it back when the client starts; parallel worker
            processes opening the same folder can read a half-written file and fail
            ("No module named 'montydb.storage.'"). An exclusive ``flock`` on
            ``<folder>/.amorphdb.lock`` around ``connect`` removes the race; reads and
            writes afterwards are not locked (SQLite handles those).
            """

            def connect(self, force_reset: bool = False) -> None:
                """Connect under an exclusive file lock (POSIX; unlocked elsewhere)."""
                with _folder_lock(Path(self.database_path)):
                    super().connect(force_reset=force_reset)

        # picklable and MSON-serialisable by name (resolved through __getattr__ below)
        LockedMontyStore.__module__ = __name__
        LockedMontyStore.__qualname__ = "LockedMontyStore"
        _LOCKED_MONTY_STORE = LockedMontyStore
    return _LOCKED_MONTY_STORE


_LOCKED_MONTY_STORE: type | None = None
_JOB_DOCS_STORE: type | None = None


def _job_docs_store_class() -> type:
    """:class:`JobDocsMontyStore` (see :mod:`amorphdb.store.jobdocs`), built on first use."""
    global _JOB_DOCS_STORE
    if _JOB_DOCS_STORE is None:
        from amorphdb.store.jobdocs import keyed_job_docs_class

        _JOB_DOCS_STORE = keyed_job_docs_class(_locked_monty_store_class())
        _JOB_DOCS_STORE.__module__ = __name__
        _JOB_DOCS_STORE.__qualname__ = "JobDocsMontyStore"
    return _JOB_DOCS_STORE


def __getattr__(name: str) -> Any:
    """Lazy module attributes ``LockedMontyStore`` and ``JobDocsMontyStore`` (maggma is
    imported on first access)."""
    if name == "LockedMontyStore":
        return _locked_monty_store_class()
    if name == "JobDocsMontyStore":
        return _job_docs_store_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive inter-process lock on ``<folder>/.amorphdb.lock`` (no-op without fcntl)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no flock
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".amorphdb.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _check_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create store folder {folder}: {exc.strerror or exc}; "
            "choose a writable path (store file 'path:' or AMORPHDB_STORE)"
        ) from None
    if not folder.is_dir():
        raise StoreError(f"store path {folder} exists but is not a folder; choose another path")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".amorphdb-write-test-"):
            pass
    except OSError as exc:
        raise StoreError(
            f"store folder {folder} is not writable ({exc.strerror or exc}); "
            "fix its permissions or choose another path"
        ) from None


def _ping_mongodb(config: StoreConfig) -> None:
    from pymongo import MongoClient
    from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError

    creds = config._mongo_credentials()
    timeout = {"serverSelectionTimeoutMS": config.timeout_ms, "connectTimeoutMS": config.timeout_ms}
    try:
        if "uri" in creds:
            client: MongoClient = MongoClient(creds["uri"], **timeout)
        else:
            auth = {}
            if "username" in creds:
                auth = {
                    "username": creds["username"],
                    "password": creds.get("password", ""),
                    "authSource": config.auth_source,
                }
            client = MongoClient(config.host, config.port, **auth, **timeout)
    except (ConfigurationError, ValueError) as exc:
        raise StoreError(
            f"invalid MongoDB address {config.address}: {exc}; fix host/port/uri in the store file"
        ) from None
    try:
        client[config.database].command("ping")
    except OperationFailure as exc:
        raise StoreError(
            f"MongoDB at {config.address} refused access ({exc.code}): check the credentials "
            f"in {config.username_env or config.uri_env or 'the username/password variables'}"
        ) from None
    except PyMongoError:
        raise StoreError(
            f"cannot reach MongoDB at {config.address} within {config.timeout_ms} ms; "
            "is the server running and reachable (VPN, firewall, host/port in the store file)?"
        ) from None
    finally:
        client.close()
