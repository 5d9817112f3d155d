"""Every Python snippet of ``docs/atomate2.md`` runs, in order, in one namespace.

The second snippet runs a tiny real melt–quench (LAMMPS, 36 atoms) and atomate2's CHGNet
static on its 2500 K anneal, so the page's claim that the two combine is executed.
"""

import math
import re
import shutil
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "atomate2.md"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


@pytest.mark.slow
def test_every_python_snippet_runs(monkeypatch):
    # atomate2's packer calls `packmol` from PATH: the one installed beside this Python
    bindir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", bindir + ":" + __import__("os").environ.get("PATH", ""))
    assert shutil.which("packmol"), "packmol is not installed"
    code = snippets()
    assert len(code) == 3
    namespace: dict = {}
    for block in code:
        exec(compile(block, str(PAGE), "exec"), namespace)
    # snippet 1: the Structure is the packed cell (no pack job), both anneal branches
    names = [job.name for job, _ in namespace["flow"].iterflow()]
    assert not any(n.startswith("pack") for n in names)
    assert {"anneal 2000 K", "anneal 2500 K"} <= set(names)
    assert namespace["maker"].anneal_maker.thermostat == "langevin"
    # snippet 3: an atomate2 ForceFieldMDMaker (CHGNet) as the anneal stage
    a2 = namespace["hybrid"].anneal_maker.md_maker
    assert type(a2).__name__ == "ForceFieldMDMaker" and "CHGNet" in str(a2.force_field_name)
    # snippet 2: atomate2's static ran on amorphdb's 2500 K anneal cell (same 36 atoms,
    # same volume) and CHGNet bound it: a few eV/atom below free atoms (−6.44 measured)
    responses, anneal, static = (namespace[k] for k in ("responses", "anneal", "static"))
    run = responses[anneal.uuid][1].output
    doc = responses[static.uuid][1].output
    assert doc.output.structure.composition.reduced_formula == "Li2SiO3"
    assert len(doc.output.structure) == 36
    assert doc.output.structure.volume == pytest.approx(run.structure.volume)
    energy = namespace["energy"]
    assert math.isfinite(energy) and -9.0 < energy < -4.0
