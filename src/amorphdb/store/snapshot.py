"""In-process snapshot of the ``amorphous`` summaries for fast queries on the embedded store.

montydb keeps no indexes and evaluates every filter in Python over every document
(~15–40 µs per summary: 150–400 ms per query at 10 000 summaries, see
``docs/benchmarks.md``). The snapshot loads the (small) summary documents once, keeps the
queryable fields as numpy/pandas columns and answers :class:`AmorphousQuery` filters with
vectorised masks (a few ms at 10 000). It is reloaded whenever the write token in the
``meta`` collection changes; every write made through :class:`AmorphousDB` changes it.

Semantics follow MongoDB's: a missing or null field never matches a range, ``$all`` /
``$in`` / ``$nin`` on the element list, nulls sort first ascending and last descending.
Anything the snapshot cannot evaluate exactly (e.g. a range on a text column) returns
``None`` and the caller falls back to the store query.

Persisted columns
-----------------
Building the snapshot decodes every summary (~0.25 s CPU at 10 000), which a one-shot
``amorphdb query`` process would pay every time. :func:`save_columns` therefore writes the
column table (not the documents) to ``<store>/.amorphdb-query-cache.npz`` (plain numpy
arrays, read with ``allow_pickle=False``), stamped with the write token and the size and
modification time of the collection's SQLite files. :func:`load_columns` accepts it only
when both still match; a new process then reads the columns (a few ms) and decodes only
the documents it returns, fetched by key (:meth:`Snapshot.documents`). Columns whose
values the cache cannot hold exactly (nested lists, mixed types) make it skip the cache.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amorphdb.store.query import SCALAR_FIELDS, AmorphousQuery, parse_elements, resolve_field
from amorphdb.store.schemas import ResultState, chemsys_of, reduced_formula


def _get(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _columns_of(docs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Queryable column values (stored dotted path -> one value per document)."""
    columns: dict[str, list[Any]] = {path: [] for path in SCALAR_FIELDS.values()}
    species = sorted({sp for d in docs for sp in (d.get("diffusion") or {})})
    for sp in species:
        columns[f"diffusion.{sp}.D_cm2_s"] = []
        columns[f"diffusion.{sp}.D_std_cm2_s"] = []
    for doc in docs:
        for path, values in columns.items():
            values.append(_get(doc, path))
    return columns


