"""Engine overhead: amorphdb's makers versus the bare engines they drive.

1. LAMMPS: the same NVT run (Pedone 2006, ~100-atom Li2O·2SiO2 at 3000 K) through
   :class:`amorphdb.flows.md.MDMaker` (jobflow ``run_locally``, Custodian recovery
   path, checkpoint dump, stitching, parsing, run document) and as a plain ``lmp``
   run of the very input files amorphdb wrote. Target: overhead < 5 % at 10 000 steps.
2. ML potentials: the ``mlip`` engine (checks every step, checkpoint every frame,
   Custodian) versus a plain ASE Nosé–Hoover loop with the same cached calculator,
   reporting steps/s for CHGNet and SevenNet-0 on the same ~100-atom cell.

Usage::

    .venv/bin/python benchmarks/bench_engines.py [--lammps-steps 10000] [--ml-steps 40]

Prints a Markdown table (copied into ``docs/benchmarks.md``, section Engines).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path


def bench_lammps(n_steps: int, structure) -> list[tuple[str, float]]:
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    from amorphdb.engines import EngineSpec
    from amorphdb.engines.lammps.runner import lammps_argv
    from amorphdb.flows.md import MDMaker

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        maker = MDMaker(engine=EngineSpec(name="lammps"), temperature_K=3000.0,
                        n_steps=n_steps, traj_every=100, thermo_every=100, seed=1)
        store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
        job = maker.make(structure)
        t0 = time.perf_counter()
        run_locally(job, store=store, create_folders=True, root_dir=tmp / "maker",
                    ensure_success=True)
        t_maker = time.perf_counter() - t0
        run_dir = next((tmp / "maker").glob("job_*"))
        plain = tmp / "plain"
        plain.mkdir()
        for name in ("in.lammps", "data.lmp"):
            (plain / name).write_text((run_dir / name).read_text())
        argv, env = lammps_argv("in.lammps", "log.lammps")
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=plain, env=env, check=True, stdout=subprocess.DEVNULL)
        t_plain = time.perf_counter() - t0
    rows.append(("LAMMPS plain `lmp`", t_plain))
    rows.append(("LAMMPS amorphdb MDMaker", t_maker))
    return rows


def bench_mlip(model: str, n_steps: int, structure) -> tuple[float, float]:
    import numpy as np
    import torch
    from ase import units
    from ase.md.nose_hoover_chain import NoseHooverChainNVT
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from pymatgen.io.ase import AseAtomsAdaptor

    from amorphdb.engines import EngineSpec, MDSettings, get_engine
    from amorphdb.engines.mlip.models import load_calculator, resolve_model

    torch.set_num_threads(1)
    calc = load_calculator(resolve_model(model))
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calc
    MaxwellBoltzmannDistribution(atoms, temperature_K=3000, rng=np.random.default_rng(1))
    dyn = NoseHooverChainNVT(atoms, 2.0 * units.fs, temperature_K=3000, tdamp=100 * units.fs)
    atoms.get_forces()
    t0 = time.perf_counter()
    dyn.run(n_steps)
    t_plain = time.perf_counter() - t0

    engine = get_engine(EngineSpec(name="mlip", potential=model))
    md = MDSettings(temperature_K=3000, n_steps=n_steps, timestep_fs=2.0, traj_every=10,
                    thermo_every=10, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        engine.run(structure, md, Path(tmp))
        t_engine = time.perf_counter() - t0
    return t_plain, t_engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lammps-steps", type=int, default=10000)
    parser.add_argument("--ml-steps", type=int, default=40)
    parser.add_argument("--skip-ml", action="store_true")
    parser.add_argument("--repeats", type=int, default=3,
                        help="best of N (the machine may be shared; the minimum is the cost)")
    args = parser.parse_args()

    from amorphdb.structure import pack_structure

    cell = pack_structure("Li2Si2O5", n_formula_units=11, density_g_cm3=2.35, seed=7)
    print(f"cell: {cell.composition.reduced_formula} x{len(cell)} atoms, "
          f"{cell.volume:.0f} Å³\n")
    print(f"best of {args.repeats}\n")
    print("| run | steps | wall time (s) | steps/s | amorphdb overhead |")
    print("|---|---|---|---|---|")
    runs = [bench_lammps(args.lammps_steps, cell) for _ in range(args.repeats)]
    name_p, name_m = runs[0][0][0], runs[0][1][0]
    t_p = min(r[0][1] for r in runs)
    t_m = min(r[1][1] for r in runs)
    n = args.lammps_steps
    print(f"| {name_p} | {n} | {t_p:.2f} | {n / t_p:.0f} | |")
    print(f"| {name_m} | {n} | {t_m:.2f} | {n / t_m:.0f} | {100 * (t_m - t_p) / t_p:+.1f} % |")
    if args.skip_ml:
        return
    for model in ("chgnet", "sevennet-0"):
        runs = [bench_mlip(model, args.ml_steps, cell) for _ in range(args.repeats)]
        t_plain = min(r[0] for r in runs)
        t_engine = min(r[1] for r in runs)
        n = args.ml_steps
        print(f"| {model} plain ASE NVT loop | {n} | {t_plain:.2f} | {n / t_plain:.2f} | |")
        print(
            f"| {model} amorphdb mlip engine | {n} | {t_engine:.2f} | {n / t_engine:.2f} "
            f"| {100 * (t_engine - t_plain) / t_plain:+.1f} % |"
        )


if __name__ == "__main__":
    main()
