"""σ(D_Li) against cell size and run length, on the glass path of the demo.

For each composition, cell size (~60, ~120, ~240 atoms) and packing seed: pack at
2.35 g/cm³, melt 5 ps at 3000 K (NVT), ramp to 2500 K (NVT, 2 ps), then cool under NPT
at P = 0 (LAMMPS, Pedone 2006, 10 Å short-range cut-off, the demo's engine settings)
through each anneal temperature (``schedules.glass_path_stages``, the demo's 10 K/ps
by default). At each anneal temperature: a 5 ps NPT hold, the cell rescaled to the
mean volume of its second half, then one NVT production. D_Li and its σ come from
``amorphdb.analysis.diffusion.diffusivity`` (automatic window, ``auto`` σ: the
standard error over Li atoms unless the block spread is larger) for the first 10,
20, 40 (and 80) ps of the same production; the spread of D_Li over independent
packing seeds at one size is the check of that σ.

Expected: σ/D ∝ (N_Li·t)^-1/2 (independent atoms, independent time blocks;
He et al., npj Comput. Mater. 4, 18 (2018), doi:10.1038/s41524-018-0074-y). The
fitted exponent is printed per temperature.

Usage::

    .venv/bin/python benchmarks/bench_cellsize.py           # quick: minutes
    .venv/bin/python benchmarks/bench_cellsize.py --full --workers 2 --out docs/cellsize

``--full``: Li2Si2O5 and Li2SiO3, 60/120/240 atoms, 1500 K (40 ps) and 1000 K
(80 ps) at 10 K/ps, plus seeds 2 and 3 at 120 atoms for Li2Si2O5 (27 CPU-min measured on a
loaded 2-core machine). The quick default is Li2Si2O5 at 60 and 120 atoms, cooled at 50 K/ps,
20 ps of production at 1500 and 1000 K. Each run's numbers are written to
``<out>/runs/*.json`` as soon as it finishes (rerunning skips them); the table is
``<out>/cellsize.md``, the plot ``<out>/cellsize.png`` (default ``<out>``: a folder in the
system's temporary directory). The full run's outputs are kept in ``docs/cellsize``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

#: glass density used to pack the cells (the demo's packing density), g/cm³
PACK_DENSITY_G_CM3 = 2.35
MELT_K = 3000.0
PATH_START_K = 2500.0
#: σ estimates of ``diffusivity`` whose scaling is fitted besides the reported (auto) one
METHODS = ("atoms", "blocks", "he2018")


@dataclass(frozen=True)
class Task:
    """One glass path: composition, target atoms, packing/velocity seed."""

    formula: str
    atoms: int
    seed: int
    temperatures_K: tuple[float, ...]
    production_ps: tuple[float, ...]  # per temperature
    rate_K_per_ps: float
    lengths_ps: tuple[float, ...]

    @property
    def key(self) -> str:
        return f"{self.formula}_{self.atoms}_s{self.seed}_r{self.rate_K_per_ps:g}"


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the ``lmp`` runs)."""
    own, children = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                      resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _md(t0, t1, n_steps, ensemble, seed):
    from amorphdb.engines import MDSettings

    return MDSettings(temperature_K=t0, end_temperature_K=t1, n_steps=int(n_steps),
                      timestep_fs=1.0, ensemble=ensemble, seed=seed, traj_every=50,
                      thermo_every=20)