@dataclass
class Snapshot:
    """Summaries in memory: a column table ``frame`` in store order, documents by row.

    ``docs`` holds the decoded documents when the snapshot was built from them; a
    snapshot loaded from persisted columns has ``docs=None`` and decodes only the rows
    asked for through ``fetch`` (``_id`` list -> ``{_id: document}``).
    """

    token: str | None
    ids: list[str]
    frame: pd.DataFrame
    elements: dict[str, np.ndarray]
    by_id: dict[str, int]
    docs: list[dict[str, Any]] | None = None
    fetch: Callable[[list[str]], dict[str, dict[str, Any]]] | None = field(
        default=None, repr=False
    )
    #: the raw column values (kept to persist them, :func:`save_columns`)
    columns: dict[str, list[Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, token: str | None, docs: list[dict[str, Any]]) -> Snapshot:
        """Index ``docs`` (stored summary dicts)."""
        columns = _columns_of(docs)
        element_lists = [d.get("elements") or () for d in docs]
        return cls._index(token, [d["_id"] for d in docs], columns, element_lists, docs=docs)

    @classmethod
    def _index(
        cls,
        token: str | None,
        ids: list[str],
        columns: dict[str, list[Any]],
        element_lists: list[Any],
        **kwargs: Any,
    ) -> Snapshot:
        n = len(ids)
        frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
        all_elements = sorted({el for els in element_lists for el in els})
        elements = {
            el: np.fromiter((el in els for els in element_lists), bool, n)
            for el in all_elements
        }
        by_id = {key: i for i, key in enumerate(ids)}
        return cls(token, ids, frame, elements, by_id, columns=columns, **kwargs)

    def __len__(self) -> int:
        return len(self.ids)

    def documents(self, rows: list[int]) -> list[dict[str, Any]]:
        """The stored documents of ``rows`` (in that order); rows deleted since the
        snapshot was taken are left out."""
        if self.docs is not None:
            return [self.docs[i] for i in rows]
        if self.fetch is None or not rows:
            return []
        wanted = [self.ids[i] for i in rows]
        found = self.fetch(wanted)
        return [found[key] for key in wanted if key in found]

    # ------------------------------------------------------------------ evaluation
    def _column(self, path: str) -> pd.Series | None:
        if path in self.frame:
            return self.frame[path]
        if path.startswith("diffusion."):  # a species nobody has: all missing
            return pd.Series([None] * len(self), index=self.frame.index, dtype=object)
        return None

    def _range(self, path: str, lo: float | None, hi: float | None) -> np.ndarray | None:
        col = self._column(path)
        if col is None:
            return None
        values = pd.to_numeric(col, errors="coerce")
        text = col.notna() & values.isna()
        if text.any():  # a range on text: MongoDB type-brackets it; let the store answer
            return None
        mask = values.notna().to_numpy().copy()
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            if lo is not None:
                mask &= arr >= lo
            if hi is not None:
                mask &= arr <= hi
        return mask

    def _has(self, el: str) -> np.ndarray:
        return self.elements.get(el, np.zeros(len(self), bool))

    def mask(self, query: AmorphousQuery, pairs: set[tuple[str, str]] | None) -> np.ndarray | None:
        """Boolean mask of the summaries matching ``query`` (None: cannot evaluate)."""
        n = len(self)
        mask = np.ones(n, bool)
        f = self.frame
        if query.chemsys:
            mask &= (f["chemsys"] == chemsys_of(parse_elements(query.chemsys))).to_numpy()
        for el in parse_elements(query.elements):
            mask &= self._has(el)
        if query.any_elements:
            anym = np.zeros(n, bool)
            for el in parse_elements(query.any_elements):
                anym |= self._has(el)
            mask &= anym
        for el in parse_elements(query.exclude_elements):
            mask &= ~self._has(el)
        if query.formula:
            mask &= (f["formula_reduced"] == reduced_formula(query.formula)).to_numpy()
        if query.temperature_K is not None:
            if isinstance(query.temperature_K, tuple | list):
                lo, hi = query.temperature_K
            else:
                lo, hi = float(query.temperature_K) - 0.5, float(query.temperature_K) + 0.5
            part = self._range("temperature_K", lo, hi)
            if part is None:
                return None
            mask &= part
        if query.campaign:
            mask &= (f["campaign"] == query.campaign).to_numpy()
        if query.state:
            mask &= (f["state"] == str(ResultState(query.state))).to_numpy()
        if query.hide_replicas and "replica" in f:  # per-replica records of an average
            mask &= f["replica"].isna().to_numpy()
        ranges: list[tuple[str, float | None, float | None]] = [
            (f"diffusion.{sp}.D_cm2_s", lo, hi) for sp, (lo, hi) in query.D.items()
        ]
        if query.density_g_cm3 is not None:
            ranges.append(("density_g_cm3", *query.density_g_cm3))
        ranges += [(resolve_field(name), lo, hi) for name, (lo, hi) in query.ranges.items()]
        for path, lo, hi in ranges:
            part = self._range(path, lo, hi)
            if part is None:
                return None
            mask &= part
        if pairs is not None:
            keys = list(zip(f["campaign"], f["formula_reduced"], strict=True))
            mask &= np.fromiter((k in pairs for k in keys), bool, n)
        return mask

    def select(
        self, mask: np.ndarray, sort: dict[str, int] | None, limit: int
    ) -> list[dict[str, Any]] | None:
        """Documents under ``mask``, MongoDB-sorted and limited (None: cannot sort here)."""
        rows = np.flatnonzero(mask).tolist()
        for path, direction in reversed(list((sort or {}).items())):  # stable, last key first
            col = self._column(path)
            if col is None:
                return None
            values = col.to_numpy(dtype=object)
            kinds = {type(v) for v in values[rows] if v is not None}
            if len(kinds - {int, float}) > 0 and len(kinds) > 1:
                return None  # mixed types: MongoDB's type order, let the store sort

            def key(i: int, values=values) -> tuple:
                v = values[i]
                null = v is None or (isinstance(v, float) and np.isnan(v))
                return (0, 0) if null else (1, v)

            rows.sort(key=key, reverse=direction < 0)
        if limit:
            rows = rows[:limit]
        return self.documents(rows)


# ---------------------------------------------------------------------- persisted columns
#: file (in the store folder) holding the persisted column table
CACHE_FILE = ".amorphdb-query-cache.npz"
#: bump when the layout of the cache changes (older caches are then ignored)
CACHE_VERSION = 1
_EPOCH = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)


def file_stamp(path: Path) -> list[int]:
    """Fingerprint of a SQLite file in WAL mode: size and modification time (ns) of the
    main file, size of the WAL and a CRC of the WAL header (its checkpoint sequence and
    salts change whenever the WAL is restarted). Any committed write changes one of
    them, so a cache stamped with them is never used after a write that bypassed the
    write token; readers change none of them (the WAL's mtime changes on every open,
    hence the header). A false mismatch only costs one rebuild."""
    try:
        st = os.stat(path)
        stamp = [st.st_size, st.st_mtime_ns]
    except FileNotFoundError:
        stamp = [0, 0]
    try:
        with open(f"{path}-wal", "rb") as wal:
            header = wal.read(32)
            stamp += [os.fstat(wal.fileno()).st_size, zlib.crc32(header)]
    except FileNotFoundError:
        stamp += [0, 0]
    return stamp


