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