def run_task(task: Task, workdir: Path) -> dict:
    """Run one glass path and analyse each production at every length (pure numbers)."""
    from amorphdb.analysis.diffusion import diffusivity
    from amorphdb.engines import EngineSpec, Ensemble, get_engine
    from amorphdb.flows.schedules import glass_path_stages
    from amorphdb.structure import pack_structure

    t_start, cpu_start = time.perf_counter(), _cpu_s()
    engine = get_engine(EngineSpec(name="lammps", potential="pedone2006"))
    structure = pack_structure(task.formula, target_atoms=task.atoms,
                               density_g_cm3=PACK_DENSITY_G_CM3, seed=task.seed)
    out = engine.run(structure, _md(MELT_K, MELT_K, 5000, Ensemble.NVT, task.seed),
                     workdir / "melt")
    stages = glass_path_stages(MELT_K, list(task.temperatures_K), PATH_START_K,
                               task.rate_K_per_ps, 1.0, 2000)
    n_li = sum(1 for s in structure.species if s.symbol == "Li")
    result = {"task": asdict(task), "n_atoms": len(structure), "n_li": n_li, "anneals": []}
    for i, (t0, t1, n_steps, npt) in enumerate(stages):
        out = engine.run(out.final_structure,
                         _md(t0, t1, n_steps, Ensemble.NPT if npt else Ensemble.NVT, task.seed),
                         workdir / f"cool{i}", out.final_velocities_A_per_fs)
        if not npt or t1 not in task.temperatures_K:
            continue
        hold = engine.run(out.final_structure, _md(t1, t1, 5000, Ensemble.NPT, task.seed),
                          workdir / f"hold{t1:g}", out.final_velocities_A_per_fs)
        volume = hold.thermo.second_half_mean("volume_A3")
        cell = hold.final_structure.copy()
        cell.scale_lattice(volume)
        prod_ps = task.production_ps[task.temperatures_K.index(t1)]
        prod = engine.run(cell, _md(t1, t1, round(prod_ps * 1000), Ensemble.NVT, task.seed),
                          workdir / f"prod{t1:g}", hold.final_velocities_A_per_fs)
        traj = prod.trajectory
        rows = []
        for length in (x for x in task.lengths_ps if x <= prod_ps + 1e-9):
            n_frames = round(length * 1000 / traj.time_step) + 1
            d = diffusivity(traj[:n_frames], "Li", temperature_K=t1)
            rows.append({"length_ps": length, "D_cm2_s": d.D, "sigma_cm2_s": d.D_std,
                         "sigma_method": d.D_std_method, "reliable": d.reliable,
                         "reason": d.reason, "sigma_by_method": d.D_std_by_method})
        result["anneals"].append({
            "temperature_K": t1, "density_g_cm3": float(cell.density),
            "production_pressure_kbar": prod.thermo.second_half_mean("pressure_kbar"),
            "lengths": rows,
        })
        out = hold  # the path continues from the end of the hold (as the protocol's branch)
    result["cpu_s"] = _cpu_s() - cpu_start
    result["wall_s"] = time.perf_counter() - t_start
    return result


