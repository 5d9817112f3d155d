"""Run a campaign on this machine: compositions in parallel worker processes.

Each worker (a process, whatever ``workers`` is) runs one composition's flow with
jobflow's ``run_locally`` against an in-memory JobStore, journals every job document
and blob as it is written (JSON lines in the composition's folder: data, never code)
and sends its outcome back through a pipe; the parent alone writes them into the
persistent store (so any backend works, and concurrent workers never contend
for an embedded SQLite file), builds that composition's summary documents and
records its attempt. A composition that fails does not stop the others; a worker
that dies (killed, out of memory) is detected by the parent and recorded as failed
with the signal and the last job it finished. While compositions run the parent
refreshes their heartbeats (:mod:`amorphdb.campaign.status`), so a parent that
dies leaves records that ``status`` shows as lost.

Stopping: SIGINT/SIGTERM of the parent (the CLI turns both into
:class:`~amorphdb.errors.Interrupted`) kills every worker's process group (the worker
and its LAMMPS/packmol children), saves the stages their journals hold with the
attempt, records it failed as "interrupted by SIGxxx" and re-raises; ``rerun`` resumes
from those stages. A parent killed with SIGKILL cannot do that: its workers notice
(``PR_SET_PDEATHSIG`` and a watch thread) and kill their group, and the next ``run``,
``submit`` or ``rerun`` of the composition reads the journals they left
(:func:`recover_journals`). A full disk is recorded as ``disk full`` with the job it
stopped, the unfinished job folders are removed and the journal never keeps half a
record, so the run after space is freed completes.

Summaries come only from completed attempts: a failed attempt keeps its job
documents (provenance) but not its ``record_temperature``/``record_arrhenius``
outputs, so a rerun with other settings (another protocol hash) never leaves two
results for one composition and temperature.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import errno
import json
import logging
import multiprocessing as mp
import os
import shutil
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from maggma.stores import MemoryStore

from amorphdb.campaign.spec import CampaignSpec
from amorphdb.campaign.status import Heartbeats
from amorphdb.errors import AmorphdbError, ConfigError, Interrupted
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
    #: every document and blob is in the journal file (the pipe need not carry them)
    journaled: bool = False


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
        if not flow_finished(flow, store):
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
    if error is None:  # the last record: Arrhenius fit, or the glass of a glass-only flow
        names = {d.get("name", "") for d in docs}
        stage = "arrhenius" if "record_arrhenius" in names else "glass"
    elif stage is None:
        finished = [d.get("name", "") for d in docs]
        stage = finished[-1] if finished else None
    if error is not None:
        free = disk_free_bytes(root_dir)
        if is_disk_full(error, free):
            removed = remove_unfinished_job_folders(Path(root_dir) / formula,
                                                    store.docs_store.job_dirs)
            error = disk_full_message(error, free, stage, removed)
    journals = (store.docs_store, store.additional_stores["data"])
    return CompositionResult(
        formula=formula,
        ok=error is None,
        error=error,
        stage=stage,
        docs=docs,
        blobs=blobs,
        seconds=time.perf_counter() - start,
        journaled=journal_path is not None and all(j.journal_error is None for j in journals),
    )


def flow_finished(flow: Any, store: Any) -> bool:
    """Every job the flow's output refers to has written its document.

    The output of a composition's flow holds its records: melt, anneals, the Arrhenius
    fit, the glass point (:class:`~amorphdb.flows.MeltQuenchMaker`). A glass-only
    protocol (no anneal temperatures) has no Arrhenius fit, so finishing means "every
    record of the output exists", not "the Arrhenius record exists".
    """
    from jobflow.core.reference import find_and_get_references

    uuids = {ref.uuid for ref in find_and_get_references(flow.output)}
    if not uuids:
        return False
    written = {d["uuid"] for d in store.docs_store.query({"uuid": {"$in": sorted(uuids)}},
                                                         properties=["uuid"])}
    return written == uuids


#: below this many free bytes on the run folder's file system a failure is a full disk
DISK_FULL_BYTES = 1 << 20
_DISK_FULL_TEXT = ("no space left on device", "errno 28", "enospc", "database or disk is full",
                   "disk full")


def disk_free_bytes(path: str | Path) -> int | None:
    """Free bytes on the file system of ``path`` (None when it cannot be asked)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def is_disk_full(error: str | None, free_bytes: int | None) -> bool:
    """A failure caused by a full disk: its message says so, or almost no space is left.

    LAMMPS, packmol or a thermo parser writing into a full file system fail with
    messages of their own (a truncated dump, a missing file), so the free space counts
    as well as the message.
    """
    text = (error or "").lower()
    if any(mark in text for mark in _DISK_FULL_TEXT):
        return True
    return free_bytes is not None and free_bytes < DISK_FULL_BYTES


