"""The ASE MD loop of the ``mlip`` engine: one *part* of a resumable run.

Why not atomate2's ``ForceFieldMDMaker.run_ase``: it builds the dynamics and runs
all steps in one ``dyn.run(n_steps)`` with its own observer, so it cannot (a)
seed the thermostat noise (it passes no ``rng`` to Langevin), (b) carry
Nosé–Hoover chain state or the Langevin random state across segments, (c)
check every step for exploding dynamics and stop at the last good frame, or
(d) write a checkpoint with velocities at every stored frame so a killed run
continues where it stopped. We reuse atomate2 for the calculators
(:mod:`amorphdb.engines.mlip.models`) and ASE for the integrators.

Files written in a part directory (see :mod:`amorphdb.recovery.base`):

``frames.bin``
    float64 records ``[time_fs, cell (9), positions (3 n_atoms)]``, appended and
    flushed per frame; a record cut short by a kill is ignored on reading.
``thermo.csv``
    ``time_fs,temperature_K,pressure_kbar,potential_energy_eV,total_energy_eV,volume_A3``
``checkpoint.npz``
    the last frame that passed every check, with velocities and thermostat state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list

from amorphdb.engines.base import Ensemble, MDSettings
from amorphdb.errors import EngineError
from amorphdb.recovery.base import Checkpoint, RecoverySettings

FRAMES_FILE = "frames.bin"
THERMO_FILE = "thermo.csv"
THERMO_COLUMNS = (
    "time_fs",
    "temperature_K",
    "pressure_kbar",
    "potential_energy_eV",
    "total_energy_eV",
    "volume_A3",
)
#: 1 eV/Å³ in kbar
EV_PER_A3_TO_KBAR = 10.0 / units.GPa


class Thermostat:
    """Names accepted in ``MDSettings.thermostat``."""

    NOSE_HOOVER = "nose-hoover"
    LANGEVIN = "langevin"


# --------------------------------------------------------------------------- dynamics


def build_dynamics(
    atoms: Atoms,
    md: MDSettings,
    timestep_fs: float,
    temperature_K: float,
    rng: np.random.Generator,
    barostat_damping_fs: float | None = None,
) -> Any:
    """The ASE integrator for ``md``: Nosé–Hoover chain NVT (default), Langevin NVT,
    isotropic MTK NPT or velocity-Verlet NVE."""
    dt = timestep_fs * units.fs
    tdamp = md.thermostat_damping_fs * units.fs
    thermostat = md.thermostat.lower().replace("_", "-")
    if md.ensemble == Ensemble.NVE:
        from ase.md.verlet import VelocityVerlet

        return VelocityVerlet(atoms, timestep=dt)
    if md.ensemble == Ensemble.NPT:
        from ase.md.nose_hoover_chain import IsotropicMTKNPT

        calc = atoms.calc
        if "stress" not in getattr(calc, "implemented_properties", ()):
            raise EngineError("NPT needs a model that gives stress; use NVT with this model")
        pdamp = (barostat_damping_fs or 10.0 * md.thermostat_damping_fs) * units.fs
        return IsotropicMTKNPT(
            atoms,
            timestep=dt,
            temperature_K=temperature_K,
            pressure_au=md.pressure_kbar * 1e3 * units.bar,
            tdamp=tdamp,
            pdamp=pdamp,
        )
    if thermostat == Thermostat.LANGEVIN:
        from ase.md.langevin import Langevin

        return Langevin(
            atoms, timestep=dt, temperature_K=temperature_K, friction=1.0 / tdamp, rng=rng
        )
    if thermostat in (Thermostat.NOSE_HOOVER, "nose-hoover-chain", "nvt"):
        from ase.md.nose_hoover_chain import NoseHooverChainNVT

        return NoseHooverChainNVT(atoms, timestep=dt, temperature_K=temperature_K, tdamp=tdamp)
    raise EngineError(
        f"unknown thermostat '{md.thermostat}'; use 'nose-hoover' or 'langevin'"
    )


def set_target_temperature(dyn: Any, temperature_K: float) -> None:
    """Move the thermostat target (linear ramps).

    ASE's Nosé–Hoover chain classes have no public setter, so the private ``_kT``
    of the integrator, its thermostat and barostat are updated (the chain masses
    keep their start values, as in LAMMPS ``fix nvt`` ramps).
    """
    if hasattr(dyn, "set_temperature"):
        dyn.set_temperature(temperature_K=temperature_K)
        return
    kT = units.kB * temperature_K
    for obj in (dyn, getattr(dyn, "_thermostat", None), getattr(dyn, "_barostat", None)):
        if obj is not None and hasattr(obj, "_kT"):
            obj._kT = kT


def get_thermostat_state(dyn: Any, rng: np.random.Generator) -> dict[str, Any]:
    """JSON-able thermostat state: chain variables and the random generator state."""
    state: dict[str, Any] = {"rng": rng.bit_generator.state}
    for name in ("_thermostat", "_barostat"):
        obj = getattr(dyn, name, None)
        if obj is None:
            continue
        for attr in ("_eta", "_p_eta", "_xi", "_p_xi"):
            if hasattr(obj, attr):
                state[f"{name}.{attr}"] = np.asarray(getattr(obj, attr)).tolist()
    return state


def set_thermostat_state(dyn: Any, rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore what :func:`get_thermostat_state` saved (missing keys are skipped)."""
    if "rng" in state:
        rng.bit_generator.state = state["rng"]
    for key, value in state.items():
        if "." not in key:
            continue
        name, attr = key.split(".", 1)
        obj = getattr(dyn, name, None)
        if obj is not None and hasattr(obj, attr):
            current = getattr(obj, attr)
            restored = np.asarray(value, dtype=float)
            if np.shape(current) == restored.shape:
                setattr(obj, attr, restored if np.ndim(current) else float(restored))


