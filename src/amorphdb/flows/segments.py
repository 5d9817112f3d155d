"""Segmented production runs: a long MD stage as a chain of jobs that survive interruption.

:class:`SegmentedMDMaker` splits a stage longer than ``max_steps_per_job`` (or
longer than a walltime allows) into segments, one jobflow job each. Segment
``k + 1`` starts from segment ``k``'s last frame **with its velocities** and, for
engines that support it (the ``mlip`` engine), its thermostat state (Nosé–Hoover
chain variables, Langevin random-generator state). A final job stitches one
trajectory with continuous time: each later segment's first frame repeats the
previous segment's last one and is dropped, so an unsegmented run and a
segmented one have the same number of frames on the same time grid.

Interruption: every segment runs in a *stable* directory,
``checkpoint_root/<hash of the segment's inputs>``, whatever directory the
workflow manager gives the job. Engines checkpoint every stored frame there
(see :mod:`amorphdb.recovery.base`); if the job is killed (SIGKILL, walltime,
node failure) and rerun, the engine finds the checkpoint and continues from the
last stored frame instead of step 0, and the stitched result has no gap and no
duplicate. ``checkpoint_root`` defaults to ``$AMORPHDB_CHECKPOINT_DIR`` or
``./amorphdb-checkpoints``; on a cluster point it at a shared file system.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import Flow, Maker, job
from pydantic import BaseModel, ConfigDict
from pymatgen.core import Structure

from amorphdb.analysis import Trajectory
from amorphdb.engines import EngineSpec, MDRunDocument, MDSettings, get_engine
from amorphdb.engines.base import (
    Correction,
    MDRunOutput,
    ThermoSeries,
    make_run_document,
)
from amorphdb.errors import ConfigError
from amorphdb.flows.md import MDStageFields
from amorphdb.store.trajectory import trajectory_from_payload

CHECKPOINT_ENV = "AMORPHDB_CHECKPOINT_DIR"


class SegmentOutput(BaseModel):
    """What one segment job hands to the next one and to the stitching job."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: int
    start_time_fs: float
    document: MDRunDocument
    thermostat_state: dict[str, Any] | None = None


