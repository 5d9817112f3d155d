"""Read one VASP MD part (OSZICAR, OUTCAR, XDATCAR, CONTCAR, POTCAR) and stitch parts.

Conventions (VASP's, and the stand-in's): ionic step *k* of a part reports the
energies, temperature and stress after the k-th update; XDATCAR configuration
*k* holds those positions (NBLOCK = 1, the MPMDSet value); CONTCAR holds the
positions and velocities (Cartesian Å/fs) of the last completed step. A part
starting at time t₀ with POTIM Δt therefore covers times t₀ + kΔt, k = 1…n, and
the next part starts at t₀ + n_keptΔt from that frame: no frame is written twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.vasp.inputs import Incar, Poscar
from pymatgen.io.vasp.outputs import Oszicar, Xdatcar

from amorphdb.analysis import Trajectory
from amorphdb.engines.base import ThermoSeries

# a regex pass instead of pymatgen's Outcar(), which parses the whole (large) MD
# OUTCAR several times for data an MD run does not have
_EXTERNAL = re.compile(r"external pressure =\s*(-?[\d.]+)\s*kB")
_KINETIC = re.compile(r"kinetic pressure \(ideal gas correction\) =\s*(-?[\d.]+)\s*kB")
_VERSION = re.compile(r"^\s*(vasp\.\S+.*?)\s*$", re.MULTILINE)
_TIME_TOL = 1e-6


@dataclass
class PartResult:
    """What one part produced (only complete ionic steps)."""

    directory: Path
    potim_fs: float
    start_time_fs: float
    steps: list[dict[str, Any]]
    external_pressure_kbar: list[float]
    kinetic_pressure_kbar: list[float]
    frames: list[Structure]
    n_electronic: list[int] = field(default_factory=list)
    nelm: int = 60

    @property
    def n_steps(self) -> int:
        """Complete ionic steps (OSZICAR, OUTCAR and XDATCAR all have them)."""
        return min(len(self.steps), len(self.external_pressure_kbar), len(self.frames))


def read_part(directory: Path, start_time_fs: float, potim_fs: float) -> PartResult:
    """Parse a part's outputs; missing files give an empty result.

    ``potim_fs`` is the time step the part ran with (the INCAR in the directory
    may already carry a handler's correction for the *next* part).
    """
    directory = Path(directory)
    incar = Incar.from_file(directory / "INCAR")
    steps: list[dict[str, Any]] = []
    n_elec: list[int] = []
    if (directory / "OSZICAR").exists():
        try:
            osz = Oszicar(str(directory / "OSZICAR"))
            for i, ionic in enumerate(osz.ionic_steps):
                if "T" in ionic:
                    steps.append(ionic)
                    n_elec.append(
                        len(osz.electronic_steps[i]) if i < len(osz.electronic_steps) else 0
                    )
        except Exception:
            pass
    p_ext: list[float] = []
    p_kin: list[float] = []
    if (directory / "OUTCAR").exists():
        text = (directory / "OUTCAR").read_text(errors="replace")
        p_ext = [float(x) for x in _EXTERNAL.findall(text)]
        p_kin = [float(x) for x in _KINETIC.findall(text)]
    frames: list[Structure] = []
    if (directory / "XDATCAR").exists():
        try:
            frames = list(Xdatcar(str(directory / "XDATCAR")).structures)
        except Exception:
            frames = _read_complete_xdatcar(directory / "XDATCAR")
    return PartResult(
        directory=directory,
        potim_fs=float(potim_fs),
        start_time_fs=start_time_fs,
        steps=steps,
        external_pressure_kbar=p_ext,
        kinetic_pressure_kbar=p_kin,
        frames=frames,
        n_electronic=n_elec,
        nelm=int(incar.get("NELM", 60)),
    )


def _read_complete_xdatcar(path: Path) -> list[Structure]:
    """Drop a half-written last configuration and parse the rest."""
    lines = path.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if "configuration" in line.lower()]
    if not starts:
        return []
    natoms = sum(int(x) for x in lines[6].split())
    while starts and len(lines) - starts[-1] - 1 < natoms:
        lines = lines[: starts[-1]]
        starts.pop()
    if not starts:
        return []
    tmp = path.with_name("XDATCAR.complete")
    tmp.write_text("\n".join(lines) + "\n")
    return list(Xdatcar(str(tmp)).structures)


def read_contcar(directory: Path) -> tuple[Structure, np.ndarray | None] | None:
    """CONTCAR structure and velocities (Å/fs), or None when missing/unreadable."""
    path = Path(directory) / "CONTCAR"
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        poscar = Poscar.from_file(str(path), check_for_potcar=False, read_velocities=True)
    except Exception:
        return None
    vel = None if poscar.velocities is None else np.asarray(poscar.velocities, dtype=float)
    return poscar.structure, vel


def frame_velocities(frames: list[Structure], index: int, potim_fs: float) -> np.ndarray:
    """Velocities (Å/fs) at frame ``index`` by a central difference of neighbouring frames.

    Used to restart from a frame other than the last (VASP writes velocities only
    to CONTCAR). Minimum-image fractional differences, so wrapping does not matter.
    """
    lo = max(index - 1, 0)
    hi = min(index + 1, len(frames) - 1)
    if hi == lo:
        return np.zeros((len(frames[index]), 3))
    dfrac = frames[hi].frac_coords - frames[lo].frac_coords
    dfrac -= np.round(dfrac)
    dcart = dfrac @ frames[index].lattice.matrix
    return dcart / ((hi - lo) * potim_fs)


def vasp_version(directory: Path) -> str:
    """The VASP version line of an OUTCAR (e.g. ``vasp.6.4.2 20Jul23 …``), or ``""``."""
    path = Path(directory) / "OUTCAR"
    if not path.exists():
        return ""
    with open(path, errors="replace") as handle:
        head = handle.read(4000)
    match = _VERSION.search(head)
    return match.group(1) if match else ""


def potcar_titels(directory: Path) -> list[str]:
    """TITEL lines of the POTCAR used (e.g. ``PAW_PBE Li_sv 10Sep2004``)."""
    path = Path(directory) / "POTCAR"
    if not path.exists():
        return []
    return [
        line.split("=", 1)[1].strip()
        for line in path.read_text(errors="replace").splitlines()
        if line.strip().startswith("TITEL")
    ]


def _on_grid(time_fs: float, every_fs: float) -> bool:
    ratio = time_fs / every_fs
    return abs(ratio - round(ratio)) * every_fs < 1e-3


def stitch(
    parts: list[tuple[PartResult, int]],
    initial: Structure,
    frame_every_fs: float,
    thermo_every_fs: float,
    pressure_source: str = "external",
    final_velocities: np.ndarray | None = None,
) -> tuple[ThermoSeries, Trajectory]:
    """Join the kept steps of every part into one thermo series and one trajectory.

    Parameters
    ----------
    parts
        (part, number of steps kept) in order; a part's kept steps end where the
        next part starts.
    initial
        Structure at t = 0 (the trajectory's first frame).
    frame_every_fs, thermo_every_fs
        Time between stored frames / thermo samples (fs); steps off that grid
        (e.g. after a POTIM reduction) are skipped, so spacing stays constant.
    """
    thermo = ThermoSeries()
    positions = [initial.cart_coords]
    lattices = [initial.lattice.matrix]
    for part, kept in parts:
        for k in range(kept):
            t = part.start_time_fs + (k + 1) * part.potim_fs
            step = part.steps[k]
            frame = part.frames[k]
            if _on_grid(t, thermo_every_fs):
                p = part.external_pressure_kbar[k]
                if pressure_source == "total" and k < len(part.kinetic_pressure_kbar):
                    p += part.kinetic_pressure_kbar[k]
                thermo.time_fs.append(round(t, 6))
                thermo.temperature_K.append(float(step["T"]))
                thermo.pressure_kbar.append(float(p))
                thermo.potential_energy_eV.append(float(step["F"]))
                thermo.total_energy_eV.append(float(step["E"]))
                thermo.volume_A3.append(float(frame.volume))
            if _on_grid(t, frame_every_fs):
                positions.append(frame.cart_coords)
                lattices.append(frame.lattice.matrix)
    species = [site.specie.symbol for site in initial]
    trajectory = Trajectory(
        species,
        np.asarray(positions),
        np.asarray(lattices),
        frame_every_fs,
        velocities=final_velocities,
        metadata={"source": "vasp XDATCAR (stitched parts)"},
    )
    return thermo, trajectory
