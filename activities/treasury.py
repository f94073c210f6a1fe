"""Activities against the treasury system: register and release the locked payee account."""

from __future__ import annotations

from temporalio import activity

from activities.refusals import refusals_are_final
from domain import steps
from integrations.http import outgoing
from integrations.treasury import PayeeLockRequest, PayeeUnlockRequest, TreasuryClient


class TreasuryActivities:
    def __init__(self, client: TreasuryClient) -> None:
        self._client = client

    @activity.defn(name=steps.LOCK_PAYEE_ACCOUNT)
    async def lock_payee_account(self, lock: steps.TreasuryLock) -> None:
        with refusals_are_final():
            await self._client.lock_payee_account(
                outgoing(PayeeLockRequest, lock), steps.idempotency_key(lock.application_id, "lock")
            )

    @activity.defn(name=steps.UNLOCK_PAYEE_ACCOUNT)
    async def unlock_payee_account(self, unlock: steps.TreasuryUnlock) -> None:
        await self._client.unlock_payee_account(
            unlock.contract_no,
            outgoing(PayeeUnlockRequest, unlock),
            steps.idempotency_key(unlock.application_id, "unlock"),
        )