def disk_full_message(error: str, free_bytes: int | None, stage: str | None,
                      removed: int = 0) -> str:
    """The recorded error of a disk-full failure (kept distinct from a lost run)."""
    if error.startswith("disk full"):
        return error
    free = "" if free_bytes is None else f"{free_bytes // 1024} KiB free; "
    where = f" after job '{stage}'" if stage else ""
    tidy = f"{removed} unfinished job folder(s) removed; " if removed else ""
    return (f"disk full ({free}no space left on device){where}: {error.splitlines()[0]}; "
            f"{tidy}free space and run 'amorphdb rerun'")


def remove_unfinished_job_folders(folder: Path, finished: set[str]) -> int:
    """Delete the job folders under ``folder`` whose job wrote no document (half-written).

    ``finished`` holds the folders jobs were in when they stored their output
    (:attr:`JournaledMemoryStore.job_dirs`). Returns how many folders were removed.
    """
    done = {str(Path(d).resolve()) for d in finished}
    removed = 0
    for job_dir in sorted(folder.glob("job_*")):
        if job_dir.is_dir() and str(job_dir.resolve()) not in done:
            shutil.rmtree(job_dir, ignore_errors=True)
            removed += 1
    return removed


def _journal_default(obj: Any) -> Any:
    """JSON for what jobflow's documents may hold besides JSON types (data only)."""
    if isinstance(obj, bytes | bytearray):
        return {"$binary": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, datetime):
        return {"$date": obj.isoformat()}
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    raise TypeError(f"cannot journal a {type(obj).__name__}")


def _journal_hook(obj: dict[str, Any]) -> Any:
    """Inverse of :func:`_journal_default` for its two tags; never imports or calls code."""
    if len(obj) == 1:
        if "$binary" in obj:
            return base64.b64decode(obj["$binary"])
        if "$date" in obj:
            return datetime.fromisoformat(obj["$date"])
    return obj


def encode_journal_record(kind: str, docs: list[dict[str, Any]]) -> bytes:
    """One journal record: a JSON line ``{"kind": ..., "docs": [...]}``."""
    line = json.dumps({"kind": kind, "docs": docs}, default=_journal_default,
                      separators=(",", ":"))
    return line.encode() + b"\n"


