"""LAMMPS engine (classical potentials) driven by generated inputs."""

from amorphdb.engines.lammps.engine import LammpsEngine, LammpsRunError

__all__ = ["LammpsEngine", "LammpsRunError"]
