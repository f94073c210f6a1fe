"""The bank simulator's book from the event feed (simulators/bank_feed.py), against a feed
served by a stand-in of `GET /v1/events`: each event applied once by its id, the cursor kept
with the book in the state file so a restarted follower carries on where it stood, and the
book's figures are what the events say."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.settings import Settings
from simulators.bank import create_bank_app
from simulators.bank_feed import BankBook, FeedFollower, apply_event, summary

KEY = "bank-key-icbc"


def event(n: int, app_id: str, kind: str, **data: Any) -> dict[str, Any]:
    return {
        "event_id": str(n),
        "type": kind,
        "application_id": app_id,
        "contract_no": f"C-{app_id}",
        "bank_code": "ICBC",
        "at": "2026-11-27T10:00:00+08:00",
        "data": data,
    }


def settled_loan(app_id: str, first: int) -> list[dict[str, Any]]:
    """A loan's events from submission to settlement, ids from `first` on."""
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("application.submitted", {"requested_amount": "700000.00"}),
        ("application.stage_changed", {"from": "verifying", "to": "bank_review", "reason": None}),
        ("application.stage_changed", {"from": "bank_review", "to": "account_lock", "reason": None}),
        ("application.stage_changed", {"from": "account_lock", "to": "disbursing", "reason": None}),
        ("loan.disbursed", {"amount": "700000.00", "disbursement_id": "D-1", "disbursed_on": "2026-11-27"}),
        ("application.stage_changed", {"from": "disbursing", "to": "repaying", "reason": None}),
        (
            "repayment.applied",
            {
                "source": "treasury",
                "source_id": "T-1",
                "amount": "1000000.00",
                "penalty": "0.00",
                "interest": "74.86",
                "principal": "700000.00",
                "surplus": "299925.14",
            },
        ),
        ("application.stage_changed", {"from": "repaying", "to": "settled", "reason": None}),
    ]
    return [event(first + i, app_id, kind, **data) for i, (kind, data) in enumerate(kinds)]


def test_a_book_from_events_says_what_they_say_and_takes_each_once() -> None:
    book = BankBook(bank_code="ICBC")
    events = settled_loan("A", 1)[:7]  # repaid in part of the way: still repaying
    partial = events[6]["data"] | {
        "amount": "300000.00",
        "interest": "74.86",
        "principal": "299925.14",
        "surplus": "0.00",
    }
    events[6] = events[6] | {"data": partial}
    assert all(apply_event(book, e) for e in events)
    assert not any(apply_event(book, e) for e in events)  # the same ids again: nothing moves
    shown = summary(book)
    assert shown["applications"]["repaying"] == 1 and sum(shown["applications"].values()) == 1
    assert (shown["financing_disbursed"], shown["outstanding"], shown["loans"]) == ("700000.00", "400074.86", 1)
    assert shown["repaid"] == {"principal": "299925.14", "interest": "74.86", "penalty": "0.00", "surplus": "0.00"}
    assert shown["events_applied"] == 7 and shown["out_of_order"] == []
    # a written-off loan leaves the book's outstanding, as it leaves the bureau's
    overdue = event(8, "A", "application.stage_changed", **{"from": "repaying", "to": "overdue", "reason": None})
    written_off = event(9, "A", "application.stage_changed", **{"from": "overdue", "to": "written_off", "reason": "x"})
    assert apply_event(book, overdue) and apply_event(book, written_off)
    assert summary(book)["outstanding"] == "0.00" and summary(book)["financing_disbursed"] == "700000.00"


def test_a_stage_change_from_another_stage_than_the_book_holds_is_named() -> None:
    book = BankBook(bank_code="ICBC")
    apply_event(book, event(1, "A", "application.submitted", requested_amount="1.00"))
    apply_event(book, event(2, "A", "application.stage_changed", **{"from": "bank_review", "to": "account_lock"}))
    assert summary(book)["out_of_order"] == ["2: A bank_review→account_lock, book had verifying"]


