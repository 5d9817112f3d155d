"""Comparison maths on synthetic records with known answers."""

import math

import numpy as np
import pytest

from amorphdb.analysis.descriptors import StructureDescriptors
from amorphdb.compare import compare_records, rdf_r2
from amorphdb.errors import StoreError

R = np.arange(0.03, 6.0, 0.06)


def gauss_rdf(r0: float, width: float = 0.08) -> np.ndarray:
    return 1.0 + 4.0 * np.exp(-((R - r0) ** 2) / (2 * width**2))


def record(formula, T, *, rho, rho_std, cn, cn_std, d_li, d_li_std, r0=1.62, key=""):
    desc = StructureDescriptors(
        n_frames=50, density_g_cm3=rho, density_std_g_cm3=rho_std, rdf_peak_A={"Si-O": r0},
        cn={"Si-O": cn}, cn_std={"Si-O": cn_std}, cn_cutoff_A={"Si-O": 2.3},
        cn_distribution={"Si-O": {"4": 1.0}}, n4={}, qn={}, packing_fraction=0.5,
        rdf_r_A=R, rdf={"O-Si": gauss_rdf(r0), "total": gauss_rdf(r0)},
        sq_q_inv_A=np.arange(1.0, 2.0, 0.5), sq_neutron=np.ones(2), sq_xray=np.ones(2),
    )
    return {
        "_id": key or f"{formula}|{T}", "formula_reduced": formula, "temperature_K": T,
        "density_g_cm3": rho, "descriptors": {"structure": desc.to_dict()},
        "diffusion": {"Li": {"D_cm2_s": d_li, "D_std_cm2_s": d_li_std, "reliable": True}},
    }


def test_rdf_r2_identical_shifted_and_interpolated():
    g = gauss_rdf(1.62)
    assert rdf_r2(R, g, R, g) == 1.0
    # B on a finer grid, same curve: R² ≈ 1 (interpolation only)
    fine = np.arange(0.01, 6.0, 0.02)
    g_fine = 1.0 + 4.0 * np.exp(-((fine - 1.62) ** 2) / (2 * 0.08**2))
    assert rdf_r2(R, g, fine, g_fine) == pytest.approx(1.0, abs=2e-3)
    # a peak shifted by 0.1 Å (more than its width): far from 1
    assert rdf_r2(R, g, R, gauss_rdf(1.72)) < 0.5


def test_ratios_differences_and_sigma_propagation():
    a = [record("Li2SiO3", 2000.0, rho=2.0, rho_std=0.02, cn=4.0, cn_std=0.03,
                d_li=1e-5, d_li_std=1e-6)]
    b = [record("Li2SiO3", 2000.0, rho=2.2, rho_std=0.044, cn=3.9, cn_std=0.04,
                d_li=3e-5, d_li_std=6e-6)]
    ea_a = [{"formula_reduced": "Li2SiO3", "species": "Li", "Ea_eV": 0.60, "Ea_std_eV": 0.03}]
    ea_b = [{"formula_reduced": "Li2SiO3", "species": "Li", "Ea_eV": 0.45, "Ea_std_eV": 0.04}]
    cmp = compare_records(a, b, ea_a, ea_b, "lammps", "chgnet")
    (p,) = cmp.points
    assert p.rdf_r2 == 1.0 and p.rdf_r2_partial == {"O-Si": 1.0}
    assert p.density_ratio == pytest.approx(1.1)
    assert p.density_ratio_std == pytest.approx(1.1 * math.hypot(0.01, 0.02))
    assert p.cn_diff["Si-O"] == pytest.approx(-0.1)
    assert p.cn_diff_std["Si-O"] == pytest.approx(0.05)  # 3-4-5
    assert p.D_ratio["Li"] == pytest.approx(3.0)
    assert p.D_ratio_std["Li"] == pytest.approx(3.0 * math.hypot(0.1, 0.2))
    (e,) = cmp.arrhenius
    assert e.Ea_diff_eV == pytest.approx(-0.15) and e.Ea_diff_std_eV == pytest.approx(0.05)
    row = cmp.table("Li")[0]
    assert row["dEa_Li_eV"] == pytest.approx(-0.15) and row["D_Li_B/A"] == pytest.approx(3.0)


