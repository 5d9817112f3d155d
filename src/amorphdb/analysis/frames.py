"""What the file readers return: raw arrays, not a :class:`Trajectory`.

:meth:`Trajectory.from_file <amorphdb.analysis.trajectory.Trajectory.from_file>` validates
them into a ``Trajectory``. The readers never import ``trajectory``, so the two modules
do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Frames"]


@dataclass
class Frames:
    """Frames read from a file.

    Attributes
    ----------
    species
        One element symbol per atom.
    positions
        Cartesian positions, Å, ``(n_frames, n_atoms, 3)``.
    lattice
        Cell rows, Å, ``(3, 3)`` or ``(n_frames, 3, 3)``.
    frame_interval_fs
        fs between stored frames.
    metadata
        Provenance (``source``, ``format``, ``time_source``, ...).
    """

    species: list[str] | np.ndarray
    positions: np.ndarray
    lattice: np.ndarray
    frame_interval_fs: float
    metadata: dict[str, Any] = field(default_factory=dict)
