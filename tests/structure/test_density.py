"""Offline density estimate against measured glass and crystal densities."""

import csv
from pathlib import Path

import pytest

from amorphdb.errors import CompositionError
from amorphdb.structure import DensityModel, estimate_density, estimate_density_details
from amorphdb.structure.density import n4_dell_bray

# Measured room-temperature densities of glasses (g/cm³). SiO2, B2O3: vitreous
# silica and boria; Li2O·2SiO2, Na2O·2SiO2, Li2O·SiO2 as given in issue 2's brief
# (Li2O·SiO2 "2.3–2.4": midpoint used).
OXIDE_GLASSES = {
    "SiO2": 2.20,
    "Li2O·2SiO2": 2.35,
    "Na2O·2SiO2": 2.49,
    "Li2O·SiO2": 2.35,
    "B2O3": 1.84,
}
#: documented accuracy of the oxide model (docs/structure.md)
OXIDE_TOLERANCE = 0.06

TARGETS = Path(__file__).parents[3] / "shared" / "reference" / "borosilicate_targets.csv"


@pytest.mark.parametrize(("formula", "measured"), OXIDE_GLASSES.items())
def test_oxide_glasses(formula, measured):
    estimate = estimate_density_details(formula)
    assert estimate.model is DensityModel.OXIDE_ADDITIVE
    assert abs(estimate.density_g_cm3 / measured - 1) <= OXIDE_TOLERANCE


def _borosilicate_rows():
    # the reference file lives outside the repository; the same seven numbers are
    # embedded here so the test runs on a fresh clone
    embedded = [
        ("6B", 15, 10, 6, 69, 2.530772475),
        ("12B", 15, 10, 12, 63, 2.545140563),
        ("24B", 15, 10, 24, 51, 2.537476645),
        ("37B", 15, 10, 37, 38, 2.51659672),
        ("50B", 15, 10, 50, 25, 2.45333266),
        ("62B", 15, 10, 62, 13, 2.390068601),
        ("75B", 15, 10, 75, 0, 2.319200049),
    ]
    if TARGETS.is_file():
        with TARGETS.open() as handle:
            rows = [
                (
                    r["label"],
                    float(r["Na2O_mol_pct"]),
                    float(r["CaO_mol_pct"]),
                    float(r["B2O3_mol_pct"]),
                    float(r["SiO2_mol_pct"]),
                    float(r["density_exp_g_cm3"]),
                )
                for r in csv.DictReader(handle)
            ]
        assert [r[0] for r in rows] == [r[0] for r in embedded]
        return rows
    return embedded


@pytest.mark.parametrize("row", _borosilicate_rows(), ids=lambda r: r[0])
def test_borosilicate_targets(row):
    _, na2o, cao, b2o3, sio2, measured = row
    parts = [
        f"{n:g}{ox}"
        for n, ox in ((na2o, "Na2O"), (cao, "CaO"), (b2o3, "B2O3"), (sio2, "SiO2"))
        if n > 0
    ]
    rho = estimate_density("+".join(parts))
    # V4(B2O3) was fitted to these seven glasses: this checks the fit stays within 3 %
    assert abs(rho / measured - 1) <= 0.03


def test_boron_coordination_matters():
    # N4 > 0 makes B2O3 denser: 75B glass would be 12 % too light with trigonal B only
    assert n4_dell_bray(0.0, 0.0) == 0.0
    assert n4_dell_bray(1 / 3, 0.0) == pytest.approx(1 / 3)
    assert n4_dell_bray(2.0833, 5.25) == pytest.approx(0.7869, abs=1e-3)  # yun_dell_bray.md
    assert n4_dell_bray(4.1667, 11.5) == 1.0


@pytest.mark.parametrize(
    ("formula", "measured"),
    [("Li2S", 1.66), ("LiF", 2.635), ("NaCl", 2.165)],  # crystals; calibration set
)
def test_ionic_non_oxides(formula, measured):
    estimate = estimate_density_details(formula)
    assert estimate.model is DensityModel.IONIC_PACKING
    assert abs(estimate.density_g_cm3 / measured - 1) <= 0.05


def test_sulfide_electrolyte_and_metallic_glass():
    li3ps4 = estimate_density_details("Li3PS4")
    assert li3ps4.model is DensityModel.IONIC_PACKING
    assert 1.7 < li3ps4.density_g_cm3 < 2.1  # β-Li3PS4 / 75Li2S·25P2S5 glass ≈ 1.87
    cuzr = estimate_density_details("Cu50Zr50")
    assert cuzr.model is DensityModel.ELEMENTAL_ADDITIVE
    assert abs(cuzr.density_g_cm3 / 7.3 - 1) < 0.05  # Cu50Zr50 metallic glass ≈ 7.3


def test_untabulated_oxide_uses_oxygen_volume():
    estimate = estimate_density_details("GeO2")
    assert estimate.model is DensityModel.OXYGEN_VOLUME
    assert abs(estimate.density_g_cm3 / 3.65 - 1) < 0.10  # vitreous GeO2 3.65


def test_density_scales_with_formula_not_amount():
    assert estimate_density("Li4Si4O10") == pytest.approx(estimate_density("Li2Si2O5"))


def test_bad_composition():
    with pytest.raises(CompositionError, match="unknown element"):
        estimate_density("Xx2O")
