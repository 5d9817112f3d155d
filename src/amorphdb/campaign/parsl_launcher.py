"""Parsl pilot-job launcher: compositions run in shared Slurm allocations (blocks).

The driver (``amorphdb submit --launcher parsl``) starts a Parsl
``HighThroughputExecutor`` whose blocks are Slurm jobs (``SlurmProvider``) or local
processes (``LocalProvider``). Each block runs ``cores_per_node // cores_per_composition``
workers per node, so many compositions share one scheduler job: the scheduler sees
``max_blocks`` jobs at most, whatever the number of compositions. Parsl needs no
database server: the queue lives in the driver.

Each worker runs the very function the local launcher runs in its processes,
:func:`amorphdb.campaign.local.run_composition`, with the same journal
(:class:`~amorphdb.campaign.local.JournaledMemoryStore`); the driver alone writes into
the campaign's store (claims, attempts, heartbeats, job documents, summaries) exactly
as the local launcher does, so ``status``, ``rerun`` and resuming from completed stages
work unchanged. A block that dies (``scancel``, walltime, node failure) is noticed after
``heartbeat_s``: the compositions it ran are recorded failed with the jobs they had
journaled, and ``rerun`` resumes them. The workdir must be visible to the workers
(a shared filesystem, as on any cluster) for the journals and job folders.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amorphdb.campaign.cost import EXPECTED_VOLUME_CHECKS, cost_per_atom_step
from amorphdb.campaign.local import (
    HEARTBEAT_INTERVAL_S,
    JOURNAL_FILE,
    CompositionResult,
    attempt_settings,
    build_result,
    read_journal,
    recover_journals,
    resume_payload,
    run_composition,
    save_result,
)
from amorphdb.campaign.parsl_settings import ParslProvider, ParslSettings, walltime_seconds
from amorphdb.campaign.spec import CampaignSpec
from amorphdb.campaign.status import Heartbeats
from amorphdb.errors import ConfigError

#: seconds between the driver's looks at futures and journals
POLL_S = 0.5
#: Parsl's interchange, made to receive SIGTERM when the driver dies (Linux
#: ``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``): a driver killed with SIGKILL would
#: otherwise leave it running, and with it the pilot jobs, whose workers stop only after
#: ``heartbeat_s`` without an interchange
INTERCHANGE_CMD = [
    sys.executable, "-c",
    "import ctypes, os, signal, sys\n"
    "with __import__('contextlib').suppress(OSError, AttributeError):\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"
    "os.execvp('interchange.py', ['interchange.py'])",
]


def run_composition_task(
    spec_data: dict[str, Any], formula: str, root_dir: str,
    resume: dict[str, Any] | None, journal_path: str,
) -> CompositionResult:
    """Parsl app body (worker side): the local launcher's worker function, unchanged."""
    return run_composition(spec_data, formula, root_dir, None, resume, journal_path)


def longest_stage_seconds(spec: CampaignSpec, cores: int) -> float:
    """Estimated wall seconds of a composition's longest stage (MD job) on ``cores`` cores.

    Stages: the volume search at one temperature (scan plus
    :data:`~amorphdb.campaign.cost.EXPECTED_VOLUME_CHECKS` checks, one job each), the melt,
    one anneal, each cooling job; cost per atom-step from :mod:`amorphdb.campaign.cost`.
    A block's walltime must fit at least this: a stage cut by the walltime is recomputed.
    """
    p = spec.protocol
    volume = (len(p.volume.scale_factors) + min(p.volume.max_iterations,
                                                 EXPECTED_VOLUME_CHECKS)) * p.volume.n_steps
    # the time step that runs (the engine's default when unset): fixed-rate cooling
    # takes more steps with a smaller one
    cooling = p.cooling_runs(spec.engine.resolved_timestep_fs) if hasattr(p, "cooling_runs") \
        else []
    steps = max([volume, p.melt_steps, p.anneal_steps, *cooling])
    cost = spec.cost_per_atom_step_core_s or cost_per_atom_step(spec.engine)
    return steps * p.target_atoms * cost / cores


