"""Signals recorded in the inboxes but not delivered (Temporal unreachable, a crash between
the record and the signal) are sent again; the workflow deduplicates by business id, so a
second delivery is harmless. The API runs `redeliver_forever` beside the requests."""

from __future__ import annotations

import asyncio

import structlog

from api import temporal_ops
from api.state import AppState
from domain import workflow_api as names

log = structlog.get_logger("api.redelivery")


async def redeliver_once(state: AppState) -> int:
    """One pass over both inboxes; returns how many messages were handed over."""
    handed = 0
    for payment in await state.repos.payments.undelivered():
        if payment.application_id is None:
            continue
        delivered = await temporal_ops.signal(
            state.temporal, payment.application_id, names.SIGNAL_TREASURY_PAYMENT, payment.notice()
        )
        if not delivered:
            log.warning("payment_for_ended_workflow", payment_id=payment.payment_id)
        await state.repos.payments.mark_delivered(payment.payment_id)
        handed += 1
    for change in await state.repos.account_changes.undelivered():
        if change.application_id is None:
            continue
        delivered = await temporal_ops.signal(
            state.temporal, change.application_id, names.SIGNAL_ACCOUNT_CHANGE, change.event()
        )
        if not delivered:
            log.warning("account_change_for_ended_workflow", event_id=change.event_id)
        await state.repos.account_changes.mark_delivered(change.event_id)
        handed += 1
    return handed


async def redeliver_forever(state: AppState, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            handed = await redeliver_once(state)
            if handed:
                log.info("redelivered", count=handed)
        except Exception as error:
            log.warning("redelivery_failed", error=type(error).__name__)
