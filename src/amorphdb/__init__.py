"""amorphdb: databases of amorphous materials by high-throughput melt-quench MD."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("amorphdb")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
