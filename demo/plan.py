"""`zcd demo`'s plan: what happens to each financing of a run, and who borrows what from whom,
fixed by the seed before anything is sent (so a run can be repeated, and the plan unit-tested).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from domain.credit_code import make_credit_code
from domain.money import FEN
from domain.products import STANDARD_PRODUCT
from domain.stages import Stage

PRODUCT = STANDARD_PRODUCT  # every seeded bank's (API.md "Products"): the demo asks for it

# Purchasers of the seeded districts (store/seed.py): the district on an application comes
# from its contract's purchaser, so these spread the book over the bureau's breakdown.
PURCHASERS: tuple[tuple[str, str, str], ...] = (
    ("WX-CITY-HEALTH", "无锡市卫生健康委员会", "无锡市"),
    ("WX-LX-EDU", "无锡市梁溪区教育局", "梁溪区"),
    ("WX-XS-WATER", "无锡市锡山区水利局", "锡山区"),
    ("WX-HS-TRANS", "无锡市惠山区交通运输局", "惠山区"),
    ("WX-BH-CULT", "无锡市滨湖区文化体育和旅游局", "滨湖区"),
    ("WX-XW-SCI", "无锡市新吴区科技局", "新吴区"),
    ("JY-HOSP", "江阴市人民医院", "江阴市"),
    ("YX-EDU", "宜兴市教育局", "宜兴市"),
    ("WX-KFQ-ADMIN", "无锡经济开发区管理委员会", "经开区"),
)
PROJECTS = (
    "智慧校园设备采购",
    "社区卫生服务中心设备",
    "河道保洁服务",
    "公交站台改造",
    "图书馆数字化",
    "政务云运维服务",
)
# the product's rate range in basis points, both ends included
RATE_RANGE = (int(PRODUCT.min_rate * 10000), int(PRODUCT.max_rate * 10000) + 1)
SUPPLIER_NAMES = ("科技", "信息", "环保", "建设", "医疗器械", "教育装备", "物业服务")


class Scenario(StrEnum):
    """What happens to one financing. Each is what a bank, a purchaser or the treasury does."""

    SETTLED = "settled by the treasury"  # online lock confirmation, one treasury payment
    PAID_IN_TWO = "two treasury payments"  # online confirmation, a partial then the rest
    PARTIAL = "partly paid"  # offline confirmation recorded by ops, a partial payment
    EARLY_REPAID = "early repayment"  # offline confirmation, the bank reports a full repayment
    DISBURSED = "disbursed, unpaid"  # online confirmation, nothing paid yet
    REJECTED = "rejected by the bank"
    LOCK_REFUSED = "lock refused"  # the purchaser refuses the payee-account change
    WITHDRAWN = "withdrawn"  # the bank withdraws after approving, during the account lock
    WAITING = "waiting in review"  # left in bank_review for ops to find
    MISDIRECTED = "paid to the wrong account"  # the treasury pays the supplier's old account: stuck at once


# One cycle holds every scenario once, so any 10 consecutive financings show the whole mix; the
# order is then shuffled by the seed.
CYCLE: tuple[Scenario, ...] = (
    Scenario.SETTLED,
    Scenario.WAITING,
    Scenario.PARTIAL,
    Scenario.REJECTED,
    Scenario.PAID_IN_TWO,
    Scenario.LOCK_REFUSED,
    Scenario.EARLY_REPAID,
    Scenario.WITHDRAWN,
    Scenario.DISBURSED,
    Scenario.MISDIRECTED,
)
OFFLINE_LOCK = frozenset({Scenario.PARTIAL, Scenario.EARLY_REPAID})
APPROVED = frozenset(set(Scenario) - {Scenario.REJECTED, Scenario.WAITING})
EXPECTED_STAGE: dict[Scenario, Stage] = {
    Scenario.SETTLED: Stage.SETTLED,
    Scenario.PAID_IN_TWO: Stage.SETTLED,
    Scenario.PARTIAL: Stage.REPAYING,
    Scenario.EARLY_REPAID: Stage.SETTLED,
    Scenario.DISBURSED: Stage.REPAYING,
    Scenario.REJECTED: Stage.REJECTED,
    Scenario.LOCK_REFUSED: Stage.FAILED,
    Scenario.WITHDRAWN: Stage.WITHDRAWN,
    Scenario.WAITING: Stage.BANK_REVIEW,
    Scenario.MISDIRECTED: Stage.REPAYING,
}


# ---- the plan: who borrows what from whom --------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One financing as the demo intends it, fixed before anything is sent."""

    scenario: Scenario
    contract_no: str
    bank_code: str
    purchaser: tuple[str, str, str]  # code, name, district
    supplier_code: str
    supplier_name: str
    project: str
    contract_amount: Decimal
    requested: Decimal
    approved: Decimal
    annual_rate: Decimal
    term_days: int
    supplier_account: str  # the contract's payee account before the lock
    collection_account: str  # the account agreed with the bank, locked as payee


def plan_financings(count: int, seed: int, bank_codes: Iterable[str], run_tag: str) -> list[Plan]:
    """`count` financings, the same for the same seed; `run_tag` keeps contract numbers and
    accounts new on every run, so a second run against the same platform starts afresh."""
    rng = random.Random(seed)
    banks = sorted(bank_codes)
    if not banks:
        raise ValueError("no banks to lend: the hand-off file lists no bank keys")
    scenarios = [CYCLE[i % len(CYCLE)] for i in range(count)]
    rng.shuffle(scenarios)
    # A small pool of suppliers, so some win (and finance) more than one contract.
    suppliers = [make_credit_code("91320200", f"DM{rng.randrange(10**6):06d}") for _ in range(max(3, count // 3))]
    plans = []
    for n, scenario in enumerate(scenarios, start=1):
        supplier = rng.randrange(len(suppliers))
        contract_amount = Decimal(rng.randrange(200, 3000) * 1000)
        requested = (contract_amount * PRODUCT.max_ratio * Decimal(rng.choice((60, 75, 90, 100))) / 100).quantize(
            FEN, ROUND_DOWN
        )
        # Banks often grant less than asked, in round hundreds.
        approved = requested if rng.random() < 0.6 else (requested * Decimal("0.8")).quantize(Decimal(100), ROUND_DOWN)
        plans.append(
            Plan(
                scenario=scenario,
                contract_no=f"DEMO-{run_tag}-{n:04d}",
                bank_code=rng.choice(banks),
                purchaser=rng.choice(PURCHASERS),
                supplier_code=suppliers[supplier],
                supplier_name=f"无锡{'一二三四五六七八九十'[supplier % 10]}{rng.choice(SUPPLIER_NAMES)}有限公司",
                project=rng.choice(PROJECTS),
                contract_amount=contract_amount.quantize(FEN),
                requested=requested,
                approved=approved.quantize(FEN),
                annual_rate=Decimal(rng.randrange(*RATE_RANGE, 5)) / 10000,
                term_days=rng.choice((90, 180, 270, 365)),
                supplier_account=f"6217{run_tag[-6:]}{n:06d}",
                collection_account=f"6222{run_tag[-6:]}{n:06d}",
            )
        )
    return plans
