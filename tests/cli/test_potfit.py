"""``amorphdb potfit CONFIG.yaml`` and ``amorphdb potfit report``."""

from __future__ import annotations

import json

import pytest
import yaml

from amorphdb.cli import main
from amorphdb.potfit.config import load_config
from amorphdb.potfit.state import OptimizationState

TINY_GLASS = {
    "target_atoms": 40, "melt_steps": 300, "glass_steps": 300,
    "cooling_rate_K_per_ps": 2700, "pressure_tolerance_kbar": 100, "traj_every": 20,
}


def write_config(tmp_path, **changes):
    (tmp_path / "store.yaml").write_text("type: embedded\npath: data\n")
    data = {
        "name": "cli-potfit", "potential": "wang2018",
        "parameters": {"B-O.A": [180000, 230000], "B-O.rho": [0.118, 0.13]},
        "budget": 1, "batch_size": 1, "n_initial": 1,
        "objective": {"compositions": ["75B", "50B"]}, "glass": TINY_GLASS,
        "workers": 1, "store": "store.yaml", "state": "state.json", **changes,
    }
    path = tmp_path / "potfit.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def small_state(tmp_path):
    """A state file of three finished evaluations (as the MD objective writes them)."""
    config = load_config(write_config(tmp_path))
    def entry(a, rho, d50, n50, d75, n75, loss):
        return {
            "params": {"B-O.A": a, "B-O.rho": rho}, "loss": loss,
            "details": {
                "campaign": f"cli-potfit-{a:g}",
                "glasses": {
                    "75B": {"density_g_cm3": d75, "density_std_g_cm3": 0.01, "n4": n75,
                            "n4_std": 0.02, "n_frames": 20},
                    "50B": {"density_g_cm3": d50, "density_std_g_cm3": 0.01, "n4": n50,
                            "n4_std": 0.02, "n_frames": 20},
                },
                "losses": {"density": loss / 2, "n4": loss / 2},
            },
        }
    state = OptimizationState(
        config={"parameters": [["B-O.A", 180000.0, 230000.0], ["B-O.rho", 0.118, 0.13]],
                "seed": 0, "n_initial": 1, "objective": config.fingerprint_settings()},
        history=[
            entry(190000.0, 0.12, 2.30, 0.60, 2.20, 0.55, 0.30),
            entry(206942.44, 0.124, 2.44, 0.52, 2.33, 0.44, 0.04),
            entry(225000.0, 0.129, 2.60, 0.40, 2.50, 0.35, 0.25),
        ],
    )
    state.save(config.state_path())
    return config.state_path()


def test_report_prints_best_set_as_pair_coeff_lines_with_parity_and_draws_plots(
    tmp_path, capsys
):
    state = small_state(tmp_path)
    assert main(["potfit", "report", str(state), "--out", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "3 evaluations, 0 failed" in out
    assert "loss 0.04" in out
    assert "# types: 1=B 2=Ca 3=Na 4=O 5=Si" in out
    assert "pair_coeff 1 4 206942.44 0.124 35.0019" in out  # the best set's B-O line
    assert "2.440 ± 0.010" in out and "2.453" in out  # 50B density sim vs experiment
    assert "0.440 ± 0.020" in out and "0.426" in out  # 75B N4 sim vs experiment
    for name in ("potfit_convergence.png", "potfit_pareto.png", "potfit_parity.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 5000
    # the campaign file names the same state
    assert main(["potfit", "report", str(tmp_path / "potfit.yaml"), "--out",
                 str(tmp_path / "p2")]) == 0


def test_report_without_a_state_file_is_one_line_exit_2(tmp_path, capsys):
    assert main(["potfit", "report", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"parameters": {"B-O.D": [1, 2]}}, "no parameter 'B-O.D'"),
        ({"parameters": {"B-O.A": [2e5, 1e5]}}, "inverted range"),
        ({"parameters": {"B-O.A": [2e5, 2e5]}}, "empty range"),
        ({"objective": {"compositions": ["50B", "99B"]}}, "no composition 99B"),
        ({"launcher": "fireworks"}, "queues work"),
    ],
)
def test_bad_config_is_one_line_exit_2_and_nothing_runs(tmp_path, capsys, changes, match):
    path = write_config(tmp_path, **changes)
    assert main(["potfit", str(path)]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "state.json").exists() and not (tmp_path / "data").exists()


def test_state_of_another_configuration_is_refused(tmp_path, capsys):
    small_state(tmp_path)
    path = write_config(tmp_path, parameters={"B-O.A": [150000, 230000],
                                              "B-O.rho": [0.118, 0.13]})
    before = (tmp_path / "state.json").read_text()
    assert main(["potfit", str(path)]) == 2
    assert "different configuration" in capsys.readouterr().err
    assert (tmp_path / "state.json").read_text() == before


@pytest.mark.slow
def test_potfit_runs_md_and_a_larger_budget_continues_from_the_state(tmp_path, capsys):
    path = write_config(tmp_path, objective={"compositions": ["75B"]})
    assert main(["potfit", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 evaluations (0 failed MD)" in out
    first = json.loads((tmp_path / "state.json").read_text())["history"]
    assert len(first) == 1 and first[0]["details"]["glasses"]["75B"]["n4"] >= 0
    write_config(tmp_path, objective={"compositions": ["75B"]}, budget=2)
    assert main(["potfit", str(path)]) == 0
    second = json.loads((tmp_path / "state.json").read_text())["history"]
    assert second[0] == first[0] and len(second) == 2
    assert second[1]["params"] != first[0]["params"]
