"""List and feed cursors are signed with their own secret (api/cursors.py, ZCD_CURSOR_SECRET):
a cursor a bank stored stays valid when the callback secrets are rotated, one signed with
another cursor secret is refused, and "new,old" rotates the cursor secret without a bank's
stored cursor going stale."""

from __future__ import annotations

import pytest

from api import cursors
from api.problems import Problem
from domain.settings import DEV_CURSOR_SECRET, Settings

BEFORE = Settings(treasury_secret="t-old", procurement_secret="p-old", cursor_secret="c-1")


def test_rotating_the_callback_secrets_leaves_cursors_valid() -> None:
    stored = cursors.sign(BEFORE, "4711")
    rotated = BEFORE.model_copy(update={"treasury_secret": "t-new,t-old", "procurement_secret": "p-new"})
    replaced = BEFORE.model_copy(update={"treasury_secret": "t-new", "procurement_secret": "p-new"})
    assert cursors.opened(rotated, stored) == "4711"
    assert cursors.opened(replaced, stored) == "4711"
    assert cursors.sign(replaced, "4711") == stored  # the same cursor handed out before and after


def test_a_cursor_signed_with_another_cursor_secret_is_refused() -> None:
    stored = cursors.sign(BEFORE, "4711")
    other = BEFORE.model_copy(update={"cursor_secret": "c-2"})
    with pytest.raises(Problem):
        cursors.opened(other, stored)
    assert stored is not None and stored != cursors.sign(other, "4711")


def test_new_comma_old_rotates_the_cursor_secret() -> None:
    stored = cursors.sign(BEFORE, "4711")
    rotating = BEFORE.model_copy(update={"cursor_secret": "c-2,c-1"})
    assert cursors.opened(rotating, stored) == "4711"  # the old one still taken
    fresh = cursors.sign(rotating, "4712")
    assert cursors.opened(Settings(cursor_secret="c-2"), fresh) == "4712"  # signed with the first
    with pytest.raises(Problem):
        cursors.opened(BEFORE, fresh)


def test_the_cursor_secret_is_a_setting_of_its_own() -> None:
    assert Settings().cursor_secret == DEV_CURSOR_SECRET
    with pytest.raises(ValueError, match="ZCD_CURSOR_SECRET"):
        Settings(cursor_secret=" , ")
