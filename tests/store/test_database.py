"""AmorphousDB contract: idempotent writes and every query filter, on every back end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Structure
from store_factories import claim_in_process, make_amorphous, make_arrhenius

from amorphdb.errors import CompositionError, StoreError
from amorphdb.store.query import AmorphousQuery
from amorphdb.store.schemas import ResultState


def _raw(db, collection):
    """The pymongo-compatible collection under a store (tests that write around the API)."""
    from amorphdb.store.atomic import _collection_of

    return _collection_of(db._store(collection))

# ---------------------------------------------------------------- idempotent writes


def test_double_write_changes_nothing(db):
    doc = make_amorphous()
    assert db.upsert_amorphous(doc) == "inserted"
    first = db._store("amorphous").query_one({"_id": doc.key()})
    # the same result built again (new timestamps) is the same content
    assert db.upsert_amorphous(make_amorphous()) == "unchanged"
    assert db._store("amorphous").query_one({"_id": doc.key()}) == first
    assert db.count() == 1


def test_failed_rerun_never_replaces_completed(db):
    db.upsert_amorphous(make_amorphous(D_Li=1e-5))
    failed = make_amorphous(D_Li=None, state="failed", error="LAMMPS lost atoms")
    assert db.upsert_amorphous(failed) == "kept"
    (doc,) = db.find()
    assert doc.state == ResultState.COMPLETED
    assert doc.diffusion["Li"].D_cm2_s == 1e-5
    assert doc.error is None


def test_completed_rerun_replaces_failed_and_completed(db):
    db.upsert_amorphous(make_amorphous(D_Li=None, state="failed", error="crash"))
    assert db.find()[0].state == ResultState.FAILED
    assert db.upsert_amorphous(make_amorphous(D_Li=2e-5)) == "replaced"
    (doc,) = db.find()
    assert (doc.state, doc.diffusion["Li"].D_cm2_s, doc.error) == ("completed", 2e-5, None)
    created = db._store("amorphous").query_one({})["created_at"]
    # a better completed run replaces a completed one, keeping created_at
    assert db.upsert_amorphous(make_amorphous(D_Li=3e-5)) == "replaced"
    stored = db._store("amorphous").query_one({})
    assert stored["created_at"] == created
    assert stored["diffusion"]["Li"]["D_cm2_s"] == 3e-5
    assert db.count() == 1


def test_failed_replaces_failed(db):
    db.upsert_amorphous(make_amorphous(D_Li=None, state="failed", error="first"))
    assert db.upsert_amorphous(make_amorphous(D_Li=None, state="failed", error="second")) == (
        "replaced"
    )
    assert db.find()[0].error == "second"


def test_keys_distinguish_temperature_campaign_protocol(db):
    for kwargs in (
        {},
        {"temperature_K": 1500},
        {"campaign": "other"},
        {"protocol_hash": "p2"},
    ):
        assert db.upsert_amorphous(make_amorphous(**kwargs)) == "inserted"
    assert db.count() == 4


def test_equivalent_formulas_share_a_key(db):
    db.upsert_amorphous(make_amorphous({"Li": 4, "Si": 4, "O": 10}))
    # a 36-atom cell of the same reduced formula is the same composition
    assert db.upsert_amorphous(make_amorphous({"Li": 8, "Si": 8, "O": 20})) == "replaced"
    assert db.count() == 1
    assert db.find()[0].nsites == 36


def test_arrhenius_idempotent(db):
    assert db.upsert_arrhenius(make_arrhenius()) == "inserted"
    assert db.upsert_arrhenius(make_arrhenius()) == "unchanged"
    assert db.upsert_arrhenius(make_arrhenius(Ea=None, state="failed")) == "kept"
    assert db.upsert_arrhenius(make_arrhenius(Ea=0.55)) == "replaced"
    (doc,) = db.find_arrhenius()
    assert doc.Ea_eV == 0.55
    assert db.upsert_arrhenius(make_arrhenius(species="O", Ea=1.2)) == "inserted"
    assert len(db.find_arrhenius()) == 2
    assert [d.species for d in db.find_arrhenius(species="O")] == ["O"]
    assert [d.Ea_eV for d in db.find_arrhenius(Ea_eV=(None, 1.0))] == [0.55]


def test_bulk_insert_then_upsert(db):
    docs = [make_amorphous(temperature_K=t) for t in (1000, 1500, 2000)]
    assert db.insert_many_amorphous(docs) == 3
    assert db.insert_many_amorphous(docs) == 0  # already there, unchanged
    assert db.insert_many_amorphous([make_amorphous(temperature_K=1000, D_Li=5e-5)]) == 1
    assert db.count() == 3
    assert db.find(temperature_K=1000)[0].diffusion["Li"].D_cm2_s == 5e-5


def test_duplicate_id_is_rejected_by_the_backend(db):
    """The key is the _id, so even a raw second insert cannot duplicate a result."""
    from amorphdb.store.database import DUPLICATE_KEY_ERRORS

    doc = make_amorphous()
    db.upsert_amorphous(doc)
    with pytest.raises(DUPLICATE_KEY_ERRORS):
        _raw(db, "amorphous").insert_one(doc.to_mongo())


def test_interrupted_write_leaves_old_document_whole(db, monkeypatch):
    db.upsert_amorphous(make_amorphous(D_Li=1e-5))
    coll = _raw(db, "amorphous")
    before = coll.find_one({})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies before the single replace happens

    if db.config.type == "embedded":  # dies inside the SQLite transaction, before COMMIT
        import amorphdb.store.embedded as embedded

        real = embedded.bson.encode

        def crash_on_summary(doc, *a, **k):
            if doc.get("_id") == before["_id"]:
                raise KeyboardInterrupt
            return real(doc, *a, **k)

        monkeypatch.setattr(embedded.bson, "encode", crash_on_summary)
    else:
        monkeypatch.setattr(type(coll), "replace_one", crash)
    with pytest.raises(KeyboardInterrupt):
        db.upsert_amorphous(make_amorphous(D_Li=9e-5))
    monkeypatch.undo()
    assert coll.find_one({}) == before


# ---------------------------------------------------------------- campaigns


def test_record_attempts(db):
    c = db.record_attempt("camp", "Li2O(SiO2)2", "running", {"timestep_fs": 2.0}, stage="melt")
    assert c.state == "running" and len(c.attempts) == 1
    c = db.record_attempt("camp", "Li2Si2O5", "failed", error="lost atoms", stage="melt")
    assert (c.state, len(c.attempts), c.last_error) == ("failed", 1, "lost atoms")
    assert c.attempts[0].finished_at is not None
    # the same record twice changes nothing
    rev = db.get_campaign("camp", "Li2Si2O5").revision
    db.record_attempt("camp", "Li2Si2O5", "failed", error="lost atoms", stage="melt")
    assert db.get_campaign("camp", "Li2Si2O5").revision == rev
    # a rerun adds an attempt with its own settings
    db.record_attempt("camp", "Li2Si2O5", "running", {"timestep_fs": 1.0})
    c = db.record_attempt("camp", "Li2Si2O5", "completed", stage="record")
    assert [(a.number, a.state, a.settings) for a in c.attempts] == [
        (1, "failed", {"timestep_fs": 2.0}),
        (2, "completed", {"timestep_fs": 1.0}),
    ]
    assert c.state == "completed"
    # a later failed rerun keeps the composition completed, records the error
    c = db.record_attempt("camp", "Li2Si2O5", "failed", error="walltime")
    assert c.state == "completed" and c.last_error == "walltime" and len(c.attempts) == 3
    assert [d.formula_reduced for d in db.find_campaigns(state="completed")] == ["Li2Si2O5"]
    assert db.find_campaigns(state="failed") == []


def test_claim_opens_an_attempt_only_on_a_free_composition(db):
    claim = {"state": "waiting", "stage": "queued", "claim": True}
    assert db.record_attempt("camp", "Li2SiO3", **claim).attempts[0].number == 1
    assert db.record_attempt("camp", "Li2SiO3", **claim) is None  # in flight elsewhere
    db.record_attempt("camp", "Li2SiO3", "failed", error="lost atoms")
    assert db.record_attempt("camp", "Li2SiO3", **claim).attempts[-1].number == 2  # free again
    db.record_attempt("camp", "Li2SiO3", "completed")
    assert db.record_attempt("camp", "Li2SiO3", **claim) is None  # never rerun a completed one
    assert len(db.get_campaign("camp", "Li2SiO3").attempts) == 2


def test_racing_claims_give_each_composition_to_one_launcher(store_config):
    """Separate processes (separate clients, as separate launchers) race for the same keys."""
    import multiprocessing as mp

    from amorphdb.store import AmorphousDB, StoreType

    if store_config.type == StoreType.MONGODB and store_config.host == "mongomock":
        pytest.skip("mongomock lives in one process: no cross-process race to test")
    from concurrent.futures import ProcessPoolExecutor

    with mp.Manager() as manager, ProcessPoolExecutor(4, mp.get_context("spawn")) as pool:
        barrier = manager.Barrier(4)
        for formula in ("Li2O", "Li2SiO3", "Li4SiO4"):
            wins = list(pool.map(claim_in_process, [store_config] * 4, [formula] * 4,
                                 [barrier] * 4))
            assert sum(wins) == 1, (formula, wins)
        with AmorphousDB.from_config(store_config) as db:
            for formula in ("Li2O", "Li2SiO3", "Li4SiO4"):
                db.record_attempt("race", formula, "failed", error="lost atoms")
        for formula in ("Li2O", "Li2SiO3", "Li4SiO4"):  # a rerun race on failed ones
            wins = list(pool.map(claim_in_process, [store_config] * 4, [formula] * 4,
                                 [barrier] * 4))
            assert sum(wins) == 1, (formula, wins)
    with AmorphousDB.from_config(store_config) as db:
        assert {len(c.attempts) for c in db.find_campaigns(campaign="race")} == {2}


def test_record_attempt_bad_state(db):
    with pytest.raises(StoreError, match="unknown state 'done'"):
        db.record_attempt("c", "Li2O", "done")


# ---------------------------------------------------------------- queries


@pytest.fixture
def populated(db):
    """Six summaries over three chemical systems and three temperatures + Arrhenius docs."""
    rows = [
        ({"Li": 4, "Si": 4, "O": 10}, 1000, 2.30, 1e-6, "completed", 1),
        ({"Li": 4, "Si": 4, "O": 10}, 2000, 2.10, 3e-5, "completed", 2),
        ({"Li": 6, "B": 2, "O": 6}, 1000, 2.05, 5e-6, "completed", 3),
        ({"Li": 6, "P": 2, "S": 8}, 1000, 1.90, 2e-5, "completed", 4),
        ({"Na": 4, "Si": 4, "O": 10}, 1000, 2.45, None, "completed", 5),
        ({"Li": 6, "P": 2, "S": 8}, 1500, 1.80, None, "failed", 6),
    ]
    for counts, t, rho, d, state, seed in rows:
        db.upsert_amorphous(
            make_amorphous(counts, temperature_K=t, density=rho, D_Li=d, state=state, seed=seed)
        )
    db.upsert_amorphous(make_amorphous({"Li": 2, "O": 1}, campaign="other", density=2.0, D_Li=None))
    db.upsert_arrhenius(make_arrhenius("Li2Si2O5", Ea=0.65))
    db.upsert_arrhenius(make_arrhenius("Li3PS4", Ea=0.35))
    return db


def _formulas(docs):
    return sorted((d.formula_reduced, d.temperature_K) for d in docs)


def test_filter_chemsys_any_order(populated):
    assert _formulas(populated.find(chemsys="Si-O-Li")) == [
        ("Li2Si2O5", 1000.0),
        ("Li2Si2O5", 2000.0),
    ]


def test_filter_elements_all_any_none(populated):
    assert {d.formula_reduced for d in populated.find(elements=["Li", "O"])} == {
        "Li2Si2O5",
        "Li3BO3",
        "Li2O",
    }
    assert {d.formula_reduced for d in populated.find(any_elements=["B", "S"])} == {
        "Li3BO3",
        "Li3PS4",
    }
    assert {d.formula_reduced for d in populated.find(exclude_elements=["Li"])} == {"Na2Si2O5"}
    both = populated.find(elements=["Li"], exclude_elements=["O"])
    assert {d.formula_reduced for d in both} == {"Li3PS4"}


def test_filter_formula_any_notation(populated):
    assert len(populated.find(formula="Li2O(SiO2)2")) == 2
    assert len(populated.find(formula="Li4Si4O10")) == 2


def test_filter_temperature_exact_and_range(populated):
    assert len(populated.find(temperature_K=1000)) == 5
    assert len(populated.find(temperature_K=1000.2)) == 5
    assert len(populated.find(temperature_K=(1400, None))) == 2


def test_filter_campaign_and_state(populated):
    assert _formulas(populated.find(campaign="other")) == [("Li2O", 1000.0)]
    assert _formulas(populated.find(state="failed")) == [("Li3PS4", 1500.0)]
    with pytest.raises(StoreError, match="unknown state"):
        populated.find(state="finished")


def test_filter_D_range(populated):
    fast = populated.find(D={"Li": (1e-5, None)})
    assert _formulas(fast) == [("Li2Si2O5", 2000.0), ("Li3PS4", 1000.0)]
    assert _formulas(populated.find(D={"Li": (None, 2e-6)})) == [("Li2Si2O5", 1000.0)]


def test_filter_density_range(populated):
    assert _formulas(populated.find(density_g_cm3=(2.2, 2.5))) == [
        ("Li2Si2O5", 1000.0),
        ("Na2Si2O5", 1000.0),
    ]


def test_filter_Ea_joined_from_arrhenius(populated):
    low = populated.find(Ea_eV=("Li", None, 0.5))
    assert {d.formula_reduced for d in low} == {"Li3PS4"}
    assert populated.find(Ea_eV=(None, 2.0, None)) == []


def test_generic_ranges_and_query_object(populated):
    q = AmorphousQuery(elements=["Li"], ranges={"volume_per_atom_A3": (0, 1e6)}, campaign="test")
    assert len(populated.find(q)) == 5
    assert populated.count(q) == 5


def test_sort_and_limit(populated):
    docs = populated.find(sort="-density_g_cm3", limit=2)
    assert [round(d.density_g_cm3, 2) for d in docs] == [2.45, 2.30]
    docs = populated.find(elements=["Li"], sort="temperature_K,-density_g_cm3")
    temps = [d.temperature_K for d in docs]
    assert temps == sorted(temps)


def test_dataframe_columns_and_join(populated):
    df = populated.to_dataframe(elements=["Li", "Si"], sort="temperature_K")
    assert isinstance(df, pd.DataFrame)
    assert list(df["temperature_K"]) == [1000.0, 2000.0]
    assert list(df["D_Li"]) == [1e-6, 3e-5]
    assert list(df["Ea_Li"]) == [0.65, 0.65]
    df = populated.to_dataframe(fields="formula_reduced,D_Li,engine", chemsys="Li-P-S")
    assert list(df.columns) == ["formula_reduced", "D_Li", "engine"]
    assert set(df["engine"]) == {"lammps"}


def test_descriptor_columns_in_tables(db):
    """``fields`` takes the descriptor names ``where`` filters on (real crystal values)."""
    from store_factories import crystal_record

    db.upsert_amorphous(crystal_record("SiO2"))
    db.upsert_amorphous(crystal_record("Li2SiO3"))
    fields = "formula_reduced,cn.Si-O,cn.Li-O,qn.Si.Q4,packing_fraction,density_g_cm3"
    df = db.to_dataframe(fields=fields, sort="formula_reduced")
    assert list(df.columns) == fields.split(",")
    quartz, meta = df.set_index("formula_reduced").loc["SiO2"], df.iloc[0]
    assert meta["formula_reduced"] == "Li2SiO3"
    assert quartz["cn.Si-O"] == 4.0 and quartz["qn.Si.Q4"] == 1.0  # a tetrahedral network
    assert meta["cn.Si-O"] == 4.0 and meta["cn.Li-O"] == 4.0 and pd.isna(meta["qn.Si.Q4"])
    assert pd.isna(quartz["cn.Li-O"])
    # Shannon radii: Si4+ (IV) 0.26 Å, O2- (II) 1.35 Å in α-quartz's 113.0 Å³
    from tests.analysis.test_descriptors import alpha_quartz

    volume = alpha_quartz().volume
    assert quartz["packing_fraction"] == pytest.approx(
        (3 * 0.26**3 + 6 * 1.35**3) * 4 / 3 * np.pi / volume, rel=1e-3
    )
    assert quartz["density_g_cm3"] == pytest.approx(2.649, abs=0.002)
    # a group name gives every column under it, in the order the records hold them
    df = db.to_dataframe(fields=["formula_reduced", "qn.Si"], sort="formula_reduced")
    assert list(df.columns) == ["formula_reduced", "qn.Si.Q2", "qn.Si.Q4"]
    assert df["qn.Si.Q2"].tolist()[0] == 1.0
    # filter and show the same descriptor
    q = AmorphousQuery(ranges={"qn.Si.Q4": (0.9, None)})
    assert db.to_dataframe(q, fields="formula_reduced,qn.Si.Q4").values.tolist() == [["SiO2", 1.0]]
    with pytest.raises(StoreError, match=r"no matching record has descriptor 'cn\.B-O'; "
                                         r"they hold: .*cn\.Si-O, .*qn\.Si\.Q4"):
        db.to_dataframe(fields="formula_reduced,cn.B-O")
    with pytest.raises(StoreError, match=r"unknown field 'cnn'; known fields: .*cn\.<El>-<El>"):
        db.to_dataframe(fields="cnn")


def test_structures(populated):
    pairs = populated.find_structures(chemsys="B-Li-O")
    assert len(pairs) == 1
    _doc, structure = pairs[0]
    assert isinstance(structure, Structure)
    assert structure.composition.reduced_formula == "Li3BO3"
    assert structure.density == pytest.approx(2.05, rel=1e-6)


def test_stats(populated):
    s = populated.stats()
    assert s["amorphous"] == 7
    assert s["by_state"] == {"completed": 6, "failed": 1}
    assert s["by_chemsys"]["Li-O-Si"] == 2
    assert s["by_temperature_K"] == {1000.0: 5, 1500.0: 1, 2000.0: 1}
    assert s["arrhenius"] == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fields": "density,formula"}, StoreError, "unknown field 'density'"),
        ({"sort": "nonsense"}, StoreError, "unknown field 'nonsense'"),
        ({"formula": "Li2Qq3"}, CompositionError, "unknown element"),
        ({"elements": ["Li", "Qq"]}, StoreError, "unknown element 'Qq'"),
        ({"colour": "red"}, StoreError, "unknown filter colour"),
        ({"temperature_K": -3}, StoreError, "must be > 0 K"),
    ],
)
def test_bad_queries_one_line(populated, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        populated.to_dataframe(**kwargs)
    assert "\n" not in str(info.value)


def test_structure_kept_apart_and_replaced_with_its_result(db):
    db.upsert_amorphous(make_amorphous(seed=1))
    stored = db._store("amorphous").query_one({})
    assert "structure" not in stored and stored["structure_id"].startswith(stored["_id"] + "|")
    first = db.get_structure(stored["_id"])
    # same numbers, different final structure: a new result, the old structure is removed
    assert db.upsert_amorphous(make_amorphous(seed=2)) == "replaced"
    second = db.get_structure(db.find()[0])
    assert not np.allclose(first.frac_coords, second.frac_coords)
    assert db._store("structures").count() == 1
    (doc,) = db.find(with_structures=True)
    assert doc.get_structure() == second


@pytest.mark.slow
def test_parallel_writers_never_duplicate(tmp_path):
    """Three processes opening a fresh embedded store and writing the same keys at once."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    from amorphdb.store import StoreConfig
    from amorphdb.store.database import AmorphousDB

    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from store_factories import make_amorphous
        from amorphdb.store import StoreConfig
        from amorphdb.store.database import AmorphousDB
        db = AmorphousDB.from_config(StoreConfig(path={str(tmp_path / "db")!r}))
        for t in range(1000, 1010):
            db.upsert_amorphous(make_amorphous(temperature_K=t))
            db.record_attempt("test", "Li2Si2O5", "running")
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    with AmorphousDB.from_config(StoreConfig(path=tmp_path / "db")) as db:
        assert db.count() == 10
        assert db._store("structures").count() == 10
        assert len(db.find_campaigns()) == 1


def test_mongodb_unique_and_query_indexes(db):
    if db.config.type == "embedded":
        pytest.skip("montydb keeps no secondary indexes (create_index is a no-op)")
    info = _raw(db, "amorphous").index_information()
    key = info["amorphdb_key"]
    assert key["unique"] is True
    assert [k for k, _ in key["key"]] == [
        "campaign",
        "formula_reduced",
        "temperature_K",
        "protocol_hash",
    ]
    indexed = {k for idx in info.values() for k, _ in idx["key"]}
    assert {"chemsys", "elements", "temperature_K", "diffusion.Li.D_cm2_s"} <= indexed
    assert _raw(db, "arrhenius").index_information()["amorphdb_key"]["unique"] is True
    # a second document with the same key fields but another _id is refused by the index
    from amorphdb.store.database import DUPLICATE_KEY_ERRORS

    raw = make_amorphous().to_mongo()
    _raw(db, "amorphous").insert_one(raw)
    raw["_id"] = "other-id"
    with pytest.raises(DUPLICATE_KEY_ERRORS):
        _raw(db, "amorphous").insert_one(raw)
