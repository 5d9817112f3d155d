"""The results table of ``amorphdb run`` fits 80 columns: one line per row, σ compact,
flags as codes with a legend, the replica spread when rows average replicas."""

import io

import pytest
from rich.console import Console

from amorphdb.campaign import campaign_from_dict
from amorphdb.cli.results import compact, row_flags
from amorphdb.cli.run import results_table
from amorphdb.flows.replicas import average_replicas
from amorphdb.store import StoreConfig, open_database
from amorphdb.store.schemas import AmorphousDoc, ArrheniusDoc, DiffusionSummary


@pytest.mark.parametrize(
    ("value", "sigma", "sci", "text"),
    [(2.3456, 0.0123, False, "2.346(12)"), (2.35, 0.004, False, "2.350(4)"),
     (8.21e-5, 1.3e-5, True, "8.2(13)e-5"), (1.17e-4, 4.0e-6, True, "1.17(4)e-4"),
     (3.3e-6, 5e-6, True, "3(5)e-6"), (1.88e-5, 3e-6, True, "1.9(3)e-5"),  # 0.2999…
     (1.0, 0.0996, False, "1.00(10)"), (2.0, None, False, "2.00"), (None, 1.0, True, "—")],
)
def test_compact_uncertainty_notation(value, sigma, sci, text):
    assert compact(value, sigma, sci) == text


def _doc(formula, t, *, stage="anneal", replica=None, d_li=1.2345e-5, reliable=True,
         caged=True, converged=True, density=2.3456):
    return AmorphousDoc(
        campaign="demo-campaign", formula=formula, temperature_K=t, protocol_hash=f"h{replica}",
        nsites=108, density_g_cm3=density, pressure_mean_kbar=-112.4, replica=replica,
        diffusion={"Li": DiffusionSummary(D_cm2_s=d_li, D_std_cm2_s=2.1e-6, reliable=reliable),
                   "Si": DiffusionSummary(D_cm2_s=1e-9, D_std_cm2_s=1e-9, caged=caged),
                   "O": DiffusionSummary(D_cm2_s=1e-9, D_std_cm2_s=1e-9, caged=caged)},
        descriptors={"stage": stage, "volume_equilibration": {
            "converged": converged, "density_sem_g_cm3": 0.0123}},
    )


@pytest.fixture
def campaign_db(tmp_path):
    db = open_database(StoreConfig(path=tmp_path / "db"))
    reps = [_doc("Li2Si2O5", 1000.0, replica=i, d_li=(1 + 2 * i) * 1e-5, density=2.3 + 0.1 * i)
            for i in range(2)]
    rows = [
        *reps, average_replicas(reps, "hx2"),
        _doc("Li2Si2O5", 3000.0, stage="melt", caged=False),
        _doc("Li2Si2O5", 300.0, stage="glass"),
        _doc("Li4SiO4", 1500.0, reliable=False, converged=False),
        _doc("Na2O(B2O3)2(SiO2)5", 2500.0),
    ]
    for doc in rows:
        db.upsert_amorphous(doc)
    regimes = {name: {"Ea_eV": 0.3912, "Ea_std_eV": 0.0312, "Ea_std_scaled_eV": 0.0105,
                      "temperatures_K": [1000.0, 1500.0, 2000.0], "curved": name == "melt"}
               for name in ("glass", "melt")}
    db.upsert_arrhenius(ArrheniusDoc(campaign="demo-campaign", formula="Li2Si2O5",
                                     species="Li", Ea_eV=0.3912, regimes=regimes))
    spec = campaign_from_dict({"name": "demo-campaign", "compositions": ["Li2Si2O5"],
                               "store": str(tmp_path / "store.yaml")})
    return spec, db


def _render(renderable, monkeypatch) -> list[str]:
    monkeypatch.setenv("COLUMNS", "80")
    buf = io.StringIO()
    Console(file=buf, force_terminal=False).print(renderable)  # width from $COLUMNS
    return [line.strip() for line in buf.getvalue().splitlines()]


