#!/usr/bin/env python
# ruff: noqa: E501  (the f-strings mirror VASP output lines; wrapping them hides the format)
"""A stand-in for the VASP executable, used ONLY by amorphdb's tests.

It reads INCAR, POSCAR (with an optional velocity block) and KPOINTS from the
working directory, runs the requested molecular dynamics with a cheap pair
potential (a Lennard-Jones form whose σ is set by covalent radii, so it covers
every element) and writes the files VASP writes, in VASP's formats, so that
pymatgen's parsers (Oszicar, Outcar, Xdatcar, Poscar, Vasprun), Custodian and
amorphdb's handlers run on them for real:

- ``vasp.out`` (stdout): the header and the per-step lines VASP prints;
- ``OSZICAR``: electronic lines (``DAV:``) and one MD line per ionic step
  (``T= E= F= E0= EK= SP= SK=``);
- ``OUTCAR``: version header, POTCAR lines, NIONS/NBANDS, per step the stress
  block with ``external pressure``, ``total drift``, ``free  energy   TOTEN``,
  ``LOOP+`` timings, ``% ion-electron`` and ``kinetic energy EKIN``; and the final
  timing block;
- ``XDATCAR``: one configuration every NBLOCK steps (positions *after* the step);
- ``CONTCAR``: the last structure with velocities (Cartesian Å/fs, as VASP);
- ``vasprun.xml``: generator, incar, kpoints, parameters, atominfo, one
  ``calculation`` per ionic step, final positions.

Conventions (also used by amorphdb's stitching): ionic step *k* (1-based) reports
energies, temperature and pressure *after* the k-th update; XDATCAR
configuration *k·NBLOCK* holds those positions; CONTCAR equals the last step.

It honours a ``STOPCAR`` containing ``LSTOP = .TRUE.`` (stops after the current
ionic step, like VASP) and SIGTERM.

Failure injection, for the handler tests: ``AMORPHDB_FAKE_VASP_CONTROL`` names a
JSON file with keys

- ``mode``: ``"error"`` (print ``message`` at ``at_step`` and exit 1),
  ``"hang"`` (stop writing at ``at_step`` and sleep ``hang_s``),
  ``"nonconverged"`` (ionic steps in ``steps`` reach NELM electronic steps while
  INCAR ALGO is in ``bad_algos``), ``"runaway"`` (from ``at_step`` on, kinetic
  energy is pumped in ×``heat_factor`` per step while POTIM > ``stable_potim``),
  or ``"none"``;
- ``times``: how many invocations fail (``error``/``hang``; counted in
  ``<control>.count``), default 1;
- ``seconds_per_step``: sleep per ionic step (to make a run outlast a walltime).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.data import atomic_masses, atomic_numbers, covalent_radii
from ase.neighborlist import neighbor_list
from pymatgen.io.vasp.inputs import Incar, Poscar

VERSION = "vasp.6.4.2 20Jul23 (build Jul 24 2023 10:00:00) complex (amorphdb fake_vasp stand-in)"
EV_A3_TO_KBAR = 1602.1766208
E0_PER_ATOM_EV = -5.0  # constant offset so that energies look like DFT totals (negative)
EPSILON_EV = 0.1
CUTOFF_A = 5.0

_STOP = {"now": False}


def _on_term(signum, frame):
    sys.stdout.flush()
    os._exit(143)


def lj_energy_forces_stress(atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray]:
    """Shifted Lennard-Jones with σ_ij = 0.89·(r_cov,i + r_cov,j); returns E (eV), F (eV/Å), σ (eV/Å³)."""
    i, j, d, D = neighbor_list("ijdD", atoms, CUTOFF_A)
    z = atoms.numbers
    sigma = 0.89 * (covalent_radii[z[i]] + covalent_radii[z[j]])
    sr6 = (sigma / d) ** 6
    src6 = (sigma / CUTOFF_A) ** 6
    e_pair = 4 * EPSILON_EV * (sr6**2 - sr6) - 4 * EPSILON_EV * (src6**2 - src6)
    energy = 0.5 * e_pair.sum() + E0_PER_ATOM_EV * len(atoms)
    dEdr = 4 * EPSILON_EV * (-12 * sr6**2 + 6 * sr6) / d
    fvec = (dEdr / d)[:, None] * D  # force on i from j is +dE/dr * D/d (D = r_j - r_i)
    forces = np.zeros((len(atoms), 3))
    np.add.at(forces, i, fvec)
    virial = -0.5 * np.einsum("ni,nj->ij", D, fvec)
    stress = -virial / atoms.get_volume()  # ASE sign convention (positive = tensile)
    return float(energy), forces, stress


class Writer:
    """Appends VASP-format output as the run goes."""

    def __init__(
        self,
        incar: Incar,
        atoms: Atoms,
        species: list[str],
        counts: list[int],
        potcar_titels: list[str],
    ) -> None:
        self.incar = incar
        self.species = species
        self.counts = counts
        self.titels = potcar_titels
        self.out = open("vasp.out", "w", buffering=1)  # noqa: SIM115
        self.osz = open("OSZICAR", "w", buffering=1)  # noqa: SIM115
        self.outcar = open("OUTCAR", "w", buffering=1)  # noqa: SIM115
        self.xdat = open("XDATCAR", "w", buffering=1)  # noqa: SIM115
        self.xml = open("vasprun.xml", "w", buffering=1)  # noqa: SIM115
        self.n_xdat = 0
        self._header(atoms)

    def _header(self, atoms: Atoms) -> None:
        nions = len(atoms)
        self.out.write(
            f" running on    1 total cores\n {VERSION}\n POSCAR found :  {len(self.species)} types and {nions} ions\n"
        )
        self.out.write(
            " entering main loop\n       N       E                     dE             d eps       ncg     rms          rms(c)\n"
        )
        self.osz.write(
            "       N       E                     dE             d eps       ncg     rms          rms(c)\n"
        )
        o = self.outcar
        o.write(
            f" {VERSION}\n executed on             LinuxIFC date 2024.01.01  12:00:00\n running on    1 total cores\n\n"
        )
        for t in self.titels:
            o.write(f" POTCAR:    {t}\n")
        o.write(
            f"\n   NIONS =  {nions:6d}\n number of bands    NBANDS=  {4 * nions:6d}\n total plane-waves  NPLWV =  32768\n"
        )
        o.write(
            f"   IBRION =      0\n   NSW    = {int(self.incar.get('NSW', 0)):6d}\n   POTIM  = {float(self.incar.get('POTIM', 0.5)):8.4f}\n"
        )
        o.write(
            f"   ISPIN  =      {int(self.incar.get('ISPIN', 1))}\n   NELM   = {int(self.incar.get('NELM', 60)):6d}\n\n"
        )
        x = self.xdat
        x.write("fake_vasp\n           1\n")
        for v in atoms.cell:
            x.write(f"    {v[0]:12.6f}{v[1]:12.6f}{v[2]:12.6f}\n")
        x.write("   " + "".join(f"{s:>5s}" for s in self.species) + "\n")
        x.write("   " + "".join(f"{c:5d}" for c in self.counts) + "\n")
        self._xml_header(atoms)

    def _xml_header(self, atoms: Atoms) -> None:
        w = self.xml.write
        w('<?xml version="1.0" encoding="ISO-8859-1"?>\n<modeling>\n <generator>\n')
        w(
            '  <i name="program" type="string">vasp </i>\n  <i name="version" type="string">6.4.2  </i>\n'
        )
        w(
            '  <i name="subversion" type="string">20Jul23 fake_vasp </i>\n  <i name="platform" type="string">LinuxIFC </i>\n'
        )
        w(" </generator>\n <incar>\n")
        for key, val in self.incar.items():
            typ, text = _xml_val(val)
            w(f'  <i{typ} name="{key}">{text}</i>\n')
        w(
            ' </incar>\n <kpoints>\n  <generation param="Gamma">\n   <v type="int" name="divisions">       1        1        1 </v>\n'
        )
        w(
            '   <v name="usershift">      0.00000000       0.00000000       0.00000000 </v>\n  </generation>\n'
        )
        w(
            '  <varray name="kpointlist" >\n   <v>       0.00000000       0.00000000       0.00000000 </v>\n  </varray>\n'
        )
        w(
            '  <varray name="weights" >\n   <v>       1.00000000 </v>\n  </varray>\n </kpoints>\n <parameters>\n'
        )
        params = {
            "NELM": ("int", int(self.incar.get("NELM", 60))),
            "NSW": ("int", int(self.incar.get("NSW", 0))),
            "IBRION": ("int", 0),
            "ISPIN": ("int", int(self.incar.get("ISPIN", 1))),
            "POTIM": ("", float(self.incar.get("POTIM", 0.5))),
            "EDIFF": ("", float(self.incar.get("EDIFF", 1e-4))),
            "NELECT": ("", 8.0 * len(atoms)),
            "LORBIT": ("int", 0),
            "ICHARG": ("int", 2),
        }
        for key, (typ, val) in params.items():
            t = f' type="{typ}"' if typ else ""
            w(f'  <i{t} name="{key}"> {val} </i>\n')
        w(" </parameters>\n <atominfo>\n")
        w(f"  <atoms>{len(atoms)}</atoms>\n  <types>{len(self.species)}</types>\n")
        w(
            '  <array name="atoms" >\n   <dimension dim="1">ion</dimension>\n   <field type="string">element</field>\n'
        )
        w('   <field type="int">atomtype</field>\n   <set>\n')
        for t, (s, c) in enumerate(zip(self.species, self.counts, strict=True)):
            for _ in range(c):
                w(f"    <rc><c>{s:2s}</c><c>   {t + 1}</c></rc>\n")
        w(
            '   </set>\n  </array>\n  <array name="atomtypes" >\n   <dimension dim="1">type</dimension>\n'
        )
        w(
            '   <field type="int">atomspertype</field>\n   <field type="string">element</field>\n   <field>mass</field>\n'
        )
        w('   <field>valence</field>\n   <field type="string">pseudopotential</field>\n   <set>\n')
        for s, c, titel in zip(self.species, self.counts, self.titels, strict=True):
            m = atomic_masses[atomic_numbers[s]]
            w(
                f"    <rc><c>{c:4d}</c><c>{s:2s}</c><c>{m:16.8f}</c><c>      4.00000000</c><c>  {titel}</c></rc>\n"
            )
        w("   </set>\n  </array>\n </atominfo>\n")
        self._xml_structure(atoms, "initialpos")

    def _xml_structure(self, atoms: Atoms, name: str | None) -> None:
        w = self.xml.write
        attr = f' name="{name}"' if name else ""
        w(f' <structure{attr}>\n  <crystal>\n   <varray name="basis" >\n')
        for v in atoms.cell:
            w(f"    <v> {v[0]:16.8f} {v[1]:16.8f} {v[2]:16.8f} </v>\n")
        w(f'   </varray>\n   <i name="volume">{atoms.get_volume():16.8f} </i>\n  </crystal>\n')
        w('  <varray name="positions" >\n')
        for p in atoms.get_scaled_positions(wrap=True):
            w(f"   <v> {p[0]:16.8f} {p[1]:16.8f} {p[2]:16.8f} </v>\n")
        w("  </varray>\n </structure>\n")

    def step(
        self,
        n: int,
        atoms: Atoms,
        n_elec: int,
        energy: float,
        ekin: float,
        temperature: float,
        stress: np.ndarray,
        forces: np.ndarray,
        thermostat_e: tuple[float, float],
        write_frame: bool,
        step_seconds: float,
    ) -> None:
        sp, sk = thermostat_e
        etot = energy + ekin + sp + sk
        for k in range(1, n_elec + 1):
            de = energy if k == 1 else 10.0 ** (-k)
            line = f"DAV: {k:3d}    {energy + 10.0 ** (-k):.12E}   {de:.5E}   {-de:.5E}   {16 * len(atoms):5d}   {10.0 ** (-k / 2):.3E}\n"
            self.osz.write(line)
            self.out.write(line)
        md_line = (
            f"{n:6d} T= {temperature:6.0f}. E= {etot:.8E} F= {energy:.8E} E0= {energy:.8E}  "
            f"EK= {ekin:.5E} SP= {sp:.2E} SK= {sk:.2E}\n"
        )
        self.osz.write(md_line)
        self.out.write(md_line)
        p_kbar = -stress * EV_A3_TO_KBAR
        p_ext = float(np.trace(p_kbar) / 3.0)
        p_kin = float(len(atoms) * units.kB * temperature / atoms.get_volume() * EV_A3_TO_KBAR)
        o = self.outcar
        o.write(
            f"\n--------------------------------------- Iteration {n:6d}(   {n_elec:3d})  ---------------------------------------\n\n"
        )
        o.write(
            "  FORCE on cell =-STRESS in cart. coord.  units (eV):\n  Direction    XX          YY          ZZ          XY          YZ          ZX\n"
        )
        o.write("  " + "-" * 86 + "\n")
        vol = atoms.get_volume()
        s_ev = -stress * vol
        o.write(
            f"  Total   {s_ev[0, 0]:11.5f} {s_ev[1, 1]:11.5f} {s_ev[2, 2]:11.5f} {s_ev[0, 1]:11.5f} {s_ev[1, 2]:11.5f} {s_ev[2, 0]:11.5f}\n"
        )
        o.write(
            f"  in kB   {p_kbar[0, 0]:11.5f} {p_kbar[1, 1]:11.5f} {p_kbar[2, 2]:11.5f} {p_kbar[0, 1]:11.5f} {p_kbar[1, 2]:11.5f} {p_kbar[2, 0]:11.5f}\n"
        )
        o.write(f"  external pressure = {p_ext:11.2f} kB  Pullay stress =        0.00 kB\n\n")
        o.write(
            f"  kinetic pressure (ideal gas correction) = {p_kin:11.2f} kB\n  total pressure  = {p_ext + p_kin:11.2f} kB\n"
        )
        o.write(f"  volume of cell : {vol:11.2f}\n\n")
        o.write(
            " POSITION                                       TOTAL-FORCE (eV/Angst)\n "
            + "-" * 83
            + "\n"
        )
        for pos, f in zip(atoms.positions, forces, strict=True):
            o.write(
                f" {pos[0]:12.5f} {pos[1]:12.5f} {pos[2]:12.5f}    {f[0]:13.6f} {f[1]:13.6f} {f[2]:13.6f}\n"
            )
        drift = forces.sum(axis=0)
        o.write(
            " "
            + "-" * 83
            + f"\n    total drift:                         {drift[0]:12.6f} {drift[1]:12.6f} {drift[2]:12.6f}\n\n"
        )
        o.write(f" number of electron {4.0 * len(atoms):15.7f} magnetization       0.0000000\n\n")
        o.write(
            "  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)\n  ---------------------------------------------------\n"
        )
        o.write(
            f"  free  energy   TOTEN  = {energy:18.8f} eV\n\n  energy  without entropy= {energy:18.8f}  energy(sigma->0) = {energy:18.8f}\n\n"
        )
        o.write(f"     LOOP+:  cpu time {step_seconds:8.4f}: real time {step_seconds:8.4f}\n\n")
        o.write(
            "  ENERGIE OF THE ELECTRON-ION-THERMOSTAT SYSTEM (eV)\n  ---------------------------------------------------\n"
        )
        o.write(f"% ion-electron   TOTEN  = {energy:16.6f}  see above\n")
        o.write(f"  kinetic energy EKIN   = {ekin:16.6f}  (temperature {temperature:8.2f} K)\n")
        o.write(f"  nose potential ES     = {sp:16.6f}\n  nose kinetic   EPS    = {sk:16.6f}\n")
        o.write(f"  total energy   ETOTAL = {etot:16.6f} eV\n\n")
        if write_frame:
            self.n_xdat += 1
            self.xdat.write(f"Direct configuration= {n:5d}\n")
            for p in atoms.get_scaled_positions(wrap=True):
                self.xdat.write(f"  {p[0]:.8f}  {p[1]:.8f}  {p[2]:.8f}\n")
        w = self.xml.write
        w(" <calculation>\n")
        for k in range(1, n_elec + 1):
            w(
                f'  <scstep>\n   <energy>\n    <i name="e_fr_energy"> {energy + 10.0 ** (-k):16.8f} </i>\n'
            )
            w(
                f'    <i name="e_wo_entrp"> {energy + 10.0 ** (-k):16.8f} </i>\n    <i name="e_0_energy"> {energy + 10.0 ** (-k):16.8f} </i>\n   </energy>\n  </scstep>\n'
            )
        self._xml_structure(atoms, None)
        w('  <varray name="forces" >\n')
        for f in forces:
            w(f"   <v> {f[0]:16.8f} {f[1]:16.8f} {f[2]:16.8f} </v>\n")
        w('  </varray>\n  <varray name="stress" >\n')
        for row in p_kbar:
            w(f"   <v> {row[0]:16.8f} {row[1]:16.8f} {row[2]:16.8f} </v>\n")
        w("  </varray>\n  <energy>\n")
        for name, val in (
            ("e_fr_energy", energy),
            ("e_wo_entrp", energy),
            ("e_0_energy", energy),
            ("kinetic", ekin),
            ("nosepot", sp),
            ("nosekinetic", sk),
            ("total", etot),
        ):
            w(f'   <i name="{name}"> {val:16.8f} </i>\n')
        w("  </energy>\n </calculation>\n")

    def finish(self, atoms: Atoms, elapsed: float) -> None:
        self._xml_structure(atoms, "finalpos")
        self.xml.write("</modeling>\n")
        self.outcar.write(
            " General timing and accounting informations for this job:\n ========================================================\n\n"
        )
        self.outcar.write(f"                  Total CPU time used (sec):      {elapsed:10.3f}\n")
        self.outcar.write(f"                            User time (sec):      {elapsed:10.3f}\n")
        self.outcar.write(f"                          System time (sec):      {0.0:10.3f}\n")
        self.outcar.write(f"                         Elapsed time (sec):      {elapsed:10.3f}\n\n")
        self.outcar.write("                   Maximum memory used (kb):       12345.\n")
        self.outcar.write("                   Average memory used (kb):          N/A\n")
        for f in (self.out, self.osz, self.outcar, self.xdat, self.xml):
            f.close()


def _xml_val(val) -> tuple[str, str]:
    """(type attribute, text) of an INCAR value as VASP writes it in vasprun.xml."""
    if isinstance(val, bool):
        return ' type="logical"', " T " if val else " F "
    if isinstance(val, int):
        return ' type="int"', f" {val} "
    if isinstance(val, float):
        return "", f" {val} "
    if isinstance(val, list):
        return "", " ".join(str(v) for v in val)
    return ' type="string"', str(val)


def _load_control() -> dict:
    path = os.environ.get("AMORPHDB_FAKE_VASP_CONTROL")
    if not path or not Path(path).exists():
        return {"mode": "none"}
    control = json.loads(Path(path).read_text())
    control["_path"] = path
    return control


def _should_fail(control: dict) -> bool:
    """Count an invocation against the control's ``times`` budget."""
    count_file = Path(control["_path"] + ".count")
    count = int(count_file.read_text()) if count_file.exists() else 0
    if count >= int(control.get("times", 1)):
        return False
    count_file.write_text(str(count + 1))
    return True


