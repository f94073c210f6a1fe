"""The supplier's portrait (信用画像) built from its procurement history.

Banks review with it, so it shows its inputs beside the score: how many contracts the
supplier won, for how much, from how many purchasers, and how reliably it delivered and
was paid. The formula is deliberately simple and monotone — more history, more diverse
purchasers and a clean delivery record never lower the score.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

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


# ---- the portrait in plain words (smart service) --------------------------------------------

_GRADE_WORDS = {"A": "优秀", "B": "良好", "C": "一般", "D": "偏弱", "E": "较弱"}
_POINTS = re.compile(r": ([+-]\d+)$")


def _percent(rate: str) -> str:
    return f"{(Decimal(rate) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def plain_reasons(profile: CreditProfile) -> list[str]:
    """The profile's reasons in plain Chinese, for the supplier and the bank's clerk: the score
    and grade, then each fact of the procurement history with the points it gave (the points are
    those of `explanation`, line for line, so the words never disagree with the score)."""
    points = []
    for line in profile.explanation:
        found = _POINTS.search(line)
        points.append(int(found.group(1)) if found else None)
    facts = [
        f"中标政府采购合同 {profile.contracts_won} 份",
        f"合同金额合计 {profile.total_amount:,.2f} 元",
        f"与 {profile.distinct_purchasers} 家不同的采购单位合作",
        f"按时交付率 {_percent(profile.on_time_delivery_rate)}",
        f"采购单位按时付款率 {_percent(profile.on_time_payment_rate)}",
        f"有合同的年份共 {profile.years_active} 年",
    ]
    if profile.terminated_contracts:
        facts.append(f"{profile.terminated_contracts} 份合同被终止")
    words = [
        f"信用评分 {profile.score} 分，等级 {profile.grade}（{_GRADE_WORDS.get(profile.grade, profile.grade)}），"
        "由政府采购中的中标与履约记录得出"
    ]
    for n, fact in enumerate(facts):
        got = points[n] if n < len(points) else None
        if got is None:
            words.append(fact)
        elif got < 0:
            words.append(f"{fact}，减 {-got} 分")
        else:
            words.append(f"{fact}，加 {got} 分")
    return words
