"""The platform's users as a chaos run plays them: banks, the purchaser, the treasury.

Each acts only through what it has in the real world — a bank through the public API with its
key, the purchaser and the treasury through the simulators' test hooks, the treasury also
signing notices itself — and retries as a real client does (`outside_world.calls.send`, the
client the demo and the other suites use): the same Idempotency-Key, the same
payment id, the same event, with a pause, for as long as its step allows. Every notice sent and
every answer heard is written down (`Sent`), because the checks compare the platform's records
with what its users were told.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx

from domain.application import SHANGHAI
from domain.money import money_str
from outside_world.calls import Attempts, Retry, Unanswered, send
from outside_world.treasury import signed_headers

POLL_SECONDS = 0.05  # "as fast as they can": the purchaser and treasury watch this often
VIEW_POLL_SECONDS = 0.1
RETRY_PAUSE = (0.3, 2.0)  # a client's back-off between attempts, growing to the upper bound
ACCOUNT_NAME = "无锡某某科技有限公司"


class StepFailed(Exception):
    """A step did not get the answer it needs within its time: the loan is reported, not retried."""


def business_today() -> date:
    return datetime.now(SHANGHAI).date()


@dataclass
class Notice:
    """One treasury payment as sent to the platform (through the simulator or signed directly)."""

    payment_id: str
    contract_no: str
    payee_account_no: str
    amount: Decimal
    to_locked_account: bool  # the treasury paid where it must: the platform has to credit it
    answers: list[str | None] = field(default_factory=list)  # each delivery: the status, None = no answer

    @property
    def first_status(self) -> str | None:
        """What the platform said the first time it answered (later ones say `duplicate`)."""
        return next((a for a in self.answers if a is not None), None)

    @property
    def answered(self) -> bool:
        return self.first_status is not None


@dataclass
class Event:
    """One purchaser's answer, as the procurement system called the platform back."""

    event_id: str
    contract_no: str
    decision: str
    answers: list[str | None] = field(default_factory=list)


@dataclass
class Sent:
    """Everything the outside world sent, and what it heard back."""

    notices: dict[str, Notice] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    supplier_repayments: dict[str, tuple[str, Decimal, str | None]] = field(default_factory=dict)
    replays_refused: list[str] = field(default_factory=list)  # a bank's retry refused, its change applied

    def notice(self, payment_id: str, contract_no: str, payee: str, amount: Decimal, locked: bool) -> Notice:
        if payment_id not in self.notices:
            self.notices[payment_id] = Notice(payment_id, contract_no, payee, amount, locked)
        return self.notices[payment_id]


Hook = Callable[[str], Awaitable[None]]


async def _nothing(_: str) -> None:
    return None


