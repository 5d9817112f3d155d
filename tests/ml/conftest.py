"""Fixtures of the ml tests: synthetic glass tables (``synthetic_glasses.py``)."""

from __future__ import annotations

import pytest
from synthetic_glasses import glass_table


@pytest.fixture
def make_glasses():
    """The :func:`glass_table` builder."""
    return glass_table


@pytest.fixture
def glasses():
    """60 glasses × 4 temperatures, noise σ = 0.1."""
    return glass_table()
