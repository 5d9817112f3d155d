"""Engine settings: one pydantic model per engine, validated when a spec loads, read typed.

Unknown keys, wrong types and out-of-range values are refused at load time in one line
naming the field and the fix (Python, campaign file, command line); the defaults read
through the models are the values the engines used before the models existed; per-engine
facts (time steps, cost, escalation ladder) come from the models.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure

from amorphdb.campaign import load_campaign
from amorphdb.campaign.cost import cost_per_atom_step, estimate_cost
from amorphdb.campaign.escalation import escalate
from amorphdb.cli import main
from amorphdb.engines import ENGINES, EngineName, EngineSpec, MDSettings, get_engine
from amorphdb.engines import settings_model as model_of
from amorphdb.engines.lammps.settings import KSpace, LammpsSettings
from amorphdb.engines.mlip.settings import MLIPSettings
from amorphdb.engines.potentials import get_potential
from amorphdb.engines.vasp.settings import VaspSettings, VaspStage
from amorphdb.errors import ConfigError
from amorphdb.flows.melt_quench import MeltQuenchMaker
from amorphdb.flows.protocol import ProtocolSettings
from amorphdb.recovery.base import RecoverySettings
from amorphdb.structure import pack_structure

BAD_SETTINGS = [
    # (engine, settings, the one line EngineSpec raises)
    ("lammps", {"nprocz": 2}, "engine.settings.nprocz: unknown lammps engine setting; use one "
     "of nprocs, short_cutoff_A, coulomb_cutoff_A, kspace, recovery"),
    ("lammps", {"kspace": "pppmx"},
     "engine.settings.kspace: 'pppmx' is not one of ewald, pppm, auto"),
    ("lammps", {"nprocs": "two"}, "engine.settings.nprocs: 'two' is invalid: input should be a "
     "valid integer, unable to parse string as an integer"),
    ("lammps", {"nprocs": 0},
     "engine.settings.nprocs: 0 is invalid: input should be greater than or equal to 1"),
    ("lammps", {"short_cutoff_A": -5.5},
     "engine.settings.short_cutoff_A: -5.5 is invalid: input should be greater than 0"),
    ("lammps", {"coulomb_cutoff_A": 500},
     "engine.settings.coulomb_cutoff_A: 500 is invalid: input should be less than or equal to 50"),
    ("lammps", {"recovery": {"max_corection": 2}},
     "engine.settings.recovery.max_corection: unknown recovery setting; use one of "
     "max_corrections, timestep_factor"),
    ("lammps", {"recovery": {"timestep_factor": 2}},
     "engine.settings.recovery.timestep_factor: 2 is invalid: input should be less than 1"),
    ("mlip", {"threads": 0},
     "engine.settings.threads: 0 is invalid: input should be greater than or equal to 1"),
    ("mlip", {"kspace": "ewald"}, "engine.settings.kspace: unknown mlip engine setting; use one "
     "of threads, barostat_damping_fs, recovery"),
    ("vasp", {"pressure_source": "internal"},
     "engine.settings.pressure_source: 'internal' is not one of external, total"),
    ("vasp", {"stage": "quench"},
     "engine.settings.stage: 'quench' is not one of equilibration, melt, anneal"),
    ("vasp", {"walltime_s": -1}, "engine.settings.walltime_s: -1 is invalid"),
]


@pytest.mark.parametrize(("engine", "settings", "message"), BAD_SETTINGS)
def test_bad_setting_is_one_line_from_python(engine, settings, message):
    with pytest.raises(ConfigError) as info:
        EngineSpec(name=engine, settings=settings)
    text = str(info.value)
    assert text.startswith(message) and "\n" not in text, text


@pytest.mark.parametrize(("engine", "settings", "message"), BAD_SETTINGS)
def test_bad_setting_is_one_line_from_a_campaign_file(tmp_path, engine, settings, message):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(
        {"name": "x", "compositions": ["Li2Si2O5"], "engine": {"name": engine,
                                                               "settings": settings}}))
    with pytest.raises(ConfigError) as info:
        load_campaign(path)
    text = str(info.value)
    assert text.startswith(f"invalid campaign: {message}") and "\n" not in text, text


def test_cli_refuses_an_unknown_lammps_setting_with_exit_2_and_writes_nothing(tmp_path, capsys):
    store = tmp_path / "store.yaml"
    store.write_text(f"type: embedded\npath: {tmp_path / 'db'}\n")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({
        "name": "x", "compositions": ["Li2Si2O5"], "store": str(store),
        "workdir": str(tmp_path / "runs"),
        "engine": {"name": "lammps", "settings": {"kspace": "pppm", "short_cutof_A": 10}}}))
    for command in (["submit", str(path), "--dry-run"], ["run", str(path)]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == ["error: invalid campaign: engine.settings.short_cutof_A: unknown lammps "
                       "engine setting; use one of nprocs, short_cutoff_A, coulomb_cutoff_A, "
                       "kspace, recovery"]
    assert not (tmp_path / "db").exists() and not (tmp_path / "runs").exists()


def test_potfit_engine_settings_are_checked_by_the_lammps_model_at_load(tmp_path):
    from amorphdb.potfit.config import load_config

    text = Path(__file__).parents[2].joinpath("configs/potfit-wang2018-cluster.yaml").read_text()
    assert "engine_settings: {nprocs: 8}" in text
    assert load_config(_written(tmp_path, text)).engine_settings == {"nprocs": 8}
    bad = _written(tmp_path, text.replace("{nprocs: 8}", "{nprocs: 8, kspace: fft}"))
    with pytest.raises(ConfigError, match=r"engine_settings.settings.kspace: 'fft' is not one of "
                       r"ewald, pppm, auto$"):
        load_config(bad)


def _written(folder: Path, text: str) -> Path:
    path = folder / f"potfit-{len(list(folder.iterdir()))}.yaml"
    path.write_text(text)
    return path


def test_time_step_above_the_engines_maximum_is_refused_at_load():
    with pytest.raises(ConfigError, match=r"^engine.timestep_fs: 6 fs is above the mlip engine's "
                       r"maximum 5 fs"):
        EngineSpec(name="mlip", timestep_fs=6.0)
    assert EngineSpec(name="lammps", timestep_fs=6.0).timestep_fs == 6.0  # within 10 fs


def test_model_validate_keeps_pydantic_errors_located():
    """Stored documents and FireWorks specs load through model_validate: a ValidationError
    at ``settings.<key>`` (what a campaign's error line is built from)."""
    with pytest.raises(ValidationError) as info:
        EngineSpec.model_validate({"name": "lammps", "settings": {"kspace": "p3m"}})
    err = info.value.errors()[0]
    assert err["loc"] == ("settings", "kspace")
    assert err["msg"] == "'p3m' is not one of ewald, pppm, auto"


def test_defaults_read_through_the_models_are_the_old_ones():
    lammps = EngineSpec(name="lammps").engine_settings
    assert isinstance(lammps, LammpsSettings)
    assert lammps.nprocs == 1 and lammps.kspace is KSpace.AUTO
    assert lammps.recovery == RecoverySettings() and lammps.recovery.max_corrections == 3
    # auto: Ewald up to 500 atoms, PPPM above (the old EWALD_MAX_ATOMS rule)
    assert [lammps.kspace_style(n) for n in (36, 500, 501)] == ["ewald", "ewald", "pppm"]
    assert lammps.cutoff_overrides() == {}
    engine = get_engine(EngineSpec(name="lammps"))
    library = get_potential(None)
    assert engine.potential == library  # no override: the library's cut-offs
    assert (library.name, library.short_cutoff_A) == ("pedone2006", 10.0)

    mlip = EngineSpec(name="mlip").engine_settings
    assert isinstance(mlip, MLIPSettings)
    assert (mlip.threads, mlip.barostat_damping_fs) == (1, None)

    vasp = EngineSpec(name="vasp").engine_settings
    assert isinstance(vasp, VaspSettings)
    assert vasp.stage is VaspStage.ANNEAL and vasp.pressure_source == "external"
    assert (vasp.walltime_buffer_s, vasp.frozen_timeout_s, vasp.monitor_freq) == (300, 3600, 30)
    assert (vasp.electronic_window, vasp.electronic_min_unconverged) == (10, 5)

    # per-engine facts: one place each, the values the engines and cost.py used
    steps = {n: EngineSpec(name=n).resolved_timestep_fs for n in EngineName}
    assert steps == {EngineName.LAMMPS: 1.0, EngineName.MLIP: 2.0, EngineName.VASP: 2.0}
    assert {n: cost_per_atom_step(n) for n in EngineName} == {
        EngineName.LAMMPS: 5e-5, EngineName.MLIP: 2e-3, EngineName.VASP: 10.0}
    assert MLIPSettings.max_timestep_fs == 5.0 and LammpsSettings.max_timestep_fs == 10.0


def test_every_registered_engine_reads_its_own_model():
    assert set(ENGINES) == set(EngineName)
    for name in (EngineName.LAMMPS, EngineName.VASP):  # mlip: same, but loads torch
        engine = get_engine(EngineSpec(name=name))
        assert type(engine.settings) is model_of(name)
        assert engine.timestep_fs == model_of(name).default_timestep_fs


def test_typed_values_and_a_model_instance_are_accepted():
    spec = EngineSpec(name="lammps", settings={"kspace": "PPPM", "short_cutoff_A": 6,
                                               "nprocs": "2"})
    typed = spec.engine_settings
    assert typed.kspace is KSpace.PPPM and typed.kspace_style(36) == "pppm"
    assert typed.short_cutoff_A == 6.0 and typed.nprocs == 2
    assert get_engine(spec).potential.short_cutoff_A == 6.0
    # a model instance is stored as the fields it sets (JSON types)
    spec = EngineSpec(name="lammps", settings=LammpsSettings(kspace="ewald", nprocs=2))
    assert spec.settings == {"kspace": "ewald", "nprocs": 2}


def test_settings_stay_as_written_so_protocol_hashes_do_not_change():
    """Validation neither adds defaults nor converts values: the engine dump (part of the
    protocol hash) is what the user wrote, as before the settings models existed."""
    settings = {"short_cutoff_A": 10, "kspace": "PPPM", "recovery": {"max_corrections": 1}}
    spec = EngineSpec(name="lammps", settings=settings)
    assert spec.model_dump(mode="json") == {
        "name": "lammps", "potential": None, "timestep_fs": None, "settings": settings}
    unvalidated = EngineSpec.model_construct(name=EngineName.LAMMPS, potential=None,
                                             timestep_fs=None, settings=dict(settings))
    protocol = ProtocolSettings()
    assert (MeltQuenchMaker(engine=spec, protocol=protocol).protocol_hash()
            == MeltQuenchMaker(engine=unvalidated, protocol=protocol).protocol_hash())
    plain = MeltQuenchMaker(engine=EngineSpec(), protocol=protocol).protocol_hash()
    assert plain == protocol.protocol_hash(
        {"name": "lammps", "potential": None, "timestep_fs": None, "settings": {}})


def test_fireworks_json_round_trip_keeps_and_revalidates_settings():
    spec = EngineSpec(name="vasp", timestep_fs=1.0,
                      settings={"incar": {"ALGO": "All"}, "stage": "melt",
                                "recovery": {"max_corrections": 2}})
    data = json.loads(json.dumps(spec.as_dict()))
    assert data["@class"] == "EngineSpec"
    back = EngineSpec.from_dict(data)
    assert back == spec and back.engine_settings.stage is VaspStage.MELT
    assert back.engine_settings.recovery.max_corrections == 2
    with pytest.raises(ValidationError, match="unknown vasp engine setting"):
        EngineSpec.from_dict({**data, "settings": {"incar_quench": {}}})


def test_a_setting_changed_without_validation_fails_when_the_engine_is_built():
    spec = EngineSpec(name="lammps").model_copy(update={"settings": {"kspace": "fft"}})
    with pytest.raises(ConfigError, match=r"^engine.settings.kspace: 'fft' is not one of"):
        get_engine(spec)


def test_escalation_and_cost_read_the_models():
    protocol = ProtocolSettings()
    # unstable MD halves the step the engine actually ran (its model's default)
    esc = escalate("ERROR: Lost atoms: original 36 current 34", EngineSpec(name="mlip"),
                   protocol)
    assert esc.changes == ["timestep 2 → 1 fs"] and esc.engine.timestep_fs == 1.0
    # an electronic failure climbs the engine's own ladder; LAMMPS has none (new seed)
    vasp = escalate("unconverged electronic steps", EngineSpec(name="vasp"), protocol)
    assert vasp.engine.settings["incar"] == VaspSettings.electronic_ladder[0]
    assert vasp.engine.engine_settings.incar == {"ALGO": "Normal", "NELM": 120}
    lammps = escalate("unconverged electronic steps", EngineSpec(name="lammps"), protocol)
    assert lammps.engine == EngineSpec(name="lammps") and lammps.changes[0].startswith("same")
    # the cost estimate counts the spec's own step: fixed-rate cooling at 1 fs takes
    # twice the cooling steps of the MLIP default 2 fs
    default = estimate_cost(1, protocol, EngineSpec(name="mlip"))
    halved = estimate_cost(1, protocol, EngineSpec(name="mlip", timestep_fs=1.0))
    extra = sum(protocol.cooling_runs(1.0)) - sum(protocol.cooling_runs(2.0))
    assert extra > 0
    assert halved.steps_per_composition - default.steps_per_composition == extra
    assert default.cost_per_atom_step_core_s == 2e-3


# ----------------------------------------------------------------- real MD


@pytest.fixture(scope="module")
def li2si2o5():
    """Li2O·2SiO2, 4 formula units (36 atoms) at 2.35 g/cm³."""
    return pack_structure("Li2Si2O5", n_formula_units=4, density_g_cm3=2.35, seed=7)


def test_lammps_settings_reach_lammps(li2si2o5, tmp_path):
    """kspace and the short-range cut-off, read through the model, change the run: PPPM
    is what LAMMPS initialises, and the Pedone Morse tail beyond 5.5 Å lowers the pressure
    of a 2.35 g/cm³ cell by kbar (−10 to −13 kbar measured on Li2Si2O5 cells,
    docs/potentials.md)."""
    md = MDSettings(temperature_K=300, n_steps=1, timestep_fs=1.0, thermo_every=1,
                    traj_every=1, seed=3)
    pressures = {}
    for cutoff in (5.5, 10.0):
        spec = EngineSpec(name="lammps", settings={"kspace": "pppm", "short_cutoff_A": cutoff})
        out = get_engine(spec).run(li2si2o5, md, tmp_path / str(cutoff))
        script = (tmp_path / str(cutoff) / "in.lammps").read_text()
        coulomb = get_potential(None).coulomb_cutoff_A  # not overridden
        assert f"pair_style hybrid/overlay pedone {cutoff} coul/long {coulomb}" in script
        assert "kspace_style pppm" in script
        logs = [f.read_text() for f in (tmp_path / str(cutoff)).glob("*/log.lammps")]
        assert logs and all("PPPM initialization" in text for text in logs)  # each part's log
        pressures[cutoff] = out.thermo.pressure_kbar[0]
    assert np.isfinite(list(pressures.values())).all()
    assert -20.0 < pressures[10.0] - pressures[5.5] < -2.0, pressures


@pytest.mark.slow
def test_mlip_settings_reach_chgnet(tmp_path):
    """``barostat_damping_fs`` read through the model drives CHGNet NPT: a 20 fs barostat
    moves the volume of a strained Li2O cell within 40 fs, a 20 ps one barely does."""
    li2o = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61 * 0.94), ["Li", "O"], [[0.25, 0.25, 0.25], [0, 0, 0]]
    )  # compressed 6 % per axis: tens of kbar
    md = MDSettings(temperature_K=300, n_steps=20, timestep_fs=2.0, ensemble="npt",
                    thermo_every=2, traj_every=10, seed=1)
    change = {}
    for damping in (20.0, 20000.0):
        spec = EngineSpec(name="mlip", settings={"barostat_damping_fs": damping, "threads": 1,
                                                 "recovery": {"max_corrections": 0}})
        engine = get_engine(spec)
        assert engine.settings.barostat_damping_fs == damping and engine.settings.threads == 1
        out = engine.run(li2o, md, tmp_path / str(damping))
        change[damping] = out.final_structure.volume / li2o.volume - 1.0
    assert change[20.0] > 5 * abs(change[20000.0]), change