# --------------------------------------------------------------------------- checks


def closest_pair(atoms: Atoms, factor: float) -> tuple[int, int, float, float] | None:
    """The pair closest relative to ``factor × (r_cov,i + r_cov,j)``, if below it.

    Returns ``(i, j, distance_A, threshold_A)`` or ``None`` when no pair is too close.
    """
    radii = covalent_radii[atoms.numbers]
    cutoff = float(factor * 2 * radii.max()) + 1e-6
    i, j, d = neighbor_list("ijd", atoms, cutoff)
    if i.size == 0:
        return None
    threshold = factor * (radii[i] + radii[j])
    ratio = d / threshold
    worst = int(np.argmin(ratio))
    if ratio[worst] >= 1.0:
        return None
    return int(i[worst]), int(j[worst]), float(d[worst]), float(threshold[worst])


def step_problem(
    atoms: Atoms, target_K: float, settings: RecoverySettings
) -> tuple[str, dict[str, Any]] | None:
    """Exploding-dynamics test run every step: non-finite, force or temperature too high."""
    forces = atoms.get_forces()
    positions = atoms.get_positions()
    if not (np.isfinite(forces).all() and np.isfinite(positions).all()):
        return "non-finite forces or positions", {}
    fmax = float(np.sqrt((forces**2).sum(axis=1)).max())
    if fmax > settings.max_force_eV_per_A:
        return (
            f"max force {fmax:.1f} eV/Å above {settings.max_force_eV_per_A:g} eV/Å",
            {"max_force_eV_per_A": fmax},
        )
    temperature = float(atoms.get_temperature())
    limit = settings.max_temperature_K(target_K)
    if not np.isfinite(temperature) or temperature > limit:
        return (
            f"temperature {temperature:.0f} K above {limit:.0f} K",
            {"temperature_K": temperature, "limit_K": limit},
        )
    return None


def frame_problem(atoms: Atoms, settings: RecoverySettings) -> tuple[str, dict[str, Any]] | None:
    """Test run at stored frames (costlier): atoms closer than a physical minimum."""
    pair = closest_pair(atoms, settings.min_distance_factor)
    if pair is None:
        return None
    i, j, d, thr = pair
    symbols = atoms.get_chemical_symbols()
    return (
        f"atoms too close: {symbols[i]}{i}-{symbols[j]}{j} at {d:.2f} Å (< {thr:.2f} Å)",
        {"i": i, "j": j, "distance_A": d, "threshold_A": thr},
    )


def separate_overlaps(atoms: Atoms, factor: float, max_iter: int = 500) -> int:
    """Push overlapping pairs apart along their separation (periodic images respected).

    Each pair closer than ``factor × (r_i + r_j)`` is moved symmetrically to that
    distance; repeated until no pair overlaps. Returns the number of moves.
    """
    radii = covalent_radii[atoms.numbers]
    moves = 0
    for _ in range(max_iter):
        cutoff = float(factor * 2 * radii.max()) + 1e-6
        i, j, d, D = neighbor_list("ijdD", atoms, cutoff)
        threshold = factor * (radii[i] + radii[j])
        bad = (d < threshold) & (i < j)
        if not bad.any():
            return moves
        positions = atoms.get_positions()
        rng = np.random.default_rng(moves)
        for a, b, dist, vec, thr in zip(
            i[bad], j[bad], d[bad], D[bad], threshold[bad], strict=True
        ):
            direction = vec / dist if dist > 1e-8 else rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            shift = 0.5 * (thr - dist) * 1.01 * direction
            positions[a] -= shift
            positions[b] += shift
            moves += 1
        atoms.set_positions(positions)
    return moves


# --------------------------------------------------------------------------- files


