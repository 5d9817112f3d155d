"""Campaign files: a YAML document validated by pydantic.

A campaign names its compositions (explicit formulas and/or pseudo-binary joins),
the engine, the protocol and the store. Every field has a default that follows the
MPMorph protocol (:mod:`amorphdb.flows.protocol`). Example::

    name: li-silicates
    compositions: [Li2Si2O5, Li2SiO3]
    pseudo_binaries:
      - {a: Li2O, b: SiO2, x: {start: 0.2, stop: 0.5, step: 0.1}}
    engine: {name: lammps, potential: pedone2006, timestep_fs: 1.0}
    protocol: {target_atoms: 100, anneal_temperatures_K: [1000, 1500, 2000, 2500]}
    store: null          # embedded store in ./amorphdb-data, or a store YAML file
    workers: 2
    max_corrections: 3   # recovery budget of each MD run (null: the engine's default)

Every field, its default and meaning: ``docs/campaign.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from amorphdb.campaign.chemspace import ChemicalSpace, read_compositions_csv
from amorphdb.campaign.parsl_settings import ParslSettings
from amorphdb.engines import EngineSpec
from amorphdb.errors import ConfigError
from amorphdb.flows.protocol import (  # noqa: F401  (ranges re-exported: one place)
    DENSITY_RANGE_G_CM3,
    SEED_RANGE,
    TEMPERATURE_RANGE_K,
    ProtocolSettings,
    RangeError,
)
from amorphdb.recovery.base import MAX_CORRECTIONS
from amorphdb.structure import parse_composition
from amorphdb.structure.enumeration import fraction_range, pseudo_binary


class FractionRange(BaseModel):
    """x from ``start`` to ``stop`` (included) in steps of ``step``."""

    model_config = ConfigDict(extra="forbid")

    start: float
    stop: float
    step: float


class PseudoBinary(BaseModel):
    """Compositions x·A + (1 − x)·B (``x`` a list or a range, end included)."""

    model_config = ConfigDict(extra="forbid")

    a: str = Field(description="end member A, e.g. Li2O")
    b: str = Field(description="end member B, e.g. SiO2")
    x: list[float] | FractionRange = Field(description="fractions of A")

    def formulas(self) -> list[str]:
        """Reduced formulas of the join's members."""
        xs = self.x if isinstance(self.x, list) else fraction_range(
            self.x.start, self.x.stop, self.x.step
        )
        return pseudo_binary(self.a, self.b, xs)