def split_steps(n_steps: int, max_steps: int, traj_every: int) -> list[int]:
    """Segment lengths (steps): as equal as possible, each ≤ ``max_steps`` and a
    multiple of ``traj_every`` so stored frames stay on one time grid.

    Raises
    ------
    ConfigError
        If the stage cannot be cut on the frame grid.
    """
    if max_steps < traj_every:
        raise ConfigError(
            f"max_steps_per_job={max_steps} is shorter than traj_every={traj_every}; "
            "raise it or store frames more often"
        )
    if n_steps % traj_every:
        raise ConfigError(
            f"n_steps={n_steps} is not a multiple of traj_every={traj_every}; "
            "segments must end on a stored frame"
        )
    n_blocks = n_steps // traj_every
    per_segment = max_steps // traj_every
    n_segments = -(-n_blocks // per_segment)
    base, extra = divmod(n_blocks, n_segments)
    return [(base + (1 if k < extra else 0)) * traj_every for k in range(n_segments)]


def segment_settings(md: MDSettings, lengths: list[int], index: int) -> MDSettings:
    """The :class:`MDSettings` of segment ``index``: its steps and slice of the T ramp."""
    start = sum(lengths[:index])
    stop = start + lengths[index]
    t0 = md.temperature_K
    t1 = md.end_temperature_K or md.temperature_K
    ramp = md.end_temperature_K is not None

    def temperature(step: int) -> float:
        return t0 + (t1 - t0) * step / md.n_steps

    return md.model_copy(
        update={
            "n_steps": lengths[index],
            "temperature_K": temperature(start) if ramp else t0,
            "end_temperature_K": temperature(stop) if ramp else None,
            "seed": md.seed + index,
            "initialize_velocities": md.initialize_velocities if index == 0 else False,
        }
    )


def segment_directory(
    root: Path | str | None,
    engine: EngineSpec,
    md: MDSettings,
    structure: Structure,
    velocities: Any,
    thermostat_state: dict[str, Any] | None,
) -> Path:
    """Stable directory of a segment: the same inputs always map to the same folder."""
    base = Path(root or os.environ.get(CHECKPOINT_ENV) or "amorphdb-checkpoints")
    payload = json.dumps(
        {
            "engine": engine.model_dump(mode="json"),
            "md": md.model_dump(mode="json"),
            "structure": structure.as_dict(),
            "velocities": None if velocities is None else np.asarray(velocities).tolist(),
            "thermostat_state": thermostat_state,
        },
        sort_keys=True,
        default=str,
    )
    return base.absolute() / hashlib.sha256(payload.encode()).hexdigest()[:20]


def run_segment(
    engine: EngineSpec,
    md: MDSettings,
    index: int,
    start_time_fs: float,
    structure: Structure | dict,
    velocities_A_per_fs: Any = None,
    thermostat_state: dict[str, Any] | None = None,
    checkpoint_root: str | None = None,
) -> SegmentOutput:
    """Run (or continue) one segment in its stable directory (no jobflow needed)."""
    structure = structure if isinstance(structure, Structure) else Structure.from_dict(structure)
    md_engine = get_engine(engine)
    takes_state = getattr(md_engine, "supports_thermostat_state", False)
    state = thermostat_state if takes_state else None
    workdir = segment_directory(checkpoint_root, engine, md, structure, velocities_A_per_fs, state)
    velocities = None if velocities_A_per_fs is None else np.asarray(velocities_A_per_fs)
    if takes_state:
        output = md_engine.run(structure, md, workdir, velocities, thermostat_state=state)
    else:
        output = md_engine.run(structure, md, workdir, velocities)
    for correction in output.corrections:
        correction.details.setdefault("segment", index)
    return SegmentOutput(
        index=index,
        start_time_fs=start_time_fs,
        document=make_run_document(engine.name, md, output),
        thermostat_state=output.extra.get("thermostat_state"),
    )


def _as_segment(segment: SegmentOutput | dict) -> SegmentOutput:
    if isinstance(segment, SegmentOutput):
        return segment
    return SegmentOutput.model_validate(segment)


def _as_trajectory(trajectory: Any) -> Trajectory:
    # decodes both the analysis encoding and the store's compact codec
    return trajectory_from_payload(trajectory)


def stitch_segments(
    engine: EngineSpec, md: MDSettings, segments: list[SegmentOutput | dict]
) -> MDRunDocument:
    """One run document for the whole stage from its segments, in order.

    Each later segment's first frame and first thermo sample (time 0 of the
    segment) repeat the previous segment's last ones and are dropped; segment
    times are shifted by the segment's start time, so time is continuous.
    """
    parts = sorted((_as_segment(s) for s in segments), key=lambda s: s.index)
    positions, lattices, thermo = [], [], {k: [] for k in ThermoSeries.model_fields}
    corrections: list[Correction] = []
    species = None
    time_step = None
    for k, seg in enumerate(parts):
        doc = seg.document
        traj = _as_trajectory(doc.trajectory)
        species = traj.species
        time_step = traj.time_step
        skip = 0 if k == 0 else 1
        positions.append(traj.positions[skip:])
        lattices.append(traj.lattices[skip:])
        first = 0
        series = doc.thermo
        if k > 0 and series.time_fs and abs(series.time_fs[0]) < 1e-9:
            first = 1
        for name in thermo:
            values = list(getattr(series, name))[first:]
            if name == "time_fs":
                values = [t + seg.start_time_fs for t in values]
            thermo[name].extend(values)
        corrections.extend(doc.corrections)
    last = parts[-1].document
    trajectory = Trajectory(
        species,
        np.concatenate(positions),
        np.concatenate(lattices),
        time_step,
        velocities=None
        if last.final_velocities_A_per_fs is None
        else np.asarray(last.final_velocities_A_per_fs),
        metadata={"segments": len(parts)},
    )
    output = MDRunOutput(
        final_structure=last.structure
        if isinstance(last.structure, Structure)
        else Structure.from_dict(last.structure),
        thermo=ThermoSeries(**thermo),
        trajectory=trajectory,
        final_velocities_A_per_fs=None
        if last.final_velocities_A_per_fs is None
        else np.asarray(last.final_velocities_A_per_fs),
        engine_version=last.engine_version,
        potential=last.potential,
        potential_citation=last.potential_citation,
        corrections=corrections,
        dir_name=last.dir_name,
    )
    return make_run_document(engine.name, md, output)


@job(data="trajectory")
def segment_job(
    engine: EngineSpec,
    md: MDSettings,
    index: int,
    start_time_fs: float,
    structure: Any,
    velocities_A_per_fs: Any = None,
    thermostat_state: dict[str, Any] | None = None,
    checkpoint_root: str | None = None,
) -> SegmentOutput:
    """jobflow job: one segment (see :func:`run_segment`)."""
    return run_segment(
        engine, md, index, start_time_fs, structure, velocities_A_per_fs, thermostat_state,
        checkpoint_root,
    )


@job(data="trajectory")
def stitch_job(engine: EngineSpec, md: MDSettings, segments: list[Any]) -> MDRunDocument:
    """jobflow job: the stitched stage document (see :func:`stitch_segments`)."""
    return stitch_segments(engine, md, segments)


@dataclass
class SegmentedMDMaker(MDStageFields, Maker):
    """An MD stage run as a chain of segment jobs plus a stitching job.

    The whole stage is the :class:`~amorphdb.flows.md.MDStageFields` (a ramp spans the
    whole stage; ``n_steps`` a multiple of ``traj_every``); ``name`` names the flow.

    Parameters
    ----------
    max_steps_per_job
        Longest segment (steps).
    walltime_s, steps_per_second
        Optional: cap segments to ``0.8 × walltime_s × steps_per_second`` steps so
        a segment ends well inside the queue's walltime.
    checkpoint_root
        Where segments keep their checkpoints (see module docs).
    """

    name: str = "segmented md"
    max_steps_per_job: int = 5000
    walltime_s: float | None = None
    steps_per_second: float | None = None
    checkpoint_root: str | None = None

    def segment_lengths(self) -> list[int]:
        """Steps of each segment."""
        limit = self.max_steps_per_job
        if self.walltime_s is not None and self.steps_per_second is not None:
            limit = min(limit, int(0.8 * self.walltime_s * self.steps_per_second))
        return split_steps(self.n_steps, limit, self.traj_every)

    def make(self, structure: Structure | Any, velocities_A_per_fs: Any = None) -> Flow:
        """Chain of segment jobs and a stitching job; the flow output is the stitched document."""
        md = self.md_settings()
        lengths = self.segment_lengths()
        jobs = []
        outputs = []
        current_structure, current_velocities, current_state = (
            structure,
            velocities_A_per_fs,
            None,
        )
        for index in range(len(lengths)):
            seg_md = segment_settings(md, lengths, index)
            start_time = sum(lengths[:index]) * md.timestep_fs
            seg = segment_job(
                self.engine,
                seg_md,
                index,
                start_time,
                current_structure,
                current_velocities,
                current_state,
                self.checkpoint_root,
            )
            seg.name = f"{self.name} segment {index + 1}/{len(lengths)}"
            jobs.append(seg)
            outputs.append(seg.output)
            current_structure = seg.output.document.structure
            current_velocities = seg.output.document.final_velocities_A_per_fs
            current_state = seg.output.thermostat_state
        stitch = stitch_job(self.engine, md, outputs)
        stitch.name = f"{self.name} stitch"
        jobs.append(stitch)
        return Flow(jobs, output=stitch.output, name=self.name)