class FrameWriter:
    """Append frames to ``frames.bin`` (flushed per frame, survives a kill)."""

    def __init__(self, part: Path) -> None:
        self._handle = open(Path(part) / FRAMES_FILE, "ab")  # noqa: SIM115

    def write(self, time_fs: float, atoms: Atoms) -> None:
        record = np.concatenate(
            [[time_fs], np.asarray(atoms.cell).ravel(), atoms.get_positions().ravel()]
        ).astype(np.float64)
        self._handle.write(record.tobytes())
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def read_frames(part: Path, n_atoms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(times_fs, cells (n,3,3), positions (n,n_atoms,3))`` of a part (partial tail dropped)."""
    path = Path(part) / FRAMES_FILE
    size = 1 + 9 + 3 * n_atoms
    raw = np.fromfile(path, dtype=np.float64) if path.exists() else np.zeros(0)
    n = raw.size // size
    data = raw[: n * size].reshape(n, size)
    return data[:, 0], data[:, 1:10].reshape(n, 3, 3), data[:, 10:].reshape(n, n_atoms, 3)


def append_thermo(part: Path, row: list[float]) -> None:
    """Append one thermo sample (header written on first use)."""
    path = Path(part) / THERMO_FILE
    new = not path.exists()
    with open(path, "a") as handle:
        if new:
            handle.write(",".join(THERMO_COLUMNS) + "\n")
        handle.write(",".join(f"{value:.10g}" for value in row) + "\n")


def read_thermo(part: Path) -> np.ndarray:
    """Thermo rows of a part, shape ``(n, 6)`` (a line cut by a kill is dropped)."""
    path = Path(part) / THERMO_FILE
    rows = []
    if path.exists():
        for line in path.read_text().splitlines()[1:]:
            fields = line.split(",")
            if len(fields) == len(THERMO_COLUMNS):
                try:
                    rows.append([float(x) for x in fields])
                except ValueError:
                    continue
    return np.asarray(rows, dtype=float).reshape(-1, len(THERMO_COLUMNS))


def thermo_row(atoms: Atoms, time_fs: float) -> list[float]:
    """``[t, T, P, Epot, Etot, V]`` with P including the kinetic term (as LAMMPS ``press``)."""
    epot = float(atoms.get_potential_energy())
    ekin = float(atoms.get_kinetic_energy())
    try:
        stress = atoms.get_stress(voigt=True, include_ideal_gas=True)
        pressure = -float(np.mean(stress[:3])) * EV_PER_A3_TO_KBAR
    except Exception:  # model without stress
        pressure = float("nan")
    return [
        time_fs,
        float(atoms.get_temperature()),
        pressure,
        epot,
        epot + ekin,
        float(atoms.get_volume()),
    ]


# --------------------------------------------------------------------------- the loop


@dataclass
class PartResult:
    """Outcome of one part: completed, or stopped at a problem (reason + details)."""

    completed: bool
    time_fs: float
    reason: str = ""
    details: dict[str, Any] | None = None


def run_part(
    atoms: Atoms,
    part: Path,
    md: MDSettings,
    start_time_fs: float,
    end_time_fs: float,
    timestep_fs: float,
    traj_every: int,
    thermo_every: int,
    temperature_at: Callable[[float], float],
    rng: np.random.Generator,
    settings: RecoverySettings,
    thermostat_state: dict[str, Any] | None = None,
    barostat_damping_fs: float | None = None,
) -> PartResult:
    """Integrate from ``start_time_fs`` to ``end_time_fs``, checkpointing every frame.

    ``atoms`` carries the calculator, positions and velocities at the start.
    The first frame is checked, stored and checkpointed too, so a start that is
    already broken (overlapping atoms) is reported with no checkpoint.
    """
    n_steps = round((end_time_fs - start_time_fs) / timestep_fs)
    dyn = build_dynamics(
        atoms, md, timestep_fs, temperature_at(start_time_fs), rng, barostat_damping_fs
    )
    if thermostat_state:
        set_thermostat_state(dyn, rng, thermostat_state)
    writer = FrameWriter(part)
    try:
        for i in range(n_steps + 1):
            time_fs = start_time_fs + i * timestep_fs
            if i > 0:
                set_target_temperature(dyn, temperature_at(time_fs))
                dyn.step()
            target = temperature_at(time_fs)
            is_frame = i % traj_every == 0 or i == n_steps
            # overlaps first: they explain the huge forces that come with them
            problem = frame_problem(atoms, settings) if is_frame else None
            if problem is None:
                problem = (
                    step_problem(atoms, target, settings)
                    if md.ensemble != Ensemble.NVE
                    else _nve_problem(atoms, settings)
                )
            if problem is not None:
                reason, details = problem
                details = {**details, "time_fs": time_fs, "step_in_part": i}
                return PartResult(False, time_fs, reason, details)
            if i % thermo_every == 0:
                append_thermo(part, thermo_row(atoms, time_fs))
            if is_frame:
                if i % traj_every == 0:
                    writer.write(time_fs, atoms)
                Checkpoint(
                    time_fs=time_fs,
                    numbers=atoms.numbers,
                    positions_A=atoms.get_positions(),
                    velocities_A_per_fs=atoms.get_velocities() * units.fs,
                    cell_A=np.asarray(atoms.cell),
                    thermostat_state=get_thermostat_state(dyn, rng),
                ).save(part)
    finally:
        writer.close()
    return PartResult(True, end_time_fs)


def _nve_problem(atoms: Atoms, settings: RecoverySettings) -> tuple[str, dict[str, Any]] | None:
    """NVE has no target temperature: test forces and finiteness only."""
    relaxed = settings.model_copy(update={"max_temperature_margin_K": 1e12})
    return step_problem(atoms, 1.0, relaxed)
