"""The treasury client against the treasury simulator: locks, and payments that go where
the procurement system says the contract's money goes, notified with a valid signature."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from domain.application import business_date
from domain.signing import verify_signature
from domain.steps import idempotency_key
from integrations.errors import ExternalRefusal
from integrations.procurement import PayeeChangeRequest, ProcurementClient
from integrations.treasury import PayeeLockRequest, PayeeUnlockRequest, TreasuryClient
from tests.fixtures.simulators import RunningSimulators, unique

PAYMENTS = "/v1/treasury/payments"


def a_lock(contract_no: str, application_id: str, account_no: str = "6222020000000001") -> PayeeLockRequest:
    return PayeeLockRequest(
        application_id=application_id, contract_no=contract_no, account_no=account_no, bank_code="ICBC"
    )


async def test_lock_conflict_and_release(treasury: TreasuryClient) -> None:
    contract_no, first, second = unique("WX-2026"), unique("APP"), unique("APP")
    await treasury.lock_payee_account(a_lock(contract_no, first), idempotency_key(first, "lock"))
    await treasury.lock_payee_account(a_lock(contract_no, first), "retry-" + first)
    lock = await treasury.get_payee_lock(contract_no)
    assert lock is not None and lock.application_id == first

    with pytest.raises(ExternalRefusal) as refused:
        await treasury.lock_payee_account(a_lock(contract_no, second), idempotency_key(second, "lock"))
    assert refused.value.code == "contract_already_financed"

    unlock = PayeeUnlockRequest(application_id=first, reason="settled")
    await treasury.unlock_payee_account(contract_no, unlock, idempotency_key(first, "unlock"))
    await treasury.unlock_payee_account(contract_no, unlock, idempotency_key(first, "unlock"))
    assert await treasury.get_payee_lock(contract_no) is None
    await treasury.lock_payee_account(a_lock(contract_no, second), idempotency_key(second, "lock"))


async def test_unlocking_what_is_not_held_is_a_no_op(treasury: TreasuryClient) -> None:
    unlock = PayeeUnlockRequest(application_id=unique("APP"), reason="undo")
    await treasury.unlock_payee_account(unique("WX-2026"), unlock, idempotency_key(unlock.application_id, "unlock"))


async def test_the_treasury_pays_into_the_current_payee_account(
    simulators: RunningSimulators, procurement: ProcurementClient
) -> None:
    contract = await simulators.new_contract()
    application_id = unique("APP")
    locked = "6222020000000777"
    change = PayeeChangeRequest(
        application_id=application_id, account_no=locked, account_name="无锡某某科技有限公司", bank_code="ICBC"
    )
    await procurement.request_payee_change(
        contract.contract_no, change, idempotency_key(application_id, "payee-change")
    )
    decided = await simulators.hook(
        "procurement", "POST", f"/sim/contracts/{contract.contract_no}/account-change", {"decision": "confirmed"}
    )
    assert decided.status_code == 200

    day_before = business_date(datetime.now(UTC))
    response = await simulators.hook(
        "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "1000000.00"}
    )
    days = {day_before.isoformat(), business_date(datetime.now(UTC)).isoformat()}

    assert response.status_code == 200, response.text
    paid = response.json()
    assert paid["payee_account_no"] == locked
    assert paid["platform_status"] == "accepted"
    assert re.fullmatch(r"T\d{8}-\d{4}", paid["payment_id"])
    [notification] = simulators.stub.callbacks(PAYMENTS, payment_id=paid["payment_id"])
    assert verify_signature(
        notification.signature, notification.body, [simulators.settings.treasury_secret], time.time()
    )
    body = notification.json
    assert body.pop("paid_on") in days
    assert body == {
        "payment_id": paid["payment_id"],
        "contract_no": contract.contract_no,
        "payee_account_no": locked,
        "amount": "1000000.00",
    }
