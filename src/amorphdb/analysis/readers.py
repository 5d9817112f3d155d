"""Readers for trajectory files, parsed with numpy in blocks of frames.

Supported: VASP ``XDATCAR`` (constant or variable cell), ``vasprun.xml`` (streamed
with ``iterparse``), extended XYZ (through ASE) and LAMMPS text dumps
(``dump custom ... id element|type x y z`` or ``xu yu zu`` / ``xs ys zs``, orthogonal
or triclinic boxes).

pymatgen's ``Xdatcar``/``Vasprun`` and ASE's LAMMPS reader build one Python object per
frame; for 100k-frame runs that costs minutes and gigabytes, hence these readers.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from amorphdb.analysis.errors import AnalysisError, AnalysisWarning
from amorphdb.analysis.trajectory import Trajectory

__all__ = ["TrajectoryFormat", "guess_format", "read_lammps_dump", "read_trajectory"]


class TrajectoryFormat(StrEnum):
    """File formats :func:`read_trajectory` understands."""

    XDATCAR = "xdatcar"
    VASPRUN = "vasprun"
    EXTXYZ = "extxyz"
    LAMMPS_DUMP = "lammps-dump"


_ALIASES = {
    "xdatcar": TrajectoryFormat.XDATCAR,
    "vasp-xdatcar": TrajectoryFormat.XDATCAR,
    "vasprun": TrajectoryFormat.VASPRUN,
    "vasprun.xml": TrajectoryFormat.VASPRUN,
    "vasp-xml": TrajectoryFormat.VASPRUN,
    "extxyz": TrajectoryFormat.EXTXYZ,
    "xyz": TrajectoryFormat.EXTXYZ,
    "lammps-dump": TrajectoryFormat.LAMMPS_DUMP,
    "lammps-dump-text": TrajectoryFormat.LAMMPS_DUMP,
    "lammpstrj": TrajectoryFormat.LAMMPS_DUMP,
    "dump": TrajectoryFormat.LAMMPS_DUMP,
}


def guess_format(path: str | Path) -> TrajectoryFormat:
    """Guess the format from the file name, then from the first line."""
    p = Path(path)
    name = p.name.lower()
    if "xdatcar" in name:
        return TrajectoryFormat.XDATCAR
    if (name.endswith(".xml") and "vasprun" in name) or name == "vasprun.xml":
        return TrajectoryFormat.VASPRUN
    if name.endswith((".extxyz", ".xyz")):
        return TrajectoryFormat.EXTXYZ
    if name.endswith((".lammpstrj", ".dump")) or name.startswith("dump"):
        return TrajectoryFormat.LAMMPS_DUMP
    with open(p, errors="replace") as fh:
        head = fh.readline().strip()
    if head.startswith("ITEM: TIMESTEP"):
        return TrajectoryFormat.LAMMPS_DUMP
    if head.startswith("<?xml"):
        return TrajectoryFormat.VASPRUN
    if head.isdigit():
        return TrajectoryFormat.EXTXYZ
    raise AnalysisError(
        f"cannot tell the format of {p.name}; pass format= one of "
        f"{', '.join(f.value for f in TrajectoryFormat)}"
    )


def read_trajectory(
    path: str | Path,
    format: str | TrajectoryFormat | None = None,
    time_step: float | None = None,
    timestep_fs: float | None = None,
    **kwargs: Any,
) -> Trajectory:
    """Read a trajectory file into a :class:`Trajectory`.

    Parameters
    ----------
    path
        The file.
    format
        One of :class:`TrajectoryFormat` (or an alias such as ``"lammpstrj"``);
        guessed when None.
    time_step
        fs between stored frames; overrides the file.
    timestep_fs
        MD integration step, fs (LAMMPS dumps: frames are ``timestep_fs`` × ΔTIMESTEP
        apart; XDATCAR: frames are ``timestep_fs`` × ``nblock`` apart).
    **kwargs
        ``type_map`` (LAMMPS ``type`` column → element), ``nblock`` (XDATCAR),
        ``chunk_frames`` (LAMMPS block size), ``index`` (extxyz, ASE syntax).
    """
    p = Path(path)
    if not p.is_file():
        raise AnalysisError(f"trajectory file {p} does not exist; check the path")
    if format is None:
        fmt = guess_format(p)
    else:
        key = format.value if isinstance(format, TrajectoryFormat) else str(format).lower()
        if key not in _ALIASES:
            raise AnalysisError(
                f"unknown trajectory format {format!r}; use one of "
                f"{', '.join(f.value for f in TrajectoryFormat)}"
            )
        fmt = _ALIASES[key]
    if fmt is TrajectoryFormat.LAMMPS_DUMP:
        traj = read_lammps_dump(p, time_step=time_step, timestep_fs=timestep_fs, **kwargs)
    elif fmt is TrajectoryFormat.XDATCAR:
        traj = read_xdatcar(p, time_step=time_step, timestep_fs=timestep_fs, **kwargs)
    elif fmt is TrajectoryFormat.VASPRUN:
        traj = read_vasprun(p, time_step=time_step, **kwargs)
    else:
        traj = read_extxyz(p, time_step=time_step or timestep_fs, **kwargs)
    traj.metadata.setdefault("source", str(p))
    traj.metadata.setdefault("format", fmt.value)
    return traj


# ---------------------------------------------------------------------- LAMMPS dump
def _lammps_cell(bounds: np.ndarray, triclinic: bool) -> tuple[np.ndarray, np.ndarray]:
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
    time_step: float | None = None,
    timestep_fs: float | None = None,
    type_map: Mapping[int, str] | Sequence[str] | None = None,
    chunk_frames: int = 2000,
    dtype: str = "float64",
) -> Trajectory:
    """Read a LAMMPS text dump (``dump custom``) in blocks of frames.

    Parameters
    ----------
    path
        Dump written e.g. by ``dump custom N file id element x y z`` with
        ``dump_modify sort id element Li O ...``. Coordinates may be ``x y z``
        (wrapped), ``xu yu zu`` (unwrapped) or ``xs ys zs`` / ``xsu ysu zsu`` (scaled).
        The atom count must not change. Unsorted atoms are sorted by ``id``.
    time_step
        fs between frames; otherwise ``timestep_fs`` × ΔTIMESTEP.
    timestep_fs
        The MD integration time step, fs.
    type_map
        Element of each LAMMPS type (``{1: "Li", 2: "O"}`` or ``["Li", "O"]`` for
        types 1, 2) when the dump has ``type`` but no ``element``.
    chunk_frames
        Frames parsed per numpy block (memory ∝ this, not the file length).
    dtype
        Storage dtype of positions (``"float32"`` halves memory).
    """
    p = Path(path)
    with open(p) as fh:
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
    with open(p) as fh:
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
                c, o = _lammps_cell(b, triclinic)
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
    if time_step is None:
        if timestep_fs is None:
            raise AnalysisError(
                f"{p.name}: give time_step (fs between frames) or timestep_fs "
                "(the MD time step; frames are timestep_fs x the TIMESTEP interval apart)"
            )
        if len(step_arr) < 2:
            time_step = float(timestep_fs)
        else:
            d = np.diff(step_arr)
            if np.any(d <= 0) or np.any(d != d[0]):
                raise AnalysisError(
                    f"{p.name}: TIMESTEP items are not evenly spaced ({np.unique(d)[:5]}); "
                    "split the dump into evenly spaced segments"
                )
            time_step = float(timestep_fs) * float(d[0])
    meta = {"timesteps_first_last": [int(step_arr[0]), int(step_arr[-1])]}
    return Trajectory(species, pos, lat, time_step, metadata=meta)


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


# ---------------------------------------------------------------------- XDATCAR
def read_xdatcar(
    path: str | Path,
    time_step: float | None = None,
    timestep_fs: float | None = None,
    nblock: int = 1,
) -> Trajectory:
    """Read a VASP XDATCAR (constant cell, or a cell before every frame for NPT).

    The file has no time information: give ``time_step`` (fs between frames) or
    ``timestep_fs`` (POTIM) and ``nblock`` (NBLOCK).
    """
    p = Path(path)
    if time_step is None:
        if timestep_fs is None:
            raise AnalysisError(
                f"{p.name}: XDATCAR has no time step; pass time_step (fs between frames, "
                "= POTIM x NBLOCK) or timestep_fs and nblock"
            )
        time_step = float(timestep_fs) * int(nblock)
    frames: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    with open(p) as fh:
        lines = iter(fh)
        cell = None
        species: list[str] = []
        n_atoms = 0
        for line in lines:
            if "configuration" in line.lower():
                if cell is None:
                    raise AnalysisError(f"{p.name}: configuration before any cell header")
                block = list(itertools.islice(lines, n_atoms))
                frac = np.array(" ".join(block).split()[: 3 * n_atoms], dtype=np.float64)
                if frac.size != 3 * n_atoms:
                    warnings.warn(
                        f"{p.name}: last configuration incomplete; dropped",
                        AnalysisWarning,
                        stacklevel=2,
                    )
                    break
                frames.append(frac.reshape(n_atoms, 3))
                cells.append(cell)
                continue
            if not line.strip():
                continue
            # a header: comment, scale, 3 vectors, symbols, counts
            try:
                scale = float(next(lines).split()[0])
                vecs = np.array([next(lines).split()[:3] for _ in range(3)], dtype=np.float64)
                symbols = next(lines).split()
                counts_line = next(lines).split()
            except (StopIteration, ValueError, IndexError) as exc:
                raise AnalysisError(f"{p.name}: malformed XDATCAR header ({exc})") from exc
            if all(t.isdigit() for t in symbols):  # VASP 4 format: no symbols line
                raise AnalysisError(
                    f"{p.name}: XDATCAR without element symbols (VASP 4); add the symbols line"
                )
            counts = [int(c) for c in counts_line]
            if scale < 0:  # negative scale = target volume
                scale = (abs(scale) / abs(np.linalg.det(vecs))) ** (1 / 3)
            cell = vecs * scale
            species = [
                s.split("/")[0].split("_")[0]
                for s, c in zip(symbols, counts, strict=True)
                for _ in range(c)
            ]
            n_atoms = len(species)
    if not frames:
        raise AnalysisError(f"{p.name}: no 'Direct configuration' frames found")
    pos = np.einsum("fai,fij->faj", np.array(frames), np.array(cells))
    return Trajectory(species, pos, np.array(cells), time_step)


# ---------------------------------------------------------------------- vasprun.xml
def read_vasprun(path: str | Path, time_step: float | None = None) -> Trajectory:
    """Stream the ionic steps of a ``vasprun.xml`` (time step = POTIM unless given)."""
    import xml.etree.ElementTree as ET

    p = Path(path)
    species: list[str] = []
    potim = None
    frames: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    depth_calc = False
    try:
        for event, elem in ET.iterparse(p, events=("start", "end")):
            if event == "start":
                if elem.tag == "calculation":
                    depth_calc = True
                continue
            if elem.tag == "i" and elem.get("name") == "POTIM" and potim is None:
                potim = float(elem.text.split()[0])
            elif elem.tag == "array" and elem.get("name") == "atoms":
                species = [rc.find("c").text.strip() for rc in elem.iter("rc")]
            elif elem.tag == "structure" and depth_calc:
                basis = _varray(elem.find("crystal/varray[@name='basis']"))
                frac = _varray(elem.find("varray[@name='positions']"))
                cells.append(basis)
                frames.append(frac)
                elem.clear()
            elif elem.tag == "calculation":
                depth_calc = False
                elem.clear()
    except ET.ParseError as exc:
        if not frames:
            raise AnalysisError(f"{p.name}: not a readable vasprun.xml ({exc})") from exc
        warnings.warn(
            f"{p.name}: XML ends early ({exc}); kept {len(frames)} complete ionic steps",
            AnalysisWarning,
            stacklevel=2,
        )
    if not frames:
        raise AnalysisError(f"{p.name}: no ionic steps (<calculation>) found")
    if time_step is None:
        if potim is None:
            raise AnalysisError(f"{p.name}: POTIM not found; pass time_step (fs)")
        time_step = potim
    pos = np.einsum("fai,fij->faj", np.array(frames), np.array(cells))
    return Trajectory(species, pos, np.array(cells), time_step)


def _varray(elem) -> np.ndarray:
    if elem is None:
        raise AnalysisError("vasprun.xml: structure without basis/positions")
    return np.array([v.text.split() for v in elem.findall("v")], dtype=np.float64)


# ---------------------------------------------------------------------- extxyz
def read_extxyz(path: str | Path, time_step: float | None = None, index: str = ":") -> Trajectory:
    """Read an extended XYZ trajectory through ASE (time step from ``time_step`` or info)."""
    from ase.io import iread

    p = Path(path)
    species = None
    pos: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    times: list[float] = []
    try:
        for atoms in iread(p, index=index, format="extxyz"):
            if species is None:
                species = atoms.get_chemical_symbols()
            elif len(atoms) != len(species):
                raise AnalysisError(f"{p.name}: the atom count changes between frames")
            if not atoms.cell.rank == 3:
                raise AnalysisError(f"{p.name}: frame without a 3D Lattice; extxyz needs Lattice=")
            pos.append(atoms.get_positions())
            cells.append(np.asarray(atoms.get_cell()))
            t = atoms.info.get("time_fs", atoms.info.get("time"))
            if t is not None:
                times.append(float(t))
    except AnalysisError:
        raise
    except Exception as exc:  # ASE raises many types on malformed files
        raise AnalysisError(f"{p.name}: not a readable extended XYZ file ({exc})") from exc
    if species is None:
        raise AnalysisError(f"{p.name}: no frames")
    if time_step is None:
        if len(times) == len(pos) > 1 and np.allclose(np.diff(times), times[1] - times[0]):
            time_step = times[1] - times[0]
        else:
            raise AnalysisError(f"{p.name}: pass time_step (fs between frames)")
    return Trajectory(species, np.array(pos), np.array(cells), time_step)
