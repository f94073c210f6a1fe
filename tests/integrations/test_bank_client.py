"""The bank client against the bank simulator: a payout happens once per idempotency key,
whatever faults and retries happen, and faults surface as `ExternalUnavailable`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.credit_profile import build_credit_profile
from domain.steps import idempotency_key
from integrations.bank import (
    BankClient,
    CreditApplication,
    Disbursement,
    OverdueNotice,
    RepaymentSplit,
    ReviewCancel,
)
from integrations.errors import ExternalRefusal, ExternalUnavailable
from tests.fixtures.simulators import RunningSimulators, supplier_credit_code, unique

# With this seed the first injected error happens after the payout was executed.
SEED_FAILING_AFTER_EXECUTION = 4


def an_order(**overrides: Any) -> Disbursement:
    application_id = unique("APP")
    data: dict[str, Any] = {
        "application_id": application_id,
        "bank_code": "ICBC",
        "contract_no": unique("WX-2026"),
        "supplier_credit_code": supplier_credit_code(),
        "district": "梁溪区",
        "amount": Decimal("700000.00"),
        "account_no": "6222020000000001",
        "account_name": "无锡某某科技有限公司",
    }
    return Disbursement(**(data | overrides))


def key_of(order: Disbursement) -> str:
    return idempotency_key(order.application_id, "disburse")


async def disbursements(simulators: RunningSimulators, contract_no: str) -> list[dict[str, Any]]:
    response = await simulators.hook("bank", "GET", "/sim/disbursements", contract_no=contract_no)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_same_key_twice_pays_once(simulators: RunningSimulators, bank: BankClient) -> None:
    order = an_order()
    first = await bank.disburse(order, key_of(order))
    second = await bank.disburse(order, key_of(order))

    assert second == first
    [paid] = await disbursements(simulators, order.contract_no)
    assert paid["disbursement_id"] == first.disbursement_id
    assert paid["amount"] == "700000.00"
    assert paid["account_no"] == order.account_no
    assert paid["idempotency_key"] == key_of(order)


async def test_a_key_reused_for_another_payout_is_refused(simulators: RunningSimulators, bank: BankClient) -> None:
    order = an_order()
    await bank.disburse(order, key_of(order))
    with pytest.raises(ExternalRefusal) as refused:
        await bank.disburse(order.model_copy(update={"amount": Decimal("1.00")}), key_of(order))
    assert refused.value.code == "idempotency_key_mismatch"
    assert refused.value.status == 422
    assert len(await disbursements(simulators, order.contract_no)) == 1


async def test_a_second_payout_for_the_same_loan_is_refused(simulators: RunningSimulators, bank: BankClient) -> None:
    order = an_order()
    await bank.disburse(order, key_of(order))
    with pytest.raises(ExternalRefusal) as refused:
        await bank.disburse(order, "another-key")
    assert refused.value.code == "invalid_state"
    assert len(await disbursements(simulators, order.contract_no)) == 1


async def test_an_answer_lost_after_the_payout_is_retried_without_paying_twice(
    simulators: RunningSimulators, bank: BankClient
) -> None:
    order = an_order()
    async with simulators.faults("bank", error_rate=1.0, seed=SEED_FAILING_AFTER_EXECUTION):
        with pytest.raises(ExternalUnavailable) as lost:
            await bank.disburse(order, key_of(order))
        assert lost.value.status == 503
        counters = await simulators.fault_counters("bank")
        assert counters["failed_after_execution"] == 1
        [executed] = await disbursements(simulators, order.contract_no)  # paid, but the answer was lost
        for _ in range(5):  # while the faults last, every retry fails too, and none pays
            with pytest.raises(ExternalUnavailable):
                await bank.disburse(order, key_of(order))

    receipt = await bank.disburse(order, key_of(order))

    assert receipt.disbursement_id == executed["disbursement_id"]
    assert len(await disbursements(simulators, order.contract_no)) == 1


async def test_retrying_through_random_faults_pays_exactly_once(
    simulators: RunningSimulators, bank: BankClient
) -> None:
    order = an_order()
    attempts = 0
    # seed 8 at 0.6: fails before execution twice, then after, then answers
    async with simulators.faults("bank", error_rate=0.6, seed=8):
        while True:
            attempts += 1
            assert attempts < 50
            try:
                receipt = await bank.disburse(order, key_of(order))
                break
            except ExternalUnavailable:
                continue
        counters = await simulators.fault_counters("bank")
    assert counters["failed_before_execution"] >= 1
    assert counters["failed_after_execution"] >= 1
    [paid] = await disbursements(simulators, order.contract_no)
    assert paid["disbursement_id"] == receipt.disbursement_id


async def test_an_outage_is_unavailable_and_pays_nothing(simulators: RunningSimulators, bank: BankClient) -> None:
    order = an_order()
    async with simulators.faults("bank", outage=True):
        with pytest.raises(ExternalUnavailable) as down:
            await bank.disburse(order, key_of(order))
        assert down.value.status == 503
        assert await disbursements(simulators, order.contract_no) == []  # the hooks still answer


async def test_latency_beyond_the_timeout_is_unavailable(simulators: RunningSimulators) -> None:
    order = an_order()
    async with simulators.faults("bank", latency_ms=300), BankClient(simulators.bank_url, timeout_seconds=0.05) as slow:
        with pytest.raises(ExternalUnavailable, match="timed out"):
            await slow.disburse(order, key_of(order))


async def test_an_unreachable_bank_is_unavailable() -> None:
    async with BankClient("http://127.0.0.1:9", timeout_seconds=1.0) as nowhere:
        with pytest.raises(ExternalUnavailable, match="unreachable") as failure:
            await nowhere.disburse(an_order(), "k")
    # what ops read on the retrying activity in the Temporal UI: which system, which call, where,
    # and that the retry is safe
    message = str(failure.value)
    assert message.startswith("the bank system is unavailable: POST /")
    assert "http://127.0.0.1:9" in message and "same idempotency key" in message


async def test_review_submission_and_cancellation(simulators: RunningSimulators, bank: BankClient) -> None:
    submission = CreditApplication(
        application_id=unique("APP"),
        bank_code="BOC",
        contract_no=unique("WX-2026"),
        product_code="STD",
        supplier_credit_code=supplier_credit_code(),
        supplier_name="无锡某某科技有限公司",
        requested_amount=Decimal("500000.00"),
        eligible_maximum=Decimal("900000.00"),
        credit_profile=build_credit_profile([]),
    )
    key = idempotency_key(submission.application_id, "review", "0")
    await bank.submit_for_review(submission, key)
    await bank.submit_for_review(submission, key)
    cancellation = ReviewCancel(bank_code="BOC", reason="withdrawn")
    cancel_key = idempotency_key(submission.application_id, "review-cancel")
    await bank.cancel_review(submission.application_id, cancellation, cancel_key)

    response = await simulators.hook(
        "bank", "GET", "/sim/credit-applications", application_id=submission.application_id
    )
    [received] = response.json()["items"]
    assert received["submissions"] == 1
    assert received["status"] == "cancelled"
    assert received["requested_amount"] == "500000.00"
    assert received["credit_profile"]["grade"] == "E"


async def test_cancelling_an_application_never_received_is_a_no_op(bank: BankClient) -> None:
    application_id = unique("APP")
    cancellation = ReviewCancel(bank_code="BOC", reason="undo")
    await bank.cancel_review(application_id, cancellation, idempotency_key(application_id, "review-cancel"))


def a_repayment(order: Disbursement, source_id: str, amount: str, surplus: str = "0.00") -> RepaymentSplit:
    principal = Decimal(amount) - Decimal("74.86") - Decimal(surplus)
    return RepaymentSplit(
        application_id=order.application_id,
        bank_code=order.bank_code,
        contract_no=order.contract_no,
        source="treasury",
        source_id=source_id,
        paid_on=date(2027, 3, 31),
        amount=Decimal(amount),
        penalty=Decimal("0.00"),
        interest=Decimal("74.86"),
        principal=principal,
        surplus=Decimal(surplus),
    )


async def test_a_repayment_is_captured_once(simulators: RunningSimulators, bank: BankClient) -> None:
    order = an_order()
    await bank.disburse(order, key_of(order))
    repayment = a_repayment(order, "T20270331-0001", "1000000.00", surplus="299925.14")
    key = idempotency_key(order.application_id, "repayment", "treasury", "T20270331-0001")
    await bank.apply_repayment(repayment, key)
    await bank.apply_repayment(repayment, key)

    response = await simulators.hook("bank", "GET", "/sim/repayments", contract_no=order.contract_no)
    [captured] = response.json()["items"]
    assert captured["captured"] == "700074.86"
    assert captured["released"] == "299925.14"
    assert captured["principal"] == "700000.00"
    assert captured["idempotency_key"] == key


async def test_a_repayment_before_any_payout_is_refused(bank: BankClient) -> None:
    order = an_order()
    with pytest.raises(ExternalRefusal) as refused:
        await bank.apply_repayment(a_repayment(order, "T1", "100.00"), "k-" + order.application_id)
    assert refused.value.code == "invalid_state"


async def test_an_overdue_notice_is_received_once(simulators: RunningSimulators, bank: BankClient) -> None:
    order = an_order()
    notice = OverdueNotice(
        application_id=order.application_id,
        bank_code="ICBC",
        contract_no=order.contract_no,
        outstanding_principal=Decimal("700000.00"),
        overdue_since=date(2027, 5, 30),
    )
    await bank.send_overdue_notice(notice, idempotency_key(order.application_id, "overdue-notice"))
    await bank.send_overdue_notice(notice, idempotency_key(order.application_id, "overdue-notice"))
    response = await simulators.hook("bank", "GET", "/sim/overdue-notices", contract_no=order.contract_no)
    [received] = response.json()["items"]
    assert received["outstanding_principal"] == "700000.00"
