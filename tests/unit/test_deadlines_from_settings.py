"""Every stage deadline a financing starts with comes from the settings, so ops can tune them
per deployment (ZCD_*_DAYS / ZCD_DISBURSEMENT_ATTENTION_MINUTES)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from api.state import AppState
from api.submission import deadlines
from domain.settings import Settings


def test_the_deadlines_a_financing_starts_with_are_the_settings() -> None:
    settings = Settings(
        review_expiry_days=11, lock_attention_days=2, lock_expiry_days=9, disbursement_attention_minutes=7
    )
    given = deadlines(cast(AppState, SimpleNamespace(settings=settings)))
    assert given.review_expiry_days == 11
    assert given.lock_attention_days == 2
    assert given.lock_expiry_days == 9
    assert given.disbursement_attention_minutes == 7
