"""Random packing of a cubic cell with packmol, periodic images respected.

packmol (≥ 20) takes a ``pbc`` box: distances are then measured through the
periodic boundaries, so atoms near opposite faces cannot clash once the cell is
periodic, and atoms may fill the whole box (no MPMorph-style [tol/2, L − tol/2]
margins, which leave a depleted slab at the faces). The installed wheel
(packmol 21.2.3) supports it.

After packing, the minimum interatomic distance is checked under periodic
boundary conditions (pymatgen distance matrix, minimum image); a violation means
packmol did not converge, and the cell is repacked with the next seed.
"""

from __future__ import annotations

import math
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from pymatgen.core import Composition, Lattice, Structure

from amorphdb.errors import ConfigError, PackingError
from amorphdb.structure.compositions import parse_composition
from amorphdb.structure.density import AVOGADRO, estimate_density
from amorphdb.structure.formula_units import scaled_composition

__all__ = [
    "MAX_PACKING_FRACTION",
    "check_packable",
    "find_packmol",
    "hard_sphere_packing_fraction",
    "min_pbc_distance",
    "pack_structure",
]

#: Highest hard-sphere packing fraction (spheres of diameter = tolerance) accepted
#: before packmol is called. Random close packing of equal spheres is ≈ 0.64.
#: Measured with packmol 21.2.3 (99 atoms, tolerance 2 Å): 0.60 packs in 0.4 s,
#: 0.62 in 1 s, 0.64 fails after 18 s per attempt.
MAX_PACKING_FRACTION = 0.6

#: Default minimum distance as a fraction of the packmol tolerance: packmol's
#: tolerance is a penalty target, converged solutions may undercut it slightly.
MIN_DISTANCE_FRACTION = 0.9


def find_packmol() -> str:
    """Path of the packmol executable.

    Looks on ``PATH`` and next to the running Python (the ``packmol`` PyPI wheel
    installs ``<venv>/bin/packmol``).

    Raises
    ------
    PackingError
        packmol is not installed.
    """
    candidate = Path(sys.executable).parent / "packmol"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("packmol")
    if found:
        return found
    raise PackingError(
        "packmol executable not found on PATH or next to Python; install it with "
        "'pip install packmol'"
    )


def hard_sphere_packing_fraction(n_atoms: int, volume_A3: float, tolerance_A: float) -> float:
    """Fraction of the cell filled by spheres of diameter ``tolerance_A``.

    Parameters
    ----------
    n_atoms
        Number of atoms.
    volume_A3
        Cell volume (Å³).
    tolerance_A
        Minimum distance packmol enforces (Å).
    """
    return n_atoms * math.pi / 6 * tolerance_A**3 / volume_A3


def min_pbc_distance(structure: Structure) -> float:
    """Smallest interatomic distance under periodic boundary conditions (Å)."""
    if len(structure) < 2:
        # the only distance is to the atom's own periodic image
        return float(min(structure.lattice.abc))
    distances = structure.distance_matrix.copy()
    np.fill_diagonal(distances, np.inf)
    return float(distances.min())


def _write_inputs(
    workdir: Path, counts: dict[str, int], edge_A: float, tolerance_A: float, seed: int
) -> str:
    lines = [
        f"tolerance {tolerance_A:.6f}",
        "filetype xyz",
        "output packed.xyz",
        f"seed {seed}",
        f"pbc 0. 0. 0. {edge_A:.8f} {edge_A:.8f} {edge_A:.8f}",
        "",
    ]
    for symbol, number in counts.items():
        (workdir / f"{symbol}.xyz").write_text(f"1\n{symbol}\n{symbol} 0.0 0.0 0.0\n")
        lines += [
            f"structure {symbol}.xyz",
            f"  number {number}",
            f"  inside box 0. 0. 0. {edge_A:.8f} {edge_A:.8f} {edge_A:.8f}",
            "end structure",
            "",
        ]
    return "\n".join(lines)


def _run_packmol(
    packmol: str,
    counts: dict[str, int],
    edge_A: float,
    tolerance_A: float,
    seed: int,
    timeout_s: float,
) -> np.ndarray | None:
    """Run packmol once; Cartesian coordinates in input order, or None if it failed."""
    with tempfile.TemporaryDirectory(prefix="amorphdb-packmol-") as tmp:
        workdir = Path(tmp)
        text = _write_inputs(workdir, counts, edge_A, tolerance_A, seed)
        (workdir / "pack.inp").write_text(text)
        # packmol rewinds its standard input, so it must be a file, not a pipe
        try:
            with open(workdir / "pack.inp") as stdin:
                proc = subprocess.run(
                    [packmol],
                    stdin=stdin,
                    capture_output=True,
                    text=True,
                    cwd=workdir,
                    timeout=timeout_s,
                    check=False,
                )
        except subprocess.TimeoutExpired:
            return None
        output = workdir / "packed.xyz"
        # packmol writes packed.xyz_FORCED (and no packed.xyz) when it gives up
        if proc.returncode != 0 or not output.is_file() or "Success!" not in proc.stdout:
            return None
        rows = output.read_text().splitlines()[2:]
        return np.array([[float(v) for v in row.split()[1:4]] for row in rows if row.strip()])


