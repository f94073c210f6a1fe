"""Client of the banks' systems (one API for all cooperating banks; `bank_code` in each body):
credit review, payout, repayment capture and overdue notices.

Money moves here, so the idempotency key the caller passes is what keeps a retried payout
from paying twice: the bank returns the first disbursement for a repeated key.
The bodies below are the banks' API as it is on the wire (`simulators/bank.py` plays it);
the activities fill them from the workflow's step inputs, so either side can change alone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import httpx
from pydantic import BaseModel

from domain.credit_profile import CreditProfile
from domain.money import Money
from domain.settings import Settings
from integrations.http import ServiceClient, segment, wire


class CreditApplication(BaseModel):
    """POST /credit-applications: the application and the supplier's credit profile."""

    application_id: str
    bank_code: str
    contract_no: str
    product_code: str
    supplier_credit_code: str
    supplier_name: str
    requested_amount: Money
    eligible_maximum: Money
    credit_profile: CreditProfile
    resend: int = 0


class ReviewCancel(BaseModel):
    """POST /credit-applications/{id}/cancel."""

    bank_code: str
    reason: str


class Disbursement(BaseModel):
    """POST /disbursements: pay the loan out to the collection account."""

    application_id: str
    bank_code: str
    contract_no: str
    supplier_credit_code: str
    district: str
    amount: Money
    account_no: str
    account_name: str


class DisbursementDone(BaseModel):
    """The bank's answer to a disbursement (the first one again for a repeated key)."""

    disbursement_id: str
    executed_at: datetime


class RepaymentSplit(BaseModel):
    """POST /repayments: how an amount received splits; the bank captures penalty, interest and
    principal and releases the surplus."""

    application_id: str
    bank_code: str
    contract_no: str
    source: Literal["treasury", "supplier", "recovery"]
    source_id: str
    paid_on: date
    amount: Money
    penalty: Money
    interest: Money
    principal: Money
    surplus: Money


class OverdueNotice(BaseModel):
    """POST /overdue-notices."""

    application_id: str
    bank_code: str
    contract_no: str
    outstanding_principal: Money
    overdue_since: date


class BankClient(ServiceClient):
    system = "bank"

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient | None = None) -> BankClient:
        return cls(settings.bank_url, http=http, timeout_seconds=settings.http_timeout_seconds)

    async def submit_for_review(self, application: CreditApplication, key: str) -> None:
        """Hand the application and the supplier's credit profile to the bank's credit system."""
        await self.post("/credit-applications", wire(application), key)

    async def cancel_review(self, application_id: str, cancel: ReviewCancel, key: str) -> None:
        """Withdraw the application from review; one the bank never received is not an error."""
        await self.post(f"/credit-applications/{segment(application_id)}/cancel", wire(cancel), key)

    async def disburse(self, disbursement: Disbursement, key: str) -> DisbursementDone:
        """Pay the loan out to the collection account, exactly once per key."""
        data = await self.post("/disbursements", wire(disbursement), key)
        return self.parse(DisbursementDone, data)

    async def apply_repayment(self, split: RepaymentSplit, key: str) -> None:
        await self.post("/repayments", wire(split), key)

    async def send_overdue_notice(self, notice: OverdueNotice, key: str) -> None:
        await self.post("/overdue-notices", wire(notice), key)
