"""Recorded but undelivered inbox messages are signalled again, once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

import asyncpg
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.redelivery import redeliver_once
from api.state import AppState
from domain import workflow_api as names
from domain.application import TreasuryPayment
from domain.routing import Route
from domain.settings import Settings
from store.repositories import Repositories


@dataclass
class RecordingHandle:
    workflow_id: str
    sent: list[tuple[str, str, Any]]
    ended: bool = False

    async def signal(self, name: str, arg: Any) -> None:
        if self.ended:
            raise RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")
        self.sent.append((self.workflow_id, name, arg))


@dataclass
class RecordingClient:
    sent: list[tuple[str, str, Any]] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)  # workflow ids that have completed

    def get_workflow_handle(self, workflow_id: str) -> RecordingHandle:
        return RecordingHandle(workflow_id, self.sent, workflow_id in self.ended)


async def test_undelivered_payment_is_signalled_once(db_pool: asyncpg.Pool) -> None:
    repos = Repositories.over(db_pool)
    client = RecordingClient()
    state = AppState(settings=Settings(), repos=repos, temporal=cast(Client, client))
    payment_id = f"T-RD-{uuid.uuid4().hex[:8]}"
    notice = TreasuryPayment(
        payment_id=payment_id,
        contract_no="WX-RD-1",
        payee_account_no="6222020000000001",
        amount=Decimal("10.00"),
        paid_on=date(2026, 11, 27),
    )
    await repos.payments.record(notice, notice.model_dump_json().encode(), Route("accepted", "app-rd-1"))

    await redeliver_once(state)
    mine = [s for s in client.sent if s[0] == names.workflow_id("app-rd-1")]
    assert len(mine) == 1
    assert mine[0][1] == names.SIGNAL_TREASURY_PAYMENT
    assert mine[0][2] == notice
    stored = await repos.payments.get(payment_id)
    assert stored is not None and stored.delivered_at is not None

    await redeliver_once(state)
    assert len([s for s in client.sent if s[0] == names.workflow_id("app-rd-1")]) == 1


async def test_an_accepted_payment_whose_financing_ended_is_kept_for_ops(db_pool: asyncpg.Pool) -> None:
    """The API answered `accepted` and died before the signal; by the time redelivery runs the
    financing has completed. The payment is not marked delivered as if applied: ops find it."""
    repos = Repositories.over(db_pool)
    client = RecordingClient(ended={names.workflow_id("app-rd-ended")})
    state = AppState(settings=Settings(), repos=repos, temporal=cast(Client, client))
    payment_id = f"T-RD-{uuid.uuid4().hex[:8]}"
    notice = TreasuryPayment(
        payment_id=payment_id,
        contract_no="WX-RD-2",
        payee_account_no="6222020000000001",
        amount=Decimal("10.00"),
        paid_on=date(2026, 11, 27),
    )
    await repos.payments.record(notice, notice.model_dump_json().encode(), Route("accepted", "app-rd-ended"))

    await redeliver_once(state)
    stored = await repos.payments.get(payment_id)
    assert stored is not None and stored.delivered_at is None and stored.status == "accepted"
    assert stored.kept_reason is not None and "app-rd-ended" in stored.kept_reason
    kept, _ = await repos.payments.list_for_ops("kept", limit=200)
    assert payment_id in [p.payment_id for p in kept]
    await redeliver_once(state)  # not tried again
    assert not [s for s in client.sent if s[0] == names.workflow_id("app-rd-ended")]
