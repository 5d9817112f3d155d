"""Run a campaign on this machine: compositions in parallel worker processes.

Each worker runs one composition's flow with jobflow's ``run_locally`` against an
in-memory JobStore and hands every job document and blob back (a pickle file in
the composition's folder, written atomically); the parent alone writes them into
the persistent store (so any backend works, and concurrent workers never contend
for an embedded SQLite file), builds that composition's summary documents and
records its attempt. A composition that fails does not stop the others; a worker
that dies (killed, out of memory) is detected by the parent and recorded as failed
with the signal and the last job it finished. While compositions run the parent
refreshes their heartbeats (:mod:`amorphdb.campaign.status`), so a parent that
dies leaves records that ``status`` shows as lost.

Summaries come only from completed attempts: a failed attempt keeps its job
documents (provenance) but not its ``record_temperature``/``record_arrhenius``
outputs, so a rerun with other settings (another protocol hash) never leaves two
results for one composition and temperature.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import pickle
import signal
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maggma.stores import MemoryStore

from amorphdb.campaign.spec import CampaignSpec
from amorphdb.campaign.status import Heartbeats
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


class _FailureHandler(logging.Handler):
    """Keeps the first job failure jobflow's ``run_locally`` logs (it does not raise it)."""

    MARK = " failed with exception:\n"

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.job_name: str | None = None
        self.error: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.MARK not in message or self.error is not None:
            return
        name, trace = message.split(self.MARK, 1)
        lines = [line for line in trace.strip().splitlines() if line.strip()]
        self.job_name = name
        # the exception line: "module.ErrorType: message" -> "ErrorType: message"
        last = lines[-1] if lines else "unknown error"
        head, sep, rest = last.partition(": ")
        self.error = f"{head.rsplit('.', 1)[-1]}{sep}{rest}"


def _strip_ids(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k != "_id"} for d in docs]


def run_composition(
    spec_data: dict[str, Any],
    formula: str,
    root_dir: str,
    queue: Any = None,
    resume: dict[str, Any] | None = None,
    journal_path: str | None = None,
) -> CompositionResult:
    """Run one composition's flow in memory (worker side); never raises.

    Parameters
    ----------
    spec_data
        The campaign spec (as JSON data: it crosses a process boundary).
    formula
        Composition to run.
    root_dir
        Folder under which the composition's job folders are made.
    queue
        Progress channel (finished job names), or None.
    resume
        ``{"point": ResumePoint, "docs": [...], "blobs": [...]}`` from :func:`resume_payload`:
        the completed stages to reuse and the job documents and blobs they live in.
    journal_path
        File to which every job document and blob is appended as it is written, so a
        worker killed part-way leaves its completed jobs behind (:func:`read_journal`).
    """
    from jobflow import JobStore, run_locally

    start = time.perf_counter()
    spec = CampaignSpec.model_validate(spec_data)
    jobflow_log = logging.getLogger("jobflow")
    jobflow_log.setLevel(logging.INFO)  # INFO goes to our handlers only (not printed)
    failure = _FailureHandler()
    jobflow_log.addHandler(failure)
    handler = None
    if queue is not None:
        handler = _QueueHandler(queue, formula)
        jobflow_log.addHandler(handler)
    store = JobStore(
        JournaledMemoryStore(journal_path, "docs"),
        additional_stores={"data": JournaledMemoryStore(journal_path, "data")},
    )
    store.connect()
    error = stage = None
    point = None if resume is None else resume["point"]
    try:
        if point is not None:
            store.additional_stores["data"].seed(resume["blobs"], key="blob_uuid")
            store.docs_store.seed(resume["docs"], key=["uuid", "index"])
        flow = maker_for(spec).make(formula, resume=point)
        folder = Path(root_dir) / formula
        folder.mkdir(parents=True, exist_ok=True)
        run_locally(flow, store=store, create_folders=True, root_dir=folder, log=False,
                    allow_external_references=point is not None)
        if store.docs_store.count({"name": "record_arrhenius"}) == 0:
            if failure.error is not None:
                error = f"job '{failure.job_name}' failed: {failure.error}"
                stage = failure.job_name
            else:
                error = f"flow did not finish; see the job folders in {folder}"
    except AmorphdbError as exc:
        error = str(exc)
    except Exception as exc:  # a job crashed: keep what ran, report the error
        error = f"{type(exc).__name__}: {exc}"
        log.debug("composition %s failed:\n%s", formula, traceback.format_exc())
    finally:
        jobflow_log.removeHandler(failure)
        if handler is not None:
            jobflow_log.removeHandler(handler)
    # only what this run wrote: the reused documents are in the persistent store already
    reused = sorted(point.needed_uuids) if point is not None else []
    docs = _strip_ids(list(store.docs_store.query({"uuid": {"$nin": reused}})))
    blobs = _strip_ids(list(store.additional_stores["data"].query({"job_uuid": {"$nin": reused}})))
    if error is None:
        names = {d.get("name", "") for d in docs}
        stage = "arrhenius" if "record_arrhenius" in names else None
    elif stage is None:
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


