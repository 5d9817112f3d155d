"""Active-learning optimisation of classical potential parameters against experiment.

:func:`optimize` is a resumable batch Bayesian optimiser (BoTorch GP, qLogNEI /
qLogNEHVI); :mod:`amorphdb.potfit.objective` turns melt–quench runs of a library
potential with freed parameters into density and N4 losses against the shipped
experimental targets (:mod:`amorphdb.potfit.targets`).
"""

from amorphdb.potfit.optimizer import OptimizationResult, optimize, pareto_front
from amorphdb.potfit.params import Parameter
from amorphdb.potfit.state import StateMismatchError

__all__ = ["OptimizationResult", "Parameter", "StateMismatchError", "optimize", "pareto_front"]
