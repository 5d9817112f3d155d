"""Trajectory analysis: diffusion, Arrhenius, structure (depends on nothing else in amorphdb).

>>> from amorphdb.analysis import Trajectory, diffusivity, fit_arrhenius
"""

from __future__ import annotations

from amorphdb.analysis.conductivity import nernst_einstein_factor
from amorphdb.analysis.diffusion import DiffusionResult, UncertaintyMethod, diffusivity
from amorphdb.analysis.errors import AnalysisError, AnalysisWarning
from amorphdb.analysis.trajectory import Trajectory

__all__ = [
    "AnalysisError",
    "AnalysisWarning",
    "DiffusionResult",
    "Trajectory",
    "UncertaintyMethod",
    "diffusivity",
    "nernst_einstein_factor",
]
