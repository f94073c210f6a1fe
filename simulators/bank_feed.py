"""Each bank's book, built from the platform's event feed alone — what a bank's own system does
with `GET /v1/events` (API.md v1.1 "Events"; docs/banks.md uses this as its worked example).

For every bank whose key it holds, a loop polls `GET /v1/events?after=<cursor>` with that key,
applies each event to the bank's book and keeps the cursor beside the book in the state file,
written in one atomic step after each page: a restart (of this process, of the API, of a
worker) resumes where the book stands, and no event is applied twice — the event ids of the
latest pages are kept too, so a page served again is recognised by id. The book knows only what
events say: each application's stage, what was paid out, what was repaid and how it was split;
`GET /sim/book` shows it (with each application's events in the order applied) so the demo and
the tests can hold it against the platform's own figures (`/v1/stats`).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import structlog
from pydantic import BaseModel, Field

from domain.money import ZERO, Money, money_str
from domain.stages import Stage
from simulators.clock import now
from simulators.state import StateStore

log = structlog.get_logger("simulators.bank_feed")

PAGE = 200  # events asked for per poll
RECENT_IDS = 2000  # event ids remembered per bank: far more than a page served again can hold
# seconds between polls while the feed has news (at most the idle setting); after an empty page
# the pause doubles up to the setting. Every poll is an audited read at the API: a bank's system
# polls every second or so, not as fast as it can
BUSY_PAUSE = 1.0


class LoanInBook(BaseModel):
    application_id: str
    contract_no: str
    stage: Stage = Stage.VERIFYING  # submitted into verification (the feed announces later stages)
    requested_amount: Money = ZERO
    disbursed: Money | None = None
    disbursement_id: str | None = None
    principal_repaid: Money = ZERO
    interest_paid: Money = ZERO
    penalty_paid: Money = ZERO
    surplus_released: Money = ZERO
    needs_attention: bool = False
    misdirected_payments: int = 0
    events: list[str] = Field(default_factory=list)  # "<event_id> <type>[ <to>]", in the order applied

    @property
    def outstanding(self) -> Decimal:
        """Principal still owed on the bank's book (a written-off loan has left it)."""
        if self.disbursed is None or self.stage == Stage.WRITTEN_OFF:
            return ZERO
        return self.disbursed - self.principal_repaid


class BankBook(BaseModel):
    bank_code: str
    cursor: str | None = None  # the feed's next_cursor: where to poll next
    events_applied: int = 0
    recent_ids: list[str] = Field(default_factory=list)
    out_of_order: list[str] = Field(default_factory=list)  # a stage change whose `from` was not the book's stage
    loans: dict[str, LoanInBook] = Field(default_factory=dict)
    # what the follower last saw: shown by /sim/book, not kept (a restarted follower polls again
    # at once), so a poll that brought nothing new writes nothing
    polled_at: datetime | None = Field(default=None, exclude=True)
    last_error: str | None = Field(default=None, exclude=True)


class Books(BaseModel):
    banks: dict[str, BankBook] = Field(default_factory=dict)


def _money(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value))


def apply_event(book: BankBook, event: dict[str, Any]) -> bool:
    """Apply one event to the book; False (and nothing changes) when its id was applied already."""
    event_id = str(event["event_id"])
    if event_id in book.recent_ids:
        return False
    data: dict[str, Any] = event.get("data") or {}
    app_id = str(event["application_id"])
    loan = book.loans.get(app_id)
    if loan is None:
        loan = book.loans[app_id] = LoanInBook(application_id=app_id, contract_no=str(event["contract_no"]))
    kind = str(event["type"])
    label = f"{event_id} {kind}"
    if kind == "application.submitted":
        loan.requested_amount = _money(data.get("requested_amount"))
    elif kind == "application.stage_changed":
        if data.get("from") != loan.stage:
            book.out_of_order.append(f"{event_id}: {app_id} {data.get('from')}→{data.get('to')}, book had {loan.stage}")
        loan.stage = Stage(data["to"])
        label += f" {loan.stage.value}"
    elif kind == "loan.disbursed":
        loan.disbursed = _money(data.get("amount"))
        loan.disbursement_id = data.get("disbursement_id")
    elif kind == "repayment.applied":
        loan.penalty_paid += _money(data.get("penalty"))
        loan.interest_paid += _money(data.get("interest"))
        loan.principal_repaid += _money(data.get("principal"))
        loan.surplus_released += _money(data.get("surplus"))
    elif kind == "application.attention":
        loan.needs_attention = bool(data.get("needs_attention"))
    elif kind == "payment.misdirected":
        loan.misdirected_payments += 1
    loan.events.append(label)
    book.events_applied += 1
    book.recent_ids.append(event_id)
    del book.recent_ids[:-RECENT_IDS]
    return True


_REPAID = (
    ("principal", "principal_repaid"),
    ("interest", "interest_paid"),
    ("penalty", "penalty_paid"),
    ("surplus", "surplus_released"),
)


