"""Network-relaxation diagnostics: caged vs diffusive formers/anions (synthetic runs)."""

import numpy as np
import pytest

from amorphdb.analysis.relaxation import (
    nearest_neighbour_distance,
    network_relaxation,
    network_species,
)
from amorphdb.analysis.synthetic import random_walk_trajectory
from amorphdb.analysis.trajectory import Trajectory


def test_vibrating_anions_are_a_frozen_glass():
    # Li diffuses (1e-4 cm²/s), O only vibrates (σ = 0.1 Å per axis): a frozen network
    t = random_walk_trajectory(2000, D_cm2_s=1e-4, n_diffusing=20, n_framework=40, seed=2)
    r = network_relaxation(t, species=["O", "Li"])
    o, li = r.species["O"], r.species["Li"]
    assert r.frozen and r.regime == "glass"
    assert o.role == "anion" and o.caged and li.role == "modifier" and not li.caged
    # vibration: MSD plateau 2·3·0.1² = 0.06 Å², log-log slope ≈ 0
    assert o.msd_end_A2 == pytest.approx(0.06, rel=0.2)
    assert abs(o.loglog_slope_end) < 0.2 and li.loglog_slope_end == pytest.approx(1, abs=0.15)
    assert "FROZEN GLASS" in r.summary() and "O (MSD" in r.summary()


def test_diffusing_former_and_slow_former():
    fast = random_walk_trajectory(2000, D_cm2_s=1e-4, diffusing="Si", framework="Li", seed=3)
    r = network_relaxation(fast)
    assert list(r.species) == ["Si"] and not r.frozen and r.regime == "melt"
    assert r.species["Si"].D_cm2_s == pytest.approx(1e-4, rel=0.15)
    assert "network relaxed" in r.summary()
    # diffusive in shape (slope 1) but moved less than one neighbour distance: still caged
    slow = random_walk_trajectory(2000, D_cm2_s=1e-7, diffusing="Si", framework="Li", seed=3)
    s = network_relaxation(slow).species["Si"]
    assert s.caged and s.loglog_slope_end > 0.8 and "r_nn²" in s.reason


def test_nearest_neighbour_distance_in_a_triclinic_cell():
    lat = np.array([[4.0, 0, 0], [1.0, 4.0, 0], [0.5, 0.5, 4.0]])
    frac = np.array([[0.0, 0, 0], [0.99, 0.0, 0.0], [0.5, 0.5, 0.5]])
    t = Trajectory(["Si", "O", "O"], frac @ lat, lat, 1.0)
    # Si-O through the periodic boundary: 0.01 · 4 Å
    assert nearest_neighbour_distance(t, "Si") == pytest.approx(0.04)
    assert network_species(["Li", "Si", "O", "Na"]) == {"Si": "former", "O": "anion"}
