"""Run every benchmark in this folder (``bench_*.py``), one after the other.

Each benchmark is its own script with its own defaults and prints its own table;
this runner only discovers them, runs each in a subprocess and reports which
failed. Timings are ratios within one run on a shared machine (see
``docs/benchmarks.md``).

    python benchmarks/run_all.py [--only msd store ...] [--list]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> dict[str, Path]:
    """Benchmark scripts by short name (``bench_msd.py`` -> ``msd``)."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None, help="short names to run")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    benches = discover()
    if args.list:
        print("\n".join(benches))
        return 0
    names = args.only or list(benches)
    unknown = sorted(set(names) - set(benches))
    if unknown:
        print(f"error: unknown benchmark(s) {', '.join(unknown)}; use --list", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"=== {name} ({benches[name].name})", flush=True)
        start = time.perf_counter()
        rc = subprocess.call([sys.executable, str(benches[name])])
        print(f"=== {name}: exit {rc} after {time.perf_counter() - start:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        sys.exit(130)
