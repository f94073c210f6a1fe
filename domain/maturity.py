"""Smart service: does the loan fall due before the contract's money comes?

A procurement loan is repaid by the treasury's payment of the contract into the locked account.
If the loan's maturity comes before the contract's `expected_payment_date`, the supplier owes the
bank before the money arrives: it must find the money elsewhere, or the loan goes overdue and
accrues penalty interest. So before a supplier accepts an offer or a bank makes one, the platform
warns, and suggests a term that ends after the expected payment with some room to spare
(treasury payments are often a few weeks late). A longer term costs nothing extra here: interest
runs on the days the money is actually out (API.md "Interest"), and the treasury's payment repays
the loan whenever it comes.

The disbursement date is estimated as today: the lock and the payout usually take days, which
only moves the maturity later (the estimate errs on the side of warning).
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel

# room after the expected payment date: treasury payments often arrive weeks late
PAYMENT_SLACK_DAYS = 30


class MaturityWarning(BaseModel):
    """The loan would fall due before the contract's money is expected."""

    term_days: int
    estimated_maturity_date: date
    expected_payment_date: date
    days_short: int  # how many days before the expected payment the loan falls due
    suggested_term_days: int
    fits_within_product: bool  # False: even the product's longest term ends too early
    message: str  # for the supplier and the bank, in Chinese


def estimated_maturity(term_days: int, disbursed_on: date) -> date:
    """The maturity of a loan paid out on `disbursed_on` (the workflow's rule)."""
    return disbursed_on + timedelta(days=term_days)


def suggested_term_days(today: date, expected_payment_date: date, max_term_days: int) -> int:
    """The term that ends `PAYMENT_SLACK_DAYS` after the expected payment, within 1..max_term_days."""
    wanted = max((expected_payment_date - today).days, 0) + PAYMENT_SLACK_DAYS
    return max(1, min(max_term_days, wanted))


def maturity_warning(
    term_days: int, today: date, expected_payment_date: date, max_term_days: int
) -> MaturityWarning | None:
    """A warning when a loan of `term_days` paid out today falls due before the expected
    payment (a maturity on the very day the money is expected is not warned about); None when
    the term fits."""
    maturity = estimated_maturity(term_days, today)
    if maturity >= expected_payment_date:
        return None
    suggested = suggested_term_days(today, expected_payment_date, max_term_days)
    fits = estimated_maturity(max_term_days, today) >= expected_payment_date
    short = (expected_payment_date - maturity).days
    message = (
        f"按 {term_days} 天期限，贷款约于 {maturity.isoformat()} 到期，比合同预计回款日 "
        f"{expected_payment_date.isoformat()} 早 {short} 天：财政资金到账前贷款已到期，"
        "需另筹资金还款，否则逾期将产生罚息。"
    )
    if fits:
        ends = estimated_maturity(suggested, today).isoformat()
        message += f"建议期限 {suggested} 天（约 {ends} 到期）。"
    else:
        message += (
            f"该产品最长期限 {max_term_days} 天仍早于预计回款日：建议选择 {suggested} 天，并提前准备到期时的还款资金。"
        )
    return MaturityWarning(
        term_days=term_days,
        estimated_maturity_date=maturity,
        expected_payment_date=expected_payment_date,
        days_short=short,
        suggested_term_days=suggested,
        fits_within_product=fits,
        message=message,
    )