class Feed:
    """`GET /v1/events` for one bank: pages of at most `limit` after an opaque cursor; with
    `replay` set, the next poll is served the page before the cursor again (a lost answer)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.polls: list[str | None] = []
        self.replay = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return httpx.Response(401, json={"code": "unauthenticated"})
        after = request.url.params.get("after")
        self.polls.append(after)
        start = int(after.removeprefix("c")) if after else 0
        if self.replay:
            start, self.replay = max(0, start - 3), False
        limit = int(request.url.params["limit"])
        page = self.events[start : start + limit]
        return httpx.Response(200, json={"items": page, "next_cursor": f"c{start + len(page)}"})


async def test_the_cursor_is_kept_with_the_book_and_a_restart_carries_on(tmp_path: Path) -> None:
    state = tmp_path / "bank-book.json"
    events = settled_loan("A", 1) + settled_loan("B", 101)
    feed = Feed(events[:5])
    transport = httpx.MockTransport(feed.handler)
    async with httpx.AsyncClient(transport=transport) as http:
        first = FeedFollower("http://platform", {"ICBC": KEY}, state)
        assert await first.poll(http, "ICBC") == 5
        assert await first.poll(http, "ICBC") == 0  # nothing new: the same cursor back
        # restarted: it reads its book and cursor back and asks from where it stood
        feed.events = events
        again = FeedFollower("http://platform", {"ICBC": KEY}, state)
        assert again.books.banks["ICBC"].cursor == "c5"
        feed.replay = True  # and the platform's page comes again, with events already applied
        while await again.poll(http, "ICBC"):
            pass
    assert feed.polls[:3] == [None, "c5", "c5"]
    book = again.books.banks["ICBC"]
    assert [line.split()[0] for loan in book.loans.values() for line in loan.events] == [e["event_id"] for e in events]
    shown = summary(book)
    assert shown["applications"]["settled"] == 2 and shown["events_applied"] == len(events)
    assert (shown["financing_disbursed"], shown["outstanding"]) == ("1400000.00", "0.00")
    # what the file and its journal hold: a second restart stands where the book stood
    assert FeedFollower("http://platform", {"ICBC": KEY}, state).books.banks["ICBC"].cursor == f"c{len(events)}"


async def test_the_hook_shows_the_book_and_says_when_no_feed_is_followed(tmp_path: Path) -> None:
    keys = tmp_path / "credentials.json"
    keys.write_text(json.dumps({"banks": {"ICBC": KEY}, "ops": "not read"}))
    followed = create_bank_app(Settings(api_url="http://127.0.0.1:9", bank_feed_credentials=keys))
    alone = create_bank_app(Settings(api_url="http://127.0.0.1:9"))
    for app, following in ((followed, True), (alone, False)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
            shown = (await http.get("/sim/book", params={"loans": "true"})).json()
        assert shown["following"] is following
        assert [b["bank_code"] for b in shown["banks"]] == (["ICBC"] if following else [])
        assert KEY not in json.dumps(shown)  # the book never shows the key it reads with


async def test_a_follower_whose_platform_is_down_waits_and_stops_when_told(tmp_path: Path) -> None:
    follower = FeedFollower("http://127.0.0.1:9", {"ICBC": KEY, "ABC": KEY}, None, idle_seconds=0.05)
    following = asyncio.create_task(follower.run())
    for _ in range(1000):  # each bank's first poll finds nothing listening (at most 10 s)
        if all(book.last_error for book in follower.books.banks.values()):
            break
        await asyncio.sleep(0.01)
    assert all(book.last_error for book in follower.books.banks.values())
    assert not following.done()  # it keeps trying
    following.cancel()
    with pytest.raises(asyncio.CancelledError):
        await following
    assert {book.cursor for book in follower.books.banks.values()} == {None}
