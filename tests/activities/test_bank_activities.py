"""BankActivities against the bank simulator and the ledger: money moves exactly once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.bank import BankActivities
from domain import steps
from domain.repayment import Accrual, Allocation
from integrations.errors import ExternalUnavailable
from store.applications import ApplicationRepository
from store.ledger import LedgerRepository
from tests.fixtures.simulators import RunningSimulators, supplier_credit_code, unique

# With this seed and error rate the bank's first two calls are executed and their answers
# lost (after-execution faults), and the third is answered (see simulators/faults.py).
LOST_ANSWERS_SEED = 10
LOST_ANSWERS_RATE = 0.75


def order_for(application_id: str, contract_no: str, **fields: Any) -> steps.DisbursementOrder:
    return steps.DisbursementOrder(
        application_id=application_id,
        bank_code="ICBC",
        contract_no=contract_no,
        supplier_credit_code=supplier_credit_code(),
        district="梁溪区",
        amount=Decimal("700000.00"),
        account_no="6222020000000005",
        account_name="无锡某某科技有限公司",
        **fields,
    )


async def bank_records(simulators: RunningSimulators, kind: str, contract_no: str) -> list[dict[str, Any]]:
    response = await simulators.hook("bank", "GET", f"/sim/{kind}", contract_no=contract_no)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_disbursement_whose_answers_are_lost_pays_out_once(
    env: ActivityEnvironment,
    bank: BankActivities,
    ledger: LedgerRepository,
    views: ApplicationRepository,
    simulators: RunningSimulators,
) -> None:
    app_id, contract_no = unique("app"), unique("WX-2026")
    order = order_for(app_id, contract_no)

    async with simulators.faults("bank", error_rate=LOST_ANSWERS_RATE, seed=LOST_ANSWERS_SEED):
        for _ in range(2):  # what Temporal's retry policy would do: the same input again
            with pytest.raises(ExternalUnavailable) as raised:
                await env.run(bank.disburse, order)
            assert raised.value.status == 503
        receipt = await env.run(bank.disburse, order)
        counters = await simulators.fault_counters("bank")

    assert counters["failed_after_execution"] == 2 and counters["failed_before_execution"] == 0
    assert counters["calls"] == 3
    paid = await bank_records(simulators, "disbursements", contract_no)
    assert len(paid) == 1
    assert paid[0]["disbursement_id"] == receipt.disbursement_id
    assert Decimal(paid[0]["amount"]) == Decimal("700000.00")
    balances = await ledger.balances(app_id)
    assert balances.postings == 1 and balances.disbursed == Decimal("700000.00")
    assert sum((await ledger.trial_balance(app_id)).values()) == 0
    assert await views.get(app_id) is None  # the record is the workflow's own step, not the payout's

    # a retry after success (a worker crash before reporting) changes nothing either
    assert await env.run(bank.disburse, order) == receipt
    assert len(await bank_records(simulators, "disbursements", contract_no)) == 1
    assert (await ledger.balances(app_id)).postings == 1


async def test_apply_repayment_books_a_balanced_entry_once(
    env: ActivityEnvironment,
    bank: BankActivities,
    ledger: LedgerRepository,
    views: ApplicationRepository,
    simulators: RunningSimulators,
) -> None:
    app_id, contract_no = unique("app"), unique("WX-2026")
    await env.run(bank.disburse, order_for(app_id, contract_no))
    allocation = Allocation(
        amount=Decimal("100000.00"),
        penalty=Decimal("0.00"),
        interest=Decimal("2000.00"),
        principal=Decimal("98000.00"),
        surplus=Decimal("0.00"),
        accrual=Accrual(interest=Decimal("2000.00"), penalty=Decimal("0.00"), accrued_until=date(2027, 3, 1)),
    )
    repayment = steps.RepaymentOrder(
        application_id=app_id,
        bank_code="ICBC",
        contract_no=contract_no,
        source="treasury",
        source_id=unique("PAY"),
        paid_on=date(2027, 3, 1),
        allocation=allocation,
    )

    await env.run(bank.apply_repayment, repayment)
    await env.run(bank.apply_repayment, repayment)

    captured = await bank_records(simulators, "repayments", contract_no)
    assert len(captured) == 1
    balances = await ledger.balances(app_id)
    assert balances.postings == 2  # the disbursement and this repayment
    assert balances.received == Decimal("100000.00")
    assert (balances.interest_paid, balances.principal_repaid) == (Decimal("2000.00"), Decimal("98000.00"))
    assert balances.outstanding_principal == Decimal("602000.00")
    trial = await ledger.trial_balance(app_id)
    assert sum(trial.values()) == 0
    assert await views.get(app_id) is None
