"""The ``mlip`` engine: MD with a universal ML potential (CHGNet, SevenNet-0) through ASE.

Calculators come from atomate2's force-field machinery
(:func:`atomate2.forcefields.utils.ase_calculator`, see
:mod:`amorphdb.engines.mlip.models`); the MD loop is ours
(:mod:`amorphdb.engines.mlip.dynamics`, which says why) and runs under Custodian
with the handlers of :mod:`amorphdb.engines.mlip.recovery`. A run directory holds parts
and checkpoints (the shared kernel :mod:`amorphdb.recovery.base`), so calling :meth:`MLIPEngine.run`
again on the directory of a killed run continues from its last stored frame.

Reproducible with ``MDSettings.seed``: initial velocities are drawn from
``default_rng(seed)`` and the Langevin noise from ``default_rng(seed + 1)``; the
noise generator state is checkpointed, so a resumed or segmented run draws the
same numbers an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pymatgen.core import Structure

from amorphdb.analysis import Trajectory
from amorphdb.engines.base import (
    EngineName,
    EngineSpec,
    MDEngine,
    MDRunOutput,
    MDSettings,
    ThermoSeries,
)
from amorphdb.engines.mlip.dynamics import THERMO_COLUMNS, read_frames, read_thermo
from amorphdb.engines.mlip.models import (
    MODELS,
    resolve_model,
    uncovered_elements,
)
from amorphdb.engines.mlip.models import model_version as _model_version
from amorphdb.engines.mlip.recovery import MLIPMDJob, mlip_handlers
from amorphdb.engines.mlip.settings import MLIPSettings
from amorphdb.errors import ConfigError, EngineError, UnsupportedCompositionError
from amorphdb.recovery.base import (
    INPUT_FILE,
    RecoverySettings,
    RunState,
    input_digest,
    keep_window,
    latest_checkpoint,
    part_windows,
    run_with_custodian,
    write_json_atomic,
)


def check_timestep(timestep_fs: float) -> float:
    """Return ``timestep_fs`` or raise a one-line :class:`ConfigError` (the largest
    step is :attr:`MLIPSettings.max_timestep_fs`, also checked when a spec loads)."""
    if not np.isfinite(timestep_fs) or timestep_fs <= 0:
        raise ConfigError(f"timestep_fs={timestep_fs} must be > 0 fs; use 1-2 fs (0.5 fs with H)")
    if timestep_fs > MLIPSettings.max_timestep_fs:
        raise ConfigError(
            f"timestep_fs={timestep_fs} is too large for ML-potential MD; "
            f"use at most {MLIPSettings.max_timestep_fs:g} fs (2 fs typical, 0.5 fs with H)"
        )
    return timestep_fs


class MLIPEngine(MDEngine):
    """MD with CHGNet (default) or SevenNet-0.

    ``spec.potential``: ``None``/``"chgnet"`` or ``"sevennet-0"``.
    ``spec.settings`` is read as :class:`~amorphdb.engines.mlip.settings.MLIPSettings`
    (:attr:`settings`: ``recovery``, ``barostat_damping_fs``, ``threads``), which also
    holds the default and largest time step.
    """

    name: ClassVar[EngineName] = EngineName.MLIP
    settings: MLIPSettings
    #: :meth:`run` accepts and returns thermostat state (segments pass it on)
    supports_thermostat_state: ClassVar[bool] = True

    def __init__(self, spec: EngineSpec) -> None:
        super().__init__(spec)
        self.model = resolve_model(spec.potential)
        if spec.timestep_fs is not None:
            check_timestep(spec.timestep_fs)

    @property
    def recovery(self) -> RecoverySettings:
        """The recovery budget and the ML checks' thresholds (``settings.recovery``)."""
        return self.settings.recovery

    def check_composition(self, elements: Iterable[str]) -> None:
        missing = uncovered_elements(self.model, list(elements))
        if missing:
            raise UnsupportedCompositionError(
                f"model '{self.model.value}' was not trained on {', '.join(missing)}; "
                "choose another model or engine"
            )

    def version(self) -> str:
        return _model_version(self.model)

    def run(
        self,
        structure: Structure,
        md: MDSettings,
        workdir: Path,
        velocities_A_per_fs: np.ndarray | None = None,
        thermostat_state: dict[str, Any] | None = None,
    ) -> MDRunOutput:
        """Run one MD stage in ``workdir`` (continuing a killed run found there).

        Parameters
        ----------
        structure
            Start structure (Å).
        md
            What to simulate.
        workdir
            Directory for parts, checkpoints and Custodian's log.
        velocities_A_per_fs
            Start velocities (Å/fs); ``None`` draws them (seeded) at ``md.temperature_K``.
        thermostat_state
            Thermostat state from a previous segment (``MDRunOutput.extra``).

        Raises
        ------
        RecoveryExhaustedError
            When the dynamics still fail after the recovery budget; it carries the
            corrections tried.
        """
        check_timestep(md.timestep_fs)
        self.check_composition([el.symbol for el in structure.composition.elements])
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        velocities = (
            None if velocities_A_per_fs is None else np.asarray(velocities_A_per_fs).tolist()
        )
        inputs = {
            "model": self.model.value,
            "structure": structure.as_dict(),
            "velocities_A_per_fs": velocities,
            "thermostat_state": thermostat_state,
            "md": md.model_dump(mode="json"),
        }
        state = RunState.resume_or_new(
            workdir,
            input_digest(inputs),
            timestep_fs=md.timestep_fs,
            traj_every=md.traj_every,
            thermo_every=md.thermo_every,
            end_time_fs=md.n_steps * md.timestep_fs,
        )
        if not state.completed:
            # the MD job reads its inputs here (same content on a resume: same digest)
            write_json_atomic(workdir / INPUT_FILE, inputs)
            recovery = self.recovery.model_dump()
            job = MLIPMDJob(
                self.model.value,
                recovery,
                barostat_damping_fs=self.settings.barostat_damping_fs,
                threads=self.settings.threads,
            )
            run_with_custodian(
                job,
                mlip_handlers(self.recovery.max_corrections, recovery),
                workdir,
                self.recovery.max_corrections,
            )
        return self._collect(structure, md, workdir)

    def _collect(self, structure: Structure, md: MDSettings, workdir: Path) -> MDRunOutput:
        """Stitch the parts of a finished run into one output."""
        state = RunState.load(workdir)
        final = latest_checkpoint(workdir)
        end_time = state.end_time_fs
        if final is None or abs(final.time_fs - end_time) > 1e-6:
            raise EngineError(f"MD in {workdir} did not reach its end; rerun the stage")
        n_atoms = len(structure)
        times, cells, positions, thermo = [], [], [], []
        for part, start, stop in part_windows(workdir):
            t, c, p = read_frames(part, n_atoms)
            keep = keep_window(t, start, stop)
            times.append(t[keep])
            cells.append(c[keep])
            positions.append(p[keep])
            rows = read_thermo(part)
            thermo.append(rows[keep_window(rows[:, 0], start, stop)])
        frame_times = np.concatenate(times)
        rows = np.concatenate(thermo)
        period = md.traj_every * md.timestep_fs
        trajectory = Trajectory(
            [str(site.specie) for site in structure],
            np.concatenate(positions),
            np.concatenate(cells),
            time_step=period,
            velocities=final.velocities_A_per_fs,
            metadata={
                "engine": EngineName.MLIP.value,
                "model": self.model.value,
                "start_time_fs": float(frame_times[0]) if frame_times.size else 0.0,
                "temperature_K": md.temperature_K,
            },
        )
        species = [str(site.specie) for site in structure]
        final_structure = Structure(
            final.cell_A, species, final.positions_A, coords_are_cartesian=True
        )
        series = ThermoSeries(
            **{name: rows[:, k].tolist() for k, name in enumerate(THERMO_COLUMNS)}
        )
        info = MODELS[self.model]
        return MDRunOutput(
            final_structure=final_structure,
            thermo=series,
            trajectory=trajectory,
            final_velocities_A_per_fs=final.velocities_A_per_fs,
            engine_version=self.version(),
            potential=self.model.value,
            potential_citation=info.citation,
            corrections=list(state.corrections),
            dir_name=str(workdir),
            extra={
                "thermostat_state": final.thermostat_state,
                "frame_times_fs": frame_times.tolist(),
                "final_timestep_fs": state.timestep_fs,
            },
        )
