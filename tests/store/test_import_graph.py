"""The store package's modules import each other one way, and only ``store/atomic.py``
reaches maggma's private ``_collection``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import amorphdb

SRC = Path(amorphdb.__file__).parent
STORE = SRC / "store"


def _runtime_imports(path: Path) -> set[str]:
    """``amorphdb.store`` modules imported by ``path`` at run time (module level or
    deferred inside functions; ``if TYPE_CHECKING:`` blocks excluded)."""
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        parts = node.module.split(".")
        if parts[:2] != ["amorphdb", "store"]:
            continue
        if len(parts) > 2:
            found.add(parts[2])
        else:
            found |= {a.name for a in node.names if (STORE / f"{a.name}.py").is_file()}
    return found - {path.stem}


def test_store_modules_form_no_import_cycle():
    graph = {p.stem: _runtime_imports(p) for p in STORE.glob("*.py") if p.stem != "__init__"}
    assert "database" not in graph["config"] and "jobstore" not in graph["config"]
    assert "database" not in graph["campaigns"]  # the duplicate-key errors live in atomic

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [m for m in graph if reaches(m, m, {m})] == []


def test_only_the_adapter_reaches_maggmas_private_collection():
    users = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if re.search(r"\._collection\b", p.read_text())
    )
    assert users == ["store/atomic.py"]
