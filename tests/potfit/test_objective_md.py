"""The MD objective end to end: melt-quench glasses of a tiny cell with freed Wang 2018
B-O parameters, run through the local launcher, read back from the store."""

import math

import pytest
import yaml

from amorphdb.potfit import optimize
from amorphdb.potfit.config import load_config
from amorphdb.potfit.objective import MDObjective
from amorphdb.potfit.optimizer import initial_design
from amorphdb.potfit.params import from_unit
from amorphdb.store import open_database

TINY_GLASS = {  # 44-atom Na3CaB15O25 (75B), a few ps: fast, not converged glass
    "target_atoms": 40, "melt_steps": 400, "glass_steps": 400,
    "cooling_rate_K_per_ps": 2700, "pressure_tolerance_kbar": 100, "traj_every": 20,
}


def tiny_config(tmp_path, **extra):
    (tmp_path / "store.yaml").write_text("type: embedded\npath: data\n")
    data = {
        "name": "tiny-potfit", "potential": "wang2018",
        "parameters": {"B-O.A": [180000, 230000], "B-O.rho": [0.118, 0.13]},
        "budget": 2, "batch_size": 2, "n_initial": 2,
        "objective": {"compositions": ["75B"]}, "glass": TINY_GLASS,
        "workers": 1, "store": "store.yaml", **extra,
    }
    path = tmp_path / "potfit.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


@pytest.mark.slow
def test_md_objective_runs_glasses_and_stores_each_evaluation_with_its_parameters(tmp_path):
    config = tiny_config(tmp_path)
    # a killed potfit left the first point's glass claimed ("running"): it must run anyway
    first = from_unit(config.free_parameters(), initial_design(2, 2, 0))[0]
    killed = config.campaign_for(first)
    db = open_database(config.resolve("store.yaml"))
    formula = killed.formulas()[0]
    db.record_attempt(killed.name, formula, "running", claim=True)
    db.close()
    objective = MDObjective(config)
    result = optimize(objective, config.free_parameters(), budget=2, batch_size=2,
                      state=config.state_path(), config=config.fingerprint_settings())
    assert len(result.history) == 2
    db = open_database(config.resolve("store.yaml"))
    try:
        for entry in result.history:
            details = entry["details"]
            glass = details["glasses"]["75B"]
            assert 1.2 < glass["density_g_cm3"] < 3.2  # g/cm³: a condensed oxide
            assert 0.0 <= glass["n4"] <= 1.0
            # the loss is the weighted sum of |relative density error| and |N4 error|
            d_err = abs(glass["density_g_cm3"] - 2.319200049) / 2.319200049
            assert entry["loss"] == pytest.approx(d_err + abs(glass["n4"] - 0.42595))
            docs = db.find(campaign=details["campaign"], temperature_K=300.0)
            assert len(docs) == 1
            potential = docs[0].provenance.potential  # the parameters are in the record
            assert potential.startswith("wang2018(")
            for name, value in entry["params"].items():
                assert f"{name}={value!r}" in potential
        assert len({h["details"]["campaign"] for h in result.history}) == 2
        assert result.history[0]["details"]["campaign"] == killed.name
        attempts = db.get_campaign(killed.name, formula).attempts
        assert len(attempts) == 2 and "interrupted" in (attempts[0].error or "")
    finally:
        db.close()
    # the same parameters again: the finished campaign is not run again
    again = MDObjective(config)
    params = result.history[0]["params"]
    [loss] = again([params])
    assert loss == pytest.approx(result.history[0]["loss"])
    assert not math.isnan(loss)
