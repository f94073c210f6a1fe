"""Interest, penalty interest and the allocation of every repayment — pure and exact.

The rules are API.md's:
- simple interest, actual/360, on the outstanding principal;
- a repayment on `paid_on` first clears the interest accrued from the last accrual date up
  to max(paid_on, disbursed_on + 1 day): the first day counts, the repayment day does not,
  and a loan repaid on its disbursement day pays one day;
- each accrual is rounded half-up to the fen;
- from `maturity_date` on, a loan that was not repaid by maturity + grace accrues penalty
  interest at annual_rate × penalty_multiplier instead of the contract rate; one repaid in
  time simply keeps accruing at annual_rate. Days from maturity accrued at annual_rate by a
  partial repayment inside the grace period are kept (`grace_principal_days`) and, should
  the loan not be repaid in time after all, charged the difference to the penalty rate at
  the next accrual in penalty mode;
- every amount received goes to penalty, then interest, then principal; what is left once
  the principal is repaid is surplus, released to the supplier.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from domain.money import ZERO, Money, Rate, round_half_up

DAYS_IN_YEAR = Decimal(360)


class LoanTerms(BaseModel):
    model_config = ConfigDict(frozen=True)

    principal: Money
    annual_rate: Rate
    penalty_multiplier: Rate
    disbursed_on: date
    maturity_date: date
    grace_days: int

    @property
    def last_grace_day(self) -> date:
        return self.maturity_date + timedelta(days=self.grace_days)

    @property
    def overdue_from(self) -> date:
        """The first business day on which an unpaid loan is overdue."""
        return self.last_grace_day + timedelta(days=1)


class LoanBalance(BaseModel):
    """Where a loan stands. `interest_due`/`penalty_due` are accrued but not yet paid."""

    outstanding_principal: Money
    accrued_until: date
    interest_due: Money = ZERO
    penalty_due: Money = ZERO
    interest_paid: Money = ZERO
    penalty_paid: Money = ZERO
    principal_repaid: Money = ZERO
    surplus_released: Money = ZERO
    grace_principal_days: Money = ZERO
    """Σ outstanding principal × days (yuan·days, not an amount) from `maturity_date` on that
    were accrued at `annual_rate` while the loan could still be repaid within grace; charged
    the difference to the penalty rate once penalty interest applies, then back to zero."""

    @property
    def total_due(self) -> Decimal:
        return self.outstanding_principal + self.interest_due + self.penalty_due

    @property
    def is_repaid(self) -> bool:
        return self.outstanding_principal == ZERO


class Accrual(BaseModel):
    interest: Money
    penalty: Money
    accrued_until: date
    grace_principal_days: Money = ZERO
    """The change to `LoanBalance.grace_principal_days` (yuan·days): positive when days from
    maturity were accrued at the contract rate, minus the balance's when they were converted."""


class Allocation(BaseModel):
    """How one amount received was split. penalty + interest + principal + surplus == amount."""

    amount: Money
    penalty: Money
    interest: Money
    principal: Money
    surplus: Money
    accrual: Accrual


def open_balance(terms: LoanTerms) -> LoanBalance:
    return LoanBalance(outstanding_principal=terms.principal, accrued_until=terms.disbursed_on)


def accrue(terms: LoanTerms, balance: LoanBalance, paid_on: date, *, penalty_mode: bool) -> Accrual:
    """Interest (and penalty interest) accrued on the outstanding principal up to `paid_on`.

    `penalty_mode` is whether days from maturity on are charged at the penalty rate; callers
    pass `is_penalty_due(...)`. A date before the last accrual accrues no new days; in penalty
    mode it still converts the balance's `grace_principal_days` to the penalty rate.
    """
    end = max(paid_on, terms.disbursed_on + timedelta(days=1))
    start = balance.accrued_until
    principal = balance.outstanding_principal
    if principal == ZERO:
        # Repaid: nothing accrues. Days kept from a grace-period repayment stay unconverted:
        # a loan repaid in full within grace owes no penalty, and one repaid after grace
        # converted them in the accrual of that repayment (penalty mode).
        return Accrual(interest=ZERO, penalty=ZERO, accrued_until=max(start, end))
    days_before_maturity = max(0, (min(end, terms.maturity_date) - start).days)
    days_from_maturity = max(0, (end - max(start, terms.maturity_date)).days)
    if penalty_mode:
        interest = round_half_up(principal * terms.annual_rate * days_before_maturity / DAYS_IN_YEAR)
        penalty_rate = terms.annual_rate * terms.penalty_multiplier
        # Days from maturity charged at annual_rate in grace now cost the penalty rate too.
        catch_up = max(ZERO, balance.grace_principal_days * (penalty_rate - terms.annual_rate))
        penalty = round_half_up((principal * penalty_rate * days_from_maturity + catch_up) / DAYS_IN_YEAR)
        grace_change = -balance.grace_principal_days
    else:
        days = days_before_maturity + days_from_maturity
        interest = round_half_up(principal * terms.annual_rate * days / DAYS_IN_YEAR)
        penalty = ZERO
        grace_change = principal * days_from_maturity
    return Accrual(interest=interest, penalty=penalty, accrued_until=max(start, end), grace_principal_days=grace_change)


