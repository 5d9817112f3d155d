"""Every command's exit status tells the truth, checked on the real ``python -m amorphdb``.

0 only on full success; 1 when a composition failed (after the summary); 2 for usage
errors, bad input and unreadable files (one line, no traceback); 130/143 for
SIGINT/SIGTERM (``tests/campaign/test_signals.py``). Nothing printed shows a password.
"""

import errno
import subprocess
import sys

import pytest
import typer
import yaml

from amorphdb.cli import app, main
from tests.campaign.conftest import tiny_campaign_file

#: an MD time step that loses atoms in the first melt steps, and again once halved
UNSTABLE = {"engine": {"name": "lammps", "timestep_fs": 10.0}, "max_corrections": 0}


def amorphdb(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "amorphdb", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.slow
def test_failed_compositions_exit_1_for_run_submit_and_rerun(tmp_path):
    path = tiny_campaign_file(tmp_path, **UNSTABLE)
    ran = amorphdb("run", path)
    assert ran.returncode == 1, ran.stderr
    assert "0/1 compositions completed" in ran.stderr and "Lost atoms" in ran.stderr

    data = yaml.safe_load(path.read_text())
    data["compositions"] = ["Li2Si2O5", "Li2SiO3"]
    path.write_text(yaml.safe_dump(data))
    submitted = amorphdb("submit", path)  # Li2SiO3 only: the failed one waits for rerun
    assert submitted.returncode == 1, submitted.stderr
    assert "submitted 1, skipped 0 completed, 0 in flight, 1 failed" in submitted.stdout
    assert "Li2SiO3 failed" in submitted.stderr

    rerun = amorphdb("rerun", path)  # 10 → 5 fs: still unstable, still a failure
    assert rerun.returncode == 1, rerun.stderr
    assert "timestep 10 → 5 fs" in rerun.stdout and "reran 2 composition(s)" in rerun.stdout

    status = amorphdb("status", path, "--json")
    assert status.returncode == 0  # reading a campaign with failures is a success
    assert '"failed": 2' in status.stdout


def test_analyze_and_query_bad_input_exit_2_in_one_line(tmp_path):
    bad = tmp_path / "traj.xyz"
    bad.write_text("this is not a trajectory\n")
    analyzed = amorphdb("analyze", bad)
    assert analyzed.returncode == 2
    assert _one_line_error(analyzed).startswith("error: ")
    missing = amorphdb("analyze", tmp_path / "absent.dump")
    assert missing.returncode == 2 and "absent.dump" in _one_line_error(missing)

    store = tmp_path / "store.yaml"
    store.write_text(f"type: embedded\npath: {tmp_path / 'db'}\n")
    queried = amorphdb("query", "--store", store, "--temperature", "hot")
    assert queried.returncode == 2
    assert "temperature 'hot' is not a number" in _one_line_error(queried)
    usage = amorphdb("query", "--no-such-option")
    assert usage.returncode == 2 and "No such option" in usage.stderr
    assert amorphdb("--version").returncode == 0


def test_query_success_exits_0(tmp_path):
    from amorphdb.store import StoreConfig
    from amorphdb.store.database import AmorphousDB

    with AmorphousDB.from_config(StoreConfig(path=tmp_path / "db")):
        pass  # an empty store
    store = tmp_path / "store.yaml"
    store.write_text(f"type: embedded\npath: {tmp_path / 'db'}\n")
    queried = amorphdb("query", "--store", store, "--format", "json")
    assert queried.returncode == 0, queried.stderr
    assert main(["db", "stats", "--store", str(store)]) == 0


@pytest.fixture
def extra_command():
    """Register a throwaway command on the real app; removed afterwards."""
    before = list(app.registered_commands)

    def add(function):
        app.command("zz-test")(function)

    yield add
    app.registered_commands[:] = before


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/scratch/db/amorphous.sqlite"), 1,
         "error: no space left on the device of /scratch/db/amorphous.sqlite; free space "
         "and run again"),
        (OSError(errno.EIO, "Input/output error", "/data/db/x.sqlite"), 2,
         "error: cannot use /data/db/x.sqlite: Input/output error; check that the file "
         "exists and is not damaged"),
        (__import__("sqlite3").OperationalError("database or disk is full"), 1,
         "error: no space left on the device of the store (database or disk is full)"),
        (typer.Exit(1), 1, None),
        (KeyboardInterrupt(), 130, "aborted (SIGINT): nothing was running"),
        (RuntimeError("a bug"), 1, "RuntimeError: a bug"),
    ],
)
def test_main_maps_exceptions_to_exit_codes(extra_command, capsys, exc, code, line):
    def boom() -> None:
        raise exc

    extra_command(boom)
    assert main(["zz-test"]) == code
    err = capsys.readouterr().err
    if line is not None:
        assert line in err
    if not isinstance(exc, RuntimeError):  # a bug keeps its traceback for the report
        assert "Traceback" not in err


