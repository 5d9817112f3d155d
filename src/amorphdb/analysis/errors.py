"""Errors and warnings of :mod:`amorphdb.analysis`.

The analysis package depends on nothing else inside amorphdb, so it defines its own
error. The command line (``amorphdb.cli.analyze``) turns :class:`AnalysisError` into
the package-wide user error.
"""

from __future__ import annotations


class AnalysisError(ValueError):
    """Input the analysis cannot use; the message names the problem and the fix."""


class AnalysisWarning(UserWarning):
    """A result that is computed but should be read with care (too sparse, too short, ...)."""
