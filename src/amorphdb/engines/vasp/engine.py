"""The ``vasp`` engine: ab initio MD under Custodian, run as continuable parts.

One MD stage lives in one ``workdir``::

    workdir/
      run_state.json  the shared typed checkpoint (:class:`~amorphdb.recovery.base.RunState`
                      with :class:`VaspPart` records): target time, time kept, POTIM
                      of the next part, INCAR corrections, parts so far, corrections
                      (rewritten atomically after every part)
      part_00/        a complete VASP run directory (INCAR, POSCAR with velocities,
                      KPOINTS, POTCAR, outputs, custodian.json; part.json and
                      status.json of the shared part kernel)
      part_01/        continuation from the last good frame of part_00 …

A part ends normally, at a walltime STOPCAR, or when a handler fires
(:mod:`amorphdb.engines.vasp.handlers`). The next part starts from the last good frame
with its velocities, the corrected INCAR and the remaining simulated time.
Calling :meth:`VaspEngine.run` again on the same ``workdir`` with the same inputs
(e.g. a job relaunched after its allocation ended) resumes after the last finished
part; other inputs move the old parts aside (``stale_NN/``), as for every engine.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from custodian import Custodian
from custodian.custodian import CustodianError
from custodian.vasp.handlers import _parse_slurm_time
from custodian.vasp.jobs import VaspJob
from pydantic import BaseModel
from pymatgen.core import Structure
from pymatgen.io.vasp.inputs import Incar, Poscar

from amorphdb.engines.base import (
    EngineName,
    MDEngine,
    MDRunOutput,
    MDSettings,
)
from amorphdb.engines.vasp.config import (
    VaspSettings,
    check_overrides,
    check_potcars,
    check_vasp_cmd,
    known_element,
)
from amorphdb.engines.vasp.handlers import handler_names, md_handlers
from amorphdb.engines.vasp.inputs import VaspStage, hydrogen_timestep, md_input_set
from amorphdb.engines.vasp.outputs import (
    PartResult,
    frame_velocities,
    potcar_titels,
    read_contcar,
    read_part,
    stitch,
    vasp_version,
)
from amorphdb.errors import EngineError, UnsupportedCompositionError
from amorphdb.recovery.base import (
    Correction,
    RecoveryExhaustedError,
    RunState,
    input_digest,
    new_part,
    write_status,
)

AMU_A2_FS2_TO_EV = 103.642697  # 1 amu·Å²/fs² in eV
KB_EV = 8.617333262e-5


class VaspWalltimeExhaustedError(EngineError):
    """The batch job's wall time ran out before the stage finished (resumable)."""


class VaspPart(BaseModel):
    """One finished VASP part, as recorded in the run state (and ``extra["parts"]``).

    Parameters
    ----------
    dir
        Part directory name (``part_NN``).
    start_time_fs
        Stage time (fs) at which the part started.
    potim_fs
        Time step (fs) the part ran with.
    nsw
        MD steps the part was asked for.
    steps_done
        MD steps VASP wrote.
    kept
        Steps kept (a correction restarts from an earlier good step).
    unconverged_electronic_steps
        Steps whose electronic loop reached NELM.
    """

    dir: str
    start_time_fs: float
    potim_fs: float
    nsw: int
    steps_done: int
    kept: int
    unconverged_electronic_steps: int


VaspRunState = RunState[VaspPart]


