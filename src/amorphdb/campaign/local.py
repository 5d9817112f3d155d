"""Run a campaign on this machine: compositions in parallel worker processes.

Each worker runs one composition's flow with jobflow's ``run_locally`` against an
in-memory JobStore and sends every job document and blob back; the parent alone
writes them into the persistent store (so any backend works, and concurrent
workers never contend for an embedded SQLite file), then collects the summary
documents (:meth:`AmorphousDB.build_from_job_store`) and records each
composition's attempt. A composition that fails does not stop the others.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amorphdb.campaign.spec import CampaignSpec
from amorphdb.errors import AmorphdbError, ConfigError
from amorphdb.flows import MeltQuenchMaker, check_composition

log = logging.getLogger(__name__)


@dataclass
class CompositionResult:
    """Outcome of one composition's flow in a worker."""

    formula: str
    ok: bool
    error: str | None = None
    stage: str | None = None
    docs: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def validate_campaign(spec: CampaignSpec) -> list[str]:
    """Check every composition against the engine; raise one error listing all failures."""
    problems = []
    formulas = []
    for formula in spec.formulas():
        try:
            formulas.append(check_composition(formula, spec.engine, spec.protocol))
        except AmorphdbError as exc:
            problems.append(f"{formula}: {exc}")
    if problems:
        raise ConfigError(
            f"{len(problems)} composition(s) cannot run with engine "
            f"'{spec.engine.name.value}': " + " | ".join(problems)
        )
    return formulas


def maker_for(spec: CampaignSpec) -> MeltQuenchMaker:
    """The protocol maker a campaign describes."""
    return MeltQuenchMaker(engine=spec.engine, protocol=spec.protocol, campaign=spec.name)


class _QueueHandler(logging.Handler):
    """Forwards jobflow's 'Finished job' log lines to the parent's progress display."""

    def __init__(self, queue: Any, formula: str) -> None:
        super().__init__(logging.INFO)
        self.queue = queue
        self.formula = formula

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Finished job - "):
            name = message.removeprefix("Finished job - ").rsplit(" (", 1)[0]
            # best effort: the parent may have gone away
            with contextlib.suppress(Exception):
                self.queue.put((self.formula, name))


def _strip_ids(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k != "_id"} for d in docs]


def run_composition(
    spec_data: dict[str, Any], formula: str, root_dir: str, queue: Any = None
) -> CompositionResult:
    """Run one composition's flow in memory (worker side); never raises."""
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    start = time.perf_counter()
    spec = CampaignSpec.model_validate(spec_data)
    handler = None
    if queue is not None:
        handler = _QueueHandler(queue, formula)
        jobflow_log = logging.getLogger("jobflow")
        jobflow_log.addHandler(handler)
        jobflow_log.setLevel(logging.INFO)  # INFO goes to our handler only (not printed)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    error = stage = None
    try:
        flow = maker_for(spec).make(formula)
        folder = Path(root_dir) / formula
        folder.mkdir(parents=True, exist_ok=True)
        run_locally(flow, store=store, create_folders=True, root_dir=folder, log=False)
        if store.docs_store.count({"name": "record_arrhenius"}) == 0:
            error = f"flow did not finish; see the job folders in {folder}"
    except AmorphdbError as exc:
        error = str(exc)
    except Exception as exc:  # a job crashed: keep what ran, report the error
        error = f"{type(exc).__name__}: {exc}"
        log.debug("composition %s failed:\n%s", formula, traceback.format_exc())
    finally:
        if handler is not None:
            logging.getLogger("jobflow").removeHandler(handler)
    docs = _strip_ids(list(store.docs_store.query({})))
    blobs = _strip_ids(list(store.additional_stores["data"].query({})))
    if error is None:
        names = {d.get("name", "") for d in docs}
        stage = "arrhenius" if "record_arrhenius" in names else None
    else:
        finished = [d.get("name", "") for d in docs]
        stage = finished[-1] if finished else None
    return CompositionResult(
        formula=formula,
        ok=error is None,
        error=error,
        stage=stage,
        docs=docs,
        blobs=blobs,
        seconds=time.perf_counter() - start,
    )


def save_result(job_store: Any, result: CompositionResult) -> None:
    """Write a worker's job documents and blobs into the persistent JobStore (idempotent)."""
    if result.blobs:
        job_store.additional_stores["data"].update(result.blobs, key="blob_uuid")
    if result.docs:
        job_store.docs_store.update(result.docs, key=["uuid", "index"])


def run_campaign(
    spec: CampaignSpec,
    on_progress: Callable[[str, str], None] | None = None,
    on_result: Callable[[CompositionResult], None] | None = None,
) -> dict[str, CompositionResult]:
    """Run every composition of a campaign locally and fill the database.

    Parameters
    ----------
    spec
        The campaign.
    on_progress
        Called with (formula, finished job name) as jobs finish.
    on_result
        Called with each composition's result as it completes.

    Returns
    -------
    dict
        formula → :class:`CompositionResult` (docs and blobs dropped after saving).
    """
    from amorphdb.store import open_database

    formulas = validate_campaign(spec)
    db = open_database(spec.store_path())  # fails fast before any MD runs
    job_store = db.job_store
    settings = {"engine": spec.engine.model_dump(mode="json"), "protocol_hash": maker_for(
        spec).protocol_hash()}
    for formula in formulas:
        db.record_attempt(spec.name, formula, "running", settings=settings, stage="submitted")
    root = spec.workdir_path() / spec.name
    root.mkdir(parents=True, exist_ok=True)
    spec_data = spec.model_dump(mode="json")
    results: dict[str, CompositionResult] = {}

    def finish(result: CompositionResult) -> None:
        save_result(job_store, result)
        db.build_from_job_store(job_store)
        state = "completed" if result.ok else "failed"
        db.record_attempt(
            spec.name, result.formula, state, settings=settings, error=result.error,
            stage=result.stage,
        )
        result.docs, result.blobs = [], []
        results[result.formula] = result
        if on_result is not None:
            on_result(result)

    workers = min(spec.workers, len(formulas))
    if workers <= 1:
        queue = _LocalQueue(on_progress)
        for formula in formulas:
            finish(run_composition(spec_data, formula, str(root), queue))
        return results
    ctx = mp.get_context("spawn")  # fork is unsafe with threads (torch, pymongo)
    with ctx.Manager() as manager:
        queue = manager.Queue()
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {
                pool.submit(run_composition, spec_data, f, str(root), queue): f for f in formulas
            }
            pending = set(futures)
            while pending:
                _drain(queue, on_progress)
                done = [f for f in pending if f.done()]
                for future in done:
                    pending.discard(future)
                    finish(future.result())
                if pending:
                    time.sleep(0.2)
        _drain(queue, on_progress)
    return results


def _drain(queue: Any, on_progress: Callable[[str, str], None] | None) -> None:
    while True:
        try:
            formula, name = queue.get_nowait()
        except Exception:
            return
        if on_progress is not None:
            on_progress(formula, name)


class _LocalQueue:
    """Same interface as a manager queue, calling the progress callback directly."""

    def __init__(self, on_progress: Callable[[str, str], None] | None) -> None:
        self.on_progress = on_progress

    def put(self, item: tuple[str, str]) -> None:
        if self.on_progress is not None:
            self.on_progress(*item)
