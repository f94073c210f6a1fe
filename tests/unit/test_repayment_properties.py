"""Properties of allocation that must hold for every loan and every sequence of payments.

Money is generated from integers of fen; the runs are derandomised so the suite is
reproducible and stays fast.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.money import FEN, ZERO
from domain.repayment import (
    Allocation,
    LoanBalance,
    LoanTerms,
    accrue,
    accrue_into,
    allocate,
    allocate_recovery,
    apply_allocation,
    open_balance,
)
from tests.unit.strategies import loan_terms, payment_amounts, payment_dates, positive_money

PROPERTY = settings(derandomize=True, database=None, max_examples=150, deadline=None)

Payment = tuple[Decimal, date]


@st.composite
def loans_with_payments(draw: st.DrawFn, max_payments: int = 8) -> tuple[LoanTerms, list[Payment]]:
    terms = draw(loan_terms())
    payments = draw(
        st.lists(st.tuples(payment_amounts(terms), payment_dates(terms)), min_size=1, max_size=max_payments)
    )
    return terms, payments


class Loan:
    """Drives a loan the way the workflow does: payments in arrival order, `overdue` once the
    day after maturity + grace has been reached by a payment while principal was outstanding."""

    def __init__(self, terms: LoanTerms) -> None:
        self.terms = terms
        self.balance = open_balance(terms)
        self.overdue = False
        self.today = terms.disbursed_on

    def pay(self, amount: Decimal, paid_on: date) -> Allocation:
        self.today = max(self.today, paid_on)
        if not self.balance.is_repaid and self.today >= self.terms.overdue_from:
            self.overdue = True
        allocation = allocate(self.terms, self.balance, amount, paid_on, overdue=self.overdue)
        self.balance = apply_allocation(self.balance, allocation)
        return allocation


def two_places(value: Decimal) -> bool:
    return value == value.quantize(FEN) and value.as_tuple().exponent == -2


def assert_sane(terms: LoanTerms, balance: LoanBalance) -> None:
    # (2) outstanding principal within [0, principal], and what was repaid makes up the rest
    assert ZERO <= balance.outstanding_principal <= terms.principal
    assert balance.principal_repaid + balance.outstanding_principal == terms.principal
    # (4) nothing due or paid is ever negative
    for value in (
        balance.interest_due,
        balance.penalty_due,
        balance.interest_paid,
        balance.penalty_paid,
        balance.principal_repaid,
        balance.surplus_released,
    ):
        assert value >= ZERO
        assert two_places(value)
    # surplus only once the loan is fully repaid, with nothing left due
    if balance.surplus_released > ZERO:
        assert balance.total_due == ZERO


def assert_allocation_sane(allocation: Allocation) -> None:
    # (1) every fen of the amount is accounted for exactly once
    parts = (allocation.penalty, allocation.interest, allocation.principal, allocation.surplus)
    assert sum(parts, ZERO) == allocation.amount
    for value in (*parts, allocation.accrual.interest, allocation.accrual.penalty):
        assert value >= ZERO
        assert two_places(value)


@PROPERTY
@given(loans_with_payments())
def test_every_fen_is_accounted_for_exactly_once(case: tuple[LoanTerms, list[Payment]]) -> None:
    terms, payments = case
    loan = Loan(terms)
    received = ZERO
    for amount, paid_on in payments:
        allocation = loan.pay(amount, paid_on)
        assert_allocation_sane(allocation)
        received += amount
        b = loan.balance
        assert b.interest_paid + b.penalty_paid + b.principal_repaid + b.surplus_released == received


@PROPERTY
@given(loans_with_payments())
def test_principal_stays_within_bounds_and_nothing_due_is_negative(case: tuple[LoanTerms, list[Payment]]) -> None:
    terms, payments = case
    loan = Loan(terms)
    assert_sane(terms, loan.balance)
    for amount, paid_on in payments:
        previous = loan.balance
        loan.pay(amount, paid_on)
        assert_sane(terms, loan.balance)
        assert loan.balance.outstanding_principal <= previous.outstanding_principal
        assert loan.balance.accrued_until >= previous.accrued_until


@PROPERTY
@given(loans_with_payments(max_payments=4), st.data())
def test_partial_payments_on_one_day_equal_one_payment_of_their_sum(
    case: tuple[LoanTerms, list[Payment]], data: st.DataObject
) -> None:
    terms, history = case
    # some history first, so the day's payments may meet interest due, penalty, overdue …
    split_loan = Loan(terms)
    for amount, paid_on in history[:-1]:
        split_loan.pay(amount, paid_on)
    whole_loan = Loan(terms)
    whole_loan.balance, whole_loan.overdue, whole_loan.today = split_loan.balance, split_loan.overdue, split_loan.today

    day = data.draw(payment_dates(terms), label="day")
    parts = data.draw(st.lists(positive_money(max_fen=int(terms.principal * 100)), min_size=2, max_size=5))
    for part in parts:
        split_loan.pay(part, day)
    whole_loan.pay(sum(parts, ZERO), day)

    a, b = split_loan.balance, whole_loan.balance
    assert a.interest_paid == b.interest_paid
    assert a.penalty_paid == b.penalty_paid
    assert a.principal_repaid == b.principal_repaid
    assert a.surplus_released == b.surplus_released
    assert a.outstanding_principal == b.outstanding_principal
    assert a.interest_due == b.interest_due
    assert a.penalty_due == b.penalty_due
    assert a.accrued_until == b.accrued_until


@PROPERTY
@given(loan_terms(), st.data())
def test_a_payment_later_never_costs_less(terms: LoanTerms, data: st.DataObject) -> None:
    """Paying off the whole loan one day later never needs less money."""
    day = data.draw(payment_dates(terms))
    later = date.fromordinal(day.toordinal() + data.draw(st.integers(min_value=1, max_value=60)))

    def cost(paid_on: date) -> Decimal:
        loan = Loan(terms)
        allocation = loan.pay(terms.principal * 3, paid_on)  # always enough
        return allocation.amount - allocation.surplus

    assert cost(day) <= cost(later)


@PROPERTY
@given(loans_with_payments(max_payments=4), st.lists(positive_money(max_fen=10**11), min_size=1, max_size=5), st.data())
def test_recoveries_after_write_off_account_for_every_fen(
    case: tuple[LoanTerms, list[Payment]], recoveries: list[Decimal], data: st.DataObject
) -> None:
    terms, history = case
    loan = Loan(terms)
    for amount, paid_on in history:
        loan.pay(amount, paid_on)
    written_off_on = data.draw(st.dates(min_value=max(loan.today, terms.overdue_from), max_value=date(2032, 12, 31)))
    claim = accrue_into(loan.balance, accrue(terms, loan.balance, written_off_on, penalty_mode=True))
    assert_sane(terms, claim)
    fixed_claim = claim.total_due
    received = claim.interest_paid + claim.penalty_paid + claim.principal_repaid + claim.surplus_released
    recovered = ZERO
    for amount in recoveries:
        allocation = allocate_recovery(claim, amount)
        assert_allocation_sane(allocation)
        assert allocation.accrual.interest == ZERO and allocation.accrual.penalty == ZERO
        claim = apply_allocation(claim, allocation)
        assert_sane(terms, claim)
        received += amount
        recovered += amount - allocation.surplus
        assert claim.interest_paid + claim.penalty_paid + claim.principal_repaid + claim.surplus_released == received
    # the claim fixed at write-off is all a recovery can clear; the rest is surplus
    assert recovered == min(fixed_claim, sum(recoveries, ZERO))
    assert claim.total_due == fixed_claim - recovered


@PROPERTY
@given(loans_with_payments(), st.data())
def test_charges_follow_the_rate_of_every_day(case: tuple[LoanTerms, list[Payment]], data: st.DataObject) -> None:
    """An independent, unrounded reference of API.md's rate rule. Given the principal the loan
    had on each accrued day, every day before maturity costs annual_rate / 360; every day from
    maturity on costs annual_rate × penalty_multiplier / 360 if the principal was not repaid in
    full by maturity + grace, else annual_rate / 360. The booked interest + penalty may differ
    from it only by the rounding of each accrual (half a fen per rounded figure)."""
    terms, payments = case
    payments = sorted(payments, key=lambda p: p[1])  # in date order, as they arrive
    loan = Loan(terms)
    segments: list[tuple[date, date, Decimal]] = []  # [start, end) at principal
    accruals = 0
    repaid_in_time = False
    for amount, paid_on in payments:
        before = loan.balance
        allocation = loan.pay(amount, paid_on)
        accruals += 1
        segments.append((before.accrued_until, allocation.accrual.accrued_until, before.outstanding_principal))
        if paid_on <= terms.last_grace_day and loan.balance.is_repaid:
            repaid_in_time = True
    balance = loan.balance
    if not balance.is_repaid:
        # fix the claim after the grace period (as a write-off does): penalty interest applies
        written_off_on = data.draw(st.dates(min_value=max(loan.today, terms.overdue_from), max_value=date(2032, 1, 1)))
        accrual = accrue(terms, balance, written_off_on, penalty_mode=True)
        segments.append((balance.accrued_until, accrual.accrued_until, balance.outstanding_principal))
        balance = accrue_into(balance, accrual)
        accruals += 1
    penalised = not repaid_in_time
    expected = Decimal(0)
    for start, end, principal in segments:
        for ordinal in range(start.toordinal(), end.toordinal()):
            penalty_day = penalised and date.fromordinal(ordinal) >= terms.maturity_date
            rate = terms.annual_rate * (terms.penalty_multiplier if penalty_day else 1)
            expected += principal * rate / 360
    charged = balance.interest_paid + balance.interest_due + balance.penalty_paid + balance.penalty_due
    assert abs(charged - expected) <= accruals * FEN
    if not penalised:
        assert balance.penalty_paid == ZERO and balance.penalty_due == ZERO
