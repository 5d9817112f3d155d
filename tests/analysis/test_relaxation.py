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


@pytest.mark.slow
def test_real_md_glass_is_frozen_and_melt_relaxed(tmp_path):
    """Li2Si2O5 (36 atoms, Pedone 2006, real LAMMPS): 600 K caged, 6000 K diffusive."""
    from amorphdb.engines import EngineSpec, MDSettings, get_engine
    from amorphdb.structure import pack_structure

    s = pack_structure("Li2Si2O5", n_formula_units=4, density_g_cm3=2.35, seed=7)
    engine = get_engine(EngineSpec(name="lammps"))
    out = {}
    for T in (600, 6000):
        md = MDSettings(
            temperature_K=T, n_steps=1500, timestep_fs=1.0, traj_every=5, thermo_every=100, seed=3
        )
        (tmp_path / str(T)).mkdir()
        traj = engine.run(s, md, tmp_path / str(T)).trajectory
        out[T] = network_relaxation(traj, temperature_K=T)
    cold, hot = out[600], out[6000]
    assert cold.frozen and cold.regime == "glass" and set(cold.species) == {"Si", "O"}
    assert all(sp.caged and sp.msd_end_A2 < 1.5 for sp in cold.species.values())
    assert not hot.frozen and hot.regime == "melt"
    assert all(sp.msd_end_A2 > sp.cage_size_A2 for sp in hot.species.values())
    # Si-O bond length ≈ 1.6 Å sets the cage: r_nn² ≈ 2.6 Å² (not the packing distance)
    assert 1.4**2 < cold.species["Si"].cage_size_A2 < 1.8**2
