"""ProtocolSettings: range checks shared by Python and campaign files; replicas and hashes."""

import pytest
from pydantic import ValidationError

from amorphdb.campaign import campaign_from_dict
from amorphdb.errors import ConfigError
from amorphdb.flows import ProtocolSettings
from amorphdb.flows.protocol import SEED_RANGE, RangeError


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"melt_temperature_K": float("nan")}, "finite number"),
        ({"anneal_temperatures_K": [1000.0, float("inf")]}, "finite number"),
        ({"cooling": {"rate_K_per_ps": float("inf")}}, "finite number"),
        ({"volume": {"pressure_tolerance_kbar": float("nan")}}, "finite number"),
        ({"melt_temperature_K": 50000}, "melt_temperature_K: 50000 K is outside 1-10000 K"),
        ({"cooling": {"glass_temperature_K": 0.5}},
         "cooling.glass_temperature_K: 0.5 K is outside 1-10000 K"),
        ({"anneal_temperatures_K": [1000, 1500, 1000.0]},
         "anneal_temperatures_K: 1000 K given more than once"),
        ({"seed": 2**70}, f"seed: {2**70} is outside 0-4294967295"),
        ({"seed": SEED_RANGE[1], "replicas": 3},
         "seed: 4294967295 + 2 (the last replica's seed) is above 4294967295"),
        ({"density_g_cm3": 1e-6}, "density_g_cm3: 1e-06 g/cm³ is outside 0.1-25 g/cm³"),
        ({"traj_every": 5000, "melt_steps": 1000},
         "traj_every: 5000 steps is longer than the shortest MD run (melt_steps: 1000 steps)"),
        ({"thermo_every": 400, "volume": {"n_steps": 300}},
         "thermo_every: 400 steps is longer than the shortest MD run (volume.n_steps: 300"),
        ({"replicas": 0}, "greater than or equal to 1"),
    ],
)
def test_direct_settings_are_range_checked(settings, message):
    with pytest.raises(ValidationError) as info:
        ProtocolSettings(**settings)
    assert message in str(info.value), str(info.value)


def test_campaign_file_keeps_its_one_line_messages_with_full_paths():
    """The same check, reached through a campaign: every field path gets ``protocol.``."""
    with pytest.raises(ConfigError) as info:
        campaign_from_dict({"name": "c", "compositions": ["Li2O"],
                            "protocol": {"traj_every": 5000, "melt_steps": 1000}})
    assert str(info.value) == (
        "invalid campaign: protocol.traj_every: 5000 steps is longer than the shortest MD "
        "run (protocol.melt_steps: 1000 steps); use at most 1000")
    with pytest.raises(ConfigError, match=r"^invalid campaign: protocol\.cooling\.glass_temp"):
        campaign_from_dict({"name": "c", "compositions": ["Li2O"],
                            "protocol": {"cooling": {"glass_temperature_K": 20000}}})


def test_range_error_names_prefixed_paths():
    err = RangeError("{p}a: 1 (longer than {p}b)")
    assert str(err) == "a: 1 (longer than b)"
    assert err.prefixed("protocol.") == "protocol.a: 1 (longer than protocol.b)"


def test_replicas_leave_single_replica_hashes_unchanged():
    """A replica's key does not depend on how many replicas were asked for."""
    base = ProtocolSettings(seed=7)
    three = ProtocolSettings(seed=7, replicas=3)
    # replica 0 is the single-replica protocol itself (same hash, same stage keys)
    assert three.replica(0) == base
    assert three.replica(0).protocol_hash() == base.protocol_hash()
    assert [three.replica(i).seed for i in range(3)] == [7, 8, 9]
    assert len({three.replica(i).protocol_hash() for i in range(3)}) == 3
    # the replica average has its own key, which depends on the number of replicas
    assert three.protocol_hash() != base.protocol_hash()
    assert three.protocol_hash() != ProtocolSettings(seed=7, replicas=2).protocol_hash()
    assert "replicas" not in _hashed_fields(base)
    with pytest.raises(ValueError, match="replica 3 of 3"):
        three.replica(3)


def test_hash_of_the_default_protocol_is_unchanged_by_the_replicas_field():
    """The digest equals the one computed from the settings without the new field."""
    from amorphdb.flows.protocol import settings_digest

    p = ProtocolSettings()
    old = settings_digest({"protocol": _hashed_fields(p), "engine": {}})
    assert p.protocol_hash() == old


def _hashed_fields(p: ProtocolSettings) -> dict:
    return p.model_dump(mode="json", exclude={"replicas"})
