"""LAMMPS text dumps (``dump custom``), parsed with numpy in blocks of frames.

ASE's LAMMPS reader builds one ``Atoms`` per frame; for 100k-frame runs that costs
minutes and gigabytes, hence this reader.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from amorphdb.analysis.compression import open_text
from amorphdb.analysis.errors import AnalysisError, AnalysisWarning
from amorphdb.analysis.frames import Frames
from amorphdb.analysis.timing import lammps_md_parameters, resolve_frame_interval

__all__ = ["lammps_cell", "read_lammps_dump"]


def lammps_cell(bounds: np.ndarray, triclinic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cell rows and origin from the three BOX BOUNDS lines (``(3, 2)`` or ``(3, 3)``)."""
    if triclinic:
        xy, xz, yz = bounds[0, 2], bounds[1, 2], bounds[2, 2]
        xlo = bounds[0, 0] - min(0.0, xy, xz, xy + xz)
        xhi = bounds[0, 1] - max(0.0, xy, xz, xy + xz)
        ylo = bounds[1, 0] - min(0.0, yz)
        yhi = bounds[1, 1] - max(0.0, yz)
        zlo, zhi = bounds[2, 0], bounds[2, 1]
    else:
        xy = xz = yz = 0.0
        (xlo, xhi), (ylo, yhi), (zlo, zhi) = bounds[:, :2]
    cell = np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi - zlo]])
    return cell, np.array([xlo, ylo, zlo])