class VaspEngine(MDEngine):
    """Ab initio MD with VASP (MPMorph protocol input sets, Custodian recovery).

    ``spec.potential`` is the POTCAR functional (default ``PBE``);
    ``spec.settings`` is read as :class:`~amorphdb.engines.vasp.settings.VaspSettings`
    (:attr:`settings`), which also holds the default time step.
    """

    name: ClassVar[EngineName] = EngineName.VASP
    settings: VaspSettings

    # ------------------------------------------------------------------ checks
    @property
    def potcar_functional(self) -> str:
        """pymatgen POTCAR functional name."""
        return self.settings.potcar_functional or (self.spec.potential or "PBE")

    def check_composition(self, elements: Iterable[str]) -> None:
        """Every element must be real and have a POTCAR (one-line error otherwise)."""
        elements = [str(e) for e in elements]
        unknown = [e for e in elements if not known_element(e)]
        if unknown:
            raise UnsupportedCompositionError(f"unknown element(s) {', '.join(unknown)}")
        check_potcars(elements, self.potcar_functional, self.settings.user_potcar_settings)

    def preflight(
        self, md: MDSettings | None = None, elements: Iterable[str] | None = None
    ) -> None:
        """Check POTCARs, the VASP command and overrides before anything is submitted."""
        if self.settings.check_executable:
            check_vasp_cmd(self.settings.resolved_vasp_cmd())
        if md is not None:
            check_overrides(self.settings, md.ensemble)
        else:
            check_overrides(self.settings, "nvt")
        if elements is not None:
            self.check_composition(elements)

    def version(self) -> str:
        """VASP version: read from the OUTCAR after a run; before, the command name."""
        return getattr(self, "_version", "") or f"vasp ({self.settings.resolved_vasp_cmd()})"

    # ------------------------------------------------------------------ run
    def run(
        self,
        structure: Structure,
        md: MDSettings,
        workdir: Path,
        velocities_A_per_fs: np.ndarray | None = None,
        stage: VaspStage | str | None = None,
    ) -> MDRunOutput:
        """Run one MD stage as parts under Custodian; see the module docstring."""
        self.preflight(md, [el.symbol for el in structure.composition.elements])
        stage = VaspStage(stage or self.settings.stage)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        recovery = self.settings.recovery

        potim0 = hydrogen_timestep(structure, md.timestep_fs)
        target_fs = md.n_steps * md.timestep_fs
        t_job_start = _job_start_time()
        job_walltime = self.settings.walltime_s or _env_walltime()

        if velocities_A_per_fs is None and md.initialize_velocities:
            velocities_A_per_fs = maxwell_boltzmann(structure, md.temperature_K, md.seed)
        current = (
            structure,
            None if velocities_A_per_fs is None else np.asarray(velocities_A_per_fs),
        )
        state = self._load_state(workdir, current, md, stage, target_fs, potim0)
        if state.parts:
            current = self._restart_point(workdir, state)

        while state.time_done_fs < target_fs - 1e-6:
            n_corr = len(state.corrections)
            if n_corr > recovery.max_corrections + _walltime_count(state):
                self._fail(state, workdir, "recovery budget exhausted")
            part_time = self.settings.segment_walltime_s
            if job_walltime:
                remaining = job_walltime - (time.time() - t_job_start)
                if remaining < 2 * self.settings.walltime_buffer_s:
                    raise VaspWalltimeExhaustedError(
                        f"walltime reached at t={state.time_done_fs:.1f} of {target_fs:.1f} fs; "
                        f"resubmit the job with the same directory ({workdir}) to continue"
                    )
                part_time = min(part_time or remaining, remaining)
            potim = state.timestep_fs
            part_dir = new_part(workdir, state.time_done_fs, potim, state.traj_every)
            k = int(part_dir.name.split("_")[-1])
            nsw = round((target_fs - state.time_done_fs) / potim)
            t_start_K = _ramp(md, state.time_done_fs / target_fs)
            self._write_part_inputs(
                part_dir, current, md, stage, potim, nsw, t_start_K, state.input_changes
            )
            handlers = md_handlers(
                self.settings,
                n_atoms=len(structure),
                max_temperature_K=recovery.max_temperature_K(
                    max(md.temperature_K, md.end_temperature_K or 0)
                ),
                wall_time_s=part_time,
            )
            run_log, failure = self._custodian(part_dir, handlers)
            result = read_part(part_dir, state.time_done_fs, potim)
            corrections = _corrections_from_log(run_log, k)
            restart_step = min(
                (
                    c.details.get("restart_from_step")
                    for c in corrections
                    if c.details.get("restart_from_step") is not None
                ),
                default=None,
            )
            kept = result.n_steps if restart_step is None else min(restart_step, result.n_steps)
            unfixable = [
                c for c in corrections if c.details.get("actions") is None and c.error != "walltime"
            ]
            state.parts.append(
                VaspPart(
                    dir=part_dir.name,
                    start_time_fs=state.time_done_fs,
                    potim_fs=potim,
                    nsw=nsw,
                    steps_done=result.n_steps,
                    kept=kept,
                    unconverged_electronic_steps=sum(
                        1 for n in result.n_electronic if n >= result.nelm
                    ),
                )
            )
            state.corrections.extend(corrections)
            for c in corrections:
                for action in c.details.get("actions") or []:
                    if action.get("dict") == "INCAR" and "_set" in action.get("action", {}):
                        state.input_changes.update(action["action"]["_set"])
            state.time_done_fs += kept * potim
            state.timestep_fs = float(state.input_changes.get("POTIM", potim))
            done = kept == nsw and not corrections
            if done:
                write_status(part_dir, "completed")
            else:
                reason = "; ".join(c.error for c in corrections) or failure or "stopped early"
                write_status(part_dir, "failed", reason=reason)
            state.completed = state.time_done_fs >= target_fs - 1e-6
            state.save(workdir)
            if unfixable:
                self._fail(state, workdir, f"unrecoverable: {unfixable[0].action}")
            if failure and not corrections:
                self._fail(state, workdir, failure)
            if not corrections and result.n_steps < nsw:
                self._fail(
                    state,
                    workdir,
                    f"VASP stopped after {result.n_steps} of {nsw} steps "
                    f"without a known error; see {part_dir}/vasp.out",
                )
            current = self._restart_from(part_dir, result, kept, current)

        return self._output(structure, md, workdir, state, stage)

    # ------------------------------------------------------------------ helpers
    def _write_part_inputs(
        self,
        part_dir: Path,
        current: tuple[Structure, np.ndarray | None],
        md: MDSettings,
        stage: VaspStage,
        potim: float,
        nsw: int,
        t_start_K: float,
        incar_corrections: dict[str, Any],
    ) -> None:
        structure, velocities = current
        overrides = dict(self.settings.incar)
        overrides.update({k: v for k, v in incar_corrections.items() if k != "POTIM"})
        overrides["NBLOCK"] = 1  # every step in XDATCAR: any step can be a restart frame
        input_set = md_input_set(
            structure,
            stage=stage,
            temperature_K=t_start_K,
            end_temperature_K=md.end_temperature_K or md.temperature_K,
            n_steps=nsw,
            timestep_fs=potim,
            ensemble=md.ensemble,
            traj_every=1,
            overrides=overrides,
            stage_overrides=self.settings.stage_incar(stage),
            potcar_functional=self.potcar_functional,
            user_potcar_settings=self.settings.user_potcar_settings,
        )
        part_dir.mkdir(parents=True, exist_ok=True)
        input_set.write_input(str(part_dir))
        # POSCAR with the velocity block (Cartesian Å/fs, the unit VASP reads)
        sorted_structure = input_set.poscar.structure
        vel = None
        if velocities is not None:
            order = _site_order(structure, sorted_structure)
            vel = np.asarray(velocities)[order].tolist()
        Poscar(sorted_structure, velocities=vel).write_file(str(part_dir / "POSCAR"))
        (part_dir / "amorphdb_order.json").write_text(
            json.dumps(_site_order(structure, sorted_structure).tolist())
        )

    def _custodian(self, part_dir: Path, handlers: list) -> tuple[list[dict], str]:
        s = self.settings
        job = VaspJob(
            shlex.split(s.resolved_vasp_cmd()),
            auto_npar=False,
            auto_gamma=True,
            gamma_vasp_cmd=shlex.split(s.gamma_vasp_cmd) if s.gamma_vasp_cmd else None,
        )
        c = Custodian(
            handlers,
            [job],
            max_errors=1,
            polling_time_step=s.polling_time_step_s,
            monitor_freq=s.monitor_freq,
            terminate_on_nonzero_returncode=False,
            directory=str(part_dir),
        )
        failure = ""
        try:
            c.run()
        except CustodianError as exc:
            failure = str(exc)
        return list(c.run_log), failure

    def _restart_from(
        self, part_dir: Path, result: PartResult, kept: int, previous: tuple
    ) -> tuple[Structure, np.ndarray | None]:
        if kept == 0:
            return previous
        if kept == result.n_steps:
            cont = read_contcar(part_dir)
            if cont is not None and cont[1] is not None:
                return cont
        frame = result.frames[kept - 1]
        vel = frame_velocities(result.frames, kept - 1, result.potim_fs)
        return frame, vel

    def _restart_point(
        self, workdir: Path, state: VaspRunState
    ) -> tuple[Structure, np.ndarray | None]:
        """Resume: the restart frame of the last recorded part."""
        last = state.parts[-1]
        part_dir = workdir / last.dir
        result = read_part(part_dir, last.start_time_fs, last.potim_fs)
        poscar = Poscar.from_file(
            str(part_dir / "POSCAR"), check_for_potcar=False, read_velocities=True
        )
        previous = (
            poscar.structure,
            None if poscar.velocities is None else np.asarray(poscar.velocities),
        )
        return self._restart_from(part_dir, result, last.kept, previous)

    def _load_state(
        self,
        workdir: Path,
        start: tuple[Structure, np.ndarray | None],
        md: MDSettings,
        stage: VaspStage,
        target_fs: float,
        potim0: float,
    ) -> VaspRunState:
        """The run state of ``workdir`` for these inputs; a new one (old parts archived)
        when the inputs differ."""
        structure, velocities = start
        inputs = {
            "structure": structure.as_dict(),
            "velocities_A_per_fs": None if velocities is None else velocities.tolist(),
            "md": md.model_dump(mode="json"),
            "stage": stage.value,
            "potim_fs": potim0,
        }
        # VASP writes every step (NBLOCK = 1): any step can be a restart frame
        return VaspRunState.resume_or_new(
            workdir,
            input_digest(inputs),
            timestep_fs=potim0,
            traj_every=1,
            thermo_every=1,
            end_time_fs=target_fs,
        )

    def _fail(self, state: VaspRunState, workdir: Path, reason: str) -> None:
        corrections = list(state.corrections)
        raise RecoveryExhaustedError(
            f"VASP MD in {workdir} failed ({reason}) after {len(corrections)} correction(s); "
            "rerun with other settings (e.g. smaller timestep_fs, engine.settings.incar ALGO)",
            corrections,
            [reason],
        )

    def _output(
        self,
        structure: Structure,
        md: MDSettings,
        workdir: Path,
        state: VaspRunState,
        stage: VaspStage,
    ) -> MDRunOutput:
        parts: list[tuple[PartResult, int]] = []
        for p in state.parts:
            parts.append((read_part(workdir / p.dir, p.start_time_fs, p.potim_fs), p.kept))
        # part_00 maps the caller's site order to VASP's (sorted by species); later
        # parts start from VASP-ordered frames, so their order is the identity
        order = json.loads((workdir / state.parts[0].dir / "amorphdb_order.json").read_text())
        inverse = np.argsort(order)
        last_dir = workdir / state.parts[-1].dir
        final, final_vel = self._restart_from(
            last_dir, parts[-1][0], parts[-1][1], (structure, None)
        )
        final = Structure.from_sites([final[i] for i in inverse])
        final_vel = None if final_vel is None else np.asarray(final_vel)[inverse]
        parts = [(_reorder_part(p, inverse), kept) for p, kept in parts]
        thermo, trajectory = stitch(
            parts,
            structure,
            frame_every_fs=md.traj_every * md.timestep_fs,
            thermo_every_fs=md.thermo_every * md.timestep_fs,
            pressure_source=self.settings.pressure_source,
            final_velocities=final_vel,
        )
        self._version = vasp_version(last_dir)
        incar = Incar.from_file(last_dir / "INCAR")
        return MDRunOutput(
            final_structure=final,
            thermo=thermo,
            trajectory=trajectory,
            final_velocities_A_per_fs=final_vel,
            engine_version=self._version,
            potential=f"{self.potcar_functional}: " + ", ".join(potcar_titels(last_dir)),
            potential_citation="VASP PAW (Kresse & Joubert, PRB 59, 1758 (1999)); "
            "MPMorph protocol (Aykol et al., Sci. Adv. 4, eaaq0148 (2018))",
            corrections=list(state.corrections),
            dir_name=str(workdir),
            extra={
                "stage": stage.value,
                "incar": incar.as_dict(),
                "potcar_symbols": potcar_titels(last_dir),
                "kpoints": (last_dir / "KPOINTS").read_text()
                if (last_dir / "KPOINTS").exists()
                else "",
                "parts": [p.model_dump() for p in state.parts],
                "handlers": handler_names(
                    md_handlers(self.settings, n_atoms=1, max_temperature_K=1.0, wall_time_s=1.0)
                ),
                "unconverged_electronic_steps": sum(
                    p.unconverged_electronic_steps for p in state.parts
                ),
                "pressure_source": self.settings.pressure_source,
                "complete": True,
            },
        )


