"""The ML-potential engine with real CHGNet / SevenNet-0 on a 12-atom Li2O cell."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from amorphdb.engines import EngineSpec, MDSettings, get_engine
from amorphdb.engines.base import EngineName, Ensemble, make_run_document
from amorphdb.engines.mlip.engine import MLIPEngine, check_timestep
from amorphdb.engines.mlip.models import MLModel, resolve_model, uncovered_elements
from amorphdb.errors import ConfigError, EngineError, UnsupportedCompositionError


@pytest.fixture(scope="module")
def li2o() -> Structure:
    """Antifluorite Li2O, conventional cell (8 Li + 4 O), a = 4.61 Å (exp. 4.61 Å)."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["Li", "O"], [[0.25, 0.25, 0.25], [0, 0, 0]]
    )


def mlip(potential: str | None = None, **settings) -> MLIPEngine:
    return get_engine(EngineSpec(name="mlip", potential=potential, settings=settings))


# ----------------------------------------------------------------- bad input (no model load)


def test_model_names_resolve():
    assert resolve_model(None) is MLModel.CHGNET
    assert resolve_model("CHGNet") is MLModel.CHGNET
    assert resolve_model("SevenNet-0") is MLModel.SEVENNET_0
    assert isinstance(mlip(), MLIPEngine)


@pytest.mark.parametrize("name", ["mace", "MACE-MP-0", "m3gnet", "mattersim"])
def test_model_without_weights_fails_in_one_line(name):
    with pytest.raises(EngineError, match="needs weights that are not installed") as info:
        mlip(name)
    assert "use chgnet or sevennet-0" in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_model():
    with pytest.raises(ConfigError, match="unknown ML model 'gpt-md'"):
        mlip("gpt-md")


def test_elements_outside_coverage():
    # SevenNet-0 has no Po..Ra (Z 84-88); CHGNet stops at Pu (Z 94)
    assert uncovered_elements(MLModel.SEVENNET_0, ["Li", "Po", "O", "Rn"]) == ["Po", "Rn"]
    assert uncovered_elements(MLModel.CHGNET, ["Li", "Po", "O"]) == []
    with pytest.raises(UnsupportedCompositionError, match="not trained on Po"):
        mlip("sevennet-0").check_composition(["Li", "Po", "O"])
    with pytest.raises(UnsupportedCompositionError, match="not trained on Am, Cm"):
        mlip().check_composition(["Cm", "Am", "O"])


@pytest.mark.parametrize("dt", [0.0, -1.0, float("nan"), 8.0])
def test_bad_timestep(dt):
    with pytest.raises(ConfigError, match="timestep_fs"):
        check_timestep(dt)


def test_absurd_timestep_rejected_before_anything_runs(li2o, tmp_path):
    md = MDSettings(temperature_K=300, n_steps=10, timestep_fs=8.0)
    with pytest.raises(ConfigError, match="too large for ML-potential MD"):
        mlip().run(li2o, md, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bad_recovery_setting():
    with pytest.raises(ConfigError, match=r"^engine.settings.recovery.max_corrections: -1 is"):
        mlip(recovery={"max_corrections": -1})
    with pytest.raises(ConfigError, match="nprocs: unknown mlip engine setting; use one of thr"):
        mlip(nprocs=4)


# ----------------------------------------------------------------- real MD


@pytest.mark.slow
def test_nvt_run_document(li2o, tmp_path):
    engine = mlip()
    md = MDSettings(temperature_K=1000, n_steps=100, timestep_fs=2.0, traj_every=10,
                    thermo_every=5, thermostat_damping_fs=20.0, seed=1)
    out = engine.run(li2o, md, tmp_path)
    doc = make_run_document(EngineName.MLIP, md, out)
    assert doc.engine is EngineName.MLIP and doc.potential == "chgnet"
    assert "Deng" in doc.potential_citation and "chgnet" in doc.engine_version
    assert out.trajectory.n_frames == 11  # 100/10 + first frame
    assert out.trajectory.time_step == pytest.approx(20.0)
    assert doc.thermo.time_fs == pytest.approx(np.arange(0, 201, 10.0))
    # Nosé-Hoover (20 fs) holds ~1000 K; 12 atoms fluctuate by ~±30 %
    assert 600 < doc.mean_temperature_K < 1400
    assert doc.density_g_cm3 == pytest.approx(li2o.density, rel=1e-9)  # NVT
    # CHGNet Li2O: about -4.7 eV/atom (MP GGA ~ -4.75); pressure finite (kbar)
    assert -5.2 < doc.mean_potential_energy_eV_per_atom < -4.2
    assert np.isfinite(doc.mean_pressure_kbar)
    assert out.corrections == []
    assert np.asarray(out.final_velocities_A_per_fs).shape == (12, 3)


@pytest.mark.slow
def test_nve_conserves_energy(li2o, tmp_path):
    md = MDSettings(temperature_K=600, n_steps=80, timestep_fs=1.0, ensemble=Ensemble.NVE,
                    thermo_every=4, traj_every=20, seed=4)
    out = mlip().run(li2o, md, tmp_path)
    e_tot = np.asarray(out.thermo.total_energy_eV)
    e_pot = np.asarray(out.thermo.potential_energy_eV)
    drift = np.abs(e_tot - e_tot[0]).max()
    # energy flows between kinetic and potential, the sum stays put
    assert np.ptp(e_pot) > 0.1
    assert drift < 0.1 * np.ptp(e_pot)


@pytest.mark.slow
def test_seed_reproducibility(li2o, tmp_path):
    md = MDSettings(temperature_K=800, n_steps=20, timestep_fs=2.0, traj_every=10,
                    thermostat="langevin", seed=11)
    a = mlip().run(li2o, md, tmp_path / "a")
    b = mlip().run(li2o, md, tmp_path / "b")
    c = mlip().run(li2o, md.model_copy(update={"seed": 12}), tmp_path / "c")
    assert np.array_equal(a.trajectory.positions, b.trajectory.positions)
    assert not np.allclose(a.trajectory.positions[-1], c.trajectory.positions[-1], atol=1e-4)


@pytest.mark.slow
def test_sevennet_short_run(li2o, tmp_path):
    md = MDSettings(temperature_K=500, n_steps=4, timestep_fs=1.0, traj_every=2, thermo_every=2)
    out = mlip("sevennet-0").run(li2o, md, tmp_path)
    assert out.potential == "sevennet-0" and "sevenn" in out.engine_version
    assert out.trajectory.n_frames == 3
    epa = np.asarray(out.thermo.potential_energy_eV) / 12
    assert np.all((epa > -5.3) & (epa < -4.2))
