"""Parsing LAMMPS output: thermo blocks of the log, the final frame with velocities."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from amorphdb.engines.base import ThermoSeries

_HEADER = re.compile(r"^\s*Step\s+Time\s+Temp\s+Press\s+PotEng\s+TotEng\s+Volume\s*$")
_VERSION = re.compile(r"^LAMMPS \((.+)\)")
_ERROR = re.compile(r"^(ERROR.*|.*ERROR:.*)$", re.MULTILINE)


def lammps_version(log_text: str) -> str:
    """The version string of the first line of a LAMMPS log (``"22 Jul 2025 - ..."``)."""
    for line in log_text.splitlines()[:5]:
        match = _VERSION.match(line.strip())
        if match:
            return match.group(1)
    return "unknown"


def last_error(text: str) -> str | None:
    """The last ``ERROR`` line of a log or screen output, if any."""
    errors = _ERROR.findall(text)
    return errors[-1].strip() if errors else None


def parse_thermo(log_text: str) -> ThermoSeries:
    """Thermo samples of every run block in a log, as amorphdb units.

    Time ps → fs, pressure bar → kbar. Rows that do not parse as numbers (warnings
    printed between rows) are skipped; non-finite values are kept so that
    recovery handlers can see them.
    """
    rows: list[list[float]] = []
    in_block = False
    for line in log_text.splitlines():
        if _HEADER.match(line):
            in_block = True
            continue
        if in_block:
            if line.startswith("Loop time") or line.startswith("ERROR"):
                in_block = False
                continue
            parts = line.split()
            if len(parts) != 7:
                continue
            try:
                rows.append([float(x) for x in parts])
            except ValueError:
                continue
    if not rows:
        return ThermoSeries()
    data = np.asarray(rows)
    return ThermoSeries(
        time_fs=(data[:, 1] * 1000.0).tolist(),
        temperature_K=data[:, 2].tolist(),
        pressure_kbar=(data[:, 3] / 1000.0).tolist(),
        potential_energy_eV=data[:, 4].tolist(),
        total_energy_eV=data[:, 5].tolist(),
        volume_A3=data[:, 6].tolist(),
    )


def box_from_dump(box_lines: list[str], header: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Cell rows (Å), origin (Å) and data-file box lines from a dump's BOX BOUNDS block.

    ``box_lines`` are the three lines after ``ITEM: BOX BOUNDS``; ``header`` is that
    ITEM line (``xy xz yz`` in it marks a triclinic box, whose bounds LAMMPS writes as
    the bounding box of the tilted cell: see the ``dump`` command documentation).
    """
    bounds = np.array([[float(x) for x in line.split()] for line in box_lines])
    if "xy" in header:
        (xlo_b, xhi_b, xy), (ylo_b, yhi_b, xz), (zlo, zhi, yz) = bounds
        xlo = xlo_b - min(0.0, xy, xz, xy + xz)
        xhi = xhi_b - max(0.0, xy, xz, xy + xz)
        ylo = ylo_b - min(0.0, yz)
        yhi = yhi_b - max(0.0, yz)
    else:
        (xlo, xhi), (ylo, yhi), (zlo, zhi) = bounds[:, :2]
        xy = xz = yz = 0.0
    matrix = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
    data_lines = [
        f"{xlo:.10f} {xhi:.10f} xlo xhi",
        f"{ylo:.10f} {yhi:.10f} ylo yhi",
        f"{zlo:.10f} {zhi:.10f} zlo zhi",
    ]
    if "xy" in header:
        data_lines.append(f"{xy:.10f} {xz:.10f} {yz:.10f} xy xz yz")
    return matrix, np.array([xlo, ylo, zlo]), data_lines


def read_final_frame(path: Path) -> tuple[Structure, np.ndarray]:
    """Read a one-frame ``write_dump`` file (id element x y z vx vy vz).

    Returns the structure (atoms sorted by id) and the velocities in Å/fs.
    """
    lines = Path(path).read_text().splitlines()
    n_atoms = int(lines[3])
    matrix, origin, _ = box_from_dump(lines[5:8], lines[4])
    columns = lines[8].split()[2:]
    table = [line.split() for line in lines[9 : 9 + n_atoms]]
    col = {name: i for i, name in enumerate(columns)}
    species = [row[col["element"]] for row in table]
    keys = ("x", "y", "z", "vx", "vy", "vz")
    numbers = np.array([[float(row[col[c]]) for c in keys] for row in table])
    structure = Structure(
        Lattice(matrix), species, numbers[:, :3] - origin, coords_are_cartesian=True
    )
    velocities_A_per_fs = numbers[:, 3:] / 1000.0  # Å/ps -> Å/fs
    return structure, velocities_A_per_fs
