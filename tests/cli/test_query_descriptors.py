"""``amorphdb query --fields`` shows the structure descriptors ``--where`` filters on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from store_factories import crystal_record, make_amorphous

from amorphdb.cli import main
from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """α-quartz and Li2SiO3 records with their real descriptors, and one record without."""
    folder = tmp_path_factory.mktemp("desc") / "db"
    with AmorphousDB.from_config(StoreConfig(path=folder)) as db:
        db.upsert_amorphous(crystal_record("SiO2"))
        db.upsert_amorphous(crystal_record("Li2SiO3"))
        db.upsert_amorphous(make_amorphous({"Na": 2, "O": 1}, temperature_K=1000))
    return str(folder)


def test_fields_show_descriptor_columns(store, capsys):
    fields = "formula_reduced,cn.Si-O,qn.Si.Q4,qn.Si.Q2,packing_fraction,density_g_cm3"
    assert main(["query", "--store", store, "--elements", "Si", "--fields", fields,
                 "--sort", "formula_reduced", "--json"]) == 0  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert [list(r) for r in rows] == [fields.split(",")] * 2
    meta, quartz = rows
    assert (meta["formula_reduced"], meta["cn.Si-O"], meta["qn.Si.Q2"]) == ("Li2SiO3", 4.0, 1.0)
    assert meta["qn.Si.Q4"] is None  # chains: no Q4
    assert (quartz["cn.Si-O"], quartz["qn.Si.Q4"]) == (4.0, 1.0)
    assert quartz["density_g_cm3"] == pytest.approx(2.649, abs=0.002)
    assert 0.5 < quartz["packing_fraction"] < 0.6  # Shannon radii in α-quartz: 0.549


def test_where_and_fields_name_the_same_descriptor(store, capsys):
    assert main(["query", "--store", store, "--where", "qn.Si.Q4:0.9:", "--fields",
                 "formula_reduced,qn.Si.Q4", "--format", "csv"]) == 0  # fmt: skip
    assert capsys.readouterr().out.splitlines() == ["formula_reduced,qn.Si.Q4", "SiO2,1.0"]
    # a group gives every column under it
    assert main(["query", "--store", store, "--formula", "Li2SiO3", "--fields", "cn",
                 "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out) == [{"cn.Li-O": 4.0, "cn.Si-O": 4.0}]


def test_wrong_field_is_one_line_listing_valid_names(store, capsys):
    assert main(["query", "--store", store, "--elements", "Si", "--fields", "cn.Si-X"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "no matching record has descriptor 'cn.Si-X'" in err
    assert "cn.Li-O, cn.Si-O" in err and "qn.Si.Q4" in err
    assert main(["query", "--store", store, "--fields", "formula,coordination"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown field 'coordination'" in err
    assert "cn.<El>-<El>" in err and "qn.<El>.Q<n>" in err and "packing_fraction" in err
    # records without descriptors: the fix is named
    assert main(["query", "--store", store, "--formula", "Na2O", "--fields", "cn.Na-O"]) == 2
    assert "amorphdb db backfill" in capsys.readouterr().err