# ---------------------------------------------------------------------- functions


def maxwell_boltzmann(structure: Structure, temperature_K: float, seed: int) -> np.ndarray:
    """Maxwell–Boltzmann velocities (Å/fs) at ``temperature_K``, zero total momentum, seeded."""
    rng = np.random.default_rng(seed)
    masses = np.array([site.specie.atomic_mass for site in structure], dtype=float)  # amu
    sigma = np.sqrt(KB_EV * temperature_K / (masses * AMU_A2_FS2_TO_EV))  # Å/fs
    vel = rng.normal(size=(len(structure), 3)) * sigma[:, None]
    vel -= (masses[:, None] * vel).sum(0) / masses.sum()
    ekin = 0.5 * (masses[:, None] * vel**2).sum() * AMU_A2_FS2_TO_EV
    dof = 3 * len(structure) - 3
    if ekin > 0 and dof > 0:
        vel *= np.sqrt(0.5 * dof * KB_EV * temperature_K / ekin)
    return vel


def _ramp(md: MDSettings, fraction: float) -> float:
    end = md.end_temperature_K or md.temperature_K
    return float(md.temperature_K + (end - md.temperature_K) * min(max(fraction, 0.0), 1.0))


def _site_order(original: Structure, sorted_structure: Structure) -> np.ndarray:
    """Index into ``original`` of every site of ``sorted_structure`` (pymatgen sorts by species)."""
    used = np.zeros(len(original), dtype=bool)
    order = []
    for site in sorted_structure:
        d = np.linalg.norm(original.cart_coords - site.coords, axis=1)
        d[used] = np.inf
        d[[s.specie != site.specie for s in original]] = np.inf
        i = int(np.argmin(d))
        used[i] = True
        order.append(i)
    return np.asarray(order)


