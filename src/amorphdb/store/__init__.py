"""Storage: store configuration, document schemas, query/write API, exporters.

``open_job_store`` gives the jobflow ``JobStore`` the flows run against;
``open_database`` gives :class:`~amorphdb.store.database.AmorphousDB`, the query and write
API over the ``amorphous``, ``arrhenius`` and ``campaigns`` collections on the same back end.
"""

from amorphdb.store.config import (
    STORE_ENV_VAR,
    StoreConfig,
    StoreType,
    open_database,
    open_job_store,
)

__all__ = ["STORE_ENV_VAR", "StoreConfig", "StoreType", "open_database", "open_job_store"]
