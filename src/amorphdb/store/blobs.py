"""File-per-blob, content-addressed trajectory store for the embedded back end.

jobflow saves every ``@job(data=...)`` output (trajectories) in the JobStore's ``data``
store as one document ``{blob_uuid, job_uuid, job_index, data}``. In a montydb collection
each write and each read scans and decodes the whole collection (montydb has no index):
the cost of one blob grows with the number stored. :class:`FileBlobStore` is a maggma
``Store`` that keeps instead, under ``<store folder>/blobs/``:

* ``data/<aa>/<sha256>`` — the payload (BSON, zlib level 1), named by the SHA-256 of
  those bytes: identical content is stored once (writing the same job twice adds no
  blob), and a flipped bit is detected on every read and by ``amorphdb db check``;
* ``index/<blob_uuid>.json`` — a small index document (blob_uuid, job_uuid, job_index,
  sha256, size in bytes, stored time).

Both are written to a temporary file in the same folder and renamed into place
(atomic on POSIX): a full disk or a killed process never leaves a half-written blob or
index entry behind. Writing and reading one blob is O(1) in the number stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
from maggma.core import Store

from amorphdb.errors import StoreError

#: zlib level of the payload: positions are already compressed by the trajectory codec,
#: level 1 takes back most of the base64 overhead at a fraction of level 6's time
ZLIB_LEVEL = 1


class BlobChecksumError(StoreError):
    """A stored blob whose bytes no longer match its content address (damaged)."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file + rename (never half written).

    The temporary file is removed when writing fails (full disk, signal), so nothing
    partial stays behind; the error is a one-line :class:`StoreError`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise StoreError(
                f"cannot write {path} ({exc.strerror or exc}); nothing was half written — "
                "free disk space or fix the folder's permissions, then rerun"
            ) from None
        raise


