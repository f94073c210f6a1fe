"""The supplier sign-in rules (domain/supplier_login.py): codes live 5 minutes and serve once,
five wrong codes in a row lock the credit code for 15 minutes, a code is sent at most once a
minute, and an unknown credit code is judged like a wrong code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.supplier_login import (
    CODE_LIFETIME,
    LOCK_DURATION,
    MAX_WRONG_IN_A_ROW,
    RESEND_AFTER,
    Guard,
    IssuedCode,
    Verdict,
    code_digest,
    judge,
    may_send,
)

SECRET = b"k" * 32
CREDIT_CODE = "91320200MA1MXY3K1B"
T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def issued(code: str = "123456", at: datetime = T0, used: bool = False) -> IssuedCode:
    return IssuedCode(code_digest(SECRET, CREDIT_CODE, code), at, at + CODE_LIFETIME, used)


def presented(code: str) -> bytes:
    return code_digest(SECRET, CREDIT_CODE, code)


def test_the_digest_depends_on_the_secret_the_credit_code_and_the_code() -> None:
    base = code_digest(SECRET, CREDIT_CODE, "123456")
    assert len(base) == 32 and base != b"123456"
    assert code_digest(b"x" * 32, CREDIT_CODE, "123456") != base
    assert code_digest(SECRET, "91320200MA2NQ7PL0X", "123456") != base
    assert code_digest(SECRET, CREDIT_CODE, "123457") != base


def test_the_right_code_in_time_signs_in_and_resets_the_count() -> None:
    attempt = judge(T0 + timedelta(minutes=4), Guard(wrong_in_a_row=3), issued(), presented("123456"))
    assert attempt.verdict is Verdict.SIGNED_IN
    assert attempt.guard == Guard()


def test_a_code_expires_after_five_minutes() -> None:
    just_before = judge(T0 + CODE_LIFETIME - timedelta(seconds=1), Guard(), issued(), presented("123456"))
    assert just_before.verdict is Verdict.SIGNED_IN
    at_expiry = judge(T0 + CODE_LIFETIME, Guard(), issued(), presented("123456"))
    assert at_expiry.verdict is Verdict.WRONG and at_expiry.guard.wrong_in_a_row == 1


def test_a_used_code_does_not_sign_in_again() -> None:
    attempt = judge(T0 + timedelta(minutes=1), Guard(), issued(used=True), presented("123456"))
    assert attempt.verdict is Verdict.WRONG


def test_a_credit_code_without_any_code_is_judged_like_a_wrong_code() -> None:
    unknown = judge(T0, Guard(), None, presented("123456"))
    wrong = judge(T0, Guard(), issued(), presented("654321"))
    assert unknown == wrong
    assert unknown.verdict is Verdict.WRONG and unknown.guard == Guard(wrong_in_a_row=1)


def test_five_wrong_codes_in_a_row_lock_for_fifteen_minutes_even_the_right_code() -> None:
    guard, now = Guard(), T0
    for n in range(1, MAX_WRONG_IN_A_ROW + 1):
        attempt = judge(now, guard, issued(), presented("000000"))
        assert attempt.verdict is Verdict.WRONG, n  # the five themselves are answered "wrong"
        guard = attempt.guard
    assert guard.locked_until == now + LOCK_DURATION
    during = judge(now + timedelta(minutes=14), guard, issued(at=now + timedelta(minutes=13)), presented("123456"))
    assert during.verdict is Verdict.LOCKED
    assert during.retry_after == timedelta(minutes=1)
    assert during.guard == guard  # a locked attempt neither extends the lock nor counts
    after = judge(now + LOCK_DURATION, guard, issued(at=now + timedelta(minutes=14)), presented("123456"))
    assert after.verdict is Verdict.SIGNED_IN


def test_four_wrong_then_right_then_wrong_starts_a_new_row() -> None:
    guard = Guard()
    for _ in range(MAX_WRONG_IN_A_ROW - 1):
        guard = judge(T0, guard, issued(), presented("000000")).guard
    assert guard == Guard(wrong_in_a_row=4)
    guard = judge(T0, guard, issued(), presented("123456")).guard
    attempt = judge(T0, guard, issued(used=True), presented("000000"))
    assert attempt.verdict is Verdict.WRONG and attempt.guard == Guard(wrong_in_a_row=1)


def test_a_wrong_code_after_a_lock_ended_is_the_first_of_a_new_row() -> None:
    ended = Guard(wrong_in_a_row=0, locked_until=T0)
    attempt = judge(T0 + timedelta(seconds=1), ended, issued(), presented("000000"))
    assert attempt.verdict is Verdict.WRONG
    assert attempt.guard == Guard(wrong_in_a_row=1, locked_until=None)


def test_a_code_is_sent_at_most_once_a_minute_and_never_while_locked() -> None:
    assert may_send(T0, Guard(), None)
    assert not may_send(T0 + RESEND_AFTER - timedelta(seconds=1), Guard(), issued())
    assert may_send(T0 + RESEND_AFTER, Guard(), issued())
    locked = Guard(locked_until=T0 + LOCK_DURATION)
    assert not may_send(T0 + timedelta(minutes=10), locked, None)
    assert may_send(T0 + LOCK_DURATION, locked, issued())