def test_results_fit_80_columns_one_line_per_row(campaign_db, monkeypatch):
    spec, db = campaign_db
    monkeypatch.setenv("COLUMNS", "80")
    buf = io.StringIO()
    Console(file=buf).print(results_table(spec, "Li", db))
    assert max(len(line) for line in buf.getvalue().splitlines()) <= 80, buf.getvalue()
    lines = [line.strip() for line in buf.getvalue().splitlines()]
    rows = [line for line in lines if line.startswith(("Li", "Na"))]
    # one line per summary (replicas hidden: their average only), nothing cut
    assert [r.split()[:2] for r in rows[:5]] == [
        ["Li2Si2O5", "300"], ["Li2Si2O5", "1000"], ["Li2Si2O5", "3000"], ["Li4SiO4", "1500"],
        ["Na2Si5B4O17", "2500"]]
    assert "…" not in "\n".join(lines)
    glass, avg, melt, bad, boro = rows[:5]
    assert boro.split()[-2:] == ["1.23(21)e-5", "f"]
    assert "300 glass" in glass and "2.346(12)" in glass and "1.23(21)e-5" not in glass
    assert "3000 melt" in melt and melt.split()[-2:] == ["-112", "1.23(21)e-5"]
    # the replica average: means, σ = max(SEM, stated), spread of D across replicas
    assert "2.35(5)" in avg and "2.0(10)e-5" in avg and "2:±71%" in avg
    assert avg.split()[-2] == "fr"  # frozen network, replicas disagree
    assert bad.split()[-1] == "ufv"  # unreliable D, frozen, volume unconverged
    legend = " ".join(lines)
    for code in ("u D unreliable", "f frozen network", "v volume search", "r replicas"):
        assert code in legend
    # Ea per regime with both σ, in its own table
    ea = [line.split() for line in lines[7:] if line.startswith("Li2Si2O5")]
    assert ea == [["Li2Si2O5", "glass", "0.39", "0.03", "0.01", "1000–2000"],
                  ["Li2Si2O5", "melt", "0.39", "0.03", "0.01", "1000–2000", "curved"]]


def test_all_replicas_shows_each_replica_row(campaign_db, monkeypatch):
    spec, db = campaign_db
    lines = _render(results_table(spec, "Li", db, all_replicas=True), monkeypatch)
    assert max(len(line) for line in lines) <= 80
    at_1000 = [line.split() for line in lines if line.split()[:2] == ["Li2Si2O5", "1000"]]
    assert [r[-1] for r in at_1000] == ["2:±71%", "#0", "#1"]
    assert at_1000[1][4] == "1.00(21)e-5" and at_1000[2][4] == "3.00(21)e-5"


def test_row_flags_codes():
    assert row_flags(_doc("Li2O", 1000.0, caged=False), "Li") == ""
    assert row_flags(_doc("Li2O", 1000.0, reliable=False, caged=False), "Li") == "u"


def test_query_command_shows_the_average_unless_all_replicas(campaign_db, tmp_path, capsys):
    import json

    from amorphdb.cli import main

    _, db = campaign_db
    db.close()
    store = tmp_path / "store.yaml"
    store.write_text(f"type: embedded\npath: {tmp_path / 'db'}\n")
    fields = ["--fields", "formula_reduced,temperature_K,replica,replicas,D_Li", "--json"]
    assert main(["query", "--store", str(store), "-T", "1000", *fields]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["replica"], r["replicas"]) for r in rows] == [(None, 2)]
    assert rows[0]["D_Li"] == pytest.approx(2e-5)
    assert main(["query", "--store", str(store), "-T", "1000", "--all-replicas",
                 "--sort", "replica", *fields]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["replica"] is None, r["replica"]) for r in rows) == [
        (False, 0), (False, 1), (True, None)]


@pytest.mark.slow
def test_run_with_two_replicas_end_to_end(tmp_path, capsys, monkeypatch):
    """``amorphdb run`` with ``replicas: 2`` (real LAMMPS, 36 atoms): the local launcher
    completes the composition, the store holds each replica and the averages, and the
    80-column table shows one row per temperature with the replica spread."""
    from amorphdb.cli import main
    from tests.campaign.conftest import TINY_PROTOCOL, tiny_campaign_file

    monkeypatch.setenv("COLUMNS", "80")
    path = tiny_campaign_file(tmp_path, protocol={**TINY_PROTOCOL, "replicas": 2})
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80, out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("Li2Si2O5")]
    table = [r for r in rows if r[1] in ("1500", "2500", "5000")]
    assert [r[1] for r in table] == ["1500", "2500", "5000"]
    assert all(r[-1].startswith("2:±") or r[-1] == "2" for r in table), out
    db = open_database(tmp_path / "store.yaml")
    assert db.get_campaign("tiny", "Li2Si2O5").state == "completed"
    docs = db.find(campaign="tiny")
    assert sorted((d.temperature_K, d.replica is None) for d in docs).count((1500.0, True)) == 1
    assert len(docs) == 9 and len(db.find(campaign="tiny", hide_replicas=True)) == 3
    [arr] = db.find_arrhenius(campaign="tiny", species="Li")
    averages = {d.temperature_K: d for d in db.find(campaign="tiny", hide_replicas=True)}
    assert arr.protocol_hash == averages[1500.0].protocol_hash


def test_glass_point_reports_density_only_no_unreliable_flag():
    """The 300 K glass point's Li does not diffuse within the run (its D is unreliable by
    the checks): the row shows "—" for D and no "u"; an anneal with the same D gets "u"."""
    glass = _doc("Li2Si2O5", 300.0, stage="glass", reliable=False)
    anneal = _doc("Li2Si2O5", 1000.0, reliable=False)
    assert row_flags(glass, "Li") == "f"
    assert row_flags(anneal, "Li") == "uf"
