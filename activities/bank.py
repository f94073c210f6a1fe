"""Activities against the banks' systems: credit review, payout, repayment capture, notices.

Money moves here, so each call's idempotency key is derived from the application and the
business id of the money (never a run or attempt id): a retried payout after a lost answer
returns the first disbursement instead of paying twice. The ledger posting shares the key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Protocol

from temporalio import activity

from activities.heartbeat import heartbeating
from activities.refusals import refusals_are_final
from domain import steps
from domain.repayment import Allocation
from integrations.bank import BankClient, CreditApplication, Disbursement, OverdueNotice, RepaymentSplit, ReviewCancel
from integrations.http import outgoing


class MoneyLedger(Protocol):
    async def post_disbursement(self, application_id: str, bank_code: str, amount: Decimal, key: str) -> None: ...

    async def post_repayment(
        self,
        application_id: str,
        bank_code: str,
        source: Literal["treasury", "supplier", "recovery"],
        source_id: str,
        allocation: Allocation,
        key: str,
    ) -> None: ...


class BankActivities:
    def __init__(self, client: BankClient, ledger: MoneyLedger) -> None:
        self._client = client
        self._ledger = ledger

    @activity.defn(name=steps.SUBMIT_FOR_REVIEW)
    async def submit_for_review(self, submission: steps.ReviewSubmission) -> None:
        key = steps.idempotency_key(submission.application_id, "review", str(submission.resend))
        with refusals_are_final():
            await self._client.submit_for_review(outgoing(CreditApplication, submission), key)

    @activity.defn(name=steps.CANCEL_REVIEW)
    async def cancel_review(self, cancellation: steps.ReviewCancellation) -> None:
        key = steps.idempotency_key(cancellation.application_id, "review-cancel")
        await self._client.cancel_review(cancellation.application_id, outgoing(ReviewCancel, cancellation), key)

    @activity.defn(name=steps.DISBURSE)
    async def disburse(self, order: steps.DisbursementOrder) -> steps.DisbursementReceipt:
        key = steps.idempotency_key(order.application_id, "disburse")
        with refusals_are_final(), heartbeating():
            done = await self._client.disburse(outgoing(Disbursement, order), key)
        await self._ledger.post_disbursement(order.application_id, order.bank_code, order.amount, key)
        return steps.DisbursementReceipt(disbursement_id=done.disbursement_id, executed_at=done.executed_at)

    @activity.defn(name=steps.APPLY_REPAYMENT)
    async def apply_repayment(self, order: steps.RepaymentOrder) -> None:
        key = steps.idempotency_key(order.application_id, "repayment", order.source, order.source_id)
        with refusals_are_final(), heartbeating():
            await self._client.apply_repayment(outgoing(RepaymentSplit, order, **order.allocation.model_dump()), key)
        await self._ledger.post_repayment(
            order.application_id, order.bank_code, order.source, order.source_id, order.allocation, key
        )

    @activity.defn(name=steps.SEND_OVERDUE_NOTICE)
    async def send_overdue_notice(self, notice: steps.OverdueNotice) -> None:
        key = steps.idempotency_key(notice.application_id, "overdue-notice")
        await self._client.send_overdue_notice(outgoing(OverdueNotice, notice), key)
