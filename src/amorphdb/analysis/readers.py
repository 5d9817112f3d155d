"""Read any trajectory file (use :meth:`Trajectory.from_file`, which wraps these).

Own numpy readers (blocks of frames, no per-frame Python objects) for VASP
``XDATCAR`` and ``vasprun.xml`` (:mod:`~amorphdb.analysis.vasp_files`) and LAMMPS text
dumps (:mod:`~amorphdb.analysis.lammps_dump`); every other format through ASE
(extended XYZ, ASE ``.traj``, and any format ``ase.io`` knows). gzip, bzip2 and xz
files are read transparently. Every failure is one :class:`AnalysisError` line.

Time between frames: see :mod:`amorphdb.analysis.timing` (``frame_interval_fs`` or
``timestep_fs`` with ``nblock``; never both).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from amorphdb.analysis.compression import compression_of, open_binary, open_text, plain_name
from amorphdb.analysis.errors import AnalysisError
from amorphdb.analysis.frames import Frames
from amorphdb.analysis.lammps_dump import read_lammps_dump
from amorphdb.analysis.timing import resolve_frame_interval
from amorphdb.analysis.vasp_files import read_vasprun, read_xdatcar

__all__ = [
    "TrajectoryFormat",
    "guess_format",
    "read_ase",
    "read_lammps_dump",
    "read_trajectory",
    "read_vasprun",
    "read_xdatcar",
]


class TrajectoryFormat(StrEnum):
    """File formats :func:`read_trajectory` understands (``ase``: anything ASE reads)."""

    XDATCAR = "xdatcar"
    VASPRUN = "vasprun"
    EXTXYZ = "extxyz"
    LAMMPS_DUMP = "lammps-dump"
    ASE_TRAJ = "traj"
    ASE = "ase"


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
    "traj": TrajectoryFormat.ASE_TRAJ,
    "ase-traj": TrajectoryFormat.ASE_TRAJ,
    "ase": TrajectoryFormat.ASE,
}
_FORMATS = ", ".join(f.value for f in TrajectoryFormat)


def guess_format(path: str | Path) -> TrajectoryFormat:
    """Guess the format from the file name (compression suffix ignored), then the content."""
    p = Path(path)
    name = plain_name(p).lower()
    if "xdatcar" in name:
        return TrajectoryFormat.XDATCAR
    if (name.endswith(".xml") and "vasprun" in name) or name == "vasprun.xml":
        return TrajectoryFormat.VASPRUN
    if name.endswith((".extxyz", ".xyz")):
        return TrajectoryFormat.EXTXYZ
    if name.endswith((".lammpstrj", ".dump")) or name.startswith("dump"):
        return TrajectoryFormat.LAMMPS_DUMP
    if name.endswith(".traj"):
        return TrajectoryFormat.ASE_TRAJ
    try:
        with open_text(p) as fh:
            head = fh.readline(4096).strip()  # bounded: a binary file may have no newline
    except UnicodeDecodeError:
        head = ""
    if head.startswith("ITEM: TIMESTEP"):
        return TrajectoryFormat.LAMMPS_DUMP
    if head.startswith("<?xml"):
        return TrajectoryFormat.VASPRUN
    if head.isdigit():
        return TrajectoryFormat.EXTXYZ
    if _ase_filetype(p) is not None:
        return TrajectoryFormat.ASE
    raise AnalysisError(
        f"cannot tell the format of {p.name}; pass --format (one of {_FORMATS}, "
        "or any ase.io format name)"
    )


def _ase_filetype(path: Path) -> str | None:
    from ase.io.formats import filetype

    try:
        with _uncompressed(path) as plain:
            return filetype(str(plain), guess=False)
    except Exception:  # ASE raises several types for files it does not know
        return None


@contextmanager
def _uncompressed(path: Path) -> Iterator[Path]:
    """The path itself, or a decompressed temporary copy with the plain name (for ASE)."""
    if compression_of(path) is None:
        yield path
        return
    tmp = tempfile.mkdtemp(prefix="amorphdb-")
    try:
        out = Path(tmp) / plain_name(path)
        with open_binary(path) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
        yield out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _resolve_format(p: Path, format: str | TrajectoryFormat | None) -> tuple[TrajectoryFormat, str]:
    """The reader to use and, for ASE, the ase.io format name ("" = let ASE guess)."""
    if format is None:
        fmt = guess_format(p)
        return fmt, {TrajectoryFormat.EXTXYZ: "extxyz", TrajectoryFormat.ASE_TRAJ: "traj"}.get(
            fmt, ""
        )
    key = format.value if isinstance(format, TrajectoryFormat) else str(format).lower()
    if key in _ALIASES:
        fmt = _ALIASES[key]
        return fmt, {TrajectoryFormat.EXTXYZ: "extxyz", TrajectoryFormat.ASE_TRAJ: "traj"}.get(
            fmt, ""
        )
    from ase.io.formats import ioformats

    if key in ioformats and ioformats[key].can_read:
        return TrajectoryFormat.ASE, key
    raise AnalysisError(
        f"unknown trajectory format {format!r}; use --format one of {_FORMATS} "
        "or an ase.io format name (e.g. vasp-out, lammps-data, cfg)"
    )


def read_trajectory(
    path: str | Path,
    format: str | TrajectoryFormat | None = None,
    frame_interval_fs: float | None = None,
    timestep_fs: float | None = None,
    nblock: int | None = None,
    *,
    time_step: float | None = None,
    **kwargs: Any,
) -> Frames:
    """Read a trajectory file into :class:`~amorphdb.analysis.frames.Frames`.

    Parameters
    ----------
    path
        The file (``.gz``/``.bz2``/``.xz`` read transparently).
    format
        One of :class:`TrajectoryFormat`, an alias (``"lammpstrj"``) or an ``ase.io``
        format name; guessed from the name, then the content, then ASE, when None.
    frame_interval_fs
        fs between stored frames (``--frame-interval-fs``).
    timestep_fs
        MD time step, fs (``--timestep-fs``; VASP POTIM, LAMMPS ``timestep``).
    nblock
        MD steps between stored frames (``--nblock``; VASP NBLOCK, the dump interval).
        Not together with ``frame_interval_fs`` (:mod:`amorphdb.analysis.timing`).
    time_step
        Older name of ``frame_interval_fs``.
    **kwargs
        ``type_map`` (LAMMPS ``type`` column → element), ``chunk_frames`` (LAMMPS
        block size), ``index`` (ASE formats, ASE slice syntax).
    """
    p = Path(path)
    if time_step is not None:
        if frame_interval_fs is not None:
            raise AnalysisError("time_step is the old name of frame_interval_fs; give one")
        frame_interval_fs = time_step
    if not p.is_file():
        raise AnalysisError(f"trajectory file {p} does not exist; check the path")
    fmt, ase_format = _resolve_format(p, format)
    timing = {"frame_interval_fs": frame_interval_fs, "timestep_fs": timestep_fs, "nblock": nblock}
    try:
        if fmt is TrajectoryFormat.LAMMPS_DUMP:
            traj = read_lammps_dump(p, **timing, **kwargs)
        elif fmt is TrajectoryFormat.XDATCAR:
            traj = read_xdatcar(p, **timing, **kwargs)
        elif fmt is TrajectoryFormat.VASPRUN:
            traj = read_vasprun(p, **timing, **kwargs)
        else:
            traj = read_ase(p, ase_format or None, **timing, **kwargs)
    except AnalysisError:
        raise
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise AnalysisError(f"{p.name}: option not valid for {fmt.value} ({exc})") from exc
        raise AnalysisError(f"{p.name}: cannot read as {fmt.value} ({exc})") from exc
    except (ValueError, IndexError, KeyError, OSError, EOFError, UnicodeDecodeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AnalysisError(
            f"{p.name}: cannot read as {fmt.value} ({type(exc).__name__}: {msg}); "
            "check the file or pass --format"
        ) from exc
    traj.metadata.setdefault("source", str(p))
    traj.metadata.setdefault("format", ase_format or fmt.value)
    return traj


def read_ase(
    path: str | Path,
    format: str | None = None,
    frame_interval_fs: float | None = None,
    timestep_fs: float | None = None,
    nblock: int | None = None,
    index: str = ":",
) -> Frames:
    """Read any trajectory ASE reads (extxyz, ``.traj``, ...), frame by frame.

    Time: ``frame_interval_fs``, or a ``time``/``time_fs`` (fs) info key of every
    frame, or ``timestep_fs`` × the spacing of a ``step``/``timestep`` info key (or
    ``nblock``).
    """
    from ase.io import iread

    p = Path(path)
    species = None
    pos: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    times: list[float] = []
    steps: list[int] = []
    label = format or "ase"
    try:
        with _uncompressed(p) as plain:
            for atoms in iread(str(plain), index=index, format=format):
                if species is None:
                    species = atoms.get_chemical_symbols()
                elif len(atoms) != len(species):
                    raise AnalysisError(f"{p.name}: the atom count changes between frames")
                if atoms.cell.rank != 3:
                    raise AnalysisError(
                        f"{p.name}: a frame without a 3D cell (extxyz: Lattice=); "
                        "diffusion needs a periodic cell"
                    )
                pos.append(atoms.get_positions())
                cells.append(np.asarray(atoms.get_cell()))
                t = atoms.info.get("time_fs", atoms.info.get("time"))
                if t is not None:
                    times.append(float(t))
                s = atoms.info.get("step", atoms.info.get("timestep"))
                if s is not None:
                    steps.append(int(s))
    except AnalysisError:
        raise
    except Exception as exc:  # ASE raises many types on malformed files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AnalysisError(
            f"{p.name}: not readable as {label} by ASE ({type(exc).__name__}: {msg}); "
            "check the file or pass --format"
        ) from exc
    if species is None:
        raise AnalysisError(f"{p.name}: no frames")
    file_interval = file_nblock = None
    if len(times) == len(pos) > 1 and np.allclose(np.diff(times), times[1] - times[0]):
        file_interval = times[1] - times[0]
    d_steps = np.diff(steps)
    if len(steps) == len(pos) > 1 and np.all(d_steps == d_steps[0]) and d_steps[0] > 0:
        file_nblock = int(d_steps[0])
    timing = resolve_frame_interval(
        p.name,
        frame_interval_fs=frame_interval_fs,
        timestep_fs=timestep_fs,
        nblock=nblock,
        file_nblock=file_nblock,
        file_frame_interval_fs=file_interval,
        file_source="the frames' time/step keys",
    )
    meta = {"time_source": timing.source}
    return Frames(species, np.array(pos), np.array(cells), timing.frame_interval_fs, metadata=meta)
