"""``amorphdb potfit CONFIG.yaml``: the optimisation loop with MD evaluations.

Every evaluation is a melt–quench campaign (:class:`~amorphdb.potfit.objective.MDObjective`);
the state file makes the loop resumable after Ctrl-C or a killed process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amorphdb.potfit.config import PotfitConfig
from amorphdb.potfit.objective import MDObjective
from amorphdb.potfit.optimizer import OptimizationResult, optimize


def run_potfit(
    config: PotfitConfig,
    on_progress: Callable[[str, str], None] | None = None,
    on_batch: Callable[[list[dict[str, Any]], int], None] | None = None,
    objective: Callable | None = None,
) -> OptimizationResult:
    """Run (or continue) the potfit campaign of ``config``.

    Parameters
    ----------
    config
        The checked configuration (:func:`amorphdb.potfit.config.load_config`).
    on_progress
        (formula, finished job) as MD jobs finish.
    on_batch
        (new history entries, evaluations done) after each batch.
    objective
        Replaces the MD objective (tests of the loop and the command only).
    """
    return optimize(
        objective or MDObjective(config, on_progress=on_progress),
        config.free_parameters(),
        budget=config.budget,
        batch_size=config.batch_size,
        seed=config.seed,
        state=config.state_path(),
        n_initial=config.n_initial,
        config=config.fingerprint_settings(),
        on_batch=on_batch,
    )