class FileBlobStore(Store):
    """maggma ``Store`` of blobs as content-addressed files (see the module docstring).

    Parameters
    ----------
    folder
        Folder of the blobs (``<embedded store>/blobs``).
    key
        Key field (jobflow sets ``blob_uuid``).
    """

    def __init__(self, folder: str | Path, key: str = "blob_uuid", **kwargs: Any) -> None:
        self.folder = str(folder)  # str: the JobStore serialises to JSON (FireWorks)
        self.root = Path(folder)
        super().__init__(key=key, **kwargs)

    # ------------------------------------------------------------------ layout
    @property
    def _collection(self) -> FileBlobStore:  # maggma's abstract handle: the store itself
        return self

    @property
    def name(self) -> str:
        """Store name (its folder)."""
        return f"blobs://{self.folder}"

    @property
    def index_dir(self) -> Path:
        """Folder of the index documents."""
        return self.root / "index"

    @property
    def data_dir(self) -> Path:
        """Folder of the content-addressed payloads."""
        return self.root / "data"

    def data_path(self, sha256: str) -> Path:
        """Path of the payload with this content address."""
        return self.data_dir / sha256[:2] / sha256

    def _index_path(self, blob_uuid: str) -> Path:
        if not blob_uuid or "/" in blob_uuid or blob_uuid.startswith("."):
            raise StoreError(f"invalid blob id {blob_uuid!r}")
        return self.index_dir / f"{blob_uuid}.json"

    def connect(self, force_reset: bool = False) -> None:
        """Create the folders (idempotent)."""
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create blob folder {self.root} ({exc.strerror or exc}); "
                "choose a writable store path"
            ) from None

    def close(self) -> None:
        """Nothing to close (files are opened per call)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileBlobStore) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    # ------------------------------------------------------------------ writing
    def update(self, docs: list[dict] | dict, key: list | str | None = None) -> None:
        """Store blobs ``{blob_uuid, data, ...}``: payload by content, then its index entry."""
        for doc in [docs] if isinstance(docs, dict) else docs:
            doc = dict(doc)
            blob_uuid = str(doc[self.key])
            payload = zlib.compress(bson.encode({"data": doc.pop("data", None)}), ZLIB_LEVEL)
            sha = hashlib.sha256(payload).hexdigest()
            path = self.data_path(sha)
            if not path.is_file():  # content-addressed: the same bytes are stored once
                atomic_write(path, payload)
            entry = {**doc, "sha256": sha, "size": len(payload), "stored_at": time.time()}
            text = json.dumps(entry, default=str, sort_keys=True).encode()
            atomic_write(self._index_path(blob_uuid), text)

    def remove_docs(self, criteria: dict) -> None:
        """Remove index entries (payloads no entry refers to are removed too)."""
        for entry in list(self._entries(criteria)):
            with contextlib.suppress(FileNotFoundError):
                self._index_path(entry[self.key]).unlink()
        self.collect_garbage()

    def collect_garbage(self) -> int:
        """Delete payloads that no index entry refers to; returns how many."""
        used = {e.get("sha256") for e in self._entries({})}
        removed = 0
        for path in self.data_dir.glob("*/*"):
            if path.name not in used and not path.name.startswith(".tmp-"):
                path.unlink()
                removed += 1
        return removed

    # ------------------------------------------------------------------ reading
    def read_entry(self, blob_uuid: str) -> dict[str, Any] | None:
        """The index document of one blob (O(1)), or None."""
        try:
            return json.loads(self._index_path(blob_uuid).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"blob index entry {self._index_path(blob_uuid)} is unreadable ({exc}); "
                "run `amorphdb db check`"
            ) from None

    def read_payload(self, entry: dict[str, Any]) -> Any:
        """The stored object of an index entry, its checksum verified."""
        path = self.data_path(entry["sha256"])
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise StoreError(
                f"blob {path} of {entry.get(self.key)} is missing or unreadable "
                f"({exc.strerror or exc}); run `amorphdb db check`"
            ) from None
        if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
            raise BlobChecksumError(
                f"blob {path} is damaged (checksum mismatch); its trajectory is lost — "
                "rerun the composition (amorphdb rerun) to regenerate it"
            )
        return bson.decode(zlib.decompress(raw))["data"]

    def verify(self, entry: dict[str, Any]) -> str | None:
        """None when the payload of ``entry`` is intact, else what is wrong (one line)."""
        try:
            self.read_payload(entry)
        except StoreError as exc:
            return str(exc)
        except Exception as exc:  # undecodable payload despite a matching hash
            return f"blob {entry.get('sha256')} cannot be decoded ({exc})"
        return None

    def _entries(self, criteria: dict | None) -> Iterator[dict[str, Any]]:
        criteria = criteria or {}
        wanted = criteria.get(self.key)
        if isinstance(wanted, str):  # one key: one file
            entry = self.read_entry(wanted)
            rest = {k: v for k, v in criteria.items() if k != self.key}
            if entry is not None and _matches(entry, rest):
                yield entry
            return
        if isinstance(wanted, dict) and set(wanted) == {"$in"}:
            rest = {k: v for k, v in criteria.items() if k != self.key}
            for uuid in wanted["$in"]:
                entry = self.read_entry(str(uuid))
                if entry is not None and _matches(entry, rest):
                    yield entry
            return
        if not self.index_dir.is_dir():
            return
        for path in sorted(self.index_dir.glob("*.json")):
            entry = self.read_entry(path.stem)
            if entry is not None and _matches(entry, criteria):
                yield entry

    def query(
        self,
        criteria: dict | None = None,
        properties: dict | list | None = None,
        sort: dict | None = None,
        skip: int = 0,
        limit: int = 0,
    ) -> Iterator[dict]:
        """Blobs matching ``criteria`` (the payload under ``data`` when asked for)."""
        if isinstance(properties, dict):
            properties = [k for k, v in properties.items() if v]
        entries = list(self._entries(criteria))
        for field, direction in (sort or {}).items():
            entries.sort(key=lambda e, f=field: (e.get(f) is None, e.get(f)), reverse=direction < 0)
        entries = entries[skip:]
        if limit:
            entries = entries[:limit]
        for entry in entries:
            if properties is None or "data" in properties:
                entry = {**entry, "data": self.read_payload(entry)}
            if properties is not None:
                entry = {k: v for k, v in entry.items() if k in properties}
            yield entry

    def count(self, criteria: dict | None = None) -> int:
        """Number of blobs (index entries) matching ``criteria``."""
        if not criteria:
            return sum(1 for _ in self.index_dir.glob("*.json")) if self.index_dir.is_dir() else 0
        return sum(1 for _ in self._entries(criteria))

    def ensure_index(self, key: str, unique: bool = False) -> bool:
        """Only the key is indexed (by file name)."""
        return key == self.key

    def groupby(self, keys, criteria=None, properties=None, sort=None, skip=0, limit=0):
        """Not supported on blobs (jobflow never groups its data stores)."""
        raise NotImplementedError("FileBlobStore does not support groupby")


def _matches(entry: dict[str, Any], criteria: dict[str, Any]) -> bool:
    if not criteria:
        return True
    from mongomock.filtering import filter_applies  # maggma's own dependency

    return filter_applies(criteria, entry)
