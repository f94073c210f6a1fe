"""Signed requests between the platform and the treasury / procurement systems (API.md).

Header: `Zcd-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]` where
v1 = hex(HMAC_SHA256(secret, "<t>." + raw body)). Several v1 values may be present
(secret rotation); one valid value suffices. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Zcd-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str] | str, timestamp: int, body: bytes) -> str:
    """The header value signing `body` with each secret (several during a rotation)."""
    if isinstance(secrets, str):
        secrets = [secrets]
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets)])


def verify_signature(
    header: str | None, body: bytes, secrets: list[str], now: float, tolerance_seconds: int = 300
) -> bool:
    """True when `header` carries a fresh timestamp and at least one valid v1 for any secret."""
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1" and value:
            candidates.append(value.lower())
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance_seconds:
        return False
    valid = False
    for secret in secrets:
        expected = signature(secret, timestamp, body)
        for candidate in candidates:
            # no early exit: every comparison runs, so timing does not reveal which matched
            valid |= hmac.compare_digest(expected, candidate)
    return valid
