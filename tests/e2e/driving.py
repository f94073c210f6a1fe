"""Drive financings through a running stack exactly as API.md describes, from its dev.json.

A bank submits with its own key and decides; the purchaser answers in the procurement
simulator (`POST /sim/contracts/{no}/account-change`, which sends the signed callback); the
treasury pays through `POST /sim/pay` (which sends the signed payment notification). Nothing
here reaches into the platform's database or Temporal: only the public API and the
simulators' test hooks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from domain.credit_code import make_credit_code

CENT = Decimal("0.01")
FINAL_STAGES = frozenset({"settled", "rejected", "withdrawn", "expired", "failed", "written_off"})


def one_day_interest(principal: Decimal, annual_rate: Decimal) -> Decimal:
    """Interest of a loan repaid on its disbursement day (API.md: the first day counts)."""
    return (principal * annual_rate / 360).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Loan:
    """One financing of a batch, as its bank knows it."""

    contract_no: str
    supplier_credit_code: str
    bank_code: str
    requested_amount: Decimal
    account_no: str
    application_id: str = ""
    annual_rate: Decimal = Decimal("0.0385")
    term_days: int = 180


class Platform:
    """The stack's public surfaces, as its users reach them (synchronous)."""

    def __init__(self, dev: dict[str, Any], http: httpx.Client) -> None:
        self.dev = dev
        self.http = http
        self.api = dev["api"].rstrip("/")
        self.sims: dict[str, str] = {name: url.rstrip("/") for name, url in dev["simulators"].items()}
        self.credentials: dict[str, Any] = dev["credentials"]

    @classmethod
    @contextmanager
    def of(cls, dev: dict[str, Any]) -> Iterator[Platform]:
        with httpx.Client(timeout=30) as http:
            yield cls(dev, http)

    def bank(self, bank_code: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['banks'][bank_code]}"}

    @property
    def ops(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['ops']}"}

    # ---- the procurement system holds the contract ------------------------------------

    def new_loan(self, bank_code: str, requested_amount: str = "700000.00", amount: str = "1000000.00") -> Loan:
        """A fresh effective contract in the procurement simulator, and the loan to ask for on it."""
        contract_no = f"WX-2026-R{uuid.uuid4().hex[:8].upper()}"
        credit_code = make_credit_code("91320200", f"{uuid.uuid4().int % 100_000_000:08d}")
        contract = {
            "contract_no": contract_no,
            "project_name": "智慧校园设备采购",
            "purchaser": {"code": "WX-LX-EDU", "name": "无锡市梁溪区教育局", "district": "梁溪区"},
            "supplier": {"credit_code": credit_code, "name": "无锡某某科技有限公司"},
            "amount": amount,
            "paid_amount": "0.00",
            "signed_on": "2026-09-01",
            "expected_payment_date": "2027-03-31",
            "status": "effective",
            "payee_account_no": f"6217{uuid.uuid4().int % 10**12:012d}",
        }
        created = self.http.post(f"{self.sims['procurement']}/sim/contracts", json=contract)
        assert created.status_code == 201, created.text
        return Loan(
            contract_no=contract_no,
            supplier_credit_code=credit_code,
            bank_code=bank_code,
            requested_amount=Decimal(requested_amount),
            account_no=f"6222{uuid.uuid4().int % 10**12:012d}",
        )

    # ---- the bank --------------------------------------------------------------------

    def submit(self, loan: Loan) -> dict[str, Any]:
        body = {
            "contract_no": loan.contract_no,
            "supplier_credit_code": loan.supplier_credit_code,
            "product_code": "STD",
            "requested_amount": f"{loan.requested_amount:.2f}",
            "collection_account": {"account_no": loan.account_no, "account_name": "无锡某某科技有限公司"},
        }
        answer = self.http.post(f"{self.api}/v1/applications", json=body, headers=self.bank(loan.bank_code))
        assert answer.status_code == 201, answer.text
        view: dict[str, Any] = answer.json()
        assert view["stage"] == "bank_review", view
        loan.application_id = view["application_id"]
        return view

    def approve(self, loan: Loan) -> dict[str, Any]:
        body = {
            "decision": "approve",
            "approved_amount": f"{loan.requested_amount:.2f}",
            "annual_rate": str(loan.annual_rate),
            "term_days": loan.term_days,
        }
        answer = self.http.post(
            f"{self.api}/v1/applications/{loan.application_id}/decision", json=body, headers=self.bank(loan.bank_code)
        )
        assert answer.status_code == 200, answer.text
        view: dict[str, Any] = answer.json()
        return view

    def application(self, loan: Loan) -> dict[str, Any]:
        answer = self.http.get(f"{self.api}/v1/applications/{loan.application_id}", headers=self.bank(loan.bank_code))
        assert answer.status_code == 200, answer.text
        view: dict[str, Any] = answer.json()
        return view

    def until(self, loan: Loan, *stages: str, within: float = 60, where: Any = None) -> dict[str, Any]:
        """Poll the application until it is in one of `stages` (and `where(view)` holds)."""
        deadline = time.monotonic() + within
        while True:
            view = self.application(loan)
            if view["stage"] in stages and (where is None or where(view)):
                return view
            if view["stage"] in FINAL_STAGES - set(stages) or time.monotonic() > deadline:
                raise AssertionError(f"{loan.application_id} never reached {stages}: {view}")
            time.sleep(0.1)  # polling a condition with a deadline

    # ---- the purchaser, through the procurement system -------------------------------

    def purchaser_answers(self, loan: Loan, decision: str = "confirmed") -> dict[str, Any]:
        answer = self.http.post(
            f"{self.sims['procurement']}/sim/contracts/{loan.contract_no}/account-change", json={"decision": decision}
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    # ---- the treasury ----------------------------------------------------------------

    def treasury_pays(self, loan: Loan, amount: str, paid_on: str) -> dict[str, Any]:
        answer = self.http.post(
            f"{self.sims['treasury']}/sim/pay",
            json={"contract_no": loan.contract_no, "amount": amount, "paid_on": paid_on},
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    # ---- what the simulated systems recorded -----------------------------------------

    def sim_items(self, system: str, path: str, contract_no: str) -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.sims[system]}{path}", params={"contract_no": contract_no})
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def disbursements(self, loan: Loan) -> list[dict[str, Any]]:
        return self.sim_items("bank", "/sim/disbursements", loan.contract_no)

    def repayments(self, loan: Loan) -> list[dict[str, Any]]:
        return self.sim_items("bank", "/sim/repayments", loan.contract_no)

    def payments(self, loan: Loan) -> list[dict[str, Any]]:
        return self.sim_items("treasury", "/sim/payments", loan.contract_no)
