"""VASP input sets for the MPMorph melt–quench protocol, one preset per stage.

Built on atomate2's :class:`~atomate2.vasp.sets.mpmorph.MPMorphMDSetGenerator`
(which is pymatgen's ``MPMDSet`` — "the basis for the amorphous skyline paper",
Aykol et al., Sci. Adv. 4 (2018) eaaq0148 — plus atomate2's ensemble defaults).
No INCAR is written by hand: the generator builds it, amorphdb only adds the
protocol corrections below and the campaign's overrides (``user_incar_settings``).

Protocol values (PMG = pymatgen ``io/vasp/sets.py``; A2 = atomate2
``vasp/sets/core.py`` and ``vasp/sets/mpmorph.py``; MPM = materialsproject/mpmorph):

=========  ==================  ===========================================================
tag        value               source
=========  ==================  ===========================================================
KPOINTS    Γ only              PMG ``MPMDSet.kpoints_updates`` (``Kpoints.gamma_automatic``)
MDALGO     2 (Nosé–Hoover)     A2 ``MDSetGenerator._get_ensemble_defaults("nvt")``
SMASS      0                   PMG ``MPMDSet`` / A2 nvt defaults
ISIF       2                   A2 nvt defaults (MPM classic used 1; 2 also gives the stress)
POTIM      2 fs (0.5 fs + H)   PMG ``MPMDSet`` (NSW × 4 with H, same simulated time)
ISYM       0                   PMG ``MPMDSet``
ISPIN      1                   PMG ``MPMDSet`` (``spin_polarized=False``)
PREC       Normal              PMG ``MPMDSet`` ("to increase accuracy of stress tensor")
ENCUT      unset (max ENMAX)   PMG ``MPMDSet`` (``ENCUT=None``)
EDIFF      1e-5 eV × N_atoms   PMG ``MPMDSet`` (``EDIFF_PER_ATOM=1e-5``)
LREAL      Auto                A2 MPMorph flow INCAR updates
NELM       500, NELMIN 4       PMG ``MPMDSet``
KBLOCK     100                 PMG ``MPMDSet``
LWAVE      False               MPM ``converge.py`` overrides
LPLANE     False               PMG ``MPMDSet``
=========  ==================  ===========================================================

Why amorphdb corrects the generator: ``MPMDSet`` puts ``EDIFF_PER_ATOM`` into
``incar_updates``, which pymatgen applies *after* the per-atom conversion, so the
INCAR ends up with ``EDIFF`` from the MPRelaxSet config (5e-5 per atom) and a
literal ``EDIFF_PER_ATOM`` tag VASP ignores. amorphdb writes ``EDIFF`` itself.
atomate2's MPMorph generator also turns ``LPLANE`` on; MPMDSet has it off.

Stage presets: the volume-equilibration runs (several short NVT runs whose only
use is the mean pressure) use a looser electronic convergence
(``EDIFF`` 1e-4 eV per atom, ``NELMIN`` 2); ``PREC`` stays Normal because the
pressure criterion needs an accurate stress tensor. Melt and anneal runs use the
protocol values unchanged. Every value can be overridden per campaign, globally
(``incar``) or per stage (``incar_<stage>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from atomate2.vasp.sets.mpmorph import MPMorphMDSetGenerator
from pymatgen.core import Element, Structure
from pymatgen.io.vasp.sets import VaspInputSet

from amorphdb.engines.base import Ensemble
from amorphdb.engines.vasp.settings import VaspStage

#: protocol INCAR values amorphdb sets on top of the generator (see module docstring)
PROTOCOL_INCAR: dict[str, Any] = {
    "EDIFF_PER_ATOM": 1e-5,
    "LREAL": "Auto",
    "LWAVE": False,
    "LPLANE": False,
    "ISPIN": 1,
    "ISYM": 0,
    "PREC": "Normal",
    "NELM": 500,
    "NELMIN": 4,
    "KBLOCK": 100,
}

#: per-stage presets applied after :data:`PROTOCOL_INCAR`
STAGE_PRESETS: dict[VaspStage, dict[str, Any]] = {
    VaspStage.EQUILIBRATION: {"EDIFF_PER_ATOM": 1e-4, "NELMIN": 2},
    VaspStage.MELT: {},
    VaspStage.ANNEAL: {},
}

#: VASP time step with H present (fs) — PMG ``MPMDSet``
HYDROGEN_POTIM_FS = 0.5


def hydrogen_timestep(structure: Structure, timestep_fs: float) -> float:
    """The MPMDSet rule: 0.5 fs when H is present, else ``timestep_fs``."""
    if Element("H") in structure.composition.elements:
        return min(timestep_fs, HYDROGEN_POTIM_FS)
    return timestep_fs


def resolve_incar(
    structure: Structure,
    stage: VaspStage,
    overrides: dict[str, Any] | None = None,
    stage_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge protocol values, the stage preset and the campaign's overrides.

    ``EDIFF_PER_ATOM`` (wherever it is given) becomes ``EDIFF`` = value × N_atoms
    unless ``EDIFF`` itself is given at a later level.
    """
    merged: dict[str, Any] = {}
    for level in (PROTOCOL_INCAR, STAGE_PRESETS[stage], overrides or {}, stage_overrides or {}):
        level = {str(k).upper(): v for k, v in level.items()}
        if "EDIFF" in level:
            merged.pop("EDIFF_PER_ATOM", None)
        if "EDIFF_PER_ATOM" in level:
            merged.pop("EDIFF", None)
        merged.update(level)
    if "EDIFF_PER_ATOM" in merged:
        merged["EDIFF"] = float(merged.pop("EDIFF_PER_ATOM")) * len(structure)
    return merged


