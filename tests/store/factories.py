"""Builders of the records the store tests write."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.application import ApplicationView, TimelineEntry
from domain.credit_code import make_credit_code
from domain.stages import Stage

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_serial = itertools.count(1)


def credit_code(n: int) -> str:
    return make_credit_code("91320200", f"MA{n:06d}")


def make_view(
    application_id: str | None = None,
    *,
    bank_code: str = "ICBC",
    contract_no: str | None = None,
    stage: Stage = Stage.BANK_REVIEW,
    submitted_at: datetime | None = None,
    version: int = 1,
    supplier: int = 1,
    **fields: Any,
) -> ApplicationView:
    n = next(_serial)
    submitted = submitted_at or T0 + timedelta(minutes=n)
    values: dict[str, Any] = {
        "application_id": application_id or f"app-{n:05d}",
        "contract_no": contract_no or f"WX-2026-{n:06d}",
        "bank_code": bank_code,
        "product_code": "STD",
        "supplier_credit_code": credit_code(supplier),
        "district": "梁溪区",
        "stage": stage,
        "requested_amount": Decimal("700000.00"),
        "submitted_at": submitted,
        "stage_since": submitted,
        "timeline": [TimelineEntry(stage=stage, at=submitted)],
        "version": version,
    }
    values.update(fields)
    return ApplicationView(**values)


def disbursed(
    view: ApplicationView, amount: str, outstanding: str, *, stage: Stage = Stage.REPAYING, **fields: Any
) -> ApplicationView:
    """`view` as a loan of `amount` disbursed, with `outstanding` principal left."""
    principal = Decimal(amount)
    left = Decimal(outstanding)
    return view.model_copy(
        update={
            "stage": stage,
            "approved_amount": principal,
            "annual_rate": Decimal("0.0385"),
            "term_days": 180,
            "disbursed_on": view.submitted_at.date() if view.submitted_at else T0.date(),
            "outstanding_principal": left,
            "principal_repaid": principal - left,
            "version": view.version + 1,
            **fields,
        }
    )
