"""The whole melt–quench protocol for one composition as a jobflow Flow.

Glass path (``cooling.method = "path"``, the default): pack at the estimated glass
density → melt production (NVT, at that density; the recorded melt is a branch from its
end: NPT at the melt temperature, then a production at P ≈ 0) → one NPT cooling at
``cooling.rate_K_per_ps`` and zero pressure through every anneal temperature down to
the glass temperature (:func:`~amorphdb.flows.schedules.glass_path_stages`) → from
the end of each segment: volume equilibration → production → ``record_temperature``;
at the glass temperature an NPT hold gives the glass density (``stage = "glass"``).

MPMorph direct anneal (``"none"``, also ``"linear"``/``"stepwise"``): pack → volume
equilibration at the melt temperature → melt production → for each anneal temperature
(its own branch from the last melt frame, with velocities): optional cooling stages →
volume equilibration → production → ``record_temperature``.

Across the anneal temperatures: ``record_arrhenius``.
The melt production is recorded too (``stage = "melt"``) but does not enter the
Arrhenius fit. The MD stages are nested makers (``melt_maker``, ``cooling_maker``,
``volume_maker``, ``anneal_maker``) completed from the protocol, so one can be swapped.
The engine is checked against the composition when the flow is built, so an uncovered
composition fails before any job runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from jobflow import Flow, Job, Maker, OutputReference, job
from jobflow.core.maker import recursive_call
from pymatgen.core import Structure

from amorphdb.engines import EngineName, EngineSpec, Ensemble, get_engine
from amorphdb.errors import ConfigError
from amorphdb.flows.md import MDMaker, stage_fields
from amorphdb.flows.protocol import CoolingMethod, ProtocolSettings
from amorphdb.flows.record import arrhenius_and_output, record_temperature
from amorphdb.flows.resume import META_KEY, ResumePoint, anneal_key, melt_key, stage_tag
from amorphdb.flows.schedules import cooling_stages, glass_path_stages
from amorphdb.flows.segments import SegmentedMDMaker
from amorphdb.flows.volume import VolumeEquilibrationMaker
from amorphdb.structure import (
    check_packable,
    estimate_density,
    formula_string,
    pack_structure,
    parse_composition,
    scaled_composition,
)


@job(name="pack")
def pack_job(
    formula: str,
    target_atoms: int,
    density_g_cm3: float | None,
    tolerance_A: float,
    seed: int,
) -> Structure:
    """Random-pack a cell of ``formula`` (packmol, periodic images respected)."""
    return pack_structure(
        formula,
        target_atoms=target_atoms,
        density_g_cm3=density_g_cm3,
        tolerance_A=tolerance_A,
        seed=seed,
    )


def check_composition(
    formula: str, engine: EngineSpec, protocol: ProtocolSettings | None = None
) -> str:
    """Parse ``formula``, check the engine covers it and the cell can be packed.

    Raises the one-line errors of :func:`amorphdb.structure.parse_composition`, of
    the engine's ``check_composition`` and of :func:`amorphdb.structure.check_packable`
    (all before any job runs). Returns the canonical (reduced) formula.
    """
    composition = parse_composition(formula)
    counts = {el.symbol: float(n) for el, n in composition.items()}
    get_engine(engine).check_composition(counts)
    if protocol is not None:
        density = protocol.density_g_cm3 or estimate_density(composition)
        cell = scaled_composition(composition, protocol.target_atoms)
        check_packable(cell, density, protocol.packing_tolerance_A)
    return formula_string(composition)


@dataclass
class MeltQuenchMaker(Maker):
    """Maker of the whole protocol for one composition.

    The MD stages are nested makers (atomate2 style): each is a template that the flow
    completes from ``protocol`` and ``engine`` — the one place stage values come from:
    engine, temperature(s), steps, ensemble where the protocol fixes it, ``traj_every``,
    ``thermo_every``, ``seed`` and, for the volume maker, every ``protocol.volume``
    setting. Whatever else a stage maker holds (thermostat, damping, its own ``make``)
    is kept, so one stage can be swapped::

        MeltQuenchMaker(anneal_maker=MyMDMaker(thermostat="langevin"))
        maker.update_kwargs({"thermostat": "langevin"}, class_filter=MDMaker)

    ``class_filter=MDStageFields`` reaches the volume maker too. Any jobflow Maker whose
    ``make(structure, velocities)`` returns an :class:`~amorphdb.engines.MDRunDocument`
    fits a production or cooling stage; it receives the fields above that it has.

    Parameters
    ----------
    name
        Flow name prefix.
    engine
        Engine, potential and time step for every MD stage.
    protocol
        Protocol settings (MPMorph defaults).
    campaign
        Campaign name written into every document.
    melt_maker
        Melt production (default :class:`MDMaker`; run as
        :class:`~amorphdb.flows.segments.SegmentedMDMaker` segments when
        ``protocol.max_steps_per_job`` is shorter than the stage and the maker is a
        plain ``MDMaker`` or a ``SegmentedMDMaker``).
    cooling_maker
        Every cooling ramp (glass path, ``linear``/``stepwise`` stages).
    volume_maker
        Every volume equilibration (default :class:`VolumeEquilibrationMaker`).
    anneal_maker
        Anneal productions and the glass point's NVT run (segmented as the melt).
    """

    name: str = "melt-quench"
    engine: EngineSpec = field(default_factory=EngineSpec)
    protocol: ProtocolSettings = field(default_factory=ProtocolSettings)
    campaign: str = "default"
    melt_maker: Maker | None = None
    cooling_maker: Maker | None = None
    volume_maker: VolumeEquilibrationMaker | None = None
    anneal_maker: Maker | None = None

    def __post_init__(self) -> None:
        # jobflow's from_dict / update_kwargs may hand plain dicts: keep typed settings
        if isinstance(self.protocol, dict):
            self.protocol = ProtocolSettings.model_validate(_plain(self.protocol))
        if isinstance(self.engine, dict):
            self.engine = EngineSpec.model_validate(_plain(self.engine))
        # concrete nested makers, so update_kwargs(..., class_filter=...) reaches them
        for stage, default in _STAGE_DEFAULTS.items():
            if getattr(self, stage) is None:
                setattr(self, stage, default())

    def update_kwargs(
        self,
        update: dict[str, Any],
        name_filter: str | None = None,
        class_filter: type[Maker] | None = None,
        nested: bool = True,
        dict_mod: bool = False,
    ) -> MeltQuenchMaker:
        """jobflow's ``update_kwargs``, applied to this maker and its stage makers.

        Each matching maker takes the keys it has (``{"thermostat": "langevin"}`` reaches
        every MD stage, not this maker); a dict for a settings model (``protocol``,
        ``engine``) is merged into the current settings (``{"protocol": {"target_atoms":
        50}}`` changes one field and keeps the others). A key no matching maker has
        raises :class:`~amorphdb.errors.ConfigError` (jobflow would fail later, in
        ``from_dict``). ``dict_mod=True`` is jobflow's own behaviour.
        """
        if dict_mod:
            return super().update_kwargs(update, name_filter, class_filter, nested, dict_mod)
        used: set[str] = set()

        def apply(maker: Maker) -> Maker:
            names = {f.name for f in fields(maker)}
            values = {}
            for key, value in update.items():
                if key not in names:
                    continue
                current = getattr(maker, key)
                if isinstance(value, dict) and hasattr(current, "model_validate"):
                    value = type(current).model_validate(_merged(current, value))
                values[key] = value
            used.update(values)
            return replace(maker, **values)

        updated = recursive_call(self, apply, name_filter, class_filter, nested)
        unknown = sorted(set(update) - used)
        if unknown:
            raise ConfigError(
                f"no maker matching the filters has {', '.join(unknown)}; check the key "
                "names (fields of MeltQuenchMaker or of its stage makers)"
            )
        return updated

    def _engine(self, stage: str) -> EngineSpec:
        """The engine spec of a stage: VASP picks its INCAR preset by stage
        (``equilibration``, ``melt``, ``anneal``); other engines need no hint."""
        if EngineName(self.engine.name) is not EngineName.VASP:
            return self.engine
        return self.engine.model_copy(update={"settings": {**self.engine.settings, "stage": stage}})

    def _stage(self, maker: Maker, stage: str, **values: Any) -> Maker:
        """``maker`` completed with the protocol's values for the fields it has."""
        p = self.protocol
        values = {
            "engine": self._engine(stage), "traj_every": p.traj_every,
            "thermo_every": p.thermo_every, "seed": p.seed, **values,
        }
        names = {f.name for f in fields(maker)}
        return replace(maker, **{k: v for k, v in values.items() if k in names})

    def _cooling(self, name: str, t0: float, t1: float, n_steps: int, **kw: Any) -> Maker:
        """A cooling ramp ``t0`` → ``t1`` (K) from :attr:`cooling_maker`."""
        return self._stage(
            self.cooling_maker, "anneal", name=name, temperature_K=t0, end_temperature_K=t1,
            n_steps=n_steps, **kw,
        )

    def _production(
        self, name: str, temperature_K: float, n_steps: int, stage: str, structure, velocities
    ) -> tuple[Job | Flow, Any, str]:
        """A production stage: one MD job, or segment jobs + a stitch job when
        ``max_steps_per_job`` is set and shorter than the stage.

        Returns the job or flow, a reference to its :class:`MDRunDocument`, and the
        uuid of the job whose output holds the trajectory.
        """
        limit = self.protocol.max_steps_per_job
        template = self.melt_maker if stage == "melt" else self.anneal_maker
        values = {"name": name, "temperature_K": temperature_K, "n_steps": n_steps}
        if limit is not None and n_steps > limit and type(template) is MDMaker:
            template = SegmentedMDMaker(**stage_fields(template))
        if isinstance(template, SegmentedMDMaker) and limit is not None and n_steps > limit:
            maker = self._stage(template, stage, max_steps_per_job=limit, **values)
            segmented = maker.make(structure, velocities)
            return segmented, segmented.output, segmented.jobs[-1].uuid
        if isinstance(template, SegmentedMDMaker):  # short enough for one job
            template = MDMaker(**stage_fields(template))
        md_job = self._stage(template, stage, **values).make(structure, velocities)
        if isinstance(md_job, Flow):  # e.g. an atomate2 job and its conversion
            return md_job, md_job.output, md_job.jobs[-1].uuid
        return md_job, md_job.output, md_job.uuid

    def _volume(
        self,
        temperature_K: float,
        start_density_g_cm3: float | None = None,
        method: str | None = None,
        n_steps: int | None = None,
    ) -> VolumeEquilibrationMaker:
        v = self.protocol.volume
        return self._stage(
            self.volume_maker,
            "equilibration",
            name=f"volume equilibration {temperature_K:g} K",
            temperature_K=temperature_K,
            n_steps=n_steps or v.n_steps,
            scale_factors=list(v.scale_factors),
            pressure_tolerance_kbar=v.pressure_tolerance_kbar,
            max_iterations=v.max_iterations,
            method=method or self.protocol.volume_method,
            noise_sigmas=v.noise_sigmas,
            on_unconverged=v.on_unconverged,
            start_density_g_cm3=start_density_g_cm3,
        )

    def _anneal_stage(
        self,
        formula: str,
        temperature: float,
        start_density: float | None,
        melt_out,
        melt_uuid: str,
        start_point: Any = None,
        glass: bool = False,
    ) -> tuple[list[Job | Flow], Any, str, Any]:
        """Cooling stages, volume equilibration and production of one anneal branch.

        ``start_point`` (the run document ending a glass-path segment) replaces the
        melt as the branch start, with no cooling stages of its own; ``glass`` makes
        it the glass point (NPT volume run of ``cooling.glass_steps``, stage key
        tagged ``anneal`` so a rerun reuses it like an anneal).

        Returns its jobs, a reference to the production's run document, the uuid of the
        job holding the trajectory, and a reference to the volume result.
        """
        p = self.protocol
        jobs: list[Job | Flow] = []
        origin = melt_out if start_point is None else start_point
        previous_structure = origin.structure
        previous_velocities = origin.final_velocities_A_per_fs
        stages = (
            []
            if start_point is not None or p.cooling.method is CoolingMethod.PATH
            else cooling_stages(
                p.melt_temperature_K, temperature, p.cooling.method, p.cooling.step_K
            )
        )
        for i, (t0, t1) in enumerate(stages):
            cool = self._cooling(
                f"cool {i} {t0:g}->{t1:g} K", t0, t1, p.cooling.n_steps
            ).make(previous_structure, previous_velocities)
            jobs.append(cool)
            previous_structure = cool.output.structure
            previous_velocities = cool.output.final_velocities_A_per_fs
        volume_maker = (
            self._volume(temperature, None, "npt", p.cooling.glass_steps)
            if glass
            else self._volume(temperature, start_density)
        )
        volume = volume_maker.make(previous_structure, previous_velocities)
        production, prod_out, prod_uuid = self._production(
            f"{'glass' if glass else 'anneal'} {temperature:g} K",
            temperature,
            p.cooling.glass_steps if glass else p.anneal_steps,
            "anneal",
            volume.output.structure,
            volume.output.velocities_A_per_fs,
        )
        _tag(production, prod_out.uuid, stage_tag(
            self.campaign, formula, "anneal",
            anneal_key(formula, self.engine, p, temperature), temperature,
            volume.output.uuid, melt_uuid,
        ))
        return [*jobs, volume, production], prod_out, prod_uuid, volume.output

    def _glass_path(self, melt_out, stops_K: list[float]) -> tuple[list[Job], dict[float, Any]]:
        """The cooling jobs of the glass path and the run document ending at each stop.

        One chain of MD jobs (:func:`~amorphdb.flows.schedules.glass_path_stages`): NPT
        ramps at ``cooling.rate_K_per_ps`` and ``cooling.pressure_kbar``; a stop at or
        above the path start begins from the melt (or the NVT ramp to the start).
        """
        c = self.protocol.cooling
        timestep = self.engine.resolved_timestep_fs
        stages = glass_path_stages(
            self.protocol.melt_temperature_K, stops_K, c.start_temperature_K,
            c.rate_K_per_ps, timestep, c.n_steps,
        )
        jobs: list[Job] = []
        previous = melt_out
        for t0, t1, n_steps, npt in stages:
            cool = self._cooling(
                f"cool {t0:g}->{t1:g} K", t0, t1, n_steps,
                ensemble=Ensemble.NPT if npt else Ensemble.NVT, pressure_kbar=c.pressure_kbar,
            ).make(previous.structure, previous.final_velocities_A_per_fs)
            jobs.append(cool)
            previous = cool.output
            if not npt:
                start = previous
        path_start = start if stages and not stages[0].npt else melt_out
        ends = {float(s.end_K): job.output for s, job in zip(stages, jobs, strict=True) if s.npt}
        out = {float(t): ends.get(float(t), path_start) for t in stops_K}
        return jobs, out

    def _liquid(self, melt_out: Any) -> tuple[list[Job | Flow], Any, str, Any]:
        """The glass path's melt record: from the end of the melt (NVT at the packing
        density, where the cooling starts), one NPT run at the melt temperature
        (``volume.n_steps``) and a production of ``melt_steps`` at its mean volume.

        The cooling does not start from this liquid: at 3000 K the Si-O network of a
        silicate stays caged for ps, so a quench keeps the liquid's density, and the
        300 K glass came out 5 % less dense (docs/protocol.md, melt row).
        Returns the jobs, the production's run document, its uuid and the volume result.
        """
        p = self.protocol
        volume = self._volume(p.melt_temperature_K, method="npt").make(
            melt_out.structure, melt_out.final_velocities_A_per_fs
        )
        production, out, uuid = self._production(
            f"melt {p.melt_temperature_K:g} K at P = 0", p.melt_temperature_K, p.melt_steps,
            "melt", volume.output.structure, volume.output.velocities_A_per_fs,
        )
        return [volume, production], out, uuid, volume.output

    def protocol_hash(self) -> str:
        """Hash of the protocol and engine settings (part of every document key).

        A stage maker other than its default template (a swapped class, a thermostat)
        enters the hash too; with the default templates the hash is the one of
        ``protocol`` and ``engine`` alone, as before stage makers existed.
        """
        engine = self.engine.model_dump(mode="json")
        custom = {
            stage: _settings_dict(getattr(self, stage))
            for stage, default in _STAGE_DEFAULTS.items()
            if _settings_dict(getattr(self, stage)) != _settings_dict(default())
        }
        if custom:
            engine = {**engine, "stage_makers": custom}
        return self.protocol.protocol_hash(engine)

    def make(self, formula: str | Structure, resume: ResumePoint | None = None) -> Flow:
        """Build the flow for ``formula`` (checked against the engine first).

        Parameters
        ----------
        formula
            Composition, or a starting :class:`~pymatgen.core.Structure` (atomate2 style:
            used as the packed cell, so ``target_atoms`` and the packing are skipped).
        resume
            Completed stages of an earlier attempt
            (:func:`amorphdb.flows.resume.find_resume_point`): the flow refers to their
            outputs instead of running them again. Run it with
            ``run_locally(..., allow_external_references=True)`` on a store that holds them.
        """
        if self.protocol.replicas > 1:  # independent replicas (seed + i) and their average
            from amorphdb.flows.replicas import replicated_flow

            return replicated_flow(self, formula, resume)
        start_structure = formula if isinstance(formula, Structure) else None
        if start_structure is not None:
            formula = check_composition(start_structure.composition.reduced_formula, self.engine)
        else:
            formula = check_composition(formula, self.engine, self.protocol)
        p = self.protocol
        path = p.cooling.method is CoolingMethod.PATH
        start_density = p.anneal_start_density_g_cm3 or (
            None if path else p.density_g_cm3 or estimate_density(formula)
        )
        phash = self.protocol_hash()
        record_kw = {"campaign": self.campaign, "protocol_hash": phash}
        jobs: list[Job | Flow] = []

        if resume is None:
            if start_structure is None:
                pack = pack_job(
                    formula, p.target_atoms, p.density_g_cm3, p.packing_tolerance_A, p.seed
                )
                pack.name = f"pack {formula}"
                jobs.append(pack)
                cell, cell_uuid = pack.output, pack.uuid
            else:
                cell, cell_uuid = start_structure, None
            if path:  # melt at the packing (glass) density: the glass path starts there
                melt_start, melt_velocities, melt_volume_out = cell, None, None
                volume_uuid = cell_uuid
            else:
                melt_volume = self._volume(p.melt_temperature_K).make(cell)
                jobs.append(melt_volume)
                melt_start = melt_volume.output.structure
                melt_velocities = melt_volume.output.velocities_A_per_fs
                melt_volume_out = melt_volume.output
                volume_uuid = melt_volume_out.uuid
            melt_job, melt_out, melt_uuid = self._production(
                f"melt {p.melt_temperature_K:g} K",
                p.melt_temperature_K,
                p.melt_steps,
                "melt",
                melt_start,
                melt_velocities,
            )
            _tag(melt_job, melt_uuid, stage_tag(
                self.campaign, formula, "melt", melt_key(formula, self.engine, p),
                p.melt_temperature_K, volume_uuid or melt_uuid,  # a given cell: no pack job
            ))
            jobs.append(melt_job)
            refs = {"production": melt_uuid}
            if cell_uuid is not None:
                refs["pack"] = cell_uuid
        else:
            melt_uuid = resume.melt.production_uuid
            melt_out = OutputReference(melt_uuid)
            melt_volume_out = None if path else OutputReference(resume.melt.volume_uuid)
            refs = {"production": melt_uuid, "resumed_from": melt_uuid}
        record_out, record_uuid = melt_out, melt_uuid
        if path:  # the recorded melt: the liquid at its own P ≈ 0 volume (not the compressed one)
            liquid_jobs, record_out, record_uuid, melt_volume_out = self._liquid(melt_out)
            jobs += liquid_jobs
            refs = {**refs, "production": record_uuid, "melt": melt_uuid}
        melt_record = record_temperature(
            record_out,
            melt_volume_out,
            record_uuid,
            stage="melt",
            species=p.diffusing_species,
            job_refs=refs,
            **record_kw,
        )
        jobs.append(melt_record)
        done = {} if resume is None else resume.anneals
        glass_T = p.cooling.glass_temperature_K if path else None
        todo = [t for t in p.anneal_temperatures_K if float(t) not in done]
        if glass_T is not None and float(glass_T) not in done:
            todo.append(glass_T)
        starts: dict[float, Any] = {}
        if path and todo:
            cooling_jobs, starts = self._glass_path(melt_out, todo)
            jobs += cooling_jobs

        records = []
        glass_record = None
        branches = [(t, False) for t in p.anneal_temperatures_K]
        if glass_T is not None:
            branches.append((glass_T, True))
        for temperature, glass in branches:
            reused = done.get(float(temperature))
            if reused is not None:  # completed by an earlier attempt: record it only
                prod_uuid = reused.production_uuid
                prod_out = OutputReference(prod_uuid)
                volume_out = OutputReference(reused.volume_uuid)
                stage_refs = {"resumed_from": prod_uuid}
            else:
                stage_jobs, prod_out, prod_uuid, volume_out = self._anneal_stage(
                    formula, temperature, start_density, melt_out, melt_uuid,
                    start_point=starts.get(float(temperature)), glass=glass,
                )
                jobs += stage_jobs
                stage_refs = {}
            record = record_temperature(
                prod_out,
                volume_out,
                prod_uuid,
                stage="glass" if glass else "anneal",
                species=p.diffusing_species,
                job_refs={**refs, "melt": melt_uuid, "production": prod_uuid, **stage_refs},
                **record_kw,
            )
            jobs.append(record)
            if glass:
                glass_record = record
            else:
                records.append(record)

        fit, output = arrhenius_and_output(
            formula, p.anneal_temperatures_K, melt_record, records, glass_record, **record_kw
        )
        return Flow(jobs + fit, output=output, name=f"{self.name} {formula}")


