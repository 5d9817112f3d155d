"""Storage: store configuration, document schemas, query/write API, exporters.

``open_job_store`` gives the jobflow ``JobStore`` the flows run against;
``open_database`` gives :class:`~amorphdb.store.database.AmorphousDB`, the query and write
API over the ``amorphous``, ``arrhenius`` and ``campaigns`` collections on the same back end.
See ``docs/database.md``.
"""

from amorphdb.store.config import (
    STORE_ENV_VAR,
    StoreConfig,
    StoreType,
    open_database,
    open_job_store,
)
from amorphdb.store.database import AmorphousDB
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
from amorphdb.store.trajectory import StoredTrajectory, prepare_trajectory

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
