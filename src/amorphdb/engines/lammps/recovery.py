"""Custodian job and handlers for the LAMMPS engine.

:func:`run_lammps_with_recovery` runs one MD stage of the engine as parts
(``part_00``, ``part_01``, ...; the shared kernel :mod:`amorphdb.recovery.base`)
under Custodian. The engine passes the typed settings it used (a
:class:`LammpsStage`: :class:`~amorphdb.engines.base.MDSettings`, potential, type
order, k-space style); each part's ``in.lammps`` is written by the engine's own
:func:`~amorphdb.engines.lammps.inputs.md_script` from those settings with the
part's time step, length and start temperature, never by editing the engine's
file. Each part adds a checkpoint dump with velocities
(``ckpt.dump``, every stored frame) and starts at the right simulation time
(``reset_timestep N time t``). When LAMMPS fails, a handler reads the part's log:

* ``Lost atoms``, ``Out of range atoms - cannot compute PPPM``, non-finite
  thermo output, bond / neighbour-list errors → restart from the last good
  checkpoint frame with the time step halved (frame
  and thermo intervals doubled, so stored frames stay on the same time grid);
* a budget (``RecoverySettings.max_corrections``) bounds the tries; the final
  failure raises :class:`~amorphdb.recovery.base.RecoveryExhaustedError`.

Handlers change the run state (``run_state.json``), as Custodian's VASP handlers
edit INCARs: the next part's ``in.lammps`` is written with the new time step, and
its ``data.lmp`` carries the checkpoint's positions and velocities.

After success the parts are stitched back into the files the engine reads:
``traj.dump`` (``TIMESTEP`` in units of the original time step, so frame times
are continuous), ``log.lammps`` (one thermo block with the kept rows),
``final.dump`` and ``final.data``. Calling it again on the directory of a killed
run (same inputs) continues from the newest checkpoint instead of step 0.

LAMMPS's Nosé–Hoover chain variables are not carried across parts (``fix nvt``
restarts its chain at zero; velocities are carried exactly).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from custodian.custodian import ErrorHandler, Job

from amorphdb.engines.base import MDSettings
from amorphdb.engines.lammps import inputs
from amorphdb.engines.lammps.output import box_from_dump, parse_thermo
from amorphdb.engines.lammps.runner import SCREEN_FILE, lammps_argv
from amorphdb.engines.potentials import Potential
from amorphdb.recovery.base import (
    BudgetedHandler,
    RecoverySettings,
    RunState,
    halve_timestep,
    input_digest,
    keep_window,
    new_part,
    part_dirs,
    part_start_time,
    part_windows,
    read_json,
    read_status,
    run_with_custodian,
    write_status,
)

INPUT_FILE = inputs.INPUT_FILE
DATA_FILE = inputs.DATA_FILE
LOG_FILE = inputs.LOG_FILE
TRAJ_FILE = inputs.TRAJ_FILE
FINAL_FILE = inputs.FINAL_FILE
FINAL_DATA = inputs.RESTART_FILE
CKPT_FILE = "ckpt.dump"

#: LAMMPS error messages that a smaller time step from the last good frame fixes
RECOVERABLE_ERRORS: tuple[tuple[str, str], ...] = (
    ("lost_atoms", r"Lost atoms"),
    ("pppm_out_of_range", r"Out of range atoms - cannot compute PPPM"),
    ("bond_atoms_missing", r"Bond atoms?\b.*\bmissing|Bond/angle/dihedral extent > half"),
    ("neighbor_list", r"Neighbor list overflow|Too many neighbor bins|Neighbor list .* too"),
    ("non_numeric", r"Non-numeric (atom coords|pressure|box)|\bNaN\b|\bInf\b"),
)
_ERROR_LINE = re.compile(r"^(ERROR.*|.*ERROR:.*)$", re.MULTILINE)


# --------------------------------------------------------------------------- stage


@dataclass(frozen=True)
class LammpsStage:
    """The typed settings the engine ran one stage with (what each part is written from).

    Parameters
    ----------
    md
        The stage's MD settings (time step, length, temperatures, intervals, seed).
    potential
        The potential, with the engine's cut-off overrides.
    elements
        LAMMPS type order (``inputs.write_data_file``'s return value).
    kspace_style
        ``pppm`` or ``ewald``.
    has_velocities
        The engine's ``data.lmp`` carries velocities (no ``velocity create``).
    """

    md: MDSettings
    potential: Potential
    elements: list[str]
    kspace_style: str
    has_velocities: bool

    def part_script(
        self, state: RunState, start_time_fs: float, from_checkpoint: bool, part_index: int
    ) -> str:
        """``in.lammps`` of one part: this part's time step, length, start and intervals.

        The thermostat ramp restarts at the temperature the stage has reached at
        ``start_time_fs``; a part continuing from a checkpoint reads its velocities
        and gets fresh Langevin noise (seed + part index).
        """
        md = self.md
        t0, t1 = md.temperature_K, md.end_temperature_K or md.temperature_K
        t_here = t0 + (t1 - t0) * start_time_fs / state.end_time_fs
        part_md = md.model_copy(
            update={
                "timestep_fs": state.timestep_fs,
                "n_steps": round((state.end_time_fs - start_time_fs) / state.timestep_fs),
                "traj_every": state.traj_every,
                "thermo_every": state.thermo_every,
                "temperature_K": float(f"{t_here:.6g}"),
                "end_temperature_K": float(f"{t1:.6g}"),
                "seed": md.seed + part_index if from_checkpoint else md.seed,
            }
        )
        script = inputs.md_script(
            part_md,
            self.potential,
            self.elements,
            has_velocities=self.has_velocities or from_checkpoint,
            kspace_style=self.kspace_style,
        )
        start_step = round(start_time_fs / state.timestep_fs)
        names = " ".join(self.elements)
        out = []
        for line in script.splitlines():
            out.append(line)
            if line.startswith("read_data"):
                out.append(f"reset_timestep {start_step} time {start_time_fs / 1000.0:.12g}")
            if line.startswith("dump_modify traj"):
                out.append(
                    f"dump ckpt all custom {state.traj_every} {CKPT_FILE} id element x y z vx vy vz"
                )
                out.append(f"dump_modify ckpt sort id element {names} format float %.12g")
        return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- dumps


def iter_dump_frames(path: Path) -> list[tuple[int, list[str]]]:
    """Complete frames of a LAMMPS text dump as ``(timestep, lines)`` (a cut tail is dropped)."""
    if not Path(path).exists():
        return []
    lines = Path(path).read_text(errors="replace").splitlines()
    frames = []
    i = 0
    while i + 9 <= len(lines) and lines[i].startswith("ITEM: TIMESTEP"):
        try:
            step = int(lines[i + 1])
            n_atoms = int(lines[i + 3])
        except ValueError:
            break
        end = i + 9 + n_atoms
        if end > len(lines):
            break
        frames.append((step, lines[i:end]))
        i = end
    return frames


def frame_arrays(lines: list[str]) -> dict[str, Any]:
    """Atom ids, positions (Å), velocities (Å/fs, if dumped) and data-file box lines of a frame."""
    n_atoms = int(lines[3])
    _, _, box_lines = box_from_dump(lines[5:8], lines[4])
    columns = lines[8].split()[2:]
    col = {name: i for i, name in enumerate(columns)}
    table = [line.split() for line in lines[9 : 9 + n_atoms]]
    values = np.array([[float(row[col[c]]) for c in ("x", "y", "z")] for row in table])
    out: dict[str, Any] = {
        "ids": [int(row[col["id"]]) for row in table],
        "positions": values,
        "box_lines": box_lines,
    }
    if "vx" in col:
        out["velocities"] = (
            np.array([[float(row[col[c]]) for c in ("vx", "vy", "vz")] for row in table])
            / 1000.0
        )
    return out


def last_good_checkpoint(part: Path, before_time_fs: float) -> Any:
    """The newest ``ckpt.dump`` frame with finite values strictly before ``before_time_fs``."""
    for step, lines in reversed(iter_dump_frames(part / CKPT_FILE)):
        time_fs = _frame_time(part, step)
        if time_fs >= before_time_fs - 1e-6:
            continue
        arrays = frame_arrays(lines)
        if np.isfinite(arrays["positions"]).all() and np.isfinite(arrays["velocities"]).all():
            return time_fs, arrays
    return None


def _frame_time(part: Path, step: int) -> float:
    """Simulation time (fs) of dump ``step`` in a part (steps count in the part's time step)."""
    info = read_json(part / "part.json")
    start_step = round(info["start_time_fs"] / info["timestep_fs"])
    return info["start_time_fs"] + (step - start_step) * info["timestep_fs"]


def write_part_data(template_data: str, target: Path, arrays: dict[str, Any]) -> None:
    """``data.lmp`` for a restart: the template's header and charges, the checkpoint's
    box, positions and velocities."""
    lines = template_data.splitlines()
    out: list[str] = []
    by_id = {i: k for k, i in enumerate(arrays["ids"])}
    section = None
    box_done = False
    for line in lines:
        stripped = line.strip()
        if re.search(r"(xlo xhi|ylo yhi|zlo zhi|xy xz yz)$", stripped):
            if not box_done:
                out.extend(arrays["box_lines"])
                box_done = True
            continue
        if stripped in ("Masses",) or stripped.startswith("Atoms"):
            section = stripped.split()[0]
            out.append(line)
            continue
        if stripped.startswith("Velocities"):
            break  # replaced below
        if section == "Atoms" and stripped:
            fields = stripped.split()
            k = by_id[int(fields[0])]
            x, y, z = arrays["positions"][k]
            out.append(f"{fields[0]} {fields[1]} {fields[2]} {x:.12f} {y:.12f} {z:.12f}")
            continue
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    out += ["", "Velocities", ""]
    for atom_id, k in sorted(by_id.items()):
        vx, vy, vz = arrays["velocities"][k] * 1000.0  # Å/fs -> Å/ps (metal units)
        out.append(f"{atom_id} {vx:.12f} {vy:.12f} {vz:.12f}")
    target.write_text("\n".join(out) + "\n")


# --------------------------------------------------------------------------- log checks


def find_recoverable_error(text: str) -> tuple[str, str] | None:
    """``(kind, ERROR line)`` of a LAMMPS error a smaller time step can fix, if any."""
    errors = _ERROR_LINE.findall(text)
    for line in reversed(errors):
        for kind, pattern in RECOVERABLE_ERRORS:
            if re.search(pattern, line):
                return kind, line.strip()
    return None


def thermo_rows(log_text: str) -> np.ndarray:
    """Thermo rows ``[t_fs, T, P_kbar, PE, E, V]`` of a part log (non-finite rows kept)."""
    series = parse_thermo(log_text)
    return np.column_stack(
        [
            series.time_fs,
            series.temperature_K,
            series.pressure_kbar,
            series.potential_energy_eV,
            series.total_energy_eV,
            series.volume_A3,
        ]
    ).reshape(-1, 6)


def diagnose_part(part: Path) -> dict[str, Any]:
    """What went wrong in a part (``{}`` if nothing): error kind, message, failure time."""
    text = ""
    for name in (LOG_FILE, SCREEN_FILE):
        path = part / name
        if path.exists():
            text += path.read_text(errors="replace") + "\n"
    rows = thermo_rows(text)
    finite = np.isfinite(rows).all(axis=1) if rows.size else np.zeros(0, bool)
    last_time = float(rows[finite][-1, 0]) if finite.any() else 0.0
    found = find_recoverable_error(text)
    if found is not None:
        kind, line = found
        return {"kind": kind, "message": line, "time_fs": last_time}
    if rows.size and not finite.all():
        bad = rows[~finite][0]
        return {
            "kind": "non_finite_thermo",
            "message": f"non-finite thermo output at t={bad[0]:.1f} fs",
            "time_fs": float(bad[0]) if np.isfinite(bad[0]) else last_time,
        }
    return {}


# --------------------------------------------------------------------------- custodian


class LammpsPartJob(Job):
    """One LAMMPS attempt (a part) started from the newest good frame (a Custodian ``Job``).

    Parameters
    ----------
    argv
        Command line prefix of LAMMPS (from :func:`amorphdb.engines.lammps.runner.lammps_argv`).
    stage
        The typed settings each part's ``in.lammps`` is written from.
    env
        Environment for the LAMMPS process.
    """

    def __init__(
        self, argv: list[str], stage: LammpsStage, env: dict[str, str] | None = None
    ) -> None:
        self.argv = list(argv)
        self.stage = stage
        self.env = env

    def as_dict(self) -> dict[str, Any]:
        """Custodian's log entry: the command (the stage is in ``run_state.json``'s parts)."""
        return {"@module": type(self).__module__, "@class": type(self).__name__,
                "argv": self.argv}

    def setup(self, directory: str = "./") -> None:
        """Nothing: :func:`run_lammps_with_recovery` prepared the run state."""

    def run(self, directory: str = "./") -> subprocess.Popen:
        workdir = Path(directory)
        state = RunState.load(workdir)
        data = (workdir / DATA_FILE).read_text()
        restart = _restart_point(workdir)
        start_time = 0.0 if restart is None else restart[0]
        part = new_part(workdir, start_time, state.timestep_fs, state.traj_every)
        index = len(part_dirs(workdir)) - 1
        if restart is None:
            (part / DATA_FILE).write_text(data)
        else:
            write_part_data(data, part / DATA_FILE, restart[1])
        (part / INPUT_FILE).write_text(
            self.stage.part_script(state, start_time, restart is not None, index)
        )
        argv = [*self.argv, "-in", INPUT_FILE, "-log", LOG_FILE, "-screen", "none", "-nocite"]
        screen = open(part / SCREEN_FILE, "w")  # noqa: SIM115 - closed by the child's exit
        return subprocess.Popen(
            argv, cwd=part, env=self.env, stdout=screen, stderr=subprocess.STDOUT
        )

    def postprocess(self, directory: str = "./") -> None:
        workdir = Path(directory)
        part = part_dirs(workdir)[-1]
        if (part / FINAL_FILE).exists():
            write_status(part, "completed")
            state = RunState.load(workdir)
            state.completed = True
            state.save(workdir)


def _restart_point(workdir: Path) -> tuple[float, dict[str, Any]] | None:
    """Where the next part starts: the last good checkpoint frame of the newest part."""
    for part in reversed(part_dirs(workdir)):
        status = read_status(part)
        before = float(status.get("restart_before_fs", math.inf))
        found = last_good_checkpoint(part, before)
        if found is not None:
            return found
    return None


class LammpsErrorHandler(BudgetedHandler, ErrorHandler):
    """LAMMPS errors a smaller time step fixes → last good frame, time step × 0.5."""

    is_monitor = False

    def detect(self, directory: Path) -> tuple[str, dict[str, Any]] | None:
        part = part_dirs(directory)[-1]
        diagnosis = diagnose_part(part)
        if not diagnosis:
            if (part / FINAL_FILE).exists():
                return None
            text = (part / SCREEN_FILE).read_text(errors="replace") if (
                part / SCREEN_FILE
            ).exists() else ""
            errors = _ERROR_LINE.findall(text)
            message = errors[-1].strip() if errors else "LAMMPS stopped without a final frame"
            write_status(part, "failed", reason=message)
            return message, {"kind": "unrecoverable"}
        write_status(
            part,
            "failed",
            reason=diagnosis["message"],
            restart_before_fs=diagnosis["time_fs"],
        )
        return diagnosis["message"], {
            "kind": diagnosis["kind"],
            "failed_at_fs": diagnosis["time_fs"],
            "part": part.name,
        }

    def fix(
        self, directory: Path, state: RunState, error: str, details: dict[str, Any]
    ) -> str | None:
        if details.get("kind") == "unrecoverable":
            return None
        part = part_dirs(directory)[-1]
        restart = last_good_checkpoint(part, details["failed_at_fs"])
        if restart is None and part_start_time(part) > 0:
            restart = (part_start_time(part), None)
        details["restart_time_fs"] = 0.0 if restart is None else restart[0]
        return halve_timestep(state, self.settings, details)


# --------------------------------------------------------------------------- entry point


def run_lammps_with_recovery(
    workdir: Path, stage: LammpsStage, nprocs: int = 1, recovery: RecoverySettings | None = None
) -> int:
    """Run the stage whose inputs the engine wrote in ``workdir`` under Custodian; 0 on success.

    Inputs in (the engine's ``in.lammps``/``data.lmp`` and the typed ``stage`` it
    wrote them from), ``log.lammps``/``traj.dump``/``final.dump``/``final.data``
    out, plus parts, checkpoints, corrections (``run_state.json``) and resumption
    of a killed run (same inputs).

    Raises
    ------
    RecoveryExhaustedError
        When LAMMPS still fails after the recovery budget.
    """
    workdir = Path(workdir)
    recovery = recovery or RecoverySettings()
    script = (workdir / INPUT_FILE).read_text()
    data = (workdir / DATA_FILE).read_text()
    md = stage.md
    state = RunState.resume_or_new(
        workdir,
        input_digest(script + data),
        timestep_fs=md.timestep_fs,
        traj_every=md.traj_every,
        thermo_every=md.thermo_every,
        end_time_fs=md.n_steps * md.timestep_fs,
    )
    if not state.completed:
        argv, env = lammps_argv(INPUT_FILE, LOG_FILE, nprocs)
        prefix = argv[: argv.index("-in")]
        run_with_custodian(
            LammpsPartJob(prefix, stage, env),
            [LammpsErrorHandler(recovery.max_corrections, recovery.model_dump())],
            workdir,
            recovery.max_corrections,
        )
    stitch_lammps_parts(workdir, md.timestep_fs)
    return 0


def stitch_lammps_parts(workdir: Path, dt0: float) -> None:
    """Write ``traj.dump``, ``log.lammps``, ``final.dump``/``final.data`` from the parts.

    ``dt0`` is the stage's own time step (fs): stitched dump steps count in it.
    """
    workdir = Path(workdir)
    frames_out: list[str] = []
    rows_out: list[np.ndarray] = []
    version_line = ""
    for part, start, stop in part_windows(workdir):
        for step, lines in iter_dump_frames(part / TRAJ_FILE):
            time_fs = _frame_time(part, step)
            if keep_window(np.array([time_fs]), start, stop)[0]:
                frames_out += ["ITEM: TIMESTEP", str(round(time_fs / dt0)), *lines[2:]]
        log = part / LOG_FILE
        if log.exists():
            text = log.read_text(errors="replace")
            version_line = version_line or text.splitlines()[0]
            rows = thermo_rows(text)
            rows_out.append(rows[keep_window(rows[:, 0], start, stop)])
    (workdir / TRAJ_FILE).write_text("\n".join(frames_out) + "\n")
    rows = np.concatenate(rows_out) if rows_out else np.zeros((0, 6))
    log_lines = [version_line, "Step Time Temp Press PotEng TotEng Volume"]
    for row in rows:
        step = round(row[0] / dt0)
        log_lines.append(
            f"{step} {row[0] / 1000.0:.10g} {row[1]:.10g} {row[2] * 1000.0:.10g} "
            f"{row[3]:.10g} {row[4]:.10g} {row[5]:.10g}"
        )
    log_lines.append("Loop time of 0 (stitched by amorphdb from the parts)")
    (workdir / LOG_FILE).write_text("\n".join(log_lines) + "\n")
    last = part_dirs(workdir)[-1]
    for name in (FINAL_FILE, FINAL_DATA):
        if (last / name).exists():
            shutil.copyfile(last / name, workdir / name)

