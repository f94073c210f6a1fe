"""A newcomer's bank, integrated from docs/ alone (issue 12, "Done means"), on the real stack.

`zcd run` starts the platform as `make run` does (tests/e2e/local_stack.py); the scripted bank
of tests/e2e/bank_from_docs.py then does what docs/banks.md tells it — authenticate, submit
with an Idempotency-Key and replay it, read and list with the documented filters and cursors,
decide, withdraw, report repayments — and plays the purchaser and the treasury only through
the simulators' hooks of README's tour. Every refusal the guide documents for a bank's calls
is triggered where it is cheap and checked for its status, `code` and problem+json; the event
feed is followed as the guide says and must tell the same story as the GETs; the figures are
docs/money.md's worked examples, to the fen.

The tests share one stack and one follower of ICBC's feed, and run in file order: the last
one reconciles the whole book built from the feed with the applications read one by one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.bank_from_docs import (
    BUSINESS_ZONE,
    SPLIT,
    BankClient,
    FeedFollower,
    Outside,
    application_for,
    body_of,
    business_today,
    fresh_credit_code,
    money,
    refused,
    retried,
    wrong_check_character,
)
from tests.e2e.local_stack import LocalStack

pytestmark = pytest.mark.e2e

REPLAYED = "Idempotent-Replayed"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    local = LocalStack.in_temporary_directory()
    try:
        yield local
    finally:
        local.remove()


@pytest.fixture(scope="module")
def dev(stack: LocalStack) -> dict[str, Any]:

    return stack.start()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def icbc(dev: dict[str, Any], http: httpx.Client) -> BankClient:
    return BankClient(dev["api"], dev["credentials"]["banks"]["ICBC"], http)


@pytest.fixture(scope="module")
def abc(dev: dict[str, Any], http: httpx.Client) -> BankClient:
    return BankClient(dev["api"], dev["credentials"]["banks"]["ABC"], http)


@pytest.fixture(scope="module")
def outside(dev: dict[str, Any], http: httpx.Client) -> Outside:
    return Outside(dev["simulators"], http)


@pytest.fixture(scope="module")
def feed(icbc: BankClient) -> FeedFollower:
    return FeedFollower(icbc, "ICBC")


def feed_has_caught_up(feed: FeedFollower, seen: dict[str, Any]) -> None:
    """banks.md: a change "is in the feed **before** any read can show the change"."""
    feed.poll()
    entry = feed.book.get(seen["application_id"])
    assert entry is not None, f"the feed knows nothing of {seen['application_id']}, a read showed {seen['stage']}"
    assert seen["stage"] in entry.stages, f"a read showed {seen['stage']}, the feed only {entry.stages}"


def submitted(bank: BankClient, outside: Outside, requested: str = "700000.00", **contract: str) -> dict[str, Any]:
    terms = outside.contract(**contract)
    response = bank.submit(application_for(terms, requested), f"app-{terms['contract_no']}")
    assert response.status_code == 201, response.text
    found: dict[str, Any] = body_of(response)
    assert found["stage"] == "bank_review", found
    return found


def approve(bank: BankClient, app: dict[str, Any], rate: str = "0.0385", term_days: int = 180) -> dict[str, Any]:
    decision = {
        "decision": "approve",
        "approved_amount": app["requested_amount"],
        "annual_rate": rate,
        "term_days": term_days,
    }
    response = bank.decide(app["application_id"], decision, f"decide-{app['application_id']}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = body_of(response)
    assert found["stage"] == "account_lock", found
    return found


def repaying(bank: BankClient, outside: Outside, app: dict[str, Any]) -> dict[str, Any]:
    """The purchaser confirms the payee change; the platform locks and pays out."""
    answer = outside.purchaser_decides(app["contract_no"], "confirmed")
    assert answer.get("platform_status") == "accepted", answer
    return bank.until(app["application_id"], "repaying")


# ---- Authentication -----------------------------------------------------------------------


def test_keys_say_who_you_are(
    stack: LocalStack, dev: dict[str, Any], http: httpx.Client, icbc: BankClient, outside: Outside
) -> None:
    nobody = BankClient(dev["api"], None, http)
    stranger = BankClient(dev["api"], "zcd_" + "x" * 43, http)
    refused(nobody.applications(), 401, "unauthenticated")
    refused(stranger.applications(), 401, "unauthenticated")
    refused(nobody.events(), 401, "unauthenticated")
    # "On a POST this is answered before the body is read": a broken body is still 401
    refused(nobody.submit({}, "k-1", raw=b"{not json"), 401, "unauthenticated")
    refused(stranger.decide("0" * 32, {"decision": "approve"}, "k-2"), 401, "unauthenticated")

    # "A valid key on an endpoint that is not for banks (the operations endpoints): 403"
    for path in ("/v1/stats", "/v1/ops/stuck"):
        refused(icbc.get(path), 403, "forbidden")

    # keys issued by the operators (`zcd keys issue --bank <code>`) and revoked "at once"
    issued = stack.zcd("keys", "issue", "--bank", "ICBC", "--database-url", dev["database_url"], timeout=120)
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip().split()[-1]
    second = BankClient(dev["api"], key, http)
    mine = submitted(icbc, outside)
    listed = body_of(second.applications(contract_no=mine["contract_no"]))["items"]
    assert [a["application_id"] for a in listed] == [mine["application_id"]], "the bank is the key's, not the body's"
    revoked = stack.zcd("keys", "revoke", key, "--database-url", dev["database_url"], timeout=120)
    assert revoked.returncode == 0, revoked.stderr
    refused(second.applications(), 401, "unauthenticated")


# ---- one financing, submission to settlement (README's tour, money.md example 1) ---------


def test_a_financing_from_submission_to_settlement(
    icbc: BankClient, abc: BankClient, outside: Outside, feed: FeedFollower
) -> None:
    contract = outside.contract()
    body = application_for(contract)
    key = f"app-{contract['contract_no']}-1"

    first = icbc.submit(body, key)
    assert first.status_code == 201, first.text
    assert first.headers.get(REPLAYED) != "true"
    app = body_of(first)
    app_id = app["application_id"]
    assert app["stage"] == "bank_review" and app["bank_code"] == "ICBC"
    assert app["contract_no"] == contract["contract_no"]
    assert money(app["requested_amount"]) == Decimal("700000.00")
    profile = app["credit_profile"]
    assert isinstance(profile["score"], int) and 0 <= profile["score"] <= 100, profile
    assert isinstance(profile["grade"], str) and profile["grade"], profile
    assert money(app["eligible_maximum"]) == Decimal("900000.00"), "money.md example 6, first row"
    # "A value not known yet is null; a balance before the payout is "0.00""
    for unknown in ("approved_amount", "annual_rate", "term_days", "disbursed_on", "maturity_date"):
        assert app[unknown] is None, (unknown, app[unknown])
    for balance in ("outstanding_principal", "interest_paid", "penalty_paid", "principal_repaid", "surplus_released"):
        assert app[balance] == "0.00", (balance, app[balance])
    for instant in app["timeline"]:
        assert instant["at"].endswith("+08:00"), "the platform writes instants in +08:00"

    # the same request again — other spacing, other key order — is the first answer again
    again = json.dumps(dict(reversed(list(body.items()))), ensure_ascii=False, indent=2).encode()
    replay = icbc.submit({}, key, raw=again)
    assert replay.status_code == 201, replay.text
    assert replay.headers.get(REPLAYED) == "true"
    assert body_of(replay) == app, "same status, same body, same application_id"
    refused(icbc.submit({**body, "requested_amount": "600000.00"}, key), 422, "idempotency_key_mismatch")
    refused(icbc.submit(body, f"{key}-other"), 409, "contract_already_financed")

    # the read shows what the 201 said; the guide's fields are all there
    read = icbc.read(app_id)
    for name in (
        "stage",
        "requested_amount",
        "approved_amount",
        "annual_rate",
        "term_days",
        "disbursed_on",
        "maturity_date",
        "outstanding_principal",
        "interest_paid",
        "penalty_paid",
        "principal_repaid",
        "surplus_released",
        "interest_due",
        "penalty_due",
        "needs_attention",
        "attention_reasons",
        "timeline",
        "messages",
        "credit_profile",
        "eligible_maximum",
    ):
        assert name in read, f"banks.md names `{name}` in an application"
    assert read["stage"] == "bank_review"
    feed_has_caught_up(feed, read)

    # not for another bank, not before a decision
    refused(abc.application(app_id), 404, "not_found")
    refused(
        icbc.repay(app_id, {"repayment_id": "R-x", "amount": "1.00", "paid_on": str(business_today())}, "r"),
        409,
        "invalid_state",
    )

    # Decide: every documented 422, each under the key the approval will then use — "A refusal
    # is not remembered"
    decide_key = f"decide-{app_id}"
    approval = {"decision": "approve", "approved_amount": "700000.00", "annual_rate": "0.0385", "term_days": 180}
    for wrong in (
        {"approved_amount": "0.00"},
        {"approved_amount": "700000.01"},  # above the requested amount
        {"approved_amount": 700000.0},  # a float is not money
        {"annual_rate": "0.0299"},
        {"annual_rate": "0.0601"},
        {"term_days": 0},
        {"term_days": 366},
    ):
        refused(icbc.decide(app_id, {**approval, **wrong}, decide_key), 422, "validation_error")
    refused(abc.decide(app_id, approval, decide_key), 404, "not_found")
    decided = icbc.decide(app_id, approval, decide_key)
    assert decided.status_code == 200, decided.text
    locked = body_of(decided)
    assert locked["stage"] == "account_lock", locked
    assert (locked["approved_amount"], locked["annual_rate"], locked["term_days"]) == ("700000.00", "0.0385", 180)
    replayed = icbc.decide(app_id, approval, decide_key)
    assert replayed.status_code == 200 and replayed.headers.get(REPLAYED) == "true", replayed.text
    assert body_of(replayed) == locked
    refused(icbc.decide(app_id, {**approval, "term_days": 90}, decide_key), 422, "idempotency_key_mismatch")
    refused(icbc.decide(app_id, {"decision": "reject", "reason": "late"}, f"{decide_key}-2"), 409, "invalid_state")
    feed_has_caught_up(feed, icbc.read(app_id))

    # the purchaser confirms; the platform locks the account and pays out, exactly once
    loan = repaying(icbc, outside, app)
    disbursed_on = date.fromisoformat(loan["disbursed_on"])
    assert disbursed_on == business_today()
    assert loan["maturity_date"] == str(disbursed_on + timedelta(days=180)), "money.md rule 5"
    assert money(loan["outstanding_principal"]) == Decimal("700000.00")
    payouts = outside.disbursements(contract["contract_no"])
    assert len(payouts) == 1, payouts
    feed_has_caught_up(feed, loan)
    (paid_out,) = feed.of(app_id, "loan.disbursed")
    assert money(paid_out["data"]["amount"]) == Decimal("700000.00")
    assert (paid_out["data"]["disbursed_on"], paid_out["data"]["maturity_date"]) == (
        loan["disbursed_on"],
        loan["maturity_date"],
    )
    refused(icbc.withdraw(app_id, {"reason": "too late"}, f"withdraw-{app_id}"), 409, "invalid_state")
    refused(icbc.write_off(app_id, {"reason": "not overdue"}, f"wo-{app_id}"), 409, "invalid_state")

    # money.md example 1: the treasury pays the whole contract the day of the payout
    paid = outside.treasury_pays(contract["contract_no"], "1000000.00", paid_on=loan["disbursed_on"])
    assert paid.get("platform_status") == "accepted", paid
    settled = icbc.until(app_id, "settled")
    assert money(settled["interest_paid"]) == Decimal("74.86")
    assert money(settled["principal_repaid"]) == Decimal("700000.00")
    assert money(settled["surplus_released"]) == Decimal("299925.14")
    assert money(settled["penalty_paid"]) == Decimal("0.00")
    assert money(settled["outstanding_principal"]) == Decimal("0.00")
    feed_has_caught_up(feed, settled)
    (applied,) = feed.of(app_id, "repayment.applied")
    assert applied["data"]["source"] == "treasury" and applied["data"]["source_id"] == paid["payment_id"]
    assert {name: money(applied["data"][name]) for name in ("amount", *SPLIT)} == {
        "amount": Decimal("1000000.00"),
        "penalty": Decimal("0.00"),
        "interest": Decimal("74.86"),
        "principal": Decimal("700000.00"),
        "surplus": Decimal("299925.14"),
    }
    # money.md, Where the figures show: "Each entry of `messages` that was applied carries its own split"
    splits = [m for m in settled["messages"] if m.get("interest") is not None]
    assert [tuple(money(m[name]) for name in SPLIT) for m in splits] == [
        (Decimal("0.00"), Decimal("74.86"), Decimal("700000.00"), Decimal("299925.14"))
    ], settled["messages"]
    assert outside.disbursements(contract["contract_no"]) == payouts, "paid out exactly once"
    refused(icbc.decide(app_id, approval, None), 409, "invalid_state")


# ---- repayments the bank reports (money.md rules 2 and 4, example 5) ---------------------


def test_repayments_the_bank_reports(icbc: BankClient, outside: Outside, feed: FeedFollower) -> None:
    app = submitted(icbc, outside)
    app_id = app["application_id"]
    approve(icbc, app)
    loan = repaying(icbc, outside, app)
    day = date.fromisoformat(loan["disbursed_on"])
    tag = uuid.uuid4().hex[:6]
    first = {"repayment_id": f"R-{tag}-1", "amount": "300000.00", "paid_on": str(day)}

    for wrong in (
        {"paid_on": str(day - timedelta(days=1))},  # before disbursed_on
        {"paid_on": str(business_today() + timedelta(days=1))},  # after today
        {"amount": "0.00"},
        {"amount": 300000.0},
        {"amount": "300000.001"},
        {"amount": "3E+5"},
        {"amount": "300,000.00"},
    ):
        refused(icbc.repay(app_id, {**first, **wrong}, f"rep-{tag}-1"), 422, "validation_error")

    answer = icbc.repay(app_id, first, f"rep-{tag}-1")
    assert answer.status_code == 200 and body_of(answer) == {"status": "accepted"}, answer.text
    # "after any 200 to a change you made, your next read shows it": the report is among the
    # `messages` at once (`waiting` until the financing applies it, then `applied` with its split)
    shown = [m for m in icbc.read(app_id)["messages"] if m["message_id"] == first["repayment_id"]]
    assert [(m["kind"], m["amount"]) for m in shown] == [("supplier_repayment", "300000.00")], shown
    assert shown[0]["outcome"] in ("waiting", "applied"), shown
    # the payout day counts (rule 2): one day on 700000.00 at 3.85 % is 74.86, the rest principal
    after_one = icbc.message(app_id, first["repayment_id"], "applied")
    assert (money(after_one["interest_paid"]), money(after_one["principal_repaid"])) == (
        Decimal("74.86"),
        Decimal("299925.14"),
    ), after_one
    replay = icbc.repay(app_id, first, f"rep-{tag}-1")
    assert replay.status_code == 200 and replay.headers.get(REPLAYED) == "true", replay.text
    assert body_of(replay) == {"status": "accepted"}
    refused(icbc.repay(app_id, {**first, "amount": "1.00"}, f"rep-{tag}-1"), 422, "idempotency_key_mismatch")
    # the same repayment_id again without the key (under a new key: see the test further down): once
    duplicate = icbc.repay(app_id, first, None)
    assert duplicate.status_code == 200 and body_of(duplicate) == {"status": "duplicate"}, duplicate.text

    # a second payment the same day adds no days: all principal
    second = icbc.repay(app_id, {"repayment_id": f"R-{tag}-2", "amount": "1000.00", "paid_on": str(day)}, None)
    assert second.status_code == 200 and body_of(second) == {"status": "accepted"}, second.text
    after_two = icbc.message(app_id, f"R-{tag}-2", "applied")
    assert money(after_two["outstanding_principal"]) == Decimal("399074.86"), after_two
    assert after_two["stage"] == "repaying"

    # the treasury's 500000.00 the same day: the principal left, the rest is surplus
    paid = outside.treasury_pays(app["contract_no"], "500000.00", paid_on=str(day))
    assert paid.get("platform_status") == "accepted", paid
    settled = icbc.until(app_id, "settled")
    expected = {
        "penalty_paid": Decimal("0.00"),
        "interest_paid": Decimal("74.86"),
        "principal_repaid": Decimal("700000.00"),
        "surplus_released": Decimal("100925.14"),
        "outstanding_principal": Decimal("0.00"),
    }
    assert {name: money(settled[name]) for name in expected} == expected
    feed_has_caught_up(feed, settled)
    applied = [e["data"] for e in feed.of(app_id, "repayment.applied")]
    assert [
        (d["source"], d["source_id"], d["amount"], d["interest"], d["principal"], d["surplus"]) for d in applied
    ] == [
        ("supplier", f"R-{tag}-1", "300000.00", "74.86", "299925.14", "0.00"),
        ("supplier", f"R-{tag}-2", "1000.00", "0.00", "1000.00", "0.00"),
        ("treasury", paid["payment_id"], "500000.00", "0.00", "399074.86", "100925.14"),
    ]
    refused(icbc.repay(app_id, {**first, "repayment_id": f"R-{tag}-3"}, None), 409, "invalid_state")


def test_interest_rounds_half_up_to_the_fen(icbc: BankClient, outside: Outside, feed: FeedFollower) -> None:
    """money.md example 5: one day of 1000.00 at 3.06 % is 0.085 exactly, charged 0.09."""
    app = submitted(icbc, outside, requested="1000.00", amount="2000.00")
    app_id = app["application_id"]
    approve(icbc, app, rate="0.0306", term_days=30)
    loan = repaying(icbc, outside, app)
    repayment = {"repayment_id": f"R-{uuid.uuid4().hex[:6]}", "amount": "1000.09", "paid_on": loan["disbursed_on"]}
    answer = icbc.repay(app_id, repayment, f"rep-{app_id}")
    assert answer.status_code == 200 and body_of(answer) == {"status": "accepted"}, answer.text
    settled = icbc.until(app_id, "settled")
    assert (
        money(settled["interest_paid"]),
        money(settled["principal_repaid"]),
        money(settled["surplus_released"]),
    ) == (
        Decimal("0.09"),
        Decimal("1000.00"),
        Decimal("0.00"),
    )
    feed_has_caught_up(feed, settled)


# ---- submission refusals, withdraw --------------------------------------------------------


def test_submission_refusals_and_withdraw(icbc: BankClient, outside: Outside, feed: FeedFollower) -> None:
    contract = outside.contract()
    body = application_for(contract)
    key = f"app-{contract['contract_no']}"

    malformed = refused(icbc.submit({}, key, raw=b"{not json"), 422, "validation_error")
    assert isinstance(malformed.body.get("errors"), list), malformed.body
    as_float = refused(icbc.submit({**body, "requested_amount": 700000.0}, key), 422, "validation_error")
    for entry in as_float.body["errors"]:
        assert {"loc", "msg", "type"} <= set(entry), entry
    for wrong in (
        {"requested_amount": "0.00"},
        {"requested_amount": "700000.005"},
        {"supplier_credit_code": wrong_check_character(contract["supplier"]["credit_code"])},
        {"supplier_credit_code": fresh_credit_code()},  # not the contract's supplier
        {"product_code": "NOPE"},
        {"requested_amount": "900000.01"},  # above the eligible maximum
        {"collection_account": {"account_no": "6222 0200", "account_name": "无锡某某科技有限公司"}},
        {"collection_account": {"account_no": "6222020000000001", "account_name": "a\u0007b"}},
    ):
        refused(icbc.submit({**body, **wrong}, key), 422, "validation_error")
    refused(icbc.submit({**body, "contract_no": "WX-2026-NOSUCH"}, key), 404, "contract_not_found")
    for bad_key in ("", "k" * 256):  # "1–255 printable ASCII characters"
        refused(icbc.submit(body, bad_key), 422, "validation_error")
    refused(icbc.submit(body, key, raw=b'{"pad": "' + b"x" * (1 << 20) + b'"}'), 413, "payload_too_large")
    inactive = outside.contract(status="terminated")
    refused(icbc.submit(application_for(inactive), f"app-{inactive['contract_no']}"), 422, "validation_error")

    # money.md example 6, rows 2 and 3: the eligible maximum is rounded down
    partly_paid = outside.contract(amount="1234567.89", paid_amount="100000.01")
    partly_key = f"app-{partly_paid['contract_no']}"
    refused(icbc.submit(application_for(partly_paid, "1021111.10"), partly_key), 422, "validation_error")
    # "A refusal is not remembered": the same key, corrected, is evaluated afresh
    at_most = icbc.submit(application_for(partly_paid, "1021111.09"), partly_key)
    assert at_most.status_code == 201, at_most.text
    assert body_of(at_most)["eligible_maximum"] == "1021111.09"
    nothing_left = outside.contract(amount="500000.00", paid_amount="499999.99")
    refused(
        icbc.submit(application_for(nothing_left, "0.01"), f"app-{nothing_left['contract_no']}"),
        422,
        "validation_error",
    )

    # nothing stayed registered after all those refusals: the first contract is still free
    first = icbc.submit(body, key)
    assert first.status_code == 201 and first.headers.get(REPLAYED) != "true", first.text
    app_id = body_of(first)["application_id"]

    # Withdraw in bank_review: 200 withdrawn, replayed with its key, 409 afterwards
    withdraw_key = f"withdraw-{app_id}"
    gone = icbc.withdraw(app_id, {"reason": "supplier withdrew"}, withdraw_key)
    assert gone.status_code == 200 and body_of(gone)["stage"] == "withdrawn", gone.text
    again = icbc.withdraw(app_id, {"reason": "supplier withdrew"}, withdraw_key)
    assert again.status_code == 200 and again.headers.get(REPLAYED) == "true", again.text
    assert body_of(again) == body_of(gone)
    refused(icbc.withdraw(app_id, None, None), 409, "invalid_state")
    refused(icbc.decide(app_id, {"decision": "reject", "reason": "x"}, None), 409, "invalid_state")
    feed_has_caught_up(feed, icbc.read(app_id))

    # "everything done so far undone": the contract can be financed again
    anew = icbc.submit(body, f"{key}-again")
    assert anew.status_code == 201, anew.text
    second = body_of(anew)
    assert second["application_id"] != app_id
    # Withdraw in account_lock, with no body ("The body is optional")
    approve(icbc, second)
    withdrawn = icbc.withdraw(second["application_id"], None, f"withdraw-{second['application_id']}")
    assert withdrawn.status_code == 200 and body_of(withdrawn)["stage"] == "withdrawn", withdrawn.text
    feed_has_caught_up(feed, icbc.read(second["application_id"]))


# ---- lists, filters, cursors --------------------------------------------------------------


def test_lists_filters_and_cursors(icbc: BankClient, outside: Outside) -> None:
    untouched = submitted(icbc, outside)
    before = datetime.now(BUSINESS_ZONE)
    fresh = [submitted(icbc, outside) for _ in range(3)]
    everything, _ = icbc.every_page(limit=200)
    paged, pages = icbc.every_page(limit=2)
    assert pages >= 3
    assert [a["application_id"] for a in paged] == [a["application_id"] for a in everything], "pages join up"
    assert len({a["application_id"] for a in paged}) == len(paged), "no application twice"
    # newest first: the three just submitted lead, the last one first
    assert [a["application_id"] for a in everything[:3]] == [a["application_id"] for a in reversed(fresh)]

    reviewing, _ = icbc.every_page(limit=50, stage="bank_review")
    assert reviewing and all(a["stage"] == "bank_review" for a in reviewing)
    assert {a["application_id"] for a in fresh} <= {a["application_id"] for a in reviewing}
    one, _ = icbc.every_page(limit=50, contract_no=fresh[0]["contract_no"])
    assert [a["application_id"] for a in one] == [fresh[0]["application_id"]]

    since = {a["application_id"] for a in icbc.every_page(limit=50, updated_since=before.isoformat())[0]}
    assert {a["application_id"] for a in fresh} <= since
    assert untouched["application_id"] not in since, "its record has not changed since"
    approve(icbc, fresh[1])
    later, _ = icbc.every_page(limit=50, updated_since=icbc.read(fresh[1]["application_id"])["timeline"][-1]["at"])
    assert fresh[1]["application_id"] in {a["application_id"] for a in later}
    assert fresh[0]["application_id"] not in {a["application_id"] for a in later}

    page = body_of(icbc.applications(limit=1))
    cursor = page["next_cursor"]
    assert isinstance(cursor, str)
    tampered = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    for params in (
        {"cursor": tampered},
        {"cursor": "not-a-cursor"},
        {"limit": 0},
        {"limit": 201},
        {"stage": "nonsense"},
        {"contract_no": "WX 2026"},
        {"contract_no": "WX/2026"},
        {"updated_since": "yesterday"},
        {"updated_since": "2026-11-27T00:00:00"},  # no offset
        {"updated_since": "1999-12-31T00:00:00+08:00"},  # "within 2000–2100"
    ):
        refused(icbc.applications(**params), 422, "validation_error")

    refused(icbc.application(uuid.uuid4().hex), 404, "not_found")
    refused(icbc.get("/v1/applications/not%20an%20id"), 404, "not_found")


def test_another_banks_application_is_invisible(
    icbc: BankClient, abc: BankClient, outside: Outside, feed: FeedFollower
) -> None:
    theirs = submitted(icbc, outside)
    app_id = theirs["application_id"]
    never = uuid.uuid4().hex
    for ask in (
        lambda target: abc.application(target),
        lambda target: abc.decide(
            target, {"decision": "approve", "approved_amount": "1.00", "annual_rate": "0.04", "term_days": 30}, None
        ),
        lambda target: abc.withdraw(target, None, None),
        lambda target: abc.repay(
            target, {"repayment_id": "R-1", "amount": "1.00", "paid_on": str(business_today())}, None
        ),
        lambda target: abc.write_off(target, {"reason": "x"}, None),
    ):
        # "exactly as for an id that never existed"
        assert refused(ask(app_id), 404, "not_found").body["code"] == refused(ask(never), 404, "not_found").body["code"]
    assert body_of(abc.applications(contract_no=theirs["contract_no"]))["items"] == []
    their_feed = FeedFollower(abc, "ABC")
    their_feed.poll()
    assert app_id not in their_feed.book
    assert icbc.read(app_id)["stage"] == "bank_review", "nothing ABC asked changed it"
    feed_has_caught_up(feed, icbc.read(app_id))


# ---- keys' scope, endings, a misdirected payment -----------------------------------------


def test_idempotency_keys_are_scoped(icbc: BankClient, abc: BankClient, outside: Outside) -> None:
    """banks.md: "Keys are your bank's alone. On the four changes to an application a key is
    also bound to the endpoint and the application: `decide-1` on two applications are two keys"."""
    shared = f"shared-{uuid.uuid4().hex[:8]}"
    ours = outside.contract()
    theirs = outside.contract()
    mine = icbc.submit(application_for(ours), shared)
    other = abc.submit(application_for(theirs, "650000.00"), shared)
    assert (mine.status_code, other.status_code) == (201, 201), (mine.text, other.text)
    assert REPLAYED not in other.headers
    assert body_of(other)["bank_code"] == "ABC"

    first, second = submitted(icbc, outside), submitted(icbc, outside)
    decision = {"decision": "reject", "reason": "insufficient history"}
    for app in (first, second):
        answer = icbc.decide(app["application_id"], decision, "decide-1")
        assert answer.status_code == 200 and REPLAYED not in answer.headers, answer.text
        assert body_of(answer)["stage"] == "rejected"
    # the same key on another endpoint of the same application is another key too
    refused(icbc.withdraw(first["application_id"], None, "decide-1"), 409, "invalid_state")


