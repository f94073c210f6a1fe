"""A supplier's procurement history, made up but stable.

The real procurement system knows every contract a supplier won; the simulator derives a
plausible record from a hash of the credit code (the same code always gets the same history,
in every process and after every restart) so that credit profiles differ between suppliers
without any set-up. Tests that need a particular record replace it through a hook.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from decimal import Decimal

from domain.contracts import Contract, ContractStatus, PastContract

# Fixed, so a history does not drift from one day to the next.
ANCHOR = date(2026, 1, 1)
MAX_CONTRACTS = 14

WUXI_PURCHASERS: list[tuple[str, str, str]] = [
    ("WX-LX-EDU", "无锡市梁溪区教育局", "梁溪区"),
    ("WX-XS-HEALTH", "无锡市锡山区卫生健康委员会", "锡山区"),
    ("WX-HS-WATER", "无锡市惠山区水利局", "惠山区"),
    ("WX-BH-PARKS", "无锡市滨湖区园林管理中心", "滨湖区"),
    ("WX-XW-TECH", "无锡市新吴区科技局", "新吴区"),
    ("WX-JY-HOSP", "江阴市人民医院", "江阴市"),
    ("WX-YX-SCHOOL", "宜兴市实验中学", "宜兴市"),
    ("WX-JK-ADMIN", "无锡经济开发区管理委员会", "经开区"),
    ("WX-CITY-FIN", "无锡市财政局", "梁溪区"),
    ("WX-CITY-POLICE", "无锡市公安局", "滨湖区"),
]


def _rng(credit_code: str) -> random.Random:
    digest = hashlib.sha256(credit_code.encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def generated_history(credit_code: str) -> list[PastContract]:
    rng = _rng(credit_code)
    tag = hashlib.sha256(credit_code.encode()).hexdigest()[:6].upper()
    items: list[PastContract] = []
    for index in range(rng.randint(0, MAX_CONTRACTS)):
        signed_on = ANCHOR - timedelta(days=rng.randrange(30, 6 * 365))
        purchaser_code = rng.choice(WUXI_PURCHASERS)[0]
        amount = Decimal(rng.randrange(3_000_000, 300_000_000)).scaleb(-2)  # ¥30k to ¥3m, in fen
        if rng.random() < 0.04:
            status = ContractStatus.TERMINATED
        elif (ANCHOR - signed_on).days < 180:
            status = ContractStatus.EFFECTIVE
        else:
            status = ContractStatus.COMPLETED
        items.append(
            PastContract(
                contract_no=f"WX-{signed_on.year}-H{tag}-{index:02d}",
                purchaser_code=purchaser_code,
                amount=amount,
                signed_on=signed_on,
                delivered_on_time=rng.random() < 0.9,
                paid_on_time=rng.random() < 0.85,
                status=status,
            )
        )
    return sorted(items, key=lambda c: (c.signed_on, c.contract_no))


def as_past_contract(contract: Contract) -> PastContract:
    """A contract created in the simulator, as it appears in its supplier's history."""
    return PastContract(
        contract_no=contract.contract_no,
        purchaser_code=contract.purchaser.code,
        amount=contract.amount,
        signed_on=contract.signed_on,
        delivered_on_time=contract.status != ContractStatus.TERMINATED,
        paid_on_time=True,
        status=contract.status,
    )
