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
import json
import subprocess
import sys
import time

D_TRUE = 1e-4
METHODS = ["numpy", "amorphdb", "pad_disp", "pad_struct", "mdanalysis", "kinisi"]


def build(n_frames: int, wrap: bool = True):
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
    from kinisi.analyze import DiffusionAnalyzer

    traj = build(n)
    t0 = time.perf_counter()
    images = [traj.to_ase(i) for i in range(traj.n_frames)]
    params = {"specie": "Li", "time_step": traj.time_step / 1000, "step_skip": 1, "progress": False}
    try:
        import scipp as sc

        params = {
            "specie": "Li",
            "time_step": sc.scalar(traj.time_step / 1000, unit="ps"),
            "step_skip": sc.scalar(1),
            "progress": False,
        }
    except ImportError:
        pass
    da = DiffusionAnalyzer.from_ase(images, parser_params=params)
    da.diffusion(start_dt=sc.scalar(0.05 * traj.duration_ps, unit="ps"), progress=False)
    D = da.D
    try:
        D = float(D.value) * 1e-4  # Å²/ps -> cm²/s
    except AttributeError:
        D = float(D) * 1e-4
    return time.perf_counter() - t0, D


def worker(method, n):
    import resource

    wall, D = globals()[f"run_{method}"](n)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
    print(json.dumps({"wall": wall, "D": float(D), "rss_mb": rss_mb}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, nargs="+", default=[5000, 20000, 100000])
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--worker", nargs=2)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    print(f"{'frames':>7} {'method':<11} {'wall (s)':>9} {'peak RSS (MB)':>14} {'D error':>8}")
    for n in args.frames:
        for m in args.methods:
            proc = subprocess.Popen(
                [sys.executable, __file__, "--worker", m, str(n)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                out, err = proc.communicate(timeout=args.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                print(f"{n:>7} {m:<11} timeout > {args.timeout:.0f} s", flush=True)
                continue
            if proc.returncode:
                print(f"{n:>7} {m:<11} failed: {err.strip().splitlines()[-1][:80]}", flush=True)
                continue
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{n:>7} {m:<11} {r['wall']:>9.2f} {r['rss_mb']:>14.0f} "
                f"{(r['D'] - D_TRUE) / D_TRUE:>+8.1%}",
                flush=True,
            )


if __name__ == "__main__":
    main()
