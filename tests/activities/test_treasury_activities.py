"""TreasuryActivities against the treasury simulator."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.treasury import TreasuryActivities
from domain import steps
from integrations.treasury import TreasuryClient
from tests.fixtures.simulators import RunningSimulators, unique


def lock_of(application_id: str, contract_no: str, **fields: object) -> steps.TreasuryLock:
    return steps.TreasuryLock(
        application_id=application_id,
        contract_no=contract_no,
        account_no="6222020000000004",
        bank_code="ICBC",
        **fields,
    )


async def test_lock_and_unlock_the_payee_account(
    env: ActivityEnvironment,
    treasury: TreasuryActivities,
    simulators: RunningSimulators,
) -> None:
    contract_no, app_id = unique("WX-2026"), unique("app")
    lock = lock_of(app_id, contract_no)

    await env.run(treasury.lock_payee_account, lock)
    await env.run(treasury.lock_payee_account, lock)  # a retry returns the first lock

    async with TreasuryClient(simulators.treasury_url) as client:
        held = await client.get_payee_lock(contract_no)
        assert held is not None
        assert (held.application_id, held.account_no, held.bank_code) == (app_id, "6222020000000004", "ICBC")

        with pytest.raises(ApplicationError) as raised:
            await env.run(treasury.lock_payee_account, lock_of(unique("app"), contract_no))
        assert raised.value.type == "contract_already_financed" and raised.value.non_retryable

        unlock = steps.TreasuryUnlock(application_id=app_id, contract_no=contract_no, reason="settled")
        await env.run(treasury.unlock_payee_account, unlock)
        await env.run(treasury.unlock_payee_account, unlock)  # releasing what is not held is fine
        assert await client.get_payee_lock(contract_no) is None