def test_an_ending_says_why(icbc: BankClient, outside: Outside, feed: FeedFollower) -> None:
    """`application.stage_changed` carries `reason` "set when it ends, e.g. why it failed"."""
    rejected = submitted(icbc, outside)
    answer = icbc.decide(rejected["application_id"], {"decision": "reject", "reason": "insufficient history"}, None)
    assert answer.status_code == 200 and body_of(answer)["stage"] == "rejected", answer.text
    refused_lock = submitted(icbc, outside)
    approve(icbc, refused_lock)
    said = outside.purchaser_decides(refused_lock["contract_no"], "refused")
    assert said.get("platform_status") == "accepted", said
    failed = icbc.until(refused_lock["application_id"], "failed")
    for app in (icbc.read(rejected["application_id"]), failed):
        feed_has_caught_up(feed, app)
        (ending,) = [
            e for e in feed.of(app["application_id"], "application.stage_changed") if e["data"]["to"] == app["stage"]
        ]
        assert isinstance(ending["data"]["reason"], str) and ending["data"]["reason"], ending


def test_a_misdirected_payment_is_flagged_not_credited(icbc: BankClient, outside: Outside, feed: FeedFollower) -> None:
    """callbacks.md: money "into another account than the locked one: recorded, **not credited**,
    and the loan is flagged"; banks.md's feed has `payment.misdirected` and `application.attention`."""
    app = submitted(icbc, outside)
    approve(icbc, app)
    loan = repaying(icbc, outside, app)
    # into the contract's old payee account, not the locked one
    stray = outside.treasury_pays(app["contract_no"], "1000000.00", payee_account_no="6222000000009999")
    assert stray["platform_status"] == "misdirected", stray
    # the flag follows the answer (it is not the bank's own change, so not promised by the next read)
    flagged = icbc.until(app["application_id"], "repaying", where=lambda found: found["needs_attention"])
    assert flagged["attention_reasons"], flagged
    assert (flagged["stage"], flagged["outstanding_principal"], flagged["interest_paid"]) == (
        "repaying",
        "700000.00",
        "0.00",
    )
    feed_has_caught_up(feed, flagged)
    (misdirected,) = feed.of(app["application_id"], "payment.misdirected")
    assert misdirected["data"] == {"payment_id": stray["payment_id"], "amount": "1000000.00"}
    assert feed.book[app["application_id"]].needs_attention is True
    assert feed.of(app["application_id"], "repayment.applied") == []
    # "a new payment into the locked account is then credited as usual"
    paid = outside.treasury_pays(app["contract_no"], "1000000.00", paid_on=loan["disbursed_on"])
    assert paid.get("platform_status") == "accepted", paid
    settled = icbc.until(app["application_id"], "settled")
    assert money(settled["interest_paid"]) == Decimal("74.86") and money(settled["surplus_released"]) == Decimal(
        "299925.14"
    )
    feed_has_caught_up(feed, settled)


