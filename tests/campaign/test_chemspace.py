"""Compositions at scale: CSV column, chemical-space enumeration, dedup, dry-run cost."""

import pytest
from pymatgen.core import Composition

from amorphdb.campaign import campaign_from_dict
from amorphdb.campaign.chemspace import ChemicalSpace, is_charge_balanced
from amorphdb.campaign.cost import cost_per_atom_step, estimate_cost, steps_per_composition
from amorphdb.campaign.submit import dry_run
from amorphdb.engines import EngineName
from amorphdb.errors import ConfigError
from amorphdb.flows.protocol import ProtocolSettings


@pytest.mark.parametrize(
    ("formula", "balanced"),
    [("Li2SiO3", True), ("Li2Si2O5", True), ("Li3PO4", True), ("Li2Si2O", False),
     ("LiSiO2", False), ("Li3PS4", True), ("LiBO", False)],
)
def test_charge_balance_one_state_per_element(formula, balanced):
    assert is_charge_balanced(formula) is balanced


def test_li_m_o_ternaries_are_balanced_bounded_and_unique():
    space = ChemicalSpace(elements=[["Li"], ["Si", "B"], ["O"]], max_coefficient=6,
                          fractions={"Li": (0.1, 0.5)})
    formulas = space.formulas()
    # Li2O–SiO2 and Li2O–B2O3 members with Li fraction in [0.1, 0.5] and coefficients <= 6
    assert set(formulas) == {"Li2SiO3", "Li2Si2O5", "Li4SiO4", "Li6SiO5", "LiBO2", "LiB3O5",
                             "Li3BO3", "Li4B2O5", "Li5BO4"}
    assert len(formulas) == len(set(formulas))
    for f in formulas:
        comp = Composition(f)
        assert 0.1 <= comp.get_atomic_fraction("Li") <= 0.5
        assert comp.oxi_state_guesses()  # pymatgen agrees each is balanced


def test_space_validation_errors():
    with pytest.raises(ValueError, match="unknown element 'Xx'"):
        ChemicalSpace(elements=[["Li"], ["Xx"]])
    with pytest.raises(ValueError, match="0 <= low <= high <= 1"):
        ChemicalSpace(elements=[["Li"], ["O"]], fractions={"Li": (0.6, 0.2)})


def test_csv_and_lists_deduplicated_by_reduced_formula(tmp_path):
    csv = tmp_path / "comps.csv"
    csv.write_text("id,Formula\n1,Li4Si4O10\n2,Li2SiO3\n3,Li2O(SiO2)2\n4,Li3BO3\n")
    spec = campaign_from_dict(
        {"name": "x", "compositions": ["Li2Si2O5"], "compositions_csv": "comps.csv",
         "enumerate": [{"elements": [["Li"], ["B"], ["O"]], "max_coefficient": 3}]},
        source=str(tmp_path / "c.yaml"),
    )
    assert spec.formulas() == ["Li2Si2O5", "Li2SiO3", "Li3BO3", "LiBO2"]


def test_csv_without_formula_column_is_one_line_error(tmp_path):
    (tmp_path / "c.csv").write_text("name,x\na,1\n")
    with pytest.raises(ConfigError, match="no 'formula' column"):
        campaign_from_dict({"name": "x", "compositions": ["Li2O"],
                            "compositions_csv": "c.csv"}, source=str(tmp_path / "c.yaml"))


def test_steps_and_core_hours_by_hand():
    p = ProtocolSettings(target_atoms=100, melt_steps=10000, anneal_steps=10000,
                         anneal_temperatures_K=[1000, 2000], cooling={"method": "none"})
    # 3 temperatures × (3 scan + 2 checks) × 2000 + 10000 melt + 2 × 10000 anneal
    assert steps_per_composition(p) == 3 * 5 * 2000 + 10000 + 20000 == 60000
    # three independent replicas run the whole protocol three times
    assert steps_per_composition(p.model_copy(update={"replicas": 3})) == 3 * 60000
    est = estimate_cost(10, p, "vasp")
    assert est.core_hours == pytest.approx(10 * 60000 * 100 * 10.0 / 3600)
    assert estimate_cost(10, p, "lammps", 1e-5).core_hours == pytest.approx(
        10 * 60000 * 100 * 1e-5 / 3600)
    assert all(cost_per_atom_step(name) > 0 for name in EngineName)


def test_dry_run_touches_no_store(tmp_path):
    spec = campaign_from_dict(
        {"name": "x", "store": str(tmp_path / "store.yaml"),
         "enumerate": [{"elements": [["Li"], ["Si"], ["O"]], "max_coefficient": 6}],
         "protocol": {"target_atoms": 60}},
        source=str(tmp_path / "c.yaml"),
    )
    (tmp_path / "store.yaml").write_text(f"type: embedded\npath: {tmp_path / 'db'}\n")
    plan = dry_run(spec)
    assert len(plan.to_submit) == len(spec.formulas()) >= 4
    assert plan.cost.core_hours == pytest.approx(
        len(plan.to_submit) * steps_per_composition(spec.protocol) * 60 * 5e-5 / 3600)
    assert not (tmp_path / "db").exists()


def test_oxidation_state_override_drops_other_valences():
    free = ChemicalSpace(elements=[["Li"], ["Ge"], ["O"]], max_coefficient=4).formulas()
    ge4 = ChemicalSpace(elements=[["Li"], ["Ge"], ["O"]], max_coefficient=4,
                        oxidation_states={"Ge": [4]}).formulas()
    assert "Li2GeO2" in free and "Li2GeO2" not in ge4  # Ge2+ allowed by pymatgen's list
    # by hand: a + 4b = 2c with a, b, c <= 4 and gcd 1 -> (2, 1, 3) and (4, 1, 4)
    assert ge4 == ["Li2GeO3", "Li4GeO4"]
