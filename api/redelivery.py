"""Signals recorded in the inboxes but not delivered (Temporal unreachable, a crash between
the record and the signal) are sent again; the workflow deduplicates by business id, so a
second delivery is harmless. A message whose financing has ended by now is not marked
delivered: it is kept for ops with the reason (`GET /v1/ops/payments?status=kept`), since it
was answered `accepted` and was never applied. The API runs `redeliver_forever` beside the
requests."""

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
        if delivered:
            await state.repos.payments.mark_delivered(payment.payment_id)
        else:
            log.warning("payment_for_ended_workflow_kept", payment_id=payment.payment_id)
            await state.repos.payments.keep(
                payment.payment_id, f"accepted, but financing {payment.application_id} had ended before it was applied"
            )
        handed += 1
    for change in await state.repos.account_changes.undelivered():
        if change.application_id is None:
            continue
        delivered = await temporal_ops.signal(
            state.temporal, change.application_id, names.SIGNAL_ACCOUNT_CHANGE, change.event()
        )
        if delivered:
            await state.repos.account_changes.mark_delivered(change.event_id)
        else:
            log.warning("account_change_for_ended_workflow_kept", event_id=change.event_id)
            await state.repos.account_changes.keep(
                change.event_id, f"accepted, but financing {change.application_id} had ended before it was taken"
            )
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
