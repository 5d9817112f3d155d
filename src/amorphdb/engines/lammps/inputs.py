"""LAMMPS input generation: the data file (cell, charges, velocities) and the MD script.

Units are LAMMPS ``metal``: Å, ps, eV, bar, Å/ps. amorphdb's API speaks fs and
kbar; the conversions happen here and in :mod:`amorphdb.engines.lammps.output`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pymatgen.core import Element, Structure
from pymatgen.io.lammps.data import lattice_2_lmpbox

from amorphdb.engines.base import Ensemble, MDSettings
from amorphdb.engines.potentials import Potential

DATA_FILE = "data.lmp"
INPUT_FILE = "in.lammps"
LOG_FILE = "log.lammps"
TRAJ_FILE = "traj.dump"
FINAL_FILE = "final.dump"
RESTART_FILE = "final.data"


def type_elements(structure: Structure) -> list[str]:
    """Elements in LAMMPS type order (alphabetical, so type maps are stable)."""
    return sorted({site.specie.symbol for site in structure})


def write_data_file(
    structure: Structure,
    path: Path,
    potential: Potential,
    velocities_A_per_fs: np.ndarray | None = None,
) -> list[str]:
    """Write a LAMMPS ``atom_style charge`` data file and return the type order.

    pymatgen's :func:`lattice_2_lmpbox` rotates a general cell into LAMMPS's
    lower-triangular convention; coordinates and velocities get the same rotation.
    ``LammpsData.from_structure`` cannot carry velocities, hence this writer.
    """
    elements = type_elements(structure)
    type_of = {el: i for i, el in enumerate(elements, start=1)}
    box, symmop = lattice_2_lmpbox(structure.lattice)
    coords = symmop.operate_multi(structure.cart_coords)
    lines = ["amorphdb data file (atom_style charge)", ""]
    lines.append(f"{len(structure)} atoms")
    lines.append(f"{len(elements)} atom types")
    lines.append("")
    for (lo, hi), axis in zip(box.bounds, "xyz", strict=True):
        lines.append(f"{lo:.10f} {hi:.10f} {axis}lo {axis}hi")
    if box.tilt is not None:
        lines.append("{:.10f} {:.10f} {:.10f} xy xz yz".format(*box.tilt))
    lines += ["", "Masses", ""]
    for el in elements:
        mass = potential.masses_amu.get(el, float(Element(el).atomic_mass))
        lines.append(f"{type_of[el]} {mass:.6f}")
    lines += ["", "Atoms # charge", ""]
    for i, (site, xyz) in enumerate(zip(structure, coords, strict=True), start=1):
        el = site.specie.symbol
        q = potential.charges_e[el]
        lines.append(f"{i} {type_of[el]} {q:.6f} {xyz[0]:.10f} {xyz[1]:.10f} {xyz[2]:.10f}")
    if velocities_A_per_fs is not None:
        v = np.asarray(velocities_A_per_fs, dtype=float)
        v_rot = v @ symmop.rotation_matrix.T * 1000.0  # Å/fs -> Å/ps
        lines += ["", "Velocities", ""]
        for i, vel in enumerate(v_rot, start=1):
            lines.append(f"{i} {vel[0]:.10f} {vel[1]:.10f} {vel[2]:.10f}")
    path.write_text("\n".join(lines) + "\n")
    return elements


def md_script(
    md: MDSettings,
    potential: Potential,
    elements: list[str],
    has_velocities: bool,
    kspace_style: str = "pppm",
) -> str:
    """The LAMMPS input script for one MD stage.

    ``kspace_style`` (``pppm`` or ``ewald``) replaces the potential's PPPM line, at the
    same accuracy.

    Nosé–Hoover NVT/NPT (``fix nvt``/``fix npt``, isotropic) or Langevin + NVE;
    thermo every ``md.thermo_every`` steps (time, T, P, PE, total E, volume),
    wrapped positions every ``md.traj_every`` steps in ``traj.dump`` sorted by id,
    and the final frame with velocities in ``final.dump`` and ``final.data``.
    """
    dt_ps = md.timestep_fs / 1000.0
    t_start = md.temperature_K
    t_end = md.end_temperature_K or md.temperature_K
    damp_ps = md.thermostat_damping_fs / 1000.0
    names = " ".join(elements)
    lines = [
        "units metal",
        "atom_style charge",
        "boundary p p p",
        f"read_data {DATA_FILE}",
        *_with_kspace(potential.lammps_lines(elements), kspace_style),
        "neighbor 2.0 bin",
        "neigh_modify every 1 delay 0 check yes",
        f"timestep {dt_ps:.10g}",
    ]
    if not has_velocities:  # continuation runs keep the velocities of the data file
        lines.append(
            f"velocity all create {t_start} {md.seed} dist gaussian mom yes rot yes"
        )
    thermostat = md.thermostat.lower()
    if md.ensemble is Ensemble.NVE:
        lines.append("fix integrate all nve")
    elif thermostat == "langevin":
        if md.ensemble is Ensemble.NPT:
            lines.append(
                f"fix integrate all nph iso {md.pressure_kbar * 1000:.6g} "
                f"{md.pressure_kbar * 1000:.6g} {10 * damp_ps:.6g}"
            )
        else:
            lines.append("fix integrate all nve")
        lines.append(f"fix thermostat all langevin {t_start} {t_end} {damp_ps:.6g} {md.seed}")
    elif md.ensemble is Ensemble.NPT:
        p_bar = md.pressure_kbar * 1000.0
        lines.append(
            f"fix integrate all npt temp {t_start} {t_end} {damp_ps:.6g} "
            f"iso {p_bar:.6g} {p_bar:.6g} {10 * damp_ps:.6g}"
        )
    else:
        lines.append(f"fix integrate all nvt temp {t_start} {t_end} {damp_ps:.6g}")
    lines += [
        "thermo_style custom step time temp press pe etotal vol",
        "thermo_modify norm no flush yes format float %.10g",
        f"thermo {md.thermo_every}",
        f"dump traj all custom {md.traj_every} {TRAJ_FILE} id element x y z",
        f"dump_modify traj sort id element {names} format float %.8g",
        f"run {md.n_steps}",
        f"write_dump all custom {FINAL_FILE} id element x y z vx vy vz "
        f"modify sort id element {names} format float %.12g",
        f"write_data {RESTART_FILE} nocoeff",
    ]
    return "\n".join(lines) + "\n"


def _with_kspace(lines: list[str], style: str) -> list[str]:
    """The potential's lines with its ``kspace_style pppm ACC`` switched to ``style``."""
    return [
        f"kspace_style {style} {line.split()[2]}" if line.startswith("kspace_style pppm") else line
        for line in lines
    ]
