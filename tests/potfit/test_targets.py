"""The shipped target table, the Dell–Bray–Xiao alternative and the losses."""

import math

import pytest

from amorphdb.errors import ConfigError
from amorphdb.potfit.config import Mode, N4Source, ObjectiveSettings
from amorphdb.potfit.objective import GlassProperties, combine, glass_losses, n4_target
from amorphdb.potfit.targets import dbx_n4, load_targets, shipped_targets
from amorphdb.structure import parse_composition


def test_shipped_table_has_the_seven_smedskjaer_glasses_with_sources():
    t = shipped_targets()
    assert list(t) == ["6B", "12B", "24B", "37B", "50B", "62B", "75B"]
    assert t["24B"].density_g_cm3 == pytest.approx(2.537476645)
    assert t["24B"].n4 == pytest.approx(0.623)
    assert "ruoxia-c/Borosilicate-Glass-Potential" in t["24B"].source
    comp = parse_composition(t["24B"].formula)
    assert comp.reduced_formula == parse_composition("Na30Ca10B48Si51O199").reduced_formula


def test_dbx_model_matches_the_measured_n4_where_the_model_holds():
    """Dell, Bray & Xiao 1983 with R = (Na2O + CaO)/B2O3: within 0.02 of experiment for
    12B-50B (K <= 8); capped at 1 for 6B (K = 11.5 > 8, outside the model)."""
    t = shipped_targets()
    for label in ("12B", "24B", "37B", "50B"):
        assert abs(dbx_n4(t[label]) - t[label].n4) < 0.02
    assert dbx_n4(t["24B"]) == pytest.approx((8 + 2.125) / 12 * (1 - (25 / 24) / 4.125), 1e-9)
    assert dbx_n4(t["6B"]) == 1.0
    assert n4_target(t["24B"], N4Source.DBX) == dbx_n4(t["24B"])
    assert n4_target(t["24B"], N4Source.MEASURED) == 0.623


def test_missing_composition_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no composition 80B"):
        load_targets(["50B", "80B"])
    table = tmp_path / "t.csv"
    table.write_text("label,Na2O_mol_pct,CaO_mol_pct,B2O3_mol_pct,SiO2_mol_pct,"
                     "density_exp_g_cm3,N4_exp\nA,20,0,80,0,2.2,\n")
    glass = load_targets(["A"], table)["A"]
    assert glass.n4 is None and n4_target(glass, N4Source.MEASURED) == pytest.approx(0.25)


def test_losses_are_rms_relative_density_and_absolute_n4_errors():
    targets = load_targets(["50B", "75B"])
    props = {
        "50B": GlassProperties(2.45333266 * 1.02, 0.01, 0.50958 + 0.1, 0.01, 20),
        "75B": GlassProperties(2.319200049 * 0.98, 0.01, 0.42595 - 0.1, 0.01, 20),
    }
    settings = ObjectiveSettings(compositions=["50B", "75B"], weights={"density": 2, "n4": 1})
    losses = glass_losses(props, targets, settings)
    assert losses["density"] == pytest.approx(0.02)
    assert losses["n4"] == pytest.approx(0.1)
    assert combine(losses, settings) == pytest.approx(2 * 0.02 + 0.1)
    pareto = settings.model_copy(update={"mode": Mode.PARETO})
    assert combine(losses, pareto) == losses
    failed = glass_losses({"50B": props["50B"], "75B": None}, targets, settings)
    assert all(math.isnan(v) for v in failed.values())


def test_glass_from_record_takes_density_sigma_from_the_npt_volume_search():
    from amorphdb.potfit.objective import glass_from_record

    descriptors = {
        "structure": {"density_g_cm3": 2.23, "density_std_g_cm3": 0.0, "n4": {"B": 0.29},
                      "cn_std": {"B-O": 0.035}, "n_frames": 41},
        "volume_equilibration": {"method": "npt", "density_sem_g_cm3": 0.0033},
    }
    glass = glass_from_record(descriptors)
    assert (glass.density_g_cm3, glass.density_std_g_cm3) == (2.23, 0.0033)
    assert (glass.n4, glass.n4_std, glass.n_frames) == (0.29, 0.035, 41)
    assert glass_from_record({"structure": {"density_g_cm3": 2.2}}) is None  # no boron N4