# ---- a lost answer, retried with the same key ---------------------------------------------


def test_a_lost_answer_is_retried_with_the_same_key(icbc: BankClient, outside: Outside, feed: FeedFollower) -> None:
    """banks.md, Retries and 503: retry on a timeout with the same Idempotency-Key. The first
    attempt's answer is lost (the client stops listening a millisecond after sending)."""
    contract = outside.contract()
    body = application_for(contract)
    key = f"app-{contract['contract_no']}"
    impatient = httpx.Timeout(30, read=0.001)
    attempts = iter([impatient])

    def submit() -> httpx.Response:
        return icbc.submit(body, key, timeout=next(attempts, httpx.Timeout(60)))

    answer, unanswered = retried(submit)
    assert answer.status_code == 201, answer.text
    app = body_of(answer)
    listed = body_of(icbc.applications(contract_no=contract["contract_no"]))["items"]
    assert [a["application_id"] for a in listed] == [app["application_id"]], "one application, not two"
    last = icbc.submit(body, key)
    assert last.status_code == 201 and last.headers.get(REPLAYED) == "true"
    assert body_of(last)["application_id"] == app["application_id"]
    assert unanswered >= 1, "the first answer was not lost: this test proved nothing"

    decision = {"decision": "approve", "approved_amount": "700000.00", "annual_rate": "0.0400", "term_days": 90}
    decide_attempts = iter([impatient])

    def decide() -> httpx.Response:
        return icbc.post(
            f"/v1/applications/{app['application_id']}/decision",
            decision,
            f"decide-{app['application_id']}",
            timeout=next(decide_attempts, httpx.Timeout(60)),
        )

    decided, unanswered = retried(decide)
    assert unanswered >= 1
    assert decided.status_code == 200 and body_of(decided)["stage"] == "account_lock", decided.text
    feed_has_caught_up(feed, icbc.read(app["application_id"]))
    moves = [e["data"]["to"] for e in feed.of(app["application_id"], "application.stage_changed")]
    assert moves.count("account_lock") == 1, moves