class JournaledMemoryStore(MemoryStore):
    """A ``MemoryStore`` that also appends every write to a journal file.

    Each ``update`` appends one JSON line (:func:`encode_journal_record`) and fsyncs
    it, so the parent can read back what a worker had written before it was killed; a
    line cut short by the kill is ignored by :func:`read_journal`. JSON is data: a
    crafted journal cannot run code in the process that reads it (a pickle could).

    A write that fails (a full disk) is cut back to the last whole record and
    journaling stops (:attr:`journal_error`); the documents stay in memory and reach
    the parent with the worker's result instead.
    """

    def __init__(self, journal_path: str | None = None, kind: str = "docs", **kwargs: Any):
        self.journal_path = journal_path
        self.kind = kind
        #: why journaling stopped (None while it works)
        self.journal_error: str | None = None
        #: folders the jobs were running in when they stored their outputs (finished jobs)
        self.job_dirs: set[str] = set()
        super().__init__(**kwargs)

    def seed(self, docs: list[dict], key: list | str) -> None:
        """Load documents that already live in the persistent store (not journaled)."""
        super().update(docs, key=key)

    def update(self, docs: list[dict] | dict, key: list | str | None = None) -> None:
        """Write ``docs`` (as ``MemoryStore.update``), then journal them."""
        super().update(docs, key=key)
        self.job_dirs.add(os.getcwd())  # run_locally runs each job in its own folder
        if self.journal_path is None or self.journal_error is not None:
            return
        record = encode_journal_record(self.kind, _strip_ids(docs if isinstance(docs, list)
                                                             else [docs]))
        with open(self.journal_path, "ab") as handle:
            start = handle.tell()
            try:
                handle.write(record)
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:  # full disk: keep whole records only, stop journaling
                self.journal_error = f"{exc.strerror or exc} ({self.journal_path})"
                with contextlib.suppress(OSError):
                    handle.truncate(start)
                log.warning("journal %s: %s; documents kept in memory", self.journal_path,
                            self.journal_error)


class Journal(NamedTuple):
    """What a journal file holds: documents, blobs and the lines that could not be read."""

    docs: list[dict[str, Any]]
    blobs: list[dict[str, Any]]
    #: 1-based numbers of damaged lines (a last line cut short by a kill is not damage)
    damaged: list[int]


def read_journal_checked(path: Path) -> Journal:
    """Job documents and blobs a worker journaled (last write per key wins).

    Only JSON is parsed (no code can run). A line that is not a journal record is
    skipped and reported in :attr:`Journal.damaged`; an unfinished last line (the worker
    was killed while writing it) is dropped silently.
    """
    docs: dict[tuple[str, int], dict[str, Any]] = {}
    blobs: dict[str, dict[str, Any]] = {}
    damaged: list[int] = []
    path = Path(path)
    if not path.exists():
        return Journal([], [], [])
    data = path.read_bytes()
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, object_hook=_journal_hook)
            kind, batch = record["kind"], record["docs"]
            if kind not in ("docs", "data") or not isinstance(batch, list):
                raise ValueError("not a journal record")
            if not all(isinstance(doc, dict) for doc in batch):
                raise ValueError("not a list of documents")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            if number != len(lines):  # the last line has no newline yet: cut by a kill
                damaged.append(number)
            continue
        for doc in batch:
            if kind == "docs":
                docs[(doc.get("uuid"), doc.get("index"))] = doc
            else:
                blobs[doc.get("blob_uuid")] = doc
    return Journal(list(docs.values()), list(blobs.values()), damaged)


