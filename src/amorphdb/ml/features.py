"""Composition and temperature features, computed by the models themselves.

Element-property statistics in the style of the Magpie set (L. Ward, A. Agrawal,
A. Choudhary, C. Wolverton, *npj Comput. Mater.* 2 (2016) 16028,
doi:10.1038/npjcompumats.2016.28; as in matminer's ``ElementProperty``, L. Ward et al.,
*Comput. Mater. Sci.* 152 (2018) 60): for each property p of the elements i with atomic
fractions f_i, the fraction-weighted mean Σ f_i p_i, minimum, maximum, range, mode (p of
the most abundant element, ties to the smaller p) and average deviation
Σ f_i |p_i − mean|. The element data are pymatgen's (``pymatgen.core.Element``:
S. P. Ong et al., *Comput. Mater. Sci.* 68 (2013) 314, doi:10.1016/j.commatsci.2012.10.028):
Z, atomic mass (u), Pauling electronegativity, period (row), group, empirical atomic
radius (Å), average ionic radius (Å), melting point (K), Mendeleev number.

Glass-specific features (the first seed's strongest): Li atomic fraction, the anion
family (the most electronegative element, one-hot over O, S, Se, F, Cl, Br, I, N), the
mean cation ionic radius (Å, fraction-weighted over the non-anion elements), the
electronegativity difference anion − mean cation, and ``inv_T_1000_K`` = 1000 / T (K⁻¹),
the Arrhenius variable. Formulas are parsed by :func:`amorphdb.structure.parse_composition`
(pymatgen's ``Composition`` alone misreads ``Li2O.2SiO2``).
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
import pandas as pd

from amorphdb.errors import CompositionError
from amorphdb.ml.columns import FORMULA, TEMPERATURE, DataError
from amorphdb.structure import parse_composition

#: element property name -> pymatgen Element attribute
ELEMENT_PROPERTIES = {
    "Z": "Z",
    "mass": "atomic_mass",
    "X": "X",
    "row": "row",
    "group": "group",
    "radius": "atomic_radius",
    "ionic_radius": "average_ionic_radius",
    "melting_point": "melting_point",
    "mendeleev": "mendeleev_no",
}
STATISTICS = ("mean", "min", "max", "range", "mode", "avg_dev")
ANIONS = ("O", "S", "Se", "F", "Cl", "Br", "I", "N")
MOBILE = "Li"
INV_T = "inv_T_1000_K"
#: the named physical features (the primary features of the symbolic regression)
PHYSICAL = (
    INV_T,
    "Li_fraction",
    "cation_radius_A",
    "X_difference",
    "X_mean",
    "mass_mean",
    "ionic_radius_mean",
)


@cache
def element_properties(symbol: str) -> tuple[float, ...]:
    """The :data:`ELEMENT_PROPERTIES` of one element (NaN where pymatgen has none)."""
    from pymatgen.core import Element

    el = Element(symbol)
    out = []
    for attr in ELEMENT_PROPERTIES.values():
        try:
            value = getattr(el, attr)
            out.append(float(value) if value is not None else np.nan)
        except (TypeError, ValueError, AttributeError):
            out.append(np.nan)
    return tuple(out)


def composition_feature_names() -> list[str]:
    """Column names of :func:`composition_features`, in order."""
    names = [f"{p}_{s}" for p in ELEMENT_PROPERTIES for s in STATISTICS]
    names += ["Li_fraction", "cation_radius_A", "X_difference", "n_elements"]
    names += [f"anion_{a}" for a in ANIONS]
    return names


@lru_cache(maxsize=65536)
def elements_of(formula: str) -> tuple[tuple[str, float], ...]:
    """(element, atomic fraction) pairs of a formula, via the project's parser."""
    try:
        comp = parse_composition(str(formula))
    except CompositionError as exc:
        raise DataError(f"formula {formula!r} does not parse: {exc}") from None
    amounts = comp.get_el_amt_dict()
    total = sum(amounts.values())
    return tuple((el, amt / total) for el, amt in sorted(amounts.items()))


