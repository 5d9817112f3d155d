"""Tiny real campaigns (LAMMPS + Pedone, 36 atoms, ~5 s per composition)."""

from pathlib import Path

import pytest
import yaml

TINY_PROTOCOL = {
    "target_atoms": 36,
    "melt_steps": 500,
    "anneal_temperatures_K": [1500, 2500],
    "anneal_steps": 1000,
    "volume": {"n_steps": 300, "max_iterations": 2, "on_unconverged": "flag"},
    "cooling": {"method": "none"},  # MPMorph direct anneal: the glass path is too long here
    "traj_every": 10,
}


def tiny_campaign_file(tmp_path: Path, **fields) -> Path:
    """Write a tiny campaign file (and its embedded store file) into ``tmp_path``."""
    store = tmp_path / "store.yaml"
    store.write_text(f"type: embedded\npath: {tmp_path / 'db'}\n")
    data = {"name": "tiny", "compositions": ["Li2Si2O5"], "store": str(store),
            "workdir": str(tmp_path / "runs"), "protocol": TINY_PROTOCOL, **fields}
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def campaign_file(tmp_path):
    return lambda **fields: tiny_campaign_file(tmp_path, **fields)
