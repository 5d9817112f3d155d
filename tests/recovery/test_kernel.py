"""The run-in-parts kernel depends on no engine; every engine's recovery depends on it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import amorphdb
from amorphdb.recovery.base import Correction, RunState

SRC = Path(amorphdb.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every ``amorphdb`` module a file imports (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("amorphdb")}


def test_kernel_imports_no_engine():
    for path in sorted((SRC / "recovery").glob("*.py")):
        engines = {m for m in _imports(path) if m.startswith("amorphdb.engines")}
        assert not engines, f"{path.name} imports {engines}"
    code = (
        "import sys, amorphdb.recovery; "
        "print(sorted(m for m in sys.modules if m.startswith('amorphdb.engines')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_each_engine_keeps_its_recovery_beside_it_on_the_kernel():
    for module in ("lammps/recovery.py", "mlip/recovery.py", "vasp/handlers.py"):
        assert (SRC / "engines" / module).exists()
    for engine in ("lammps", "mlip", "vasp"):
        used = set().union(*(_imports(p) for p in (SRC / "engines" / engine).glob("*.py")))
        assert "amorphdb.recovery.base" in used, engine
    assert not (SRC / "recovery" / "lammps.py").exists()


def test_run_state_round_trip_keeps_typed_corrections(tmp_path):
    state = RunState(timestep_fs=2.0, traj_every=10, thermo_every=5, end_time_fs=400.0)
    state.corrections.append(Correction(error="lost_atoms", action="halve", details={"k": 1}))
    state.input_changes["POTIM"] = 1.0
    state.time_done_fs = 120.0
    state.save(tmp_path)
    back = RunState.load(tmp_path)
    assert back == state and isinstance(back.corrections[0], Correction)
    assert (tmp_path / "run_state.json").exists()
