import numpy as np
import pytest

from amorphdb.analysis import DiffusionResult, diffusivity, fit_arrhenius
from amorphdb.analysis.plots import plot_arrhenius, plot_msd


def _lines(monkeypatch):
    """Capture the figure plot_msd draws (it is closed after saving)."""
    import matplotlib.pyplot as plt

    captured = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: captured.append(fig) or real_close(fig))
    return captured


def test_msd_plot_draws_the_linear_fit_over_the_window(rw_traj, tmp_path, monkeypatch):
    res = diffusivity(rw_traj, "Li")
    # the stored line is the OLS fit of the MSD over the window, and D follows from it
    lo, hi = (round(v / 0.002) for v in res.fit_window)
    slope, intercept = np.polyfit(res.lag_times[lo : hi + 1], res.msd[lo : hi + 1], 1)
    assert res.fit_slope_A2_ps == pytest.approx(slope, rel=1e-9)
    assert res.fit_intercept_A2 == pytest.approx(intercept, rel=1e-6, abs=1e-9)
    assert slope / 6 * 1e-4 == pytest.approx(res.D, rel=1e-9)
    figs = _lines(monkeypatch)
    out = plot_msd(res, tmp_path / "msd.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (ax,) = figs[0].axes
    fit = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(fit) == 1
    t, y = fit[0].get_data()
    t0, t1 = res.fit_window
    assert t.min() >= t0 - 1e-12 and t.max() == pytest.approx(t1)
    np.testing.assert_allclose(y, slope * t + intercept, rtol=1e-9)  # linear, not a power law


def test_msd_plot_of_a_stored_result_refits(rw_traj, tmp_path, monkeypatch):
    """Results stored before the fit line was recorded are refitted from their curve."""
    d = diffusivity(rw_traj, "Li").as_dict()
    d.pop("fit_slope_A2_ps"), d.pop("fit_intercept_A2")
    old = DiffusionResult.from_dict(d)
    assert old.fit_slope_A2_ps is None
    figs = _lines(monkeypatch)
    plot_msd([old], tmp_path / "old.png")
    (fit,) = [ln for ln in figs[0].axes[0].get_lines() if ln.get_linestyle() == "--"]
    t, y = fit.get_data()
    assert np.polyfit(t, y, 1)[0] / 6 * 1e-4 == pytest.approx(old.D, rel=0.02)


def test_arrhenius_plot_file(tmp_path):
    r = fit_arrhenius([600, 800, 1000], [1e-7, 1e-6, 4e-6], [1e-8, 1e-7, 4e-7])
    assert plot_arrhenius(r, tmp_path / "a.png").stat().st_size > 1000


def test_msd_panels_one_per_species_with_window_band_and_title(rw_traj, tmp_path, monkeypatch):
    li, o = diffusivity(rw_traj, "Li"), diffusivity(rw_traj, "O")
    figs = _lines(monkeypatch)
    plot_msd([li, o], tmp_path / "msd.png", title="run.dump, 1200 K")
    fig = figs[0]
    assert fig._suptitle.get_text() == "run.dump, 1200 K"
    ax_li, ax_o = fig.axes
    # one shaded window per panel (not stacked in one axes), at each result's window
    for ax, res in ((ax_li, li), (ax_o, o)):
        (span,) = [p for p in ax.patches if p.get_label() == "fit window"]
        x0 = span.get_x() if hasattr(span, "get_x") else np.min(span.get_xy()[:, 0])
        assert x0 == pytest.approx(res.fit_window[0])
    assert "σ: atoms" in ax_li.get_title() and f"{li.D:.2e}" in ax_li.get_title()
    # the vibrating O: "not diffusive" with its bound, and why it is unreliable
    assert "O: not diffusive, D <" in ax_o.get_title() and "unreliable" in ax_o.get_title()
    # the ±1σ(D) band is drawn around the fit
    assert any(c.get_label() == "±1σ(D)" for c in ax_li.collections)


def test_arrhenius_regimes_plot_draws_both_fits_and_the_vft_curve(tmp_path, monkeypatch):
    from amorphdb.analysis.arrhenius import BOLTZMANN_EV_K as KB
    from amorphdb.analysis.errors import AnalysisError
    from amorphdb.analysis.plots import plot_arrhenius_regimes
    from amorphdb.analysis.regimes import fit_arrhenius_regimes

    tg = np.array([500.0, 600, 700])
    tm = np.linspace(900, 2000, 6)
    dg = 1e-2 * np.exp(-0.7 / (KB * tg))
    dm = 1e-3 * np.exp(-2500 / (tm - 450))  # VFT-curved melt
    T, D = np.r_[tg, tm], np.r_[dg, dm]
    noise = np.exp(0.02 * np.random.default_rng(2).standard_normal(T.size))
    fits = fit_arrhenius_regimes(T, D * noise, 0.02 * D, ["glass"] * 3 + ["melt"] * 6)
    assert fits.curved("melt")
    figs = _lines(monkeypatch)
    out = plot_arrhenius_regimes(fits, tmp_path / "arr.png", [450.0], [1e-9], ["glass"], "D(Li)")
    assert out.stat().st_size > 1000
    labels = [ln.get_label() for ln in figs[0].axes[0].get_lines()]
    assert any(lab.startswith("VFT melt") for lab in labels)
    assert sum(lab.startswith("Ea = ") for lab in labels) == 2
    with pytest.raises(AnalysisError, match="does not exist"):
        plot_arrhenius_regimes(fits, tmp_path / "no" / "a.png", mkdir=False)
    with pytest.raises(AnalysisError, match="unknown image type"):
        plot_arrhenius_regimes(fits, tmp_path / "a.xyz")
