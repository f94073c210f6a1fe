"""Cursors the API hands out are tamper-evident: the store's keyset cursor, signed with a key
derived from the platform's cursor secret (`ZCD_CURSOR_SECRET`, HMAC-SHA256). A cursor this API
did not issue is 422 `validation_error` before anything is decoded or looked up (API.md v1.1
"Edges").

The secret is the cursors' own: the callback secrets can be rotated without a bank's stored
feed cursor going stale. It is shared by every API replica and kept across restarts (the local
stack generates it into `.zcd/credentials.json`); "new,old" rotates it without invalidating the
cursors signed with the old one.
"""

from __future__ import annotations

import hashlib
import hmac

from api.problems import Problem
from domain.errors import ErrorCode
from domain.settings import Settings

_SEPARATOR = "."
_MAC_CHARS = 32  # 128 bits of the HMAC: plenty against forgery, short in a URL


def cursor_keys(settings: Settings) -> list[bytes]:
    """One key per secret listed, the signing one first."""
    secrets = [part.strip() for part in settings.cursor_secret.split(",") if part.strip()]
    return [hmac.new(secret.encode(), b"zcd list cursors v1", hashlib.sha256).digest() for secret in secrets]


def _mac(key: bytes, raw: str) -> str:
    return hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()[:_MAC_CHARS]


def sign(settings: Settings, raw: str | None) -> str | None:
    if raw is None:
        return None
    return f"{raw}{_SEPARATOR}{_mac(cursor_keys(settings)[0], raw)}"


def opened(settings: Settings, token: str | None) -> str | None:
    """The store's cursor inside a token this API issued; 422 for anything else."""
    if token is None:
        return None
    raw, separator, mac = token.rpartition(_SEPARATOR)
    if separator and raw.isascii() and mac.isascii():
        if any(hmac.compare_digest(mac, _mac(key, raw)) for key in cursor_keys(settings)):
            return raw
    raise Problem(ErrorCode.VALIDATION_ERROR, "the cursor is not one this service returned")
