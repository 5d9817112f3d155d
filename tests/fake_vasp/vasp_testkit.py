"""Test helpers for the VASP engine: a fake POTCAR library and the stand-in command.

The POTCARs are minimal: the header keywords pymatgen's ``PotcarSingle`` reads
(TITEL, VRHFIN, LEXCH, POMASS, ZVAL, ENMAX) and a few numbers after the PSCTR
block, so ``Potcar`` parses them (it warns that their hashes are unknown). They
hold no pseudopotential and only the stand-in executable can "run" with them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp.sets import MPRelaxSet

FAKE_VASP = Path(__file__).with_name("fake_vasp.py")
FAKE_VASP_CMD = f"{sys.executable} {FAKE_VASP}"

_DATA = {
    "Li": (3, 6.941, 499.0),
    "O": (6, 16.0, 400.0),
    "Si": (4, 28.085, 245.3),
    "B": (3, 10.811, 318.6),
    "Na": (7, 22.99, 259.6),
    "Al": (3, 26.98, 240.3),
    "P": (5, 30.97, 255.0),
    "H": (1, 1.0, 250.0),
}


def potcar_text(symbol: str, element: str, zval: float, mass: float, enmax: float) -> str:
    """A minimal POTCAR that pymatgen's PotcarSingle parses."""
    return f"""  PAW_PBE {symbol} 01Jan2000
 {zval:.10f}
 parameters from PSCTR are:
   VRHFIN ={element}: s p
   LEXCH  = PE
   TITEL  = PAW_PBE {symbol} 01Jan2000
   LULTRA =        F    use ultrasoft PP ?
   POMASS = {mass:8.3f}; ZVAL   = {zval:8.3f}    mass and valenz
   ENMAX  = {enmax:8.3f}; ENMIN  = {enmax * 0.75:8.3f} eV
 END of PSCTR-controll parameters
 local part
 100.0
 0.1 0.2 0.3 0.4
 End of Dataset
"""


def make_psp_dir(
    root: Path, elements: list[str] | None = None, functional_dir: str = "POT_GGA_PAW_PBE"
) -> Path:
    """Write fake POTCARs (MP symbols) for ``elements`` under ``root/functional_dir``."""
    for el in elements or list(_DATA):
        zval, mass, enmax = _DATA[el]
        symbol = MPRelaxSet.CONFIG["POTCAR"].get(el, el)
        d = root / functional_dir / symbol
        d.mkdir(parents=True, exist_ok=True)
        (d / "POTCAR").write_text(potcar_text(symbol, el, zval, mass, enmax))
    return root


def tiny_cell(seed: int = 0) -> Structure:
    """8 atoms (Li4 Si2 O2... as Li4O2Si2) on a jittered simple-cubic grid, 5.4 Å cube."""
    rng = np.random.default_rng(seed)
    grid = np.array([[i, j, k] for i in (0, 0.5) for j in (0, 0.5) for k in (0, 0.5)])
    frac = grid + rng.normal(0, 0.01, grid.shape)
    species = ["Li", "O", "Li", "Si", "O", "Li", "Si", "Li"]
    return Structure(Lattice.cubic(5.4), species, frac)


def write_control(path: Path, **control) -> Path:
    """Write a fake-VASP failure control file."""
    path.write_text(json.dumps(control))
    return path
