"""The example campaign files load and dry-run to the documented counts."""

from pathlib import Path

import pytest

from amorphdb.campaign import load_campaign
from amorphdb.campaign.submit import dry_run

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize(
    ("name", "count"),
    [("example-csv.yaml", 6), ("example-enumeration.yaml", 11), ("example-fireworks.yaml", 11)],
)
def test_example_dry_run(name, count):
    spec = load_campaign(CONFIGS / name)
    plan = dry_run(spec)
    assert len(plan.to_submit) == count
    assert plan.cost.core_hours > 0