def _kind(values: list[Any]) -> str | None:
    """How a column is stored in the cache, or None when it cannot be stored exactly."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "none"
    if kinds <= {str}:
        return "str"
    if kinds <= {int}:
        return "int" if all(-(2**62) < v < 2**62 for v in values if v is not None) else None
    if kinds <= {float} or kinds == {int, float}:
        return "float" if kinds == {float} else None  # int/float mixes kept exact: rebuild
    if kinds <= {datetime}:
        return "datetime" if all(v.tzinfo is None for v in values if v is not None) else None
    if kinds <= {list} and all(
        isinstance(x, str) and x and "\x1f" not in x and not x.endswith("\x00")
        for v in values
        if v
        for x in v
    ):
        return "strlist"
    return None


def save_columns(snapshot: Snapshot, folder: Path, stamp: list[int]) -> bool:
    """Persist the columns of ``snapshot`` in ``folder`` (atomic replace); False when a
    column cannot be stored exactly (nothing written)."""
    arrays: dict[str, np.ndarray] = {}
    names = list(snapshot.columns)
    for i, name in enumerate(names):
        values = snapshot.columns[name]
        kind = _kind(values)
        if kind is None:
            return False
        present = np.array([v is not None for v in values], bool)
        if kind == "str":
            data = np.array([v if v is not None else "" for v in values], dtype=str)
            if data.tolist() != [v if v is not None else "" for v in values]:
                return False  # trailing NULs do not round-trip
        elif kind == "int":
            data = np.array([v if v is not None else 0 for v in values], np.int64)
        elif kind == "float":
            data = np.array([v if v is not None else np.nan for v in values], np.float64)
        elif kind == "datetime":
            data = np.array(
                [(v - _EPOCH) // _US if v is not None else 0 for v in values], np.int64
            )
        elif kind == "strlist":
            data = np.array(["\x1f".join(v) if v is not None else "" for v in values], dtype=str)
        else:
            data = np.zeros(len(values), np.int8)
        arrays[f"c{i}"] = data
        arrays[f"p{i}"] = present
        arrays[f"k{i}"] = np.array(kind)
    arrays["names"] = np.array(names, dtype=str)
    arrays["ids"] = np.array(snapshot.ids, dtype=str)
    arrays["meta"] = np.array([str(CACHE_VERSION), snapshot.token or ""], dtype=str)
    arrays["stamp"] = np.array(stamp, np.int64)
    if arrays["ids"].tolist() != snapshot.ids:
        return False  # numpy strips trailing NULs: such keys cannot round-trip
    target = folder / CACHE_FILE
    tmp = folder / f".{CACHE_FILE}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, target)
    except OSError:  # a read-only or full store: queries still work, just not cached
        tmp.unlink(missing_ok=True)
        return False
    return True


def load_columns(
    folder: Path,
    token: str | None,
    stamp: list[int],
    fetch: Callable[[list[str]], dict[str, dict[str, Any]]],
) -> Snapshot | None:
    """The persisted snapshot when its token and file stamp match, else None."""
    target = folder / CACHE_FILE
    if token is None or not target.is_file():
        return None
    try:
        with np.load(target, allow_pickle=False) as npz:
            meta = npz["meta"].tolist()
            if meta != [str(CACHE_VERSION), token] or npz["stamp"].tolist() != stamp:
                return None
            names = npz["names"].tolist()
            ids = npz["ids"].tolist()
            columns: dict[str, list[Any]] = {}
            for i, name in enumerate(names):
                kind = str(npz[f"k{i}"])
                present = npz[f"p{i}"]
                data = npz[f"c{i}"]
                if kind == "datetime":
                    values = [_EPOCH + v * _US for v in data.tolist()]
                elif kind == "strlist":
                    values = [v.split("\x1f") if v else [] for v in data.tolist()]
                elif kind == "none":
                    values = [None] * len(ids)
                else:
                    values = data.tolist()
                if not present.all():
                    values = [v if ok else None for v, ok in zip(values, present.tolist(),
                                                                  strict=True)]
                columns[name] = values
    except (OSError, ValueError, KeyError, EOFError):  # damaged/foreign file: rebuild
        return None
    element_lists = columns.get("elements") or [[] for _ in ids]
    return Snapshot._index(token, ids, columns, [e or () for e in element_lists], fetch=fetch)
