"""``amorphdb ml``: dataset → train → predict → report, exit codes and one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ml"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from store_factories import make_amorphous
from synthetic_glasses import glass_table

from amorphdb.cli import main
from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB

SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "data" / "li_oxide_glasses.csv"


@pytest.fixture
def glasses_csv(tmp_path):
    path = tmp_path / "glasses.csv"
    glass_table(formers=("SiO2", "GeO2")).to_csv(path, index=False)
    return path


def test_dataset_from_store(tmp_path):
    with AmorphousDB.from_config(StoreConfig(path=tmp_path / "db")) as db:
        for i, t in enumerate((1000.0, 1500.0, 2000.0)):
            db.upsert_amorphous(make_amorphous(temperature_K=t, D_Li=1e-6 * 10**i, seed=i))
        bad = make_amorphous(temperature_K=2500.0, D_Li=1e-3, seed=5)
        bad.diffusion["Li"].reliable = False
        db.upsert_amorphous(bad)
    out = tmp_path / "out" / "t.csv"
    args = ["ml", "dataset", "--store", str(tmp_path / "db"), "--campaign", "test", "-o", str(out)]
    assert main(args) == 0
    table = pd.read_csv(out)
    assert table["log10_D"].tolist() == pytest.approx([-6, -5, -4])
    assert table["Si_O_coordination"].tolist() == [4.0] * 3  # the record's descriptor
    prov = json.loads((tmp_path / "out" / "t.provenance.json").read_text())
    assert prov["table"] == "t.csv" and prov["rows"] == 3
    assert prov["left_out"] == {"unreliable": 1} and prov["potentials"] == ["pedone2006"]
    nothing = tmp_path / "none.csv"
    args = [
        "ml",
        "dataset",
        "--store",
        str(tmp_path / "db"),
        "--campaign",
        "nope",
        "-o",
        str(nothing),
    ]
    assert main(args) == 2
    assert not nothing.exists()


def test_train_predict_round_trip(glasses_csv, tmp_path, capsys):
    model = tmp_path / "m.joblib"
    assert main(["ml", "train", str(glasses_csv), "--kind", "sisso", "-o", str(model)]) == 0
    out = capsys.readouterr().out
    assert "sisso on 160 rows, 40 compositions" in out and "log10_D = " in out
    new = tmp_path / "new.csv"
    pd.DataFrame(
        {"formula": ["Li2O(SiO2)2", "Li2O(B2O3)2"], "temperature_K": [1500.0, 1500.0]}
    ).to_csv(new, index=False)
    pred = tmp_path / "pred.csv"
    assert main(["ml", "predict", str(model), str(new), "-o", str(pred)]) == 0
    got = pd.read_csv(pred)
    assert got["in_domain"].tolist() == [True, False]
    truth = -2.5 - 1.5 * (1 - 2 * 2 / 9) * 1000 / 1500
    assert got["log10_D"].iloc[0] == pytest.approx(truth, abs=0.15)
    assert (got["log10_D_low"] < got["log10_D"]).all() and (
        got["log10_D"] < got["log10_D_high"]
    ).all()
    assert "1 row(s) outside the training domain" in capsys.readouterr().err
    assert main(["ml", "predict", str(model), str(new)]) == 0  # printed table
    assert "Li2O(SiO2)2" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "svm"], "unknown model kind 'svm'"),
        (["--drop", "temperature_K"], "no column 'temperature_K'"),
        (["--nan"], "row 2 "),
        (["--bad-formula"], "Li2Qq"),
        (["--missing"], "does not exist"),
    ],
)
def test_train_bad_input_exit_2_nothing_written(glasses_csv, tmp_path, capsys, args, message):
    table = pd.read_csv(glasses_csv)
    data = tmp_path / "bad.csv"
    kind = "random_forest"
    if args[0] == "--kind":
        kind = args[1]
    elif args[0] == "--drop":
        table = table.drop(columns=args[1])
    elif args[0] == "--nan":
        table.loc[2, "log10_D"] = np.nan
    elif args[0] == "--bad-formula":
        table.loc[7, "formula"] = "Li2Qq"
    if args[0] != "--missing":
        table.to_csv(data, index=False)
    model = tmp_path / "m.joblib"
    assert main(["ml", "train", str(data), "--kind", kind, "-o", str(model)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not model.exists()


def test_predict_refuses_a_foreign_model_file(glasses_csv, tmp_path, capsys):
    junk = tmp_path / "m.joblib"
    junk.write_bytes(b"\x00not joblib")
    assert main(["ml", "predict", str(junk), str(glasses_csv)]) == 2
    assert "not an amorphdb model file" in capsys.readouterr().err


def test_report_on_synthetic_table(glasses_csv, tmp_path, capsys):
    out = tmp_path / "rep"
    args = [
        "ml",
        "report",
        str(glasses_csv),
        "--out",
        str(out),
        "--kinds",
        "sisso",
        "--n-splits",
        "4",
    ]
    assert main(args) == 0
    for name in (
        "report.md",
        "report.json",
        "parity.png",
        "cv_grouped_vs_ungrouped.png",
        "importances.png",
        "learning_curve.png",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "report.json").read_text())
    groupings = {c["group_by"]: c for c in summary["cv"]}
    assert set(groupings) == {"formula", "none"}
    assert 0.75 <= groupings["formula"]["coverage"] <= 1.0
    assert groupings["formula"]["r2"] > 0.5
    assert summary["equation"].startswith("log10_D = ")
    assert "| sisso | formula |" in (out / "report.md").read_text()


def test_report_refuses_too_few_compositions(glasses_csv, tmp_path, capsys):
    table = pd.read_csv(glasses_csv)
    small = tmp_path / "small.csv"
    table[table["formula"].isin(table["formula"].unique()[:3])].to_csv(small, index=False)
    out = tmp_path / "rep"
    assert main(["ml", "report", str(small), "--out", str(out)]) == 2
    assert "3 compositions, fewer than n_splits=5" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_report_on_the_shipped_data_set(tmp_path):
    table = pd.read_csv(SHIPPED)
    assert table["formula"].nunique() >= 10 and set(table["potential"]) == {"pedone2006"}
    out = tmp_path / "rep"
    assert main(["ml", "report", str(SHIPPED), "--out", str(out)]) == 0
    summary = json.loads((out / "report.json").read_text())
    assert {c["kind"] for c in summary["cv"]} == {"random_forest", "xgboost", "sisso"}
    assert all(np.isfinite(c["rmse"]) and c["rmse"] < 1.0 for c in summary["cv"])
