"""Client of the procurement system: contracts, suppliers' histories, the financing
registered on a contract, and the payee-account change the purchaser confirms.

The endpoints are described in `simulators/procurement.py`, which plays this system locally.
Every mutating call takes the caller's idempotency key (built with
`domain.steps.idempotency_key`); undoing calls (release, restore) succeed as no-ops when
there is nothing to undo, so compensation can always run.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from domain.contracts import Contract, ContractDossier, FinancingRecord, PastContract
from domain.settings import Settings
from domain.steps import OfflineAnswerRecord, PayeeChange, PayeeChangeAck, PayeeRestore, Registration, Release
from integrations.errors import ExternalRefusal
from integrations.http import ServiceClient, segment, wire


class _History(BaseModel):
    items: list[PastContract]


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

    async def register_financing(self, registration: Registration, key: str) -> FinancingRecord:
        """Register the financing on the contract. `ExternalRefusal("contract_already_financed")`
        (with `extra["holder"]`) when another application holds it."""
        body = wire(registration, include={"application_id", "bank_code", "supplier_credit_code", "amount"})
        data = await self.post(f"/contracts/{segment(registration.contract_no)}/financing", body, key)
        return self.parse(FinancingRecord, data)

    async def release_financing(self, release: Release, key: str) -> None:
        path = f"/contracts/{segment(release.contract_no)}/financing/{segment(release.application_id)}/release"
        await self.post(path, wire(release, include={"reason"}), key)

    async def request_payee_change(self, change: PayeeChange, key: str) -> PayeeChangeAck:
        """Ask for the contract's payee account to become the collection account; the change
        then waits for the purchaser. `ExternalRefusal("invalid_state")` while another
        application's change is pending."""
        body = wire(change, include={"application_id", "account_no", "account_name", "bank_code"})
        data = await self.post(f"/contracts/{segment(change.contract_no)}/payee-change", body, key)
        return self.parse(PayeeChangeAck, data)

    async def record_offline_answer(self, answer: OfflineAnswerRecord, key: str) -> None:
        """Tell the procurement system the purchaser's answer that ops recorded offline."""
        path = f"/contracts/{segment(answer.contract_no)}/payee-change/{segment(answer.application_id)}/offline-answer"
        await self.post(path, wire(answer, include={"decision", "note"}), key)

    async def restore_payee_account(self, restore: PayeeRestore, key: str) -> None:
        """Cancel this application's pending change, or put back the account the contract had
        before it; nothing to restore is not an error."""
        body = wire(restore, include={"application_id", "reason"})
        await self.post(f"/contracts/{segment(restore.contract_no)}/payee-restore", body, key)
