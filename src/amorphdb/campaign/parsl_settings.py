"""Settings of the Parsl pilot-job launcher (campaign field ``launchers.parsl``).

Kept apart from :mod:`amorphdb.campaign.parsl_launcher` so the campaign spec can hold
them without importing Parsl.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

_WALLTIME = re.compile(r"^(?:(\d+)-)?(\d+):(\d{2}):(\d{2})$")


class ParslProvider(StrEnum):
    """Where Parsl gets its blocks (pilot jobs) from."""

    SLURM = "slurm"
    LOCAL = "local"


def walltime_seconds(walltime: str) -> int:
    """Seconds of a Slurm walltime ``[D-]HH:MM:SS``."""
    match = _WALLTIME.match(walltime.strip())
    if match is None:
        raise ValueError(f"walltime '{walltime}' is not [D-]HH:MM:SS (e.g. 02:00:00)")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


class ParslSettings(BaseModel):
    """Parsl pilot jobs: one block (scheduler job) runs many compositions.

    Workers per node = ``cores_per_node // cores_per_composition``; the number of
    scheduler jobs grows with blocks (at most ``max_blocks``), not with compositions.
    """

    model_config = ConfigDict(extra="forbid")

    provider: ParslProvider = Field(ParslProvider.SLURM, description="slurm or local")
    partition: str | None = Field(None, description="Slurm partition; None: the default one")
    account: str | None = Field(None, description="Slurm account (--account)")
    qos: str | None = Field(None, description="Slurm QOS (--qos)")
    nodes_per_block: int = Field(1, ge=1, description="nodes per pilot job")
    max_blocks: int = Field(1, ge=1, description="pilot jobs at most at once")
    walltime: str = Field("01:00:00", description="walltime of one pilot job [D-]HH:MM:SS")
    worker_init: str = Field("", description="shell lines run before the workers start "
                             "(e.g. module load; the driver's venv is activated first)")
    scheduler_options: str = Field("", description="extra '#SBATCH ...' lines")
    cores_per_composition: int = Field(1, ge=1, description="cores one composition uses")
    cores_per_node: int | None = Field(
        None, ge=1, description="cores of a node; None: from sinfo (slurm) or this machine")
    address: str | None = Field(
        None, description="address the workers reach the driver at; None: Parsl probes "
        "(127.0.0.1 when driver and workers share one machine)")
    heartbeat_s: int = Field(
        10, ge=2, description="a pilot job silent this long (s) is reported lost")

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, value: str) -> str:
        walltime_seconds(value)
        return value.strip()