def check_packable(
    cell_composition: Composition,
    density_g_cm3: float,
    tolerance_A: float = 2.0,
    min_distance_A: float | None = None,
) -> tuple[int, float, float]:
    """Check, without running packmol, that a cell can be packed; return (N, V Å³, edge Å).

    Raises
    ------
    PackingError
        The hard-sphere packing fraction exceeds :data:`MAX_PACKING_FRACTION`, or
        the cell edge is shorter than the minimum distance.
    """
    if min_distance_A is None:
        min_distance_A = MIN_DISTANCE_FRACTION * tolerance_A
    n_atoms = int(cell_composition.num_atoms)
    volume_A3 = cell_composition.weight / (density_g_cm3 * AVOGADRO) * 1e24  # g/mol → Å³
    edge_A = volume_A3 ** (1 / 3)
    fraction = hard_sphere_packing_fraction(n_atoms, volume_A3, tolerance_A)
    if fraction > MAX_PACKING_FRACTION:
        raise PackingError(
            f"cannot pack {n_atoms} atoms at {density_g_cm3:.3g} g/cm³ with tolerance "
            f"{tolerance_A:g} Å: packing fraction {fraction:.2f} > {MAX_PACKING_FRACTION}; "
            "lower the density or the tolerance"
        )
    if min_distance_A > edge_A:
        raise PackingError(
            f"cell edge {edge_A:.2f} Å is shorter than min_distance_A {min_distance_A:g} Å; "
            "use more atoms or a lower min_distance_A"
        )
    return n_atoms, volume_A3, edge_A


def pack_structure(
    composition: Composition | str,
    *,
    target_atoms: int = 100,
    n_formula_units: int | None = None,
    density_g_cm3: float | None = None,
    seed: int | None = None,
    tolerance_A: float = 2.0,
    min_distance_A: float | None = None,
    max_attempts: int = 5,
    timeout_s: float = 120.0,
) -> Structure:
    """Pack a random cubic cell of the composition at the given density.

    Parameters
    ----------
    composition
        Formula or Composition (its reduced integer formula is the formula unit).
    target_atoms
        Wanted number of atoms; the cell holds the nearest whole number of formula
        units (:func:`~amorphdb.structure.formula_units_for`).
    n_formula_units
        Explicit number of formula units; overrides ``target_atoms``.
    density_g_cm3
        Cell density (g/cm³); ``None`` uses :func:`estimate_density`.
    seed
        packmol random seed of the first attempt (attempt *i* uses ``seed + i``);
        ``None`` draws one. The seed that produced the cell is stored in
        ``structure.properties["packmol_seed"]``; the same seed gives the same cell.
    tolerance_A
        packmol ``tolerance``: target minimum distance between atoms (Å), default
        2.0 Å as in MPMorph.
    min_distance_A
        Minimum interatomic distance under PBC the result must satisfy (Å);
        default ``0.9 × tolerance_A``.
    max_attempts
        Number of seeds tried before giving up.
    timeout_s
        Time limit of one packmol run (s).

    Returns
    -------
    pymatgen.core.Structure
        Cubic cell; ``properties`` holds ``packmol_seed``, ``density_g_cm3``,
        ``tolerance_A``, ``min_distance_A`` (measured), ``attempts``.

    Raises
    ------
    ConfigError
        Non-positive density, tolerance, min distance, attempts or timeout.
    PackingError
        The density is too high for the tolerance (checked before packmol runs),
        packmol is missing, or every attempt failed.
    """
    comp = parse_composition(composition)
    cell_comp = scaled_composition(comp, target_atoms, n_formula_units)
    if density_g_cm3 is None:
        density_g_cm3 = estimate_density(comp)
    _check_positive(density_g_cm3, "density_g_cm3", "e.g. 2.3")
    _check_positive(tolerance_A, "tolerance_A", "e.g. 2.0")
    if min_distance_A is None:
        min_distance_A = MIN_DISTANCE_FRACTION * tolerance_A
    _check_positive(min_distance_A, "min_distance_A", "e.g. 1.8")
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ConfigError(f"max_attempts must be a positive integer, got {max_attempts!r}")
    _check_positive(timeout_s, "timeout_s", "e.g. 120")

    n_atoms, _, edge_A = check_packable(
        cell_comp, density_g_cm3, tolerance_A, min_distance_A
    )

    packmol = find_packmol()
    # order by atomic number so that equivalent notations (Li2Si2O5, Li2O·2SiO2) give
    # the same packmol input and hence the same cell for a given seed
    counts = {el.symbol: round(cell_comp[el]) for el in sorted(cell_comp, key=lambda e: e.Z)}
    first_seed = secrets.randbelow(2**31 - 1) + 1 if seed is None else int(seed)
    lattice = Lattice.cubic(edge_A)
    worst = math.inf
    for attempt in range(max_attempts):
        attempt_seed = first_seed + attempt
        coords = _run_packmol(packmol, counts, edge_A, tolerance_A, attempt_seed, timeout_s)
        if coords is None or len(coords) != n_atoms:
            continue
        species = [symbol for symbol, number in counts.items() for _ in range(number)]
        structure = Structure(
            lattice, species, coords, coords_are_cartesian=True, to_unit_cell=True
        )
        d_min = min_pbc_distance(structure)
        if d_min < min_distance_A:
            worst = min(worst, d_min)
            continue
        structure.properties.update(
            packmol_seed=attempt_seed,
            density_g_cm3=float(density_g_cm3),
            tolerance_A=float(tolerance_A),
            min_distance_A=d_min,
            attempts=attempt + 1,
        )
        return structure
    detail = f"; closest pair {worst:.2f} Å < {min_distance_A:g} Å" if worst < math.inf else ""
    raise PackingError(
        f"packmol failed to pack {n_atoms} atoms of {comp.reduced_formula} at "
        f"{density_g_cm3:.3g} g/cm³ in {max_attempts} attempts (seeds {first_seed}–"
        f"{first_seed + max_attempts - 1}){detail}; lower the density or the tolerance"
    )


def _check_positive(value: object, name: str, example: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not value > 0
        or not math.isfinite(value)
    ):
        raise ConfigError(f"{name} must be a positive number, got {value!r}; use {example}")