def is_penalty_due(terms: LoanTerms, paid_on: date, *, overdue: bool) -> bool:
    """Penalty interest applies once the loan is overdue, or when the repayment is made after
    the last grace day (the principal was evidently not repaid by maturity + grace): from
    `overdue_from` on, even if the caller has not moved the loan to `overdue` yet."""
    end = max(paid_on, terms.disbursed_on + timedelta(days=1))
    return overdue or end > terms.last_grace_day


def clears_within_grace(terms: LoanTerms, balance: LoanBalance, amount: Decimal, paid_on: date) -> bool:
    """A repayment dated within grace that repays the loan in full, reported only once the loan
    was already `overdue` (a bank reports a supplier's repayment days later): the principal
    *was* repaid by maturity + grace, so API.md charges no penalty. Only while nothing has
    been accrued past the grace period yet — after that, penalty days were already charged."""
    if paid_on > terms.last_grace_day or balance.accrued_until > terms.last_grace_day or balance.penalty_due > 0:
        return False
    at_contract_rate = accrue(terms, balance, paid_on, penalty_mode=False)
    return amount >= balance.outstanding_principal + balance.interest_due + at_contract_rate.interest


def allocate(terms: LoanTerms, balance: LoanBalance, amount: Decimal, paid_on: date, *, overdue: bool) -> Allocation:
    """Split `amount` received on `paid_on`: penalty → interest → principal → surplus."""
    if amount <= 0:
        raise ValueError("a repayment must be a positive amount")
    penalty_mode = is_penalty_due(terms, paid_on, overdue=overdue)
    if penalty_mode and clears_within_grace(terms, balance, amount, paid_on):
        penalty_mode = False
    accrual = accrue(terms, balance, paid_on, penalty_mode=penalty_mode)
    left = amount
    penalty = min(left, balance.penalty_due + accrual.penalty)
    left -= penalty
    interest = min(left, balance.interest_due + accrual.interest)
    left -= interest
    principal = min(left, balance.outstanding_principal)
    left -= principal
    return Allocation(
        amount=amount, penalty=penalty, interest=interest, principal=principal, surplus=left, accrual=accrual
    )


def apply_allocation(balance: LoanBalance, allocation: Allocation) -> LoanBalance:
    """The balance after `allocation` (which must have been computed from `balance`)."""
    accrual = allocation.accrual
    return balance.model_copy(
        update={
            "accrued_until": accrual.accrued_until,
            "penalty_due": balance.penalty_due + accrual.penalty - allocation.penalty,
            "interest_due": balance.interest_due + accrual.interest - allocation.interest,
            "outstanding_principal": balance.outstanding_principal - allocation.principal,
            "penalty_paid": balance.penalty_paid + allocation.penalty,
            "interest_paid": balance.interest_paid + allocation.interest,
            "principal_repaid": balance.principal_repaid + allocation.principal,
            "surplus_released": balance.surplus_released + allocation.surplus,
            "grace_principal_days": balance.grace_principal_days + accrual.grace_principal_days,
        }
    )


def accrue_into(balance: LoanBalance, accrual: Accrual) -> LoanBalance:
    """Book an accrual without a payment (e.g. on write-off, to fix the bank's claim)."""
    return balance.model_copy(
        update={
            "accrued_until": accrual.accrued_until,
            "interest_due": balance.interest_due + accrual.interest,
            "penalty_due": balance.penalty_due + accrual.penalty,
            "grace_principal_days": balance.grace_principal_days + accrual.grace_principal_days,
        }
    )


def allocate_recovery(balance: LoanBalance, amount: Decimal) -> Allocation:
    """A recovery on a written-off loan: the claim was fixed at write-off, nothing accrues."""
    if amount <= 0:
        raise ValueError("a recovery must be a positive amount")
    none = Accrual(interest=ZERO, penalty=ZERO, accrued_until=balance.accrued_until)
    left = amount
    penalty = min(left, balance.penalty_due)
    left -= penalty
    interest = min(left, balance.interest_due)
    left -= interest
    principal = min(left, balance.outstanding_principal)
    left -= principal
    return Allocation(
        amount=amount, penalty=penalty, interest=interest, principal=principal, surplus=left, accrual=none
    )