# ---- where the platform and both the guide and API.md part ways (reported, not fixed here) --


def test_money_as_a_json_number_is_refused(icbc: BankClient, outside: Outside) -> None:
    contract = outside.contract()
    refused(icbc.submit({**application_for(contract), "requested_amount": 700000}, None), 422, "validation_error")


@pytest.mark.parametrize("change", ["withdraw", "reject"])
def test_a_change_already_made_sent_under_a_new_key_is_invalid_state(
    icbc: BankClient, outside: Outside, change: str
) -> None:
    app = submitted(icbc, outside)
    app_id = app["application_id"]

    def send(key: str | None) -> httpx.Response:
        if change == "withdraw":
            return icbc.withdraw(app_id, {"reason": "supplier withdrew"}, key)
        return icbc.decide(app_id, {"decision": "reject", "reason": "insufficient history"}, key)

    assert send(f"{change}-{app_id}-1").status_code == 200
    refused(send(None), 409, "invalid_state")  # as documented
    refused(send(f"{change}-{app_id}-2"), 409, "invalid_state")


def test_a_repayment_reported_again_under_a_new_key_is_duplicate(icbc: BankClient, outside: Outside) -> None:
    app = submitted(icbc, outside)
    approve(icbc, app)
    loan = repaying(icbc, outside, app)
    repayment = {"repayment_id": f"R-{uuid.uuid4().hex[:6]}", "amount": "1000.00", "paid_on": loan["disbursed_on"]}
    assert body_of(icbc.repay(app["application_id"], repayment, "rep-1")) == {"status": "accepted"}
    icbc.message(app["application_id"], repayment["repayment_id"], "applied")
    assert body_of(icbc.repay(app["application_id"], repayment, None)) == {"status": "duplicate"}
    again = icbc.repay(app["application_id"], repayment, "rep-2")
    assert again.status_code == 200 and body_of(again) == {"status": "duplicate"}, again.text