def _reorder_part(part: PartResult, inverse: np.ndarray) -> PartResult:
    part.frames = [Structure.from_sites([f[i] for i in inverse]) for f in part.frames]
    return part


def _corrections_from_log(run_log: list[dict], part: int) -> list[Correction]:
    out = []
    for job_log in run_log:
        for corr in job_log.get("corrections", []):
            handler = corr.get("handler")
            name = (
                type(handler).__name__
                if handler is not None and not isinstance(handler, dict)
                else (handler or {}).get("@class", "")
            )
            errors = corr.get("errors") or []
            error = "walltime" if name.endswith("WalltimeHandler") else ",".join(map(str, errors))
            details = {k: v for k, v in corr.items() if k != "handler"}
            details["handler"] = name
            details["part"] = part
            actions = details.get("actions")
            action = (
                "STOPCAR, continue from CONTCAR in a new part"
                if error == "walltime"
                else (json.dumps(actions) if actions else "none (unrecoverable)")
            )
            if details.get("restart_from_step") is not None and actions:
                action += f"; restart from step {details['restart_from_step']} of part {part}"
            out.append(Correction(error=error, action=action, details=details))
    return out


def _walltime_count(state: VaspRunState) -> int:
    return sum(1 for c in state.corrections if c.error == "walltime")


def _job_start_time() -> float:
    start = os.environ.get("CUSTODIAN_WALLTIME_START")
    if start:
        try:
            return time.mktime(time.strptime(start, "%a %b %d %H:%M:%S %Z %Y"))
        except ValueError:
            pass
    return time.time()


def _env_walltime() -> float | None:
    if "PBS_WALLTIME" in os.environ:
        return float(os.environ["PBS_WALLTIME"])
    if "SBATCH_TIMELIMIT" in os.environ:
        return _parse_slurm_time(os.environ["SBATCH_TIMELIMIT"])
    return None

