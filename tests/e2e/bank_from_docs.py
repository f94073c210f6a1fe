"""A bank's integration written from the project's guides alone — docs/banks.md, the money
rules in docs/money.md and README's *A tour with curl* for the simulators that play the
purchaser and the treasury. Nothing here was taken from the platform's code or its contract:
every path, header, body, status and error code is the guide's, quoted where it matters, so
tests/e2e/test_bank_from_docs.py fails wherever the guide and the platform part ways.

`BankClient` is the bank's side of the API (one key, one bank), `FeedFollower` follows
`GET /v1/events` as "How to follow it" says and builds a loan book from the events alone,
`Outside` is the world the bank does not control (the simulators' test hooks).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

BUSINESS_ZONE = ZoneInfo("Asia/Shanghai")  # banks.md, Edge rules: "business dates in Asia/Shanghai"
FINAL_STAGES = frozenset({"settled", "rejected", "withdrawn", "expired", "failed", "written_off"})
STAGES = FINAL_STAGES | {"verifying", "bank_review", "account_lock", "disbursing", "repaying", "overdue"}
# banks.md, Edge rules: "a string with at most 12 digits before the point and at most 2 after";
# "Answers always carry exactly two places"
MONEY_ANSWER = re.compile(r"^[0-9]{1,12}\.[0-9]{2}$")
PROBLEM_JSON = "application/problem+json"
# banks.md, The event feed: the table of types and their `data`
EVENT_DATA: dict[str, frozenset[str]] = {
    "application.submitted": frozenset({"requested_amount"}),
    "application.stage_changed": frozenset({"from", "to", "reason"}),
    "loan.disbursed": frozenset({"amount", "disbursement_id", "disbursed_on", "maturity_date"}),
    "repayment.applied": frozenset({"source", "source_id", "amount", "penalty", "interest", "principal", "surplus"}),
    "application.attention": frozenset({"needs_attention", "reasons"}),
    "payment.misdirected": frozenset({"payment_id", "amount"}),
}
EVENT_FIELDS = frozenset({"event_id", "type", "application_id", "contract_no", "bank_code", "at", "data"})
SPLIT = ("penalty", "interest", "principal", "surplus")


def business_today() -> date:
    return datetime.now(BUSINESS_ZONE).date()


def money(value: Any) -> Decimal:
    """An amount as the platform writes it, to the fen; never a float."""
    assert isinstance(value, str) and MONEY_ANSWER.match(value), f"not money as the guide writes it: {value!r}"
    return Decimal(value)


def body_of(response: httpx.Response) -> Any:
    """The JSON of an answer with every number a Decimal: a float cannot sneak in."""
    return json.loads(response.content, parse_float=Decimal)


# ---- unified social credit codes ----------------------------------------------------------
# banks.md refuses "a credit code whose check character is wrong". A code (GB 32100-2015) has
# two: characters 9-17 are an organisation code with its own check character (GB 11714), and the
# 18th checks the whole — the platform refuses either one wrong

_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def organisation_code(body8: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body8 + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(body17: str) -> str:
    total = sum(_CODE_CHARS.index(c) * w for c, w in zip(body17, _WEIGHTS, strict=True))
    return body17 + _CODE_CHARS[(31 - total % 31) % 31]


def fresh_credit_code() -> str:
    return credit_code("91320200" + organisation_code(f"{uuid.uuid4().int % 10**8:08d}"))


def wrong_check_character(code: str) -> str:
    return code[:-1] + _CODE_CHARS[(_CODE_CHARS.index(code[-1]) + 1) % 31]


# ---- the bank's calls ---------------------------------------------------------------------


@dataclass
class Problem:
    """A refusal as banks.md, *What an error looks like*, describes it."""

    status: int
    code: str
    content_type: str
    body: dict[str, Any]


def problem(response: httpx.Response) -> Problem:
    content = body_of(response)
    assert isinstance(content, dict), response.text
    return Problem(response.status_code, content.get("code", ""), response.headers.get("content-type", ""), content)


def refused(response: httpx.Response, status: int, code: str) -> Problem:
    """The answer is the documented refusal: status, `code`, problem+json with `status` in it."""
    assert response.status_code == status, f"expected {status} {code}, got {response.status_code}: {response.text}"
    found = problem(response)
    assert found.content_type.split(";")[0].strip() == PROBLEM_JSON, found.content_type
    assert found.code == code, response.text
    assert found.body.get("status") == status, response.text
    assert isinstance(found.body.get("detail"), str) and isinstance(found.body.get("title"), str), response.text
    if status == 503:
        assert response.headers.get("Retry-After", "").isdigit(), response.headers
    return found


class BankClient:
    """One bank's key on the platform's API (banks.md, *Authentication*)."""

    def __init__(self, api: str, key: str | None, http: httpx.Client) -> None:
        self.api = api.rstrip("/")
        self.http = http
        self.auth = {"Authorization": f"Bearer {key}"} if key is not None else {}

    def _headers(self, idempotency_key: str | None) -> dict[str, str]:
        headers = dict(self.auth)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def post(
        self, path: str, body: Any = None, idempotency_key: str | None = None, *, raw: bytes | None = None, **kw: Any
    ) -> httpx.Response:
        headers = self._headers(idempotency_key) | {"Content-Type": "application/json"}
        content = raw if raw is not None else (None if body is None else json.dumps(body, ensure_ascii=False))
        return self.http.post(f"{self.api}{path}", content=content, headers=headers, **kw)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return self.http.get(f"{self.api}{path}", params=params, headers=self.auth)

    # each call of the guide, by its own name

    def submit(self, application: dict[str, Any], idempotency_key: str | None, **kw: Any) -> httpx.Response:
        return self.post("/v1/applications", application, idempotency_key, **kw)

    def application(self, application_id: str) -> httpx.Response:
        return self.get(f"/v1/applications/{application_id}")

    def applications(self, **params: Any) -> httpx.Response:
        return self.get("/v1/applications", params)

    def decide(self, application_id: str, decision: dict[str, Any], idempotency_key: str | None) -> httpx.Response:
        return self.post(f"/v1/applications/{application_id}/decision", decision, idempotency_key)

    def withdraw(
        self, application_id: str, reason: dict[str, Any] | None, idempotency_key: str | None
    ) -> httpx.Response:
        return self.post(f"/v1/applications/{application_id}/withdraw", reason, idempotency_key)

    def repay(self, application_id: str, repayment: dict[str, Any], idempotency_key: str | None) -> httpx.Response:
        return self.post(f"/v1/applications/{application_id}/repayments", repayment, idempotency_key)

    def write_off(self, application_id: str, reason: dict[str, Any], idempotency_key: str | None) -> httpx.Response:
        return self.post(f"/v1/applications/{application_id}/write-off", reason, idempotency_key)

    def events(self, after: str | None = None, limit: int | None = None) -> httpx.Response:
        params: dict[str, Any] = {}
        if after is not None:
            params["after"] = after
        if limit is not None:
            params["limit"] = limit
        return self.get("/v1/events", params)

    # reading as the guide promises

    def read(self, application_id: str) -> dict[str, Any]:
        response = self.application(application_id)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = body_of(response)
        return found

    def every_page(self, limit: int, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        """All applications a filter finds, following `next_cursor` until it is null."""
        items: list[dict[str, Any]] = []
        pages = 0
        params: dict[str, Any] = {**filters, "limit": limit}
        while True:
            response = self.applications(**params)
            assert response.status_code == 200, response.text
            page = body_of(response)
            assert set(page) == {"items", "next_cursor"}, page.keys()
            assert len(page["items"]) <= limit
            items.extend(page["items"])
            pages += 1
            if page["next_cursor"] is None:
                return items, pages
            params["cursor"] = page["next_cursor"]

    def until(
        self,
        application_id: str,
        *stages: str,
        within: float = 90,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Read one application until it reaches one of `stages` (and `where` holds): the
        platform works on its own after the purchaser's or the treasury's answer. Bounded, and
        says where it stuck."""
        deadline = time.monotonic() + within
        while True:
            found = self.read(application_id)
            if found["stage"] in stages and (where is None or where(found)):
                return found
            if found["stage"] not in stages:
                assert found["stage"] not in FINAL_STAGES, f"ended {found['stage']}, waiting for {stages}: {found}"
            assert time.monotonic() < deadline, f"still {found['stage']} after {within:.0f} s, waiting for {stages}"
            time.sleep(0.25)  # polling a process that runs elsewhere

    def message(self, application_id: str, message_id: str, *outcomes: str, within: float = 60) -> dict[str, Any]:
        """The application's `messages` entry for one message, read until its outcome is one
        of `outcomes` (a repayment is `waiting` until the financing applies it)."""
        deadline = time.monotonic() + within
        while True:
            found = self.read(application_id)
            entries = [m for m in found["messages"] if m["message_id"] == message_id]
            assert len(entries) <= 1, entries
            if entries and entries[0]["outcome"] in outcomes:
                return found
            assert time.monotonic() < deadline, f"{message_id} not {outcomes} after {within:.0f} s: {entries}"
            time.sleep(0.1)  # polling a process that runs elsewhere


