"""Structure descriptors of a production run: amorphdb's one-pass descriptors versus the
per-function path (ASE neighbour list per frame).

The trajectory is real: LAMMPS + Pedone 2006, a 150-atom Li2SiO3 cell (25 formula units,
2.3 g/cm³) at 3000 K, 2 000 frames (one per 1 fs step). Timed, best of N, on the same
trajectory in one run:

1. ``structure_descriptors`` defaults (last half, ≤ 500 evenly spaced frames): density,
   every partial RDF and first peak, CN of Li and Si by O with cut-offs, Qn, packing
   fraction, bond energy, X-ray and neutron S(q). Target: < 2 s.
2. the same on all 1 000 frames of the last half (``max_frames=None``).
3. the per-function path on those 1 000 frames: ``rdf`` + ``coordination_numbers`` (Li–O,
   Si–O) with ASE's ``neighbor_list`` per frame, + two ``structure_factor`` calls —
   what the analysis did before (fewer descriptors: no Qn, packing, bond energy).

Usage::

    .venv/bin/python benchmarks/bench_descriptors.py [--frames 2000] [--repeats 3]

Prints a Markdown table (copied into ``docs/benchmarks.md``, section Structure descriptors).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def production_trajectory(n_frames: int):
    from amorphdb.engines import EngineSpec, MDSettings, get_engine
    from amorphdb.structure import pack_structure

    cell = pack_structure("Li2SiO3", n_formula_units=25, density_g_cm3=2.3, seed=3)
    engine = get_engine(EngineSpec(name="lammps"))
    with tempfile.TemporaryDirectory() as tmp:
        equil = MDSettings(temperature_K=3000, n_steps=2000, timestep_fs=1.0, traj_every=100,
                           thermo_every=100, seed=1)
        first = engine.run(cell, equil, Path(tmp) / "equil")
        md = MDSettings(temperature_K=3000, n_steps=n_frames - 1, timestep_fs=1.0,
                        traj_every=1, thermo_every=100, seed=2)
        run = engine.run(first.final_structure, md, Path(tmp) / "prod",
                         first.final_velocities_A_per_fs)
    return run.trajectory


def per_function(traj, frames) -> None:
    import amorphdb.analysis.structure as structure
    from amorphdb.analysis.structure import (
        _pairs,
        coordination_numbers,
        rdf,
        structure_factor,
    )

    # force the neighbour-list path (what every call did before the vectorised one)
    saved = structure.pair_distances
    structure.pair_distances = lambda t, idx, r: (_pairs(t, f, r) for f in idx)
    try:
        res = rdf(traj, r_max=5.0, frames=frames)
        for c in ("Li", "Si"):
            coordination_numbers(traj, c, "O", frames=frames, r_max=5.0)
        structure_factor(traj, "neutron", rdf_result=res)
        structure_factor(traj, "xray", rdf_result=res)
    finally:
        structure.pair_distances = saved


def best(fn, repeats: int) -> tuple[float, float]:
    """Best wall time and best CPU time of this process (s): on a shared, loaded machine
    the CPU time is what an idle one would take."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-per-function", action="store_true",
                        help="skip the slow neighbour-list path (~1 min CPU)")
    args = parser.parse_args()

    from amorphdb.analysis.descriptors import structure_descriptors
    from amorphdb.flows.structure_record import pair_energy_function

    traj = production_trajectory(args.frames)
    half = slice(traj.n_frames // 2, None)
    energy = pair_energy_function("lammps", "pedone2006")
    structure_descriptors(traj, max_frames=10)  # imports, tables
    d = structure_descriptors(traj, pair_energy=energy)
    print(f"trajectory: {traj!r}")
    print(f"CN Si-O {d.cn['Si-O']:.3f} ± {d.cn_std['Si-O']:.3f} (cut-off "
          f"{d.cn_cutoff_A['Si-O']:.2f} Å), CN Li-O {d.cn['Li-O']:.2f} (cut-off "
          f"{d.cn_cutoff_A['Li-O']:.2f} Å), Qn(Si) {d.qn['Si']}\n")
    w_def, c_def = best(lambda: structure_descriptors(traj, pair_energy=energy), args.repeats)
    w_all, c_all = best(
        lambda: structure_descriptors(traj, max_frames=None, pair_energy=energy), args.repeats
    )
    n_half = traj.n_frames - traj.n_frames // 2
    w_old, c_old = (None, None) if args.skip_per_function else best(
        lambda: per_function(traj, half), 1
    )

    def vs(c: float) -> str:
        return "" if c_old is None else f"{c_old / c:.0f}× faster"

    print(f"best of {args.repeats} (per-function path: 1 run)\n")
    print("| path | frames analysed | wall time (s) | CPU time (s) | vs. per-function (CPU) |")
    print("|---|---|---|---|---|")
    print(f"| `structure_descriptors` (default) | {min(500, n_half)} | {w_def:.2f} "
          f"| {c_def:.2f} | {vs(c_def)} |")
    print(f"| `structure_descriptors(max_frames=None)` | {n_half} | {w_all:.2f} "
          f"| {c_all:.2f} | {vs(c_all)} |")
    if c_old is not None:
        print(f"| `rdf` + 2 × `coordination_numbers` + 2 × `structure_factor`, ASE "
              f"neighbour list | {n_half} | {w_old:.2f} | {c_old:.2f} | 1 |")
    status = "met" if c_def < 2.0 else "NOT met"
    print(f"\ntarget: 150 atoms x {traj.n_frames} frames in < 2 s (CPU): {status} "
          f"({c_def:.2f} s CPU, {w_def:.2f} s wall)")


if __name__ == "__main__":
    main()
