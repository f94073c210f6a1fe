"""The supplier's portrait (信用画像) built from its procurement history.

Banks review with it, so it shows its inputs beside the score: how many contracts the
supplier won, for how much, from how many purchasers, and how reliably it delivered and
was paid. The formula is deliberately simple and monotone — more history, more diverse
purchasers and a clean delivery record never lower the score.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from domain.contracts import PastContract
from domain.money import ZERO, Money


class CreditProfile(BaseModel):
    score: int
    grade: str
    contracts_won: int
    total_amount: Money
    distinct_purchasers: int
    on_time_delivery_rate: str
    on_time_payment_rate: str
    terminated_contracts: int
    years_active: int
    explanation: list[str]


_GRADES = [(85, "A"), (70, "B"), (55, "C"), (40, "D")]


def _ratio(numerator: int, denominator: int) -> Decimal:
    if denominator == 0:
        return Decimal(0)
    return Decimal(numerator) / Decimal(denominator)


def build_credit_profile(history: list[PastContract]) -> CreditProfile:
    won = len(history)
    total = sum((c.amount for c in history), ZERO)
    purchasers = len({c.purchaser_code for c in history})
    delivered = _ratio(sum(1 for c in history if c.delivered_on_time), won)
    paid = _ratio(sum(1 for c in history if c.paid_on_time), won)
    terminated = sum(1 for c in history if c.status == "terminated")
    years = len({c.signed_on.year for c in history})

    # Points, each capped, summing to at most 100.
    volume = min(25, won * 2)  # 2 points a contract, up to 25
    amount = min(15, int(total / Decimal(200_000)))  # a point per ¥200k, up to 15
    diversity = min(15, purchasers * 3)  # 3 points a purchaser, up to 15
    delivery = int(delivered * 20)  # up to 20
    payment = int(paid * 15)  # up to 15
    tenure = min(10, years * 2)  # 2 points a year active, up to 10
    penalty = min(30, terminated * 10)
    score = max(0, min(100, volume + amount + diversity + delivery + payment + tenure - penalty))
    grade = next((g for floor, g in _GRADES if score >= floor), "E")
    explanation = [
        f"{won} contracts won: +{volume}",
        f"¥{total} in total: +{amount}",
        f"{purchasers} distinct purchasers: +{diversity}",
        f"on-time delivery {delivered:.0%}: +{delivery}",
        f"paid on time {paid:.0%}: +{payment}",
        f"{years} years with contracts: +{tenure}",
    ]
    if terminated:
        explanation.append(f"{terminated} terminated contracts: -{penalty}")
    return CreditProfile(
        score=score,
        grade=grade,
        contracts_won=won,
        total_amount=total,
        distinct_purchasers=purchasers,
        on_time_delivery_rate=f"{delivered:.4f}",
        on_time_payment_rate=f"{paid:.4f}",
        terminated_contracts=terminated,
        years_active=years,
        explanation=explanation,
    )
