"""Custodian job and handlers for the LAMMPS engine.

:func:`run_lammps_with_recovery` is a drop-in for
:func:`amorphdb.engines.lammps.runner.run_lammps`: it takes the ``in.lammps`` and
``data.lmp`` the engine wrote in ``workdir`` as a *template* and runs them as
parts (``part_00``, ``part_01``, ...; see :mod:`amorphdb.recovery.base`) under
Custodian. Each part adds a checkpoint dump with velocities
(``ckpt.dump``, every stored frame) and starts at the right simulation time
(``reset_timestep N time t``). When LAMMPS fails, a handler reads the part's log:

* ``Lost atoms``, ``Out of range atoms - cannot compute PPPM``, non-finite
  thermo output, bond / neighbour-list errors → restart from the last good
  checkpoint frame with the time step halved (frame
  and thermo intervals doubled, so stored frames stay on the same time grid);
* a budget (``RecoverySettings.max_corrections``) bounds the tries; the final
  failure raises :class:`~amorphdb.recovery.base.RecoveryExhaustedError`.

Handlers edit input files, as Custodian's VASP handlers edit INCARs: the part's
``in.lammps`` is regenerated from the template with the new time step, and its
``data.lmp`` carries the checkpoint's positions and velocities.

After success the parts are stitched back into the files the engine reads:
``traj.dump`` (``TIMESTEP`` in units of the original time step, so frame times
are continuous), ``log.lammps`` (one thermo block with the kept rows),
``final.dump`` and ``final.data``. Calling it again on the directory of a killed
run (same inputs) continues from the newest checkpoint instead of step 0.

LAMMPS's Nosé–Hoover chain variables are not carried across parts (``fix nvt``
restarts its chain at zero; velocities are carried exactly).
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from custodian.custodian import ErrorHandler, Job

from amorphdb.engines.lammps.output import box_from_dump
from amorphdb.recovery.base import (
    BudgetedHandler,
    Checkpoint,
    RecoverySettings,
    RunState,
    archive_stale_parts,
    halve_timestep,
    keep_window,
    latest_checkpoint,
    new_part,
    part_dirs,
    part_start_time,
    part_windows,
    read_json,
    read_status,
    run_with_custodian,
    write_json_atomic,
    write_status,
)

INPUT_FILE = "in.lammps"
DATA_FILE = "data.lmp"
LOG_FILE = "log.lammps"
SCREEN_FILE = "lammps.out"
TRAJ_FILE = "traj.dump"
FINAL_FILE = "final.dump"
FINAL_DATA = "final.data"
CKPT_FILE = "ckpt.dump"
TEMPLATE_FILE = "template.json"

#: LAMMPS error messages that a smaller time step from the last good frame fixes
RECOVERABLE_ERRORS: tuple[tuple[str, str], ...] = (
    ("lost_atoms", r"Lost atoms"),
    ("pppm_out_of_range", r"Out of range atoms - cannot compute PPPM"),
    ("bond_atoms_missing", r"Bond atoms?\b.*\bmissing|Bond/angle/dihedral extent > half"),
    ("neighbor_list", r"Neighbor list overflow|Too many neighbor bins|Neighbor list .* too"),
    ("non_numeric", r"Non-numeric (atom coords|pressure|box)|\bNaN\b|\bInf\b"),
)
_ERROR_LINE = re.compile(r"^(ERROR.*|.*ERROR:.*)$", re.MULTILINE)


# --------------------------------------------------------------------------- template


def parse_template(script: str) -> dict[str, Any]:
    """The MD parameters of an engine-written ``in.lammps`` (metal units)."""

    def first(pattern: str) -> re.Match[str]:
        match = re.search(pattern, script, re.MULTILINE)
        if match is None:
            raise ValueError(f"in.lammps has no line matching {pattern!r}")
        return match

    dt_fs = float(first(r"^timestep\s+(\S+)").group(1)) * 1000.0
    n_steps = int(first(r"^run\s+(\d+)").group(1))
    thermo_every = int(first(r"^thermo\s+(\d+)").group(1))
    traj_every = int(first(rf"^dump\s+traj\s+all\s+custom\s+(\d+)\s+{TRAJ_FILE}").group(1))
    temps = re.search(r"^fix\s.*\btemp\s+(\S+)\s+(\S+)", script, re.MULTILINE) or re.search(
        r"^fix\s.*\blangevin\s+(\S+)\s+(\S+)", script, re.MULTILINE
    )
    t0, t1 = (float(temps.group(1)), float(temps.group(2))) if temps else (math.nan, math.nan)
    elements = first(r"^dump_modify\s+traj\s+sort\s+id\s+element\s+(.+?)\s+format").group(1)
    return {
        "timestep_fs": dt_fs,
        "n_steps": n_steps,
        "thermo_every": thermo_every,
        "traj_every": traj_every,
        "t_start_K": t0,
        "t_end_K": t1,
        "elements": elements.split(),
    }


def part_script(
    script: str,
    template: dict[str, Any],
    state: RunState,
    start_time_fs: float,
    from_checkpoint: bool,
    part_index: int,
) -> str:
    """``in.lammps`` of one part: the template with this part's time step, length and start."""
    dt_fs = state.timestep_fs
    n_steps = round((state.end_time_fs - start_time_fs) / dt_fs)
    t0, t1 = template["t_start_K"], template["t_end_K"]
    frac = start_time_fs / state.end_time_fs
    t_here = t0 + (t1 - t0) * frac
    start_step = round(start_time_fs / dt_fs)
    names = " ".join(template["elements"])
    out = []
    for line in script.splitlines():
        if from_checkpoint and line.startswith("velocity all create"):
            continue
        if line.startswith("timestep"):
            line = f"timestep {dt_fs / 1000.0:.10g}"
        elif line.startswith("run "):
            line = f"run {n_steps}"
        elif re.match(r"^thermo\s+\d+", line):
            line = f"thermo {state.thermo_every}"
        elif line.startswith("dump traj all custom"):
            line = re.sub(r"custom\s+\d+", f"custom {state.traj_every}", line)
        elif line.startswith("fix") and re.search(r"\btemp\s+\S+\s+\S+", line):
            line = re.sub(r"\btemp\s+\S+\s+\S+", f"temp {t_here:.6g} {t1:.6g}", line)
        elif line.startswith("fix") and " langevin " in line:
            fields = line.split()
            i = fields.index("langevin")
            fields[i + 1], fields[i + 2] = f"{t_here:.6g}", f"{t1:.6g}"
            fields[i + 4] = str(int(fields[i + 4]) + part_index)  # fresh noise per part
            line = " ".join(fields)
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
    """Positions (Å), velocities (Å/fs, if dumped), cell and data-file box lines of a frame."""
    n_atoms = int(lines[3])
    matrix, origin, box_lines = box_from_dump(lines[5:8], lines[4])
    columns = lines[8].split()[2:]
    col = {name: i for i, name in enumerate(columns)}
    table = [line.split() for line in lines[9 : 9 + n_atoms]]
    values = np.array([[float(row[col[c]]) for c in ("x", "y", "z")] for row in table])
    out: dict[str, Any] = {
        "ids": [int(row[col["id"]]) for row in table],
        "elements": [row[col["element"]] for row in table],
        "positions": values,
        "cell": matrix,
        "origin": origin,
        "box_lines": box_lines,
    }
    if "vx" in col:
        out["velocities"] = (
            np.array([[float(row[col[c]]) for c in ("vx", "vy", "vz")] for row in table])
            / 1000.0
        )
    return out


