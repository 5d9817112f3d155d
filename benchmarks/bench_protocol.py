"""Protocol choices measured: Coulomb solver speed, volume equilibration method, cut-off.

1. Ewald vs PPPM (both 1e-5) on a ~100-atom Li2O·2SiO2 cell (Pedone 2006, NPT 3000 K):
   steps/s ratio (why the LAMMPS engine uses Ewald up to 500 atoms).
2. Volume equilibration at 1000 K of a glass from the glass path (3000 K → 1000 K NPT):
   the P(V) search (``eos``: NVT at 0.9/1.0/1.1 × V + checks, 2000 steps per point) and
   one NPT run (``npt``, 10 000 steps): accepted density ± σ, MD steps, wall time.
   The default is the one that reaches the same density within its σ for fewer steps.
3. Pedone short-range cut-off: pressure of one fixed 300 K glass configuration for
   5.5, 8, 10, 12 and 15 Å (single-point, no noise). With ``--cutoff-density`` also the
   300 K density after a full 10 K/ps glass path for 5.5 and 10 Å (~20 min per run).

Usage::

    .venv/bin/python benchmarks/bench_protocol.py [--atoms 108] [--cutoff-density]

Prints Markdown tables (copied into ``docs/benchmarks.md``, section Protocol, and
``docs/potentials.md``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def _engine(**settings):
    from amorphdb.engines import EngineSpec, get_engine

    return get_engine(EngineSpec(name="lammps", potential="pedone2006", settings=settings))


def _md(t0, t1, n, ensemble, seed=1):
    from amorphdb.engines import MDSettings

    return MDSettings(temperature_K=t0, end_temperature_K=t1, n_steps=n, timestep_fs=1.0,
                      ensemble=ensemble, seed=seed, traj_every=500, thermo_every=20)


def bench_kspace(structure, n_steps: int, tmp: Path) -> list[str]:
    from amorphdb.engines import Ensemble

    rows, rates = [], {}
    for style in ("pppm", "ewald"):
        t0 = time.perf_counter()
        _engine(kspace=style).run(structure, _md(3000, 3000, n_steps, Ensemble.NPT), tmp / style)
        rates[style] = n_steps / (time.perf_counter() - t0)
        rows.append(f"| {style} 1e-5 | {rates[style]:.0f} | {rates[style] / rates['pppm']:.2f} |")
    return ["| Coulomb solver | steps/s | speed vs PPPM |", "|---|---|---|", *rows]


def glass_at(structure, temperature_K: float, rate_K_per_ps: float, tmp: Path, **settings):
    """Melt at 3000 K (NVT 5 ps), cool under NPT at P = 0 to ``temperature_K``."""
    from amorphdb.engines import Ensemble
    from amorphdb.flows.schedules import ramp_steps

    engine = _engine(**settings)
    out = engine.run(structure, _md(3000, 3000, 5000, Ensemble.NVT), tmp / "melt")
    n = ramp_steps(3000, temperature_K, rate_K_per_ps, 1.0)
    out = engine.run(out.final_structure, _md(3000, temperature_K, n, Ensemble.NPT),
                     tmp / "cool", out.final_velocities_A_per_fs)
    return out


def bench_volume(glass, tmp: Path) -> list[str]:
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    from amorphdb.engines import EngineSpec
    from amorphdb.flows.volume import VolumeEquilibrationMaker, VolumeResult

    rows = ["| method | ρ (g/cm³) | σ_ρ | converged | MD steps | wall (s) |",
            "|---|---|---|---|---|---|"]
    for method, n_steps in (("eos", 2000), ("npt", 10000)):
        maker = VolumeEquilibrationMaker(
            engine=EngineSpec(name="lammps", potential="pedone2006"), temperature_K=1000.0,
            n_steps=n_steps, method=method, noise_sigmas=2.0, on_unconverged="flag",
        )
        store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
        t0 = time.perf_counter()
        flow = maker.make(glass.final_structure, glass.final_velocities_A_per_fs)
        (tmp / method).mkdir(parents=True, exist_ok=True)
        responses = run_locally(flow, store=store, create_folders=True, root_dir=tmp / method,
                                log=False)
        wall = time.perf_counter() - t0
        [res] = [r.output for rs in responses.values() for r in rs.values()
                 if isinstance(r.output, VolumeResult)]
        steps = n_steps * len(res.points)
        rows.append(f"| {method} | {res.density_g_cm3:.3f} | {res.density_sem_g_cm3:.3f} | "
                    f"{res.converged} | {steps} | {wall:.0f} |")
    return rows


def bench_cutoff_pressure(glass, tmp: Path) -> list[str]:
    from amorphdb.engines import Ensemble

    rows = ["| short-range cut-off (Å) | P (kbar) | ΔP vs 10 Å (kbar) |", "|---|---|---|"]
    pressures = {}
    for rc in (5.5, 8.0, 10.0, 12.0, 15.0):
        out = _engine(short_cutoff_A=rc).run(
            glass.final_structure, _md(300, 300, 1, Ensemble.NVE), tmp / f"rc{rc}",
            glass.final_velocities_A_per_fs,
        )
        pressures[rc] = out.thermo.pressure_kbar[0]
    for rc, p in pressures.items():
        rows.append(f"| {rc:g} | {p:.2f} | {p - pressures[10.0]:+.2f} |")
    return rows


def bench_cutoff_density(structure, tmp: Path) -> list[str]:
    from amorphdb.engines import Ensemble

    rows = ["| short-range cut-off (Å) | ρ(300 K) (g/cm³) | vs 2.35 |", "|---|---|---|"]
    for rc in (5.5, 10.0):
        out = glass_at(structure, 300.0, 10.0, tmp / f"d{rc}", short_cutoff_A=rc)
        hold = _engine(short_cutoff_A=rc).run(
            out.final_structure, _md(300, 300, 20000, Ensemble.NPT), tmp / f"d{rc}" / "hold",
            out.final_velocities_A_per_fs,
        )
        volume = hold.thermo.second_half_mean("volume_A3")
        rho = float(out.final_structure.density) * float(out.final_structure.volume) / volume
        rows.append(f"| {rc:g} | {rho:.3f} | {rho / 2.35 - 1:+.1%} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    from amorphdb.structure import pack_structure

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=108)
    parser.add_argument("--kspace-steps", type=int, default=3000)
    parser.add_argument("--cutoff-density", action="store_true")
    args = parser.parse_args(argv)
    structure = pack_structure("Li2Si2O5", target_atoms=args.atoms, density_g_cm3=2.35, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"## Protocol ({len(structure)} atoms Li2Si2O5, Pedone 2006)\n")
        if args.kspace_steps > 0:
            print("\n".join(bench_kspace(structure, args.kspace_steps, tmp / "kspace")), "\n")
        glass = glass_at(structure, 1000.0, 50.0, tmp / "glass1000")
        print("\n".join(bench_volume(glass, tmp / "volume")), "\n")
        cold = glass_at(structure, 300.0, 50.0, tmp / "glass300")
        print("\n".join(bench_cutoff_pressure(cold, tmp / "cutoff")), "\n")
        if args.cutoff_density:
            print("\n".join(bench_cutoff_density(structure, tmp / "density")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