def _run_and_save(task: Task, out_dir: Path) -> dict:
    work = out_dir / "work" / task.key
    try:
        result = run_task(task, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = out_dir / "runs" / f"{task.key}.json"
    path.write_text(json.dumps(result, indent=1))
    return result


def fit_scaling(points: list[tuple]) -> tuple[float, float, float, float, float]:
    """Least-squares fit of log σ/D = log A + a·log N_Li + c·log(t/ps) over points
    ``(N_Li, t_ps, σ/D, ...)``: returns (A, a, σ_a, c, σ_c); NaN with fewer than 5 points
    or a single cell size. Independent atoms give a = −1/2; independent time blocks c = −1/2."""
    nan = (float("nan"),) * 5
    n = np.log([p[0] for p in points])
    t = np.log([p[1] for p in points])
    y = np.log([p[2] for p in points])
    if len(y) < 5 or np.ptp(n) == 0 or np.ptp(t) == 0:
        return nan
    X = np.column_stack([np.ones_like(n), n, t])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    cov = np.linalg.inv(X.T @ X) * (resid @ resid) / (len(y) - 3)
    return (float(np.exp(coef[0])), float(coef[1]), float(np.sqrt(cov[1, 1])),
            float(coef[2]), float(np.sqrt(cov[2, 2])))


def tables(results: list[dict]) -> tuple[list[str], list[tuple]]:
    """Markdown: σ/D per (composition, T, atoms) × length; fits; seed spread."""
    lines: list[str] = []
    lengths = sorted({r["length_ps"] for res in results for a in res["anneals"]
                      for r in a["lengths"]})
    seed1 = [r for r in results if r["task"]["seed"] == 1]
    by_ct: dict[tuple[str, float], list[dict]] = {}
    for res in seed1:
        for a in res["anneals"]:
            by_ct.setdefault((res["task"]["formula"], a["temperature_K"]), []).append(
                {"n_atoms": res["n_atoms"], "n_li": res["n_li"], **a})
    lines.append("| composition | T (K) | atoms (Li) | ρ (g/cm³) | D_Li shortest → longest "
                 "(cm²/s) | " + " | ".join(f"σ/D {t:g} ps" for t in lengths) + " |")
    lines.append("|---|---|---|---|---|" + "---|" * len(lengths))
    fits = []
    for (formula, temp), rows in sorted(by_ct.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        points = []
        per_method: dict[str, list[tuple]] = {m: [] for m in METHODS}
        for row in sorted(rows, key=lambda r: r["n_atoms"]):
            cells = {r["length_ps"]: r for r in row["lengths"]}
            last = row["lengths"][-1]
            text = []
            for t in lengths:
                r = cells.get(t)
                if r is None:
                    text.append("–")
                    continue
                rel = r["sigma_cm2_s"] / r["D_cm2_s"] if r["D_cm2_s"] > 0 else float("nan")
                text.append(f"{rel:.0%}" + ("" if r["reliable"] else " ⚑"))
                if r["D_cm2_s"] > 0:
                    points.append((row["n_li"], t, rel, row["n_atoms"], r["reliable"]))
                    for m in METHODS:
                        if m in r["sigma_by_method"]:
                            per_method[m].append((row["n_li"], t,
                                                  r["sigma_by_method"][m] / r["D_cm2_s"],
                                                  row["n_atoms"], r["reliable"]))
            lines.append(f"| {formula} | {temp:g} | {row['n_atoms']} ({row['n_li']}) | "
                         f"{row['density_g_cm3']:.3f} | {row['lengths'][0]['D_cm2_s']:.1e} → "
                         f"{last['D_cm2_s']:.2e} ± "
                         f"{last['sigma_cm2_s']:.1e} | " + " | ".join(text) + " |")
        fits.append((formula, temp, fit_scaling(points), points,
                     {m: fit_scaling(v) for m, v in per_method.items()}, per_method["atoms"]))
    lines += ["", "⚑ = flagged unreliable by `diffusivity` (reason in the JSON).", "",
              "Fit σ/D = A·N_Li^a·(t/ps)^c (independent atoms and time blocks: a = c = −1/2):",
              "", "| composition | T (K) | A | a (reported σ) | c (reported σ) | "
              + " | ".join(f"a, c ({m})" for m in METHODS) + " |",
              "|---|---|---|---|---|" + "---|" * len(METHODS)]
    for formula, temp, (amp, a, sa, c, sc), _, by_m, _ in fits:
        lines.append(f"| {formula} | {temp:g} | {amp:.2f} | {a:.2f} ± {sa:.2f} | "
                     f"{c:.2f} ± {sc:.2f} | "
                     + " | ".join(f"{by_m[m][1]:.2f}, {by_m[m][3]:.2f}" for m in METHODS) + " |")
    # seed spread
    groups: dict[tuple[str, int], list[dict]] = {}
    for res in results:
        groups.setdefault((res["task"]["formula"], res["n_atoms"]), []).append(res)
    seeded = {k: v for k, v in groups.items() if len(v) >= 2}
    if seeded:
        lines += ["", "| composition | atoms | T (K) | t (ps) | seeds | D_Li per seed (cm²/s) | "
                  "mean σ/D (stated) | seed spread / mean D |", "|---|---|---|---|---|---|---|---|"]
        for (formula, n_atoms), runs in sorted(seeded.items()):
            temps = [a["temperature_K"] for a in runs[0]["anneals"]]
            for temp in temps:
                for t in lengths:
                    vals, rels = [], []
                    for res in runs:
                        for a in res["anneals"]:
                            for r in a["lengths"]:
                                if a["temperature_K"] == temp and r["length_ps"] == t:
                                    vals.append(r["D_cm2_s"])
                                    rels.append(r["sigma_cm2_s"] / r["D_cm2_s"])
                    if len(vals) < 2:
                        continue
                    spread = float(np.std(vals, ddof=1) / np.mean(vals))
                    lines.append(
                        f"| {formula} | {n_atoms} | {temp:g} | {t:g} | {len(vals)} | "
                        + ", ".join(f"{v:.2e}" for v in vals)
                        + f" | {np.mean(rels):.0%} | {spread:.0%} |")
    return lines, fits


def plot(fits, path: Path, rate_K_per_ps: float) -> None:
    """σ/D against N_Li·t, log–log, for the reported σ (left) and the per-atom standard
    error (right): marker per cell size (hollow = flagged unreliable), colour per
    composition and temperature; the fitted exponents in the legends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    markers = ["o", "s", "^", "D", "v"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    for ax, which in zip(axes, ("reported", "atoms"), strict=True):
        for i, (formula, temp, fit, points, by_m, atoms_points) in enumerate(fits):
            pts, (_, a, _, c, _) = ((points, fit) if which == "reported"
                                    else (atoms_points, by_m["atoms"]))
            if not pts:
                continue
            colour = f"C{i}"
            sizes = sorted({p[3] for p in pts})
            for n_li, t, y, n_atoms, reliable in pts:
                ax.loglog(n_li * t, y, markers[sizes.index(n_atoms) % len(markers)],
                          color=colour, mfc=colour if reliable else "none")
            ax.plot([], [], "-", color=colour, label=f"{formula} {temp:g} K: a = {a:.2f}, "
                    f"c = {c:.2f}")
        ax.axhline(0.2, color="grey", ls=":", lw=1)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("N_Li × production length (Li·ps)")
        ax.set_title(f"{'reported σ (auto)' if which == 'reported' else 'per-atom σ (atoms)'}; "
                     f"glass path {rate_K_per_ps:g} K/ps", fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, title="σ/D ∝ N_Li^a t^c", title_fontsize=7)
    axes[0].set_ylabel("σ(D_Li) / D_Li   (markers: small → large cell; hollow: flagged)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_tasks(args) -> list[Task]:
    if args.full:
        formulas, atoms, temps, prod = (["Li2Si2O5", "Li2SiO3"], [60, 120, 240],
                                        (1500.0, 1000.0), (40.0, 80.0))
        rate, lengths, seeds = 10.0, (10.0, 20.0, 40.0, 80.0), [2, 3]
    else:
        formulas, atoms, temps, prod = ["Li2Si2O5"], [60, 120], (1500.0, 1000.0), (20.0, 20.0)
        rate, lengths, seeds = 50.0, (5.0, 10.0, 20.0), []
    formulas = args.compositions or formulas
    atoms = args.atoms or atoms
    rate = args.rate or rate
    seeds = seeds if args.seeds is None else args.seeds
    tasks = [Task(f, n, 1, temps, prod, rate, lengths) for f in formulas for n in atoms]
    seed_atoms = atoms[len(atoms) // 2]
    tasks += [Task(formulas[0], seed_atoms, s, temps, prod, rate, lengths) for s in seeds]
    # seed-1 paths first (largest first: balances the pool), the extra seeds last
    return sorted(tasks, key=lambda t: (t.seed != 1, -t.atoms))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the measurement for the docs")
    parser.add_argument("--compositions", nargs="+", default=None)
    parser.add_argument("--atoms", nargs="+", type=int, default=None)
    parser.add_argument("--rate", type=float, default=None, help="cooling rate, K/ps")
    parser.add_argument("--seeds", nargs="*", type=int, default=None,
                        help="extra packing seeds at the middle size")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path,
                        default=Path(tempfile.gettempdir()) / "amorphdb-bench-cellsize",
                        help="folder for runs/*.json, cellsize.md and cellsize.png")
    args = parser.parse_args(argv)
    tasks = build_tasks(args)
    (args.out / "runs").mkdir(parents=True, exist_ok=True)
    results, todo = [], []
    for task in tasks:
        saved = args.out / "runs" / f"{task.key}.json"
        if saved.exists():
            results.append(json.loads(saved.read_text()))
        else:
            todo.append(task)
    print(f"{len(tasks)} glass paths ({len(todo)} to run, {len(results)} saved in {args.out})",
          flush=True)
    failed = 0
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        futures = {pool.submit(_run_and_save, t, args.out): t for t in todo}
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # report and go on: one failed path keeps the others
                failed += 1
                print(f"  {task.key}: FAILED {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            results.append(res)
            print(f"  {task.key}: {res['n_atoms']} atoms, {res['cpu_s']:.0f} CPU-s, "
                  f"{res['wall_s']:.0f} s wall", flush=True)
    if not results:
        return 1
    lines, fits = tables(results)
    cpu = sum(r["cpu_s"] for r in results)
    text = "\n".join([f"## Cell size and run length ({cpu / 60:.0f} CPU-min of MD)", "", *lines])
    print(text)
    (args.out / "cellsize.md").write_text(text + "\n")
    plot(fits, args.out / "cellsize.png", tasks[0].rate_K_per_ps)
    print(f"\nplot: {args.out / 'cellsize.png'}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        raise SystemExit(130) from None
