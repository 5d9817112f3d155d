"""The Birch–Murnaghan P(V) fit recovers V0 from synthetic data."""

import numpy as np
import pytest

from amorphdb.flows.eos import birch_murnaghan_pressure, fit_pv


@pytest.mark.parametrize("b0p", [4.0, 6.5, 11.0])
def test_recovers_v0_b0_from_exact_points(b0p):
    v0, b0 = 1250.0, 400.0  # Å³, kbar (a soft oxide melt)
    volumes = v0 * np.array([0.8, 0.9, 1.0, 1.1, 1.2])
    pressures = birch_murnaghan_pressure(volumes, v0, b0, b0p)
    fit = fit_pv(volumes, pressures)
    assert fit.method == "birch-murnaghan"
    assert fit.v0_A3 == pytest.approx(v0, rel=1e-6)
    assert fit.b0_kbar == pytest.approx(b0, rel=1e-4)
    assert fit.b0_prime == pytest.approx(b0p, rel=1e-3)
    assert fit.pressure(v0) == pytest.approx(0.0, abs=1e-6)


def test_recovers_v0_with_noise_and_offset_start():
    rng = np.random.default_rng(3)
    v0, b0, b0p = 900.0, 700.0, 5.0
    volumes = 1100.0 * np.array([0.8, 1.0, 1.2])  # all points expanded: P < 0 at two of them
    pressures = birch_murnaghan_pressure(volumes, v0, b0, b0p) + rng.normal(0, 2.0, 3)
    fit = fit_pv(volumes, pressures)
    assert fit.v0_A3 == pytest.approx(v0, rel=0.02)


def test_two_points_fix_b0_prime():
    v0, b0 = 500.0, 300.0
    volumes = np.array([450.0, 560.0])
    fit = fit_pv(volumes, birch_murnaghan_pressure(volumes, v0, b0, 4.0))
    assert fit.method.startswith("birch-murnaghan (B0'=4)")
    assert fit.v0_A3 == pytest.approx(v0, rel=1e-5)


def test_target_pressure():
    v0, b0, b0p = 1000.0, 500.0, 4.0
    volumes = np.array([850.0, 1000.0, 1150.0])
    fit = fit_pv(volumes, birch_murnaghan_pressure(volumes, v0, b0, b0p), target_pressure_kbar=50)
    assert birch_murnaghan_pressure(fit.v0_A3, v0, b0, b0p) == pytest.approx(50, abs=1e-3)


def test_linear_fallback_for_non_monotonic_points():
    fit = fit_pv([100.0, 200.0, 300.0], [5.0, 10.0, 20.0])  # pressure rising with volume
    assert fit.method == "linear"
    assert fit.v0_A3 == 100.0  # the point with the lowest |P|
