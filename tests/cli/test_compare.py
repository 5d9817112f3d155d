"""Structure in every record, query filters, back-fill and ``amorphdb compare``, on two tiny
real LAMMPS campaigns (Pedone 2006, 36-atom Li2SiO3, two seeds) in one embedded store."""

import json
import shutil

import pytest

from amorphdb.cli import main
from amorphdb.store import open_database
from tests.campaign.conftest import tiny_campaign_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_campaigns(tmp_path_factory):
    """Store with campaigns 'ref' (seed 1) and 'alt' (seed 2), same protocol otherwise."""
    root = tmp_path_factory.mktemp("cmp")
    from tests.campaign.conftest import TINY_PROTOCOL

    for name, seed in (("ref", 1), ("alt", 2)):
        path = tiny_campaign_file(
            root, name=name, compositions=["Li2SiO3"], protocol={**TINY_PROTOCOL, "seed": seed}
        )
        shutil.move(path, root / f"{name}.yaml")
        assert main(["run", str(root / f"{name}.yaml")]) == 0
    return root


def test_records_carry_structure_descriptors(two_campaigns):
    with open_database(two_campaigns / "store.yaml") as db:
        docs = db.find(campaign="ref")
    assert len(docs) == 3  # melt + two anneals
    for doc in docs:
        s = doc.descriptors["structure"]
        assert "error" not in s
        assert 3.5 <= s["cn"]["Si-O"] <= 4.5  # SiO4 tetrahedra in a silicate melt/glass
        assert 1.5 <= s["rdf_peak_A"]["Si-O"] <= 1.7  # Pedone Si–O ≈ 1.6 Å
        assert 1.9 <= s["cn_cutoff_A"]["Si-O"] <= 2.7  # first minimum, recorded
        assert "Li-O" in s["cn"] and 1.8 <= s["rdf_peak_A"]["Li-O"] <= 2.2
        assert sum(s["qn"]["Si"].values()) == pytest.approx(1.0)
        assert 0.2 < s["packing_fraction"] < 0.7
        # Pedone defines a pair energy: Si–O is bound (Coulomb + Morse) at the peak
        assert s["bond_energy_eV"]["Si-O"] < s["bond_energy_eV"]["Li-O"] < 0
        assert "first-peak" in s["bond_energy_definition"]
        assert s["density_g_cm3"] == pytest.approx(doc.density_g_cm3, rel=0.02)


def test_query_filters_on_descriptors(two_campaigns, capsys):
    store = str(two_campaigns / "store.yaml")
    assert main(["query", "--store", store, "--where", "cn.Si-O:3.5:4.5", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 6
    assert main(["query", "--store", store, "--where", "cn.Si-O:5:", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    code = main(["query", "--store", store, "--where", "cn.Si-O:x:4"])
    err = capsys.readouterr().err
    assert code == 2 and "not a number" in err and err.strip().count("\n") == 0
    assert main(["query", "--store", store, "--where", "nope:1:2"]) == 2
    assert "unknown field 'nope'" in capsys.readouterr().err


def test_backfill_restores_descriptors_from_the_trajectory(two_campaigns, capsys):
    store = str(two_campaigns / "store.yaml")
    with open_database(store) as db:
        doc = db.find(campaign="ref", temperature_K=2500)[0]
        before = doc.descriptors.pop("structure")
        db.upsert_amorphous(doc)
        assert "structure" not in db.get(doc.key()).descriptors
    assert main(["db", "backfill", "--store", store]) == 0
    assert "1 updated, 5 already had descriptors, 0 failed" in capsys.readouterr().out
    with open_database(store) as db:
        after = db.get(doc.key()).descriptors["structure"]
    assert after["cn"] == before["cn"] and after["qn"] == before["qn"]
    assert after["curves"] == before["curves"]


def test_compare_two_seeds_of_one_potential(two_campaigns, capsys):
    store = str(two_campaigns / "store.yaml")
    prefix = two_campaigns / "cmp"
    assert main(["compare", "ref", "alt", "--store", store, "--json", "--plot", str(prefix)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["points"]) == 3
    for p in out["points"]:
        # same physics, other seed: liquid-like structure agrees closely
        assert p["rdf_r2"] > 0.8
        assert 0.8 < p["density_ratio"] < 1.25
        # each side's own first-minimum cut-off, 36 atoms: the hot melt differs by ~0.5
        assert abs(p["cn_diff"]["Si-O"]) < 1.0, p
        assert p["D_ratio"]["Li"] > 0 and p["D_ratio_std"]["Li"] > 0
    assert (two_campaigns / "cmp-rdf.png").stat().st_size > 10_000
    assert main(["compare", "ref", "alt", "--store", store]) == 0
    table = capsys.readouterr().out
    assert "RDF R²" in table and "Li2SiO3" in table


def test_compare_bad_input_one_line(two_campaigns, capsys):
    store = str(two_campaigns / "store.yaml")
    assert main(["compare", "ref", "nope", "--store", store]) == 2
    err = capsys.readouterr().err
    assert "campaign 'nope' has no completed records" in err and err.strip().count("\n") == 0
    assert main(["compare", "ref", "alt", "--store", store, "--plot", "/no/such/dir/x"]) == 2
    assert "does not exist" in capsys.readouterr().err
