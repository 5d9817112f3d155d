"""User-facing errors.

Every error a user can fix is an :class:`AmorphdbError` whose message is one line
naming the problem and the fix. The CLI prints it without a traceback and exits
non-zero; library callers can catch it.
"""

from __future__ import annotations


class AmorphdbError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class CompositionError(AmorphdbError, ValueError):
    """A formula that does not parse, contains unknown elements or is empty."""


class UnsupportedCompositionError(AmorphdbError, ValueError):
    """A composition the chosen engine or potential does not cover."""


class PackingError(AmorphdbError, RuntimeError):
    """A cell that cannot be packed at the requested density."""


class ConfigError(AmorphdbError, ValueError):
    """An invalid campaign, engine or store setting."""


class StoreError(AmorphdbError, RuntimeError):
    """A store that cannot be opened, reached or written."""


class EngineError(AmorphdbError, RuntimeError):
    """An MD engine that is missing or failed beyond recovery."""
