"""The jobflow ``JobStore`` on the configured back end (what flows run against).

One configuration serves jobflow and amorphdb: :func:`open_job_store` builds the
``JobStore`` from a :class:`~amorphdb.store.config.StoreConfig` (or takes jobflow's own
configured ``JOB_STORE`` when amorphdb has none, :func:`jobflow_job_store`). The query and
write API on the same back end is :func:`amorphdb.store.database.open_database`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from amorphdb.errors import ConfigError
from amorphdb.store.config import STORE_ENV_VAR, StoreConfig

if TYPE_CHECKING:  # pragma: no cover
    from jobflow import JobStore


def jobflow_job_store() -> JobStore | None:
    """jobflow's own configured ``JOB_STORE``, when one is configured and amorphdb's is not.

    jobflow reads ``JOBFLOW_JOB_STORE``, or ``JOB_STORE`` in ``$JOBFLOW_CONFIG_FILE`` /
    ``~/.jobflow.yaml``. Used by :func:`open_job_store` and
    :func:`~amorphdb.store.database.open_database` when no store is given and
    ``AMORPHDB_STORE`` is unset, so one configuration serves both.
    """
    if os.environ.get(STORE_ENV_VAR):
        return None
    file = Path(os.environ.get("JOBFLOW_CONFIG_FILE", "~/.jobflow.yaml")).expanduser()
    configured = bool(os.environ.get("JOBFLOW_JOB_STORE"))
    if not configured and file.is_file():
        try:
            data = yaml.safe_load(file.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(
                f"cannot read jobflow config {file} ({exc}); fix it or unset JOBFLOW_CONFIG_FILE"
            ) from None
        configured = isinstance(data, dict) and "JOB_STORE" in data
    if not configured:
        return None
    from jobflow.settings import JobflowSettings

    try:
        return JobflowSettings().JOB_STORE  # reads the file/env again (not import-time)
    except Exception as exc:
        raise ConfigError(
            f"jobflow config {file}: JOB_STORE is invalid ({exc}); see jobflow's docs"
        ) from None


def open_job_store(
    config_or_path: str | Path | StoreConfig | JobStore | None = None,
) -> JobStore:
    """Open the jobflow ``JobStore`` for a store configuration (checked, not yet connected).

    Parameters
    ----------
    config_or_path
        A :class:`StoreConfig`, a YAML store file, a store folder, a jobflow ``JobStore``
        (returned as is), or ``None``: ``$AMORPHDB_STORE``, else jobflow's configured
        ``JOB_STORE`` (:func:`jobflow_job_store`), else the embedded store in
        ``./amorphdb-data``.

    Returns
    -------
    jobflow.JobStore
        ``docs_store`` = collection ``outputs``; ``additional_stores["data"]`` = the blob store
        (collection ``trajectories``; GridFS on MongoDB) where ``@job(data="trajectory")``
        outputs go.

    Raises
    ------
    ConfigError
        The store file cannot be read or parsed.
    StoreError
        The folder is not writable or MongoDB cannot be reached.
    """
    from jobflow import JobStore

    if isinstance(config_or_path, JobStore):
        return config_or_path
    if config_or_path is None:
        js = jobflow_job_store()
        if js is not None:
            return js
    config = StoreConfig.resolve(config_or_path)
    config.check()
    names = config.collections
    return JobStore(
        config.make_store(names.outputs),
        additional_stores={"data": config.make_store(names.trajectories, blob=True)},
    )
