"""Schemas: round trips, derived chemistry, keys, bad formulas."""

from __future__ import annotations

import json

import pytest
from monty.json import jsanitize
from pymatgen.core import Structure
from store_factories import make_amorphous, make_arrhenius

from amorphdb.errors import CompositionError
from amorphdb.store.schemas import (
    SCHEMA_VERSION,
    AmorphousDoc,
    ArrheniusDoc,
    Attempt,
    CampaignDoc,
    ResultState,
    TrajectoryRef,
    chemsys_of,
)


def test_amorphous_derived_fields_and_density():
    doc = make_amorphous({"Li": 4, "Si": 4, "O": 10}, density=2.35, temperature_K=1500)
    assert doc.formula_reduced == "Li2Si2O5"
    assert doc.chemsys == "Li-O-Si"
    assert doc.elements == ["Li", "O", "Si"]
    assert doc.nelements == 3
    assert doc.nsites == 18
    assert doc.density_g_cm3 == pytest.approx(2.35, rel=1e-9)
    # 18 atoms of Li2Si2O5 (mass 2*6.94+2*28.085+5*15.999 = 150.0 g/mol per 9 atoms)
    mass_g = 2 * 150.0 / 6.02214076e23
    assert doc.volume_per_atom_A3 == pytest.approx(mass_g / 2.35 * 1e24 / 18, rel=1e-3)
    assert doc.schema_version == SCHEMA_VERSION
    assert doc.key() == "test|Li2Si2O5|1500|p1"


@pytest.mark.parametrize("maker", [make_amorphous, make_arrhenius])
def test_round_trip_through_mongo_dict_and_json(maker):
    doc = maker()
    stored = doc.to_mongo()
    assert stored["_id"] == doc.key()
    again = type(doc).from_mongo(stored)
    assert again.to_mongo() == stored
    assert again.model_dump(exclude={"structure"}) == doc.model_dump(exclude={"structure"})
    # through JSON (what jobflow does with job outputs): monty keys are ignored
    as_json = json.loads(json.dumps(jsanitize(doc, strict=True, enum_values=True)))
    assert "@class" in as_json
    assert type(doc).model_validate(as_json).to_mongo() == stored


def test_campaign_round_trip():
    doc = CampaignDoc(
        campaign="c",
        formula="Li2O",
        state="failed",
        attempts=[Attempt(state="failed", settings={"timestep_fs": 2.0}, error="lost atoms")],
        last_error="lost atoms",
    )
    again = CampaignDoc.from_mongo(doc.to_mongo())
    assert again == doc
    assert again.attempts[0].settings == {"timestep_fs": 2.0}
    assert doc.key() == "c|Li2O"


def test_final_structure_round_trip():
    doc = make_amorphous()
    back = AmorphousDoc.from_mongo(doc.to_mongo()).get_structure()
    assert isinstance(back, Structure)
    assert back.composition.reduced_formula == "Li2Si2O5"
    assert back.density == pytest.approx(2.3, rel=1e-9)


def test_trajectory_ref_and_state_enum():
    doc = make_amorphous(trajectory=TrajectoryRef(job_uuid="abc"))
    stored = doc.to_mongo()
    assert stored["trajectory"] == {
        "job_uuid": "abc",
        "job_index": None,
        "key": "trajectory",
        "store": "data",
        "n_frames": None,
        "stride": 1,
    }
    assert stored["state"] == "completed" and type(stored["state"]) is str


def test_arrhenius_key_and_chemistry():
    doc = make_arrhenius("Li2O(SiO2)2", species="Li")
    assert doc.key() == "test|Li2Si2O5|Li"
    assert doc.chemsys == "Li-O-Si"
    assert doc.n_points == 4


def test_fractional_temperature_key():
    assert make_amorphous(temperature_K=1234.5).key() == "test|Li2Si2O5|1234.500|p1"


@pytest.mark.parametrize("formula", ["Xx2O", "Li2O)(", "", "123"])
def test_bad_formula_is_composition_error(formula):
    with pytest.raises((CompositionError, ValueError)):
        ArrheniusDoc(campaign="c", formula=formula, species="Li")


def test_bad_formula_message_is_one_line():
    from amorphdb.store.schemas import parse_formula

    with pytest.raises(CompositionError, match="unknown element 'Qq'") as info:
        parse_formula("Li2Qq")
    assert "\n" not in str(info.value)


def test_chemsys_normalised():
    assert chemsys_of("O-Li-Si") == "Li-O-Si"
    assert chemsys_of(["Si", "O", "O"]) == "O-Si"


def test_negative_temperature_rejected():
    with pytest.raises(ValueError, match="temperature_K"):
        make_amorphous(temperature_K=-5)


def test_states():
    assert {s.value for s in ResultState} == {"waiting", "running", "completed", "failed"}


@pytest.mark.parametrize("notation", ["Li2O.2SiO2", "Li2O·2SiO2", "(Li2O)(SiO2)2", "Li2Si2O5"])
def test_one_formula_parser_for_every_notation(notation):
    """Issue 15: the store keys formulas with the project's parser (pymatgen alone reads
    ``Li2O.2SiO2`` as Li2 O2.2 Si)."""
    from amorphdb.store.query import AmorphousQuery

    doc = ArrheniusDoc(campaign="c", formula=notation, species="Li")
    assert doc.formula_reduced == "Li2Si2O5"
    assert doc.key() == "c|Li2Si2O5|Li"
    assert AmorphousQuery(formula=notation).criteria() == {"formula_reduced": "Li2Si2O5"}
