"""The workflow's steps: activity names and their one-model inputs and outputs.

Workflows may import only `domain` and `temporalio`, so they call activities by these
names; `activities/` registers its definitions under the same names. Every input carries
the business keys its idempotency key is derived from (never a run id), and only what its
outside call needs: the read model is written by the workflow's own record step.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from domain.application import ApplicationView
from domain.contracts import ContractDossier
from domain.credit_profile import CreditProfile
from domain.money import ZERO, Money
from domain.repayment import Allocation

# procurement system
FETCH_DOSSIER = "procurement.fetch_dossier"
REGISTER_FINANCING = "procurement.register_financing"
RELEASE_FINANCING = "procurement.release_financing"
REQUEST_PAYEE_CHANGE = "procurement.request_payee_change"
RESTORE_PAYEE_ACCOUNT = "procurement.restore_payee_account"
# treasury system
LOCK_PAYEE_ACCOUNT = "treasury.lock_payee_account"
UNLOCK_PAYEE_ACCOUNT = "treasury.unlock_payee_account"
# bank systems
SUBMIT_FOR_REVIEW = "bank.submit_for_review"
CANCEL_REVIEW = "bank.cancel_review"
DISBURSE = "bank.disburse"
APPLY_REPAYMENT = "bank.apply_repayment"
SEND_OVERDUE_NOTICE = "bank.send_overdue_notice"
# the platform's own records
RECORD_APPLICATION = "records.record_application"
BOOK_WRITE_OFF = "records.book_write_off"


def idempotency_key(application_id: str, step: str, *parts: str) -> str:
    """Business-key idempotency key: stable across retries, workers and workflow runs."""
    return ":".join(["zcd", application_id, step, *parts])


class DossierRequest(BaseModel):
    application_id: str
    contract_no: str


class Dossier(BaseModel):
    dossier: ContractDossier
    credit_profile: CreditProfile
    # the treasury payments the platform recorded on the contract (each once, any status):
    # eligibility counts the larger of this and the procurement system's paid_amount. The
    # default keeps recorded histories from before the field replaying as they ran.
    recorded_payments: Money = ZERO


class Registration(BaseModel):
    application_id: str
    bank_code: str
    contract_no: str
    supplier_credit_code: str
    amount: Money
    # the account that becomes the contract's locked payee account: kept in the registry, so a
    # treasury payment is classified by what is stable for the financing's whole life
    collection_account_no: str | None = None


class Release(BaseModel):
    application_id: str
    contract_no: str
    reason: str


class PayeeChange(BaseModel):
    application_id: str
    contract_no: str
    account_no: str
    account_name: str
    bank_code: str


class PayeeChangeAck(BaseModel):
    change_id: str
    previous_account_no: str


class PayeeRestore(BaseModel):
    application_id: str
    contract_no: str
    reason: str


class TreasuryLock(BaseModel):
    application_id: str
    contract_no: str
    account_no: str
    bank_code: str


class TreasuryUnlock(BaseModel):
    application_id: str
    contract_no: str
    reason: str


class ReviewSubmission(BaseModel):
    application_id: str
    bank_code: str
    contract_no: str
    product_code: str
    supplier_credit_code: str
    supplier_name: str
    requested_amount: Money
    eligible_maximum: Money
    credit_profile: CreditProfile
    resend: int = 0  # ops may send an application to the bank again; each send has its own key


class ReviewCancellation(BaseModel):
    application_id: str
    bank_code: str
    reason: str


class DisbursementOrder(BaseModel):
    application_id: str
    bank_code: str
    contract_no: str
    supplier_credit_code: str
    district: str
    amount: Money
    account_no: str
    account_name: str


class DisbursementReceipt(BaseModel):
    disbursement_id: str
    executed_at: datetime


class RepaymentOrder(BaseModel):
    """Tell the bank how an amount received is split (it captures penalty + interest +
    principal and releases the surplus to the supplier) and book it in the ledger."""

    application_id: str
    bank_code: str
    contract_no: str
    source: Literal["treasury", "supplier", "recovery"]
    source_id: str  # payment_id or repayment_id: the business key of this money
    paid_on: date
    allocation: Allocation


class OverdueNotice(BaseModel):
    application_id: str
    bank_code: str
    contract_no: str
    outstanding_principal: Money
    overdue_since: date


class WriteOffBooking(BaseModel):
    application_id: str
    bank_code: str
    principal: Money
    interest: Money
    penalty: Money
    reason: str


class RecordApplication(BaseModel):
    """The read model's copy of the view, written by the workflow itself after it took a
    transition (a local activity; a versioned upsert, so a repeat or a late write is harmless)."""

    view: ApplicationView
    event: str
    collection_account_no: str | None = None


RECORD_OFFLINE_ANSWER = "procurement.record_offline_answer"


class OfflineAnswerRecord(BaseModel):
    """Ops recorded the purchaser's offline answer: the procurement system is told, so its
    payee account matches what the purchaser agreed (and the treasury pays the right account)."""

    application_id: str
    contract_no: str
    decision: Literal["confirmed", "refused"]
    note: str | None = None