def retried(send: Callable[[], httpx.Response], attempts: int = 20) -> tuple[httpx.Response, int]:
    """banks.md, *Retries and 503*: on a timeout, a connection error or a 503, wait at least
    `Retry-After` and repeat the same request (with the same Idempotency-Key). Returns the
    answer and how many attempts went unanswered or were 503 before it."""
    failures = 0
    for _ in range(attempts):
        try:
            response = send()
        except (httpx.TimeoutException, httpx.TransportError):
            failures += 1
            continue
        if response.status_code != 503:
            return response, failures
        refused(response, 503, "upstream_unavailable")
        failures += 1
        time.sleep(int(response.headers["Retry-After"]))  # the guide's instruction, not a guess
    raise AssertionError(f"no answer after {attempts} attempts")


# ---- the event feed -----------------------------------------------------------------------


@dataclass
class BookEntry:
    """What a bank knows about one application from the feed alone."""

    contract_no: str
    stage: str | None = None
    stages: list[str] = field(default_factory=list)
    requested_amount: Decimal | None = None
    disbursed: Decimal | None = None
    disbursement_id: str | None = None
    disbursed_on: str | None = None
    maturity_date: str | None = None
    received: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(("amount", *SPLIT), Decimal("0.00")))
    repayments: list[dict[str, Any]] = field(default_factory=list)
    needs_attention: bool = False