def read_lammps_dump(
    path: str | Path,
    frame_interval_fs: float | None = None,
    timestep_fs: float | None = None,
    nblock: int | None = None,
    type_map: Mapping[int, str] | Sequence[str] | None = None,
    chunk_frames: int = 2000,
    dtype: str = "float64",
) -> Frames:
    """Read a LAMMPS text dump (``dump custom``) in blocks of frames.

    Parameters
    ----------
    path
        Dump written e.g. by ``dump custom N file id element x y z`` with
        ``dump_modify sort id element Li O ...``. Coordinates may be ``x y z``
        (wrapped), ``xu yu zu`` (unwrapped) or ``xs ys zs`` / ``xsu ysu zsu`` (scaled).
        The atom count must not change. Unsorted atoms are sorted by ``id``.
    frame_interval_fs
        fs between frames (``--frame-interval-fs``); otherwise ``timestep_fs`` × the
        spacing of the ``TIMESTEP`` items.
    timestep_fs
        The MD integration time step, fs (``--timestep-fs``); default: ``timestep`` and
        ``units`` of the ``log.lammps``/``in.lammps`` next to the dump
        (:func:`~amorphdb.analysis.timing.lammps_md_parameters`).
    nblock
        MD steps between frames (``--nblock``); must agree with the TIMESTEP items.
    type_map
        Element of each LAMMPS type (``{1: "Li", 2: "O"}`` or ``["Li", "O"]`` for
        types 1, 2) when the dump has ``type`` but no ``element``.
    chunk_frames
        Frames parsed per numpy block (memory ∝ this, not the file length).
    dtype
        Storage dtype of positions (``"float32"`` halves memory).
    """
    p = Path(path)
    with open_text(p) as fh:
        header = list(itertools.islice(fh, 9))
    if len(header) < 9 or not header[0].startswith("ITEM: TIMESTEP"):
        raise AnalysisError(f"{p.name} is not a LAMMPS text dump (no 'ITEM: TIMESTEP' first)")
    try:
        n_atoms = int(header[3])
    except ValueError as exc:
        raise AnalysisError(f"{p.name}: cannot read NUMBER OF ATOMS") from exc
    box_item = header[4].split()
    triclinic = "xy" in box_item
    cols = header[8].split()[2:]
    if not header[8].startswith("ITEM: ATOMS"):
        raise AnalysisError(f"{p.name}: expected 'ITEM: ATOMS' on line 9")
    coord_sets = [
        ("x", "y", "z", "cart"),
        ("xu", "yu", "zu", "cart"),
        ("xs", "ys", "zs", "frac"),
        ("xsu", "ysu", "zsu", "frac"),
    ]
    found = [cs for cs in coord_sets if all(n in cols for n in cs[:3])]
    if found:
        cidx = [cols.index(n) for n in found[0][:3]]
        kind = found[0][3]
    else:
        raise AnalysisError(
            f"{p.name}: no coordinate columns (x y z, xu yu zu, xs ys zs) in '{header[8].strip()}'"
        )
    id_col = cols.index("id") if "id" in cols else None
    lines_per_frame = 9 + n_atoms
    positions: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    steps: list[np.ndarray] = []
    species: np.ndarray | None = None
    with open_text(p) as fh:
        while True:
            block = list(itertools.islice(fh, lines_per_frame * chunk_frames))
            if not block:
                break
            if len(block) % lines_per_frame:
                n_full = len(block) // lines_per_frame
                warnings.warn(
                    f"{p.name}: the last frame is incomplete (truncated file); "
                    f"kept {n_full} complete frames of this block",
                    AnalysisWarning,
                    stacklevel=2,
                )
                block = block[: n_full * lines_per_frame]
                if not block:
                    break
            nf = len(block) // lines_per_frame
            heads = [block[i * lines_per_frame : i * lines_per_frame + 9] for i in range(nf)]
            for h in heads:
                if not h[0].startswith("ITEM: TIMESTEP") or int(h[3]) != n_atoms:
                    raise AnalysisError(
                        f"{p.name}: frame layout changes (atom count or items); "
                        "amorphdb needs a fixed number of atoms per frame"
                    )
            steps.append(np.array([int(h[1]) for h in heads]))
            bounds = np.array(
                [[float(v) for v in line.split()] for h in heads for line in h[5:8]]
            ).reshape(nf, 3, -1)
            frame_cells = []
            origins = []
            for b in bounds:
                c, o = lammps_cell(b, triclinic)
                frame_cells.append(c)
                origins.append(o)
            cell_arr = np.array(frame_cells)
            origin_arr = np.array(origins)
            atom_lines = [
                line
                for i in range(nf)
                for line in block[i * lines_per_frame + 9 : (i + 1) * lines_per_frame]
            ]
            tokens = np.array(" ".join(atom_lines).split())
            if tokens.size != nf * n_atoms * len(cols):
                raise AnalysisError(
                    f"{p.name}: atom lines do not have {len(cols)} columns each; file is corrupt"
                )
            table = tokens.reshape(nf, n_atoms, len(cols))
            xyz = table[:, :, cidx].astype(np.float64)
            if id_col is not None:
                ids = table[:, :, id_col].astype(np.int64)
                order = np.argsort(ids, axis=1, kind="stable")
                if not np.all(order == np.arange(n_atoms)):
                    xyz = np.take_along_axis(xyz, order[:, :, None], axis=1)
                    table = np.take_along_axis(table, order[:, :, None], axis=1)
            if species is None:
                species = _dump_species(table[0], cols, type_map, p.name)
            if kind == "frac":
                xyz = np.einsum("fai,fij->faj", xyz, cell_arr)
            else:
                xyz -= origin_arr[:, None, :]
            positions.append(xyz.astype(dtype, copy=False))
            cells.append(cell_arr)
    pos = np.concatenate(positions) if len(positions) > 1 else positions[0]
    del positions
    lat = np.concatenate(cells)
    step_arr = np.concatenate(steps)
    step_interval = None
    if len(step_arr) >= 2:
        d = np.diff(step_arr)
        if np.all(d > 0) and np.all(d == d[0]):
            step_interval = int(d[0])
        elif frame_interval_fs is None:
            raise AnalysisError(
                f"{p.name}: TIMESTEP items are not evenly spaced ({np.unique(d)[:5]}); "
                "split the dump into evenly spaced segments"
            )
    file_dt, dt_source = (None, "")
    if frame_interval_fs is None and timestep_fs is None:
        file_dt, dt_source = lammps_md_parameters(p)
    timing = resolve_frame_interval(
        p.name,
        frame_interval_fs=frame_interval_fs,
        timestep_fs=timestep_fs,
        nblock=nblock,
        file_timestep_fs=file_dt,
        file_nblock=step_interval if step_interval is not None else (1 if nblock is None else None),
        file_source="the TIMESTEP items",
        timestep_source=dt_source or None,
    )
    meta = {
        "timesteps_first_last": [int(step_arr[0]), int(step_arr[-1])],
        "time_source": timing.source,
    }
    return Frames(species, pos, lat, timing.frame_interval_fs, metadata=meta)


def _dump_species(
    table: np.ndarray,
    cols: list[str],
    type_map: Mapping[int, str] | Sequence[str] | None,
    name: str,
) -> np.ndarray:
    if "element" in cols:
        return table[:, cols.index("element")].astype(str)
    if "type" not in cols:
        raise AnalysisError(f"{name}: neither 'element' nor 'type' column; dump one of them")
    if type_map is None:
        raise AnalysisError(
            f"{name}: the dump has LAMMPS types but no elements; pass type_map "
            "(e.g. {1: 'Li', 2: 'O'})"
        )
    mapping = (
        dict(type_map)
        if isinstance(type_map, Mapping)
        else {i + 1: s for i, s in enumerate(type_map)}
    )
    types = table[:, cols.index("type")].astype(int)
    missing = sorted(set(types.tolist()) - set(int(k) for k in mapping))
    if missing:
        raise AnalysisError(f"{name}: type_map has no element for types {missing}")
    return np.array([mapping[int(t)] for t in types])