@lru_cache(maxsize=65536)
def _composition_row(formula: str) -> tuple[float, ...]:
    pairs = elements_of(formula)
    symbols = [s for s, _ in pairs]
    f = np.array([x for _, x in pairs])
    props = np.array([element_properties(s) for s in symbols])  # (n_el, n_prop)
    row: list[float] = []
    dominant = np.flatnonzero(f == f.max())
    for j in range(props.shape[1]):
        p = props[:, j]
        ok = np.isfinite(p)
        if not ok.any():
            row += [np.nan] * len(STATISTICS)
            continue
        w = f[ok] / f[ok].sum()
        mean = float(w @ p[ok])
        mode_candidates = p[dominant][np.isfinite(p[dominant])]
        mode = float(mode_candidates.min()) if mode_candidates.size else np.nan
        row += [
            mean,
            float(p[ok].min()),
            float(p[ok].max()),
            float(p[ok].max() - p[ok].min()),
            mode,
            float(w @ np.abs(p[ok] - mean)),
        ]
    x_index = list(ELEMENT_PROPERTIES).index("X")
    r_index = list(ELEMENT_PROPERTIES).index("ionic_radius")
    x = props[:, x_index]
    anion_i = int(np.nanargmax(np.where(np.isfinite(x), x, -np.inf)))
    anion = symbols[anion_i]
    cations = [i for i in range(len(symbols)) if i != anion_i]
    if cations:
        fc = f[cations] / f[cations].sum()
        cation_radius = float(fc @ props[cations, r_index])
        x_diff = float(x[anion_i] - fc @ x[cations])
    else:
        cation_radius, x_diff = np.nan, 0.0
    li = dict(pairs).get(MOBILE, 0.0)
    row += [li, cation_radius, x_diff, float(len(symbols))]
    row += [1.0 if anion == a else 0.0 for a in ANIONS]
    return tuple(row)


def composition_features(formulas: pd.Series | list[str]) -> pd.DataFrame:
    """Magpie-style statistics and glass features of each formula (one row per formula).

    Raises
    ------
    DataError
        A formula that does not parse (named, with the parser's reason).
    """
    formulas = pd.Series(formulas, dtype=object).astype(str)
    unique = formulas.unique()
    rows = {f: _composition_row(f) for f in unique}
    table = np.array([rows[f] for f in formulas], dtype=float).reshape(
        len(formulas), len(composition_feature_names())
    )
    return pd.DataFrame(table, columns=composition_feature_names(), index=formulas.index)


def featurize(data: pd.DataFrame, extra_columns: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Feature matrix of a data table: composition features, 1000/T and the extra columns.

    Parameters
    ----------
    data
        Table with ``formula`` and ``temperature_K`` (K).
    extra_columns
        The table's own numeric columns to append (structure descriptors).

    Returns
    -------
    pandas.DataFrame
        One row per input row (same index); NaN where a property is undefined.
    """
    X = composition_features(data[FORMULA])
    X.index = data.index
    X.insert(0, INV_T, 1000.0 / pd.to_numeric(data[TEMPERATURE]).to_numpy(float))
    clash = [name for name in extra_columns if name in X.columns]
    if clash:
        raise DataError(
            f"column {clash[0]!r} of the table clashes with a computed feature; rename it"
        )
    if not extra_columns:
        return X
    extra = data[list(extra_columns)].apply(pd.to_numeric, errors="coerce").astype(float)
    return pd.concat([X, extra], axis=1)  # one concat: column-by-column inserts fragment


def group_labels(data: pd.DataFrame, group_by: str | None) -> np.ndarray | None:
    """Group label of each row: reduced formula, chemical system, or None (no groups)."""
    if group_by is None:
        return None
    if group_by not in ("formula", "chemsys"):
        raise DataError(f"group_by must be 'formula', 'chemsys' or None, got {group_by!r}")
    labels = {}
    for f in pd.unique(data[FORMULA].astype(str)):
        pairs = elements_of(f)
        if group_by == "chemsys":
            labels[f] = "-".join(s for s, _ in pairs)
        else:
            labels[f] = parse_composition(f).reduced_formula
    return np.array([labels[f] for f in data[FORMULA].astype(str)], dtype=object)


def elements_in(data: pd.DataFrame) -> set[str]:
    """Every element present in the table's formulas."""
    return {s for f in pd.unique(data[FORMULA].astype(str)) for s, _ in elements_of(f)}