class FeedFollower:
    """banks.md, *How to follow it*: start without `after`, process in order, keep
    `next_cursor`, poll with it; handle by `event_id` so an event seen twice counts once."""

    def __init__(self, bank: BankClient, bank_code: str, limit: int = 100) -> None:
        self.bank = bank
        self.bank_code = bank_code
        self.limit = limit
        self.cursor: str | None = None
        self.last_id: int | None = None
        self.seen: set[str] = set()
        self.events: list[dict[str, Any]] = []
        self.book: dict[str, BookEntry] = {}
        self.pages = 0

    def poll(self) -> list[dict[str, Any]]:
        """Every event waiting, page after page while pages are full; returns the new ones."""
        new: list[dict[str, Any]] = []
        while True:
            sent = self.cursor
            response = self.bank.events(after=sent, limit=self.limit)
            assert response.status_code == 200, response.text
            page = body_of(response)
            assert set(page) == {"items", "next_cursor"}, page.keys()
            assert isinstance(page["next_cursor"], str) and page["next_cursor"], "next_cursor is never null"
            if not page["items"] and sent is not None:
                assert page["next_cursor"] == sent, "on an empty page it is the cursor you sent"
            self.pages += 1
            for event in page["items"]:
                if self.take(event):
                    new.append(event)
            self.cursor = page["next_cursor"]
            if len(page["items"]) < self.limit:
                return new

    def take(self, event: dict[str, Any]) -> bool:
        assert set(event) == EVENT_FIELDS, f"fields of an event: {sorted(event)}"
        if event["event_id"] in self.seen:
            return False
        event_id = int(event["event_id"])  # ids grow with the feed's order
        assert self.last_id is None or event_id > self.last_id, f"out of order: {event_id} after {self.last_id}"
        self.last_id = event_id
        self.seen.add(event["event_id"])
        assert event["bank_code"] == self.bank_code, "never another bank's application"
        assert event["type"] in EVENT_DATA, f"type not in the guide: {event['type']}"
        assert set(event["data"]) == EVENT_DATA[event["type"]], f"{event['type']} data: {sorted(event['data'])}"
        assert datetime.fromisoformat(event["at"]).utcoffset() is not None, event["at"]
        self.events.append(event)
        self.apply(event)
        return True

    def apply(self, event: dict[str, Any]) -> None:
        entry = self.book.setdefault(event["application_id"], BookEntry(event["contract_no"]))
        data = event["data"]
        kind = event["type"]
        if kind == "application.submitted":
            entry.requested_amount = money(data["requested_amount"])
        elif kind == "application.stage_changed":
            assert data["to"] in STAGES and (data["from"] is None or data["from"] in STAGES), data
            if entry.stage is not None:
                assert data["from"] == entry.stage, f"{data} after {entry.stage}"
            elif data["from"] is not None:
                entry.stages.append(data["from"])  # where it started (`verifying`)
            entry.stage = data["to"]
            entry.stages.append(data["to"])
        elif kind == "loan.disbursed":
            assert entry.disbursed is None, "paid out exactly once"
            entry.disbursed = money(data["amount"])
            entry.disbursement_id = data["disbursement_id"]
            entry.disbursed_on = data["disbursed_on"]
            entry.maturity_date = data["maturity_date"]
        elif kind == "repayment.applied":
            assert data["source"] in {"treasury", "supplier", "recovery"}, data
            parts = {name: money(data[name]) for name in ("amount", *SPLIT)}
            assert sum(parts[name] for name in SPLIT) == parts["amount"], f"a split adds up: {data}"
            for name, value in parts.items():
                entry.received[name] += value
            entry.repayments.append(data)
        elif kind == "application.attention":
            entry.needs_attention = bool(data["needs_attention"])

    def of(self, application_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["application_id"] == application_id and kind in (None, e["type"])]