def _slurm_partitions() -> tuple[list[str], str | None, dict[str, int]]:
    """(partitions, default partition, cores per node by partition) from ``sinfo``."""
    if shutil.which("sinfo") is None:
        raise ConfigError("Slurm is not reachable: no 'sinfo' on PATH; start it "
                          "(scripts/slurm-cluster.sh up) or use launchers.parsl.provider: local")
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P %c"], capture_output=True, text=True,
                             timeout=30, check=False)
    except subprocess.TimeoutExpired:
        raise ConfigError("Slurm is not reachable: 'sinfo' timed out") from None
    if out.returncode != 0:
        detail = (out.stderr.strip().splitlines() or ["no message"])[-1]
        raise ConfigError(f"Slurm is not reachable: 'sinfo' failed ({detail}); "
                          "start it (scripts/slurm-cluster.sh up)")
    names, default, cores = [], None, {}
    for line in out.stdout.split("\n"):
        if not line.strip():
            continue
        name, cpus = line.split()[:2]
        if name.endswith("*"):
            name = name[:-1]
            default = name
        names.append(name)
        with contextlib.suppress(ValueError):
            cores[name] = int(cpus.rstrip("+"))
    return names, default, cores


class ParslLauncher:
    """Runs compositions on Parsl pilot jobs; settings checked on creation."""

    name = "parsl"

    def __init__(self, settings: ParslSettings, cores_per_node: int) -> None:
        self.settings = settings
        self.cores_per_node = cores_per_node

    @property
    def workers_per_node(self) -> int:
        """Compositions one node runs at once."""
        return max(1, self.cores_per_node // self.settings.cores_per_composition)

    @classmethod
    def connect(cls, spec: CampaignSpec) -> ParslLauncher:
        """Check the provider (``sinfo``, partition) and the walltime; one-line errors."""
        settings = spec.launchers.parsl
        if settings.provider == ParslProvider.SLURM:
            names, default, cores = _slurm_partitions()
            partition = settings.partition or default
            if settings.partition is not None and settings.partition not in names:
                raise ConfigError(
                    f"launchers.parsl.partition '{settings.partition}' is not a Slurm "
                    f"partition here; known: {', '.join(names) or 'none'}"
                )
            cores_per_node = settings.cores_per_node or cores.get(partition or "", 1)
        else:
            cores_per_node = settings.cores_per_node or os.cpu_count() or 1
        if settings.cores_per_composition > cores_per_node:
            raise ConfigError(
                f"launchers.parsl.cores_per_composition {settings.cores_per_composition} "
                f"exceeds the {cores_per_node} cores of a node; lower it"
            )
        need = longest_stage_seconds(spec, settings.cores_per_composition)
        have = walltime_seconds(settings.walltime)
        if need > have:
            raise ConfigError(
                f"launchers.parsl.walltime {settings.walltime} ({have} s) cannot fit the "
                f"longest stage of one composition (~{need:.0f} s estimated, "
                "campaign/cost.py); raise the walltime or shorten the stages"
            )
        return cls(settings, cores_per_node)

    def config(self, run_dir: Path) -> Any:
        """The Parsl ``Config``: one HighThroughputExecutor on the provider."""
        from parsl.config import Config
        from parsl.executors import HighThroughputExecutor
        from parsl.launchers import SingleNodeLauncher, SrunLauncher
        from parsl.providers import LocalProvider, SlurmProvider

        s = self.settings
        # the interchange and the workers are the venv's scripts (Parsl fails with
        # "No such file or directory: 'interchange.py'" without it on PATH)
        venv_bin = str(Path(sys.executable).parent)
        os.environ["PATH"] = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
        worker_init = f"export PATH={venv_bin}:$PATH\n{s.worker_init}".strip()
        launcher = SrunLauncher() if s.nodes_per_block > 1 else SingleNodeLauncher()
        if s.provider == ParslProvider.SLURM:
            options = "\n".join(
                line for line in [s.scheduler_options.strip(),
                                  f"#SBATCH --qos={s.qos}" if s.qos else ""] if line
            )
            provider = SlurmProvider(
                partition=s.partition, account=s.account, nodes_per_block=s.nodes_per_block,
                init_blocks=1, min_blocks=0, max_blocks=s.max_blocks, walltime=s.walltime,
                scheduler_options=options, worker_init=worker_init, exclusive=False,
                cores_per_node=self.cores_per_node, launcher=launcher,
            )
        else:
            provider = LocalProvider(nodes_per_block=1, init_blocks=1, min_blocks=0,
                                     max_blocks=s.max_blocks, worker_init=worker_init,
                                     launcher=launcher)
        executor = HighThroughputExecutor(
            label="amorphdb", provider=provider, address=s.address,
            interchange_launch_cmd=INTERCHANGE_CMD,
            cores_per_worker=s.cores_per_composition,
            max_workers_per_node=self.workers_per_node,
            heartbeat_period=max(1, s.heartbeat_s // 4), heartbeat_threshold=s.heartbeat_s,
            poll_period=100, worker_logdir_root=str(run_dir),
        )
        return Config(executors=[executor], run_dir=str(run_dir), strategy="simple",
                      max_idletime=5.0, retries=0,
                      initialize_logging=True)

    def submit(
        self,
        spec: CampaignSpec,
        formulas: list[str],
        specs: dict[str, CampaignSpec] | None = None,
        attempt_info: dict[str, dict[str, Any]] | None = None,
        resume: bool = False,
        on_progress: Callable[[str, str], None] | None = None,
        on_result: Callable[[CompositionResult], None] | None = None,
        claim: bool = True,
        db: Any = None,
    ) -> dict[str, CompositionResult]:
        """Claim, run on pilot jobs until every composition finished, record; see module doc.

        Returns formula → :class:`CompositionResult` for the compositions this driver
        claimed (docs and blobs dropped after saving).
        """
        from amorphdb.store import open_database

        own_db = db is None
        db = open_database(spec.store_path()) if own_db else db
        try:
            return _drive(self, spec, db, formulas, specs or {}, attempt_info or {}, resume,
                          on_progress, on_result, claim)
        finally:
            if own_db:
                db.close()

    def sync(self, spec: CampaignSpec, db: Any) -> dict[str, str]:
        """Nothing to take in: the driver records every outcome itself."""
        return {}


def _drive(
    launcher: ParslLauncher, spec: CampaignSpec, db: Any, formulas: list[str],
    specs: dict[str, CampaignSpec], attempt_info: dict[str, dict[str, Any]], resume: bool,
    on_progress: Callable[[str, str], None] | None,
    on_result: Callable[[CompositionResult], None] | None, claim: bool,
) -> dict[str, CompositionResult]:
    import parsl
    from parsl import python_app

    heartbeats = Heartbeats(db)
    settings: dict[str, dict[str, Any]] = {}
    payloads: dict[str, Any] = {}
    claimed = []
    for formula in formulas:
        s = specs.get(formula, spec)
        settings[formula] = {**attempt_settings(s, "parsl"), **attempt_info.get(formula, {})}
        if db.record_attempt(spec.name, formula, "waiting", settings=settings[formula],
                             stage="queued", claim=claim) is None:
            continue  # completed, or in flight with another launcher
        claimed.append(formula)
        heartbeats.beat(spec.name, formula, launcher="parsl", stage="queued")
        # finished jobs of workers whose driver was killed: saved, so they are reused
        recover_journals(db.job_store, spec.workdir_path() / spec.name / formula)
        payload = resume_payload(db.job_store, s, formula) if resume else None
        if payload is not None:
            payloads[formula] = payload
            settings[formula]["resumed_from"] = payload["point"].describe()
            db.record_attempt(spec.name, formula, "waiting", settings=settings[formula],
                              stage="queued")
    results: dict[str, CompositionResult] = {}
    if not claimed:
        heartbeats.close()
        return results
    root = spec.workdir_path() / spec.name
    run_dir = root / ".parsl"
    run_dir.mkdir(parents=True, exist_ok=True)
    dfk = parsl.load(launcher.config(run_dir))
    app = python_app(run_composition_task, executors=["amorphdb"])
    tasks: dict[str, tuple[Any, Path, _Seen]] = {}
    try:
        for formula in claimed:
            journal = root / formula / JOURNAL_FILE.format(token=uuid.uuid4().hex)
            journal.parent.mkdir(parents=True, exist_ok=True)
            data = specs.get(formula, spec).model_dump(mode="json")
            future = app(data, formula, str(root), payloads.get(formula), str(journal))
            tasks[formula] = (future, journal, _Seen())
        last_beat = 0.0
        while tasks:
            for formula, (future, journal, seen) in list(tasks.items()):
                stage = _progress(formula, journal, seen, on_progress)
                if stage and formula not in results and not future.done():
                    _mark_running(db, spec, formula, settings, seen)
                if not future.done():
                    continue
                del tasks[formula]
                result = _outcome(formula, future, stage, lambda: _ending(launcher, dfk))
                docs, blobs = read_journal(journal)  # what it finished, even if lost
                result.docs, result.blobs = docs, blobs
                _finish(db, spec, heartbeats, settings[formula], result)
                journal.unlink(missing_ok=True)
                results[formula] = result
                if on_result is not None:
                    on_result(result)
            now = time.monotonic()
            if tasks and now - last_beat > HEARTBEAT_INTERVAL_S:
                for formula, (_, _, seen) in tasks.items():
                    heartbeats.beat(spec.name, formula, launcher="parsl",
                                    stage=seen.last, external_id=_block_ids(dfk))
                last_beat = now
            if tasks:
                time.sleep(POLL_S)
        return results
    except KeyboardInterrupt:  # Ctrl-C / SIGTERM: keep what the running ones finished
        for formula, (_, journal, seen) in tasks.items():
            result = CompositionResult(formula=formula, ok=False, stage=seen.last,
                                       error="interrupted (driver stopped); rerun it")
            result.docs, result.blobs = read_journal(journal)
            _finish(db, spec, heartbeats, settings[formula], result)
            journal.unlink(missing_ok=True)
        raise
    finally:
        heartbeats.close()
        dfk.cleanup()  # cancels the blocks still queued or running
        parsl.clear()


class _Seen:
    """Job documents of one composition the driver has already reported."""

    def __init__(self) -> None:
        self.keys: set[tuple[Any, Any]] = set()
        self.names: list[str] = []
        self.running = False

    @property
    def last(self) -> str | None:
        return self.names[-1] if self.names else None


def _progress(formula: str, journal: Path, seen: _Seen, on_progress: Any) -> str | None:
    """Report job documents newly journaled by a worker; the last job name seen."""
    if journal.exists():
        with contextlib.suppress(OSError):
            docs, _ = read_journal(journal)
            for doc in docs:
                key = (doc.get("uuid"), doc.get("index"))
                if key not in seen.keys:
                    seen.keys.add(key)
                    seen.names.append(doc.get("name", ""))
                    if on_progress is not None:
                        on_progress(formula, doc.get("name", ""))
    return seen.last


def _mark_running(db: Any, spec: CampaignSpec, formula: str, settings: dict,
                  seen: _Seen) -> None:
    """waiting → running once the first job of a composition finished (same attempt)."""
    if seen.running:
        return
    seen.running = True
    db.record_attempt(spec.name, formula, "running", settings=settings[formula],
                      stage="started")


def _ending(launcher: ParslLauncher, dfk: Any) -> str:
    """How the blocks of a lost worker ended (Slurm states; local blocks: not known)."""
    if launcher.settings.provider != ParslProvider.SLURM:
        return "local block process ended"
    return pilot_job_ending([j for j in _block_ids(dfk).split(",") if j])


def _block_ids(dfk: Any) -> str:
    """The scheduler job ids of the executor's blocks (e.g. Slurm job ids)."""
    executor = dfk.executors.get("amorphdb")
    return ",".join(str(j) for j in getattr(executor, "blocks_to_job_id", {}).values())


#: Slurm job state → how the driver words a pilot job's end (``scontrol``/``sacct`` states)
SLURM_ENDINGS = {
    "TIMEOUT": "reached its walltime",
    "DEADLINE": "reached its deadline",
    "CANCELLED": "was cancelled",
    "PREEMPTED": "was preempted",
    "NODE_FAIL": "lost its node",
    "OUT_OF_MEMORY": "ran out of memory",
    "FAILED": "failed",
    "COMPLETED": "exited",
}


def slurm_job_state(job_id: str) -> str | None:
    """Slurm state of job ``job_id`` (``TIMEOUT``, ``CANCELLED``, ...) or None if unknown.

    ``scontrol show job`` keeps an ended job for ``MinJobAge`` seconds (300 by default)
    and needs no accounting; ``sacct`` (accounting) is asked when it no longer knows it.
    """
    for cmd in (["scontrol", "show", "job", "-o", job_id],
                ["sacct", "-X", "-n", "-P", "-o", "State", "-j", job_id]):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                                 check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode != 0 or not out.stdout.strip():
            continue
        text = out.stdout.strip()
        if cmd[0] == "scontrol":
            fields = dict(f.split("=", 1) for f in text.split() if "=" in f)
            return fields.get("JobState")
        return text.splitlines()[0].split()[0]  # "CANCELLED by 0" → CANCELLED
    return None


def pilot_job_ending(job_ids: list[str]) -> str:
    """How the pilot job(s) ended, e.g. "Slurm job 57 reached its walltime (TIMEOUT)"."""
    ended = []
    for job_id in job_ids:
        state = slurm_job_state(job_id)
        if state is not None and state not in ("RUNNING", "PENDING", "CONFIGURING",
                                                "COMPLETING"):
            ended.append(f"Slurm job {job_id} {SLURM_ENDINGS.get(state, 'ended')} ({state})")
    return "; ".join(ended) or "cancelled, walltime or node failure"


def _outcome(formula: str, future: Any, last_job: str | None,
             ending: Callable[[], str] | None = None) -> CompositionResult:
    """The worker's result, or a failed one naming how the pilot job was lost.

    ``ending`` says how the pilot job ended (:func:`pilot_job_ending`); asked only when
    the worker was lost.
    """
    try:
        return future.result()
    except Exception as exc:
        after = f" after job '{last_job}'" if last_job else " before its first job finished"
        how = ending() if ending is not None else "cancelled, walltime or node failure"
        return CompositionResult(
            formula=formula, ok=False, stage=last_job,
            # worded for escalation's "lost" kind: a rerun keeps the settings
            error=(f"Parsl worker lost: its pilot job ended ({how}; "
                   f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]})"
                   f"{after}; rerun it with 'amorphdb rerun --launcher parsl'"),
        )


def _finish(db: Any, spec: CampaignSpec, heartbeats: Heartbeats, settings: dict,
            result: CompositionResult) -> None:
    """Save a composition's documents and summaries, close its attempt (as local does)."""
    save_result(db.job_store, result)
    build_result(db, result)
    db.record_attempt(spec.name, result.formula, "completed" if result.ok else "failed",
                      settings=settings, error=result.error, stage=result.stage)
    heartbeats.clear(spec.name, result.formula)
    result.docs, result.blobs = [], []