# ---- the event feed, and the book it builds -----------------------------------------------


def test_the_feed_tells_the_story_the_reads_tell(icbc: BankClient, feed: FeedFollower) -> None:
    # compared once nothing moves any more: no message still waiting to be applied
    for app in icbc.every_page(limit=200)[0]:
        for message in app["messages"]:
            if message["outcome"] == "waiting":
                icbc.message(app["application_id"], message["message_id"], "applied", "repeat", "kept")
    # the reads first, then the feed: the feed is never behind a read
    everything, _ = icbc.every_page(limit=200)
    feed.poll()
    # never null: an empty page hands back the cursor sent
    cursor = feed.cursor
    assert cursor is not None
    empty = body_of(icbc.events(after=cursor))
    assert empty == {"items": [], "next_cursor": cursor}
    # the same feed again in pages of three: the same events in the same order
    walker = FeedFollower(icbc, "ICBC", limit=3)
    walker.poll()
    assert [e["event_id"] for e in walker.events][: len(feed.events)] == [e["event_id"] for e in feed.events]
    assert walker.pages > 3
    tampered = cursor[:-1] + ("0" if cursor[-1] != "0" else "1")
    for params in ({"after": tampered}, {"after": "12"}, {"limit": 0}, {"limit": 501}):
        refused(icbc.get("/v1/events", params), 422, "validation_error")

    assert {a["application_id"] for a in everything} == set(feed.book), "a book from the feed alone is complete"
    for app in everything:
        entry = feed.book[app["application_id"]]
        assert entry.contract_no == app["contract_no"]
        assert entry.stage == app["stage"], (app["application_id"], entry.stages, app["stage"])
        # the timeline also notes things within a stage (an entry repeating the stage, with a note)
        entered = [
            step["stage"]
            for n, step in enumerate(app["timeline"])
            if n == 0 or app["timeline"][n - 1]["stage"] != step["stage"]
        ]
        assert entry.stages == entered, (entry.stages, app["timeline"])
        assert entry.requested_amount == money(app["requested_amount"])
        moves = [
            (e["data"]["from"], e["data"]["to"]) for e in feed.of(app["application_id"], "application.stage_changed")
        ]
        assert len(moves) == len(set(moves)), f"a change of stage twice: {moves}"
        if app["disbursed_on"] is not None:
            assert entry.disbursed == money(app["approved_amount"])
            assert (entry.disbursed_on, entry.maturity_date) == (app["disbursed_on"], app["maturity_date"])
        else:
            assert entry.disbursed is None
        assert entry.received["penalty"] == money(app["penalty_paid"])
        assert entry.received["interest"] == money(app["interest_paid"])
        assert entry.received["principal"] == money(app["principal_repaid"])
        assert entry.received["surplus"] == money(app["surplus_released"])
        sources = [(r["source"], r["source_id"]) for r in entry.repayments]
        assert len(sources) == len(set(sources)), f"a repayment twice: {sources}"
        assert entry.needs_attention == app["needs_attention"]
    for event in feed.events:
        assert event["at"].endswith("+08:00"), event["at"]