# ---- the outside world: README's tour, the simulators' hooks ------------------------------


class Outside:
    """The procurement system and the treasury, played through the simulators' test hooks."""

    def __init__(self, simulators: Mapping[str, str], http: httpx.Client) -> None:
        self.sims = {name: url.rstrip("/") for name, url in simulators.items()}
        self.http = http

    def contract(
        self, amount: str = "1000000.00", paid_amount: str = "0.00", status: str = "effective"
    ) -> dict[str, Any]:
        """A contract the procurement system knows (tour step 1), with its own number and supplier."""
        contract = {
            "contract_no": f"WX-2026-D{uuid.uuid4().hex[:8].upper()}",
            "project_name": "智慧校园设备采购",
            "purchaser": {"code": "WX-LX-EDU", "name": "无锡市梁溪区教育局", "district": "梁溪区"},
            "supplier": {"credit_code": fresh_credit_code(), "name": "无锡某某科技有限公司"},
            "amount": amount,
            "paid_amount": paid_amount,
            "signed_on": "2026-09-01",
            "expected_payment_date": "2027-03-31",
            "status": status,
            "payee_account_no": "6222000000009999",
        }
        response = self.http.post(f"{self.sims['procurement']}/sim/contracts", json=contract)
        assert response.status_code == 201, response.text
        return contract

    def purchaser_decides(self, contract_no: str, decision: str = "confirmed") -> dict[str, Any]:
        """Tour step 4: the purchaser answers; the procurement system calls the platform back."""
        response = self.http.post(
            f"{self.sims['procurement']}/sim/contracts/{contract_no}/account-change", json={"decision": decision}
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = body_of(response)
        return answer

    def treasury_pays(
        self, contract_no: str, amount: str, paid_on: str | None = None, payee_account_no: str | None = None
    ) -> dict[str, Any]:
        """Tour step 5: the treasury pays contract money (into the locked account unless told)."""
        body: dict[str, Any] = {"contract_no": contract_no, "amount": amount}
        if paid_on is not None:
            body["paid_on"] = paid_on
        if payee_account_no is not None:
            body["payee_account_no"] = payee_account_no
        response = self.http.post(f"{self.sims['treasury']}/sim/pay", json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = body_of(response)
        return answer

    def disbursements(self, contract_no: str) -> list[dict[str, Any]]:
        """Tour step 4: what the bank's core system paid out on the contract."""
        response = self.http.get(f"{self.sims['bank']}/sim/disbursements", params={"contract_no": contract_no})
        assert response.status_code == 200, response.text
        found = body_of(response)
        items: list[dict[str, Any]] = found["items"] if isinstance(found, dict) else found
        return items


def application_for(contract: Mapping[str, Any], requested_amount: str = "700000.00") -> dict[str, Any]:
    """The submission body of banks.md, *Submit an application*, for one contract."""
    return {
        "contract_no": contract["contract_no"],
        "supplier_credit_code": contract["supplier"]["credit_code"],
        "product_code": "STD",
        "requested_amount": requested_amount,
        "collection_account": {"account_no": "6222020000000001", "account_name": "无锡某某科技有限公司"},
    }
