"""Worker journals: JSON lines (today) against the pickle records they replaced.

Every job document and trajectory blob a worker writes is appended to its journal
(fsynced) and read back by the launcher. The journal switched from pickle, which runs
code when read, to JSON lines (:mod:`amorphdb.campaign.local`). This measures what that
costs on realistic records — a run document with its thermo series and a trajectory blob
in the store's compact codec — for a tiny cell and a production-sized one: write (encode
+ append + fsync) and read time, and bytes on disk, as ratios JSON / pickle within one run.

Usage::

    .venv/bin/python benchmarks/bench_journal.py [--repeats 5]

Prints a Markdown table (copied into ``docs/benchmarks.md``, section Journals).
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from amorphdb.analysis import Trajectory
from amorphdb.campaign.local import encode_journal_record, read_journal_checked
from amorphdb.store.trajectory import prepare_trajectory

#: (label, atoms, frames, thermo samples): the tests' tiny cell and a 100-atom production
CASES = [("36 atoms, 100 frames", 36, 100, 100), ("100 atoms, 1000 frames", 100, 1000, 1000)]
#: records per journal: the job documents and blobs of one composition's flow (about)
RECORDS = 30


def records(n_atoms: int, n_frames: int, n_thermo: int) -> list[tuple[str, list[dict]]]:
    """One composition's journal: alternating run documents and trajectory blobs."""
    rng = np.random.default_rng(0)
    steps = rng.normal(0, 0.05, (n_frames, n_atoms, 3))
    positions = 10.0 * rng.random((1, n_atoms, 3)) + np.cumsum(steps, axis=0)
    traj = Trajectory(["Li"] * n_atoms, positions, np.eye(3) * 10.0, 10.0)
    blob = prepare_trajectory(traj).as_dict()
    out = []
    for _ in range(RECORDS // 2):
        job = str(uuid.uuid4())
        series = {k: rng.normal(0, 1, n_thermo).tolist()
                  for k in ("time_fs", "temperature_K", "pressure_kbar", "total_energy_eV")}
        out.append(("docs", [{"uuid": job, "index": 1, "name": "anneal 1500 K",
                              "output": {"thermo": series, "formula": "Li2Si2O5"},
                              "metadata": {"amorphdb": {"stage": "anneal"}}}]))
        out.append(("data", [{"blob_uuid": str(uuid.uuid4()), "job_uuid": job, "data": blob}]))
    return out


def _append(path: Path, payload: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def write_json(path: Path, recs) -> None:
    for kind, docs in recs:
        _append(path, encode_journal_record(kind, docs))


def write_pickle(path: Path, recs) -> None:
    for kind, docs in recs:
        _append(path, pickle.dumps((kind, docs), protocol=pickle.HIGHEST_PROTOCOL))


def read_pickle(path: Path) -> int:
    n = 0
    with open(path, "rb") as handle:
        while True:
            try:
                pickle.load(handle)
            except EOFError:
                return n
            n += 1


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| records (30 per journal) | JSON write (ms) | pickle write (ms) | JSON read (ms) "
          "| pickle read (ms) | JSON / pickle size | write ratio | read ratio |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, n_atoms, n_frames, n_thermo in CASES:
            recs = records(n_atoms, n_frames, n_thermo)
            times: dict[str, list[float]] = {k: [] for k in ("jw", "pw", "jr", "pr")}
            for i in range(args.repeats):
                js, pk = Path(tmp) / f"j{i}.jsonl", Path(tmp) / f"p{i}.pkl"
                times["jw"].append(timed(write_json, js, recs))
                times["pw"].append(timed(write_pickle, pk, recs))
                times["jr"].append(timed(read_journal_checked, js))
                times["pr"].append(timed(read_pickle, pk))
            med = {k: statistics.median(v) * 1000 for k, v in times.items()}
            size = js.stat().st_size / pk.stat().st_size
            print(f"| {label} | {med['jw']:.1f} | {med['pw']:.1f} | {med['jr']:.1f} | "
                  f"{med['pr']:.1f} | {size:.2f} | {med['jw'] / med['pw']:.2f} | "
                  f"{med['jr'] / med['pr']:.2f} |")


if __name__ == "__main__":
    main()
