"""Idempotency keys, enforced as real banks enforce them.

Every mutating call of a simulated system's own API carries an `Idempotency-Key` header.
The first successful answer is remembered with a fingerprint of the request (operation and
parsed body): the same key again returns that answer — never a second effect — and the same
key with a different request is refused with 422 `idempotency_key_mismatch`. Refusals are
not remembered, so retrying one re-evaluates it (a contract released meanwhile can then be
registered). The remembered answers are part of the system's persisted state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from simulators.clock import now
from simulators.problems import SimulatorError, validation_error
from simulators.state import Change

REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


class StoredAnswer(BaseModel):
    fingerprint: str
    status_code: int
    body: dict[str, Any]
    recorded_at: datetime


class Answer(BaseModel):
    status_code: int
    body: dict[str, Any]
    # what the operation changed, for the store to save alone (simulators/state.py); None: the
    # whole state is saved
    changed: list[Change] | None = None


async def _require_key(key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> str:
    # async: FastAPI runs a plain def dependency in a worker thread, a hop per request
    if key is None or not key.strip():
        raise validation_error("the Idempotency-Key header is required on every mutating call")
    if len(key) > MAX_KEY_LENGTH:
        raise validation_error(f"the Idempotency-Key header has at most {MAX_KEY_LENGTH} characters")
    return key


IdempotencyKey = Annotated[str, Depends(_require_key)]
"""Route parameter type: the request's idempotency key (422 `validation_error` when missing)."""


def fingerprint(operation: str, payload: BaseModel | None) -> str:
    body = payload.model_dump(mode="json") if payload is not None else None
    canonical = json.dumps([operation, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotentAnswers:
    """Runs an operation at most once per key; `execute` must change state without awaiting,
    so that check, change and record happen in one step of the event loop."""

    def __init__(self, records: dict[str, StoredAnswer], save: Callable[..., None]) -> None:
        self._records = records
        self._save = save

    def answer(
        self, key: str, operation: str, payload: BaseModel | None, execute: Callable[[], Answer]
    ) -> JSONResponse:
        request_print = fingerprint(operation, payload)
        stored = self._records.get(key)
        if stored is not None:
            if stored.fingerprint != request_print:
                raise SimulatorError(
                    422,
                    "idempotency_key_mismatch",
                    "this Idempotency-Key was already used for a different request",
                )
            return JSONResponse(stored.body, status_code=stored.status_code, headers={REPLAYED_HEADER: "true"})
        result = execute()  # a SimulatorError propagates: refusals are not remembered
        self._records[key] = StoredAnswer(
            fingerprint=request_print, status_code=result.status_code, body=result.body, recorded_at=now()
        )
        if result.changed is None:
            self._save()
        else:
            self._save(("idempotency", key), *result.changed)
        return JSONResponse(result.body, status_code=result.status_code)
