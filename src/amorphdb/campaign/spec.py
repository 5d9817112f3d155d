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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from amorphdb.engines import EngineSpec
from amorphdb.errors import ConfigError
from amorphdb.flows.protocol import ProtocolSettings
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
    source: str | None = Field(None, exclude=True)

    @field_validator("compositions")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        for formula in value:
            parse_composition(formula)
        return value

    def formulas(self) -> list[str]:
        """Every composition, reduced, without duplicates, in file order."""
        seen: dict[str, None] = {}
        for formula in self.compositions:
            seen.setdefault(parse_composition(formula).reduced_formula, None)
        for join in self.pseudo_binaries:
            for formula in join.formulas():
                seen.setdefault(formula, None)
        return list(seen)

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


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "campaign"
    message = err["msg"].removeprefix("Value error, ")
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
        raise ConfigError("campaign has no compositions; add 'compositions' or 'pseudo_binaries'")
    return spec