def read_journal(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Job documents and blobs of a journal (:func:`read_journal_checked`, damage logged)."""
    journal = read_journal_checked(path)
    if journal.damaged:
        log.warning("journal %s: %d damaged line(s) skipped (%s)", path, len(journal.damaged),
                    ", ".join(map(str, journal.damaged[:5])))
    return journal.docs, journal.blobs


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
JOURNAL_FILE = ".amorphdb-journal-{token}.jsonl"
#: seconds a stopped worker group gets to exit after SIGTERM before SIGKILL
STOP_GRACE_S = 5.0
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


def _kill_own_group(*_: Any) -> None:
    """Kill this worker's process group: itself and its LAMMPS/packmol children."""
    os.killpg(0, signal.SIGKILL)


def _watch_parent(parent_pid: int) -> None:
    """Kill this worker's process group (it and its MD subprocesses) once the parent dies.

    A launcher killed with SIGKILL cannot stop its workers; without this they would keep
    running (and keep LAMMPS running) next to the rerun of the same composition. Backs
    up ``PR_SET_PDEATHSIG`` (Linux only).
    """
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent_pid:
            _kill_own_group()


def _die_with_parent(parent_pid: int) -> None:
    """Own process group, killed as a whole when the parent dies (SIGKILL included)."""
    os.setpgrp()  # the parent can stop the worker with its MD children; Ctrl-C is the parent's
    signal.signal(signal.SIGTERM, _kill_own_group)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C stops
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        _kill_own_group()
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


#: pipe message that carries a worker's result (other messages are progress)
_RESULT = "__result__"


def _worker_main(
    spec_data: dict[str, Any], formula: str, root_dir: str, conn: Any,
    parent_pid: int, resume: dict[str, Any] | None = None, journal_path: str | None = None,
) -> None:
    """Worker process: run one composition, send the result through the pipe."""
    _die_with_parent(parent_pid)
    queue = _PipeQueue(conn)
    result = run_composition(spec_data, formula, root_dir, queue, resume, journal_path)
    if result.journaled:  # the parent reads the documents from the journal
        result.docs, result.blobs = [], []
    conn.send((_RESULT, json.loads(json.dumps(asdict(result), default=_journal_default))))
    conn.close()


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


def _interrupt_message(signal_name: str, last_job: str | None, saved: int) -> str:
    after = f" after job '{last_job}'" if last_job else " before its first job finished"
    kept = f"{saved} finished job(s) saved" if saved else "no finished job to save"
    return f"interrupted by {signal_name}{after}; {kept}; resume with 'amorphdb rerun'"


def journal_files(folder: Path) -> list[Path]:
    """Journals workers left in a composition's folder (oldest first)."""
    return sorted(folder.glob(JOURNAL_FILE.format(token="*")), key=lambda p: p.stat().st_mtime)


def recover_journals(job_store: Any, folder: Path) -> int:
    """Save the finished jobs of journals a dead launcher's workers left behind; remove them.

    A launcher killed with SIGKILL cannot read its workers' journals; the next launcher
    that claims the composition does, before it looks for stages to resume, so those
    stages are reused, not recomputed. Record jobs are not saved (a killed attempt
    leaves no summaries; see the module doc). Returns the number of documents saved.
    """
    saved = 0
    for path in journal_files(folder):
        docs, blobs = read_journal(path)
        save_result(job_store, CompositionResult(formula="", ok=False, docs=docs, blobs=blobs))
        saved += len(docs)
        path.unlink(missing_ok=True)
    return saved


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM while an interrupted launcher saves (a second Ctrl-C waits)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Let a SIGINT/SIGTERM that arrives inside the block act only once it is done.

    Saving a finished composition (job documents, summaries, attempt) is one step: an
    interrupt in the middle would leave its documents without its attempt record.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _: pending.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            handler = previous[pending[0]]
            if callable(handler):
                handler(pending[0], None)  # the CLI's handler raises Interrupted
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), pending[0])


