"""Formula parsing: accepted syntax and every kind of bad input."""

import pytest
from pymatgen.core import Composition

from amorphdb.errors import AmorphdbError, CompositionError
from amorphdb.structure import parse_composition


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("Li2Si2O5", {"Li": 2, "Si": 2, "O": 5}),
        ("  Li2Si2O5 ", {"Li": 2, "Si": 2, "O": 5}),
        ("Li2O·2SiO2", {"Li": 2, "Si": 2, "O": 5}),
        ("Li2O.2SiO2", {"Li": 2, "Si": 2, "O": 5}),  # pymatgen reads Li2 O2.2 Si
        ("Li2O*2SiO2", {"Li": 2, "Si": 2, "O": 5}),
        ("(Li2O)(SiO2)2", {"Li": 2, "Si": 2, "O": 5}),
        ("15Na2O+10CaO+12B2O3+63SiO2", {"Na": 30, "Ca": 10, "B": 24, "Si": 63, "O": 187}),
        ("Cu50Zr50", {"Cu": 50, "Zr": 50}),
        ("Li3PS4", {"Li": 3, "P": 1, "S": 4}),
        ("Na2.5O", {"Na": 2.5, "O": 1}),
    ],
)
def test_valid_formulas(formula, expected):
    comp = parse_composition(formula)
    assert comp == Composition(expected)


def test_composition_object_is_accepted():
    assert parse_composition(Composition("Li2O")) == Composition("Li2O")


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("Li2O)", "cannot parse formula 'Li2O)': unmatched ')'"),
        ("(Li2O", "unmatched '('"),
        ("Xx2O", "unknown element 'Xx' in 'Xx2O'; use element symbols such as Li, Si, O"),
        ("X2O", "unknown element 'X'"),  # pymatgen makes a dummy species
        ("D2O", "unknown element 'D'"),  # pymatgen silently maps D -> H
        ("li2o", "capital letter"),
        ("", "empty formula"),
        ("   ", "empty formula"),
        ("()", "empty parentheses"),
        ("Li0O", "zero amount of Li"),  # pymatgen silently drops Li
        ("O0", "zero amount of O"),
        ("0Li2O", "zero coefficient"),
        ("Li-2O", "negative amount of Li"),
        ("Li2 O", "whitespace"),
        ("Li2O 2SiO2", "whitespace"),  # pymatgen reads Li2O2SiO2
        ("Li2O-SiO2", "unexpected character '-'"),
        ("Li2O·", "empty part"),
        ("Og", "not supported"),
    ],
)
def test_bad_formulas_give_one_line_errors(formula, message):
    with pytest.raises(CompositionError) as info:
        parse_composition(formula)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert isinstance(info.value, AmorphdbError)


def test_bad_composition_objects():
    with pytest.raises(CompositionError, match="unknown element"):
        parse_composition(Composition("Xx2O"))  # DummySpecies
    with pytest.raises(CompositionError, match="must be a string"):
        parse_composition(42)  # type: ignore[arg-type]
