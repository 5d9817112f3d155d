"""Storage: store configuration, document schemas, query/write API, exporters.

``open_job_store`` gives the jobflow ``JobStore`` the flows run against;
``open_database`` gives :class:`~amorphdb.store.database.AmorphousDB`, the query and write
API over the ``amorphous``, ``arrhenius`` and ``campaigns`` collections on the same back end.
See ``docs/database.md``.

Importing this package is light (no maggma, jobflow, pandas, scipy or pymatgen; those are
imported where used): ``StoredTrajectory`` and ``prepare_trajectory`` (which need the
analysis package) are loaded on first access.
"""

from typing import Any

from amorphdb.store.config import STORE_ENV_VAR, StoreConfig, StoreType
from amorphdb.store.database import AmorphousDB, open_database
from amorphdb.store.jobstore import open_job_store
from amorphdb.store.query import AmorphousQuery
from amorphdb.store.schemas import (
    AmorphousDoc,
    ArrheniusDoc,
    CampaignDoc,
    DiffusionSummary,
    EngineProvenance,
    ResultState,
    TrajectoryRef,
)

#: public names served lazily: name -> module
_LAZY = {
    "StoredTrajectory": "amorphdb.store.trajectory",
    "prepare_trajectory": "amorphdb.store.trajectory",
}


def __getattr__(name: str) -> Any:
    """Import the lazily served public names (:data:`_LAZY`) on first access."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "STORE_ENV_VAR",
    "AmorphousDB",
    "AmorphousDoc",
    "AmorphousQuery",
    "ArrheniusDoc",
    "CampaignDoc",
    "DiffusionSummary",
    "EngineProvenance",
    "ResultState",
    "StoreConfig",
    "StoreType",
    "StoredTrajectory",
    "TrajectoryRef",
    "open_database",
    "open_job_store",
    "prepare_trajectory",
]