#: the default template of each stage maker (completed by ``MeltQuenchMaker._stage``)
_STAGE_DEFAULTS = {
    "melt_maker": lambda: MDMaker(name="melt"),
    "cooling_maker": lambda: MDMaker(name="cool"),
    "volume_maker": lambda: VolumeEquilibrationMaker(),
    "anneal_maker": lambda: MDMaker(name="anneal"),
}


def _tag(job_or_flow: Job | Flow, uuid: str, tag: dict[str, Any]) -> None:
    """Put the resume tag on the job whose output is the stage's run document."""
    jobs = job_or_flow.jobs if isinstance(job_or_flow, Flow) else [job_or_flow]
    for candidate in jobs:
        if candidate.uuid == uuid:
            candidate.metadata[META_KEY] = tag
            return
    raise RuntimeError(f"no job {uuid} in {job_or_flow.name}")  # a bug, not user input


def _settings_dict(maker: Maker) -> dict[str, Any]:
    """A stage maker's class and settings, without its name (hash input)."""
    data = maker.as_dict()
    return {k: v for k, v in data.items() if k not in ("name", "@version")}


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """A serialized settings dict without MSONable's ``@module``/``@class`` keys."""
    return {k: v for k, v in data.items() if not k.startswith("@")}


def _merged(current: Any, patch: dict[str, Any]) -> dict[str, Any]:
    """``current`` settings (model or dict) deep-updated with ``patch``, as a plain dict."""
    base = current.model_dump() if hasattr(current, "model_dump") else _plain(dict(current))

    def deep(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out = dict(a)
        for key, value in b.items():
            out[key] = (
                deep(out[key], value)
                if isinstance(value, dict) and isinstance(out.get(key), dict) else value
            )
        return out

    return deep(base, patch)
