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


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the command (raised by the CLI's signal handlers).

    A :class:`KeyboardInterrupt`, so code that cleans up on Ctrl-C cleans up on a
    scheduler's SIGTERM too. Whatever stops on it appends what it saved to
    :attr:`saved`; the CLI prints that with "aborted" and exits ``128 + signum``
    (130 for Ctrl-C, 143 for SIGTERM).
    """

    def __init__(self, signum: int = 2) -> None:
        import signal

        super().__init__(signum)
        self.signum = signum
        try:
            self.signal_name = signal.Signals(signum).name
        except ValueError:
            self.signal_name = f"signal {signum}"
        self.saved: list[str] = []

    @property
    def exit_code(self) -> int:
        """The shell convention for a process stopped by a signal: 128 + its number."""
        return 128 + self.signum
