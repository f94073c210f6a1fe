"""Signing in to the supplier's channel with a one-time SMS code (API.md v1.1 "Suppliers").

The rules, as pure functions of what is stored and the time:
- a code lives 5 minutes and serves once; only the newest code of a credit code counts (asking
  again replaces it), and a new one is sent at most once a minute;
- five wrong codes in a row lock the credit code for 15 minutes: every attempt meanwhile is
  refused as locked, the right code too; a right code resets the count, and so does the end of
  a lock (the next wrong code is the first of a new row);
- a credit code nobody ever asked a code for is judged exactly like one with a wrong code, so an
  answer never tells whether a supplier exists.

Codes are stored only as an HMAC under a secret the database does not hold: six digits are a
million candidates, which a plain hash of a copied table would give away in a second.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=5)
RESEND_AFTER = timedelta(minutes=1)
MAX_WRONG_IN_A_ROW = 5
LOCK_DURATION = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=8)  # a working day on the phone


def code_digest(secret: bytes, credit_code: str, code: str) -> bytes:
    """What is stored of a code: HMAC-SHA256 over the credit code and the code."""
    return hmac.new(secret, f"{credit_code}\x1f{code}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Guard:
    """A credit code's record of wrong codes: how many in a row, and a lock's end."""

    wrong_in_a_row: int = 0
    locked_until: datetime | None = None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True)
class IssuedCode:
    """The newest code issued for a credit code."""

    digest: bytes
    created_at: datetime
    expires_at: datetime
    used: bool


class Verdict(StrEnum):
    SIGNED_IN = "signed_in"
    WRONG = "wrong"  # wrong, expired, used or never issued: 401
    LOCKED = "locked"  # too many wrong codes: 429


@dataclass(frozen=True)
class Attempt:
    verdict: Verdict
    guard: Guard  # the guard to store after this attempt
    retry_after: timedelta | None = None  # while locked: how long until the lock ends


def judge(now: datetime, guard: Guard, code: IssuedCode | None, presented: bytes) -> Attempt:
    """The outcome of presenting the code whose digest is `presented`."""
    if guard.locked_at(now):
        assert guard.locked_until is not None
        return Attempt(Verdict.LOCKED, guard, guard.locked_until - now)
    fits = (
        code is not None
        and not code.used
        and now < code.expires_at
        and hmac.compare_digest(code.digest, presented)  # constant time: nothing to learn from timing
    )
    if fits:
        return Attempt(Verdict.SIGNED_IN, Guard())
    # a lock that has ended starts a new row
    wrong = 1 if guard.locked_until is not None else guard.wrong_in_a_row + 1
    if wrong >= MAX_WRONG_IN_A_ROW:
        return Attempt(Verdict.WRONG, Guard(wrong_in_a_row=0, locked_until=now + LOCK_DURATION))
    return Attempt(Verdict.WRONG, Guard(wrong_in_a_row=wrong))


def may_send(now: datetime, guard: Guard, newest: IssuedCode | None) -> bool:
    """Whether a new code is issued and sent now: not while locked (it could not be used), and
    not within a minute of the last one (an SMS costs money and a phone is not a pager)."""
    if guard.locked_at(now):
        return False
    return newest is None or now - newest.created_at >= RESEND_AFTER
