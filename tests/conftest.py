"""Every test runs in its own temporary folder, so nothing lands in the checkout, and
leaves the process's SIGINT/SIGTERM handlers as it found them.

jobflow's ``run_locally`` runs jobs in the current folder unless given ``root_dir``,
and the MD engines write their inputs and outputs there. Libraries run in-process
(a workflow runner, a launcher's worker set-up) may install signal handlers; a handler
left behind changes how a later test's Ctrl-C behaves, so it is restored and reported
(checked around each test's whole run, module fixtures' set-up and tear-down included).
"""

import signal
import warnings

import pytest

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@pytest.fixture(autouse=True)
def _run_in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    before = {s: signal.getsignal(s) for s in _SIGNALS}
    yield
    for signum, handler in before.items():
        if signal.getsignal(signum) is not handler:
            warnings.warn(
                f"{item.nodeid} (or a fixture it set up or tore down) left the "
                f"{signal.Signals(signum).name} handler changed "
                f"({signal.getsignal(signum)!r}); restored",
                stacklevel=1,
            )
            signal.signal(signum, handler)
