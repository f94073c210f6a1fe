"""Opaque list cursors (API.md: lists are `{"items": [...], "next_cursor": ...}`).

A cursor is the sort key of the last item returned, so the next page starts right after it
however many rows were inserted meanwhile (keyset pagination, no OFFSET).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime


class InvalidCursor(ValueError):
    """A cursor that this service did not hand out (the API answers 422 validation_error)."""


def encode_cursor(at: datetime, key: str) -> str:
    payload = json.dumps([at.isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError) as error:
        raise InvalidCursor("the cursor is not one this service returned") from error
    # the API signs the cursors it hands out; this guards against anything it let through
    if not isinstance(key, str) or moment.tzinfo is None or "\x00" in key or not 2000 <= moment.year <= 2100:
        raise InvalidCursor("the cursor is not one this service returned")
    try:
        key.encode()
    except UnicodeEncodeError as error:
        raise InvalidCursor("the cursor is not one this service returned") from error
    return moment, key


def clamp_limit(limit: int, *, maximum: int = 200) -> int:
    """Lists return at least one and at most `maximum` items per page."""
    return max(1, min(limit, maximum))