@dataclass
class World:
    handoff: dict[str, Any]
    http: httpx.AsyncClient
    rng: random.Random
    step_seconds: float
    sent: Sent = field(default_factory=Sent)
    # the chaos monkey listens here: a payout just seen at the bank, a notice about to leave
    on_payout: Hook = _nothing
    on_notice: Hook = _nothing

    @property
    def api(self) -> str:
        return str(self.handoff["api"])

    def sim(self, system: str) -> str:
        return str(self.handoff["simulators"][system])

    def bank_headers(self, bank_code: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.handoff['credentials']['banks'][bank_code]}"}

    @property
    def ops_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.handoff['credentials']['ops']}"}

    def deadline(self) -> float:
        return time.monotonic() + self.step_seconds

    def pause_seconds(self, attempt: int) -> float:
        low, high = RETRY_PAUSE
        return min(high, low * 2 ** min(attempt, 6)) * (0.5 + self.rng.random())

    async def pause(self, attempt: int) -> None:
        await asyncio.sleep(self.pause_seconds(attempt))

    # ---- requests that a real client retries ---------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        retry_statuses: Callable[[int], bool] = lambda status: status >= 500,
        deadline: float | None = None,
        what: str = "",
        sign: Callable[[], dict[str, str]] | None = None,
        tried: list[str] | None = None,
    ) -> httpx.Response:
        """The first answer that is not a transport error or a retryable status; the same
        request again (same key, same body) until then, within the step's time. `tried`
        collects what each attempt that was tried again got."""
        deadline = deadline or self.deadline()
        attempts = Attempts()
        retry = Retry(
            attempts=None,
            within=max(0.0, deadline - time.monotonic()),
            retry_on=retry_statuses,
            pause=self.pause_seconds,
        )
        try:
            response = await send(
                self.http,
                method,
                url,
                json=json_body,
                content=content,
                headers=headers,
                params=params,
                retry=retry,
                sign=sign,
                attempts=attempts,
            )
        except Unanswered:
            response = None
        if tried is not None:
            tried += attempts.tried
        if response is None or retry_statuses(response.status_code):
            last = "no answer" if response is None else f"{response.status_code} {response.text[:200]}"
            if tried is not None:
                tried.append(last)
            raise StepFailed(
                f"{what or method + ' ' + url}: gave up after {len(attempts.tried) + 1} attempts, last {last}"
            )
        return response

    # ---- the bank -------------------------------------------------------------------------

    async def view(self, application_id: str, bank_code: str) -> dict[str, Any]:
        response = await self.request(
            "GET",
            f"{self.api}/v1/applications/{application_id}",
            headers=self.bank_headers(bank_code),
            what=f"GET application {application_id}",
        )
        if response.status_code != 200:
            raise StepFailed(f"GET application {application_id}: {response.status_code} {response.text[:200]}")
        view: dict[str, Any] = response.json()
        return view

    async def until(
        self, application_id: str, bank_code: str, done: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        deadline = self.deadline()
        while True:
            view = await self.view(application_id, bank_code)
            if done(view):
                return view
            if time.monotonic() > deadline:
                raise StepFailed(f"{application_id} never {what} within {self.step_seconds:.0f} s: {view['stage']}")
            await asyncio.sleep(VIEW_POLL_SECONDS)  # polling a public read with a deadline

    async def bank_change(
        self,
        bank_code: str,
        path: str,
        body: dict[str, Any],
        key: str,
        expect: int = 200,
        took_effect: Callable[[dict[str, Any]], bool] | None = None,
        application_id: str | None = None,
    ) -> dict[str, Any]:
        """A bank's POST with its Idempotency-Key, retried with the same key on 5xx/no answer.

        API.md v1.1: the same key and body get the first answer again. When a retry is refused
        (409) after an attempt that got no answer, the bank does what a real one does — reads the
        application, and carries on if its change took effect — and the refusal is written down
        (`Sent.replays_refused`): the platform broke its idempotency promise."""
        tried: list[str] = []
        response = await self.request(
            "POST",
            f"{self.api}{path}",
            json_body=body,
            headers={**self.bank_headers(bank_code), "Idempotency-Key": key},
            what=f"POST {path}",
            tried=tried,
        )
        if response.status_code == 409 and tried and took_effect is not None and application_id is not None:
            view = await self.view(application_id, bank_code)
            if took_effect(view):
                self.sent.replays_refused.append(
                    f"POST {path} (Idempotency-Key {key}): first attempt {tried[0]}, the retry with the same "
                    f"key answered 409 {response.json().get('code')} although the change had been applied"
                )
                return view
        if response.status_code != expect:
            raise StepFailed(f"POST {path} answered {response.status_code}: {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        return answer

    # ---- the purchaser, in the procurement system --------------------------------------------

    async def purchaser_answers_when_pending(self, contract_no: str, decision: str) -> Event:
        """The moment the payee change is pending at procurement, the purchaser answers; the
        callback is redelivered until the platform has answered it."""
        procurement = self.sim("procurement")
        deadline = self.deadline()
        while True:
            state = await self.request("GET", f"{procurement}/sim/contracts/{contract_no}", deadline=deadline)
            changes = state.json().get("payee_changes", []) if state.status_code == 200 else []
            if any(c.get("status") == "pending" for c in changes):
                answer = await self.request(
                    "POST",
                    f"{procurement}/sim/contracts/{contract_no}/account-change",
                    json_body={"decision": decision},
                    deadline=deadline,
                )
                if answer.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise StepFailed(f"{contract_no}: no payee change became pending within {self.step_seconds:.0f} s")
            await asyncio.sleep(POLL_SECONDS)
        body = answer.json()
        event = self.sent.events.setdefault(body["event_id"], Event(body["event_id"], contract_no, decision))
        event.answers.append(body.get("platform_status"))
        attempt = 0
        while event.answers[-1] is None:  # the platform did not answer: the system calls again
            attempt += 1
            if time.monotonic() > deadline:
                raise StepFailed(f"{contract_no}: the platform never answered event {event.event_id}")
            await self.pause(attempt)
            again = await self.request(
                "POST", f"{procurement}/sim/events/{event.event_id}/redeliver", json_body={}, deadline=deadline
            )
            event.answers.append(again.json().get("platform_status") if again.status_code == 200 else None)
        return event

    # ---- the treasury ---------------------------------------------------------------------------

    async def payout_seen(self, contract_no: str) -> dict[str, Any]:
        """Wait until the bank has executed the loan's payout; tell the monkey at once."""
        deadline = self.deadline()
        while True:
            answer = await self.request(
                "GET", f"{self.sim('bank')}/sim/disbursements", params={"contract_no": contract_no}, deadline=deadline
            )
            items = answer.json().get("items", []) if answer.status_code == 200 else []
            if items:
                await self.on_payout(contract_no)
                first: dict[str, Any] = items[0]
                return first
            if time.monotonic() > deadline:
                raise StepFailed(f"{contract_no}: the bank paid nothing out within {self.step_seconds:.0f} s")
            await asyncio.sleep(POLL_SECONDS)

    async def treasury_pays(
        self, contract_no: str, amount: Decimal, payment_id: str, paid_on: date, locked_account: str
    ) -> Notice:
        """POST /sim/pay, again with the same payment id until the platform answered."""
        body = {
            "contract_no": contract_no,
            "amount": money_str(amount),
            "payment_id": payment_id,
            "paid_on": paid_on.isoformat(),
        }
        notice = self.sent.notice(payment_id, contract_no, locked_account, amount, locked=True)
        deadline = self.deadline()
        attempt = 0
        while True:
            attempt += 1
            await self.on_notice(payment_id)
            answer = await self.request("POST", f"{self.sim('treasury')}/sim/pay", json_body=body, deadline=deadline)
            if answer.status_code != 200:
                raise StepFailed(f"/sim/pay {payment_id}: {answer.status_code} {answer.text[:300]}")
            paid = answer.json()
            notice.payee_account_no = paid["payee_account_no"]
            notice.to_locked_account = paid["payee_account_no"] == locked_account
            notice.answers.append(paid.get("platform_status"))
            if notice.answers[-1] is not None:
                return notice
            if time.monotonic() > deadline:
                raise StepFailed(f"{payment_id}: the platform never answered the treasury's notice")
            await self.pause(attempt)

    async def notice_directly(
        self, contract_no: str, amount: Decimal, payment_id: str, paid_on: date, payee: str, locked: bool
    ) -> Notice:
        """The treasury's signed notice straight to the API (a resend, or one that overtakes
        another), signed afresh on each attempt as the treasury's sender does."""
        payload = {
            "payment_id": payment_id,
            "contract_no": contract_no,
            "payee_account_no": payee,
            "amount": money_str(amount),
            "paid_on": paid_on.isoformat(),
        }
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        secret = self.handoff["credentials"]["treasury_secret"]

        def sign() -> dict[str, str]:
            return signed_headers(secret, raw)

        notice = self.sent.notice(payment_id, contract_no, payee, amount, locked)
        await self.on_notice(payment_id)
        try:
            response = await self.request(
                "POST", f"{self.api}/v1/treasury/payments", content=raw, sign=sign, what=f"notice {payment_id}"
            )
        except StepFailed:
            notice.answers.append(None)
            raise
        if response.status_code != 202:
            notice.answers.append(None)
            raise StepFailed(f"notice {payment_id}: {response.status_code} {response.text[:300]}")
        notice.answers.append(response.json().get("status"))
        return notice
