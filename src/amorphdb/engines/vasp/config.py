"""Checks that run before anything is submitted to VASP (settings: :mod:`.settings`).

Every problem a user can fix on the login node — no POTCAR directory, an element
without a POTCAR, no VASP command, an ensemble the VASP build cannot run, an
override that turns MD into something else — is a one-line
:class:`~amorphdb.errors.AmorphdbError` raised by :func:`preflight` or
:func:`check_potcars`, not a failure on the compute node.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from pymatgen.core import SETTINGS, Element
from pymatgen.io.vasp.inputs import PotcarSingle
from pymatgen.io.vasp.sets import MPRelaxSet

from amorphdb.engines.base import Ensemble
from amorphdb.engines.vasp.settings import VaspSettings
from amorphdb.errors import ConfigError, UnsupportedCompositionError

#: MPMorph runs NVT; NPT (MDALGO 3) needs a VASP built with the MD-algorithm extensions
LAUNCHERS = {"mpirun", "mpiexec", "srun", "aprun", "ibrun", "jsrun", "time", "env"}


def psp_dir() -> str | None:
    """``PMG_VASP_PSP_DIR`` from the environment or ``~/.config/.pmgrc.yaml``."""
    return os.environ.get("PMG_VASP_PSP_DIR") or SETTINGS.get("PMG_VASP_PSP_DIR")


def potcar_symbol(element: str, user_potcar_settings: dict[str, str]) -> str:
    """POTCAR symbol of an element: the user's choice, else the MP (MPRelaxSet) one."""
    if element in user_potcar_settings:
        return user_potcar_settings[element]
    return MPRelaxSet.CONFIG["POTCAR"].get(element, element)


def check_potcars(
    elements: list[str], functional: str, user_potcar_settings: dict[str, str]
) -> None:
    """Raise a one-line error unless every element has a POTCAR for ``functional``."""
    root = psp_dir()
    if not root:
        raise ConfigError(
            "PMG_VASP_PSP_DIR is not set; point it to your POTCAR library "
            "(export PMG_VASP_PSP_DIR=/path/to/potcars or `pmg config --add PMG_VASP_PSP_DIR ...`)"
        )
    if not Path(root).expanduser().is_dir():
        raise ConfigError(f"PMG_VASP_PSP_DIR={root} is not a directory; fix the path")
    try:
        subdir = PotcarSingle.functional_dir[functional]
    except KeyError:
        known = ", ".join(sorted(PotcarSingle.functional_dir))
        raise ConfigError(f"unknown POTCAR functional '{functional}'; use one of {known}") from None
    missing = []
    for el in elements:
        symbol = potcar_symbol(el, user_potcar_settings)
        base = Path(root).expanduser() / subdir
        candidates = [base / f"POTCAR.{symbol}", base / symbol / "POTCAR"]
        if not any(p.exists() or p.with_suffix(p.suffix + ".gz").exists() for p in candidates):
            missing.append(f"{el} ({symbol})")
    if missing:
        raise UnsupportedCompositionError(
            f"no {functional} POTCAR for {', '.join(missing)} under {Path(root) / subdir}; "
            "add them or map the element with engine.settings.user_potcar_settings"
        )


def check_vasp_cmd(cmd: str) -> None:
    """Raise a one-line error unless the command's launcher and VASP binary exist."""
    tokens = shlex.split(cmd)
    if not tokens:
        raise ConfigError("engine.settings.vasp_cmd is empty; set it, e.g. 'srun vasp_std'")
    for token in tokens:
        if token.startswith("-") or "=" in token:
            continue
        if shutil.which(token) is None and not Path(token).is_file():
            raise ConfigError(
                f"VASP command '{cmd}': '{token}' not found on PATH; set engine.settings.vasp_cmd "
                "or AMORPHDB_VASP_CMD (or check_executable: false if VASP is only on compute nodes)"
            )
        if Path(token).name not in LAUNCHERS:
            break


def check_overrides(settings: VaspSettings, ensemble: Ensemble) -> None:
    """Reject overrides the VASP build cannot run (the MD-only and protocol-owned INCAR
    tags are refused when the settings load, :class:`VaspSettings`)."""
    if Ensemble(ensemble) == Ensemble.NPT and not settings.npt_capable:
        raise ConfigError(
            "ensemble npt needs a VASP build with MDALGO=3 (Langevin NPT); set "
            "engine.settings.npt_capable: true if yours has it, or use nvt (the MPMorph protocol)"
        )
    for name in ("incar", "incar_equilibration", "incar_melt", "incar_anneal"):
        overrides = {str(k).upper(): v for k, v in getattr(settings, name).items()}
        if "MDALGO" in overrides and int(overrides["MDALGO"]) == 3 and not settings.npt_capable:
            raise ConfigError(
                f"engine.settings.{name}: MDALGO=3 needs an NPT-capable VASP build; "
                "set npt_capable: true or remove MDALGO"
            )


def known_element(symbol: str) -> bool:
    """True for a real element symbol."""
    try:
        Element(symbol)
    except ValueError:
        return False
    return True
