import warnings

import numpy as np
import pytest

from amorphdb.analysis import AnalysisError, AnalysisWarning, DiffusionResult, diffusivity
from amorphdb.analysis.msd import msd_direct, msd_fft
from amorphdb.analysis.synthetic import random_walk_trajectory

from .conftest import TRICLINIC

D_TRUE = 1e-4


def test_fft_msd_equals_direct():
    x = np.random.default_rng(1).normal(size=(5, 257)).cumsum(axis=1)
    np.testing.assert_allclose(msd_fft(x, chunk=2), msd_direct(x), rtol=1e-9, atol=1e-9)


def _z(res):
    return (res.D - D_TRUE) / res.D_std


def test_orthorhombic_random_walk(rw_traj):
    res = diffusivity(rw_traj, "Li")
    assert abs(_z(res)) < 3.5
    assert res.reliable, res.reason
    assert res.D_std_method == "atoms"
    assert set(res.D_std_by_method) == {"atoms", "blocks", "he2018"}
    t0, t1 = res.fit_window
    assert 0 < t0 < t1 <= 0.3 * rw_traj.duration_ps + 1e-9 and res.window_auto
    np.testing.assert_allclose(res.D_axes, D_TRUE, rtol=0.35)
    assert abs(res.loglog_slope - 1) < 0.2
    # He et al. 2018: RSD = 3.43/sqrt(N_jump) + 0.04
    n_jump = res.n_atoms * res.msd.max() / 3.0**2
    assert res.D_std_by_method["he2018"] == pytest.approx(res.D * (3.43 / np.sqrt(n_jump) + 0.04))


@pytest.mark.parametrize("kind", ["triclinic", "npt"])
def test_triclinic_and_npt(kind):
    kw = {"lattice": TRICLINIC} if kind == "triclinic" else {"npt_strain": 0.03}
    traj = random_walk_trajectory(4000, D_cm2_s=D_TRUE, seed=5, **kw)
    assert traj.is_constant_cell is (kind == "triclinic")
    res = diffusivity(traj, "Li")
    assert abs(_z(res)) < 3.5, res.summary()


def test_drift_added_and_removed():
    traj = random_walk_trajectory(4000, D_cm2_s=D_TRUE, seed=7, drift_A_per_ps=(4.0, -2.0, 1.0))
    kept = diffusivity(traj, "Li", remove_drift=False)
    removed = diffusivity(traj, "Li")
    assert kept.D > 3 * D_TRUE  # drift ballistic: the uncorrected D is far off
    assert abs(_z(removed)) < 3.5
    assert removed.max_com_drift_A == pytest.approx(np.linalg.norm([4, -2, 1]) * 7.998, rel=0.05)


def test_drift_removal_when_every_atom_moves():
    """A one-species melt: there is no framework, the COM of all atoms is used."""
    traj = random_walk_trajectory(
        3000, D_cm2_s=D_TRUE, n_diffusing=60, n_framework=0, seed=8, drift_A_per_ps=(3, 0, 0)
    )
    res = diffusivity(traj, "Li")
    # removing the COM of N independent equal walkers scales MSD by (1 - 1/N)
    expected = D_TRUE * (1 - 1 / 60)
    assert abs(res.D - expected) < 3.5 * res.D_std


@pytest.mark.slow
def test_uncertainty_is_calibrated_over_seeds():
    zs = {"atoms": [], "blocks": []}
    for seed in range(150):
        traj = random_walk_trajectory(
            1500, D_cm2_s=D_TRUE, n_diffusing=20, n_framework=10, seed=1000 + seed
        )
        res = diffusivity(traj, "Li", remove_drift=False)
        for k in zs:
            zs[k].append((res.D - D_TRUE) / res.D_std_by_method[k])
    for k, z in zs.items():
        z = np.abs(np.array(z))
        # stated 1σ / 2σ coverage 68 % / 95 % (binomial ±2.5σ for 150 runs)
        assert 0.58 <= np.mean(z < 1) <= 0.78, (k, np.mean(z < 1))
        assert 0.89 <= np.mean(z < 2) <= 0.99, (k, np.mean(z < 2))


def test_fit_window_override_is_recorded(rw_traj):
    res = diffusivity(rw_traj, "Li", fit_window=(0.5, 2.0))
    assert res.fit_window == pytest.approx((0.5, 2.0))
    assert not res.window_auto
    with pytest.raises(AnalysisError, match="run is"):
        diffusivity(rw_traj, "Li", fit_window=(0.5, 100.0))


def test_short_run_flagged_unreliable():
    traj = random_walk_trajectory(60, D_cm2_s=1e-6, seed=1)
    res = diffusivity(traj, "Li")
    assert not res.reliable
    assert "frames" in res.reason and "hop" in res.reason