def last_good_checkpoint(part: Path, before_time_fs: float, timestep_fs: float) -> Any:
    """The newest ``ckpt.dump`` frame with finite values strictly before ``before_time_fs``."""
    for step, lines in reversed(iter_dump_frames(part / CKPT_FILE)):
        time_fs = _frame_time(part, step, timestep_fs)
        if time_fs >= before_time_fs - 1e-6:
            continue
        arrays = frame_arrays(lines)
        if np.isfinite(arrays["positions"]).all() and np.isfinite(arrays["velocities"]).all():
            return time_fs, arrays
    return None


def _frame_time(part: Path, step: int, timestep_fs: float) -> float:
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
    from amorphdb.engines.lammps.output import parse_thermo

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


def diagnose_part(part: Path, settings: RecoverySettings, target_K: float) -> dict[str, Any]:
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
    env
        Environment for the LAMMPS process.
    """

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.env = env

    def setup(self, directory: str = "./") -> None:
        """Nothing: :func:`run_lammps_with_recovery` prepared the run state."""

    def run(self, directory: str = "./") -> subprocess.Popen:
        workdir = Path(directory)
        state = RunState.load(workdir)
        template = read_json(workdir / TEMPLATE_FILE)
        script = (workdir / INPUT_FILE).read_text()
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
            part_script(script, template, state, start_time, restart is not None, index)
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
        info = read_json(part / "part.json")
        found = last_good_checkpoint(part, before, info["timestep_fs"])
        if found is not None:
            return found
    return None


class LammpsErrorHandler(BudgetedHandler, ErrorHandler):
    """LAMMPS errors a smaller time step fixes → last good frame, time step × 0.5."""

    is_monitor = False

    def __init__(self, budget: int = 3, recovery: dict[str, Any] | None = None) -> None:
        self.budget = budget
        self.recovery = recovery or {}

    def detect(self, directory: Path) -> tuple[str, dict[str, Any]] | None:
        part = part_dirs(directory)[-1]
        template = read_json(directory / TEMPLATE_FILE)
        diagnosis = diagnose_part(part, RecoverySettings(**self.recovery), template["t_end_K"])
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
        restart = last_good_checkpoint(
            part, details["failed_at_fs"], read_json(part / "part.json")["timestep_fs"]
        )
        if restart is None and part_start_time(part) > 0:
            restart = (part_start_time(part), None)
        details["restart_time_fs"] = 0.0 if restart is None else restart[0]
        return halve_timestep(state, RecoverySettings(**self.recovery), details)


# --------------------------------------------------------------------------- entry point


def run_lammps_with_recovery(
    workdir: Path,
    input_file: str = INPUT_FILE,
    log_file: str = LOG_FILE,
    nprocs: int = 1,
    settings: dict[str, Any] | None = None,
) -> int:
    """Run the engine-written inputs in ``workdir`` under Custodian; 0 on success.

    Same contract as :func:`amorphdb.engines.lammps.runner.run_lammps` (inputs in,
    ``log.lammps``/``traj.dump``/``final.dump``/``final.data`` out), plus parts,
    checkpoints, corrections (``run_state.json``) and resumption of a killed run.

    Raises
    ------
    RecoveryExhaustedError
        When LAMMPS still fails after the recovery budget.
    """
    from amorphdb.engines.lammps.runner import lammps_argv

    workdir = Path(workdir)
    recovery = RecoverySettings.from_engine_settings(settings or {})
    script = (workdir / input_file).read_text()
    data = (workdir / DATA_FILE).read_text()
    digest = hashlib.sha256((script + data).encode()).hexdigest()
    state = RunState.load(workdir)
    if state is None or state.input_hash != digest:
        archive_stale_parts(workdir)
        template = parse_template(script)
        write_json_atomic(workdir / TEMPLATE_FILE, template)
        state = RunState(
            input_hash=digest,
            timestep_fs=template["timestep_fs"],
            traj_every=template["traj_every"],
            thermo_every=template["thermo_every"],
            end_time_fs=template["n_steps"] * template["timestep_fs"],
        )
        state.save(workdir)
    if not state.completed:
        argv, env = lammps_argv(input_file, log_file, nprocs)
        prefix = argv[: argv.index("-in")]
        run_with_custodian(
            LammpsPartJob(prefix, env),
            [LammpsErrorHandler(recovery.max_corrections, recovery.model_dump())],
            workdir,
            recovery.max_corrections,
        )
    stitch_lammps_parts(workdir)
    return 0


def stitch_lammps_parts(workdir: Path) -> None:
    """Write ``traj.dump``, ``log.lammps``, ``final.dump``/``final.data`` from the parts."""
    workdir = Path(workdir)
    template = read_json(workdir / TEMPLATE_FILE)
    dt0 = template["timestep_fs"]
    frames_out: list[str] = []
    rows_out: list[np.ndarray] = []
    version_line = ""
    for part, start, stop in part_windows(workdir):
        info = read_json(part / "part.json")
        for step, lines in iter_dump_frames(part / TRAJ_FILE):
            time_fs = _frame_time(part, step, info["timestep_fs"])
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


def lammps_checkpoint(workdir: Path) -> Checkpoint | None:
    """The newest good frame of a LAMMPS run directory as a :class:`Checkpoint` (LAMMPS frame)."""
    restart = _restart_point(Path(workdir))
    if restart is None:
        return latest_checkpoint(workdir)
    time_fs, arrays = restart
    from pymatgen.core import Element

    return Checkpoint(
        time_fs=time_fs,
        numbers=np.array([Element(e).Z for e in arrays["elements"]]),
        positions_A=arrays["positions"] - arrays["origin"],
        velocities_A_per_fs=arrays["velocities"],
        cell_A=arrays["cell"],
    )
