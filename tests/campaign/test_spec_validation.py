"""Every bad number and name of a campaign file is refused at load time, in one line."""

import pytest
import yaml

from amorphdb.campaign import load_campaign
from amorphdb.campaign.spec import SEED_RANGE, check_name
from amorphdb.cli import main
from amorphdb.errors import ConfigError

BASE = {"name": "tiny", "compositions": ["Li2Si2O5"]}


def _write(tmp_path, text: str):
    path = tmp_path / "campaign.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        # YAML's own NaN and infinities, and the same as text
        ("protocol: {melt_temperature_K: .nan}", "protocol.melt_temperature_K: nan is not"),
        ("protocol: {melt_temperature_K: .inf}", "protocol.melt_temperature_K: inf is not"),
        ("protocol: {anneal_temperatures_K: [1000, -.inf]}",
         "protocol.anneal_temperatures_K.1: -inf is not a finite"),
        ("protocol: {melt_temperature_K: 'nan'}", "protocol.melt_temperature_K: nan is not"),
        ("engine: {timestep_fs: .nan}", "engine.timestep_fs: nan is not a finite number"),
        ("protocol: {volume: {pressure_tolerance_kbar: .inf}}",
         "protocol.volume.pressure_tolerance_kbar: inf is not a finite"),
        ("heartbeat_timeout_s: .inf", "heartbeat_timeout_s: inf is not a finite number"),
        # physical ranges
        ("protocol: {melt_temperature_K: 50000}", "protocol.melt_temperature_K: 50000 K is "
         "outside 1-10000 K"),
        ("protocol: {anneal_temperatures_K: [0.5, 1000]}",
         "protocol.anneal_temperatures_K: 0.5 K is outside 1-10000 K"),
        ("protocol: {seed: 1180591620717411303424}",  # 2**70
         "protocol.seed: 1180591620717411303424 is outside 0-4294967295"),
        ("protocol: {seed: -1}", "protocol.seed: -1 is outside 0-4294967295"),
        ("protocol: {density_g_cm3: 1.0e-6}",
         "protocol.density_g_cm3: 1e-06 g/cm³ is outside 0.1-25 g/cm³"),
        ("protocol: {density_g_cm3: 40}", "protocol.density_g_cm3: 40 g/cm³ is outside"),
        ("protocol: {anneal_start_density_g_cm3: 0.01}",
         "protocol.anneal_start_density_g_cm3: 0.01 g/cm³ is outside"),
        ("protocol: {traj_every: 5000, melt_steps: 1000}",
         "protocol.traj_every: 5000 steps is longer than the shortest MD run "
         "(protocol.melt_steps: 1000 steps); use at most 1000"),
        ("protocol: {thermo_every: 400, volume: {n_steps: 300}}",
         "protocol.thermo_every: 400 steps is longer than the shortest MD run "
         "(protocol.volume.n_steps: 300 steps)"),
        ("protocol: {anneal_temperatures_K: [1000, 1500, 1000.0]}",
         "protocol.anneal_temperatures_K: 1000 K given more than once"),
        # unknown engine settings, naming the valid ones
        ("engine: {name: lammps, settings: {nprocz: 2}}",
         "engine.settings.nprocz: unknown lammps engine setting; use one of nprocs, "
         "short_cutoff_A, coulomb_cutoff_A, kspace, recovery"),
        ("engine: {name: mlip, settings: {thread: 2}}",
         "engine.settings.thread: unknown mlip engine setting; use one of threads, "
         "barostat_damping_fs, recovery"),
        # wrong values of known engine settings (checked by the engine's settings model)
        ("engine: {name: lammps, settings: {kspace: pppmx}}",
         "engine.settings.kspace: 'pppmx' is not one of ewald, pppm, auto"),
        ("engine: {name: lammps, settings: {short_cutoff_A: -5}}",
         "engine.settings.short_cutoff_A: -5 is invalid: input should be greater than 0"),
        ("engine: {name: mlip, timestep_fs: 8}",
         "engine.timestep_fs: 8 fs is above the mlip engine's maximum 5 fs"),
        # names: never a path, never a separator of keys
        ("name: ../../x", "name: '../../x' contains '/'; use letters, digits"),
        ("name: 'a|b'", "name: 'a|b' contains '|'"),
        ("name: \"a\\x07b\"", "name: 'a\\x07b' contains a control character"),
        ("name: '..'", "name: '..' contains '..'"),
        ("name: 'C:\\\\temp'", "contains ':'"),
        ("name: ' spaced'", "starts or ends with a space"),
    ],
)
def test_bad_setting_refused_at_load_in_one_line(tmp_path, yaml_text, message):
    data = {**BASE, **yaml.safe_load(yaml_text)}
    path = _write(tmp_path, yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(ConfigError) as info:
        load_campaign(path)
    text = str(info.value)
    assert message in text, text
    assert "\n" not in text and text.startswith("invalid campaign: ")


@pytest.mark.parametrize("name", ["li-silicates", "LiSiO_2026.v2", "run 7", "Li2O+SiO2"])
def test_plain_names_are_accepted(name):
    check_name(name)


def test_boundary_values_are_accepted(tmp_path):
    data = {**BASE, "protocol": {
        "melt_temperature_K": 10000, "anneal_temperatures_K": [1, 300.5],
        "seed": SEED_RANGE[1], "density_g_cm3": 0.1, "traj_every": 2000,
        "volume": {"n_steps": 2000}, "melt_steps": 2000, "anneal_steps": 2000,
        "cooling": {"method": "none", "n_steps": 10},  # not run, so not a limit
    }, "engine": {"name": "lammps", "settings": {"nprocs": 1, "kspace": "ewald"}}}
    spec = load_campaign(_write(tmp_path, yaml.safe_dump(data)))
    assert spec.protocol.seed == 2**32 - 1 and spec.protocol.traj_every == 2000


@pytest.mark.parametrize("command", [["submit", "--dry-run"], ["run"], ["status"]])
def test_cli_refuses_before_writing_anything(tmp_path, capsys, command):
    store = tmp_path / "store.yaml"
    store.write_text(f"type: embedded\npath: {tmp_path / 'db'}\n")
    data = {**BASE, "store": str(store), "workdir": str(tmp_path / "runs"),
            "protocol": {"melt_temperature_K": float("nan")}}
    path = _write(tmp_path, yaml.safe_dump(data))
    assert main([command[0], str(path), *command[1:]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: invalid campaign: protocol.melt_temperature_K: nan is not a finite "
                   "number; give a finite value"]
    assert not (tmp_path / "db").exists() and not (tmp_path / "runs").exists()
