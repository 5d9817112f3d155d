"""The table the learning side works on: required columns, checks, one error type.

A data table is a pandas DataFrame with one row per (composition, temperature):
``formula`` (any notation :func:`amorphdb.structure.parse_composition` reads),
``temperature_K`` (K) and, for fitting, ``log10_D`` (log10 of D in cm²/s). Every other
numeric column is a candidate feature (structure descriptors), except the columns named
here that describe the target or the run (σ of D, provenance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from amorphdb.errors import AmorphdbError

FORMULA = "formula"
TEMPERATURE = "temperature_K"
TARGET = "log10_D"
REQUIRED = (FORMULA, TEMPERATURE)

#: numeric columns that are never features: the target and its uncertainty, predictions,
#: and run bookkeeping (a model must not learn the σ of D or the number of MD steps)
NOT_FEATURES = frozenset(
    {
        TARGET,
        TEMPERATURE,
        "D_cm2_s",
        "D_std_cm2_s",
        "log10_D_std",
        "log10_D_low",
        "log10_D_high",
        "reliable",
        "in_domain",
        "timestep_fs",
        "n_steps",
        "nsites",
        "pressure_mean_kbar",
        "pressure_std_kbar",
        "fit_window_start_ps",
        "fit_window_end_ps",
    }
)
#: column prefixes that are never features (other species' D, Arrhenius results)
NOT_FEATURE_PREFIXES = ("D_", "Ea_", "log10_D")


class DataError(AmorphdbError, ValueError):
    """A data table the models cannot use (missing column, NaN, too few compositions…)."""


def check_table(data: object, *, fit: bool, min_rows: int = 1) -> pd.DataFrame:
    """Validate a data table and return it (unchanged) as a DataFrame.

    Parameters
    ----------
    data
        The table.
    fit
        Whether ``log10_D`` is required (training) or optional (prediction).
    min_rows
        Fewest rows accepted.

    Raises
    ------
    DataError
        Not a DataFrame, a required column missing, fewer than ``min_rows`` rows, a
        missing or non-positive temperature, a NaN/inf ``log10_D`` (from a NaN or
        non-positive D).
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    need = [*REQUIRED, TARGET] if fit else list(REQUIRED)
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise DataError(
            f"data has no column {', '.join(repr(c) for c in missing)}; a table needs "
            f"'formula', 'temperature_K'{' and log10_D (log10 of D in cm²/s)' if fit else ''}"
        )
    if len(data) < min_rows:
        raise DataError(f"data has {len(data)} row(s); at least {min_rows} needed")
    temps = pd.to_numeric(data[TEMPERATURE], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(temps) | (temps <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"row {i}: temperature_K {data[TEMPERATURE].iloc[i]!r} is not a positive number "
            f"({int(bad.sum())} such row(s)); fix or drop them"
        )
    if fit:
        y = pd.to_numeric(data[TARGET], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(y)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"row {i} ({data[FORMULA].iloc[i]}, {temps[i]:g} K): log10_D is "
                f"{data[TARGET].iloc[i]!r} ({int(bad.sum())} such row(s)); D must be a positive "
                "number — drop NaN or non-positive D before fitting"
            )
    return data


def log10_diffusivity(d_cm2_s: object) -> np.ndarray:
    """log10 of diffusivities in cm²/s, refusing NaN and non-positive values.

    Raises
    ------
    DataError
        A NaN, infinite or non-positive D (its position is named).
    """
    d = pd.to_numeric(pd.Series(d_cm2_s), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(d) | (d <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"row {i}: D = {float(d[i])!r} cm²/s is not positive ({int(bad.sum())} such row(s)); "
            "drop them before fitting"
        )
    return np.log10(d)


#: a descriptor column is a feature only when defined on at least this fraction of rows
MIN_FEATURE_COVERAGE = 0.5


def extra_feature_columns(
    data: pd.DataFrame, min_coverage: float = MIN_FEATURE_COVERAGE
) -> list[str]:
    """The table's own numeric feature columns (structure descriptors), in table order.

    Left out: columns defined on fewer than ``min_coverage`` of the rows and columns with
    one value. Over a mixed chemical space most descriptors belong to one element pair
    (``cn_P-O``, ``rdf_peak_A_Zn-O``); on the few rows that have them they let a model,
    SISSO above all, fit single compositions instead of a trend (measured on the shipped
    data set, ``docs/ml.md``), and constant columns (the S(q) grid) carry nothing.
    """
    out = []
    for name in data.columns:
        if name in REQUIRED or name in NOT_FEATURES or str(name).startswith(NOT_FEATURE_PREFIXES):
            continue
        col = data[name]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            continue
        if col.notna().mean() < min_coverage or col.nunique(dropna=True) < 2:
            continue
        out.append(str(name))
    return out