def _read_potcar_titels() -> list[str]:
    if not Path("POTCAR").exists():
        return []
    return [
        line.split("=", 1)[1].strip()
        for line in Path("POTCAR").read_text().splitlines()
        if line.strip().startswith("TITEL")
    ]


def _stopcar_requested() -> bool:
    p = Path("STOPCAR")
    return (
        p.exists()
        and "LSTOP" in p.read_text().upper().replace(" ", "")
        and ".TRUE." in p.read_text().upper()
    )


def main() -> int:
    signal.signal(signal.SIGTERM, _on_term)
    t_start = time.time()
    incar = Incar.from_file("INCAR")
    if not Path("KPOINTS").exists() and "KSPACING" not in incar:
        print(" ERROR: KPOINTS file not found and KSPACING not set", flush=True)
        return 1
    poscar = Poscar.from_file("POSCAR", check_for_potcar=False, read_velocities=True)
    structure = poscar.structure
    species = [str(s) for s in poscar.site_symbols]
    counts = list(poscar.natoms)
    atoms = Atoms(
        [str(s.specie) for s in structure],
        positions=structure.cart_coords,
        cell=structure.lattice.matrix,
        pbc=True,
    )
    masses = atoms.get_masses()  # amu
    control = _load_control()
    mode = control.get("mode", "none")
    fail_now = mode in ("error", "hang") and _should_fail(control)

    nsw = int(incar.get("NSW", 0))
    potim = float(incar.get("POTIM", 0.5))
    nblock = int(incar.get("NBLOCK", 1))
    nelm = int(incar.get("NELM", 60))
    tebeg = float(incar.get("TEBEG", 300.0))
    teend = float(incar.get("TEEND", tebeg))
    algo = str(incar.get("ALGO", "Normal")).lower()
    dof = 3 * len(atoms) - 3
    dt = potim * units.fs
    if poscar.velocities is not None and np.any(np.asarray(poscar.velocities)):
        vel = np.asarray(poscar.velocities, dtype=float) / units.fs  # Å/fs -> ASE
    else:
        rng = np.random.default_rng(
            int(incar.get("RANDOM_SEED", 12345))
            if not isinstance(incar.get("RANDOM_SEED"), list)
            else 12345
        )
        vel = rng.normal(size=(len(atoms), 3)) * np.sqrt(units.kB * tebeg / masses)[:, None]
        vel -= (masses[:, None] * vel).sum(0) / masses.sum()
        ek = 0.5 * (masses[:, None] * vel**2).sum()
        vel *= np.sqrt(0.5 * dof * units.kB * tebeg / ek)

    writer = Writer(incar, atoms, species, counts, _read_potcar_titels())
    energy, forces, stress = lj_energy_forces_stress(atoms)
    smass = float(incar.get("SMASS", 0.0))
    tau = 40.0 * units.fs if smass <= 0 else smass * units.fs
    xi, eta = 0.0, 0.0
    per_step_sleep = float(control.get("seconds_per_step", 0.0))
    m = masses[:, None]
    for n in range(1, nsw + 1):
        t_step = time.time()
        target = tebeg + (teend - tebeg) * (n - 1) / max(nsw - 1, 1)
        q = dof * units.kB * target * tau**2
        # Nosé–Hoover velocity Verlet (one thermostat)
        vel = vel + 0.5 * dt * (forces / m - xi * vel)
        atoms.positions = atoms.positions + dt * vel
        energy, forces, stress = lj_energy_forces_stress(atoms)
        ek = 0.5 * (m * vel**2).sum()
        xi += dt / q * (2 * ek - dof * units.kB * target)
        eta += dt * xi
        vel = (vel + 0.5 * dt * forces / m) / (1 + 0.5 * dt * xi)
        if (
            mode == "runaway"
            and n >= int(control.get("at_step", 1))
            and potim > float(control.get("stable_potim", 1.0))
        ):
            vel *= float(control.get("heat_factor", 1.6))
        ek = 0.5 * (m * vel**2).sum()
        temperature = 2 * ek / (dof * units.kB)
        sp = dof * units.kB * target * eta
        sk = 0.5 * q * xi**2
        n_elec = min(nelm, 6)
        if (
            mode == "nonconverged"
            and n in set(control.get("steps", []))
            and algo in [a.lower() for a in control.get("bad_algos", ["fast", "normal"])]
        ):
            n_elec = nelm
        if fail_now and mode == "hang" and n >= int(control.get("at_step", 1)):
            time.sleep(float(control.get("hang_s", 60)))
        if per_step_sleep:
            time.sleep(per_step_sleep)
        writer.step(
            n,
            atoms,
            n_elec,
            energy,
            ek,
            temperature,
            stress,
            forces,
            (sp, sk),
            write_frame=(n % nblock == 0),
            step_seconds=time.time() - t_step,
        )
        contcar = Poscar(_structure_from(atoms, poscar), velocities=(vel * units.fs).tolist())
        contcar.write_file("CONTCAR")
        if fail_now and mode == "error" and n >= int(control.get("at_step", 1)):
            writer.out.write(f" {control.get('message', 'Error EDDDAV: Call to ZHEGV failed')}\n")
            writer.out.flush()
            return 1
        if _stopcar_requested():
            writer.out.write(" LSTOP: stopping at the end of this ionic step (STOPCAR)\n")
            break
    writer.finish(atoms, time.time() - t_start)
    return 0


def _structure_from(atoms: Atoms, poscar: Poscar):
    from pymatgen.core import Lattice, Structure

    return Structure(
        Lattice(atoms.cell[:]),
        [s.specie for s in poscar.structure],
        atoms.positions,
        coords_are_cartesian=True,
    )


if __name__ == "__main__":
    sys.exit(main())
