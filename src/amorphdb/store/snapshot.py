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
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class Snapshot:
    """Summaries in memory: ``docs`` in store order and a column table ``frame``."""

    token: str | None
    docs: list[dict[str, Any]]
    frame: pd.DataFrame
    elements: dict[str, np.ndarray]
    by_id: dict[str, int]

    @classmethod
    def build(cls, token: str | None, docs: list[dict[str, Any]]) -> Snapshot:
        """Index ``docs`` (stored summary dicts)."""
        columns: dict[str, list[Any]] = {path: [] for path in SCALAR_FIELDS.values()}
        species = sorted({sp for d in docs for sp in (d.get("diffusion") or {})})
        for sp in species:
            columns[f"diffusion.{sp}.D_cm2_s"] = []
            columns[f"diffusion.{sp}.D_std_cm2_s"] = []
        for doc in docs:
            for path, values in columns.items():
                values.append(_get(doc, path))
        frame = pd.DataFrame(columns, index=pd.RangeIndex(len(docs)))
        all_elements = sorted({el for d in docs for el in d.get("elements") or []})
        elements = {
            el: np.fromiter((el in (d.get("elements") or ()) for d in docs), bool, len(docs))
            for el in all_elements
        }
        by_id = {d["_id"]: i for i, d in enumerate(docs)}
        return cls(token, docs, frame, elements, by_id)

    # ------------------------------------------------------------------ evaluation
    def _column(self, path: str) -> pd.Series | None:
        if path in self.frame:
            return self.frame[path]
        if path.startswith("diffusion."):  # a species nobody has: all missing
            return pd.Series([None] * len(self.docs), index=self.frame.index, dtype=object)
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
        return self.elements.get(el, np.zeros(len(self.docs), bool))

    def mask(self, query: AmorphousQuery, pairs: set[tuple[str, str]] | None) -> np.ndarray | None:
        """Boolean mask of the summaries matching ``query`` (None: cannot evaluate)."""
        n = len(self.docs)
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
        return [self.docs[i] for i in rows]
