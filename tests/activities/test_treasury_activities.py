"""TreasuryActivities against the treasury simulator."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.treasury import TreasuryActivities
from domain import steps
from domain.stages import Stage
from integrations.treasury import TreasuryClient
from store.applications import ApplicationRepository
from tests.fixtures.simulators import RunningSimulators, unique
from tests.store.factories import make_view


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
    views: ApplicationRepository,
    simulators: RunningSimulators,
) -> None:
    contract_no, app_id = unique("WX-2026"), unique("app")
    view = make_view(app_id, contract_no=contract_no, stage=Stage.DISBURSING, version=7)
    lock = lock_of(app_id, contract_no, view_after=view)

    await env.run(treasury.lock_payee_account, lock)
    await env.run(treasury.lock_payee_account, lock)  # a retry returns the first lock

    async with TreasuryClient(simulators.treasury_url) as client:
        held = await client.get_payee_lock(contract_no)
        assert held is not None
        assert (held.application_id, held.account_no, held.bank_code) == (app_id, "6222020000000004", "ICBC")
        assert await views.get(app_id) == view
        # the locked account reaches the read model, which classifies treasury payments by it
        await views.upsert_view(view.model_copy(update={"stage": Stage.REPAYING, "version": 8}), "disbursed")
        payable = await views.find_payable(contract_no)
        assert payable is not None and payable.locked_account_no == "6222020000000004"

        with pytest.raises(ApplicationError) as raised:
            await env.run(treasury.lock_payee_account, lock_of(unique("app"), contract_no))
        assert raised.value.type == "contract_already_financed" and raised.value.non_retryable

        unlock = steps.TreasuryUnlock(application_id=app_id, contract_no=contract_no, reason="settled")
        await env.run(treasury.unlock_payee_account, unlock)
        await env.run(treasury.unlock_payee_account, unlock)  # releasing what is not held is fine
        assert await client.get_payee_lock(contract_no) is None
