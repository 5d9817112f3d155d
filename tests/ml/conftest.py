"""Fixtures of the ml tests: synthetic glass tables (``synthetic_glasses.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path: make synthetic_glasses importable
sys.path.insert(0, str(Path(__file__).parent))
from synthetic_glasses import glass_table


@pytest.fixture
def make_glasses():
    """The :func:`glass_table` builder."""
    return glass_table


@pytest.fixture
def glasses():
    """60 glasses × 4 temperatures, noise σ = 0.1."""
    return glass_table()