class FireWorksSettings(BaseModel):
    """FireWorks launcher: the LaunchPad file (``my_launchpad.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    launchpad_file: str | None = Field(
        None, description="LaunchPad YAML; None: $FW_CONFIG_FILE's LAUNCHPAD_LOC or "
        "./my_launchpad.yaml or ~/.fireworks/my_launchpad.yaml"
    )


class JobflowRemoteSettings(BaseModel):
    """jobflow-remote launcher: project and worker per stage."""

    model_config = ConfigDict(extra="forbid")

    project: str | None = Field(None, description="project name; None: the default project")
    worker: str | None = Field(None, description="default worker; None: the project's first")
    workers: dict[str, str] = Field(default_factory=dict, description="stage -> worker")


class LauncherSettings(BaseModel):
    """Settings of the distributed launchers."""

    model_config = ConfigDict(extra="forbid")

    fireworks: FireWorksSettings = Field(default_factory=FireWorksSettings)
    jobflow_remote: JobflowRemoteSettings = Field(default_factory=JobflowRemoteSettings)
    parsl: ParslSettings = Field(default_factory=ParslSettings)


class CampaignSpec(BaseModel):
    """A melt–quench campaign.

    Parameters
    ----------
    name
        Campaign name (part of every document key).
    compositions
        Explicit formulas.
    pseudo_binaries
        Joins x·A + (1 − x)·B to enumerate.
    engine
        Engine, potential and time step.
    protocol
        Protocol settings.
    store
        Store YAML file (relative to the campaign file), or None for the embedded
        store (``./amorphdb-data``, or ``$AMORPHDB_STORE``).
    workers
        Compositions run in parallel by the local runner.
    workdir
        Folder for the MD runs' files (relative to the campaign file's folder).
    compositions_csv
        CSV file with a ``formula`` column (relative to the campaign file's folder).
    enumerate
        Chemical spaces to enumerate (:class:`~amorphdb.campaign.chemspace.ChemicalSpace`).
    max_attempts
        Attempts per composition before ``rerun`` leaves it failed for good.
    max_corrections
        Corrections each MD run may make before it fails (the engine-level recovery
        budget, :class:`~amorphdb.recovery.base.RecoverySettings`); None: the
        engine's default (3). Folded into ``engine.settings["recovery"]``, so it is
        recorded with every attempt and is part of the protocol hash; setting
        ``engine.settings.recovery.max_corrections`` to another value is an error.
        An MD run that fails again once the budget is spent fails its composition
        with the error (``RecoveryExhaustedError``); ``rerun`` then halves the time
        step (:mod:`amorphdb.campaign.escalation`).
    heartbeat_timeout_s
        A running composition whose heartbeat is older than this (s) is shown as lost.
    cost_per_atom_step_core_s
        Cost used by the dry run's core-hour estimate (None: the engine's default,
        :mod:`amorphdb.campaign.cost`).
    resources
        Per-stage resources for the FireWorks / jobflow-remote launchers
        (see :mod:`amorphdb.campaign.resources`).
    launchers
        Launcher settings (LaunchPad file, jobflow-remote project and workers).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    compositions: list[str] = Field(default_factory=list)
    pseudo_binaries: list[PseudoBinary] = Field(default_factory=list)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    protocol: ProtocolSettings = Field(default_factory=ProtocolSettings)
    store: str | None = None
    workers: int = Field(1, ge=1, le=256)
    workdir: str = "amorphdb-runs"
    compositions_csv: str | None = None
    enumerate: list[ChemicalSpace] = Field(default_factory=list)
    max_attempts: int = Field(3, ge=1, le=100)
    max_corrections: int | None = Field(None, ge=0, le=MAX_CORRECTIONS)
    heartbeat_timeout_s: float = Field(600.0, gt=0)
    cost_per_atom_step_core_s: float | None = Field(None, gt=0)
    resources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    launchers: LauncherSettings = Field(default_factory=lambda: LauncherSettings())
    source: str | None = Field(None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _finite(cls, data: Any) -> Any:
        """Refuse NaN and infinities anywhere (YAML ``.nan``/``.inf`` or "nan"/"inf" text)."""
        if isinstance(data, Mapping):
            where = non_finite(data, skip=("name", "source"))
            if where is not None:
                path, value = where
                raise ValueError(f"{path}: {value} is not a finite number; give a finite value")
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        check_name(value)
        return value

    @field_validator("compositions")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        for formula in value:
            parse_composition(formula)
        return value

    @model_validator(mode="after")
    def _fold_recovery_budget(self) -> CampaignSpec:
        """Put ``max_corrections`` into ``engine.settings["recovery"]`` (other keys kept)."""
        self.engine = with_recovery_budget(self.engine, self.max_corrections, strict=True)
        return self

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> CampaignSpec:
        """A copy; an ``engine`` in ``update`` gets this campaign's recovery budget.

        ``rerun`` copies the campaign with the engine of the last attempt (escalated);
        the budget of the campaign file wins over the one recorded with that attempt,
        so raising ``max_corrections`` in the file takes effect on the rerun.
        """
        copy = super().model_copy(update=update, deep=deep)
        if update and "engine" in update and copy.max_corrections is not None:
            engine = update["engine"]
            if not isinstance(engine, EngineSpec):
                engine = EngineSpec.model_validate(engine)
            copy.engine = with_recovery_budget(engine, copy.max_corrections, strict=False)
        return copy

    def formulas(self) -> list[str]:
        """Every composition, reduced, without duplicates, in file order."""
        seen: dict[str, None] = {}
        for formula in self.compositions:
            seen.setdefault(parse_composition(formula).reduced_formula, None)
        if self.compositions_csv:
            for formula in read_compositions_csv(self.resolve(self.compositions_csv)):
                seen.setdefault(parse_composition(formula).reduced_formula, None)
        for join in self.pseudo_binaries:
            for formula in join.formulas():
                seen.setdefault(formula, None)
        for space in self.enumerate:
            for formula in space.formulas():
                seen.setdefault(formula, None)
        return list(seen)

    def resolve(self, path: str | Path) -> Path:
        """A path of the campaign, resolved against the campaign file's folder."""
        path = Path(path).expanduser()
        return path if path.is_absolute() else self.base_dir() / path

    def base_dir(self) -> Path:
        """Folder that relative paths of the campaign are relative to."""
        return Path(self.source).parent if self.source else Path.cwd()

    def store_path(self) -> Path | None:
        """The store file, resolved against the campaign folder (None: embedded)."""
        if self.store is None:
            return None
        path = Path(self.store)
        return path if path.is_absolute() else self.base_dir() / path

    def workdir_path(self) -> Path:
        """Folder for the MD runs."""
        path = Path(self.workdir)
        return path if path.is_absolute() else self.base_dir() / path


_NON_FINITE_TEXT = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity",
                    "-infinity"}
