"""Compare two engines (or potentials, or campaigns) on the same compositions and temperatures.

>>> from amorphdb.compare import compare_records, compare_in_store
"""

from amorphdb.compare.engines import (
    ArrheniusComparison,
    EngineComparison,
    PointComparison,
    compare_in_store,
    compare_records,
    rdf_r2,
)

__all__ = [
    "ArrheniusComparison",
    "EngineComparison",
    "PointComparison",
    "compare_in_store",
    "compare_records",
    "rdf_r2",
]