def test_matching_unmatched_and_missing_descriptors():
    a = [record("Li2SiO3", 2000.0, rho=2.0, rho_std=0.0, cn=4, cn_std=0, d_li=1e-5,
                d_li_std=1e-6),
         record("Li2SiO3", 3000.0, rho=2.0, rho_std=0.0, cn=4, cn_std=0, d_li=1e-5,
                d_li_std=1e-6)]
    b0 = record("Li2SiO3", 2000.4, rho=2.0, rho_std=0.0, cn=4, cn_std=0, d_li=1e-5,
                d_li_std=1e-6)
    b0["descriptors"] = {}  # an old record: density and D only
    b = [b0, record("Li2Si2O5", 2000.0, rho=2.0, rho_std=0.0, cn=4, cn_std=0, d_li=1e-5,
                    d_li_std=1e-6)]
    cmp = compare_records(a, b)
    assert [(p.formula, p.temperature_K) for p in cmp.points] == [("Li2SiO3", 2000.0)]
    assert cmp.unmatched_a == ["Li2SiO3@3000K"] and cmp.unmatched_b == ["Li2Si2O5@2000K"]
    (p,) = cmp.points
    assert p.rdf_r2 is None and "amorphdb db backfill" in p.notes[0]
    assert p.density_ratio == 1.0 and p.density_ratio_std is None and p.D_ratio["Li"] == 1.0


def test_two_records_at_one_point_are_refused():
    r = record("Li2SiO3", 2000.0, rho=2.0, rho_std=0.0, cn=4, cn_std=0, d_li=1e-5,
               d_li_std=1e-6)
    with pytest.raises(StoreError, match="two records for Li2SiO3 at 2000 K"):
        compare_records([r, dict(r, _id="other")], [r])


def test_ea_difference_sigma_in_quadrature_stated_and_scaled():
    """Known Ea on each side: ΔEa = 0.52 − 0.40 = +0.12 eV, σ = √(0.05² + 0.12²) = 0.13."""
    r = record("Li2SiO3", 2000.0, rho=2.0, rho_std=0.0, cn=4, cn_std=0, d_li=1e-5,
               d_li_std=1e-6)
    ea_a = [{"formula_reduced": "Li2SiO3", "species": "Li", "Ea_eV": 0.40, "Ea_std_eV": 0.05,
             "Ea_std_scaled_eV": 0.03}]
    ea_b = [{"formula_reduced": "Li2SiO3", "species": "Li", "Ea_eV": 0.52, "Ea_std_eV": 0.12,
             "Ea_std_scaled_eV": 0.04}]
    (e,) = compare_records([r], [r], ea_a, ea_b).arrhenius
    assert e.Ea_diff_eV == pytest.approx(0.12)
    assert e.Ea_diff_std_eV == pytest.approx(0.13)
    assert e.Ea_diff_std_scaled_eV == pytest.approx(0.05)
    assert e.note is None


def test_ea_difference_missing_side_says_why():
    """CHGNet-like B: its 2000 K D is unreliable, so it has no fit; the note says so."""
    a = [record("Li2SiO3", t, rho=2.0, rho_std=0.0, cn=4, cn_std=0, d_li=d, d_li_std=0.1 * d)
         for t, d in ((2000.0, 1e-5), (3000.0, 4e-5))]
    b = [record("Li2SiO3", t, rho=2.1, rho_std=0.0, cn=4, cn_std=0, d_li=d, d_li_std=0.1 * d)
         for t, d in ((2000.0, 6e-6), (3000.0, 3e-5), (5000.0, 1e-3))]
    b[0]["diffusion"]["Li"].update(reliable=False, reason="MSD < half a hop")
    b[2]["diffusion"]["Li"].update(reliable=False, reason="fewer than 10 lags")
    b[2]["descriptors"]["stage"] = "melt"  # never in Ea: not named in the note
    a.append(dict(b[2], _id="a-melt"))
    ea_a = [{"formula_reduced": "Li2SiO3", "species": "Li", "Ea_eV": 0.36, "Ea_std_eV": 0.13}]
    ea_b = [{"formula_reduced": "Li2SiO3", "species": "Li", "Ea_eV": None,
             "error": "1 reliable D value(s) (glass: 1 temperature(s); a fit needs 2)"}]
    cmp = compare_records(a, b, ea_a, ea_b, "lammps", "chgnet")
    (e,) = cmp.arrhenius
    assert e.Ea_a_eV == 0.36 and e.Ea_b_eV is None
    assert e.Ea_diff_eV is None and e.Ea_diff_std_eV is None
    assert e.note.startswith("chgnet: no Arrhenius fit, D_Li unreliable at 2000 K (MSD < half")
    assert "5000 K" not in e.note and "1 reliable D value(s)" in e.note
    # a side with no Arrhenius document at all
    (e,) = compare_records(a, b, ea_a, [], "lammps", "chgnet").arrhenius
    assert e.note == "chgnet: no Arrhenius record for Li"
    assert cmp.table("Li")[0]["dEa_Li_eV"] is None
