"""Benchmark: MSD diffusivity of amorphdb vs peers on the same synthetic trajectories.

100 atoms (30 Li random walkers with D = 1e-4 cm²/s, 70 vibrating O), 2 fs between
frames, 5k / 20k / 100k frames. Each (method, size) runs in its own subprocess; the
child reports its own peak resident memory (``ru_maxrss`` of the process,
which includes the interpreter, imports and the shared synthetic trajectory) and the
child reports the wall time of the analysis call only and its D. Timings are ratios
within one run on a shared machine.

    python benchmarks/bench_msd.py [--frames 5000 20000 100000] [--methods ...]
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import time

D_TRUE = 1e-4
METHODS = ["numpy", "amorphdb", "pad_disp", "pad_struct", "mdanalysis", "kinisi"]


def build(n_frames: int, wrap: bool = True):
    return _build(int(n_frames), bool(wrap))


@functools.lru_cache
def _build(n_frames: int, wrap: bool):
    from amorphdb.analysis.synthetic import random_walk_trajectory

    return random_walk_trajectory(n_frames, D_cm2_s=D_TRUE, seed=0, wrap=wrap)


def unwrapped_li(traj):
    return traj.positions[:, :30]  # wrap=False trajectories


def fit_D(t_ps, msd, lo=0.05, hi=0.3):
    import numpy as np

    n = len(msd)
    sl = slice(max(1, int(lo * n)), int(hi * n))
    slope = np.polyfit(t_ps[sl], msd[sl], 1)[0]
    return slope / 6 * 1e-4


def run_numpy(n):
    import numpy as np
    import scipy.fft

    traj = build(n, wrap=False)
    x = np.ascontiguousarray(unwrapped_li(traj).transpose(1, 2, 0)).reshape(-1, n)
    t0 = time.perf_counter()
    nfft = scipy.fft.next_fast_len(2 * n - 1, real=True)
    f = scipy.fft.rfft(x, n=nfft, axis=1)
    s2 = scipy.fft.irfft(f * f.conj(), n=nfft, axis=1)[:, :n]
    sq = x * x
    q = 2 * sq.sum(1, keepdims=True) - np.concatenate(
        [np.zeros((x.shape[0], 1)), np.cumsum(sq[:, :-1] + sq[:, :0:-1], axis=1)], axis=1
    )
    msd = ((q - 2 * s2) / (n - np.arange(n))).reshape(30, 3, n).sum(1).mean(0)
    D = fit_D(traj.times_ps, msd)
    return time.perf_counter() - t0, D


def run_amorphdb(n):
    from amorphdb.analysis import diffusivity

    traj = build(n)
    t0 = time.perf_counter()
    res = diffusivity(traj, "Li")
    return time.perf_counter() - t0, res.D


def _pad_structure(traj):
    from pymatgen.core import Lattice, Structure

    return Structure(
        Lattice(traj.lattice), list(traj.species), traj.positions[0], coords_are_cartesian=True
    )


def run_pad_disp(n):
    import numpy as np
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer

    traj = build(n, wrap=False)
    t0 = time.perf_counter()
    disp = np.ascontiguousarray((traj.positions - traj.positions[0]).transpose(1, 0, 2))
    da = DiffusionAnalyzer(
        _pad_structure(traj), disp, "Li", 1000, traj.time_step, 1, smoothed=False
    )
    return time.perf_counter() - t0, da.diffusivity


def run_pad_struct(n):
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer

    traj = build(n)
    t0 = time.perf_counter()
    structures = traj.to_pymatgen_structures()
    da = DiffusionAnalyzer.from_structures(
        structures, "Li", 1000, traj.time_step, 1, smoothed=False
    )
    return time.perf_counter() - t0, da.diffusivity


def run_mdanalysis(n):
    import MDAnalysis as mda  # noqa: N813
    import numpy as np
    from MDAnalysis.analysis.msd import EinsteinMSD
    from MDAnalysis.coordinates.memory import MemoryReader

    traj = build(n, wrap=False)
    t0 = time.perf_counter()
    u = mda.Universe.empty(100, trajectory=True)
    u.add_TopologyAttr("name", list(traj.species))
    dims = np.tile([12.0, 12.0, 12.0, 90, 90, 90], (n, 1))
    u.load_new(
        traj.positions.astype(np.float32),
        format=MemoryReader,
        dimensions=dims,
        dt=traj.time_step / 1000,
    )
    m = EinsteinMSD(u, select="name Li", msd_type="xyz", fft=True)
    m.run()
    D = fit_D(traj.times_ps, m.results.timeseries)
    return time.perf_counter() - t0, D


def run_kinisi(n):
    import numpy as np
    import scipp as sc
    from kinisi.analyze import DiffusionAnalyzer

    traj = build(n)
    t0 = time.perf_counter()
    images = [traj.to_ase(i) for i in range(traj.n_frames)]  # as users call it: ASE frames
    # kinisi 2.1 evaluates every interval in ``dt`` with an O(n_frames) pass and the
    # default is every interval (O(n²)); like its tutorials, give 100 evenly spaced ones
    idx = np.unique(np.linspace(1, n - 1, 100).astype(int))
    da = DiffusionAnalyzer.from_ase(
        images,
        specie="Li",
        time_step=sc.scalar(traj.time_step, unit="fs"),
        step_skip=sc.scalar(1, unit=sc.units.dimensionless),
        dt=sc.array(dims=["time interval"], values=idx * traj.time_step, unit="fs"),
        progress=False,
    )
    # kinisi fits from start_dt to the end with the MSD covariance (Bayesian, MCMC)
    da.diffusion(start_dt=sc.scalar(0.05 * traj.duration_ps * 1000, unit="fs"), progress=False)
    D = float(np.mean(sc.to_unit(da.D, "cm^2/s").values))
    return time.perf_counter() - t0, D


def _rss_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def worker(method, n):
    import gc
    import resource

    fn = globals()[f"run_{method}"]
    # Build the (cached) trajectory first, then reset the kernel's high-water mark
    # (clear_refs "5") and read it after the call: "of which the call" is the memory
    # the analysis added on top of the trajectory every method shares.
    build(n, wrap=method not in UNWRAPPED_INPUT)
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        base_kb = _rss_kb("VmRSS")
        hwm_ok = True
    except OSError:
        base_kb, hwm_ok = 0, False
    wall, D = fn(n)
    peak_kb = _rss_kb("VmHWM") if hwm_ok else None
    if peak_kb is None:
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"wall": wall, "D": float(D), "rss_mb": peak_kb / 1024, "base_mb": base_kb / 1024}
        )
    )


UNWRAPPED_INPUT = {"numpy", "pad_disp", "mdanalysis"}
FAST = {"numpy", "amorphdb", "pad_disp", "mdanalysis"}
LABELS = {
    "numpy": "numpy FFT lower bound",
    "amorphdb": "amorphdb `diffusivity` (unwrap, drift, auto window, σ, collective)",
    "pad_disp": "PAD DiffusionAnalyzer (displacements)",
    "pad_struct": "PAD DiffusionAnalyzer.from_structures",
    "mdanalysis": "MDAnalysis EinsteinMSD(fft=True)",
    "kinisi": "kinisi DiffusionAnalyzer.from_ase + diffusion (MCMC)",
}


def _run_one(method, n, timeout):
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", method, str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": f"skipped: > {timeout:.0f} s"}
    if proc.returncode:
        lines = err.strip().splitlines() or ["?"]
        return {"error": "failed: " + lines[-1][:80]}
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, nargs="+", default=[5000, 20000, 100000])
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the fast methods (min kept)")
    ap.add_argument("--worker", nargs=2)
    ap.add_argument("--timeout", type=float, default=300, help="s per run; slower runs skipped")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument(
        "--skip",
        nargs="*",
        default=[],
        metavar="METHOD:FRAMES",
        help="runs to leave out, e.g. pad_struct:100000 (10.9 GB, 160 s on the reference run)",
    )
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    results = []
    print("| frames | method | wall (s) | × numpy | peak RSS (MB) | the call (MB) | D error |")
    print("|---|---|---|---|---|---|---|")
    for n in args.frames:
        runs: dict[str, list[dict]] = {m: [] for m in args.methods}
        # fast methods interleaved, repeated; the slow ones once
        for _ in range(args.repeat):
            for m in args.methods:
                if m in FAST:
                    runs[m].append(_run_one(m, n, args.timeout))
        for m in args.methods:
            if m not in FAST:
                if f"{m}:{n}" in args.skip:
                    runs[m].append({"error": "skipped (--skip)"})
                else:
                    runs[m].append(_run_one(m, n, args.timeout))
        ok = {m: [r for r in rs if "error" not in r] for m, rs in runs.items()}
        best = {m: min(rs, key=lambda r: r["wall"]) for m, rs in ok.items() if rs}
        ref = best.get("numpy", {}).get("wall")
        for m in args.methods:
            if m not in best:
                print(f"| {n} | {LABELS[m]} | {runs[m][-1]['error']} | | | | |", flush=True)
                results.append({"frames": n, "method": m, "error": runs[m][-1]["error"]})
                continue
            r = best[m]
            walls = sorted(x["wall"] for x in ok[m])
            ratio = f"{r['wall'] / ref:.2f}" if ref else ""
            spread = f" (of {', '.join(f'{w:.2f}' for w in walls)})" if len(walls) > 1 else ""
            print(
                f"| {n} | {LABELS[m]} | {r['wall']:.3f}{spread} | {ratio} | {r['rss_mb']:.0f} | "
                f"{r['rss_mb'] - r['base_mb']:.0f} | {(r['D'] - D_TRUE) / D_TRUE:+.1%} |",
                flush=True,
            )
            results.append({"frames": n, "method": m, "walls": walls, **r})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
