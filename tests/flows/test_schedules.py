"""Schedules include both ends (atomate2's np.arange(3000, 500, -500) never reaches 500 K)."""

import pytest

from amorphdb.errors import ConfigError
from amorphdb.flows.schedules import cooling_stages, temperature_steps, volume_scale_factors


def test_temperature_steps_include_both_ends():
    assert temperature_steps(3000, 500, 500) == [3000, 2500, 2000, 1500, 1000, 500]
    assert temperature_steps(500, 3000, 500) == [500, 1000, 1500, 2000, 2500, 3000]
    # a last, shorter step reaches the end exactly
    assert temperature_steps(5000, 1200, 1000) == [5000, 4000, 3000, 2000, 1200]
    assert temperature_steps(1000, 1000, 100) == [1000]


def test_temperature_steps_reject_bad_input():
    with pytest.raises(ConfigError):
        temperature_steps(3000, -5, 500)
    with pytest.raises(ConfigError):
        temperature_steps(3000, 500, 0)


def test_cooling_stages():
    assert cooling_stages(5000, 1000, "none") == []
    assert cooling_stages(5000, 1000, "linear") == [(5000, 1000)]
    holds = cooling_stages(5000, 1000, "stepwise", 1500)
    assert holds == [(3500, 3500), (2000, 2000), (1000, 1000)]
    with pytest.raises(ConfigError, match="unknown cooling method"):
        cooling_stages(5000, 1000, "exponential")


def test_volume_scale_factors_mpmorph_default():
    assert volume_scale_factors(3, 0.2) == pytest.approx([0.8, 1.0, 1.2])
    assert volume_scale_factors(5, 0.1)[0] == pytest.approx(0.9)
    assert volume_scale_factors(5, 0.1)[-1] == pytest.approx(1.1)
    with pytest.raises(ConfigError):
        volume_scale_factors(1, 0.2)


def test_glass_path_stages_reach_every_stop_at_the_rate():
    from amorphdb.flows.schedules import cooling_path, glass_path_stages, ramp_steps

    assert cooling_path(3000, [1000, 2500, 300, 3500]) == [
        (3000, 2500), (2500, 1000), (1000, 300)
    ]  # descending, stops above the start dropped
    assert ramp_steps(3000, 300, 10.0, 1.0) == 270000  # 2700 K / (10 K/ps) = 270 ps
    assert ramp_steps(3000, 300, 10.0, 2.0) == 135000
    stages = glass_path_stages(3000, [1000, 300], 3000, 10.0, 1.0, 500)
    assert [tuple(s) for s in stages] == [(3000, 1000, 200000, True), (1000, 300, 70000, True)]
    # total duration × rate = temperature drop, whatever the stops
    assert sum(s.n_steps for s in stages) * 1e-3 * 10.0 == pytest.approx(2700)
    # a hotter melt first goes to the path start by an NVT ramp
    hot = glass_path_stages(5000, [300], 3000, 10.0, 1.0, 500)
    assert [tuple(s) for s in hot] == [(5000, 3000, 500, False), (3000, 300, 270000, True)]
    with pytest.raises(ConfigError):
        ramp_steps(3000, 300, 0.0, 1.0)


def test_cost_reads_the_flow_schedule():
    """campaign/cost.py counts exactly the cooling jobs the flow builds (one source)."""
    from amorphdb.campaign.cost import steps_per_composition
    from amorphdb.flows import MeltQuenchMaker, ProtocolSettings

    p = ProtocolSettings(melt_temperature_K=3000, anneal_temperatures_K=[1000, 2000],
                         volume={"method": "npt", "n_steps": 5000},
                         cooling={"glass_steps": 4000})
    flow = MeltQuenchMaker(protocol=p).make("Li2Si2O5")
    md_steps = [
        j.function.__self__.n_steps for j, _ in flow.iterflow()
        if hasattr(getattr(j.function, "__self__", None), "n_steps")
    ]
    # cooling 3000→2000→1000→300 at 10 K/ps = 270 ps, glass NPT + NVT 2 × 4000,
    # melt 10000 + P = 0 melt record (NPT volume 5000 + 10000),
    # 2 × (NPT volume 5000 + production 10000)
    assert p.cooling_runs(1.0) == [100000, 100000, 70000, 4000, 4000]
    assert steps_per_composition(p) == sum(md_steps) == 270000 + 8000 + 25000 + 30000
