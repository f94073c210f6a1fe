"""Client of the treasury's payment system: register and release the locked payee account
(the treasury then pays contract money only there). Payments come the other way, as signed
notifications to the API. The endpoints are described in `simulators/treasury.py`."""

from __future__ import annotations

from datetime import datetime

import httpx
from pydantic import BaseModel

from domain.settings import Settings
from integrations.http import ServiceClient, segment, wire


class PayeeLockRequest(BaseModel):
    """POST /payee-locks: the confirmed account as the contract's only payee account."""

    application_id: str
    contract_no: str
    account_no: str
    bank_code: str


class PayeeUnlockRequest(BaseModel):
    """POST /payee-locks/{no}/release."""

    application_id: str
    reason: str


class PayeeLock(BaseModel):
    """A payee-account lock as the treasury holds it."""

    lock_id: str
    application_id: str
    contract_no: str
    account_no: str
    bank_code: str
    locked_at: datetime


class TreasuryClient(ServiceClient):
    system = "treasury"

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient | None = None) -> TreasuryClient:
        return cls(settings.treasury_url, http=http, timeout_seconds=settings.http_timeout_seconds)

    async def lock_payee_account(self, lock: PayeeLockRequest, key: str) -> None:
        """Register the confirmed account as the contract's locked payee account.
        `ExternalRefusal("contract_already_financed")` when another application holds a lock."""
        await self.post("/payee-locks", wire(lock), key)

    async def unlock_payee_account(self, contract_no: str, unlock: PayeeUnlockRequest, key: str) -> None:
        """Release this application's lock; releasing what is not held is not an error."""
        await self.post(f"/payee-locks/{segment(contract_no)}/release", wire(unlock), key)

    async def get_payee_lock(self, contract_no: str) -> PayeeLock | None:
        data = await self.get_optional(f"/payee-locks/{segment(contract_no)}")
        return None if data is None else self.parse(PayeeLock, data)
