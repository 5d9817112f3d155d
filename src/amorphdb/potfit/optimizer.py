"""Batch Bayesian optimisation with a Gaussian-process surrogate (BoTorch).

Loop: a scrambled Sobol design fills the first ``n_initial`` points; then each batch
is chosen by maximising a batch acquisition function on a GP fitted to everything
evaluated so far. The GP is BoTorch's ``SingleTaskGP`` (Matérn-5/2 ARD kernel,
inferred noise) on inputs scaled to the unit cube — so parameters of very different
magnitudes (A ~ 10⁴ eV, ρ ~ 0.1 Å) get comparable length scales — with the outcomes
standardised (``Standardize``). One objective: qLogNEI (Ament et al., NeurIPS 2023,
arXiv:2310.20708, the log form of Letham et al.'s noisy EI); several named
objectives: qLogNEHVI (Daulton et al., NeurIPS 2021, arXiv:2105.08195; log form from
Ament et al.), with the reference point just beyond the worst loss seen.

Losses are minimised. A loss that is not finite (a failed evaluation) stays in the
history but is left out of the GP fit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from amorphdb.errors import ConfigError
from amorphdb.potfit.params import Parameter, check_parameters, from_unit, to_unit
from amorphdb.potfit.state import OptimizationState, load_or_create

Loss = float | dict[str, float]
#: quasi-MC samples of the acquisition functions
MC_SAMPLES = 64
Objective = Callable[[list[dict[str, float]]], Sequence[Loss]]


@dataclass
class OptimizationResult:
    """Outcome of :func:`optimize`.

    Attributes
    ----------
    best_params, best_loss
        The best evaluation: lowest loss, or for named losses the Pareto point with the
        lowest sum of losses.
    history
        ``{"params": dict, "loss": float | dict}`` in evaluation order.
    pareto
        Non-dominated history entries when losses are dicts (empty for scalar losses).
    """

    best_params: dict[str, float]
    best_loss: Loss
    history: list[dict[str, Any]]
    pareto: list[dict[str, Any]] = field(default_factory=list)


def _scalar(loss: Loss) -> float:
    if isinstance(loss, dict):
        return float(sum(loss.values()))
    return float(loss)


def _finite(loss: Loss) -> bool:
    values = loss.values() if isinstance(loss, dict) else [loss]
    return all(v is not None and math.isfinite(float(v)) for v in values)


def pareto_front(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Non-dominated entries (all losses minimised) among finite dict losses, in order."""
    entries = [h for h in history if isinstance(h["loss"], dict) and _finite(h["loss"])]
    if not entries:
        return []
    keys = sorted(entries[0]["loss"])
    y = np.array([[e["loss"][k] for k in keys] for e in entries])
    keep = []
    for i, yi in enumerate(y):
        dominated = np.any(np.all(y <= yi, axis=1) & np.any(y < yi, axis=1))
        if not dominated:
            keep.append(entries[i])
    return keep


def result_from_history(history: list[dict[str, Any]]) -> OptimizationResult:
    """Best point and Pareto front of a history (ConfigError when nothing finished)."""
    finite = [h for h in history if _finite(h["loss"])]
    if not finite:
        raise ConfigError("no evaluation finished with a finite loss; nothing to report")
    pareto = pareto_front(history)
    pool = pareto or finite
    best = min(pool, key=lambda h: _scalar(h["loss"]))
    return OptimizationResult(
        best_params=dict(best["params"]), best_loss=best["loss"], history=list(history),
        pareto=pareto,
    )


def initial_design(n: int, d: int, seed: int) -> np.ndarray:
    """``n`` scrambled Sobol points in [0, 1]^d (space-filling, reproducible)."""
    from scipy.stats import qmc

    with warnings.catch_warnings():  # Sobol balance warning for n not a power of 2
        warnings.simplefilter("ignore")
        return qmc.Sobol(d, scramble=True, seed=seed).random(n)


def default_initial(d: int, batch_size: int, budget: int) -> int:
    """Size of the Sobol design: 2(d + 1) points, at least one batch, at most the budget."""
    return min(budget, max(2 * (d + 1), batch_size))


