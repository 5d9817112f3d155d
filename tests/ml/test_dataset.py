"""Records in a real (embedded) store → the learning table and its provenance."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from store_factories import make_amorphous

from amorphdb.ml import DataError, DiffusivityModel
from amorphdb.ml.columns import extra_feature_columns
from amorphdb.ml.dataset import descriptor_columns, records_table
from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB

LPO = {"Li": 3, "P": 3, "O": 9}


def populate(db: AmorphousDB) -> None:
    """Two glasses at three anneal temperatures, one unreliable D, one melt, one failure."""
    for i, (counts, t, d) in enumerate(
        [
            (None, 1000.0, 2e-6),
            (None, 1500.0, 2e-5),
            (None, 2000.0, 8e-5),
            (LPO, 1000.0, 5e-6),
            (LPO, 1500.0, 4e-5),
            (LPO, 2000.0, 1e-4),
        ]
    ):
        doc = make_amorphous(counts, temperature_K=t, D_Li=d, seed=i)
        doc.descriptors = {
            "stage": "anneal",
            "coordination": {"Li-O": 4.0 + i / 10, "Li-O_std": 0.3},
            "Qn": {"Q4": 0.5},
            "volume_equilibration": {"converged": True, "pressure_kbar": 1.0},
            "rdf_cutoffs_A": [2.6, 3.1],
        }
        db.upsert_amorphous(doc)
    bad = make_amorphous(temperature_K=1250.0, D_Li=3e-6, seed=10)
    bad.diffusion["Li"].reliable = False
    bad.diffusion["Li"].reason = "fewer than 10 jumps"
    db.upsert_amorphous(bad)
    melt = make_amorphous(temperature_K=5000.0, D_Li=1e-3, seed=11)
    melt.descriptors = {"stage": "melt"}
    db.upsert_amorphous(melt)
    db.upsert_amorphous(make_amorphous(temperature_K=2500.0, state="failed", D_Li=None, seed=12))
    db.upsert_amorphous(make_amorphous(campaign="other", temperature_K=1800.0, seed=13))


@pytest.fixture
def db(tmp_path):
    with AmorphousDB.from_config(StoreConfig(path=tmp_path / "db")) as db:
        populate(db)
        yield db


def test_table_rows_columns_and_provenance(db):
    table, prov = records_table(db, campaign="test")
    assert len(table) == 6
    assert table["formula"].tolist() == ["Li2Si2O5"] * 3 + ["LiPO3"] * 3
    assert table["temperature_K"].tolist() == [1000.0, 1500.0, 2000.0] * 2
    assert table["log10_D"].iloc[0] == pytest.approx(math.log10(2e-6))
    # make_amorphous stores σ_D = 0.1 D: σ(log10 D) = 0.1 / ln 10
    assert table["log10_D_std"].iloc[0] == pytest.approx(0.1 / math.log(10))
    assert table["coordination_Li-O"].tolist() == pytest.approx([4.0, 4.1, 4.2, 4.3, 4.4, 4.5])
    assert "coordination_Li-O_std" not in table and "Qn_Q4" in table
    assert not any(c.startswith("volume_equilibration") for c in table.columns)
    assert table["density_g_cm3"].iloc[0] == pytest.approx(2.3, rel=1e-3)
    assert set(table["engine"]) == {"lammps"} and set(table["potential"]) == {"pedone2006"}
    assert table["key"].iloc[0] == "test|Li2Si2O5|1000|p1"
    assert prov["records_read"] == 8  # the failed record is not read
    assert prov["left_out"] == {"unreliable": 1, "melt": 1}
    assert prov["compositions"] == 2 and prov["campaigns"] == ["test"]
    assert prov["protocol_hashes"] == ["p1"] and prov["temperatures_K"] == [1000.0, 1500.0, 2000.0]


def test_options_keep_unreliable_and_melt_rows(db):
    table, prov = records_table(db, campaign="test", include_unreliable=True, include_melt=True)
    assert len(table) == 8 and prov["left_out"] == {}
    row = table[table["temperature_K"] == 1250.0].iloc[0]
    assert not row["reliable"] and row["reason"] == "fewer than 10 jumps"
    everything, _ = records_table(db)
    assert set(everything["campaign"]) == {"test", "other"}


def test_descriptor_columns_become_features(db):
    table, _ = records_table(db, campaign="test")
    model = DiffusivityModel(kind="sisso", calibration_splits=2).fit(table)
    assert {"coordination_Li-O", "density_g_cm3"} <= set(model.feature_names)
    excluded = {"D_cm2_s", "D_std_cm2_s", "log10_D_std", "timestep_fs", "pressure_mean_kbar"}
    assert not excluded & set(model.feature_names)
    assert "Qn_Q4" in table and "Qn_Q4" not in model.feature_names  # 0.5 on every row


def test_sparse_and_constant_descriptors_are_not_features():
    """Element-pair descriptors defined on few rows (P-O on 1 of 4) and constant columns
    are left out; a descriptor on half the rows or more is kept."""
    table = pd.DataFrame({
        "formula": ["Li2SiO3", "Li2Si2O5", "Li4SiO4", "LiPO3"],
        "temperature_K": [1500.0] * 4,
        "log10_D": [-4.0, -4.2, -3.9, -4.5],
        "cn_Si-O": [4.0, 4.1, 3.9, None],
        "cn_P-O": [None, None, None, 4.0],
        "cn_Li-O_half": [3.8, 4.0, None, None],
        "sq_q0_inv_A": [0.5] * 4,
    })
    assert extra_feature_columns(table) == ["cn_Si-O", "cn_Li-O_half"]


def test_no_usable_record_is_one_clear_error(db):
    with pytest.raises(DataError, match="no usable Li diffusivity in campaign 'none'"):
        records_table(db, campaign="none")
    with pytest.raises(DataError, match=r"no usable Na diffusivity .*8 completed record\(s\)"):
        records_table(db, campaign="test", species="Na")


def test_flattening_skips_bookkeeping_sigma_and_lists():
    cols = descriptor_columns(
        {"stage": "anneal", "N4": {"B": 0.4}, "rdf": [1, 2], "x_sigma": 1.0, "ok": True, "p": 2}
    )
    assert cols == {"N4_B": 0.4, "p": 2.0}


def test_replicated_records_give_the_average_row_only(tmp_path):
    """A replicated protocol stores each replica and their average: the table holds one row
    per temperature, the average (two replicas at 3e-5 and 5e-5 → the stored mean 4e-5)."""
    with AmorphousDB.from_config(StoreConfig(path=tmp_path / "db")) as db:
        for i, d in enumerate([3e-5, 5e-5]):
            db.upsert_amorphous(
                make_amorphous(temperature_K=1500.0, D_Li=d, seed=i, protocol_hash=f"r{i}",
                               replica=i)
            )
        db.upsert_amorphous(
            make_amorphous(temperature_K=1500.0, D_Li=4e-5, seed=5, protocol_hash="avg",
                           replicas=2)
        )
        table, prov = records_table(db, campaign="test")
    assert len(table) == 1 and prov["records_read"] == 1
    assert table["log10_D"].iloc[0] == pytest.approx(math.log10(4e-5))
    assert table["protocol_hash"].iloc[0] == "avg"
