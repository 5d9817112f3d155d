"""Launchers: Parsl pilot jobs on Slurm against the local launcher, same worker count.

A campaign of 8 tiny compositions (LAMMPS, Pedone 2006, 36 atoms, short stages) runs
twice into fresh embedded stores: with ``submit --launcher local`` (``workers: 2``) and
with ``submit --launcher parsl`` on the real single-node Slurm cluster
(``scripts/slurm-cluster.sh up``; one block, ``cores_per_node: 2``,
``cores_per_composition: 1``: 2 workers). Reported: wall time, throughput
(compositions per minute), their ratio (target: Parsl/Slurm ≥ 0.9 × local) and the
number of scheduler jobs (target: one per block, whatever the number of compositions).

Usage::

    scripts/slurm-cluster.sh up
    .venv/bin/python benchmarks/bench_launchers.py [--compositions 8]

Prints a Markdown table (copied into ``docs/benchmarks.md``, section Launchers).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

#: Li–Si–O compositions the Pedone 2006 potential covers (first N are used)
FORMULAS = ["Li2Si2O5", "Li2SiO3", "Li4SiO4", "Li2Si3O7", "Li6Si2O7", "Li2O", "SiO2",
            "Li2Si4O9"]
#: short stages: each composition takes ~10-20 s on one core of this machine
PROTOCOL = {
    "target_atoms": 36,
    "melt_steps": 500,
    "anneal_temperatures_K": [1500, 2500],
    "anneal_steps": 1000,
    # 300-step NPT runs do not converge to ±5 kbar: keep the result, flagged
    "volume": {"n_steps": 300, "max_iterations": 2, "on_unconverged": "flag"},
    "traj_every": 10,
}


def write_campaign(folder: Path, formulas: list[str], launchers: dict) -> Path:
    """A campaign file with its own embedded store under ``folder``."""
    folder.mkdir(parents=True)
    store = folder / "store.yaml"
    store.write_text(f"type: embedded\npath: {folder / 'db'}\n")
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump({
        "name": "bench", "compositions": formulas, "store": str(store),
        "workdir": str(folder / "runs"), "protocol": PROTOCOL, "workers": 2,
        "launchers": launchers,
    }))
    return path


def run(path: Path, launcher: str) -> tuple[float, int, int]:
    """(wall seconds, compositions completed, scheduler jobs) of one submit."""
    from amorphdb.campaign import load_campaign
    from amorphdb.campaign.submit import submit

    spec = load_campaign(path)
    start = time.perf_counter()
    _, outcome = submit(spec, launcher)
    wall = time.perf_counter() - start
    done = sum(1 for r in outcome.values() if r.ok)
    for r in outcome.values():
        if not r.ok:
            print(f"{launcher}: {r.formula} failed: {r.error}", file=sys.stderr)
    # Parsl writes one submit script per block (scheduler job) it submitted
    scripts = (path.parent / "runs" / "bench" / ".parsl").glob("*/submit_scripts/parsl.*")
    jobs = len({p.name.split(".block-")[1].split(".")[0] for p in scripts})
    return wall, done, jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compositions", type=int, default=8)
    args = parser.parse_args(argv)
    if shutil.which("sinfo") is None or subprocess.run(
            ["sinfo", "-h"], capture_output=True, check=False).returncode != 0:
        print("no Slurm cluster is up: run scripts/slurm-cluster.sh up", file=sys.stderr)
        return 1
    formulas = FORMULAS[: args.compositions]
    parsl = {"parsl": {"provider": "slurm", "address": "127.0.0.1", "walltime": "00:30:00",
                       "cores_per_node": 2, "cores_per_composition": 1}}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for launcher, settings in (("local", {}), ("parsl", parsl)):
            wall, done, jobs = run(write_campaign(tmp / launcher, formulas, settings),
                                   launcher)
            rows.append((launcher, wall, done, jobs))
    local_rate = rows[0][2] / rows[0][1] * 60
    print(f"{len(formulas)} compositions, 2 workers\n")
    print("| launcher | wall (s) | completed | compositions/min | ratio to local "
          "| scheduler jobs |")
    print("|---|---:|---:|---:|---:|---:|")
    for launcher, wall, done, jobs in rows:
        rate = done / wall * 60
        name = "Parsl on Slurm (1 block)" if launcher == "parsl" else "local (2 processes)"
        print(f"| {name} | {wall:.0f} | {done} | {rate:.2f} | {rate / local_rate:.2f} "
              f"| {jobs if launcher == 'parsl' else '—'} |")
    return 0 if all(r[2] == len(formulas) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
