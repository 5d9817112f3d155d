"""``amorphdb compare`` on an embedded store filled with records built in code (known Ea)."""

import json
import math

import pytest

from amorphdb.analysis.arrhenius import BOLTZMANN_EV_K as KB
from amorphdb.cli import main
from amorphdb.store import open_database
from amorphdb.store.schemas import AmorphousDoc, ArrheniusDoc, DiffusionSummary
from tests.store.store_factories import random_structure

COUNTS = {"Li": 8, "Si": 4, "O": 12}  # Li2SiO3


def summary(campaign: str, T: float, d: float, *, reliable: bool = True) -> AmorphousDoc:
    li = DiffusionSummary(D_cm2_s=d, D_std_cm2_s=0.1 * d, reliable=reliable,
                          reason="" if reliable else "MSD < half a hop")
    return AmorphousDoc.from_structure(
        random_structure(COUNTS, 2.2), campaign=campaign, temperature_K=T,
        protocol_hash="p", state="completed", diffusion={"Li": li},
    )


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "store.yaml"
    path.write_text(f"type: embedded\npath: {tmp_path / 'db'}\n")
    with open_database(path) as db:
        for campaign, ea, sea in (("ref", 0.40, 0.05), ("alt", 0.52, 0.12), ("bad", None, None)):
            for T, d in ((2000.0, 1e-5), (3000.0, 4e-5)):
                db.upsert_amorphous(summary(campaign, T, d, reliable=not (
                    campaign == "bad" and T == 2000.0)))
            db.upsert_arrhenius(ArrheniusDoc(
                campaign=campaign, formula="Li2SiO3", species="Li", Ea_eV=ea, Ea_std_eV=sea,
                D0_cm2_s=None if ea is None else 1e-5 * math.exp(ea / (KB * 2000.0)),
                temperatures_K=[2000.0, 3000.0] if ea else [3000.0],
                error=None if ea else "1 reliable D value(s); a fit needs 2",
            ))
    return str(path)


def test_cli_json_and_table_give_delta_ea_with_sigma(store, capsys):
    assert main(["compare", "ref", "alt", "--store", store, "--json"]) == 0
    (e,) = json.loads(capsys.readouterr().out)["arrhenius"]
    assert e["Ea_diff_eV"] == pytest.approx(0.12)
    assert e["Ea_diff_std_eV"] == pytest.approx(math.hypot(0.05, 0.12))  # 0.13
    assert main(["compare", "ref", "alt", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "ΔEa_Li Li2SiO3: +0.12 ± 0.13 eV; A 0.40 ± 0.05, B 0.52 ± 0.12" in out


def test_cli_names_the_side_without_a_fit(store, capsys, tmp_path):
    prefix = tmp_path / "cmp"
    assert main(["compare", "ref", "bad", "--store", store, "--json", "--plot", str(prefix)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plots"] == [str(tmp_path / "cmp-D.png"), str(tmp_path / "cmp-arrhenius.png")]
    assert (tmp_path / "cmp-arrhenius.png").stat().st_size > 10_000
    (e,) = out["arrhenius"]
    assert e["temperatures_a_K"] == [2000.0, 3000.0] and e["temperatures_b_K"] == [3000.0]
    assert e["Ea_diff_eV"] is None and e["Ea_diff_std_eV"] is None
    assert "no Arrhenius fit, D_Li unreliable at 2000 K (MSD < half a hop)" in e["note"]
    assert main(["compare", "ref", "bad", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "ΔEa_Li Li2SiO3: — (bad (" in out and "no Arrhenius fit" in out


def test_replicated_campaign_is_compared_through_its_averages(tmp_path, capsys):
    """Each replica's record sits beside the average at the same (formula, T): compare
    takes the average (replicas 2e-5 and 4e-5, stored mean 3e-5 → D ratio 3 against 1e-5)."""
    path = tmp_path / "store.yaml"
    path.write_text(f"type: embedded\npath: {tmp_path / 'db'}\n")
    with open_database(path) as db:
        db.upsert_amorphous(summary("ref", 2000.0, 1e-5))
        for i, d in enumerate((2e-5, 4e-5)):
            doc = summary("rep", 2000.0, d).model_copy(update={"replica": i,
                                                               "protocol_hash": f"r{i}"})
            db.upsert_amorphous(doc)
        avg = summary("rep", 2000.0, 3e-5).model_copy(update={"replicas": 2,
                                                             "protocol_hash": "avg"})
        db.upsert_amorphous(avg)
    assert main(["compare", "ref", "rep", "--store", str(path), "--json"]) == 0
    (point,) = json.loads(capsys.readouterr().out)["points"]
    assert point["D_ratio"]["Li"] == pytest.approx(3.0)
