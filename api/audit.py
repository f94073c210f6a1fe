"""Audit and logging helpers: every authenticated action leaves a row in the audit trail."""

from __future__ import annotations

from typing import Any

import structlog

from api.state import AppState

log = structlog.get_logger("api")


async def record(state: AppState, actor: str, action: str, application_id: str | None, **details: Any) -> None:
    """Append to the audit trail. A failed write fails the request (503 when the database is
    away, so the caller retries — every change a caller makes is idempotent): an action is never
    answered as done without its row. Inputs are validated at the edge, so what reaches here is
    storable."""
    try:
        await state.repos.audit.append(actor, action, application_id, details)
    except Exception as error:
        log.error("audit_failed", action=action, application_id=application_id, error=type(error).__name__)
        raise
    log.info("action", actor=actor, action=action, application_id=application_id)
