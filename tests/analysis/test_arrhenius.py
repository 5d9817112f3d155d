import warnings

import numpy as np
import pytest
import scipy.constants as const

from amorphdb.analysis import AnalysisWarning, fit_arrhenius, nernst_einstein_factor
from amorphdb.analysis.conductivity import AIMD_CONSTANTS

# mogroupumd/aimd aimd/tests/test_files/arrhenius/D_T.csv (analysis_references.md §1)
T = [600, 650, 700, 720, 800, 900, 1050, 1200, 1500]
D = [1.24e-06, 1.56e-06, 2.13e-06, 1.85e-06, 3.51e-06, 4.85e-06, 8.24e-06, 1.38e-05, 1.83e-05]
E = [3.40e-07, 4.05e-07, 5.57e-07, 3.87e-07, 7.00e-07, 6.99e-07, 1.34e-06, 1.49e-06, 2.58e-06]


def test_aimd_weighted_reference():
    r = fit_arrhenius(T, D, E, boltzmann_eV_K=8.617e-5)
    assert r.Ea == pytest.approx(0.258128283041, abs=1e-8)
    assert r.Ea_std == pytest.approx(0.0168320198494, abs=1e-8)
    d300, _ = r.extrapolate(300.0)
    assert d300 == pytest.approx(6.80754024147e-09, rel=1e-6)
    factor = nernst_einstein_factor(56, 12.98**3, 1, 300.0, AIMD_CONSTANTS)
    assert factor == pytest.approx(158701249.73192352, rel=1e-12)
    assert factor * d300 == pytest.approx(1.08036514392, rel=1e-6)
    lo, hi = r.extrapolate_range(300.0, ignore_covariance=True)  # aimd's propagation
    assert factor * lo == pytest.approx(0.54509683117599272, rel=1e-6)
    assert factor * hi == pytest.approx(2.1412504667878154, rel=1e-6)
    # with the ln D0-slope covariance the 300 K interval is narrower (correct)
    lo_c, hi_c = r.extrapolate_range(300.0)
    assert lo < lo_c < d300 < hi_c < hi


def test_codata_and_unweighted_values():
    assert fit_arrhenius(T, D, E).Ea == pytest.approx(0.258138, abs=2e-6)
    assert fit_arrhenius(T, D).Ea == pytest.approx(0.248167, abs=2e-6)


def test_pad_linear_reference():
    k = const.k / const.e
    temps = np.array([300, 1000, 500.0])
    d = 12 * np.exp(-0.5 / (k * temps)) * np.array([1.00601834013, 1.00803236262, 0.98609720824])
    r = fit_arrhenius(temps, d)
    assert r.Ea == pytest.approx(0.5, abs=1e-7)
    assert pytest.approx(12, abs=1e-7) == r.D0
    assert r.Ea_std == pytest.approx(0.000895566, abs=1e-9)


def test_extrapolation_error_propagates_covariance():
    r = fit_arrhenius(T, D, E)
    _, s = r.extrapolate(1000.0)
    cov = np.asarray(r.covariance)
    x = 1 / 1000.0
    expect = np.sqrt(cov[0, 0] + x * x * cov[1, 1] + 2 * x * cov[0, 1])
    assert s / r.extrapolate(1000.0)[0] == pytest.approx(expect)


def test_two_temperatures_warn():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = fit_arrhenius([1, 2], [10, 10])
    assert r.Ea == pytest.approx(0, abs=1e-12) and pytest.approx(10) == r.D0
    assert np.isnan(r.Ea_std)
    assert any(issubclass(w.category, AnalysisWarning) for w in caught)


def test_bad_input():
    from amorphdb.analysis import AnalysisError

    with pytest.raises(AnalysisError, match="> 0"):
        fit_arrhenius([500, 600, 700], [1e-5, -1e-6, 1e-5])
    with pytest.raises(AnalysisError, match="one D per T"):
        fit_arrhenius([500, 600], [1e-5])
