"""Trajectory analysis: diffusion, Arrhenius, structure (depends on nothing else in amorphdb).

>>> from amorphdb.analysis import Trajectory, diffusivity, fit_arrhenius
"""

from __future__ import annotations

from amorphdb.analysis.arrhenius import ArrheniusResult, fit_arrhenius
from amorphdb.analysis.conductivity import nernst_einstein_factor
from amorphdb.analysis.diffusion import DiffusionResult, UncertaintyMethod, diffusivity
from amorphdb.analysis.errors import AnalysisError, AnalysisWarning
from amorphdb.analysis.structure import (
    RDFResult,
    StructureFactor,
    boron_n4_fraction,
    coordination_numbers,
    density,
    rdf,
    structure_factor,
)
from amorphdb.analysis.trajectory import Trajectory

__all__ = [
    "AnalysisError",
    "AnalysisWarning",
    "ArrheniusResult",
    "DiffusionResult",
    "RDFResult",
    "StructureFactor",
    "Trajectory",
    "UncertaintyMethod",
    "boron_n4_fraction",
    "coordination_numbers",
    "density",
    "diffusivity",
    "fit_arrhenius",
    "nernst_einstein_factor",
    "rdf",
    "structure_factor",
]