def propose(
    x_unit: np.ndarray,
    losses: Sequence[Loss],
    q: int,
    seed: int,
    num_restarts: int = 4,
    raw_samples: int = 128,
) -> np.ndarray:
    """Next ``q`` points in the unit cube from a GP fitted to ``(x_unit, losses)``.

    One loss per point: qLogNEI; a dict of losses per point: qLogNEHVI (one GP per loss).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: extra threads only contend on a shared CPU
    try:
        return _propose(x_unit, losses, q, seed, num_restarts, raw_samples)
    finally:
        torch.set_num_threads(threads)


def _propose(x_unit, losses, q, seed, num_restarts, raw_samples) -> np.ndarray:
    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf
    from botorch.sampling import SobolQMCNormalSampler
    from gpytorch.mlls import ExactMarginalLogLikelihood, SumMarginalLogLikelihood

    torch.manual_seed(seed)
    d = x_unit.shape[1]
    keep = [i for i, loss in enumerate(losses) if _finite(loss)]
    train_x = torch.tensor(x_unit[keep], dtype=torch.double)
    multi = isinstance(losses[keep[0]], dict)
    if multi:
        keys = sorted(losses[keep[0]])
        y = -np.array([[losses[i][k] for k in keys] for i in keep], dtype=float)
    else:
        y = -np.array([[float(losses[i])] for i in keep], dtype=float)
    train_y = torch.tensor(y, dtype=torch.double)  # BoTorch maximises: y = −loss
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # input-scaling / conditioning notices
        if multi:
            models = [
                SingleTaskGP(train_x, train_y[:, j : j + 1], outcome_transform=Standardize(m=1))
                for j in range(train_y.shape[1])
            ]
            model = ModelListGP(*models)
            fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
            from botorch.acquisition.multi_objective.logei import (
                qLogNoisyExpectedHypervolumeImprovement,
            )

            span = (train_y.max(0).values - train_y.min(0).values).clamp_min(1e-9)
            ref = train_y.min(0).values - 0.1 * span
            acq = qLogNoisyExpectedHypervolumeImprovement(
                model=model, ref_point=ref.tolist(), X_baseline=train_x, prune_baseline=True,
                sampler=SobolQMCNormalSampler(torch.Size([MC_SAMPLES])),
            )
        else:
            model = SingleTaskGP(train_x, train_y, outcome_transform=Standardize(m=1))
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            from botorch.acquisition.logei import qLogNoisyExpectedImprovement

            acq = qLogNoisyExpectedImprovement(
                model=model, X_baseline=train_x, prune_baseline=True,
                sampler=SobolQMCNormalSampler(torch.Size([MC_SAMPLES])),
            )
        # the batch is built point by point (sequential greedy), BoTorch's advice for
        # qNEHVI: much cheaper than a joint q·d optimisation, and as good in practice
        candidates, _ = optimize_acqf(
            acq, bounds=bounds, q=q, num_restarts=num_restarts, raw_samples=raw_samples,
            options={"seed": seed}, sequential=multi,
        )
    return candidates.detach().numpy().clip(0.0, 1.0)


def _config(
    parameters: Sequence[Parameter], seed: int, n_initial: int | None, extra: dict | None
):
    return {
        "parameters": [[p.name, p.low, p.high] for p in parameters],
        "seed": seed,
        "n_initial": n_initial,
        "objective": extra or {},
    }


def optimize(
    objective: Objective,
    parameters: Sequence[Parameter],
    budget: int,
    batch_size: int = 4,
    seed: int = 0,
    state: str | Path | None = None,
    *,
    n_initial: int | None = None,
    config: dict[str, Any] | None = None,
    on_batch: Callable[[list[dict[str, Any]], int], None] | None = None,
) -> OptimizationResult:
    """Minimise ``objective`` over the box of ``parameters`` in ``budget`` evaluations.

    Parameters
    ----------
    objective
        Takes a list of parameter dicts (one batch, at most ``batch_size``) and returns
        one loss per point: a float, or a dict of named losses (then multi-objective).
    parameters
        The free parameters with their bounds.
    budget
        Total number of evaluations (finished evaluations in ``state`` count).
    batch_size
        Points evaluated together.
    seed
        Seed of the Sobol design and the acquisition optimiser.
    state
        JSON file: every finished batch is saved as it completes, and the batch in
        flight is recorded, so a rerun with the same file (after an exception, Ctrl-C
        or a killed process) continues without evaluating a finished point again.
        A file from another configuration is refused (:class:`StateMismatchError`).
    n_initial
        Size of the space-filling design (default :func:`default_initial`).
    config
        Extra settings that define the objective; they become part of the state's
        fingerprint so a state file cannot be resumed with another objective.
    on_batch
        Called with (the batch's new history entries, evaluations done) after each batch.

    Returns
    -------
    OptimizationResult
    """
    params = check_parameters(parameters)
    if int(budget) < 1 or int(batch_size) < 1:
        raise ConfigError(f"budget ({budget}) and batch_size ({batch_size}) must be at least 1")
    budget, batch_size = int(budget), int(batch_size)
    n_init = default_initial(len(params), batch_size, budget) if n_initial is None else n_initial
    # the requested n_initial (None: automatic) is fingerprinted, not the value it resolves
    # to, so raising the budget continues a state (the Sobol sequence just goes on)
    st: OptimizationState = load_or_create(state, _config(params, seed, n_initial, config))
    design = initial_design(n_init, len(params), seed)
    while len(st.history) < budget:
        done = len(st.history)
        q = min(batch_size, budget - done)
        if st.pending:
            batch = [dict(p) for p in st.pending][:q]
        elif done < n_init:
            batch = from_unit(params, design[done : min(done + q, n_init)])
        else:
            x_unit = to_unit(params, [h["params"] for h in st.history])
            losses = [h["loss"] for h in st.history]
            if not any(_finite(loss) for loss in losses):
                rng = np.random.default_rng(seed + done)  # nothing to fit yet: random points
                batch = from_unit(params, rng.random((q, len(params))))
            else:
                batch = from_unit(params, propose(x_unit, losses, q, seed + done))
        st.pending = batch
        if state is not None:
            st.save(state)
        losses = list(objective([dict(p) for p in batch]))
        if len(losses) != len(batch):
            raise ConfigError(
                f"the objective returned {len(losses)} losses for {len(batch)} points"
            )
        new = [{"params": p, "loss": _clean(loss)} for p, loss in zip(batch, losses, strict=True)]
        details = getattr(objective, "details", None)  # optional per-point results to keep
        for entry in new if callable(details) else []:
            info = details(entry["params"])
            if info is not None:
                entry["details"] = info
        st.history.extend(new)
        st.pending = []
        if state is not None:
            st.save(state)
        if on_batch is not None:
            on_batch(new, len(st.history))
    return result_from_history(st.history)


def _clean(loss: Loss) -> Loss:
    if isinstance(loss, dict):
        return {str(k): float(v) for k, v in loss.items()}
    return float(loss)
