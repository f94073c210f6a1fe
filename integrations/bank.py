"""Client of the banks' systems (one API for all cooperating banks; `bank_code` in each body):
credit review, payout, repayment capture and overdue notices.

Money moves here, so the idempotency key the caller passes is what keeps a retried payout
from paying twice: the bank returns the first disbursement for a repeated key.
The endpoints are described in `simulators/bank.py`.
"""

from __future__ import annotations

import httpx

from domain.settings import Settings
from domain.steps import (
    DisbursementOrder,
    DisbursementReceipt,
    OverdueNotice,
    RepaymentOrder,
    ReviewCancellation,
    ReviewSubmission,
)
from integrations.http import ServiceClient, segment, wire


class BankClient(ServiceClient):
    system = "bank"

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient | None = None) -> BankClient:
        return cls(settings.bank_url, http=http, timeout_seconds=settings.http_timeout_seconds)

    async def submit_for_review(self, submission: ReviewSubmission, key: str) -> None:
        """Hand the application and the supplier's credit profile to the bank's credit system."""
        await self.post("/credit-applications", wire(submission), key)

    async def cancel_review(self, cancellation: ReviewCancellation, key: str) -> None:
        """Withdraw the application from review; one the bank never received is not an error."""
        body = wire(cancellation, include={"bank_code", "reason"})
        await self.post(f"/credit-applications/{segment(cancellation.application_id)}/cancel", body, key)

    async def disburse(self, order: DisbursementOrder, key: str) -> DisbursementReceipt:
        """Pay the loan out to the collection account, exactly once per key."""
        data = await self.post("/disbursements", wire(order), key)
        return self.parse(DisbursementReceipt, data)

    async def apply_repayment(self, order: RepaymentOrder, key: str) -> None:
        """Tell the bank how an amount received splits: it captures penalty, interest and
        principal and releases the surplus to the supplier."""
        allocation = order.allocation
        body = wire(order, include={"application_id", "bank_code", "contract_no", "source", "source_id", "paid_on"})
        body |= wire(allocation, include={"penalty", "interest", "principal", "surplus", "amount"})
        await self.post("/repayments", body, key)

    async def send_overdue_notice(self, notice: OverdueNotice, key: str) -> None:
        await self.post("/overdue-notices", wire(notice), key)
