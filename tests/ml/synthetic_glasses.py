"""Synthetic lithium oxide glass tables built in code, with a known law and known noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from amorphdb.ml.features import composition_features

FORMERS = ("SiO2", "GeO2", "P2O5")


def glass_table(
    *,
    noise=0.1,
    seed=0,
    temperatures=(1000.0, 1500.0, 2000.0, 2500.0),
    formers=FORMERS,
    offsets=0.0,
) -> pd.DataFrame:
    """(Li2O)a(former)b glasses: log10 D = -2.5 − 1.5·(1 − 2·x_Li)·1000/T + u_c + ε.

    ``x_Li`` is the Li atomic fraction; ``u_c`` a random offset per composition with
    standard deviation ``offsets`` (composition-specific and not a function of the
    features: only leakage can learn it); ε ~ N(0, noise²).
    """
    rng = np.random.default_rng(seed)
    formulas = [f"(Li2O){a}({m}){b}" for m in formers for a in range(1, 6) for b in range(1, 5)]
    li = composition_features(formulas)["Li_fraction"].to_numpy()
    rows = []
    for f, x in zip(formulas, li, strict=True):
        u = rng.normal(0, offsets) if offsets else 0.0
        for t in temperatures:
            y = -2.5 - 1.5 * (1 - 2 * x) * 1000 / t + u + rng.normal(0, noise)
            rows.append((f, t, y))
    return pd.DataFrame(rows, columns=["formula", "temperature_K", "log10_D"])
