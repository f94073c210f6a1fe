"""What happens to each loan of a chaos run, fixed by the seed before anything is sent.

Every scenario ends in a final stage, so "none left active" is a check that can be made: a
loan still active after the settle-down is stuck. The payment scenarios include the notices
issue 9 is about — duplicates, a late duplicate after a later payment, two partial payments
whose notices reach the platform in the opposite order, and a payment into the wrong account.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from demo.plan import PURCHASERS
from domain.credit_code import make_credit_code
from domain.money import FEN
from store.seed import WUXI_BANKS


class Scenario(StrEnum):
    FULL = "full payment"  # the treasury pays the whole contract; its notice is sent again
    TWO_PARTS = "two partial payments"  # 40 % of the loan, then the rest; the first notice again, late
    REORDERED = "reordered payments"  # two parts whose notices arrive second-first, then the rest
    SUPPLIER = "supplier repays"  # the bank reports the supplier's own repayment in full
    MISDIRECTED = "misdirected, then paid"  # a payment into the supplier's old account, then the right one
    REJECTED = "rejected by the bank"
    WITHDRAWN = "withdrawn by the bank"  # during the account lock, the purchaser silent
    REFUSED = "lock refused"  # the purchaser refuses the payee-account change


# any ten consecutive loans hold the whole mix; the order is then shuffled by the seed
CYCLE: tuple[Scenario, ...] = (
    Scenario.FULL,
    Scenario.TWO_PARTS,
    Scenario.REORDERED,
    Scenario.SUPPLIER,
    Scenario.MISDIRECTED,
    Scenario.FULL,
    Scenario.TWO_PARTS,
    Scenario.REJECTED,
    Scenario.WITHDRAWN,
    Scenario.REFUSED,
)
FINAL_STAGE: dict[Scenario, str] = {
    Scenario.FULL: "settled",
    Scenario.TWO_PARTS: "settled",
    Scenario.REORDERED: "settled",
    Scenario.SUPPLIER: "settled",
    Scenario.MISDIRECTED: "settled",
    Scenario.REJECTED: "rejected",
    Scenario.WITHDRAWN: "withdrawn",
    Scenario.REFUSED: "failed",
}
APPROVED = frozenset(set(Scenario) - {Scenario.REJECTED})
DISBURSED = frozenset(s for s, stage in FINAL_STAGE.items() if stage == "settled")
ANNUAL_RATE = Decimal("0.0385")
TERM_DAYS = 180


@dataclass(frozen=True)
class LoanPlan:
    number: int
    phase: str  # "calm" (no faults) or "chaos"
    scenario: Scenario
    contract_no: str
    bank_code: str
    purchaser: tuple[str, str, str]  # code, name, district
    supplier_code: str
    contract_amount: Decimal
    approved: Decimal  # what the bank asks for and approves
    supplier_account: str  # the contract's payee account before the lock
    collection_account: str  # locked as payee: where the treasury must pay

    @property
    def expected_stage(self) -> str:
        return FINAL_STAGE[self.scenario]

    def payment_id(self, part: str) -> str:
        return f"{self.contract_no}-{part}"


def plan_loans(calm: int, chaos: int, seed: int, run_tag: str) -> list[LoanPlan]:
    """`calm` + `chaos` loans, the same for the same seed; `run_tag` keeps numbers unique."""
    rng = random.Random(seed)
    banks = sorted(b.bank_code for b in WUXI_BANKS)
    plans: list[LoanPlan] = []
    for phase, count in (("calm", calm), ("chaos", chaos)):
        scenarios = [CYCLE[i % len(CYCLE)] for i in range(count)]
        rng.shuffle(scenarios)
        for scenario in scenarios:
            n = len(plans) + 1
            contract_amount = Decimal(rng.randrange(200, 3000) * 1000).quantize(FEN)
            ratio = Decimal(rng.choice((50, 70, 90))) / 100  # at most product STD's max_ratio
            plans.append(
                LoanPlan(
                    number=n,
                    phase=phase,
                    scenario=scenario,
                    contract_no=f"CHAOS-{run_tag}-{n:04d}",
                    bank_code=rng.choice(banks),
                    purchaser=rng.choice(PURCHASERS),
                    supplier_code=make_credit_code("91320200", f"CH{rng.randrange(10**6):06d}"),
                    contract_amount=contract_amount,
                    approved=(contract_amount * ratio).quantize(FEN, ROUND_DOWN),
                    supplier_account=f"6217{run_tag[-4:]}{n:08d}",
                    collection_account=f"6222{run_tag[-4:]}{n:08d}",
                )
            )
    return plans
