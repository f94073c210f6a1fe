"""What the procurement system tells us about a contract and a supplier's history."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.money import Money


class ContractStatus(StrEnum):
    DRAFT = "draft"
    EFFECTIVE = "effective"
    TERMINATED = "terminated"
    COMPLETED = "completed"


class Purchaser(BaseModel):
    code: str
    name: str
    district: str


class Supplier(BaseModel):
    credit_code: str
    name: str


class Contract(BaseModel):
    contract_no: str
    project_name: str
    purchaser: Purchaser
    supplier: Supplier
    amount: Money
    paid_amount: Money
    signed_on: date
    expected_payment_date: date
    status: ContractStatus
    payee_account_no: str


class PastContract(BaseModel):
    """One contract of the supplier's procurement history, as the credit profile reads it."""

    contract_no: str
    purchaser_code: str
    amount: Money
    signed_on: date
    delivered_on_time: bool
    paid_on_time: bool
    status: ContractStatus


class FinancingRecord(BaseModel):
    """The procurement system's own record of a financing registered on a contract."""

    application_id: str
    bank_code: str
    registered_at: str


class ContractDossier(BaseModel):
    """Everything verification reads, fetched in one step: the contract, the supplier's
    history and any financing already registered on the contract in the procurement system."""

    contract: Contract
    history: list[PastContract] = Field(default_factory=list)
    financing: FinancingRecord | None = None
