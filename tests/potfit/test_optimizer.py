"""The resumable batch optimiser on cheap 5-D objectives with parameters of very
different magnitudes (A ~ 1e4-1e5 eV, rho ~ 0.1 Å)."""

import json

import numpy as np
import pytest

from amorphdb.errors import ConfigError
from amorphdb.potfit import Parameter, StateMismatchError, optimize, pareto_front

PARAMS = [
    Parameter("B-O.A", 1.5e5, 2.6e5),
    Parameter("B-O.rho", 0.11, 0.135),
    Parameter("B-O.C", 0.0, 70.0),
    Parameter("B-B.A", 200.0, 800.0),
    Parameter("B-B.rho", 0.25, 0.45),
]
OPT = {"B-O.A": 2.07e5, "B-O.rho": 0.124, "B-O.C": 35.0, "B-B.A": 484.0, "B-B.rho": 0.35}


def bowl(p):
    """Smooth 5-D loss with its minimum 0 at OPT (relative errors, one coupled pair)."""
    z = [(p.get(q.name, OPT[q.name]) - OPT[q.name]) / (q.high - q.low) for q in PARAMS]
    return float(4 * z[0] ** 2 + 3 * (z[1] + 0.5 * z[0]) ** 2 + z[2] ** 2 + 2 * z[3] ** 2
                 + z[4] ** 2)


def batch_bowl(batch):
    return [bowl(p) for p in batch]


@pytest.mark.slow  # 28 evaluations with 4 GP batches: ~15 s idle, 90 s at load 20
def test_gp_loop_beats_its_design_and_stays_in_bounds():
    result = optimize(batch_bowl, PARAMS, budget=28, batch_size=4, seed=1)
    assert len(result.history) == 28
    for entry in result.history:
        for p in PARAMS:
            assert p.low <= entry["params"][p.name] <= p.high
    design_best = min(h["loss"] for h in result.history[:12])  # 2(d+1) Sobol points
    assert result.best_loss < 0.25 * design_best
    assert result.best_loss < 0.05
    assert result.best_loss == min(h["loss"] for h in result.history)
    assert abs(result.best_params["B-O.rho"] - 0.124) < 0.006  # Å, range 0.025
    assert result.pareto == []


class Interrupt:
    """Objective that raises KeyboardInterrupt on its n-th call, counting points seen."""

    def __init__(self, fail_on_call=None):
        self.calls = 0
        self.seen = []
        self.fail_on_call = fail_on_call

    def __call__(self, batch):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt
        self.seen += [tuple(sorted(p.items())) for p in batch]
        return batch_bowl(batch)


def test_interrupt_then_resume_evaluates_no_point_twice(tmp_path):
    state = tmp_path / "state.json"
    first = Interrupt(fail_on_call=5)  # 4 batches done (3 Sobol + 1 GP), 5th interrupted
    with pytest.raises(KeyboardInterrupt):
        optimize(first, PARAMS, budget=24, batch_size=4, seed=0, state=state)
    saved = json.loads(state.read_text())
    assert len(saved["history"]) == 16
    assert len(saved["pending"]) == 4  # the batch in flight is kept, not its losses
    second = Interrupt()
    result = optimize(second, PARAMS, budget=24, batch_size=4, seed=0, state=state)
    assert len(result.history) == 24
    assert len(second.seen) == 8  # only the unfinished points
    assert not set(first.seen) & set(second.seen)
    assert second.seen[:4] == [tuple(sorted(p.items())) for p in saved["pending"]]
    # a finished state: nothing is evaluated again
    third = Interrupt()
    again = optimize(third, PARAMS, budget=24, batch_size=4, seed=0, state=state)
    assert third.calls == 0 and again.history == result.history


def test_state_from_another_configuration_is_refused(tmp_path):
    state = tmp_path / "state.json"
    optimize(batch_bowl, PARAMS[:2], budget=2, batch_size=2, state=state)
    other = [Parameter("B-O.A", 1.0e5, 2.6e5), PARAMS[1]]
    called = []
    with pytest.raises(StateMismatchError, match=r"different configuration.*parameters"):
        optimize(lambda b: called.append(b) or [0.0] * len(b), other, budget=4, state=state)
    assert called == []


def test_two_objectives_give_a_pareto_front():
    def two(batch):  # density-like and N4-like losses with different optima in rho
        out = []
        for p in batch:
            z = (p["B-O.rho"] - 0.11) / 0.025
            a = (p["B-O.A"] - 1.5e5) / 1.1e5
            out.append({"density": (z - 0.2) ** 2 + 0.1 * a**2, "n4": (z - 0.8) ** 2 + 0.1 * a**2})
        return out

    result = optimize(two, PARAMS[:2], budget=12, batch_size=3, seed=3)
    front = result.pareto
    assert len(front) >= 3
    assert front == pareto_front(result.history)
    losses = np.array([[e["loss"]["density"], e["loss"]["n4"]] for e in front])
    for i, row in enumerate(losses):  # mutually non-dominated
        others = np.delete(losses, i, axis=0)
        assert not np.any(np.all(others <= row, axis=1) & np.any(others < row, axis=1))
    zs = [(e["params"]["B-O.rho"] - 0.11) / 0.025 for e in front]
    assert min(zs) < 0.45 and max(zs) > 0.55  # the front spans the trade-off
    assert result.best_loss in [e["loss"] for e in front]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Parameter("B-O.A", 2e5, 2e5), "empty range"),
        (lambda: Parameter("B-O.A", 3e5, 2e5), "inverted range"),
        (lambda: optimize(batch_bowl, [], budget=4), "no parameters"),
        (lambda: optimize(batch_bowl, PARAMS, budget=0), "budget"),
    ],
)
def test_bad_input_is_one_clear_error(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_failed_evaluations_stay_in_history_but_not_in_the_fit():
    def flaky(batch):
        return [float("nan") if p["B-O.rho"] > 0.13 else bowl(p) for p in batch]

    result = optimize(flaky, PARAMS, budget=16, batch_size=4, seed=2)
    assert any(np.isnan(h["loss"]) for h in result.history)
    assert np.isfinite(result.best_loss)


def test_a_larger_budget_continues_a_finished_state(tmp_path):
    state = tmp_path / "state.json"
    first = optimize(batch_bowl, PARAMS, budget=4, batch_size=2, seed=5, state=state)
    more = Interrupt()
    second = optimize(more, PARAMS, budget=6, batch_size=2, seed=5, state=state)
    assert second.history[:4] == first.history and len(more.seen) == 2
