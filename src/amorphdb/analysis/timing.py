"""Time between stored frames: from the user, or from the run's own files.

Two different times are in play and are easily confused:

- the **MD time step** (VASP ``POTIM``, LAMMPS ``timestep``), fs: ``--timestep-fs``;
- the **steps between stored frames** (VASP ``NBLOCK``, the LAMMPS dump interval):
  ``--nblock``.

The time between stored frames (``--frame-interval-fs``) is their product. A user
gives either the frame interval, or the MD step (and, unless the file says it, the
steps between frames), never both: an ambiguous combination is refused, one line.
Values missing on the command line are read from the files VASP writes next to an
XDATCAR (OUTCAR first: it holds the values VASP actually used, which differ from
the INCAR when VASP resets NBLOCK; then vasprun.xml, then INCAR).

Messages name the command-line flags; the Python arguments have the same names
with underscores (``frame_interval_fs``, ``timestep_fs``, ``nblock``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from amorphdb.analysis.compression import open_text
from amorphdb.analysis.errors import AnalysisError, AnalysisWarning

__all__ = [
    "FrameTiming",
    "lammps_md_parameters",
    "resolve_frame_interval",
    "run_temperature_K",
    "vasp_md_parameters",
]

BOTH_GIVEN = (
    "give either --frame-interval-fs (fs between stored frames) or --timestep-fs/--nblock "
    "(MD step and steps between frames), not both"
)


@dataclass(frozen=True)
class FrameTiming:
    """Time between stored frames and where it came from.

    Attributes
    ----------
    frame_interval_fs
        fs between stored frames.
    timestep_fs, nblock
        MD step (fs) and MD steps between frames, when known.
    source
        Human-readable provenance, e.g. ``"POTIM 2 fs (OUTCAR) x NBLOCK 5 (OUTCAR)"``.
    """

    frame_interval_fs: float
    timestep_fs: float | None
    nblock: int | None
    source: str


def _positive(value: float | None, flag: str) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"{flag} {value!r} is not a number; give fs") from exc
    if not v > 0 or v != v:
        raise AnalysisError(f"{flag} must be > 0, got {value!r}")
    return v


def resolve_frame_interval(
    name: str,
    *,
    frame_interval_fs: float | None = None,
    timestep_fs: float | None = None,
    nblock: int | None = None,
    file_timestep_fs: float | None = None,
    file_nblock: int | None = None,
    file_frame_interval_fs: float | None = None,
    file_source: str = "the file",
    timestep_source: str | None = None,
    nblock_hint: str = "--nblock N",
    file_nblock_is_fact: bool = True,
) -> FrameTiming:
    """Decide the fs between stored frames from the flags and what the files say.

    Parameters
    ----------
    name
        File name for messages.
    frame_interval_fs, timestep_fs, nblock
        What the user gave (``--frame-interval-fs``, ``--timestep-fs``, ``--nblock``).
    file_timestep_fs, file_nblock
        MD step (fs) and steps between frames found in the run's files (POTIM/NBLOCK,
        the LAMMPS TIMESTEP spacing, an extxyz ``step`` key).
    file_frame_interval_fs
        fs between frames stated by the file itself (vasprun.xml: POTIM; extxyz: ``time``).
    file_source
        Where the file values came from, for the provenance string.
    timestep_source
        Where ``file_timestep_fs`` came from, when not ``file_source``.
    nblock_hint
        What to ask for when the steps between frames are unknown.
    file_nblock_is_fact
        True when ``file_nblock`` is read from the trajectory itself (LAMMPS TIMESTEP
        items): a different ``--nblock`` is refused. False for side files (INCAR,
        OUTCAR), which may belong to another run: the flag wins, with a warning.

    Raises
    ------
    AnalysisError
        Ambiguous (frame interval together with step/nblock), contradictory (``--nblock``
        against the file's step spacing) or missing time information.
    """
    fi = _positive(frame_interval_fs, "--frame-interval-fs")
    dt_user = _positive(timestep_fs, "--timestep-fs")
    if nblock is not None and (int(nblock) != nblock or nblock < 1):
        raise AnalysisError(f"--nblock must be a whole number >= 1, got {nblock!r}")
    if fi is not None and (dt_user is not None or nblock is not None):
        raise AnalysisError(f"{name}: {BOTH_GIVEN}")
    if fi is not None:
        return FrameTiming(fi, None, None, "--frame-interval-fs")
    differs = nblock is not None and file_nblock is not None and int(nblock) != int(file_nblock)
    if differs and not file_nblock_is_fact:
        warnings.warn(
            f"{name}: --nblock {nblock} overrides NBLOCK {file_nblock} of {file_source}",
            AnalysisWarning,
            stacklevel=3,
        )
    elif differs:
        raise AnalysisError(
            f"{name}: --nblock {nblock} contradicts {file_source} (frames {file_nblock} MD steps "
            "apart); drop --nblock or fix the file"
        )
    if dt_user is not None and file_timestep_fs is not None and dt_user != file_timestep_fs:
        warnings.warn(
            f"{name}: --timestep-fs {dt_user:g} overrides the MD step {file_timestep_fs:g} fs of "
            f"{timestep_source or file_source}",
            AnalysisWarning,
            stacklevel=3,
        )
    dt = dt_user if dt_user is not None else file_timestep_fs
    n = int(nblock) if nblock is not None else file_nblock
    if dt is not None and n is not None:
        src_dt = "--timestep-fs" if dt_user is not None else (timestep_source or file_source)
        src_n = "--nblock" if nblock is not None else f"{file_source}"
        return FrameTiming(
            dt * n, dt, int(n), f"MD step {dt:g} fs ({src_dt}) x {n} steps ({src_n})"
        )
    if dt_user is None and nblock is None and file_frame_interval_fs is not None:
        return FrameTiming(float(file_frame_interval_fs), None, None, file_source)
    if dt is not None:
        raise AnalysisError(
            f"{name}: the MD step is {dt:g} fs but not how many steps lie between stored "
            f"frames; give {nblock_hint} (or --frame-interval-fs)"
        )
    raise AnalysisError(
        f"{name}: no time information; give --frame-interval-fs (fs between stored frames) "
        "or --timestep-fs with --nblock (MD step and steps between frames)"
    )


# ------------------------------------------------------------------ VASP files
_OUTCAR_POTIM = re.compile(r"^\s*POTIM\s*=\s*([-+0-9.Ee]+)", re.M)
_OUTCAR_NBLOCK = re.compile(r"^\s*NBLOCK\s*=\s*(\d+)", re.M)
_XML_PARAM = re.compile(r'<i[^>]*name="(POTIM|NBLOCK)"[^>]*>\s*([-+0-9.Ee]+)\s*</i>')


def _candidates(directory: Path, stem: str) -> list[Path]:
    return [directory / (stem + ext) for ext in ("", ".gz", ".bz2", ".xz")]


def vasp_md_parameters(xdatcar: str | Path) -> tuple[float | None, int | None, str]:
    """POTIM (fs) and NBLOCK of the VASP run an XDATCAR belongs to.

    Looks in the XDATCAR's folder for ``OUTCAR``, ``vasprun.xml`` and ``INCAR``
    (also ``.gz``/``.bz2``/``.xz``, and with the XDATCAR's suffix, e.g.
    ``OUTCAR.1`` next to ``XDATCAR.1``), in that order of trust. NBLOCK defaults to 1
    (VASP's default) when a file gives POTIM but no NBLOCK.

    Returns
    -------
    (potim_fs, nblock, source)
        ``(None, None, "")`` when no file is found.
    """
    p = Path(xdatcar)
    suffix = p.name[len("XDATCAR") :] if p.name.upper().startswith("XDATCAR") else ""
    for ext in (".gz", ".bz2", ".xz"):
        if suffix.endswith(ext):
            suffix = suffix[: -len(ext)]
    found: list[tuple[float | None, int | None, str]] = []
    for stem in ("OUTCAR", "vasprun.xml", "INCAR"):
        stems = [stem + suffix, stem] if suffix else [stem]
        path = next((c for s in stems for c in _candidates(p.parent, s) if c.is_file()), None)
        if path is None:
            continue
        try:
            with open_text(path) as fh:
                text = _xml_head(fh) if stem == "vasprun.xml" else _outcar_head(fh)
        except (OSError, UnicodeDecodeError, EOFError):
            continue
        potim, nblock = _parse_vasp(stem, text)
        if potim is not None or nblock is not None:
            found.append((potim, nblock, path.name))
    if not found:
        return None, None, ""
    potim, nblock, source = found[0]
    for other_potim, other_nblock, other in found[1:]:
        if potim is None and other_potim is not None:
            potim, source = other_potim, f"{source}+{other}"
        if nblock is None and other_nblock is not None:
            nblock = other_nblock
        if (other_potim, other_nblock) != (potim, nblock) and other_potim is not None:
            warnings.warn(
                f"{p.name}: {other} says POTIM {other_potim}, NBLOCK {other_nblock}; using "
                f"{source} (POTIM {potim}, NBLOCK {nblock})",
                AnalysisWarning,
                stacklevel=2,
            )
    if potim is not None and nblock is None:
        nblock = 1
    return potim, nblock, source


def _outcar_head(fh, max_lines: int = 100_000) -> str:
    """The parameter part of an OUTCAR (or a whole INCAR): up to the first SCF iteration.

    An MD OUTCAR can be gigabytes; POTIM, NBLOCK and TEBEG are printed before the first
    ``Iteration`` line.
    """
    out = []
    for i, line in enumerate(fh):
        if "- Iteration" in line or i >= max_lines:
            break
        out.append(line)
    return "".join(out)


def _xml_head(fh) -> str:
    """The <incar>/<parameters> part of a vasprun.xml (before the first ionic step)."""
    out = []
    for line in fh:
        if "<calculation" in line:
            out.append(line.split("<calculation")[0])
            break
        out.append(line)
    return "".join(out)


def _parse_vasp(kind: str, text: str) -> tuple[float | None, int | None]:
    if kind == "OUTCAR":
        # the last match: the parameter block VASP used (the INCAR echo comes first)
        mp, mn = _OUTCAR_POTIM.findall(text), _OUTCAR_NBLOCK.findall(text)
        return (float(mp[-1]) if mp else None), (int(mn[-1]) if mn else None)
    if kind == "vasprun.xml":
        vals = {}
        for key, val in _XML_PARAM.findall(text):
            vals[key] = val  # <incar> first, then <parameters> (the values VASP used)
        pot = vals.get("POTIM")
        nb = vals.get("NBLOCK")
        return (float(pot) if pot else None), (int(float(nb)) if nb else None)
    vals = {}
    for line in text.splitlines():
        line = line.split("#")[0].split("!")[0]
        for part in line.split(";"):
            if "=" in part:
                key, _, val = part.partition("=")
                vals[key.strip().upper()] = val.strip()
    try:
        pot = float(vals["POTIM"].split()[0]) if "POTIM" in vals else None
        nb = int(vals["NBLOCK"].split()[0]) if "NBLOCK" in vals else None
    except (ValueError, IndexError):
        return None, None
    return pot, nb


# ------------------------------------------------------------------ LAMMPS files
#: fs per time unit of each LAMMPS ``units`` style (https://docs.lammps.org/units.html);
#: ``lj`` is reduced (no fs) and is not listed
LAMMPS_TIME_UNIT_FS = {
    "metal": 1e3,  # ps
    "real": 1.0,  # fs
    "electron": 1.0,  # fs
    "si": 1e15,  # s
    "cgs": 1e15,  # s
    "micro": 1e9,  # µs
    "nano": 1e6,  # ns
}
#: LAMMPS's default timestep per units style, in that style's time unit
_LAMMPS_DEFAULT_TIMESTEP = {
    "metal": 0.001,
    "real": 1.0,
    "electron": 0.001,
    "si": 1e-8,
    "cgs": 1e-8,
    "micro": 2.0,
    "nano": 0.00045,
}


def lammps_md_parameters(dump: str | Path) -> tuple[float | None, str]:
    """MD time step (fs) of the LAMMPS run a dump belongs to.

    Reads ``units`` and ``timestep`` from ``log.lammps`` (what ran), else ``in.lammps``
    / ``in.*`` / ``*.in`` in the dump's folder; LAMMPS's default timestep when only
    ``units`` is found. ``(None, "")`` when nothing usable is found (``lj`` units).
    """
    folder = Path(dump).parent
    inputs = [folder / "log.lammps", folder / "in.lammps"]
    inputs += sorted(folder.glob("in.*")) + sorted(folder.glob("*.in"))
    for path in dict.fromkeys(inputs):
        if not path.is_file():
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        units, step = "lj", None
        for line in text.splitlines():
            words = line.split("#")[0].split()
            if len(words) >= 2 and words[0] == "units":
                units = words[1]
            elif len(words) >= 2 and words[0] == "timestep" and step is None:
                try:
                    step = float(words[1])
                except ValueError:
                    continue
        if units not in LAMMPS_TIME_UNIT_FS:
            continue
        if step is None:
            step = _LAMMPS_DEFAULT_TIMESTEP[units]
        return step * LAMMPS_TIME_UNIT_FS[units], f"{path.name} (units {units})"
    return None, ""


# ------------------------------------------------------------------ temperature
_FIX_TEMP = re.compile(
    r"^\s*fix\s+\S+\s+\S+\s+(?:nvt|npt|nph)\b.*?\btemp\s+([-+0-9.eE]+)\s+([-+0-9.eE]+)"
    r"|^\s*fix\s+\S+\s+\S+\s+(?:langevin|temp/\S+)\s+([-+0-9.eE]+)\s+([-+0-9.eE]+)",
    re.M,
)
_TEBEG = re.compile(r"\bTEBEG\s*=\s*([-+0-9.eE]+)")
_TEEND = re.compile(r"\bTEEND\s*=\s*([-+0-9.eE]+)")


def run_temperature_K(trajectory: str | Path) -> tuple[float | None, str]:
    """Thermostat temperature (K) of the run a trajectory belongs to, when constant.

    VASP (an XDATCAR/vasprun.xml): TEBEG (= TEEND) from the OUTCAR or INCAR beside it.
    LAMMPS: the last ``fix ... nvt|npt temp T T`` / ``langevin T T`` of ``log.lammps`` or
    ``in.lammps`` beside it. ``(None, "")`` when not found or ramped (T start ≠ end).
    """
    p = Path(trajectory)
    folder = p.parent
    name = p.name.lower()
    if "xdatcar" in name or "vasprun" in name:
        for stem in ("OUTCAR", "INCAR"):
            path = next((c for c in _candidates(folder, stem) if c.is_file()), None)
            if path is None:
                continue
            try:
                with open_text(path) as fh:
                    text = _outcar_head(fh)
            except (OSError, UnicodeDecodeError, EOFError):
                continue
            beg, end = _TEBEG.findall(text), _TEEND.findall(text)
            if beg and (not end or float(end[-1]) in (float(beg[-1]), -1.0)):
                return float(beg[-1]), path.name
        return None, ""
    for path in (folder / "log.lammps", folder / "in.lammps"):
        if not path.is_file():
            continue
        hits = _FIX_TEMP.findall(path.read_text(errors="replace"))
        if hits:
            vals = [float(v) for v in hits[-1] if v]
            if len(vals) == 2 and vals[0] == vals[1]:
                return vals[0], path.name
            return None, ""
    return None, ""
