"""Every test runs in its own temporary folder, so nothing lands in the checkout.

jobflow's ``run_locally`` runs jobs in the current folder unless given ``root_dir``,
and the MD engines write their inputs and outputs there.
"""

import pytest


@pytest.fixture(autouse=True)
def _run_in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