def run_campaign(
    spec: CampaignSpec,
    on_progress: Callable[[str, str], None] | None = None,
    on_result: Callable[[CompositionResult], None] | None = None,
    formulas: list[str] | None = None,
    specs: dict[str, CampaignSpec] | None = None,
    attempt_info: dict[str, dict[str, Any]] | None = None,
    resume: bool = False,
    claim: bool = True,
    db: Any = None,
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
    db
        The campaign database the command opened (left open); None: open the campaign's
        store here and close it at the end.

    Returns
    -------
    dict
        formula → :class:`CompositionResult` (docs and blobs dropped after saving).

    Raises
    ------
    KeyboardInterrupt
        (:class:`~amorphdb.errors.Interrupted` from the CLI) after the running
        compositions were stopped, their finished jobs saved and their attempts
        recorded as interrupted; ``Interrupted.saved`` says what was saved.
    """
    from amorphdb.store import open_database

    if formulas is None:
        formulas = validate_campaign(spec)
    specs = specs or {}
    attempt_info = attempt_info or {}
    own_db = db is None
    if own_db:
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
    root = spec.workdir_path() / spec.name
    for formula in formulas:  # finished jobs of workers whose launcher was killed
        recovered = recover_journals(job_store, root / formula)
        if recovered:
            log.info("%s: saved %d job document(s) from orphaned journals", formula, recovered)
    payloads = {}
    for formula in formulas if resume else []:
        payload = resume_payload(job_store, specs.get(formula, spec), formula)
        if payload is not None:
            payloads[formula] = payload
            settings[formula]["resumed_from"] = payload["point"].describe()
            db.record_attempt(spec.name, formula, "waiting", settings=settings[formula],
                              stage="queued")
    root.mkdir(parents=True, exist_ok=True)
    results: dict[str, CompositionResult] = {}
    last_job: dict[str, str] = {}

    def progress(formula: str, name: str) -> None:
        last_job[formula] = name
        if on_progress is not None:
            on_progress(formula, name)

    def finish(result: CompositionResult) -> None:
        if not result.ok and is_disk_full(result.error, disk_free_bytes(root)):
            result.error = disk_full_message(result.error or "", disk_free_bytes(root),
                                             result.stage)
        try:
            save_result(job_store, result)
            build_result(db, result)
        except Exception as exc:  # the store's disk is full: still record why
            full = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
            if not (full or "database or disk is full" in str(exc)):
                raise
            result.ok, result.error = False, disk_full_message(
                f"saving the results failed: {getattr(exc, 'strerror', None) or exc}",
                disk_free_bytes(root), result.stage)
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
        workers = max(1, min(spec.workers, len(formulas)))
        _run_processes(
            formulas, workers, root, lambda f: (data_for(f), payloads.get(f)), finish,
            progress, last_job, started,
        )
        return results
    except KeyboardInterrupt as exc:
        with _signals_held():
            _record_not_started(exc, db, spec, formulas, results, settings, heartbeats)
        raise
    finally:
        heartbeats.close()
        if own_db:
            db.close()


def _record_not_started(exc: KeyboardInterrupt, db: Any, spec: CampaignSpec,
                        formulas: list[str], results: dict[str, CompositionResult],
                        settings: dict[str, dict[str, Any]], heartbeats: Heartbeats) -> None:
    """Close the claimed attempts an interrupt stopped before they started; note the saves."""
    name = getattr(exc, "signal_name", "SIGINT")
    waiting = [f for f in formulas if f not in results]
    for formula in waiting:
        db.record_attempt(spec.name, formula, "failed", settings=settings[formula],
                          error=_interrupt_message(name, None, 0), stage="queued")
        heartbeats.clear(spec.name, formula)
    if isinstance(exc, Interrupted):
        stopped = [r for r in results.values() if r.error and r.error.startswith("interrupted")]
        if stopped:
            exc.saved.append("finished jobs saved for " + ", ".join(
                f"{r.formula} ({r.error.split('; ')[1]})" for r in stopped))
        if waiting:
            exc.saved.append(f"{len(waiting)} composition(s) not started")
        if stopped or waiting:
            exc.saved.append(f"campaign '{spec.name}' records them interrupted; resume with "
                             "'amorphdb rerun'")


class _PipeQueue:
    """Progress channel of one worker: its own pipe, so a killed worker blocks no other."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def put(self, item: tuple[str, str]) -> None:
        self.conn.send(item)


def _drain_pipe(conn: Any, on_progress: Callable[[str, str], None]) -> dict[str, Any] | None:
    """Pass progress messages on; return the worker's result when it arrives."""
    result = None
    with contextlib.suppress(EOFError, OSError):
        while conn.poll():
            tag, payload = conn.recv()
            if tag == _RESULT:
                result = payload
            else:
                on_progress(tag, payload)
    return result


@dataclass
class _Worker:
    """A running worker process and what the parent knows of it."""

    formula: str
    proc: Any
    conn: Any
    journal: Path
    result: dict[str, Any] | None = None


def _stop_group(proc: Any) -> None:
    """Stop a worker and its MD subprocesses: SIGTERM to the group, SIGKILL after a grace."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGTERM)  # the worker's handler kills the whole group
    proc.join(STOP_GRACE_S)
    if proc.is_alive():  # not in its own group yet, or stuck
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        proc.join(STOP_GRACE_S)
    with contextlib.suppress(OSError):  # children that outlived a worker that died alone
        os.killpg(proc.pid, signal.SIGKILL)


def _collect(worker: _Worker, last_job: dict[str, str],
             interrupted: str | None = None) -> CompositionResult:
    """The result of a finished, dead or stopped worker, with the jobs its journal holds."""
    formula, proc = worker.formula, worker.proc
    if worker.result is not None:
        result = CompositionResult(**worker.result)
    elif interrupted is not None:
        result = CompositionResult(formula=formula, ok=False, stage=last_job.get(formula))
    else:
        with contextlib.suppress(OSError):  # MD subprocesses it left behind
            os.killpg(proc.pid, signal.SIGKILL)
        result = CompositionResult(
            formula=formula, ok=False, stage=last_job.get(formula),
            error=_death_message(proc.pid, proc.exitcode, last_job.get(formula)),
        )
    journal = read_journal_checked(worker.journal)
    if result.journaled or not result.docs:  # finished or killed: its jobs are in its journal
        result.docs, result.blobs = journal.docs, journal.blobs
    if interrupted is not None and worker.result is None:
        result.error = _interrupt_message(interrupted, last_job.get(formula), len(result.docs))
    if journal.damaged:
        note = (f"journal {worker.journal.name}: {len(journal.damaged)} damaged line(s) "
                "skipped")
        log.warning("%s: %s", formula, note)
        result.error = f"{result.error}; {note}" if result.error else None
    return result


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

    Each worker reports finished jobs and then its result through its own pipe (not a
    shared queue, whose write lock a worker killed mid-write would hold forever). A
    worker that dies leaves its journal: the jobs it completed are saved with its failed
    attempt, for a rerun to resume from. Interrupted (KeyboardInterrupt, which the CLI
    raises for SIGINT and SIGTERM), it stops every running worker group, saves their
    journals with attempts recorded as interrupted, and re-raises.
    """
    ctx = mp.get_context("spawn")  # fork is unsafe with threads (torch, pymongo)
    waiting = list(formulas)
    running: dict[str, _Worker] = {}
    last_beat = 0.0
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                formula = waiting.pop(0)
                journal = root / formula / JOURNAL_FILE.format(token=uuid.uuid4().hex)
                journal.parent.mkdir(parents=True, exist_ok=True)
                reader, writer = ctx.Pipe(duplex=False)
                spec_data, payload = args_for(formula)
                proc = ctx.Process(
                    target=_worker_main,
                    args=(spec_data, formula, str(root), writer, os.getpid(), payload,
                          str(journal)),
                    name=f"amorphdb-{formula}",
                )
                proc.start()
                writer.close()  # the child holds its end; EOF once it exits
                running[formula] = _Worker(formula, proc, reader, journal)
                beat(formula, worker_pid=proc.pid, stage="started")
            for formula, worker in list(running.items()):
                worker.result = _drain_pipe(worker.conn, progress) or worker.result
                if worker.proc.is_alive():
                    continue
                worker.proc.join()
                worker.result = _drain_pipe(worker.conn, progress) or worker.result
                worker.conn.close()
                del running[formula]
                with _signals_deferred():
                    finish(_collect(worker, last_job))
                    worker.journal.unlink(missing_ok=True)
            now = time.monotonic()
            if running and now - last_beat > HEARTBEAT_INTERVAL_S:
                for formula, worker in running.items():
                    beat(formula, worker_pid=worker.proc.pid, stage=last_job.get(formula))
                last_beat = now
            if running:
                time.sleep(0.2)
    except KeyboardInterrupt as exc:
        name = getattr(exc, "signal_name", "SIGINT")
        with _signals_held():
            for worker in running.values():
                _stop_group(worker.proc)
            for formula, worker in list(running.items()):
                worker.result = _drain_pipe(worker.conn, progress) or worker.result
                worker.conn.close()
                del running[formula]
                result = _collect(worker, last_job, interrupted=name)
                finish(result)
                worker.journal.unlink(missing_ok=True)
        raise
    finally:
        for worker in running.values():  # any other exit: never leave orphans behind
            with contextlib.suppress(Exception):
                _stop_group(worker.proc)
                worker.conn.close()
