"""Store benchmark: insert summaries and trajectories, measure sizes and query latency.

Usage::

    .venv/bin/python benchmarks/bench_store.py                 # full: 10 000 docs, 100 traj
    .venv/bin/python benchmarks/bench_store.py --scale         # 25 000 docs, 2 500 small traj
    .venv/bin/python benchmarks/bench_store.py --jobdocs       # job documents at 500 and 2 000
    .venv/bin/python benchmarks/bench_store.py --n-docs 1000 --n-traj 5 --n-frames 2000
    .venv/bin/python benchmarks/bench_store.py --store configs/store-mongodb.yaml

Reports documents/s for bulk insert and for idempotent one-by-one upserts, bytes per stored
trajectory frame vs raw float32 positions, trajectory write/read times, and the latency of
typical queries (median of repeats). Targets (issue 4): an indexed query on 10 000
summaries < 50 ms; stored trajectories <= raw float32 size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from amorphdb.analysis import Trajectory
from amorphdb.store import StoreConfig, open_job_store
from amorphdb.store.database import AmorphousDB
from amorphdb.store.schemas import AmorphousDoc, ArrheniusDoc, DiffusionSummary, TrajectoryRef
from amorphdb.store.trajectory import prepare_trajectory, raw_float32_bytes

SYSTEMS = [
    {"Li": 2, "Si": 2, "O": 5},
    {"Li": 2, "Si": 1, "O": 3},
    {"Li": 3, "B": 1, "O": 3},
    {"Li": 3, "P": 1, "S": 4},
    {"Na": 2, "Si": 2, "O": 5},
    {"Li": 1, "Al": 1, "Si": 1, "O": 4},
    {"Li": 2, "B": 4, "O": 7},
    {"Li": 7, "P": 3, "S": 11},
    {"K": 2, "Si": 2, "O": 5},
    {"Li": 4, "Ge": 1, "S": 4},
]
TEMPERATURES_K = [1000, 1500, 2000, 2500, 5000]


def summary_docs(n: int, n_atoms: int, seed: int = 0) -> list[AmorphousDoc]:
    """``n`` distinct summaries (campaign x system x T), each with a ~n_atoms final structure."""
    rng = np.random.default_rng(seed)
    docs = []
    structures = {}
    for i in range(n):
        system = SYSTEMS[i % len(SYSTEMS)]
        temp = TEMPERATURES_K[(i // len(SYSTEMS)) % len(TEMPERATURES_K)]
        campaign = f"bench{i // (len(SYSTEMS) * len(TEMPERATURES_K))}"
        key = tuple(system.items())
        if key not in structures:
            per_fu = sum(system.values())
            nfu = max(1, round(n_atoms / per_fu))
            species = [el for el, c in system.items() for _ in range(c * nfu)]
            structures[key] = Structure(Lattice.cubic(10.0), species, rng.random((len(species), 3)))
        structure = structures[key]
        diffusion = {}
        for el in system:
            if el in ("Li", "Na", "K"):
                d = float(10 ** rng.uniform(-8, -4))
                diffusion[el] = DiffusionSummary(
                    D_cm2_s=d, D_std_cm2_s=0.1 * d, fit_window_ps=(2.0, 20.0), method="bench"
                )
        docs.append(
            AmorphousDoc.from_structure(
                structure,
                campaign=campaign,
                temperature_K=temp,
                protocol_hash="bench",
                energy_per_atom_eV=float(rng.normal(-7, 0.5)),
                pressure_mean_kbar=float(rng.normal(0, 2)),
                pressure_std_kbar=3.0,
                diffusion=diffusion,
                density_g_cm3=float(rng.uniform(1.8, 3.0)),
            )
        )
    return docs


def md_positions(n_atoms: int, n_frames: int, box_A: float, seed: int) -> np.ndarray:
    """Wrapped random-walk positions (0.05 Å rms per frame and axis), float32, Å."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, box_A, (n_atoms, 3)).astype(np.float64)
    out = np.empty((n_frames, n_atoms, 3), dtype=np.float32)
    for i in range(n_frames):  # avoids a float64 (n_frames, n_atoms, 3) temporary
        pos += rng.normal(0.0, 0.05, (n_atoms, 3))
        out[i] = pos % box_A
    return out


