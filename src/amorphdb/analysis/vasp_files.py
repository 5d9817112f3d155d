"""VASP trajectories: ``XDATCAR`` (every variant VASP, pymatgen and ASE write) and
``vasprun.xml`` (streamed with ``iterparse``).

pymatgen's ``Xdatcar``/``Vasprun`` build one ``Structure`` per frame (minutes and
gigabytes for 100k frames), hence these numpy readers. XDATCAR variants accepted:
VASP 5/6 (symbols line; a header once for a constant cell, before every frame for a
variable cell), pymatgen's writer (an element label after each coordinate line),
ASE's writer, ``Direct`` or ``Cartesian`` configurations, a negative scale (volume).
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np

from amorphdb.analysis.compression import open_binary, open_text
from amorphdb.analysis.errors import AnalysisError, AnalysisWarning
from amorphdb.analysis.frames import Frames
from amorphdb.analysis.timing import resolve_frame_interval, vasp_md_parameters

__all__ = ["read_vasprun", "read_xdatcar"]


def read_xdatcar(
    path: str | Path,
    frame_interval_fs: float | None = None,
    timestep_fs: float | None = None,
    nblock: int | None = None,
) -> Frames:
    """Read a VASP XDATCAR (constant cell, or a cell before every frame for NPT).

    The file has no time information. The time between frames is
    ``frame_interval_fs`` (``--frame-interval-fs``), or POTIM × NBLOCK with each taken
    from ``timestep_fs``/``nblock`` (``--timestep-fs``/``--nblock``) or, when not
    given, from the OUTCAR, vasprun.xml or INCAR next to the file
    (:func:`~amorphdb.analysis.timing.vasp_md_parameters`).
    """
    p = Path(path)
    potim = nb = None
    source = ""
    if frame_interval_fs is None and (timestep_fs is None or nblock is None):
        potim, nb, source = vasp_md_parameters(p)
    timing = resolve_frame_interval(
        p.name,
        frame_interval_fs=frame_interval_fs,
        timestep_fs=timestep_fs,
        nblock=nblock,
        file_timestep_fs=potim,
        file_nblock=nb,
        file_source=source or "the INCAR",
        nblock_hint="--nblock N (NBLOCK of the run), or put its INCAR/OUTCAR next to the file",
        file_nblock_is_fact=False,
    )
    frames, cells, species = _parse_xdatcar(p)
    pos = np.einsum("fai,fij->faj", np.array(frames), np.array(cells))
    meta = {"time_source": timing.source}
    if timing.timestep_fs is not None:
        meta.update(timestep_fs=timing.timestep_fs, nblock=timing.nblock)
    return Frames(species, pos, np.array(cells), timing.frame_interval_fs, metadata=meta)


def _parse_xdatcar(p: Path) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    frames: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    species: list[str] = []
    cell = None
    scale = 1.0
    n_atoms = 0
    with open_text(p) as fh:
        lines = iter(fh)
        for line in lines:
            low = line.lower()
            if "configuration" in low:
                if cell is None:
                    raise AnalysisError(f"{p.name}: configuration before any cell header")
                block = list(itertools.islice(lines, n_atoms))
                try:
                    # the first three columns: pymatgen writes the element after them
                    xyz = np.array([row.split()[:3] for row in block], dtype=np.float64)
                except ValueError as exc:
                    raise AnalysisError(f"{p.name}: bad coordinate line ({exc})") from exc
                if xyz.shape != (n_atoms, 3):
                    warnings.warn(
                        f"{p.name}: last configuration incomplete; dropped",
                        AnalysisWarning,
                        stacklevel=3,
                    )
                    break
                if low.lstrip().startswith(("cart", "k")):
                    xyz = xyz * scale @ np.linalg.inv(cell)
                frames.append(xyz)
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
                    f"{p.name}: XDATCAR without element symbols (VASP 4); add the symbols "
                    "line (e.g. 'Li O') above the counts"
                )
            try:
                counts = [int(c) for c in counts_line]
            except ValueError as exc:
                raise AnalysisError(f"{p.name}: bad atom counts line ({exc})") from exc
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
    return frames, cells, species


def read_vasprun(
    path: str | Path,
    frame_interval_fs: float | None = None,
    timestep_fs: float | None = None,
    nblock: int | None = None,
) -> Frames:
    """Stream the ionic steps of a ``vasprun.xml`` (one per MD step: POTIM apart)."""
    import xml.etree.ElementTree as ET

    p = Path(path)
    species: list[str] = []
    potim = None
    frames: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    depth_calc = False
    try:
        with open_binary(p) as fh:
            for event, elem in ET.iterparse(fh, events=("start", "end")):
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
    except (ET.ParseError, EOFError) as exc:
        if not frames:
            raise AnalysisError(f"{p.name}: not a readable vasprun.xml ({exc})") from exc
        warnings.warn(
            f"{p.name}: XML ends early ({exc}); kept {len(frames)} complete ionic steps",
            AnalysisWarning,
            stacklevel=2,
        )
    if not frames:
        raise AnalysisError(f"{p.name}: no ionic steps (<calculation>) found")
    timing = resolve_frame_interval(
        p.name,
        frame_interval_fs=frame_interval_fs,
        timestep_fs=timestep_fs,
        nblock=nblock,
        file_timestep_fs=potim,
        file_nblock=1,  # vasprun.xml records every ionic step
        file_source=f"POTIM of {p.name}",
    )
    pos = np.einsum("fai,fij->faj", np.array(frames), np.array(cells))
    meta = {"time_source": timing.source}
    return Frames(species, pos, np.array(cells), timing.frame_interval_fs, metadata=meta)


def _varray(elem) -> np.ndarray:
    if elem is None:
        raise AnalysisError("vasprun.xml: structure without basis/positions")
    return np.array([v.text.split() for v in elem.findall("v")], dtype=np.float64)