def test_command_return_value_and_success(extra_command, capsys):
    extra_command(lambda: typer.echo("ok"))
    assert main(["zz-test"]) == 0 and capsys.readouterr().out == "ok\n"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("mongodb://ana:s3cretPW@db.example.org:27017/amorphdb",
         "mongodb://ana:***@db.example.org:27017/amorphdb"),
        ("mongodb+srv://bob:hunter22@cluster0.example.net/fw?retryWrites=true",
         "mongodb+srv://bob:***@cluster0.example.net/fw?retryWrites=true"),
        ("host: mongodb://u:p%40ss@h, password: 'plain-pw', token=abc123xyz",
         "host: mongodb://u:***@h, password: '***', token=***"),
        ('{"username": "ana", "password": "s3cret"}', '{"username": "ana", "password": "***"}'),
        ("mongodb://reader@db.example.org/x", "mongodb://reader@db.example.org/x"),
        ("field 'password': Extra inputs are not permitted",  # words, not a secret
         "field 'password': Extra inputs are not permitted"),
        ("password_env: AMORPHDB_MONGO_PASSWORD", "password_env: AMORPHDB_MONGO_PASSWORD"),
    ],
)
def test_redact(text, shown):
    from amorphdb.secrets import redact

    assert redact(text) == shown


def test_secret_environment_values_are_redacted(monkeypatch):
    from amorphdb.secrets import redact

    monkeypatch.setenv("AMORPHDB_MONGO_PASSWORD", "Tr0ub4dor&3")
    monkeypatch.setenv("AMORPHDB_MONGO_URI", "mongodb://ana:c0rrect-horse@h/db")
    assert redact("auth failed for Tr0ub4dor&3 and c0rrect-horse") == \
        "auth failed for *** and ***"


def test_store_host_password_never_printed(tmp_path, capsys):
    """A URI with a password in the store file's ``host:``: the error hides the password."""
    store = tmp_path / "store.yaml"
    store.write_text("type: mongodb\nhost: 'mongodb://ana:s3cretPW@127.0.0.1:1/x'\n"
                     "database: amorphdb\n")
    assert main(["query", "--store", str(store)]) == 2
    captured = capsys.readouterr()
    assert "s3cretPW" not in captured.err + captured.out
    assert "mongodb://ana:***@127.0.0.1:1/x" in captured.err


def test_launchpad_host_password_never_printed(tmp_path, capsys):
    launchpad = tmp_path / "my_launchpad.yaml"
    launchpad.write_text("host: mongodb+srv://bob:hunter22@cluster0.invalid/fw\nname: fw\n")
    path = tiny_campaign_file(tmp_path, launchers={"fireworks": {
        "launchpad_file": str(launchpad)}})
    assert main(["submit", str(path), "--launcher", "fireworks"]) == 2
    captured = capsys.readouterr()
    assert "hunter22" not in captured.err + captured.out
    assert "mongodb+srv://bob:***@cluster0.invalid/fw" in captured.err