def summary(book: BankBook, *, with_loans: bool = False) -> dict[str, Any]:
    """The bank's book in the figures `/v1/stats` gives per bank, and what the feed says besides."""
    loans = list(book.loans.values())
    paid_out = [loan for loan in loans if loan.disbursed is not None]
    stages = Counter(loan.stage.value for loan in loans)
    shown: dict[str, Any] = {
        "bank_code": book.bank_code,
        "applications": {stage.value: stages.get(stage.value, 0) for stage in Stage},
        "financing_disbursed": money_str(sum((loan.disbursed or ZERO for loan in paid_out), ZERO)),
        "outstanding": money_str(sum((loan.outstanding for loan in paid_out), ZERO)),
        "loans": len(paid_out),
        "repaid": {
            part: money_str(sum((getattr(loan, f"{part}_{verb}") for loan in loans), ZERO))
            for part, verb in (
                ("principal", "repaid"),
                ("interest", "paid"),
                ("penalty", "paid"),
                ("surplus", "released"),
            )
        },
        "needs_attention": sum(1 for loan in loans if loan.needs_attention),
        "events_applied": book.events_applied,
        "out_of_order": list(book.out_of_order),
        "cursor": book.cursor,
        "polled_at": book.polled_at.isoformat() if book.polled_at else None,
        "last_error": book.last_error,
    }
    if with_loans:
        shown["loans_in_book"] = [
            loan.model_dump(mode="json") | {"outstanding": money_str(loan.outstanding)} for loan in loans
        ]
    return shown


def read_bank_keys(path: Path) -> dict[str, str]:
    """`{"banks": {code: key}}` (the local stack's credentials.json has that member)."""
    document = json.loads(path.read_text())
    return {str(code): str(key) for code, key in dict(document["banks"]).items()}


class FeedFollower:
    """One polling loop per bank, each with that bank's key."""

    def __init__(
        self,
        api_url: str,
        keys: dict[str, str],
        state_file: Path | None,
        *,
        idle_seconds: float = 5.0,
        http_timeout: float = 10.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.keys = keys
        self.store = StateStore(Books, state_file)
        self.idle_seconds = idle_seconds
        self.http_timeout = http_timeout
        added = [code for code in keys if code not in self.store.state.banks]
        for code in added:
            self.store.state.banks[code] = BankBook(bank_code=code)
        if added:
            self.store.save()

    @property
    def books(self) -> Books:
        return self.store.state

    async def poll(self, http: httpx.AsyncClient, bank_code: str) -> int:
        """One page of the bank's feed applied and kept with its cursor: how many events were new.
        Raises httpx errors (no answer) and `FeedRefused` (an answer other than 200)."""
        book = self.books.banks[bank_code]
        params: dict[str, Any] = {"limit": PAGE} | ({"after": book.cursor} if book.cursor else {})
        answer = await http.get(
            f"{self.api_url}/v1/events", params=params, headers={"Authorization": f"Bearer {self.keys[bank_code]}"}
        )
        if answer.status_code != 200:
            raise FeedRefused(f"GET /v1/events answered {answer.status_code}")
        page = answer.json()
        applied = sum(1 for event in page["items"] if apply_event(book, event))
        moved = page["next_cursor"] != book.cursor
        book.cursor = page["next_cursor"]
        book.polled_at, book.last_error = now(), None
        if applied or moved:
            self.store.save(("banks", bank_code))  # the book and its cursor, in one write
        return len(page["items"])

    async def follow(self, http: httpx.AsyncClient, bank_code: str) -> None:
        busy = min(BUSY_PAUSE, self.idle_seconds)
        pause = busy
        while True:
            try:
                seen = await self.poll(http, bank_code)
            except (httpx.HTTPError, FeedRefused, ValueError, KeyError) as error:
                # the API restarting, not up yet, or answering oddly: try again, more slowly
                problem = f"{type(error).__name__}: {error}"
                if self.books.banks[bank_code].last_error != problem:
                    log.info("bank_feed.unavailable", bank_code=bank_code, problem=problem)
                self.books.banks[bank_code].last_error = problem
                pause = min(self.idle_seconds, pause * 2)
            else:
                pause = 0.0 if seen >= PAGE else (busy if seen else min(self.idle_seconds, pause * 2))
            await asyncio.sleep(pause)

    async def run(self) -> None:
        """Follow every bank's feed until cancelled."""
        async with httpx.AsyncClient(timeout=self.http_timeout) as http, asyncio.TaskGroup() as group:
            for n, code in enumerate(sorted(self.keys)):
                group.create_task(self._started_after(n * 0.05, http, code), name=f"bank-feed-{code}")

    async def _started_after(self, delay: float, http: httpx.AsyncClient, bank_code: str) -> None:
        await asyncio.sleep(delay)  # spread the banks' polls rather than all at one instant
        await self.follow(http, bank_code)


class FeedRefused(Exception):
    """The feed answered, but not with a page (401: a key the platform does not know, 5xx, …)."""
