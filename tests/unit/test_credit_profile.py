"""The supplier's credit profile: a bounded, monotone score that shows its inputs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.contracts import ContractStatus, PastContract
from domain.credit_profile import CreditProfile, build_credit_profile, plain_reasons
from tests.unit.strategies import money

D = Decimal


def contract(
    n: int,
    *,
    purchaser: str = "P1",
    amount: str = "100000.00",
    year: int = 2025,
    delivered: bool = True,
    paid: bool = True,
    status: ContractStatus = ContractStatus.COMPLETED,
) -> PastContract:
    return PastContract(
        contract_no=f"WX-{n}",
        purchaser_code=purchaser,
        amount=D(amount),
        signed_on=date(year, 3, 1),
        delivered_on_time=delivered,
        paid_on_time=paid,
        status=status,
    )


def expected_grade(score: int) -> str:
    if score >= 85:
        return "A"
    if score >= 70:
        return "B"
    if score >= 55:
        return "C"
    if score >= 40:
        return "D"
    return "E"


def test_empty_history() -> None:
    profile = build_credit_profile([])
    assert profile.score == 0
    assert profile.grade == "E"
    assert profile.contracts_won == 0
    assert profile.total_amount == D("0.00")
    assert profile.model_dump(mode="json")["total_amount"] == "0.00"


def test_a_hand_computed_profile() -> None:
    history = [
        contract(1, purchaser="P1", amount="300000.00", year=2023),
        contract(2, purchaser="P2", amount="500000.00", year=2024, paid=False),
        contract(3, purchaser="P2", amount="250000.00", year=2025, delivered=False),
        contract(4, purchaser="P3", amount="150000.00", year=2025, status=ContractStatus.TERMINATED),
    ]
    profile = build_credit_profile(history)
    # volume 4×2 = 8; amount ¥1,200,000 / 200k = 6; purchasers 3×3 = 9; delivery 3/4 × 20 = 15;
    # payment 3/4 × 15 = 11 (11.25 down); tenure 3 years × 2 = 6; one termination −10.
    assert profile.score == 8 + 6 + 9 + 15 + 11 + 6 - 10 == 45
    assert profile.grade == "D"
    assert profile.contracts_won == 4
    assert profile.total_amount == D("1200000.00")
    assert profile.distinct_purchasers == 3
    assert profile.on_time_delivery_rate == "0.7500"
    assert profile.on_time_payment_rate == "0.7500"
    assert profile.terminated_contracts == 1
    assert profile.years_active == 3


def test_the_explanation_lists_the_inputs() -> None:
    history = [
        contract(1, purchaser="P1", amount="300000.00", year=2023),
        contract(2, purchaser="P2", amount="500000.00", year=2024, paid=False),
        contract(3, purchaser="P3", amount="150000.00", year=2025, status=ContractStatus.TERMINATED),
    ]
    profile = build_credit_profile(history)
    text = "\n".join(profile.explanation)
    assert "3 contracts won" in text
    assert "950000.00" in text
    assert "3 distinct purchasers" in text
    assert "on-time delivery 100%" in text
    assert "paid on time 67%" in text
    assert "3 years with contracts" in text
    assert "1 terminated contracts" in text
    # every line carries its points, and the points add up to the score
    points = 0
    for line in profile.explanation:
        sign, value = line.rsplit(": ", 1)[1][0], int(line.rsplit(": ", 1)[1][1:])
        points += value if sign == "+" else -value
    assert points == profile.score


def test_a_long_clean_history_scores_a() -> None:
    history = [contract(n, purchaser=f"P{n % 6}", amount="300000.00", year=2016 + n % 8) for n in range(15)]
    profile = build_credit_profile(history)
    assert profile.score == 100
    assert profile.grade == "A"


def _history(n: int, spread: int, amount: str, delivered: int, paid: int, terminated: int) -> list[PastContract]:
    return [
        contract(
            i,
            purchaser=f"P{i % spread}",
            year=2020 + i % spread,
            amount=amount,
            delivered=i < delivered,
            paid=i < paid,
            status=ContractStatus.TERMINATED if i < terminated else ContractStatus.COMPLETED,
        )
        for i in range(n)
    ]


def test_grades_at_their_boundaries() -> None:
    """A: 85+, B: 70-84, C: 55-69, D: 40-54, E: below 40 — checked on histories that land on
    each boundary score."""
    boundaries = {85: "A", 84: "B", 70: "B", 69: "C", 55: "C", 54: "D", 40: "D", 39: "E"}
    found: dict[int, str] = {}
    for n in range(1, 14):
        for spread in (1, 5):
            for amount in ("0.00", "400000.00", "1000000.00"):
                for delivered in range(n + 1):
                    for paid in (0, n // 2, n):
                        for terminated in (0, 1):
                            history = _history(n, spread, amount, delivered, paid, terminated)
                            profile = build_credit_profile(history)
                            found.setdefault(profile.score, profile.grade)
    assert {score: found.get(score) for score in boundaries} == boundaries
    assert all(grade == expected_grade(score) for score, grade in found.items())


# ---- properties -----------------------------------------------------------------------------

past_contracts = st.builds(
    PastContract,
    contract_no=st.text(alphabet="WX-0123456789", min_size=1, max_size=12),
    purchaser_code=st.sampled_from([f"P{i}" for i in range(8)]),
    amount=money(max_fen=10**11),
    signed_on=st.dates(min_value=date(2015, 1, 1), max_value=date(2026, 12, 31)),
    delivered_on_time=st.booleans(),
    paid_on_time=st.booleans(),
    status=st.sampled_from(list(ContractStatus)),
)
histories = st.lists(past_contracts, max_size=40)
on_time_contracts = st.builds(
    PastContract,
    contract_no=st.just("WX-NEW"),
    purchaser_code=st.sampled_from([f"P{i}" for i in range(10)]),
    amount=money(max_fen=10**11),
    signed_on=st.dates(min_value=date(2015, 1, 1), max_value=date(2026, 12, 31)),
    delivered_on_time=st.just(True),
    paid_on_time=st.just(True),
    status=st.sampled_from([ContractStatus.EFFECTIVE, ContractStatus.COMPLETED]),
)

PROPERTY = settings(derandomize=True, database=None, max_examples=300, deadline=None)


@PROPERTY
@given(histories)
def test_score_is_bounded_and_graded(history: list[PastContract]) -> None:
    profile = build_credit_profile(history)
    assert isinstance(profile.score, int)
    assert 0 <= profile.score <= 100
    assert profile.grade == expected_grade(profile.score)
    assert profile.contracts_won == len(history)
    assert profile.total_amount == sum((c.amount for c in history), D("0.00"))
    assert len(profile.explanation) >= 6


@PROPERTY
@given(histories, on_time_contracts)
def test_adding_an_on_time_contract_never_lowers_the_score(history: list[PastContract], new: PastContract) -> None:
    before = build_credit_profile(history)
    after = build_credit_profile([*history, new])
    assert after.score >= before.score


@PROPERTY
@given(histories)
def test_profile_round_trips_as_json(history: list[PastContract]) -> None:
    profile = build_credit_profile(history)
    assert CreditProfile.model_validate_json(profile.model_dump_json()) == profile


def test_the_reasons_in_plain_chinese_say_each_fact_with_its_points() -> None:
    history = [
        contract(n, purchaser=f"P{n % 3}", amount="300000.00", year=2024 + n % 2, paid=n % 4 != 0) for n in range(6)
    ]
    history.append(contract(9, status=ContractStatus.TERMINATED))
    profile = build_credit_profile(history)
    words = plain_reasons(profile)
    assert words[0].startswith(f"信用评分 {profile.score} 分，等级 {profile.grade}")
    assert words[1:] == [
        "中标政府采购合同 7 份，加 14 分",
        "合同金额合计 1,900,000.00 元，加 9 分",
        "与 3 家不同的采购单位合作，加 9 分",
        "按时交付率 100%，加 20 分",
        "采购单位按时付款率 71%，加 10 分",
        "有合同的年份共 2 年，加 4 分",
        "1 份合同被终止，减 10 分",
    ]
    # the words' points add up to the score, as the explanation's do
    total = sum(int(w.rsplit(" ", 2)[1]) * (-1 if "减" in w else 1) for w in words[1:])
    assert total == profile.score


@given(st.lists(st.builds(contract, st.integers(0, 10**6), year=st.integers(2015, 2026)), max_size=40))
@settings(max_examples=50)
def test_every_profile_has_plain_reasons_for_every_line_of_its_explanation(history: list[PastContract]) -> None:
    profile = build_credit_profile(history)
    words = plain_reasons(profile)
    assert len(words) == len(profile.explanation) + 1
    assert all(("加" in w or "减" in w) for w in words[1:])
