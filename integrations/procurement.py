"""Client of the procurement system: contracts, suppliers' histories, the financing
registered on a contract, and the payee-account change the purchaser confirms.

The endpoints are described in `simulators/procurement.py`, which plays this system locally.
Every mutating call takes the caller's idempotency key (built with
`domain.steps.idempotency_key`); undoing calls (release, restore) succeed as no-ops when
there is nothing to undo, so compensation can always run.
"""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import BaseModel

from domain.contracts import Contract, ContractDossier, FinancingRecord, PastContract
from domain.money import Money
from domain.settings import Settings
from integrations.errors import ExternalRefusal
from integrations.http import ServiceClient, segment, wire

# The bodies of the procurement system's API as they are on the wire; the activities fill them
# from the workflow's step inputs.


class FinancingClaim(BaseModel):
    """POST /contracts/{no}/financing: register the financing on the contract."""

    application_id: str
    bank_code: str
    supplier_credit_code: str
    amount: Money


class FinancingRelease(BaseModel):
    """POST /contracts/{no}/financing/{id}/release."""

    reason: str


class PayeeChangeRequest(BaseModel):
    """POST /contracts/{no}/payee-change: the collection account as the new payee account."""

    application_id: str
    account_no: str
    account_name: str
    bank_code: str


class PayeeChangePending(BaseModel):
    """The system's answer: the change waits for the purchaser."""

    change_id: str
    previous_account_no: str


class OfflineAnswer(BaseModel):
    """POST /contracts/{no}/payee-change/{id}/offline-answer: what ops recorded."""

    decision: Literal["confirmed", "refused"]
    note: str | None = None


class PayeeRestoreRequest(BaseModel):
    """POST /contracts/{no}/payee-restore."""

    application_id: str
    reason: str


class _History(BaseModel):
    items: list[PastContract]


class _Contracts(BaseModel):
    items: list[Contract]


class ProcurementClient(ServiceClient):
    system = "procurement"

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient | None = None) -> ProcurementClient:
        return cls(settings.procurement_url, http=http, timeout_seconds=settings.http_timeout_seconds)

    async def get_contract(self, contract_no: str) -> Contract:
        """The contract with its current payee account; `ExternalRefusal("contract_not_found")`
        — also for a bare 404 (a path the system does not know is no contract of its)."""
        try:
            data = await self.get(f"/contracts/{segment(contract_no)}")
        except ExternalRefusal as refusal:
            if refusal.status == 404 and refusal.code != "contract_not_found":
                raise ExternalRefusal(
                    "contract_not_found", "the procurement system knows no such contract", 404, self.system
                ) from refusal
            raise
        return self.parse(Contract, data)

    async def supplier_contracts(self, credit_code: str) -> list[Contract]:
        """The supplier's contracts the procurement system holds (won and signed), newest first."""
        data = await self.get("/contracts", params={"supplier_credit_code": credit_code})
        return self.parse(_Contracts, data).items

    async def supplier_history(self, credit_code: str) -> list[PastContract]:
        data = await self.get(f"/suppliers/{segment(credit_code)}/contracts")
        return self.parse(_History, data).items

    async def get_financing(self, contract_no: str) -> FinancingRecord | None:
        """The financing the procurement system has registered on the contract, if any."""
        data = await self.get_optional(f"/contracts/{segment(contract_no)}/financing")
        return None if data is None else self.parse(FinancingRecord, data)

    async def fetch_dossier(self, contract_no: str) -> ContractDossier:
        """Everything verification reads: the contract, its supplier's history and the
        financing already registered on it."""
        contract = await self.get_contract(contract_no)
        history = await self.supplier_history(contract.supplier.credit_code)
        financing = await self.get_financing(contract_no)
        return ContractDossier(contract=contract, history=history, financing=financing)

    async def register_financing(self, contract_no: str, claim: FinancingClaim, key: str) -> FinancingRecord:
        """Register the financing on the contract. `ExternalRefusal("contract_already_financed")`
        (with `extra["holder"]`) when another application holds it."""
        data = await self.post(f"/contracts/{segment(contract_no)}/financing", wire(claim), key)
        return self.parse(FinancingRecord, data)

    async def release_financing(
        self, contract_no: str, application_id: str, release: FinancingRelease, key: str
    ) -> None:
        path = f"/contracts/{segment(contract_no)}/financing/{segment(application_id)}/release"
        await self.post(path, wire(release), key)

    async def request_payee_change(self, contract_no: str, change: PayeeChangeRequest, key: str) -> PayeeChangePending:
        """Ask for the contract's payee account to become the collection account; the change
        then waits for the purchaser. `ExternalRefusal("invalid_state")` while another
        application's change is pending."""
        data = await self.post(f"/contracts/{segment(contract_no)}/payee-change", wire(change), key)
        return self.parse(PayeeChangePending, data)

    async def record_offline_answer(
        self, contract_no: str, application_id: str, answer: OfflineAnswer, key: str
    ) -> None:
        """Tell the procurement system the purchaser's answer that ops recorded offline."""
        path = f"/contracts/{segment(contract_no)}/payee-change/{segment(application_id)}/offline-answer"
        await self.post(path, wire(answer), key)

    async def restore_payee_account(self, contract_no: str, restore: PayeeRestoreRequest, key: str) -> None:
        """Cancel this application's pending change, or put back the account the contract had
        before it; nothing to restore is not an error."""
        await self.post(f"/contracts/{segment(contract_no)}/payee-restore", wire(restore), key)
