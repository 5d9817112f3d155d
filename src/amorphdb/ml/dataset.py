"""Records in the store → a learning table with provenance.

One row per (campaign, composition, anneal temperature) record with a D of the chosen
species: ``formula`` (reduced), ``temperature_K``, ``log10_D`` (log10 of D in cm²/s),
``D_cm2_s``, ``D_std_cm2_s``, ``log10_D_std`` (σ of log10 D = σ_D / (D ln 10)), the
reliability flag and reason, the record's structure (density, volume and energy per atom,
and every numeric structure descriptor the record carries, flattened to
``<name>_<key>`` columns), and provenance (campaign, engine, engine version, potential,
time step, protocol hash, record key).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from amorphdb.ml.columns import FORMULA, TARGET, TEMPERATURE, DataError

#: descriptor entries that are run bookkeeping, not structure
BOOKKEEPING = frozenset({"stage", "volume_equilibration", "corrections", "mean_temperature_K"})
#: record fields copied as structure columns
STRUCTURE_FIELDS = ("density_g_cm3", "volume_per_atom_A3", "energy_per_atom_eV")
PROVENANCE_COLUMNS = (
    "campaign",
    "engine",
    "engine_version",
    "potential",
    "timestep_fs",
    "protocol_hash",
    "key",
)


def _flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        if math.isfinite(float(value)) and not any(s in prefix for s in ("std", "sigma")):
            out[prefix] = float(value)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}_{k}" if prefix else str(k), v, out)


def descriptor_columns(descriptors: dict[str, Any]) -> dict[str, float]:
    """Numeric structure descriptors of a record as flat columns (σ entries left out)."""
    out: dict[str, float] = {}
    for key, value in descriptors.items():
        if key not in BOOKKEEPING:
            _flatten(str(key), value, out)
    return out


def record_row(doc: Any, species: str) -> tuple[dict[str, Any] | None, str]:
    """One table row of an ``AmorphousDoc`` (None and why when it has no usable D)."""
    diff = doc.diffusion.get(species)
    if diff is None or diff.D_cm2_s is None:
        return None, "no_D"
    d = float(diff.D_cm2_s)
    if not math.isfinite(d) or d <= 0:
        return None, "non_positive_D"
    sd = diff.D_std_cm2_s
    prov = doc.provenance
    row: dict[str, Any] = {
        FORMULA: doc.formula_reduced,
        TEMPERATURE: float(doc.temperature_K),
        TARGET: math.log10(d),
        "log10_D_std": float(sd) / (d * math.log(10)) if sd is not None else float("nan"),
        "D_cm2_s": d,
        "D_std_cm2_s": float(sd) if sd is not None else float("nan"),
        "reliable": bool(diff.reliable),
        "reason": diff.reason or "",
        "stage": doc.descriptors.get("stage", ""),
        "regime": getattr(doc, "regime", None) or "",
        "volume_converged": (doc.descriptors.get("volume_equilibration") or {}).get("converged"),
        "pressure_mean_kbar": doc.pressure_mean_kbar,
    }
    for name in STRUCTURE_FIELDS:
        row[name] = getattr(doc, name)
    row.update(descriptor_columns(doc.descriptors))
    row.update(
        {
            "campaign": doc.campaign,
            "engine": prov.engine if prov else "",
            "engine_version": prov.version if prov else "",
            "potential": prov.potential if prov else "",
            "timestep_fs": prov.timestep_fs if prov else None,
            "protocol_hash": doc.protocol_hash,
            "key": doc.key(),
        }
    )
    return row, ""


def records_table(
    db: Any,
    *,
    campaign: str | None = None,
    species: str = "Li",
    include_unreliable: bool = False,
    include_melt: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The learning table of the completed records in a store, and its provenance.

    Parameters
    ----------
    db
        An :class:`~amorphdb.store.database.AmorphousDB`.
    campaign
        Only this campaign (None: every campaign).
    species
        Diffusing species whose D is the target.
    include_unreliable
        Keep rows whose D is flagged unreliable (default: left out, counted).
    include_melt
        Keep the melt-stage rows (5000 K liquid; default: left out, counted).

    Returns
    -------
    (pandas.DataFrame, dict)
        The table (sorted by formula and temperature) and a provenance dict: when, which
        store query, counts read and left out (by reason), campaigns, engines,
        potentials and protocol hashes.

    Raises
    ------
    DataError
        No record is left (the message says how many were read and why they were left out).
    """
    from amorphdb import __version__

    # replicated protocols: the per-temperature averages, not each replica beside them
    filters: dict[str, Any] = {"state": "completed", "hide_replicas": True}
    if campaign:
        filters["campaign"] = campaign
    docs = db.find(**filters)
    rows, dropped = [], Counter()
    for doc in docs:
        row, why = record_row(doc, species)
        if row is None:
            dropped[why] += 1
        elif row["stage"] == "melt" and not include_melt:
            dropped["melt"] += 1
        elif not row["reliable"] and not include_unreliable:
            dropped["unreliable"] += 1
        else:
            rows.append(row)
    if not rows:
        where = f"campaign {campaign!r}" if campaign else "the store"
        why = ", ".join(f"{n} {k}" for k, n in dropped.items()) or "none completed"
        raise DataError(
            f"no usable {species} diffusivity in {where}: {len(docs)} completed record(s) read "
            f"({why}); check --campaign/--species or use --include-unreliable"
        )
    table = pd.DataFrame(rows).sort_values([FORMULA, TEMPERATURE], kind="stable")
    table = table.reset_index(drop=True)
    provenance = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "amorphdb_version": __version__,
        "query": {**filters, "species": species},
        "include_unreliable": include_unreliable,
        "include_melt": include_melt,
        "records_read": len(docs),
        "rows": len(table),
        "compositions": int(table[FORMULA].nunique()),
        "left_out": dict(dropped),
        "target": f"{TARGET} = log10 of the tracer D({species}) in cm²/s (MSD slope)",
        **{
            plural: sorted({str(v) for v in table[name].dropna()})
            for name, plural in (
                ("campaign", "campaigns"),
                ("engine", "engines"),
                ("engine_version", "engine_versions"),
                ("potential", "potentials"),
                ("protocol_hash", "protocol_hashes"),
            )
        },
        "temperatures_K": sorted({float(t) for t in table[TEMPERATURE]}),
    }
    return table, provenance


def read_table(path: Any) -> pd.DataFrame:
    """A data table from a CSV file (one-line :class:`DataError` when it cannot be read)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {path} does not exist; make one with 'amorphdb ml dataset'")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path} is not a readable CSV table: {first}") from None


def provenance_path(table_path: Any) -> Any:
    """Where the provenance of a table is written: ``<name>.provenance.json`` next to it."""
    from pathlib import Path

    path = Path(table_path)
    return path.with_name(f"{path.stem}.provenance.json")
