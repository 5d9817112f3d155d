"""Experimental targets: density (g/cm³) and N4 of soda-lime borosilicate glasses.

``data/borosilicate_targets.csv`` ships the seven glasses 15Na2O–10CaO–xB2O3–(75−x)SiO2
(label ``xB``) with their sources in each row: density and N4 are the "Target" row of
ruoxia-c/Borosilicate-Glass-Potential (commit 74bd76a,
``BorosilicateGlassesPotentialOptimization/data/MD_Dataset.xlsx``; the experiments of
Smedskjaer et al., J. Phys. Chem. B 115 (2011) 12930, as used by Wang et al., J.
Non-Cryst. Solids 498 (2018) 294); the densities agree with Coudert's digitisation of
Wang 2018 Fig. 1a (fxcoudert/citable-data@86fa8c2, ``Wang_fig1a_experiments.txt``).

Where no N4 is measured, :func:`dbx_n4` gives the Dell–Bray–Xiao model value
(Dell, Bray & Xiao, J. Non-Cryst. Solids 58 (1983) 1), implemented once in
:func:`amorphdb.structure.density.n4_dell_bray`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from amorphdb.errors import ConfigError
from amorphdb.structure.density import n4_dell_bray

OXIDES = ("Na2O", "CaO", "B2O3", "SiO2")


@dataclass(frozen=True)
class GlassTarget:
    """One glass: oxide mol%, measured density (g/cm³) and N4 (None if not measured)."""

    label: str
    mol_pct: dict[str, float]
    density_g_cm3: float | None
    n4: float | None
    source: str = ""

    @property
    def formula(self) -> str:
        """Oxide-sum formula, e.g. ``15Na2O+10CaO+24B2O3+51SiO2``."""
        return "+".join(f"{v:g}{ox}" for ox, v in self.mol_pct.items() if v > 0)

    @property
    def ratios(self) -> tuple[float, float]:
        """(R, K) of the Dell–Bray–Xiao model: (Na2O + CaO)/B2O3 and SiO2/B2O3."""
        b2o3 = self.mol_pct.get("B2O3", 0.0)
        if b2o3 <= 0:
            raise ConfigError(f"glass {self.label} has no B2O3: N4 is undefined")
        modifiers = self.mol_pct.get("Na2O", 0.0) + self.mol_pct.get("CaO", 0.0)
        return modifiers / b2o3, self.mol_pct.get("SiO2", 0.0) / b2o3


def dbx_n4(glass: GlassTarget) -> float:
    """Dell–Bray–Xiao N4 of a glass, R counting Na2O + CaO (as amorphouspy does)."""
    r, k = glass.ratios
    return n4_dell_bray(r, k)


def _float(text: str | None) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def parse_targets(text: str, source: str) -> dict[str, GlassTarget]:
    """Targets from CSV text with ``label``, ``<oxide>_mol_pct``, ``density_exp_g_cm3``,
    ``N4_exp`` columns (and optional source columns)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    need = {"label", "density_exp_g_cm3", "N4_exp"}
    if not rows or not need <= set(rows[0]):
        raise ConfigError(f"{source}: a target table needs columns {', '.join(sorted(need))}")
    out = {}
    for row in rows:
        mol = {ox: float(row.get(f"{ox}_mol_pct") or 0.0) for ox in OXIDES}
        out[row["label"].strip()] = GlassTarget(
            label=row["label"].strip(),
            mol_pct=mol,
            density_g_cm3=_float(row["density_exp_g_cm3"]),
            n4=_float(row["N4_exp"]),
            source=(row.get("source_density_and_N4") or "").strip(),
        )
    return out


@cache
def shipped_targets() -> dict[str, GlassTarget]:
    """The shipped borosilicate table, by label (6B … 75B)."""
    text = files(__package__).joinpath("data/borosilicate_targets.csv").read_text()
    return parse_targets(text, "borosilicate_targets.csv")


def load_targets(
    labels: Sequence[str], table: str | Path | None = None
) -> dict[str, GlassTarget]:
    """Targets for ``labels`` from ``table`` (a CSV path) or the shipped table.

    Raises
    ------
    ConfigError
        When a label is missing from the table (naming the ones it has).
    """
    if table is None:
        all_targets = shipped_targets()
        where = "the shipped borosilicate table"
    else:
        path = Path(table)
        if not path.exists():
            raise ConfigError(f"target table {path} not found; fix 'targets.table'")
        all_targets = parse_targets(path.read_text(), str(path))
        where = str(path)
    missing = [label for label in labels if label not in all_targets]
    if missing:
        raise ConfigError(
            f"{where} has no composition {', '.join(missing)}; it has "
            f"{', '.join(all_targets)} (add a row or drop the composition)"
        )
    return {label: all_targets[label] for label in labels}