#: characters a campaign name may not contain (it names folders and record keys)
_NAME_FORBIDDEN = re.compile(r"[/\\|:*?\"<>\x00-\x1f\x7f]")


def check_name(name: str) -> None:
    """Refuse campaign names that are not plain names (they become folder names and keys).

    Raises
    ------
    ValueError
        A path separator, ``..``, ``|``, a control character, leading/trailing
        spaces or a leading dot or dash.
    """
    bad = _NAME_FORBIDDEN.search(name)
    problem = None
    if bad:
        char = bad.group()
        problem = f"contains {char!r}" if char.isprintable() else "contains a control character"
    elif ".." in name:
        problem = "contains '..'"
    elif name != name.strip():
        problem = "starts or ends with a space"
    elif name.startswith((".", "-")):
        problem = f"starts with {name[0]!r}"
    elif len(name) > 100:
        problem = "is longer than 100 characters"
    if problem:
        raise ValueError(f"{name!r} {problem}; use letters, digits, '-', '_' and '.' "
                         "(e.g. li-silicates)")


def non_finite(data: Any, path: str = "", skip: tuple[str, ...] = ()) -> tuple[str, Any] | None:
    """(dotted path, value) of the first NaN or infinity in nested data, or None."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key in skip:
                continue
            found = non_finite(value, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(data, list | tuple):
        for i, value in enumerate(data):
            found = non_finite(value, f"{path}.{i}")
            if found is not None:
                return found
    elif _is_non_finite(data):
        return path, data
    return None


def _is_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, str) and value.strip().lower() in _NON_FINITE_TEXT


def with_recovery_budget(
    engine: EngineSpec, max_corrections: int | None, strict: bool = True
) -> EngineSpec:
    """``engine`` with ``settings["recovery"]["max_corrections"]`` set (a copy).

    Parameters
    ----------
    engine
        The engine spec (not modified).
    max_corrections
        The campaign's recovery budget; None returns ``engine`` unchanged.
    strict
        Raise when the engine already sets another budget (a campaign file naming
        both); otherwise the campaign's budget replaces it.

    Raises
    ------
    ValueError
        ``settings["recovery"]`` is not a mapping, or (``strict``) it sets another
        ``max_corrections``.
    """
    if max_corrections is None:
        return engine
    recovery = engine.settings.get("recovery") or {}
    if not isinstance(recovery, Mapping):
        raise ValueError(
            f"engine.settings.recovery must be a mapping (got {type(recovery).__name__})"
        )
    current = recovery.get("max_corrections")
    if strict and current is not None and current != max_corrections:
        raise ValueError(
            f"max_corrections: {max_corrections} conflicts with "
            f"engine.settings.recovery.max_corrections: {current}; set the recovery "
            "budget in one place (the campaign field max_corrections)"
        )
    settings = {**engine.settings, "recovery": {**recovery, "max_corrections": max_corrections}}
    return engine.model_copy(update={"settings": settings})


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    message = err["msg"].removeprefix("Value error, ")
    if not err["loc"]:  # a check of the whole campaign: its message names the fields
        return message
    where = ".".join(str(p) for p in err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, RangeError):  # names its fields: give them their full path
        return cause.prefixed(f"{where}.")
    return f"{where}: {message}"


def load_campaign(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign YAML file.

    Raises
    ------
    ConfigError
        Unreadable file, YAML syntax error, or an invalid field (one line naming
        the field and the problem). Composition errors keep their own message.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read campaign file {path}: {exc.strerror}") from exc
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"campaign file {path} is not valid YAML: {exc}".splitlines()[0]) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"campaign file {path} must be a mapping with at least 'name'")
    return campaign_from_dict(data, source=str(path.resolve()))


def campaign_from_dict(data: dict[str, Any], source: str | None = None) -> CampaignSpec:
    """Validate a campaign given as a dict (see :func:`load_campaign`)."""
    try:
        spec = CampaignSpec.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise ConfigError(f"invalid campaign: {_first_error(exc)}") from exc
    if not spec.formulas():
        raise ConfigError(
            "campaign has no compositions; add 'compositions', 'compositions_csv', "
            "'pseudo_binaries' or 'enumerate'"
        )
    return spec
