"""The resumable state of an optimisation: one JSON file, written atomically.

The file holds a fingerprint of the configuration (parameters, bounds, seed and
whatever the caller adds, e.g. the objective's settings), every finished evaluation
in order, and the batch being evaluated (``pending``), so a rerun evaluates exactly
the points that had not finished and never a finished one again.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amorphdb.errors import ConfigError
from amorphdb.flows.protocol import settings_digest

STATE_VERSION = 1


class StateMismatchError(ConfigError):
    """A state file written by a different configuration."""


@dataclass
class OptimizationState:
    """Finished evaluations and the pending batch of one optimisation."""

    config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, float]] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """Hash of the configuration."""
        return settings_digest(self.config)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "version": STATE_VERSION,
            "fingerprint": self.fingerprint,
            "config": self.config,
            "history": self.history,
            "pending": self.pending,
        }

    def save(self, path: str | Path) -> None:
        """Write atomically (temporary file in the same folder, then ``os.replace``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(self.as_dict(), fh, indent=1, allow_nan=True)
                fh.flush()
                os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a state file is shared data
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def read_state(path: str | Path) -> OptimizationState:
    """Read a state file (ConfigError for a file that is not one)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
        return OptimizationState(
            config=raw["config"], history=list(raw["history"]), pending=list(raw.get("pending", []))
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a potfit state file ({exc.__class__.__name__}); "
            "remove it or point 'state' elsewhere"
        ) from None


def load_or_create(path: str | Path | None, config: dict[str, Any]) -> OptimizationState:
    """The state at ``path`` if it matches ``config``, else a new one.

    Raises
    ------
    StateMismatchError
        When the file exists but was written for another configuration.
    """
    fresh = OptimizationState(config=json.loads(json.dumps(config)))
    if path is None or not Path(path).exists():
        return fresh
    state = read_state(path)
    if state.fingerprint != fresh.fingerprint:
        diff = sorted(
            k for k in set(state.config) | set(fresh.config)
            if state.config.get(k) != fresh.config.get(k)
        )
        raise StateMismatchError(
            f"state file {path} belongs to a different configuration (differs in: "
            f"{', '.join(diff)}); use another state file or restore the settings"
        )
    return state
