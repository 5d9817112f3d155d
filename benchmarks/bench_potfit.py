"""potfit: evaluations to reach a loss, GP loop vs random search vs an MLP surrogate.

Cheap 5-D stand-ins for the potfit loss (the five Wang 2018 B–O/B–B parameters, with
their magnitudes: A ~ 1e5 and 1e2 eV, ρ ~ 0.1 Å, C ~ 10 eV·Å⁶):

``bowl``
    a coupled quadratic in the scaled parameters (what the density + N4 loss looks
    like near its minimum);
``branin5``
    Branin in (B-O.A, B-O.rho) — three global minima — plus a quadratic in the
    other three.

Methods, each with batches of 4:

``gp``      :func:`amorphdb.potfit.optimize` (Sobol design, BoTorch GP, qLogNEI);
``random``  uniform random search;
``mlp``     the seed study's approach: an ensemble of 5 scikit-learn ``MLPRegressor``
            trained on the evaluations, the batch = the 4 best predicted means among
            2000 random candidates (greedy, no uncertainty), after the same Sobol design.

For each function and seed: the loss random search reaches with its full budget
(``--random-budget``), and the evaluations GP and MLP need to reach it (target: GP
≤ 1/4 of the random budget). Then the optimiser overhead: the time of one GP batch
proposal (fit + qLogNEI, q = 4) with 200 evaluations in the history (target < 10 s).

Usage::

    .venv/bin/python benchmarks/bench_potfit.py [--seeds 3] [--random-budget 120]

Prints Markdown tables (copied into ``docs/benchmarks.md``, section Potfit).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

from amorphdb.potfit import Parameter, optimize
from amorphdb.potfit.optimizer import initial_design, propose
from amorphdb.potfit.params import from_unit, to_unit

PARAMS = [
    Parameter("B-O.A", 1.5e5, 2.7e5),
    Parameter("B-O.rho", 0.115, 0.135),
    Parameter("B-O.C", 0.0, 70.0),
    Parameter("B-B.A", 200.0, 800.0),
    Parameter("B-B.rho", 0.25, 0.45),
]
BATCH = 4


def _unit(p: dict[str, float]) -> np.ndarray:
    return to_unit(PARAMS, [p])[0]


def bowl(p: dict[str, float]) -> float:
    z = _unit(p) - np.array([0.47, 0.45, 0.5, 0.47, 0.5])
    return float(4 * z[0] ** 2 + 3 * (z[1] + 0.5 * z[0]) ** 2 + z[2] ** 2 + 2 * z[3] ** 2
                 + z[4] ** 2)


def branin5(p: dict[str, float]) -> float:
    u = _unit(p)
    x1, x2 = 15 * u[0] - 5, 15 * u[1]
    b = ((x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
         + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10 - 0.397887)
    return float(b / 10 + np.sum((u[2:] - 0.5) ** 2))


FUNCTIONS = {"bowl": bowl, "branin5": branin5}


def best_curve(losses: list[float]) -> np.ndarray:
    return np.minimum.accumulate(np.asarray(losses, dtype=float))


def run_random(f, budget: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = from_unit(PARAMS, rng.random((budget, len(PARAMS))))
    return best_curve([f(p) for p in points])


def run_gp(f, budget: int, seed: int) -> np.ndarray:
    result = optimize(lambda b: [f(p) for p in b], PARAMS, budget, batch_size=BATCH, seed=seed)
    return best_curve([h["loss"] for h in result.history])


def run_mlp(f, budget: int, seed: int, n_models: int = 5) -> np.ndarray:
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(seed)
    d = len(PARAMS)
    x = list(initial_design(2 * (d + 1), d, seed))
    y = [f(p) for p in from_unit(PARAMS, np.array(x))]
    while len(y) < budget:
        cand = rng.random((2000, d))
        preds = []
        for m in range(n_models):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=2000,
                                     random_state=seed * 100 + m)
                model.fit(np.array(x), np.array(y))
            preds.append(model.predict(cand))
        chosen = cand[np.argsort(np.mean(preds, axis=0))[: min(BATCH, budget - len(y))]]
        x += list(chosen)
        y += [f(p) for p in from_unit(PARAMS, chosen)]
    return best_curve(y)


def evals_to_reach(curve: np.ndarray, target: float) -> int | None:
    hit = np.nonzero(curve <= target)[0]
    return int(hit[0]) + 1 if hit.size else None


def overhead(n_history: int, repeats: int = 2) -> tuple[float, float]:
    """(wall, CPU) seconds of one GP batch proposal (q = 4) with ``n_history`` evaluations.

    The proposal runs on one thread, so on a shared machine its CPU time is what an idle
    machine's wall time would be."""
    rng = np.random.default_rng(0)
    x = rng.random((n_history, len(PARAMS)))
    losses = [branin5(p) for p in from_unit(PARAMS, x)]
    wall, cpu = [], []
    for r in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        propose(x, losses, BATCH, seed=r)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--random-budget", type=int, default=120)
    parser.add_argument("--budget", type=int, default=40, help="GP and MLP budget")
    parser.add_argument("--overhead-only", action="store_true")
    args = parser.parse_args(argv)
    if args.overhead_only:
        return _overhead_table()
    print(f"random budget {args.random_budget}; GP/MLP budget {args.budget}; batch {BATCH}; "
          f"target: GP reaches random's final loss in <= {args.random_budget // 4} evaluations\n")
    print("| function | seed | random best loss | GP evals to reach | MLP evals to reach "
          f"| GP best @{args.budget} | MLP best @{args.budget} |")
    print("|---|---|---|---|---|---|---|")
    summary = {"gp": [], "mlp": []}
    for name, f in FUNCTIONS.items():
        for seed in range(args.seeds):
            target = run_random(f, args.random_budget, seed)[-1]
            gp = run_gp(f, args.budget, seed)
            mlp = run_mlp(f, args.budget, seed)
            n_gp, n_mlp = evals_to_reach(gp, target), evals_to_reach(mlp, target)
            summary["gp"].append(n_gp)
            summary["mlp"].append(n_mlp)
            fmt = lambda n: "not reached" if n is None else str(n)  # noqa: E731
            print(f"| {name} | {seed} | {target:.4f} | {fmt(n_gp)} | {fmt(n_mlp)} "
                  f"| {gp[-1]:.4f} | {mlp[-1]:.4f} |", flush=True)
    ok = [n is not None and n <= args.random_budget // 4 for n in summary["gp"]]
    print(f"\nGP reached random search's {args.random_budget}-evaluation loss within "
          f"{args.random_budget // 4} evaluations in {sum(ok)}/{len(ok)} runs; MLP reached it "
          f"(within {args.budget}) in {sum(n is not None for n in summary['mlp'])}/"
          f"{len(summary['mlp'])}")
    return _overhead_table()


def _overhead_table() -> int:
    print("\n| evaluations in history | GP batch proposal, wall (s) | CPU (s) |\n|---|---|---|")
    for n in (50, 100, 200):
        wall, cpu = overhead(n)
        print(f"| {n} | {wall:.2f} | {cpu:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
