"""Transparent reading of gzip, bzip2 and xz files (detected by content, not only name)."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from pathlib import Path
from typing import IO

__all__ = ["COMPRESSED_SUFFIXES", "compression_of", "open_binary", "open_text", "plain_name"]

#: file-name suffixes of the supported compressions
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")

_MAGIC = {b"\x1f\x8b": "gz", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
_OPENERS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}


def compression_of(path: str | Path) -> str | None:
    """``"gz"``, ``"bz2"``, ``"xz"`` or None, from the first bytes of the file."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def plain_name(path: str | Path) -> str:
    """The file name without a compression suffix (``XDATCAR.gz`` → ``XDATCAR``)."""
    name = Path(path).name
    for suffix in COMPRESSED_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def open_binary(path: str | Path) -> IO[bytes]:
    """Open for reading bytes, decompressing gzip/bzip2/xz on the fly."""
    kind = compression_of(path)
    return _OPENERS[kind](path, "rb") if kind else open(path, "rb")


def open_text(path: str | Path) -> IO[str]:
    """Open for reading UTF-8 text, decompressing on the fly (binary data raises on read)."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8", errors="strict")
