"""Checking a campaign's engine settings: the settings models against building the engine.

Usage::

    .venv/bin/python benchmarks/bench_engine_settings.py              # 5 repeats
    .venv/bin/python benchmarks/bench_engine_settings.py --repeats 3

Before the settings models, a campaign with ``engine.settings`` was checked by building
its engine (``get_engine(spec)``, which imports the engine's package: ASE/Custodian for
``mlip``, atomate2's VASP sets for ``vasp``). Now ``EngineSpec`` validates against the
engine's light settings model. Each way runs as a fresh Python process (imports
included, as a command does it); reported per engine (median of repeats): child CPU time
(user + sys, robust to other work on a shared machine), wall time, and the ratio of the
old way's CPU time to the new one's.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

#: engine -> settings a campaign file might hold
SETTINGS = {
    "lammps": {"kspace": "ewald", "short_cutoff_A": 10.0},
    "mlip": {"threads": 1},
    "vasp": {"incar": {"NCORE": 4}, "check_executable": False},
}

NEW = ("from amorphdb.engines import EngineSpec\n"
       "EngineSpec(name={name!r}, settings={settings!r}).engine_settings\n")
OLD = ("from amorphdb.engines import EngineSpec, get_engine\n"
       "get_engine(EngineSpec(name={name!r}, settings={settings!r}))\n")


def timed(code: str, repeats: int) -> tuple[float, float]:
    """Median (CPU s, wall s) of ``python -c code`` in fresh processes."""
    cpus, walls = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(cpus), statistics.median(walls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    baseline, _ = timed("pass", args.repeats)
    print(f"python -c pass: {baseline:.2f} s CPU")
    print(f"{'engine':<8} {'models CPU s':>12} {'engine CPU s':>12} {'ratio':>6} "
          f"{'models wall s':>13} {'engine wall s':>13}")
    for name, settings in SETTINGS.items():
        new_cpu, new_wall = timed(NEW.format(name=name, settings=settings), args.repeats)
        old_cpu, old_wall = timed(OLD.format(name=name, settings=settings), args.repeats)
        print(f"{name:<8} {new_cpu:>12.2f} {old_cpu:>12.2f} {old_cpu / new_cpu:>6.1f} "
              f"{new_wall:>13.2f} {old_wall:>13.2f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        sys.exit(130)