def timed(fn, repeats: int = 5) -> tuple[float, object]:
    """Median wall time (ms) of ``fn()`` and its last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-docs", type=int, default=10_000)
    parser.add_argument("--n-upsert", type=int, default=50, help="one-by-one upserts timed")
    parser.add_argument("--n-atoms", type=int, default=100)
    parser.add_argument("--n-traj", type=int, default=100)
    parser.add_argument("--n-frames", type=int, default=10_000)
    parser.add_argument("--store", default=None, help="store YAML (default: temp embedded)")
    parser.add_argument("--json", default=None, help="write the results here as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary store")
    args = parser.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="bench-store-")
    config = StoreConfig.resolve(args.store) if args.store else StoreConfig(path=Path(tmp) / "db")
    results: dict = {"backend": config.type.value, "address": config.address, "args": vars(args)}
    db = AmorphousDB.from_config(config)
    print(f"store: {config.type.value} at {config.address}", flush=True)

    # ---------------------------------------------------------------- summaries
    t0 = time.perf_counter()
    docs = summary_docs(args.n_docs, args.n_atoms)
    results["build_docs_s"] = time.perf_counter() - t0
    size = len(json.dumps(docs[0].to_mongo(), default=str))
    results["summary_doc_bytes_json"] = size
    t0 = time.perf_counter()
    batch = 1000
    for i in range(0, len(docs), batch):
        db.insert_many_amorphous(docs[i : i + batch])
    dt = time.perf_counter() - t0
    results["bulk_insert_docs_per_s"] = len(docs) / dt
    print(f"bulk insert: {len(docs)} summaries ({size} B JSON each) in {dt:.1f} s "
          f"= {len(docs) / dt:.0f} docs/s", flush=True)  # fmt: skip
    # idempotent one-by-one upserts of already-stored docs (each: lookup + compare)
    n_up = min(args.n_upsert, len(docs))
    t0 = time.perf_counter()
    outcomes = [db.upsert_amorphous(d) for d in docs[:n_up]]
    dt = time.perf_counter() - t0
    assert set(outcomes) == {"unchanged"}, set(outcomes)
    results["upsert_unchanged_docs_per_s"] = n_up / dt
    print(f"re-upsert of {n_up} stored docs (idempotent, unchanged): {n_up / dt:.1f} docs/s",
          flush=True)  # fmt: skip
    # fresh one-by-one upserts
    extra = summary_docs(n_up, args.n_atoms, seed=1)
    for i, d in enumerate(extra):
        d.campaign = f"bench-upsert{i}"
    t0 = time.perf_counter()
    outcomes = [db.upsert_amorphous(d) for d in extra]
    dt = time.perf_counter() - t0
    assert set(outcomes) == {"inserted"}, set(outcomes)
    results["upsert_new_docs_per_s"] = n_up / dt
    print(f"upsert of {n_up} new docs one by one: {n_up / dt:.1f} docs/s", flush=True)
    for i in range(10):
        db.upsert_arrhenius(
            ArrheniusDoc(
                campaign="bench0",
                formula="".join(f"{k}{v}" for k, v in SYSTEMS[i].items()),
                species="Li" if "Li" in SYSTEMS[i] else next(iter(SYSTEMS[i])),
                Ea_eV=0.2 + 0.1 * i,
                temperatures_K=[1000, 1500, 2000, 2500],
            )
        )

    # ---------------------------------------------------------------- queries
    def query_set(db: AmorphousDB) -> dict:
        return {
            "by key (_id)": lambda: db.get(docs[1234 % len(docs)].key()),
            "chemsys=Li-P-S": lambda: db.find_raw(chemsys="Li-P-S", projection=["_id"]),
            "elements all Li,O & T=1000": lambda: db.find_raw(
                elements=["Li", "O"], temperature_K=1000, projection=["_id"]
            ),
            "D_Li >= 1e-5": lambda: db.find_raw(D={"Li": (1e-5, None)}, projection=["_id"]),
            "density 2.2-2.5, sort -D_Li, limit 20": lambda: db.find_raw(
                density_g_cm3=(2.2, 2.5), sort="-D_Li", limit=20, projection=["_id"]
            ),
            "formula+T, AmorphousDoc objects": lambda: db.find(
                formula="Li3PS4", temperature_K=1500
            ),
            "Ea <= 0.5 (join)": lambda: db.find_raw(Ea_eV=(None, None, 0.5), projection=["_id"]),
            "count all": lambda: db.count(),
        }

    def run_queries(db: AmorphousDB, label: str) -> dict:
        out = {}
        print(f"queries on {total} summaries, {label} (median of 5):", flush=True)
        for name, fn in query_set(db).items():
            ms, res = timed(lambda fn=fn: list(r) if hasattr(r := fn(), "__next__") else r)
            n = len(res) if isinstance(res, list) else res
            n = 1 if isinstance(n, AmorphousDoc) else n
            out[name] = {"ms": ms, "n": n}
            print(f"  {name:40s} {ms:9.1f} ms  ({n} hits)", flush=True)
        return out

    total = db.count()
    # cold: a fresh process-like handle, first query loads the snapshot
    t0 = time.perf_counter()
    cold = AmorphousDB.from_config(config)
    n_cold = len(list(cold.find_raw(chemsys="Li-P-S")))
    results["cold_open_and_first_query_ms"] = (time.perf_counter() - t0) * 1000
    print(f"cold open + first query ({n_cold} hits, loads the snapshot): "
          f"{results['cold_open_and_first_query_ms']:.0f} ms", flush=True)  # fmt: skip
    cold.close()
    results["queries_ms"] = run_queries(db, "snapshot (warm)")
    if config.type.value == "embedded":
        scan = AmorphousDB.from_config(config.model_copy(update={"query_cache": False}))
        results["queries_scan_ms"] = run_queries(scan, "montydb evaluation (query_cache off)")
        scan.close()

    # ---------------------------------------------------------------- trajectories
    if args.n_traj:
        from jobflow import Flow, job, run_locally

        js = db.job_store
        box = 11.5 * (args.n_atoms / 100) ** (1 / 3)
        write_s, stored_bytes, raw_bytes, frames = [], 0, 0, 0
        uuids = []
        print(f"trajectories: {args.n_traj} x ({args.n_atoms} atoms x {args.n_frames} frames)",
              flush=True)  # fmt: skip
        for i in range(args.n_traj):
            pos = md_positions(args.n_atoms, args.n_frames, box, seed=100 + i)
            traj = Trajectory(["Li"] * args.n_atoms, pos, np.eye(3) * box, 10.0)
            stored = prepare_trajectory(traj)
            encoded = stored.as_dict()
            stored_bytes += len(json.dumps(encoded))
            raw_bytes += raw_float32_bytes(traj)
            frames += traj.n_frames

            @job(data="trajectory", name="bench_md")
            def md(stored=stored):
                return {"trajectory": stored}

            j = md()
            uuids.append(j.uuid)
            t0 = time.perf_counter()
            run_locally(Flow([j]), store=js, log=False, root_dir=tmp)
            write_s.append(time.perf_counter() - t0)
            print(f"  stored {i + 1}/{args.n_traj} in {write_s[-1]:.2f} s", flush=True)
        doc = docs[0].model_copy(update={"trajectory": TrajectoryRef(job_uuid=uuids[-1])})
        db.upsert_amorphous(doc)
        read_ms, loaded = timed(lambda: db.get_trajectory(doc), repeats=3)
        assert loaded.n_frames == args.n_frames
        results["trajectory"] = {
            "bytes_per_frame_stored": stored_bytes / frames,
            "bytes_per_frame_raw_float32": raw_bytes / frames,
            "ratio_stored_to_raw": stored_bytes / raw_bytes,
            "write_s_first": write_s[0],
            "write_s_last": write_s[-1],
            "write_s_mean": statistics.mean(write_s),
            "read_ms_last": read_ms,
        }
        t = results["trajectory"]
        print(
            f"  bytes/frame stored {t['bytes_per_frame_stored']:.0f} vs raw float32 "
            f"{t['bytes_per_frame_raw_float32']:.0f} (ratio {t['ratio_stored_to_raw']:.3f})"
        )
        print(f"  write: first {t['write_s_first']:.2f} s, last {t['write_s_last']:.2f} s, "
              f"mean {t['write_s_mean']:.2f} s; read one back: {read_ms:.0f} ms")  # fmt: skip
    folder = config.path if config.type.value == "embedded" else None
    if folder is not None:
        results["disk_bytes"] = sum(
            f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()
        )
        print(f"store on disk: {results['disk_bytes'] / 1e6:.1f} MB")
    db.close()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return results


# ---------------------------------------------------------------------- scale (issue 12)
def legacy_upsert(db: AmorphousDB, doc: AmorphousDoc) -> str:
    """The pre-issue-12 single upsert, kept callable for comparison: montydb
    ``find_one({"_id": key})`` then ``insert_one``/``replace_one`` (each reads and decodes
    the whole collection: montydb has no index)."""
    from amorphdb.store.atomic import _collection_of  # the raw montydb collection
    from amorphdb.store.database import _content, _split_structure

    coll = _collection_of(db._store("amorphous"))
    new = doc.to_mongo()
    _split_structure(new)
    old = coll.find_one({"_id": new["_id"]})
    if old is None:
        coll.insert_one(new)
        return "inserted"
    if _content(AmorphousDoc.from_mongo(old).to_mongo()) == _content(new):
        return "unchanged"
    coll.replace_one({"_id": new["_id"]}, new)
    return "replaced"


def _job_doc(i: int, traj_dict: dict) -> dict:
    from jobflow.utils import suid

    return {
        "uuid": suid(),
        "index": 1,
        "name": "bench_md",
        "output": {"trajectory": traj_dict, "n": i},
        "metadata": {},
        "hosts": [],
        "completed_at": "2026-01-01T00:00:00",
    }


def scale(args: argparse.Namespace) -> dict:
    """Issue 12: 25 000 summaries and 2 500 small trajectories, new store vs today's.

    Summaries: bulk insert, then single upserts of new results and reads by key at full
    size — the O(1) SQLite-key path (:mod:`amorphdb.store.embedded`) against the legacy
    montydb scan (:func:`legacy_upsert`). Trajectories: one blob per job written through
    the jobflow ``JobStore`` (``JobStore.update``, what ``run_locally`` calls), in the
    file-per-blob layout (``blob_layout: files``) against the montydb ``trajectories``
    collection (``blob_layout: collection``, today's); write and read of one blob with
    all others stored.
    """

    tmp = Path(tempfile.mkdtemp(prefix="bench-store-scale-"))
    out: dict = {"n_docs": args.n_docs, "n_traj": args.n_traj}
    if args.n_docs:
        out.update(_scale_summaries(args, tmp))
    out.update(_scale_trajectories(args, tmp))
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _scale_summaries(args: argparse.Namespace, tmp: Path) -> dict:
    out: dict = {}
    config = StoreConfig(path=tmp / "db")
    db = AmorphousDB.from_config(config)
    docs = summary_docs(args.n_docs, args.n_atoms)
    t0 = time.perf_counter()
    for i in range(0, len(docs), 1000):
        db.insert_many_amorphous(docs[i : i + 1000])
    out["bulk_insert_docs_per_s"] = len(docs) / (time.perf_counter() - t0)
    print(f"bulk insert {len(docs)} summaries: {out['bulk_insert_docs_per_s']:.0f} docs/s",
          flush=True)  # fmt: skip
    n_up = args.n_upsert
    for label, fn in (("new", db.upsert_amorphous), ("legacy", lambda d: legacy_upsert(db, d))):
        extra = summary_docs(n_up, args.n_atoms, seed=7)
        for i, d in enumerate(extra):
            d.campaign = f"scale-{label}-{i}"
        t0 = time.perf_counter()
        assert {fn(d) for d in extra} == {"inserted"}
        out[f"upsert_new_ms_{label}"] = (time.perf_counter() - t0) * 1000 / n_up
        print(f"  single upsert of a new result, {label}: "
              f"{out[f'upsert_new_ms_{label}']:.2f} ms", flush=True)  # fmt: skip
    keys = [docs[(i * 7919) % len(docs)].key() for i in range(n_up)]
    from amorphdb.store.atomic import _collection_of  # the raw montydb collection

    coll, emb = _collection_of(db._store("amorphous")), db._embedded("amorphous")
    for label, fn in (("new", emb.get), ("legacy", lambda k: coll.find_one({"_id": k}))):
        ms, _ = timed(lambda fn=fn: [fn(k) for k in keys[:5]], repeats=3)
        out[f"read_by_key_ms_{label}"] = ms / 5
        print(f"  read one summary by key, {label}: {ms / 5:.2f} ms", flush=True)
    total = db.count()
    for label, cfg in (("snapshot", config), ("montydb", None)):
        handle = db if cfg else AmorphousDB.from_config(
            config.model_copy(update={"query_cache": False})
        )
        ms, n = timed(lambda h=handle: len(list(h.find_raw(chemsys="Li-P-S"))), repeats=3)
        out[f"query_chemsys_ms_{label}"] = ms
        print(f"  query chemsys=Li-P-S on {total}: {label} {ms:.1f} ms ({n} hits)", flush=True)
    db.close()
    return out


def _scale_trajectories(args: argparse.Namespace, tmp: Path) -> dict:
    from amorphdb.store.config import BlobLayout

    out: dict = {}

    box = 11.5 * (args.traj_atoms / 100) ** (1 / 3)
    pos = md_positions(args.traj_atoms, args.traj_frames, box, seed=5)
    payloads = []
    for i in range(args.n_traj):  # distinct trajectories (content-addressed store)
        p = pos.copy()
        p[0, 0, 0] += np.float32(i * 1e-3)
        traj = Trajectory(["Li"] * args.traj_atoms, p, np.eye(3) * box, 10.0)
        payloads.append(prepare_trajectory(traj).as_dict())
    out["traj_payload_bytes"] = len(json.dumps(payloads[0]))
    for layout in (BlobLayout.FILES, BlobLayout.COLLECTION):
        cfg = StoreConfig(path=tmp / f"traj-{layout.value}", blob_layout=layout)
        js = open_job_store(cfg)
        js.connect()
        n_fill = args.n_traj - args.n_timed
        t0 = time.perf_counter()
        if layout is BlobLayout.FILES:  # the real path, one job at a time
            for i in range(n_fill):
                js.update(_job_doc(i, payloads[i]), save={"data": "trajectory"})
        else:  # today's layout: filled in bulk (one montydb write_many), timed below
            jobs, blobs = [], []
            for i in range(n_fill):
                job_doc = _job_doc(i, {"blob_uuid": f"fill{i}", "store": "data"})
                jobs.append(job_doc)
                blobs.append({"blob_uuid": f"fill{i}", "data": payloads[i],
                              "job_uuid": job_doc["uuid"], "job_index": 1})  # fmt: skip
            js.docs_store._collection.insert_many(jobs)
            js.additional_stores["data"]._collection.insert_many(blobs)
        fill_s = time.perf_counter() - t0
        times, reads, uuids, blob_only = [], [], [], []
        for i in range(n_fill, args.n_traj):
            job_doc = _job_doc(i, payloads[i])
            uuids.append(job_doc["uuid"])
            t0 = time.perf_counter()
            js.update(job_doc, save={"data": "trajectory"})
            times.append((time.perf_counter() - t0) * 1000)
        data = js.additional_stores["data"]
        for i in range(args.n_timed):  # the blob store alone (no job document)
            blob = {"blob_uuid": f"only{i}", "data": payloads[i], "job_uuid": "x", "job_index": 1}
            t0 = time.perf_counter()
            data.update([blob], key="blob_uuid")
            blob_only.append((time.perf_counter() - t0) * 1000)
        for u in uuids:
            ref = js.docs_store.query_one({"uuid": u}, properties=["output"])
            blob_uuid = ref["output"]["trajectory"]["blob_uuid"]
            t0 = time.perf_counter()
            blob = data.query_one({"blob_uuid": blob_uuid}, properties=["data"])
            reads.append((time.perf_counter() - t0) * 1000)
            assert blob["data"]["positions"] == payloads[args.n_traj - args.n_timed]["positions"] \
                or blob["data"]["species"]
        disk = sum(f.stat().st_size for f in (tmp / f"traj-{layout.value}").rglob("*")
                   if f.is_file())  # fmt: skip
        key = layout.value
        out[f"traj_{key}"] = {
            "fill_s": fill_s,
            "write_ms_median": statistics.median(times),
            "write_blob_only_ms_median": statistics.median(blob_only),
            "read_blob_ms_median": statistics.median(reads),
            "disk_MB": disk / 1e6,
        }
        t = out[f"traj_{key}"]
        print(f"  trajectories ({key}, {args.n_traj} stored): write one job + blob "
              f"{t['write_ms_median']:.1f} ms (blob alone {t['write_blob_only_ms_median']:.1f} ms)"
              f", read one blob {t['read_blob_ms_median']:.1f} ms, "
              f"{t['disk_MB']:.0f} MB (fill {fill_s:.0f} s)", flush=True)  # fmt: skip
        js.close()
    return out


def jobdocs(sizes: tuple[int, ...] = (500, 2000), repeats: int = 10) -> dict:
    """jobflow job documents on the embedded store: keyed (``JobDocsMontyStore``, by
    primary key) against maggma's ``MontyStore`` (montydb scans), at two collection sizes.

    Times (median of ``repeats``, ms) ``JobStore.update`` of one new job document (what a
    finished job does) and ``JobStore.get_output(uuid)`` (what a reference resolution
    does). A scan-free path has a large/small ratio near 1; a scan grows with the size.
    """
    from jobflow import JobStore
    from jobflow.utils import suid

    from amorphdb.store.config import _locked_monty_store_class

    out: dict = {"sizes": list(sizes)}
    tmp = Path(tempfile.mkdtemp(prefix="bench-jobdocs-"))
    for label in ("keyed", "montydb"):
        for n in sizes:
            cfg = StoreConfig(path=tmp / f"{label}-{n}")
            if label == "keyed":
                js = open_job_store(cfg)
            else:
                cfg.check()
                js = JobStore(_locked_monty_store_class()(
                    "outputs", database_path=str(cfg.path.resolve()),
                    database_name=cfg.database, storage="sqlite",
                    storage_kwargs={"use_bson": True, "mongo_version": "4.0"}))  # fmt: skip
            js.connect()
            docs = [_job_doc(i, {"n": i}) for i in range(n)]
            js.docs_store.update(docs, key=["uuid", "index"])
            writes, reads = [], []
            for i in range(repeats):
                doc = {**_job_doc(n + i, {"n": i}), "uuid": suid()}
                t0 = time.perf_counter()
                js.update(doc, key=["uuid", "index"])
                writes.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                assert js.get_output(docs[(i * 37) % n]["uuid"])["n"] == (i * 37) % n
                reads.append((time.perf_counter() - t0) * 1000)
            out[f"{label}_{n}"] = {"write_ms": statistics.median(writes),
                                   "read_ms": statistics.median(reads)}  # fmt: skip
            js.close()
            r = out[f"{label}_{n}"]
            print(f"  job documents ({label}, {n} stored): write one {r['write_ms']:.2f} ms, "
                  f"get_output {r['read_ms']:.2f} ms", flush=True)  # fmt: skip
        lo, hi = out[f"{label}_{sizes[0]}"], out[f"{label}_{sizes[-1]}"]
        out[f"{label}_ratio"] = {k: hi[k] / lo[k] for k in ("write_ms", "read_ms")}
        print(f"  {label}: {sizes[-1]}/{sizes[0]} time ratio write "
              f"{out[f'{label}_ratio']['write_ms']:.1f}, read "
              f"{out[f'{label}_ratio']['read_ms']:.1f}", flush=True)  # fmt: skip
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return out


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if "--jobdocs" in sys.argv[1:]:
        jobdocs()
    elif "--scale" in sys.argv[1:]:
        p = argparse.ArgumentParser(description="issue 12 scale benchmark")
        p.add_argument("--scale", action="store_true")
        p.add_argument("--n-docs", type=int, default=25_000)
        p.add_argument("--n-upsert", type=int, default=20)
        p.add_argument("--n-atoms", type=int, default=100)
        p.add_argument("--n-traj", type=int, default=2_500)
        p.add_argument("--n-timed", type=int, default=10, help="trajectory writes timed")
        p.add_argument("--traj-atoms", type=int, default=20)
        p.add_argument("--traj-frames", type=int, default=50)
        p.add_argument("--json", default=None)
        p.add_argument("--keep", action="store_true")
        a = p.parse_args(sys.argv[1:])
        res = scale(a)
        if a.json:
            Path(a.json).write_text(json.dumps(res, indent=1))
    else:
        main(sys.argv[1:])