@dataclass
class AmorphdbMDSetGenerator(MPMorphMDSetGenerator):
    """MPMorph MD input set without MPMDSet's literal ``EDIFF_PER_ATOM`` tag.

    Parameters are those of :class:`MPMorphMDSetGenerator` (``ensemble``,
    ``start_temp`` K, ``end_temp`` K, ``nsteps``, ``time_step`` fs,
    ``user_incar_settings`` …). amorphdb passes the resolved protocol and campaign
    values (:func:`resolve_incar`) as ``user_incar_settings``, which pymatgen
    applies last.
    """

    @property
    def incar_updates(self) -> dict[str, Any]:
        """Generator updates with MPMDSet's literal ``EDIFF_PER_ATOM`` removed."""
        updates = super().incar_updates
        updates["EDIFF_PER_ATOM"] = None  # see module docstring: EDIFF comes from resolve_incar
        return updates


def md_input_set(
    structure: Structure,
    *,
    stage: VaspStage,
    temperature_K: float,
    end_temperature_K: float | None,
    n_steps: int,
    timestep_fs: float,
    ensemble: Ensemble = Ensemble.NVT,
    traj_every: int = 1,
    overrides: dict[str, Any] | None = None,
    stage_overrides: dict[str, Any] | None = None,
    potcar_functional: str = "PBE",
    user_potcar_settings: dict[str, str] | None = None,
) -> VaspInputSet:
    """The VASP input set (INCAR, KPOINTS, POSCAR, POTCAR) of one MD run.

    Parameters
    ----------
    structure
        Starting structure.
    stage
        Protocol stage; selects the preset in :data:`STAGE_PRESETS`.
    temperature_K, end_temperature_K
        ``TEBEG`` and ``TEEND`` (K); ``None`` holds ``temperature_K``.
    n_steps
        ``NSW``.
    timestep_fs
        ``POTIM`` (fs).
    ensemble
        NVT (MDALGO 2, Nosé–Hoover), NVE (MDALGO 1) or NPT (MDALGO 3, Langevin).
    traj_every
        ``NBLOCK``: steps between XDATCAR frames.
    overrides, stage_overrides
        INCAR overrides for every stage and for this stage (win in that order).
    potcar_functional
        POTCAR functional (pymatgen name: ``PBE``, ``PBE_52``, ``PBE_54`` …).
    user_potcar_settings
        Element → POTCAR symbol overrides (e.g. ``{"Li": "Li"}``).
    """
    incar = resolve_incar(structure, stage, overrides, stage_overrides)
    incar.setdefault("NBLOCK", int(traj_every))
    generator = AmorphdbMDSetGenerator(
        ensemble=Ensemble(ensemble).value,
        start_temp=float(temperature_K),
        end_temp=float(end_temperature_K if end_temperature_K is not None else temperature_K),
        nsteps=int(n_steps),
        time_step=float(timestep_fs),
        user_incar_settings=incar,
        user_potcar_functional=potcar_functional,
        user_potcar_settings=user_potcar_settings or {},
    )
    return generator.get_input_set(structure, potcar_spec=False)
