"""Fixtures for the VASP engine tests: fake POTCARs and the stand-in executable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pymatgen.core import SETTINGS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fake_vasp"))

from vasp_testkit import FAKE_VASP_CMD, make_psp_dir


@pytest.fixture
def psp_dir(tmp_path, monkeypatch):
    """A fake POTCAR library, set as PMG_VASP_PSP_DIR."""
    root = make_psp_dir(tmp_path / "psp")
    monkeypatch.setenv("PMG_VASP_PSP_DIR", str(root))
    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", str(root))
    monkeypatch.delenv("CUSTODIAN_WALLTIME_START", raising=False)
    monkeypatch.delenv("AMORPHDB_FAKE_VASP_CONTROL", raising=False)
    return root


@pytest.fixture
def fast_settings():
    """Engine settings for the stand-in: its command and fast Custodian polling."""
    return {
        "vasp_cmd": FAKE_VASP_CMD,
        "polling_time_step_s": 0.05,
        "monitor_freq": 2,
        "incar": {"NELM": 20},
    }
