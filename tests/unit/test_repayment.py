"""Interest, penalty interest and allocation, against figures computed by hand.

Loan of the API.md example: ¥700,000.00 at 0.0385, disbursed 2026-11-27, 180 days, so maturity
2027-05-26; product STD: grace 3 days (last grace day 2027-05-29, overdue from 2027-05-30),
penalty multiplier 1.5 (penalty rate 0.05775).

One day of interest:  700,000.00 × 0.0385 / 360 = 74.8611…
One day of penalty:   700,000.00 × 0.05775 / 360 = 112.2916…
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.money import ZERO
from domain.repayment import (
    Accrual,
    Allocation,
    LoanBalance,
    LoanTerms,
    accrue,
    accrue_into,
    allocate,
    allocate_recovery,
    apply_allocation,
    is_penalty_due,
    open_balance,
)

D = Decimal
DISBURSED = date(2026, 11, 27)
MATURITY = date(2027, 5, 26)


def terms(
    principal: str = "700000.00",
    rate: str = "0.0385",
    disbursed_on: date = DISBURSED,
    term_days: int = 180,
    grace_days: int = 3,
    multiplier: str = "1.5",
) -> LoanTerms:
    return LoanTerms(
        principal=D(principal),
        annual_rate=D(rate),
        penalty_multiplier=D(multiplier),
        disbursed_on=disbursed_on,
        maturity_date=disbursed_on + timedelta(days=term_days),
        grace_days=grace_days,
    )


def pay(
    t: LoanTerms, balance: LoanBalance, amount: str, paid_on: date, *, overdue: bool = False
) -> tuple[Allocation, LoanBalance]:
    allocation = allocate(t, balance, D(amount), paid_on, overdue=overdue)
    assert allocation.penalty + allocation.interest + allocation.principal + allocation.surplus == D(amount)
    return allocation, apply_allocation(balance, allocation)


def split(allocation: Allocation) -> tuple[str, str, str, str]:
    return (str(allocation.penalty), str(allocation.interest), str(allocation.principal), str(allocation.surplus))


# ---- the terms --------------------------------------------------------------------------------


def test_the_example_terms() -> None:
    t = terms()
    assert t.maturity_date == MATURITY  # 2026-11-27 + 180 days
    assert t.last_grace_day == date(2027, 5, 29)
    assert t.overdue_from == date(2027, 5, 30)


def test_open_balance() -> None:
    b = open_balance(terms())
    assert b.outstanding_principal == D("700000.00")
    assert b.accrued_until == DISBURSED
    assert (b.interest_due, b.penalty_due, b.interest_paid, b.penalty_paid) == (ZERO,) * 4
    assert (b.principal_repaid, b.surplus_released) == (ZERO, ZERO)
    assert b.total_due == D("700000.00")
    assert not b.is_repaid


# ---- the API.md example -------------------------------------------------------------------------


def test_api_example_repaid_on_the_disbursement_day() -> None:
    t = terms()
    allocation, after = pay(t, open_balance(t), "1000000.00", DISBURSED)
    # at least one day: 700,000.00 × 0.0385 × 1 / 360 = 74.8611 → 74.86
    assert split(allocation) == ("0.00", "74.86", "700000.00", "299925.14")
    assert allocation.accrual.accrued_until == DISBURSED + timedelta(days=1)
    assert after.outstanding_principal == ZERO
    assert after.is_repaid
    assert after.interest_paid == D("74.86")
    assert after.penalty_paid == ZERO
    assert after.principal_repaid == D("700000.00")
    assert after.surplus_released == D("299925.14")
    assert after.interest_due == ZERO and after.penalty_due == ZERO
    assert after.model_dump(mode="json")["surplus_released"] == "299925.14"


def test_a_second_repayment_the_same_day_accrues_nothing() -> None:
    t = terms()
    _, after = pay(t, open_balance(t), "100000.00", DISBURSED)
    assert after.interest_paid == D("74.86")
    assert after.outstanding_principal == D("600074.86")  # 700,000.00 − (100,000.00 − 74.86)
    second, after2 = pay(t, after, "100000.00", DISBURSED)
    assert second.accrual.interest == ZERO and second.accrual.penalty == ZERO
    assert split(second) == ("0.00", "0.00", "100000.00", "0.00")
    assert after2.outstanding_principal == D("500074.86")
    # the next day is also not counted: the first day already covered it
    third, _ = pay(t, after2, "1.00", DISBURSED + timedelta(days=1))
    assert third.accrual.interest == ZERO


def test_a_back_dated_repayment_accrues_nothing() -> None:
    t = terms()
    _, after = pay(t, open_balance(t), "100000.00", date(2026, 12, 27))
    back, after2 = pay(t, after, "50000.00", date(2026, 12, 20))
    assert back.accrual.interest == ZERO and back.accrual.penalty == ZERO
    assert back.principal == D("50000.00")
    assert after2.accrued_until == date(2026, 12, 27)  # never moves backwards
    before_disbursement, _ = pay(t, open_balance(t), "10.00", DISBURSED - timedelta(days=3))
    assert before_disbursement.accrual.interest == D("74.86")  # still the one first day


def test_thirty_days() -> None:
    t = terms()
    allocation, after = pay(t, open_balance(t), "1000000.00", date(2026, 12, 27))
    # 700,000.00 × 0.0385 × 30 / 360 = 2,245.8333… → 2,245.83
    assert split(allocation) == ("0.00", "2245.83", "700000.00", "297754.17")
    assert after.interest_paid == D("2245.83")


def test_partial_repayments_accrue_on_the_outstanding_principal() -> None:
    t = terms()
    first, after = pay(t, open_balance(t), "100000.00", date(2026, 12, 27))
    assert split(first) == ("0.00", "2245.83", "97754.17", "0.00")
    assert after.outstanding_principal == D("602245.83")
    # 602,245.83 × 0.0385 × 30 / 360 = 1,932.2053… → 1,932.21
    second, after2 = pay(t, after, "700000.00", date(2027, 1, 26))
    assert split(second) == ("0.00", "1932.21", "602245.83", "95821.96")
    assert after2.interest_paid == D("4178.04")
    assert after2.principal_repaid == D("700000.00")
    assert after2.surplus_released == D("95821.96")


def test_a_payment_smaller_than_the_interest_leaves_interest_due() -> None:
    t = terms()
    first, after = pay(t, open_balance(t), "1000.00", date(2026, 12, 27))
    assert split(first) == ("0.00", "1000.00", "0.00", "0.00")
    assert after.interest_due == D("1245.83")
    assert after.outstanding_principal == D("700000.00")
    assert after.total_due == D("701245.83")
    # the interest still due is cleared first; the principal accrues for the new days only
    # (700,000.00 × 0.0385 × 1 / 360 = 74.86)
    second, after2 = pay(t, after, "2000.00", date(2026, 12, 28))
    assert split(second) == ("0.00", "1320.69", "679.31", "0.00")
    assert after2.interest_due == ZERO
    assert after2.outstanding_principal == D("699320.69")


def test_each_accrual_is_rounded_half_up() -> None:
    # 360.00 × 0.025 × 1 / 360 = 0.025 exactly: half-up 0.03 (half-even would give 0.02)
    t = terms(principal="360.00", rate="0.025")
    allocation, _ = pay(t, open_balance(t), "1000.00", DISBURSED)
    assert allocation.interest == D("0.03")
    # 360.00 × 0.015 × 1 / 360 = 0.015: 0.02
    t = terms(principal="360.00", rate="0.015")
    allocation, _ = pay(t, open_balance(t), "1000.00", DISBURSED)
    assert allocation.interest == D("0.02")
    # 100.00 × 0.01 × 1 / 360 = 0.00277…: 0.00, and the whole payment goes to principal
    t = terms(principal="100.00", rate="0.01")
    allocation, _ = pay(t, open_balance(t), "100.00", DISBURSED)
    assert split(allocation) == ("0.00", "0.00", "100.00", "0.00")


def test_to_maturity() -> None:
    t = terms()
    allocation, _ = pay(t, open_balance(t), "713475.00", MATURITY)
    # 700,000.00 × 0.0385 × 180 / 360 = 13,475.00 exactly
    assert split(allocation) == ("0.00", "13475.00", "700000.00", "0.00")


# ---- after maturity -------------------------------------------------------------------------------


def test_repaid_within_grace_pays_interest_at_the_annual_rate() -> None:
    t = terms()
    allocation, after = pay(t, open_balance(t), "800000.00", date(2027, 5, 29))  # the last grace day
    # 700,000.00 × 0.0385 × 183 / 360 = 13,699.5833… → 13,699.58; no penalty
    assert split(allocation) == ("0.00", "13699.58", "700000.00", "86300.42")
    assert after.penalty_paid == ZERO


def test_not_repaid_by_grace_pays_penalty_from_maturity_on() -> None:
    t = terms()
    allocation, after = pay(t, open_balance(t), "720000.00", date(2027, 6, 5), overdue=True)
    # interest 2026-11-27 … 2027-05-25: 180 days = 13,475.00
    # penalty 2027-05-26 … 2027-06-04: 10 days × 700,000.00 × 0.05775 / 360 = 1,122.9166… → 1,122.92
    assert split(allocation) == ("1122.92", "13475.00", "700000.00", "5402.08")
    assert after.penalty_paid == D("1122.92")
    assert after.interest_paid == D("13475.00")


def test_penalty_applies_from_the_payment_date_even_before_the_stage_moves() -> None:
    # The workflow may apply a payment dated after the grace period before its overdue timer
    # has fired (stage still `repaying`): the principal was not repaid by maturity + grace.
    t = terms()
    late, _ = pay(t, open_balance(t), "720000.00", date(2027, 6, 5), overdue=False)
    assert split(late) == ("1122.92", "13475.00", "700000.00", "5402.08")


def test_a_payment_on_the_first_overdue_day_pays_penalty() -> None:
    # Paid 2027-05-30, the day the loan is overdue: not repaid by 2027-05-29, so the days from
    # maturity are penalty days: 4 × 112.2916… = 449.1666… → 449.17; interest 13,475.00.
    t = terms()
    assert is_penalty_due(t, date(2027, 5, 30), overdue=False)
    assert not is_penalty_due(t, date(2027, 5, 29), overdue=False)
    assert is_penalty_due(t, date(2027, 5, 29), overdue=True)
    for overdue in (False, True):
        allocation, _ = pay(t, open_balance(t), "720000.00", date(2027, 5, 30), overdue=overdue)
        assert split(allocation) == ("449.17", "13475.00", "700000.00", "6075.83")


def test_without_grace_days() -> None:
    t = terms(grace_days=0)
    assert t.overdue_from == MATURITY + timedelta(days=1)
    on_time, _ = pay(t, open_balance(t), "713475.00", MATURITY)
    assert split(on_time) == ("0.00", "13475.00", "700000.00", "0.00")
    # one day late: the maturity day is a penalty day: 112.2916… → 112.29
    late, _ = pay(t, open_balance(t), "713587.29", MATURITY + timedelta(days=1))
    assert split(late) == ("112.29", "13475.00", "700000.00", "0.00")


def test_a_partial_payment_in_grace_does_not_spare_the_days_from_maturity() -> None:
    """API.md: not repaid in full by maturity + grace → penalty interest from maturity_date on,
    instead of the contract rate — including the days already accrued by a partial payment
    made inside the grace period."""
    t = terms()
    first, after = pay(t, open_balance(t), "100000.00", date(2027, 5, 28))
    # in grace, it may still be repaid in time: 182 days at the annual rate
    # 700,000.00 × 0.0385 × 182 / 360 = 13,624.7222… → 13,624.72
    assert split(first) == ("0.00", "13624.72", "86375.28", "0.00")
    assert after.outstanding_principal == D("613624.72")
    # Paid in full 2027-06-05, overdue. Penalty:
    #   2027-05-28 … 2027-06-04, 8 days on 613,624.72 at 0.05775: 787.4850…
    #   plus 2027-05-26 and 05-27, charged at 0.0385 in grace, now at 0.05775: the extra
    #   2 × 700,000.00 × (0.05775 − 0.0385) / 360 = 74.8611…
    #   = 862.3461… → 862.35
    second, after2 = pay(t, after, "700000.00", date(2027, 6, 5), overdue=True)
    assert split(second) == ("862.35", "0.00", "613624.72", "85512.93")
    # what the loan cost from maturity on equals the penalty rate on those days:
    # 2 days on 700,000.00 + 8 days on 613,624.72 at 0.05775 = 224.5833… + 787.4850… = 1,012.07,
    # of which 149.72 (2 days at 0.0385) was charged as interest in grace.
    assert after2.penalty_paid + D("149.72") == D("1012.07")


def test_a_partial_payment_in_grace_then_repaid_in_grace_has_no_penalty() -> None:
    t = terms()
    _, after = pay(t, open_balance(t), "100000.00", date(2027, 5, 28))
    second, after2 = pay(t, after, "700000.00", date(2027, 5, 29))
    # 613,624.72 × 0.0385 × 1 / 360 = 65.6237… → 65.62
    assert split(second) == ("0.00", "65.62", "613624.72", "86309.66")
    assert after2.penalty_paid == ZERO
    # and a stray payment after the grace period is all surplus: no penalty on a repaid loan
    late, _ = pay(t, after2, "10.00", date(2027, 7, 1), overdue=False)
    assert split(late) == ("0.00", "0.00", "0.00", "10.00")


def test_the_grace_days_are_converted_even_by_a_back_dated_overdue_payment() -> None:
    # In grace on 2027-05-28, then (overdue) a payment the supplier made that same day is
    # reported: no new day accrues, but 2027-05-26 and 05-27 now cost the penalty rate:
    # 2 × 700,000.00 × (0.05775 − 0.0385) / 360 = 74.8611… → 74.86, charged once.
    t = terms()
    _, after = pay(t, open_balance(t), "100000.00", date(2027, 5, 28))
    assert after.grace_principal_days == D("1400000.00")  # 700,000.00 × 2 days
    late, after2 = pay(t, after, "1000.00", date(2027, 5, 28), overdue=True)
    assert split(late) == ("74.86", "0.00", "925.14", "0.00")
    assert after2.grace_principal_days == ZERO
    again, _ = pay(t, after2, "1000.00", date(2027, 5, 28), overdue=True)
    assert split(again) == ("0.00", "0.00", "1000.00", "0.00")


def test_overdue_partial_payments_pay_penalty_first() -> None:
    t = terms()
    first, after = pay(t, open_balance(t), "10000.00", date(2027, 6, 5), overdue=True)
    assert split(first) == ("1122.92", "8877.08", "0.00", "0.00")
    assert after.interest_due == D("4597.92")
    # 10 more days of penalty on 700,000.00: 1,122.9166… → 1,122.92; then 4,597.92 interest
    second, after2 = pay(t, after, "10000.00", date(2027, 6, 15), overdue=True)
    assert split(second) == ("1122.92", "4597.92", "4279.16", "0.00")
    assert after2.outstanding_principal == D("695720.84")
    assert after2.penalty_paid == D("2245.84")
    assert after2.interest_paid == D("13475.00")


# ---- write-off and recoveries ---------------------------------------------------------------------


def test_recovery_allocation_after_write_off() -> None:
    t = terms()
    # written off 2027-06-29: penalty 34 days (2027-05-26 … 06-28) × 112.2916… = 3,817.9166… → 3,817.92
    accrual = accrue(t, open_balance(t), date(2027, 6, 29), penalty_mode=True)
    assert (accrual.interest, accrual.penalty) == (D("13475.00"), D("3817.92"))
    claim = accrue_into(open_balance(t), accrual)
    assert claim.total_due == D("717292.92")
    assert claim.accrued_until == date(2027, 6, 29)

    first = allocate_recovery(claim, D("10000.00"))
    assert split(first) == ("3817.92", "6182.08", "0.00", "0.00")
    assert first.accrual.interest == ZERO and first.accrual.penalty == ZERO
    claim = apply_allocation(claim, first)
    assert claim.accrued_until == date(2027, 6, 29)  # nothing accrues after write-off

    second = allocate_recovery(claim, D("710000.00"))
    assert split(second) == ("0.00", "7292.92", "700000.00", "2707.08")
    claim = apply_allocation(claim, second)
    assert claim.total_due == ZERO
    assert claim.penalty_paid == D("3817.92")
    assert claim.interest_paid == D("13475.00")
    assert claim.principal_repaid == D("700000.00")
    assert claim.surplus_released == D("2707.08")

    third = allocate_recovery(claim, D("5.00"))
    assert split(third) == ("0.00", "0.00", "0.00", "5.00")


def test_write_off_after_a_partial_payment_in_grace_charges_penalty_from_maturity() -> None:
    t = terms()
    _, after = pay(t, open_balance(t), "100000.00", date(2027, 5, 28))
    # written off 2027-06-05: 8 days on 613,624.72 + the 2 grace-paid days' extra = 862.35
    accrual = accrue(t, after, date(2027, 6, 5), penalty_mode=True)
    assert (accrual.interest, accrual.penalty) == (ZERO, D("862.35"))
    claim = accrue_into(after, accrual)
    assert claim.penalty_due == D("862.35")
    # the extra is charged once
    again = accrue(t, claim, date(2027, 6, 5), penalty_mode=True)
    assert (again.interest, again.penalty) == (ZERO, ZERO)


# ---- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["0.00", "-1.00"])
def test_a_repayment_must_be_positive(amount: str) -> None:
    t = terms()
    with pytest.raises(ValueError):
        allocate(t, open_balance(t), D(amount), DISBURSED, overdue=False)
    with pytest.raises(ValueError):
        allocate_recovery(open_balance(t), D(amount))


def test_a_repaid_loan_accrues_nothing() -> None:
    t = terms()
    _, after = pay(t, open_balance(t), "700074.86", DISBURSED)
    assert after.is_repaid and after.surplus_released == ZERO
    accrual = accrue(t, after, date(2027, 8, 1), penalty_mode=True)
    assert (accrual.interest, accrual.penalty) == (ZERO, ZERO)
    surplus, _ = pay(t, after, "3.00", date(2027, 8, 1), overdue=True)
    assert split(surplus) == ("0.00", "0.00", "0.00", "3.00")


def test_allocation_serialises_money_as_strings() -> None:
    t = terms()
    allocation, _ = pay(t, open_balance(t), "1000000.00", DISBURSED)
    dumped = allocation.model_dump(mode="json")
    assert dumped["interest"] == "74.86"
    assert dumped["surplus"] == "299925.14"
    assert dumped["accrual"]["accrued_until"] == "2026-11-28"
    assert Allocation.model_validate_json(allocation.model_dump_json()) == allocation
    assert Accrual.model_validate(dumped["accrual"]).interest == D("74.86")


def test_a_repayment_within_grace_reported_after_the_loan_went_overdue_pays_no_penalty() -> None:
    """API.md: repaid in full by maturity + grace → interest simply continues at annual_rate.
    The bank reports on 2027-06-02 (stage already `overdue`) a repayment the supplier made on
    2027-05-28, within grace: 182 days at 0.0385 = 13,624.7222… → 13,624.72, no penalty."""
    t = terms()
    allocation, after = pay(t, open_balance(t), "713624.72", date(2027, 5, 28), overdue=True)
    assert split(allocation) == ("0.00", "13624.72", "700000.00", "0.00")
    assert after.outstanding_principal == ZERO


def test_a_partial_repayment_within_grace_reported_late_still_leads_to_penalty() -> None:
    # It does not repay the loan, so the loan was not repaid by maturity + grace: penalty days.
    # 2 days from maturity at 0.05775 on 700,000.00 = 224.5833… → 224.58; interest 180 days.
    t = terms()
    allocation, _ = pay(t, open_balance(t), "100000.00", date(2027, 5, 28), overdue=True)
    assert split(allocation) == ("224.58", "13475.00", "86300.42", "0.00")


def test_a_full_repayment_dated_after_grace_pays_penalty_however_large() -> None:
    t = terms()
    allocation, _ = pay(t, open_balance(t), "720000.00", date(2027, 5, 30), overdue=True)
    assert split(allocation) == ("449.17", "13475.00", "700000.00", "6075.83")
