"""A bank as the platform's public API knows it (API.md "Applications (banks)", v1.1
"Idempotency" and "Events"): its key, its applications and its event feed. Every change can
carry an Idempotency-Key; a `Retry` sends the same request with the same key again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx

from domain.application import ApplicationRequest, CollectionAccount, Decision, SupplierRepayment
from domain.stages import FINAL_STAGES, Stage
from outside_world.calls import ONCE, Attempts, Retry, expect, send

View = dict[str, Any]
POLL_SECONDS = 0.1  # how often a bank reads an application while it waits for a change


class NotReached(AssertionError):
    """An application did not get where a step waited for it to be, in time (or ended elsewhere)."""


@dataclass(frozen=True)
class EventPage:
    items: list[dict[str, Any]]
    next_cursor: str


def application_request(
    contract_no: str,
    supplier_credit_code: str,
    requested_amount: Decimal,
    account_no: str,
    account_name: str,
    product_code: str = "STD",
) -> ApplicationRequest:
    """`POST /v1/applications`'s body, checked by the platform's own model before it is sent."""
    return ApplicationRequest(
        contract_no=contract_no,
        supplier_credit_code=supplier_credit_code,
        product_code=product_code,
        requested_amount=requested_amount,
        collection_account=CollectionAccount(account_no=account_no, account_name=account_name),
    )


def approval(approved_amount: Decimal, annual_rate: Decimal, term_days: int) -> Decision:
    return Decision(decision="approve", approved_amount=approved_amount, annual_rate=annual_rate, term_days=term_days)


def rejection(reason: str) -> Decision:
    return Decision(decision="reject", reason=reason)


def _body(value: Any) -> Any:
    """A domain model as the JSON the contract shows (money as strings with two places)."""
    return value.model_dump(mode="json", exclude_none=True) if hasattr(value, "model_dump") else value


@dataclass
class Bank:
    http: httpx.AsyncClient
    api: str
    bank_code: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def _keyed(self, idempotency_key: str | None) -> dict[str, str]:
        return self.headers | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})

    async def post(
        self,
        path: str,
        body: Any,
        *,
        idempotency_key: str | None = None,
        retry: Retry = ONCE,
        attempts: Attempts | None = None,
    ) -> httpx.Response:
        """Any of the bank's POSTs, answered as it is (for a caller that judges the status)."""
        return await send(
            self.http,
            "POST",
            f"{self.api}{path}",
            json=_body(body),
            headers=self._keyed(idempotency_key),
            retry=retry,
            attempts=attempts,
        )

    async def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return await send(self.http, "GET", f"{self.api}{path}", headers=self.headers, params=params)

    # ---- the changes a bank makes ---------------------------------------------------------

    async def submit(
        self, request: ApplicationRequest | dict[str, Any], *, idempotency_key: str | None = None, retry: Retry = ONCE
    ) -> View:
        """201 with the application in `bank_review`."""
        answer = await self.post("/v1/applications", request, idempotency_key=idempotency_key, retry=retry)
        view: View = expect(answer, 201, "POST /v1/applications")
        return view

    async def decide(
        self,
        application_id: str,
        decision: Decision | dict[str, Any],
        *,
        idempotency_key: str | None = None,
        retry: Retry = ONCE,
    ) -> View:
        path = f"/v1/applications/{application_id}/decision"
        answer = await self.post(path, decision, idempotency_key=idempotency_key, retry=retry)
        view: View = expect(answer, 200, f"POST {path}")
        return view

    async def approve(
        self,
        application_id: str,
        approved_amount: Decimal,
        annual_rate: Decimal,
        term_days: int,
        *,
        idempotency_key: str | None = None,
    ) -> View:
        decision = approval(approved_amount, annual_rate, term_days)
        return await self.decide(application_id, decision, idempotency_key=idempotency_key)

    async def reject(self, application_id: str, reason: str, *, idempotency_key: str | None = None) -> View:
        return await self.decide(application_id, rejection(reason), idempotency_key=idempotency_key)

    async def withdraw(self, application_id: str, *, idempotency_key: str | None = None) -> View:
        path = f"/v1/applications/{application_id}/withdraw"
        view: View = expect(await self.post(path, {}, idempotency_key=idempotency_key), 200, f"POST {path}")
        return view

    async def report_repayment(
        self,
        application_id: str,
        repayment_id: str,
        amount: Decimal,
        paid_on: date,
        *,
        idempotency_key: str | None = None,
        retry: Retry = ONCE,
    ) -> str:
        """The supplier repaid at the bank: `accepted`, or `duplicate` for a repayment id seen."""
        path = f"/v1/applications/{application_id}/repayments"
        body = SupplierRepayment(repayment_id=repayment_id, amount=amount, paid_on=paid_on)
        answer = await self.post(path, body, idempotency_key=idempotency_key, retry=retry)
        return str(expect(answer, 200, f"POST {path}")["status"])

    async def write_off(self, application_id: str, reason: str, *, idempotency_key: str | None = None) -> View:
        path = f"/v1/applications/{application_id}/write-off"
        answer = await self.post(path, {"reason": reason}, idempotency_key=idempotency_key)
        view: View = expect(answer, 200, f"POST {path}")
        return view

    # ---- what it reads ----------------------------------------------------------------------

    async def application(self, application_id: str) -> View:
        path = f"/v1/applications/{application_id}"
        view: View = expect(await self.get(path), 200, f"GET {path}")
        return view

    async def applications(
        self,
        *,
        stage: Stage | None = None,
        contract_no: str | None = None,
        updated_since: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        params = {
            "stage": stage.value if stage else None,
            "contract_no": contract_no,
            "updated_since": updated_since.isoformat() if updated_since else None,
            "limit": limit,
            "cursor": cursor,
        }
        page: dict[str, Any] = expect(
            await self.get("/v1/applications", {k: v for k, v in params.items() if v is not None}),
            200,
            "GET /v1/applications",
        )
        return page

    async def events(self, after: str | None = None, limit: int | None = None) -> EventPage:
        """One page of the bank's feed, oldest first; `next_cursor` is where to poll next."""
        params = {"after": after, "limit": limit}
        body = expect(
            await self.get("/v1/events", {k: v for k, v in params.items() if v is not None}), 200, "GET /v1/events"
        )
        return EventPage(items=list(body["items"]), next_cursor=str(body["next_cursor"]))

    async def events_until_now(self, after: str | None = None, limit: int = 100) -> tuple[list[dict[str, Any]], str]:
        """Every event after `after` up to an empty page: (events, the cursor to poll next)."""
        events: list[dict[str, Any]] = []
        cursor = after
        while True:
            page = await self.events(cursor, limit)
            events += page.items
            cursor = page.next_cursor
            if not page.items:
                return events, cursor

    # ---- waiting, as a bank does: reading its application ------------------------------------

    async def until(
        self,
        application_id: str,
        done: Callable[[View], bool],
        what: str,
        *,
        within: float = 60.0,
        poll: float = POLL_SECONDS,
        read: Callable[[str], Any] | None = None,
    ) -> View:
        """Read the application until `done(view)`, for at most `within` seconds; a final stage
        that is not done ends the wait at once."""
        reader = read or self.application
        deadline = time.monotonic() + within
        while True:
            view: View = await reader(application_id)
            if done(view):
                return view
            ended = view.get("stage") in FINAL_STAGES
            if ended or time.monotonic() > deadline:
                raise NotReached(
                    f"application {application_id} (contract {view.get('contract_no')}) did not reach {what} "
                    f"{'but ended' if ended else f'within {within:.0f} s'}; last stage {view.get('stage')}"
                )
            await asyncio.sleep(poll)  # a bounded poll of a public read, not a race

    async def until_stage(self, application_id: str, *stages: Stage | str, within: float = 60.0) -> View:
        wanted = {Stage(s) for s in stages}
        names = "/".join(s.value for s in sorted(wanted))
        return await self.until(application_id, lambda v: Stage(v["stage"]) in wanted, f"stage {names}", within=within)