def test_bad_input():
    traj = random_walk_trajectory(20, seed=1)
    with pytest.raises(AnalysisError, match="Na not in the trajectory"):
        diffusivity(traj, "Na")
    with pytest.raises(AnalysisError, match="1 frame"):
        diffusivity(traj[:1], "Li")
    with pytest.raises(AnalysisError, match="2 frames; diffusion needs many"):
        diffusivity(traj[:2], "Li")


def test_sparse_frames_warn():
    traj = random_walk_trajectory(200, D_cm2_s=0.3, seed=2)  # ~5 Å per frame in a 12 Å box
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diffusivity(traj, "Li")
    assert any(issubclass(w.category, AnalysisWarning) and "cell" in str(w.message) for w in caught)


def test_collective_msd_haven_and_conductivity(rw_traj):
    res = diffusivity(rw_traj, "Li", temperature_K=1000.0)
    # independent walkers: D_charge = D within the (large) collective noise
    assert res.haven_ratio == pytest.approx(1.0, abs=0.6)
    assert res.charge == 1
    factor = res.conductivity_mS_cm / res.D
    from amorphdb.analysis import nernst_einstein_factor

    assert factor == pytest.approx(nernst_einstein_factor(30, 12.0**3, 1, 1000.0))


def test_result_round_trip(rw_traj):
    res = diffusivity(rw_traj, "Li")
    back = DiffusionResult.from_dict(res.as_dict())
    assert back.D == res.D and back.fit_window == res.fit_window
    assert len(back.lag_times) <= 401 and back.msd[0] == 0.0


@pytest.mark.parametrize(("n", "i0", "i1"), [(257, 1, 50), (300, 10, 100), (1001, 3, 5)])
def test_slope_kernel_equals_fit_of_direct_msd(n, i0, i1):
    """Per-series slopes from the spectra alone = OLS fit of the O(N²) MSD at every lag."""
    from amorphdb.analysis.msd import SlopeKernel, fft_length, power_spectra

    x = np.random.default_rng(n).normal(size=(4, n)).cumsum(axis=1)
    t = np.arange(i0, i1 + 1) * 0.002
    ref = np.polyfit(t, msd_direct(x)[:, i0 : i1 + 1].T, 1)[0]
    for nfft in (None, fft_length(n)):  # shortest alias-free length and the full one
        kernel = SlopeKernel(n, i0, i1, 0.002, nfft=nfft)
        _, power = power_spectra(x, kernel.nfft)
        np.testing.assert_allclose(kernel.slopes(power, x), ref, rtol=1e-9)
    with pytest.raises(AnalysisError, match="alias"):
        SlopeKernel(n, i0, i1, 0.002, nfft=n)


def test_unwrapped_series_matches_true_walk_and_collective_msd(rw_traj):
    """Wrapped input unwraps to the generated walk; the collective MSD (from summed
    spectra) equals the direct MSD of the summed displacement."""
    from amorphdb.analysis.msd import unwrapped_series

    raw = random_walk_trajectory(4000, D_cm2_s=1e-4, seed=11, wrap=False)
    x, _, _ = unwrapped_series(rw_traj, rw_traj.indices("Li"), remove_drift=False)
    expected = (raw.positions[:, :30] - raw.positions[0, :30]).transpose(1, 2, 0)
    np.testing.assert_allclose(x, expected, atol=1e-8)
    res = diffusivity(rw_traj, "Li", remove_drift=False)
    total = x[:, :, :600].sum(axis=0)
    direct = msd_direct(total).sum(axis=0)[1:200] / 30
    ref = diffusivity(rw_traj[:600], "Li", remove_drift=False).msd_charge[1:200]
    np.testing.assert_allclose(ref, direct, rtol=1e-7)
    # D (mean of the per-atom slopes from spectra) = the fit of the mean MSD curve
    lo, hi = (round(v / 0.002) for v in res.fit_window)
    slope = np.polyfit(res.lag_times[lo : hi + 1], res.msd[lo : hi + 1], 1)[0]
    assert slope / 6 * 1e-4 == pytest.approx(res.D, rel=1e-9)


def test_single_precision_block_transforms_match_double(rw_traj):
    from amorphdb.analysis.diffusion import _block_spread
    from amorphdb.analysis.msd import unwrapped_series

    x, _, _ = unwrapped_series(rw_traj, rw_traj.indices("Li"))
    single = _block_spread(x, 0.002, 0.05, 2.4, 10, 3)
    double = _block_spread(x, 0.002, 0.05, 2.4, 10, 3, single_precision=False)
    np.testing.assert_allclose(single, double, rtol=1e-5)
    assert single[0] > 0 and single[1] > single[0]  # collective D scatters more
