"""Keep secrets out of every message: passwords in URIs, ``password=`` pairs, secret variables.

:func:`redact` is applied centrally where text reaches a person: the CLI routes
stdout and stderr through :class:`RedactingStream` (every table, summary, error and
traceback), and store/LaunchPad descriptions call it directly.
"""

from __future__ import annotations

import os
import re
from typing import Any

#: what replaces a secret
MASK = "***"

# scheme://user:password@host (mongodb://, mongodb+srv://, and any other scheme)
_URI_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)[^@\s/]+(?=@)")
_SECRET_KEYS = r"(?:password|passwd|pwd|secret|token|api_key|apikey|access_key)"
# password=..., password: ..., token=... (YAML, query strings, command lines)
_KEY_VALUE = re.compile(
    rf"(?P<head>(?<![\w\"']){_SECRET_KEYS}\s*[:=]\s*[\"']?)(?P<value>[^\s\"',;&}}]+)",
    re.IGNORECASE,
)
# "password": "..." (JSON, Python reprs): a quoted key has a quoted value, so a message
# such as "field 'password': Extra inputs are not permitted" keeps its words
_QUOTED_KEY_VALUE = re.compile(
    rf"(?P<head>[\"']{_SECRET_KEYS}[\"']\s*[:=]\s*[\"'])(?P<value>[^\"']+)",
    re.IGNORECASE,
)
# environment variables whose values are secrets (e.g. the store's password_env)
_SECRET_VAR = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|ACCESS_KEY|_URI$|_PW$", re.I)
#: shorter values are not masked (too likely to occur by chance in ordinary text)
MIN_SECRET_CHARS = 6


def _secret_values() -> list[str]:
    """Values of secret-looking environment variables (longest first)."""
    values = set()
    for name, value in os.environ.items():
        if not _SECRET_VAR.search(name) or len(value) < MIN_SECRET_CHARS:
            continue
        if "://" in value:  # a URI variable: only its password is secret
            match = re.search(r"://[^:/@\s]*:([^@\s/]+)@", value)
            if match and len(match.group(1)) >= MIN_SECRET_CHARS:
                values.add(match.group(1))
            continue
        values.add(value)
    return sorted(values, key=len, reverse=True)


def redact(text: Any) -> str:
    """``text`` with every password replaced by ``***``.

    Covers ``scheme://user:password@host`` (MongoDB, ``mongodb+srv``, LaunchPad hosts,
    any URI), ``password=…``/``"password": "…"``/``token: …`` pairs, and the values of
    environment variables named like secrets (``*PASSWORD*``, ``*SECRET*``, ``*TOKEN*``).

    Examples
    --------
    >>> redact("cannot reach mongodb+srv://ana:s3cret@db.example.org/x")
    'cannot reach mongodb+srv://ana:***@db.example.org/x'
    """
    text = str(text)
    text = _URI_USERINFO.sub(lambda m: m.group("head") + MASK, text)
    text = _KEY_VALUE.sub(lambda m: m.group("head") + MASK, text)
    text = _QUOTED_KEY_VALUE.sub(lambda m: m.group("head") + MASK, text)
    for value in _secret_values():
        text = text.replace(value, MASK)
    return text


class RedactingStream:
    """A text stream that redacts everything written to it (wraps stdout/stderr)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # a text stream (click probes for binary with b"")
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._stream.write(redact(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, flush, ...
        return getattr(self._stream, name)
