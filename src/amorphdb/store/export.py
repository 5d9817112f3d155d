"""Exporters: final structures (CIF/POSCAR/extxyz), trajectories (extxyz), tables (CSV/JSON).

Files are written with pymatgen (CIF, POSCAR) and ASE (extended XYZ) so any tool reads
them back. Every exporter takes an optional ``progress`` callable (called with the
number of items once, then once per item) so the CLI can show a progress bar.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from amorphdb.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from amorphdb.store.database import AmorphousDB
    from amorphdb.store.query import AmorphousQuery
    from amorphdb.store.schemas import AmorphousDoc

Progress = Callable[[int | None], None]


class StructureFormat(StrEnum):
    """File formats for final structures."""

    CIF = "cif"
    POSCAR = "poscar"
    EXTXYZ = "extxyz"


class TableFormat(StrEnum):
    """File formats for tables of summaries."""

    CSV = "csv"
    JSON = "json"


_SUFFIX = {StructureFormat.CIF: ".cif", StructureFormat.POSCAR: ".vasp", "extxyz": ".extxyz"}


def result_stem(doc: AmorphousDoc) -> str:
    """File-name stem of a result: ``Li2Si2O5_1000K_campaign_hash``."""
    parts = [doc.formula_reduced, f"{doc.temperature_K:g}K", doc.campaign]
    if doc.protocol_hash:
        parts.append(doc.protocol_hash[:8])
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", "_".join(parts))


def _prepare_folder(folder: Path) -> Path:
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create export folder {folder}: {exc.strerror or exc}; choose a writable path"
        ) from None
    return folder


def export_structures(
    db: AmorphousDB,
    query: AmorphousQuery,
    folder: str | Path,
    fmt: StructureFormat | str = StructureFormat.CIF,
    *,
    limit: int = 0,
    progress: Progress | None = None,
) -> list[Path]:
    """Write the final structure of every matching result into ``folder``.

    Parameters
    ----------
    db, query
        Database and filters (see :class:`~amorphdb.store.query.AmorphousQuery`).
    folder
        Output folder (created).
    fmt
        ``cif``, ``poscar`` (written as ``*.vasp``) or ``extxyz`` (ASE; the temperature,
        density and key are in the comment line's info).
    limit
        At most this many results (0: all).
    progress
        Progress callback (total first, then once per file).

    Returns
    -------
    list of Path
        The files written.
    """
    fmt = StructureFormat(fmt)
    folder = _prepare_folder(Path(folder))
    pairs = db.find_structures(query, limit=limit)
    if progress:
        progress(len(pairs))
    written = []
    for doc, structure in pairs:
        path = folder / (result_stem(doc) + _SUFFIX[fmt])
        if fmt is StructureFormat.EXTXYZ:
            from ase.io import write
            from pymatgen.io.ase import AseAtomsAdaptor

            atoms = AseAtomsAdaptor.get_atoms(structure)
            atoms.info.update(_info(doc))
            write(path, atoms, format="extxyz")
        else:
            structure.to(filename=str(path), fmt=fmt.value)
        written.append(path)
        if progress:
            progress(None)
    return written


def _info(doc: AmorphousDoc) -> dict[str, Any]:
    info: dict[str, Any] = {
        "key": doc.key(),
        "temperature_K": doc.temperature_K,
        "campaign": doc.campaign,
    }
    if doc.density_g_cm3 is not None:
        info["density_g_cm3"] = doc.density_g_cm3
    return info


def export_trajectories(
    db: AmorphousDB,
    query: AmorphousQuery,
    folder: str | Path,
    *,
    stride: int = 1,
    limit: int = 0,
    progress: Progress | None = None,
) -> list[Path]:
    """Write the trajectory of every matching result as extended XYZ (one file each).

    Each frame carries ``time_fs`` in its info; positions are Å, the cell per frame.
    Results without a stored trajectory are skipped.

    Parameters
    ----------
    stride
        Keep every ``stride``-th stored frame.
    """
    from ase import Atoms
    from ase.io import write

    if stride < 1:
        raise StoreError(f"stride must be >= 1, got {stride}")
    folder = _prepare_folder(Path(folder))
    docs = [d for d in db.find(query, limit=limit) if d.trajectory is not None]
    if progress:
        progress(len(docs))
    written = []
    for doc in docs:
        traj = db.get_trajectory(doc)
        if stride > 1:
            traj = traj.subsample(stride)
        symbols = traj.species.tolist()
        lattices = traj.lattices
        info = _info(doc)
        images = []
        for i in range(traj.n_frames):
            atoms = Atoms(
                symbols=symbols,
                positions=np.asarray(traj.positions[i], dtype=np.float64),
                cell=lattices[i],
                pbc=True,
            )
            atoms.info.update(info)
            atoms.info["time_fs"] = float(i * traj.time_step)
            images.append(atoms)
        path = folder / (result_stem(doc) + ".extxyz")
        write(path, images, format="extxyz")
        written.append(path)
        if progress:
            progress(None)
    return written


def export_table(
    db: AmorphousDB,
    query: AmorphousQuery,
    path: str | Path,
    *,
    fields: list[str] | str | None = None,
    sort: str | None = None,
    limit: int = 0,
    fmt: TableFormat | str | None = None,
) -> Path:
    """Write the matching summaries as a CSV (or JSON records) table; returns the path.

    ``fmt`` defaults to the file suffix (``.json`` → JSON, else CSV).
    """
    path = Path(path).expanduser()
    fmt = TableFormat(fmt) if fmt else (TableFormat.JSON if path.suffix == ".json" else "csv")
    df = db.to_dataframe(query, fields=fields, sort=sort, limit=limit)
    _prepare_folder(path.parent)
    if fmt == TableFormat.JSON:
        df.to_json(path, orient="records", indent=1, date_format="iso")
    else:
        df.to_csv(path, index=False)
    return path
