"""What to change before trying a failed composition again (a pure function).

:func:`classify_error` maps a recorded error message (and the stage it stopped at) to
a :class:`FailureKind`; :func:`escalate` returns the engine and protocol of the next
attempt. The policy, per kind (``n`` = number of earlier failures of that kind):

=================  ==========================================================
packing            new packing seed; starting density × 0.9ⁿ (estimated density
                   when none was set) — packmol fails when the cell is too full
eos                volume scan widened: scale factors span 0.1 wider per
                   failure (at most ±0.5), two more checking runs
unstable_md        time step halved per failure (lost atoms, NaN, energy
                   drift, runaway, exploding forces, an MD run whose
                   recovery budget ran out), floor 0.125 fs; the recovery
                   budget (``max_corrections``) is kept
electronic         the engine's electronic ladder (VASP: ALGO Normal, NELM 120 →
                   ALGO All, NELM 200 → ALGO Damped, TIME 0.4, NELM 300), read
                   from its settings model
                   (:attr:`~amorphdb.engines.base.EngineSettings.electronic_ladder`)
lost               same settings (a killed job, wall time, a node failure, a dead
                   heartbeat, an interrupt: SIGINT/SIGTERM)
disk_full          same settings (no space left on the device; free space first)
unknown            same settings, new seed
=================  ==========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from amorphdb.engines import EngineSpec
from amorphdb.flows.protocol import ProtocolSettings
from amorphdb.flows.schedules import volume_scale_factors

#: smallest time step escalation goes to (fs)
MIN_TIMESTEP_FS = 0.125
#: seed offset between attempts (packmol, velocities, thermostats)
SEED_STEP = 1009


class FailureKind(StrEnum):
    """Why an attempt failed, as far as the recorded error tells."""

    PACKING = "packing"
    EOS = "eos"
    UNSTABLE_MD = "unstable_md"
    ELECTRONIC = "electronic"
    LOST = "lost"
    DISK_FULL = "disk_full"
    UNKNOWN = "unknown"


_PATTERNS: tuple[tuple[FailureKind, re.Pattern[str]], ...] = (
    # first: a full disk makes every other step fail with some other message too
    (
        FailureKind.DISK_FULL,
        re.compile(r"disk full|no space left on device|ENOSPC|database or disk is full", re.I),
    ),
    (FailureKind.PACKING, re.compile(r"packmol|cannot pack|PackingError|packing fraction", re.I)),
    (
        FailureKind.ELECTRONIC,
        re.compile(r"electronic|NELM|SCF|ZBRENT|EDDDAV|EDDRMM|ZHEGV|unconverged_electronic", re.I),
    ),
    (
        FailureKind.UNSTABLE_MD,
        re.compile(
            r"lost atoms|out of range atoms|\bnan\b|non-numeric|non-finite|energy drift|"
            r"runaway|unstable|bond atoms?\b.*\bmissing|neighbor list overflow|"
            r"too many neighbor bins|max force .* above|temperature \S+ K above|"
            r"atoms too close|blew up|exploded|"
            # an MD run that spent its recovery budget (amorphdb.recovery.base)
            r"MD failed after (\d+) correction\(s\) \(budget \1\)|recovery budget exhausted",
            re.I,
        ),
    ),
    (
        FailureKind.EOS,
        re.compile(r"\beos\b|birch|murnaghan|volume.*(converge|search)|pressure.*converge", re.I),
    ),
    (
        FailureKind.LOST,
        re.compile(
            r"worker .*(died|killed|lost)|heartbeat|SIGKILL|walltime|lost run|time limit|"
            r"cancelled|node fail|interrupted by",
            re.I,
        ),
    ),
)


def timestep_of(engine: EngineSpec) -> float:
    """The time step (fs) an engine spec runs at: its own, else the engine's default.

    Read from the engine's settings model
    (:attr:`amorphdb.engines.base.EngineSettings.default_timestep_fs`), the one place
    each default is defined, so an escalation halves what actually ran.
    """
    return engine.resolved_timestep_fs


def classify_error(error: str | None, stage: str | None = None) -> FailureKind:
    """The failure kind of a recorded error (first matching pattern; see module doc)."""
    text = error or ""
    for kind, pattern in _PATTERNS:
        if pattern.search(text):
            return kind
    if stage and stage.startswith("pack") and not text:
        return FailureKind.PACKING
    return FailureKind.UNKNOWN


@dataclass(frozen=True)
class Escalation:
    """Settings of the next attempt and what changed (human readable)."""

    kind: FailureKind
    engine: EngineSpec
    protocol: ProtocolSettings
    changes: list[str] = field(default_factory=list)


def escalate(
    error: str | None,
    engine: EngineSpec,
    protocol: ProtocolSettings,
    previous_kinds: list[FailureKind] | tuple[FailureKind, ...] = (),
    formula: str | None = None,
    stage: str | None = None,
) -> Escalation:
    """Engine and protocol for the next attempt after a failure.

    Parameters
    ----------
    error, stage
        The last attempt's recorded error and stage.
    engine, protocol
        The settings the last attempt ran with.
    previous_kinds
        Failure kinds of earlier attempts (they set how far the ladder has gone).
    formula
        The composition (to estimate the density when the protocol leaves it open).

    Returns
    -------
    Escalation
        New settings; the inputs are not modified.
    """
    kind = classify_error(error, stage)
    n = 1 + sum(1 for k in previous_kinds if k == kind)  # rung of this failure
    changes: list[str] = []
    engine_new = engine.model_copy(deep=True)
    protocol_new = protocol.model_copy(deep=True)
    seed = protocol.seed + SEED_STEP
    if kind == FailureKind.PACKING:
        density = protocol.density_g_cm3
        if density is None and formula is not None:
            from amorphdb.structure import estimate_density, parse_composition

            density = float(estimate_density(parse_composition(formula)))
        protocol_new = protocol_new.model_copy(update={"seed": seed})
        changes.append(f"seed {protocol.seed} → {seed}")
        if density is not None:
            lower = round(density * 0.9, 4)
            protocol_new = protocol_new.model_copy(update={"density_g_cm3": lower})
            changes.append(f"density {density:.3f} → {lower:.3f} g/cm³")
    elif kind == FailureKind.EOS:
        factors = protocol.volume.scale_factors
        half_width = max(abs(max(factors) - 1.0), abs(1.0 - min(factors)))
        width = round(min(half_width + 0.1, 0.5), 6)  # spread must stay < 1
        volume = protocol.volume.model_copy(
            update={
                "scale_factors": volume_scale_factors(max(len(factors), 3), width),
                "max_iterations": protocol.volume.max_iterations + 2,
            }
        )
        protocol_new = protocol_new.model_copy(update={"volume": volume})
        changes.append(f"volume scan ±{half_width:.2f} → ±{width:.2f}, "
                       f"max_iterations {protocol.volume.max_iterations} → "
                       f"{volume.max_iterations}")
    elif kind == FailureKind.UNSTABLE_MD:
        old = timestep_of(engine)
        new = max(MIN_TIMESTEP_FS, old / 2)
        engine_new = engine_new.model_copy(update={"timestep_fs": new})
        changes.append(f"timestep {old:g} → {new:g} fs")
    elif kind == FailureKind.ELECTRONIC and (ladder := engine.settings_model.electronic_ladder):
        rung = ladder[min(n, len(ladder)) - 1]
        incar = {**engine.engine_settings.incar, **rung}  # type: ignore[attr-defined]
        engine_new = engine_new.model_copy(update={"settings": {**engine.settings, "incar": incar}})
        changes.append("INCAR " + ", ".join(f"{k}={v}" for k, v in rung.items()))
    elif kind == FailureKind.LOST:
        changes.append("same settings (the run was lost, not wrong)")
    elif kind == FailureKind.DISK_FULL:
        changes.append("same settings (the disk was full, not the run wrong)")
    else:
        protocol_new = protocol_new.model_copy(update={"seed": seed})
        changes.append(f"same settings, seed {protocol.seed} → {seed}")
    return Escalation(kind=kind, engine=engine_new, protocol=protocol_new, changes=changes)