class JournaledMemoryStore(MemoryStore):
    """A ``MemoryStore`` that also appends every write to a journal file.

    Each ``update`` appends one pickle record ``(kind, docs)`` and flushes it, so the
    parent can read back what a worker had written before it was killed; a record cut
    short by the kill is ignored by :func:`read_journal`.
    """

    def __init__(self, journal_path: str | None = None, kind: str = "docs", **kwargs: Any):
        self.journal_path = journal_path
        self.kind = kind
        super().__init__(**kwargs)

    def seed(self, docs: list[dict], key: list | str) -> None:
        """Load documents that already live in the persistent store (not journaled)."""
        super().update(docs, key=key)

    def update(self, docs: list[dict] | dict, key: list | str | None = None) -> None:
        """Write ``docs`` (as ``MemoryStore.update``), then journal them."""
        super().update(docs, key=key)
        if self.journal_path is None:
            return
        batch = _strip_ids(docs if isinstance(docs, list) else [docs])
        with open(self.journal_path, "ab") as handle:
            pickle.dump((self.kind, batch), handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            os.fsync(handle.fileno())


def read_journal(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Job documents and blobs a worker journaled (last write per key wins)."""
    docs: dict[tuple[str, int], dict[str, Any]] = {}
    blobs: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return [], []
    with open(path, "rb") as handle:
        while True:
            try:
                kind, batch = pickle.load(handle)
            except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
                break  # end of file, or the record the kill cut short
            for doc in batch:
                if kind == "docs":
                    docs[(doc.get("uuid"), doc.get("index"))] = doc
                else:
                    blobs[doc.get("blob_uuid")] = doc
    return list(docs.values()), list(blobs.values())


def resume_point_for(job_store: Any, spec: CampaignSpec, formula: str) -> Any:
    """Completed stages of earlier attempts of ``formula`` that ``spec`` can reuse, or None.

    See :mod:`amorphdb.flows.resume`; ``job_store`` is the campaign's JobStore.
    """
    from amorphdb.flows.resume import find_resume_point

    return find_resume_point(job_store.docs_store, spec.name, formula, spec.engine,
                             spec.protocol)


def resume_payload(job_store: Any, spec: CampaignSpec, formula: str) -> dict[str, Any] | None:
    """Completed stages of earlier attempts of ``formula`` to reuse, with their documents.

    The worker runs on its own in-memory JobStore, so the documents and blobs the reused
    outputs resolve through travel with it. Returns None when no stage can be reused.
    """
    point = resume_point_for(job_store, spec, formula)
    if point is None:
        return None
    uuids = sorted(point.needed_uuids)
    docs = _strip_ids(list(job_store.docs_store.query({"uuid": {"$in": uuids}})))
    blobs = _strip_ids(
        list(job_store.additional_stores["data"].query({"job_uuid": {"$in": uuids}}))
    )
    return {"point": point, "docs": docs, "blobs": blobs}


#: job names whose outputs become summary documents
RECORD_JOBS = ("record_temperature", "record_arrhenius")
#: seconds between heartbeats of running compositions
HEARTBEAT_INTERVAL_S = 5.0
RESULT_FILE = ".amorphdb-result-{token}.pkl"
JOURNAL_FILE = ".amorphdb-journal-{token}.pkl"
#: seconds between a worker's checks that its parent is still alive
PARENT_CHECK_S = 1.0


def save_result(job_store: Any, result: CompositionResult) -> None:
    """Write a worker's job documents and blobs into the persistent JobStore (idempotent).

    A failed result keeps its job documents but not its record jobs (see module doc).
    """
    docs = result.docs
    if not result.ok:
        docs = [d for d in docs if d.get("name") not in RECORD_JOBS]
    if result.blobs:
        job_store.additional_stores["data"].update(result.blobs, key="blob_uuid")
    if docs:
        job_store.docs_store.update(docs, key=["uuid", "index"])


def build_result(db: Any, result: CompositionResult) -> dict[str, int]:
    """Summary documents of one completed result only (no scan of the whole JobStore)."""
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    if not result.ok or not result.docs:
        return {}
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    store.docs_store.update(
        [d for d in result.docs if d.get("name") in RECORD_JOBS], key=["uuid", "index"]
    )
    return db.build_from_job_store(store)


def attempt_settings(spec: CampaignSpec, launcher: str = "local") -> dict[str, Any]:
    """Settings recorded with an attempt (enough to rebuild and escalate it)."""
    return {
        "engine": spec.engine.model_dump(mode="json"),
        "protocol": spec.protocol.model_dump(mode="json"),
        "protocol_hash": maker_for(spec).protocol_hash(),
        "launcher": launcher,
    }


def _watch_parent(parent_pid: int) -> None:
    """Kill this worker's process group (it and its MD subprocesses) once the parent dies.

    A launcher killed with SIGKILL cannot stop its workers; without this they would keep
    running (and keep LAMMPS running) next to the rerun of the same composition.
    """
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent_pid:
            os.killpg(0, signal.SIGKILL)


def _worker_main(
    spec_data: dict[str, Any], formula: str, root_dir: str, queue: Any, result_path: str,
    parent_pid: int, resume: dict[str, Any] | None = None, journal_path: str | None = None,
) -> None:
    """Worker process: run one composition, leave the result as a pickle file."""
    import threading

    os.setpgrp()  # own process group: the parent can stop the worker with its MD children
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    result = run_composition(spec_data, formula, root_dir, queue, resume, journal_path)
    if journal_path is not None:  # the parent reads the documents from the journal
        result.docs, result.blobs = [], []
    path = Path(result_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)  # atomic: the parent sees all or nothing


def _death_message(pid: int | None, exitcode: int | None, last_job: str | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    after = f" after job '{last_job}'" if last_job else " before its first job finished"
    return f"worker process {pid} died ({how}){after}; rerun it with 'amorphdb rerun'"


def run_campaign(
    spec: CampaignSpec,
    on_progress: Callable[[str, str], None] | None = None,
    on_result: Callable[[CompositionResult], None] | None = None,
    formulas: list[str] | None = None,
    specs: dict[str, CampaignSpec] | None = None,
    attempt_info: dict[str, dict[str, Any]] | None = None,
    resume: bool = False,
    claim: bool = True,
) -> dict[str, CompositionResult]:
    """Run compositions of a campaign locally and fill the database.

    Parameters
    ----------
    spec
        The campaign.
    on_progress
        Called with (formula, finished job name) as jobs finish.
    on_result
        Called with each composition's result as it completes.
    formulas
        Compositions to run (reduced formulas); None: every composition of ``spec``.
    specs
        Per-composition campaign specs (escalated settings of a rerun); default ``spec``.
    attempt_info
        Extra settings recorded with each composition's attempt (e.g. escalation).
    resume
        Reuse the stages earlier attempts completed (a rerun): see
        :mod:`amorphdb.flows.resume`. The attempt records ``resumed_from``.
    claim
        Run a composition only if this launcher can claim it (it is new or failed, not
        completed or in flight with another launcher: :meth:`AmorphousDB.record_attempt`);
        compositions another launcher took in the meantime are skipped (not in the
        result). ``amorphdb run`` passes False: it runs what it is told to.

    Returns
    -------
    dict
        formula → :class:`CompositionResult` (docs and blobs dropped after saving).
    """
    from amorphdb.store import open_database

    if formulas is None:
        formulas = validate_campaign(spec)
    specs = specs or {}
    attempt_info = attempt_info or {}
    db = open_database(spec.store_path())  # fails fast before any MD runs
    job_store = db.job_store
    heartbeats = Heartbeats(db)
    settings = {
        f: {**attempt_settings(specs.get(f, spec)), **attempt_info.get(f, {})} for f in formulas
    }
    claimed = []
    for formula in formulas:
        if db.record_attempt(spec.name, formula, "waiting", settings=settings[formula],
                             stage="queued", claim=claim) is None:
            log.warning("%s: taken by another launcher (completed or in flight); skipped",
                        formula)
            continue
        claimed.append(formula)
        heartbeats.beat(spec.name, formula, launcher="local", stage="queued")
    formulas = claimed
    payloads = {}
    for formula in formulas if resume else []:
        payload = resume_payload(job_store, specs.get(formula, spec), formula)
        if payload is not None:
            payloads[formula] = payload
            settings[formula]["resumed_from"] = payload["point"].describe()
            db.record_attempt(spec.name, formula, "waiting", settings=settings[formula],
                              stage="queued")
    root = spec.workdir_path() / spec.name
    root.mkdir(parents=True, exist_ok=True)
    results: dict[str, CompositionResult] = {}
    last_job: dict[str, str] = {}

    def progress(formula: str, name: str) -> None:
        last_job[formula] = name
        if on_progress is not None:
            on_progress(formula, name)

    def finish(result: CompositionResult) -> None:
        save_result(job_store, result)
        build_result(db, result)
        state = "completed" if result.ok else "failed"
        db.record_attempt(
            spec.name, result.formula, state, settings=settings[result.formula],
            error=result.error, stage=result.stage,
        )
        heartbeats.clear(spec.name, result.formula)
        result.docs, result.blobs = [], []
        results[result.formula] = result
        if on_result is not None:
            on_result(result)

    def data_for(formula: str) -> dict[str, Any]:
        return specs.get(formula, spec).model_dump(mode="json")

    def started(formula: str, **kw: Any) -> None:
        if kw.get("stage") == "started":  # waiting → running (same attempt)
            db.record_attempt(spec.name, formula, "running", settings=settings[formula],
                              stage="started")
        heartbeats.beat(spec.name, formula, launcher="local", **kw)

    try:
        workers = min(spec.workers, len(formulas))
        if workers <= 1:
            queue = _LocalQueue(progress)
            for formula in formulas:
                started(formula, worker_pid=os.getpid(), stage="started")
                finish(run_composition(data_for(formula), formula, str(root), queue,
                                       resume=payloads.get(formula)))
            return results
        _run_processes(
            formulas, workers, root, lambda f: (data_for(f), payloads.get(f)), finish,
            progress, last_job, started,
        )
        return results
    finally:
        heartbeats.close()
        db.close()


class _PipeQueue:
    """Progress channel of one worker: its own pipe, so a killed worker blocks no other."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def put(self, item: tuple[str, str]) -> None:
        self.conn.send(item)


def _drain_pipe(conn: Any, on_progress: Callable[[str, str], None]) -> None:
    with contextlib.suppress(EOFError, OSError):
        while conn.poll():
            formula, name = conn.recv()
            on_progress(formula, name)


def _run_processes(
    formulas: list[str],
    workers: int,
    root: Path,
    args_for: Callable[[str], tuple[dict[str, Any], dict[str, Any] | None]],
    finish: Callable[[CompositionResult], None],
    progress: Callable[[str, str], None],
    last_job: dict[str, str],
    beat: Callable[..., None],
) -> None:
    """One spawned process per composition, at most ``workers`` at a time.

    Each worker reports finished jobs through its own pipe (not a shared queue, whose
    write lock a worker killed mid-write would hold forever). A worker that dies leaves
    its journal: the jobs it completed are saved with its failed attempt, for a rerun to
    resume from.
    """
    ctx = mp.get_context("spawn")  # fork is unsafe with threads (torch, pymongo)
    waiting = list(formulas)
    running: dict[str, tuple[Any, Any]] = {}
    last_beat = 0.0
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                formula = waiting.pop(0)
                # a result file of this launch only (never one a stray worker left)
                token = uuid.uuid4().hex
                result_file = root / formula / RESULT_FILE.format(token=token)
                journal = root / formula / JOURNAL_FILE.format(token=token)
                journal.parent.mkdir(parents=True, exist_ok=True)
                reader, writer = ctx.Pipe(duplex=False)
                spec_data, payload = args_for(formula)
                proc = ctx.Process(
                    target=_worker_main,
                    args=(spec_data, formula, str(root), _PipeQueue(writer),
                          str(result_file), os.getpid(), payload, str(journal)),
                    name=f"amorphdb-{formula}",
                )
                proc.start()
                writer.close()  # the child holds its end; EOF once it exits
                running[formula] = (proc, reader, result_file, journal)
                beat(formula, worker_pid=proc.pid, stage="started")
            for formula, (proc, reader, result_file, journal) in list(running.items()):
                _drain_pipe(reader, progress)
                if proc.is_alive():
                    continue
                proc.join()
                _drain_pipe(reader, progress)
                reader.close()
                del running[formula]
                if result_file.exists():
                    with open(result_file, "rb") as handle:
                        result = pickle.load(handle)
                    result_file.unlink()
                else:
                    with contextlib.suppress(OSError):  # MD subprocesses it left behind
                        os.killpg(proc.pid, signal.SIGKILL)
                    result = CompositionResult(
                        formula=formula, ok=False, stage=last_job.get(formula),
                        error=_death_message(proc.pid, proc.exitcode, last_job.get(formula)),
                    )
                # finished or killed, the jobs it completed are in its journal
                result.docs, result.blobs = read_journal(journal)
                finish(result)
                journal.unlink(missing_ok=True)
            now = time.monotonic()
            if running and now - last_beat > HEARTBEAT_INTERVAL_S:
                for formula, (proc, *_) in running.items():
                    beat(formula, worker_pid=proc.pid, stage=last_job.get(formula))
                last_beat = now
            if running:
                time.sleep(0.2)
    finally:
        for proc, reader, *_ in running.values():  # interrupted: do not leave orphans behind
            with contextlib.suppress(Exception):
                os.killpg(proc.pid, signal.SIGTERM)  # the worker and its MD subprocesses
            with contextlib.suppress(Exception):
                proc.terminate()  # in case it had not made its process group yet
                proc.join(5)
                reader.close()


class _LocalQueue:
    """Same interface as a process queue, calling the progress callback directly."""

    def __init__(self, on_progress: Callable[[str, str], None] | None) -> None:
        self.on_progress = on_progress

    def put(self, item: tuple[str, str]) -> None:
        if self.on_progress is not None:
            self.on_progress(*item)
