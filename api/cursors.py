"""Cursors the API hands out are tamper-evident: the store's keyset cursor, signed with a
key derived from the platform's secrets (HMAC-SHA256). A cursor this API did not issue is
422 `validation_error` before anything is decoded or looked up (API.md v1.1 "Edges")."""

from __future__ import annotations

import hashlib
import hmac

from api.problems import Problem
from domain.errors import ErrorCode
from domain.settings import Settings

_SEPARATOR = "."
_MAC_CHARS = 32  # 128 bits of the HMAC: plenty against forgery, short in a URL


def cursor_key(settings: Settings) -> bytes:
    """Derived from the callback secrets (set in every deployment, shared by every API
    replica), so cursors stay valid across restarts and replicas without a setting of their own."""
    material = f"{settings.treasury_secret}\x1f{settings.procurement_secret}".encode()
    return hmac.new(material, b"zcd list cursors v1", hashlib.sha256).digest()


def sign(settings: Settings, raw: str | None) -> str | None:
    if raw is None:
        return None
    mac = hmac.new(cursor_key(settings), raw.encode(), hashlib.sha256).hexdigest()[:_MAC_CHARS]
    return f"{raw}{_SEPARATOR}{mac}"


def opened(settings: Settings, token: str | None) -> str | None:
    """The store's cursor inside a token this API issued; 422 for anything else."""
    if token is None:
        return None
    raw, separator, mac = token.rpartition(_SEPARATOR)
    if separator and raw.isascii() and mac.isascii():
        expected = hmac.new(cursor_key(settings), raw.encode(), hashlib.sha256).hexdigest()[:_MAC_CHARS]
        if hmac.compare_digest(mac, expected):
            return raw
    raise Problem(ErrorCode.VALIDATION_ERROR, "the cursor is not one this service returned")
