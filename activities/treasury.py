"""Activities against the treasury system: register and release the locked payee account."""

from __future__ import annotations

from temporalio import activity

from activities.records import ViewRecorder, outbound, record_view_after
from activities.refusals import refusals_are_final
from domain import steps
from integrations.treasury import TreasuryClient


class TreasuryActivities:
    def __init__(self, client: TreasuryClient, views: ViewRecorder) -> None:
        self._client = client
        self._views = views

    @activity.defn(name=steps.LOCK_PAYEE_ACCOUNT)
    async def lock_payee_account(self, lock: steps.TreasuryLock) -> None:
        with refusals_are_final():
            await self._client.lock_payee_account(outbound(lock), steps.idempotency_key(lock.application_id, "lock"))
        await record_view_after(self._views, lock, "payee_account_locked", lock.account_no)

    @activity.defn(name=steps.UNLOCK_PAYEE_ACCOUNT)
    async def unlock_payee_account(self, unlock: steps.TreasuryUnlock) -> None:
        await self._client.unlock_payee_account(
            outbound(unlock), steps.idempotency_key(unlock.application_id, "unlock")
        )
        await record_view_after(self._views, unlock, "payee_account_unlocked")
