"""Content checksums of stored documents (a flipped bit is detected by ``amorphdb db check``).

Each summary, Arrhenius fit and campaign record is stored with ``checksum``: SHA-256 of
its canonical JSON (sorted keys, everything but the checksum itself). Datetimes are
canonicalised to what BSON keeps (UTC, millisecond precision, no tzinfo), so the checksum
of a document read back equals the one computed before it was written, on montydb and
MongoDB alike. Blobs are content-addressed instead (:mod:`amorphdb.store.blobs`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

#: field holding the checksum in stored documents
CHECKSUM_FIELD = "checksum"


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items() if k != CHECKSUM_FIELD}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000).isoformat()
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    return value


def content_checksum(doc: dict[str, Any]) -> str:
    """SHA-256 (hex) of a document's canonical JSON, ignoring its ``checksum`` field."""
    text = json.dumps(_canonical(doc), sort_keys=True, default=str, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def seal(doc: dict[str, Any]) -> dict[str, Any]:
    """Set ``doc["checksum"]`` (in place) and return ``doc``."""
    doc[CHECKSUM_FIELD] = content_checksum(doc)
    return doc


def verify(doc: dict[str, Any]) -> bool | None:
    """True when the stored checksum matches, False when not, None when there is none."""
    stored = doc.get(CHECKSUM_FIELD)
    if stored is None:
        return None
    return stored == content_checksum(doc)
