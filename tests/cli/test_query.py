"""``amorphdb query``: filters as options, fields/sort/limit, table/JSON/CSV, bad inputs."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from store_factories import make_amorphous, make_arrhenius

from amorphdb.cli import main
from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB


@pytest.fixture
def store(tmp_path):
    """An embedded store folder with five results and two Arrhenius fits."""
    folder = tmp_path / "db"
    with AmorphousDB.from_config(StoreConfig(path=folder)) as db:
        for counts, t, rho, d, seed in [
            ({"Li": 4, "Si": 4, "O": 10}, 1000, 2.30, 1e-6, 1),
            ({"Li": 4, "Si": 4, "O": 10}, 2000, 2.10, 3e-5, 2),
            ({"Li": 6, "B": 2, "O": 6}, 1000, 2.05, 5e-6, 3),
            ({"Li": 6, "P": 2, "S": 8}, 1000, 1.90, 2e-5, 4),
            ({"Na": 4, "Si": 4, "O": 10}, 1000, 2.45, None, 5),
        ]:
            db.upsert_amorphous(
                make_amorphous(counts, temperature_K=t, density=rho, D_Li=d, seed=seed)
            )
        db.upsert_arrhenius(make_arrhenius("Li2Si2O5", Ea=0.65))
        db.upsert_arrhenius(make_arrhenius("Li3PS4", Ea=0.35))
    cfg = tmp_path / "store.yaml"
    cfg.write_text("type: embedded\npath: db\n")
    return cfg


def run_csv(capsys, *args) -> pd.DataFrame:
    assert main(["query", *args, "--format", "csv"]) == 0
    return pd.read_csv(io.StringIO(capsys.readouterr().out))


def test_query_all_default_columns(store, capsys):
    df = run_csv(capsys, "--store", str(store), "--sort", "formula_reduced,temperature_K")
    assert list(df["formula_reduced"]) == [
        "Li2Si2O5",
        "Li2Si2O5",
        "Li3BO3",
        "Li3PS4",
        "Na2Si2O5",
    ]
    assert {"temperature_K", "density_g_cm3", "D_Li", "Ea_Li"} <= set(df.columns)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--chemsys", "S-P-Li"], {("Li3PS4", 1000)}),
        (["--elements", "Li,O"], {("Li2Si2O5", 1000), ("Li2Si2O5", 2000), ("Li3BO3", 1000)}),
        (["--any-elements", "B,S"], {("Li3BO3", 1000), ("Li3PS4", 1000)}),
        (["--exclude-elements", "Li"], {("Na2Si2O5", 1000)}),
        (["--formula", "Li2O(SiO2)2", "--temperature", "2000"], {("Li2Si2O5", 2000)}),
        (["--temperature", "1500:"], {("Li2Si2O5", 2000)}),
        (["--D", "Li:1e-5:"], {("Li2Si2O5", 2000), ("Li3PS4", 1000)}),
        (["--D", "Li::2e-6"], {("Li2Si2O5", 1000)}),
        (["--density", "2.2:2.5"], {("Li2Si2O5", 1000), ("Na2Si2O5", 1000)}),
        (["--ea", ":0.5"], {("Li3PS4", 1000)}),
        (["--ea", "Li:0.5:1"], {("Li2Si2O5", 1000), ("Li2Si2O5", 2000)}),
        (["--campaign", "nope"], set()),
        (["--state", "failed"], set()),
    ],
)
def test_query_filters(store, capsys, args, expected):
    df = run_csv(capsys, "--store", str(store), *args, "--fields", "formula_reduced,temperature_K")
    got = {(r.formula_reduced, int(r.temperature_K)) for r in df.itertuples()}
    assert got == expected


def test_fields_sort_limit_json(store, capsys):
    args = ["query", "--store", str(store), "--fields", "formula_reduced,D_Li,Ea_Li"]
    assert main([*args, "--sort", "-D_Li", "--limit", "2", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"formula_reduced": "Li2Si2O5", "D_Li": 3e-5, "Ea_Li": 0.65},
        {"formula_reduced": "Li3PS4", "D_Li": 2e-5, "Ea_Li": 0.35},
    ]


def test_table_output(store, capsys):
    assert main(["query", "--store", str(store), "--chemsys", "B-Li-O"]) == 0
    out = capsys.readouterr().out
    assert "Li3BO3" in out and "1 result(s)" in out and "5.000e-06" in out


def test_store_env_var(store, capsys, monkeypatch):
    monkeypatch.setenv("AMORPHDB_STORE", str(store))
    df = run_csv(capsys, "--formula", "Li3PS4")
    assert list(df["formula_reduced"]) == ["Li3PS4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fields", "formula,colour"], "unknown field 'colour'"),
        (["--sort", "speed"], "unknown field 'speed'"),
        (["--D", "Li:2e-5"], "malformed D range 'Li:2e-5'"),
        (["--D", "Li:a:b"], "'a' is not a number"),
        (["--density", "2.5:2.2"], "is empty (min > max)"),
        (["--density", "2.5"], "malformed density range"),
        (["--temperature", "hot"], "temperature 'hot' is not a number"),
        (["--formula", "Li2Qq"], "unknown element 'Qq' in 'Li2Qq'"),
        (["--elements", "Li,Kr2"], "unknown element 'Kr2'"),
        (["--state", "done"], "unknown state 'done'"),
        (["--format", "xml"], "unknown format 'xml'"),
        (["--limit", "-1"], "--limit must be >= 0"),
    ],
)
def test_bad_inputs_exit_2_one_line(store, capsys, args, message):
    assert main(["query", "--store", str(store), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.strip().count("\n") == 0


def test_bad_store_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("type: [oops\n")
    assert main(["query", "--store", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_unreachable_mongodb(tmp_path, capsys):
    cfg = tmp_path / "mongo.yaml"
    cfg.write_text("type: mongodb\nhost: 127.0.0.1\nport: 9\ntimeout_ms: 300\n")
    assert main(["query", "--store", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "cannot reach MongoDB at 127.0.0.1:9" in err
